#include "http/shared_state.h"

#include <array>
#include <vector>

#include "http/blocking_pool.h"

namespace mentorsync::server::http {

ServerState::ServerState(ServerConfig config, SyncService& service, Logger logger,
                         const CoordApi* coord)
    : config_(std::move(config)),
      logger_(std::move(logger)),
      router_(service, metrics_, config_, coord),
      body_budget_(config_.body_budget_bytes, config_.max_body_bytes),
      signin_pool_(std::make_unique<BlockingPool>(config_.signin_threads, config_.signin_queue)),
      store_pool_(std::make_unique<BlockingPool>(config_.store_threads, config_.max_connections,
                                                 /*lower_priority=*/false)) {}

ServerState::~ServerState() = default;

void ServerState::stop_pools() {
    signin_pool_->shutdown();
    store_pool_->shutdown();
}

const SessionControl* ServerState::oldest(const std::array<Queue, 2>& queues) {
    for (const Queue& q : queues)
        if (!q.empty()) return q.front();
    return nullptr;
}

void ServerState::unqueue_locked(Entry& e) {
    if (e.phase == SessionPhase::busy) return;
    const std::size_t i = e.phase == SessionPhase::fresh ? 0 : 1;
    waiting_[i].erase(e.server_pos);
    by_key_[e.key].waiting[i].erase(e.address_pos);
    metrics_.set_waiting(waiting_[0].size(), waiting_[1].size());
}

void ServerState::enqueue_locked(const SessionControl* session, Entry& e) {
    if (e.phase == SessionPhase::busy) return;
    const std::size_t i = e.phase == SessionPhase::fresh ? 0 : 1;
    e.server_pos = waiting_[i].insert(waiting_[i].end(), session);
    Queue& mine = by_key_[e.key].waiting[i];
    e.address_pos = mine.insert(mine.end(), session);
    metrics_.set_waiting(waiting_[0].size(), waiting_[1].size());
}

std::shared_ptr<SessionControl> ServerState::drop_locked(const SessionControl* session) {
    auto it = sessions_.find(session);
    if (it == sessions_.end()) return nullptr;
    unqueue_locked(it->second);
    auto a = by_key_.find(it->second.key);
    if (a != by_key_.end() && --a->second.sessions == 0) by_key_.erase(a);
    auto strong = it->second.session.lock();
    sessions_.erase(it);
    return strong;
}

Admission ServerState::add_session(const std::shared_ptr<SessionControl>& session,
                                   const std::string& key) {
    std::shared_ptr<SessionControl> displaced[2];
    Admission result = Admission::admitted;
    {
        std::lock_guard lock(sessions_mutex_);
        // Checked under the mutex that stop_sessions() takes: a session either is in the
        // snapshot shutdown walks, or sees stopping() here and never starts serving.
        if (stopping()) return Admission::stopping;
        const std::size_t per_ip = config_.max_connections_per_ip;
        if (auto a = by_key_.find(key);
            per_ip > 0 && a != by_key_.end() && a->second.sessions >= per_ip) {
            const SessionControl* victim = oldest(a->second.waiting);
            if (victim == nullptr) return Admission::address_full;
            displaced[0] = drop_locked(victim);
        }
        if (sessions_.size() >= config_.max_connections) {
            const SessionControl* victim = oldest(waiting_);
            if (victim == nullptr) {
                result = Admission::server_full;
            } else {
                displaced[1] = drop_locked(victim);
            }
        }
        if (result == Admission::admitted) {
            Entry& e = sessions_[session.get()];
            e.session = session;
            e.key = key;
            ++by_key_[key].sessions;
            enqueue_locked(session.get(), e);
        }
    }
    // Outside the lock: stop() only posts, but the last reference may go here.
    for (auto& d : displaced) {
        if (!d) continue;
        metrics_.connection_displaced();
        d->stop(true);
    }
    return result;
}

void ServerState::set_phase(const SessionControl* session, SessionPhase phase) {
    std::lock_guard lock(sessions_mutex_);
    auto it = sessions_.find(session);
    if (it == sessions_.end() || it->second.phase == phase) return;
    unqueue_locked(it->second);
    it->second.phase = phase;
    enqueue_locked(session, it->second);
}

void ServerState::remove_session(const SessionControl* session) {
    std::shared_ptr<SessionControl> last;
    std::lock_guard lock(sessions_mutex_);
    // The caller is the session's destructor: its weak_ptr has expired, so `last` is null and
    // nothing is destroyed under the lock.
    last = drop_locked(session);
}

std::size_t ServerState::session_count() const {
    std::lock_guard lock(sessions_mutex_);
    return sessions_.size();
}

void ServerState::stop_sessions(bool force) {
    std::vector<std::shared_ptr<SessionControl>> live;
    {
        std::lock_guard lock(sessions_mutex_);
        live.reserve(sessions_.size());
        for (const auto& [ptr, entry] : sessions_) {
            if (auto s = entry.session.lock()) live.push_back(std::move(s));
        }
    }
    // Outside the lock: stop() only posts, but a session's destructor (which takes the lock
    // to unregister) may run when the last shared_ptr here goes away.
    for (const auto& s : live)
        s->stop(force);
}

namespace {

// Only well-known methods reach the log; anything else a client invents is "other".
std::string_view loggable_method(std::string_view method) {
    static constexpr std::array<std::string_view, 7> kKnown = {"GET",    "POST",  "HEAD",   "PUT",
                                                               "DELETE", "PATCH", "OPTIONS"};
    for (std::string_view m : kKnown) {
        if (m == method) return m;
    }
    return method.empty() ? std::string_view("none") : std::string_view("other");
}

}  // namespace

void ServerState::record(RouteId route, std::string_view method, const Response& response,
                         std::chrono::steady_clock::duration elapsed) {
    const auto us = std::chrono::duration_cast<std::chrono::microseconds>(elapsed);
    metrics_.count_request(route, response.status);
    if (response.status >= 400) metrics_.count_error(response.error_code);
    metrics_.observe_latency(route, us);

    const double ms = static_cast<double>(us.count()) / 1000.0;
    const std::string_view level = response.status >= 500 ? "error" : "info";
    const std::string_view m = loggable_method(method);
    std::array<Logger::Field, 6> fields = {
        {{"method", m},
         // The API's template names the endpoint.
         {"route", route == RouteId::api ? std::string_view(response.route) : route_name(route)},
         {"status", static_cast<std::int64_t>(response.status)},
         {"duration_ms", ms}}};
    std::size_t n = 4;
    if (!response.device.empty()) fields[n++] = {"device", std::string_view(response.device)};
    if (!response.error_code.empty()) fields[n++] = {"code", std::string_view(response.error_code)};
    logger_.log_fields(level, "request", std::span<const Logger::Field>(fields.data(), n));
}

}  // namespace mentorsync::server::http
