#include "http/metrics.h"

#include <cstdio>

namespace mentorsync::server::http {

namespace {

constexpr std::string_view kApiRouteLabel = "/api/v1";
constexpr std::array<std::string_view, kRouteCount> kRouteNames = {
    "/healthz",      "/metrics",     "/v1/enroll", "/v1/sync/push",
    "/v1/sync/pull", kApiRouteLabel, "/dashboard", "other"};

void append_double(std::string& out, double v) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%g", v);
    out += buf;
}

}  // namespace

std::string_view route_name(RouteId id) noexcept {
    return kRouteNames[static_cast<size_t>(id)];
}

RouteId route_from_name(std::string_view name) noexcept {
    for (std::size_t i = 0; i < kRouteNames.size(); ++i) {
        if (kRouteNames[i] == name) return static_cast<RouteId>(i);
    }
    // The coordinator API's templates, and "/api/other" for a path it has no endpoint for.
    if (name.starts_with("/api/")) return RouteId::api;
    return RouteId::other;
}

Metrics::Metrics() = default;

void Metrics::count_request(RouteId route, int status) noexcept {
    std::size_t s = kStatuses.size() - 1;
    for (std::size_t i = 0; i + 1 < kStatuses.size(); ++i) {
        if (kStatuses[i] == status) {
            s = i;
            break;
        }
    }
    requests_[static_cast<std::size_t>(route)][s].fetch_add(1, std::memory_order_relaxed);
}

void Metrics::count_error(std::string_view code) noexcept {
    const auto e = wire::parse_error_name(code);
    errors_[e ? static_cast<std::size_t>(*e) : 0].fetch_add(1, std::memory_order_relaxed);
}

void Metrics::add_ingested(std::uint64_t transactions, std::uint64_t changes) noexcept {
    transactions_.fetch_add(transactions, std::memory_order_relaxed);
    changes_.fetch_add(changes, std::memory_order_relaxed);
}

void Metrics::observe_latency(RouteId route, std::chrono::microseconds elapsed) noexcept {
    Histogram* h = route == RouteId::push   ? &push_latency_
                   : route == RouteId::pull ? &pull_latency_
                                            : nullptr;
    if (h == nullptr) return;
    const double secs = static_cast<double>(elapsed.count()) / 1e6;
    std::size_t b = 0;
    while (b < kBuckets.size() && secs > kBuckets[b])
        ++b;
    h->buckets[b].fetch_add(1, std::memory_order_relaxed);
    h->count.fetch_add(1, std::memory_order_relaxed);
    h->sum_us.fetch_add(static_cast<std::uint64_t>(elapsed.count()), std::memory_order_relaxed);
}

void Metrics::saw_device(const Uuid& device) {
    std::lock_guard lock(devices_mutex_);
    devices_.insert(device);
}

void Metrics::render_histogram(std::string& out, std::string_view name, std::string_view help,
                               const Histogram& h) const {
    out += "# HELP ";
    out += name;
    out += ' ';
    out += help;
    out += "\n# TYPE ";
    out += name;
    out += " histogram\n";
    // Prometheus buckets are cumulative; ours are stored per bucket so that recording is one
    // atomic increment.
    std::uint64_t cumulative = 0;
    for (std::size_t i = 0; i <= kBuckets.size(); ++i) {
        cumulative += h.buckets[i].load(std::memory_order_relaxed);
        out += name;
        out += "_bucket{le=\"";
        if (i < kBuckets.size()) {
            append_double(out, kBuckets[i]);
        } else {
            out += "+Inf";
        }
        out += "\"} ";
        out += std::to_string(cumulative);
        out += '\n';
    }
    out += name;
    out += "_sum ";
    append_double(out, static_cast<double>(h.sum_us.load(std::memory_order_relaxed)) / 1e6);
    out += '\n';
    out += name;
    out += "_count ";
    out += std::to_string(h.count.load(std::memory_order_relaxed));
    out += '\n';
}

std::string Metrics::render() const {
    std::string out;
    out.reserve(4096);
    out +=
        "# HELP mentorsync_http_requests_total HTTP requests answered, by route and status.\n"
        "# TYPE mentorsync_http_requests_total counter\n";
    for (std::size_t r = 0; r < kRouteCount; ++r) {
        for (std::size_t s = 0; s < kStatuses.size(); ++s) {
            const auto n = requests_[r][s].load(std::memory_order_relaxed);
            if (n == 0) continue;  // the fixed label space is large; absent series read as 0
            out += "mentorsync_http_requests_total{route=\"";
            out += kRouteNames[r];
            out += "\",status=\"";
            out += kStatuses[s] == 0 ? std::string("other") : std::to_string(kStatuses[s]);
            out += "\"} ";
            out += std::to_string(n);
            out += '\n';
        }
    }
    out +=
        "# HELP mentorsync_http_errors_total Error answers, by protocol error code.\n"
        "# TYPE mentorsync_http_errors_total counter\n";
    const auto error_line = [&](std::string_view code, std::size_t slot) {
        out += "mentorsync_http_errors_total{code=\"";
        out += code;
        out += "\"} ";
        out += std::to_string(errors_[slot].load(std::memory_order_relaxed));
        out += '\n';
    };
    for (const wire::Error e : wire::all_errors())
        error_line(wire::error_name(e), static_cast<std::size_t>(e));
    error_line("other", 0);
    out +=
        "# HELP mentorsync_transactions_ingested_total Pushed transactions accepted and stored.\n"
        "# TYPE mentorsync_transactions_ingested_total counter\n"
        "mentorsync_transactions_ingested_total " +
        std::to_string(transactions_.load(std::memory_order_relaxed)) +
        "\n"
        "# HELP mentorsync_changes_ingested_total Changes in accepted pushed transactions.\n"
        "# TYPE mentorsync_changes_ingested_total counter\n"
        "mentorsync_changes_ingested_total " +
        std::to_string(changes_.load(std::memory_order_relaxed)) + "\n";
    render_histogram(out, "mentorsync_push_duration_seconds",
                     "Push requests, header read to response written.", push_latency_);
    render_histogram(out, "mentorsync_pull_duration_seconds",
                     "Pull requests, header read to response written.", pull_latency_);
    std::size_t devices = 0;
    {
        std::lock_guard lock(devices_mutex_);
        devices = devices_.size();
    }
    out +=
        "# HELP mentorsync_devices_seen Distinct devices that made an authenticated request "
        "since start.\n"
        "# TYPE mentorsync_devices_seen gauge\n"
        "mentorsync_devices_seen " +
        std::to_string(devices) +
        "\n"
        "# HELP mentorsync_http_connections_open Open client connections.\n"
        "# TYPE mentorsync_http_connections_open gauge\n"
        "mentorsync_http_connections_open " +
        std::to_string(connections_.load(std::memory_order_relaxed)) +
        "\n"
        "# HELP mentorsync_http_connections_displaced_total Connections closed to make room for a "
        "new one at a connection limit (fresh or idle ones, oldest first).\n"
        "# TYPE mentorsync_http_connections_displaced_total counter\n"
        "mentorsync_http_connections_displaced_total " +
        std::to_string(displaced_.load(std::memory_order_relaxed)) +
        "\n"
        "# HELP mentorsync_http_connections_waiting Open connections that a new one may displace: "
        "fresh (no complete request yet) and idle (keep-alive).\n"
        "# TYPE mentorsync_http_connections_waiting gauge\n"
        "mentorsync_http_connections_waiting{phase=\"fresh\"} " +
        std::to_string(fresh_.load(std::memory_order_relaxed)) +
        "\n"
        "mentorsync_http_connections_waiting{phase=\"idle\"} " +
        std::to_string(idle_.load(std::memory_order_relaxed)) + "\n";
    return out;
}

}  // namespace mentorsync::server::http
