// The built-in HTTP(S) transport: moves a SyncSession's requests to the sync server over
// Boost.Beast and feeds back the answers, with retry, backoff and cancellation. The session
// (engine/include/mentorsync/sync_session.h) holds all protocol logic; this file only carries
// bytes. Used by the client SDK's C ABI and by the integration tests.
//
// Thread-safety: an HttpTransport is used by one thread at a time (it owns one connection).
// run_sync() blocks the calling thread; progress and cancellation callbacks run on it.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "mentorsync/status.h"
#include "mentorsync/sync_session.h"

namespace mentorsync::client {

// Where the server is: parsed from "http://host:port" or "https://host[:port]".
struct Endpoint {
    std::string host;
    std::string port;
    bool tls = false;
    std::string base_path;  // any path prefix before /v1/, without a trailing slash

    // Errors: Code::invalid_argument naming what is wrong with the URL.
    static Result<Endpoint> parse(std::string_view url);

    // Whether the host is this machine: "localhost" (any case) or a loopback address literal
    // (127.0.0.0/8, ::1). A name that only looks like one ("127.example.org") is not.
    bool is_loopback() const;
};

struct TransportOptions {
    std::chrono::milliseconds connect_timeout{10'000};
    std::chrono::milliseconds request_timeout{60'000};  // one request, sending and reading
    std::string ca_file;      // TLS: extra trust anchors (PEM); empty: the system store only
    bool verify_peer = true;  // TLS: never switch off outside tests
    std::size_t max_response_bytes = 64u << 20;
};

class HttpTransport {
  public:
    HttpTransport(Endpoint endpoint, TransportOptions options = {});
    ~HttpTransport();
    HttpTransport(const HttpTransport&) = delete;
    HttpTransport& operator=(const HttpTransport&) = delete;

    // Builds the request of one attempt. Called again for each attempt, so that a signed
    // request goes out with a fresh timestamp and nonce every time (SyncSession::next_request).
    using RequestBuilder = std::function<Result<HttpRequest>()>;

    // Sends the request `build` makes and reads the whole answer, reusing the connection when
    // the server keeps it alive. A kept-alive connection may have been closed meanwhile (an idle
    // timeout, a proxy): if one fails, other than by timing out, the transport reconnects once
    // and sends a request built anew, never the same signed bytes again, since the server may
    // have recorded the first one's nonce and would answer 401 replayed_nonce. Errors from
    // `build` are returned as they are, with nothing (more) sent. Otherwise errors (Code::io)
    // mean the request may or may not have arrived: no connection, timeout, TLS failure,
    // connection closed mid-answer. Every request of the protocol is safe to repeat re-signed.
    Result<HttpResponse> send(const RequestBuilder& build);
    // Sends these exact bytes. An unsigned request (enrollment, /healthz) may go out twice as
    // above; one with an Authorization header is never sent twice: if the reused connection
    // fails, the error is returned and the caller re-signs.
    Result<HttpResponse> send(const HttpRequest& request);
    // Drops the connection (the next send() reconnects).
    void disconnect();

    const Endpoint& endpoint() const noexcept;

  private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

// How run_sync() ended, for callers that report errors in more detail than a Status (the C ABI
// tells a server's refusal from a network failure).
struct RunReport {
    SyncStep last_step;             // the last step the session returned (kind next if none)
    int last_http_status = 0;       // the status of the last response; 0: none arrived
    bool transport_failed = false;  // the last request got no (complete) response
};

struct RunOptions {
    // Give up after this many consecutive transient failures (0: never).
    int max_attempts = 8;
    // Asked before every request and while waiting; returning true stops the sync with
    // Code::closed ("cancelled") and leaves everything consistent for the next sync.
    std::function<bool()> cancelled;
    // Waits between retries; tests replace it to skip the sleeping. Default: sleeps in slices
    // of at most 100 ms, checking `cancelled`.
    std::function<void(std::int64_t ms)> sleep;
    // If set, filled in as the sync goes (so it is complete however run_sync() returns).
    RunReport* report = nullptr;
};

// Runs one whole sync (session.start() ... done): sends each request, retries transient
// failures after the session's suggested delay, stops on permanent ones. Returns the final
// progress; on failure, the Status of the step that failed.
Result<SyncProgress> run_sync(SyncSession& session, HttpTransport& transport,
                              const RunOptions& options = {});

// Enrolls this device (docs/protocol.md section 4) with one request.
Result<Enrollment> enroll(HttpTransport& transport, std::string_view code,
                          const wire::DeviceKeys& keys, const Uuid& node, std::string_view label);

}  // namespace mentorsync::client
