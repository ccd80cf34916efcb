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
    std::size_t max_connections = 1024;       // beyond it a connection gets 503 and is closed
    std::string tls_cert_file;                // PEM chain; TLS only when both files are given
    std::string tls_key_file;                 // PEM private key
    std::chrono::milliseconds shutdown_timeout{10'000};  // in-flight requests get this long
    std::chrono::milliseconds idle_timeout{30'000};      // keep-alive wait and header read
    std::chrono::milliseconds read_timeout{60'000};      // TLS handshake; one request's body
    std::chrono::milliseconds write_timeout{30'000};     // one response
    bool handle_signals = false;  // SIGTERM/SIGINT start a graceful shutdown (main sets it)

    bool tls() const { return !tls_cert_file.empty() || !tls_key_file.empty(); }
};

// Parses "ADDR:PORT" ("127.0.0.1:8443", "[::1]:8443", "0.0.0.0:0"). The address is returned
// without brackets and is not resolved; the port must be 0..65535.
Result<std::pair<std::string, std::uint16_t>> parse_listen(std::string_view text);

}  // namespace mentorsync::server::http
