// ServerState: what every session of one server shares — configuration, router, metrics, log,
// the body budget, the sign-in pool — plus the registry of open sessions that the
// connection limits and graceful shutdown walk.
//
// Sessions register when they start and unregister when they end, and report their phase:
// fresh (no complete request header yet), busy (a request is being read, handled or
// answered) or idle (keep-alive, waiting for the next request). At the connection limit (the
// server's, or one client address's) a new session displaces the oldest fresh session, else
// the oldest idle one: connections that never send a request cannot lock tablets out, and a
// tablet whose idle connection is closed reconnects at once. Only when every session is busy
// is the new one refused.
// Shutdown first sets stopping(), then asks every registered session to stop: an idle one
// closes at once, a busy one finishes its current request (answering "Connection: close") and
// then closes.
// Thread-safety: all members may be called from any thread. `sessions_mutex_` guards the
// registry (`sessions_`, `by_key_`, `waiting_`); stopping_ is atomic and only ever goes from
// false to true.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include "core/service.h"
#include "http/config.h"
#include "http/limits.h"
#include "http/log.h"
#include "http/message.h"
#include "http/metrics.h"
#include "http/router.h"

namespace mentorsync::server::http {

// The one thing shutdown needs from a session, so that this header stays free of Beast.
class SessionControl {
  public:
    virtual ~SessionControl() = default;
    // Asks the session to end. Not forced: an idle session closes now, a busy one after its
    // current response. Forced: the connection is closed now. Returns at once (the work is
    // posted to the session's strand).
    virtual void stop(bool force) = 0;
};

class BlockingPool;

enum class SessionPhase { fresh, busy, idle };

// What add_session() decided.
enum class Admission { admitted, stopping, server_full, address_full };

class ServerState {
  public:
    ServerState(ServerConfig config, SyncService& service, Logger logger,
                const CoordApi* coord = nullptr);
    ~ServerState();

    const ServerConfig& config() const noexcept { return config_; }
    const Router& router() const noexcept { return router_; }
    Metrics& metrics() noexcept { return metrics_; }
    const Logger& logger() const noexcept { return logger_; }

    bool stopping() const noexcept { return stopping_.load(std::memory_order_acquire); }
    void begin_stopping() noexcept { stopping_.store(true, std::memory_order_release); }

    BodyBudget& body_budget() noexcept { return body_budget_; }
    // Where sign-ins run (Argon2id); see http/blocking_pool.h.
    BlockingPool& signin_pool() noexcept { return *signin_pool_; }
    // Where every other request's service call runs (store work); see config.h store_threads.
    BlockingPool& store_pool() noexcept { return *store_pool_; }
    // Stops both pools' threads; the server calls it once its io threads have ended.
    void stop_pools();

    // Registers a fresh session from client address `key` (client_key()), displacing older
    // fresh or idle sessions at the limits as described above. Anything but `admitted`: the
    // caller answers 503 and closes without registering.
    Admission add_session(const std::shared_ptr<SessionControl>& session, const std::string& key);
    // Reports a registered session's phase (no-op for one that is not registered).
    void set_phase(const SessionControl* session, SessionPhase phase);
    void remove_session(const SessionControl* session);
    std::size_t session_count() const;
    void stop_sessions(bool force);

    // Accounts one answered request: metrics and one access-log line.
    void record(RouteId route, std::string_view method, const Response& response,
                std::chrono::steady_clock::duration elapsed);

  private:
    const ServerConfig config_;
    Metrics metrics_;
    Logger logger_;
    Router router_;
    std::atomic<bool> stopping_{false};

    BodyBudget body_budget_;
    std::unique_ptr<BlockingPool> signin_pool_;
    std::unique_ptr<BlockingPool> store_pool_;

    // Sessions that may be displaced, oldest first: [0] fresh, [1] idle.
    using Queue = std::list<const SessionControl*>;
    struct Entry {
        std::weak_ptr<SessionControl> session;
        std::string key;
        SessionPhase phase = SessionPhase::fresh;
        Queue::iterator server_pos, address_pos;  // valid unless phase is busy
    };
    struct Address {
        std::size_t sessions = 0;
        std::array<Queue, 2> waiting;
    };
    // The oldest displaceable session of `queues`, or null. sessions_mutex_ held.
    static const SessionControl* oldest(const std::array<Queue, 2>& queues);
    // Unregisters `it`'s session; returns the session to stop (or null). sessions_mutex_ held.
    std::shared_ptr<SessionControl> drop_locked(const SessionControl* session);
    void unqueue_locked(Entry& e);
    void enqueue_locked(const SessionControl* session, Entry& e);

    mutable std::mutex sessions_mutex_;
    std::unordered_map<const SessionControl*, Entry> sessions_;
    std::unordered_map<std::string, Address> by_key_;
    std::array<Queue, 2> waiting_;
};

}  // namespace mentorsync::server::http
