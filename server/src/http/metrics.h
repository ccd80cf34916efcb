// Server metrics in Prometheus text format (GET /metrics).
//
// Every label set is fixed at compile time (routes, statuses and error codes the protocol
// defines) so the counters are plain arrays of atomics: recording is lock-free from any io
// thread and the memory is bounded whatever clients send. The one exception is the set of
// devices seen, which is bounded by the number of enrolled devices.
// Thread-safety: all members may be called concurrently.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <set>
#include <string>
#include <string_view>

#include "mentorsync/types.h"
#include "mentorsync/wire.h"

namespace mentorsync::server::http {

// The routes of docs/protocol.md §1, plus `other` for every unknown path.
// The route label of metrics: the protocol's paths one by one, the coordinator API (/api/v1,
// whatever the endpoint: the label space stays small) and the dashboard's files as one each.
enum class RouteId { healthz, metrics, enroll, push, pull, api, dashboard, other };
inline constexpr std::size_t kRouteCount = 8;
std::string_view route_name(RouteId id) noexcept;
// A Response's route ("/v1/sync/push", "/api/v1/learners/{id}", "/dashboard") as a label.
RouteId route_from_name(std::string_view name) noexcept;

class Metrics {
  public:
    Metrics();

    void count_request(RouteId route, int status) noexcept;
    void count_error(std::string_view code) noexcept;
    void add_ingested(std::uint64_t transactions, std::uint64_t changes) noexcept;
    // Request latency, header read to response written; recorded for push and pull only.
    void observe_latency(RouteId route, std::chrono::microseconds elapsed) noexcept;
    void saw_device(const Uuid& device);
    void connection_opened() noexcept { connections_.fetch_add(1, std::memory_order_relaxed); }
    void connection_closed() noexcept { connections_.fetch_sub(1, std::memory_order_relaxed); }
    // A connection closed to make room for a new one (ServerState::add_session).
    void connection_displaced() noexcept { displaced_.fetch_add(1, std::memory_order_relaxed); }
    // Connections that have not completed a request yet, and idle keep-alive ones: the ones a
    // new connection may displace.
    void set_waiting(std::size_t fresh, std::size_t idle) noexcept {
        fresh_.store(static_cast<std::int64_t>(fresh), std::memory_order_relaxed);
        idle_.store(static_cast<std::int64_t>(idle), std::memory_order_relaxed);
    }

    std::string render() const;

    static constexpr std::array<int, 14> kStatuses = {200, 400, 401, 403, 404, 405, 409,
                                                      413, 415, 429, 431, 500, 503, 0 /*other*/};
    // Upper bounds of the latency histogram buckets, in seconds (+Inf is implicit).
    static constexpr std::array<double, 11> kBuckets = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                                                        0.5,   1.0,  2.5,   5.0,  10.0};

  private:
    struct Histogram {
        std::array<std::atomic<std::uint64_t>, kBuckets.size() + 1> buckets{};  // last: +Inf
        std::atomic<std::uint64_t> count{0};
        std::atomic<std::uint64_t> sum_us{0};
    };
    void render_histogram(std::string& out, std::string_view name, std::string_view help,
                          const Histogram& h) const;

    std::array<std::array<std::atomic<std::uint64_t>, kStatuses.size()>, kRouteCount> requests_{};
    // Error answers by the protocol's code (wire::Error's value); [0]: any other code.
    std::array<std::atomic<std::uint64_t>, wire::kErrorCodeCount + 1> errors_{};
    std::atomic<std::uint64_t> transactions_{0};
    std::atomic<std::uint64_t> changes_{0};
    std::atomic<std::int64_t> connections_{0};
    std::atomic<std::uint64_t> displaced_{0};
    std::atomic<std::int64_t> fresh_{0};
    std::atomic<std::int64_t> idle_{0};
    Histogram push_latency_;
    Histogram pull_latency_;

    mutable std::mutex devices_mutex_;  // guards devices_
    std::set<Uuid> devices_;
};

}  // namespace mentorsync::server::http
