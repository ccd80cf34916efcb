// ServerState: what every session of one server shares — configuration, router, metrics, log —
// plus the registry of open sessions that graceful shutdown walks.
//
// Sessions register when they start and unregister when they end. Shutdown first sets
// stopping(), then asks every registered session to stop: an idle one closes at once, a busy
// one finishes its current request (answering "Connection: close") and then closes.
// Thread-safety: all members may be called from any thread. `sessions_mutex_` guards
// `sessions_`; stopping_ is atomic and only ever goes from false to true.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <memory>
#include <mutex>
#include <string_view>
#include <unordered_map>

#include "core/service.h"
#include "http/config.h"
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

class ServerState {
  public:
    ServerState(ServerConfig config, SyncService& service, Logger logger,
                const CoordApi* coord = nullptr);

    const ServerConfig& config() const noexcept { return config_; }
    const Router& router() const noexcept { return router_; }
    Metrics& metrics() noexcept { return metrics_; }
    const Logger& logger() const noexcept { return logger_; }

    bool stopping() const noexcept { return stopping_.load(std::memory_order_acquire); }
    void begin_stopping() noexcept { stopping_.store(true, std::memory_order_release); }

    // Registers a session. False when the server is stopping or already holds
    // max_connections sessions: the caller answers 503 and closes without registering.
    bool add_session(const std::shared_ptr<SessionControl>& session);
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

    mutable std::mutex sessions_mutex_;
    std::unordered_map<const SessionControl*, std::weak_ptr<SessionControl>> sessions_;
};

}  // namespace mentorsync::server::http
