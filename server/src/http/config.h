// Configuration of the HTTP server: what main.cpp builds from flags and environment, and what
// tests set directly. Plain values; no Asio or Beast here.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>

#include "mentorsync/status.h"
#include "mentorsync/wire.h"

namespace mentorsync::server::http {

struct ServerConfig {
    std::string address = "127.0.0.1";  // an IP literal ("localhost" is read as 127.0.0.1)
    std::uint16_t port = 8443;          // 0: an ephemeral port, reported in the "listening" log
    unsigned threads = 2;               // io threads; service calls run on them too
    std::size_t max_body_bytes = wire::kMaxBodyBytes;
    std::size_t max_header_bytes = 8 * 1024;  // request line + headers (docs/protocol.md §3)
    // Open connections. At the limit a new connection displaces the oldest one that has not
    // completed a request yet, else the oldest idle keep-alive one; only when every connection
    // is busy does it get 503 and is closed.
    std::size_t max_connections = 1024;
    // Open connections from one client address (an IPv6 /64), with the same displacement among
    // that address's own connections; 0: no per-address limit. 64 leaves room for a youth
    // centre's 10-30 tablets behind one NAT address, each with a stale keep-alive connection.
    std::size_t max_connections_per_ip = 64;
    // Request bodies larger than BodyBudget::kSmallBody being received or handled, server-wide;
    // beyond it 503 (Retry-After) before the body is read. 0: no budget.
    std::size_t body_budget_bytes = 64u << 20;
    std::size_t max_enroll_body_bytes = 4 * 1024;  // POST /v1/enroll (a request is ~120 bytes)
    std::size_t max_api_body_bytes = 64 * 1024;    // /api/v1 JSON bodies
    // Token buckets (429 rate_limited with Retry-After). Per device, on /v1/sync/*: a whole
    // sync's pushes and pull pages in one burst, then 10 requests/s, more than one client
    // sending its requests one after another needs.
    double device_rate_burst = 60;
    double device_rate_per_s = 10;  // 0: no per-device limit
    // Per client address, on the endpoints anyone may call: /v1/enroll and the coordinators'
    // sign-in (shared bucket).
    double ip_rate_burst = 20;
    double ip_rate_per_s = 0.5;  // 0: no per-address limit
    // Argon2id (sign-in) runs on threads of its own, never on the io threads; beyond
    // `threads + queue` sign-ins in progress the next one gets 503.
    unsigned signin_threads = 2;
    std::size_t signin_queue = 32;
    // Every other request's service call (SQLite, the log sync, the merged state's catch-up)
    // runs on these threads, not on the io threads. Its queue is max_connections long: each
    // connection has at most one request in flight, so the pool never refuses one.
    unsigned store_threads = 4;
    std::string tls_cert_file;  // PEM chain; TLS only when both files are given
    std::string tls_key_file;   // PEM private key
    std::chrono::milliseconds shutdown_timeout{10'000};  // in-flight requests get this long
    // A new connection's TLS handshake and first request header, from accept: much shorter
    // than the keep-alive wait, so that connections that send nothing (or a header one byte at
    // a time) cost little.
    std::chrono::milliseconds header_timeout{10'000};
    std::chrono::milliseconds idle_timeout{30'000};  // keep-alive wait and header read
    // One request's body: header_timeout plus 1 s per 16 KiB declared, at most read_timeout.
    std::chrono::milliseconds read_timeout{60'000};
    std::chrono::milliseconds write_timeout{30'000};  // one response
    bool handle_signals = false;  // SIGTERM/SIGINT start a graceful shutdown (main sets it)

    bool tls() const { return !tls_cert_file.empty() || !tls_key_file.empty(); }
};

// Parses "ADDR:PORT" ("127.0.0.1:8443", "[::1]:8443", "0.0.0.0:0"). The address is returned
// without brackets and is not resolved; the port must be 0..65535.
Result<std::pair<std::string, std::uint16_t>> parse_listen(std::string_view text);

}  // namespace mentorsync::server::http
