// A small blocking HTTP/1.1 client for the server tests, plain or TLS, built on Beast in its
// own translation unit (http_client.cpp) so the test files stay cheap to compile. Every
// operation gives up after a few seconds, so a server bug fails a test instead of hanging it.
#pragma once

#include "test_cert.h"

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace mstest {

struct HttpResponse {
    int status = 0;
    std::map<std::string, std::string> headers;  // names lower-case
    std::string body;
    std::string header(const std::string& lower_name) const {
        auto it = headers.find(lower_name);
        return it == headers.end() ? std::string() : it->second;
    }
};

class HttpClient {
  public:
    // Connects to 127.0.0.1:port; with `trusted_cert_pem` non-empty, speaks TLS and trusts
    // only that certificate. Throws std::runtime_error when it cannot connect.
    // `source_address` (e.g. "127.0.0.2": Linux routes all of 127/8 to loopback) makes the
    // connection come from another client address, for the per-address limits.
    explicit HttpClient(std::uint16_t port, const std::string& trusted_cert_pem = {},
                        const std::string& source_address = {});
    ~HttpClient();

    using Headers = std::vector<std::pair<std::string, std::string>>;
    // Sends one request and reads its response. An empty `content_type` sends none.
    HttpResponse request(const std::string& method, const std::string& target,
                         const std::string& body = {},
                         const std::string& content_type = "application/msgpack",
                         const Headers& headers = {});

    // Raw bytes for requests Beast would not build (oversized headers, lying lengths).
    // Returns false when the write failed (the server may already have closed).
    bool write_raw(std::string_view bytes);
    // Reads one response; status 0 when the connection ended first.
    HttpResponse read_response();
    // True when the server has closed the connection (reads end of stream within a second).
    bool server_closed();
    // True when the server closes the connection within `limit` (waits for it, no more).
    // Either way the connection is unusable afterwards: a timed-out read closes it.
    bool closed_within(std::chrono::milliseconds limit);

  private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace mstest
