// SyncSession: one device's side of the sync protocol (docs/protocol.md), sans I/O.
//
// The session turns a Replica's state into HTTP requests as plain data and consumes the
// responses; it never opens a socket, starts a thread or sleeps. A transport (the SDK's built-in
// HTTP client, or a mobile app's own HTTP stack) only moves bytes, so every platform drives the
// same protocol logic:
//
//     SyncSession session(replica, identity);
//     session.start();
//     for (;;) {
//         auto request = session.next_request();       // Result<HttpRequest>
//         if (!request) { /* local failure (locked replica, I/O): show it */ break; }
//         SyncStep step = send(*request) ? session.handle_response(response)
//                                        : session.handle_transport_error("timeout");
//         if (step.kind == SyncStep::Kind::next) continue;
//         if (step.kind == SyncStep::Kind::done) break;
//         if (step.transient) { sleep(step.retry_after_ms); continue; }  // same request again
//         /* permanent: show step.status */ break;
//     }
//
// One sync pushes every pending local transaction (in batches, each with a random batch id that
// is kept across retries of that batch, so a retry after a lost response is harmless), then
// pulls until the server says there is no more: purging learners listed, applying transactions
// and storing the cursor after applying them. Each pull request carries the device report
// (wire::DeviceReport: pending, quarantined and rejected counts as of that request, i.e. after
// this sync's pushes), which coordinators see as data quality. Everything persistent (the
// cursor, rejected transactions) lives in the Replica's sync values, so a sync resumes after
// the app is killed.
//
// Thread-safety: none; use one session from one thread at a time (the Replica it drives may
// be used from other threads meanwhile).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "mentorsync/clock.h"
#include "mentorsync/export.h"
#include "mentorsync/replica.h"
#include "mentorsync/status.h"
#include "mentorsync/types.h"
#include "mentorsync/wire.h"

namespace mentorsync {

struct MENTORSYNC_API HttpHeader {
    std::string name;
    std::string value;
    bool operator==(const HttpHeader&) const = default;
};

// A request to send as is: method, path (with any query), headers and body bytes.
struct MENTORSYNC_API HttpRequest {
    std::string method;
    std::string path;
    std::vector<HttpHeader> headers;
    std::string body;
    // The value of a header (case-insensitive name), or nullopt.
    std::optional<std::string> header(std::string_view name) const;
};

// What came back: the status code, the body bytes and the answer's `Retry-After` header as
// parse_retry_after() reads it (nullopt: absent or not a number of seconds). A transport that
// drops headers leaves it empty; the session then backs off on its own schedule.
struct MENTORSYNC_API HttpResponse {
    int status = 0;
    std::string body;
    // Initialised, so that `HttpResponse{status, body}` stays free of -Wmissing-field-initializers.
    std::optional<std::int64_t> retry_after_s = std::nullopt;
};

// The seconds a `Retry-After` header value asks for (docs/protocol.md section 2: a whole number
// of seconds), ignoring spaces and tabs around it. nullopt for anything else: empty, a sign, an
// HTTP date (which this protocol never sends), or more than 9 digits.
MENTORSYNC_API std::optional<std::int64_t> parse_retry_after(std::string_view value) noexcept;

// Who this device is to the server: the id enrollment returned and the Ed25519 keys it enrolled.
struct MENTORSYNC_API DeviceIdentity {
    Uuid device_id;
    wire::DeviceKeys keys;
};

// Counters of one sync (reset by start()), passed to the progress callback after each response.
struct MENTORSYNC_API SyncProgress {
    std::size_t pushed = 0;       // transactions the server answered for
    std::size_t acked = 0;        // of those, accepted now or already held: acknowledged locally
    std::size_t rejected = 0;     // of those, rejected (see SyncSession::rejected())
    std::size_t pulled = 0;       // transactions received
    std::size_t applied = 0;      // of those, merged now (others: duplicates, quarantined, invalid)
    std::size_t quarantined = 0;  // received stamped too far ahead (Replica::quarantined())
    std::size_t remote_invalid = 0;   // received but invalid for this schema: not stored
    std::size_t learners_purged = 0;  // purge entries carried out
    std::size_t requests = 0;         // responses handled, retries included
    // Own transactions the server refused as stamped in the future (this device's clock ran
    // ahead when they were written) that were re-dated and sent again (see redate_notice()).
    std::size_t redated = 0;
};

struct MENTORSYNC_API SyncOptions {
    std::size_t push_batch = 200;                      // transactions per push (1 to 1,000)
    std::size_t pull_limit = wire::kDefaultPullLimit;  // transactions per pull page (1 to 1,000)
    std::shared_ptr<const WallClock> clock;  // timestamps and skew; null: the system clock
    std::function<void(const SyncProgress&)> on_progress;  // after each handled response
};

// What the caller does next.
struct MENTORSYNC_API SyncStep {
    enum class Kind {
        next,    // send next_request() now
        done,    // the sync finished: everything pushed (or rejected) and pulled
        failed,  // see status; if transient, call next_request() again after retry_after_ms
    };
    Kind kind = Kind::next;
    Status status;           // failed: why (the server's code and message, or the local error)
    bool transient = false;  // failed: retrying the same request later may succeed
    // transient: suggested delay (1 s doubling to 5 min, ±20 %), or the answer's Retry-After
    // when that is longer (honoured up to 1 h)
    std::int64_t retry_after_ms = 0;
    std::string server_code;  // failed with an error body: its code, e.g. "stale_timestamp"
};

// A local transaction the server refused (push result 2). It stays in the change log and is
// listed here until retry_rejected() or a purge removes it. It is not sent again
// automatically, except `future_stamp`: such a transaction is re-dated
// (Replica::restamp_refused) and sent again in the same sync; one listed with that code
// could not be re-dated far enough yet and is sent again once per sync until the server's
// clock has passed it.
struct MENTORSYNC_API PushRejection {
    Stamp stamp;
    std::string code;     // out_of_scope | invalid | future_stamp | foreign_node | (local) ...
    std::string message;  // the server's, for people; never personal data (section 2)
};

// What the sessions of one replica re-dated (SyncProgress::redated), kept in the replica until
// the app has told its user and calls clear_redate_notice(): "3 edits were re-dated because
// this tablet's clock was 10 years ahead".
struct MENTORSYNC_API RedateNotice {
    std::uint64_t redated = 0;  // own transactions re-dated since the notice was last cleared
    std::int64_t ahead_ms = 0;  // the most an old stamp was ahead of the server's clock
    std::int64_t last_ms = 0;   // this device's clock when the last was re-dated; 0: never
    bool operator==(const RedateNotice&) const = default;
};

class MENTORSYNC_API SyncSession {
  public:
    SyncSession(Replica& replica, DeviceIdentity identity, SyncOptions options = {});
    ~SyncSession();
    SyncSession(const SyncSession&) = delete;
    SyncSession& operator=(const SyncSession&) = delete;

    // Begins a sync: push, then pull. Resets the progress counters and the backoff. A push
    // batch left unanswered by an earlier sync is sent again with its batch id.
    void start();

    // The request to send now: after start(), after a step of kind `next`, and to retry after a
    // transient failure (the same body and batch id; a fresh timestamp, nonce and signature).
    // Every call signs afresh, so a transport that must resend before any answer arrived (a
    // kept-alive connection found closed) calls it again rather than resending the old bytes:
    // the new request replaces the outstanding one. Never send one request's bytes twice: the
    // server refuses a nonce it has seen (401 replayed_nonce).
    // Errors: the replica is locked or failed (its Status), or no sync is running
    // (Code::invalid_argument: call start()).
    Result<HttpRequest> next_request();

    // Feeds the response to the last request. Never throws, whatever the bytes.
    SyncStep handle_response(const HttpResponse& response);

    // The transport failed to deliver the request or to read the whole response (no
    // connection, timeout, TLS error): always transient; the next request repeats it.
    SyncStep handle_transport_error(std::string_view what);

    // Whether a sync is running (started, and not yet done or permanently failed).
    bool running() const noexcept;
    const SyncProgress& progress() const noexcept;

    // The server's clock minus ours, in ms, as of the last response that carried server time
    // (nullopt before any): negative when this device's clock is ahead of the server's,
    // positive when it is behind (describe_clock_offset() says it in words). The app should
    // warn when |skew| is near 5 minutes: beyond that, requests fail with stale_timestamp and
    // other devices quarantine our edits.
    std::optional<std::int64_t> clock_skew_ms() const noexcept;

    // Local transactions the server rejected, oldest first (kept in the replica).
    Result<std::vector<PushRejection>> rejected() const;
    // Forgets the rejections, so the next sync sends those transactions again (e.g. after an
    // administrator fixed the assignment that put them out of scope).
    Status retry_rejected();

    // What was re-dated since the notice was last cleared (all zero when nothing was).
    // Errors: the replica's (closed when locked), corrupt for a malformed stored notice.
    Result<RedateNotice> redate_notice() const;
    // Clears it, once the user has been told.
    Status clear_redate_notice();

    class Impl;

  private:
    std::unique_ptr<Impl> impl_;
};

// How far this device's clock is off, in words, from a skew as clock_skew_ms() gives it (the
// server's clock minus ours): "4 min ahead of the server's", "10 s behind the server's",
// "in step with the server's" (under half a second). Seconds below 2 min, then minutes below
// 2 h, hours below 2 days, days below 2 years, then years (365 days), each rounded to the
// nearest.
MENTORSYNC_API std::string describe_clock_offset(std::int64_t skew_ms);

// ---- enrollment (docs/protocol.md, section 4) --------------------------------------------------
// Enrollment is one unsigned request, so it needs no session.

// The POST /v1/enroll request (unsigned). Errors: Code::invalid_argument for an empty code, a
// nil node, or a label that is not UTF-8 or longer than 100 characters.
MENTORSYNC_API Result<HttpRequest> enrollment_request(std::string_view code,
                                                      const wire::DeviceKeys& keys,
                                                      const Uuid& node, std::string_view label);

// What enrollment gave the device; keep device_id with the keys (DeviceIdentity).
struct MENTORSYNC_API Enrollment {
    Uuid device_id;
    Uuid user_id;
    std::string role;  // "mentor" | "centre_staff"
    std::int64_t server_time_ms = 0;
};

// Reads the answer to enrollment_request(). A non-200 answer is an error whose message holds the
// HTTP status and the server's code and message ("enrollment refused (403
// enrollment_invalid): ..."): Code::io for 5xx, 408 and 429 (try again later; retry_after_ms()
// is the answer's Retry-After, up to 1 h, or 0 when it gave none), Code::invalid_argument for
// anything else (a new code is needed). A malformed 200 body is Code::invalid_argument too.
MENTORSYNC_API Result<Enrollment> parse_enrollment_response(const HttpResponse& response);

}  // namespace mentorsync
