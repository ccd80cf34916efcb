#include "http/shared_state.h"

#include <array>
#include <vector>

namespace mentorsync::server::http {

ServerState::ServerState(ServerConfig config, SyncService& service, Logger logger,
                         const CoordApi* coord)
    : config_(std::move(config)),
      logger_(std::move(logger)),
      router_(service, metrics_, config_.max_body_bytes, coord) {}

bool ServerState::add_session(const std::shared_ptr<SessionControl>& session) {
    std::lock_guard lock(sessions_mutex_);
    // Checked under the mutex that stop_sessions() takes: a session either is in the
    // snapshot shutdown walks, or sees stopping() here and never starts serving.
    if (stopping() || sessions_.size() >= config_.max_connections) return false;
    sessions_.emplace(session.get(), session);
    return true;
}

void ServerState::remove_session(const SessionControl* session) {
    std::lock_guard lock(sessions_mutex_);
    sessions_.erase(session);
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
        for (const auto& [ptr, weak] : sessions_) {
            if (auto s = weak.lock()) live.push_back(std::move(s));
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
    std::array<Logger::Field, 6> fields = {{{"method", m},
                                            {"route", route_name(route)},
                                            {"status", static_cast<std::int64_t>(response.status)},
                                            {"duration_ms", ms}}};
    std::size_t n = 4;
    if (!response.device.empty()) fields[n++] = {"device", std::string_view(response.device)};
    if (!response.error_code.empty()) fields[n++] = {"code", std::string_view(response.error_code)};
    logger_.log_fields(level, "request", std::span<const Logger::Field>(fields.data(), n));
}

}  // namespace mentorsync::server::http
