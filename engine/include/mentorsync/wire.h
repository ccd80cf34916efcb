// The sync protocol's wire encoding of transactions (docs/protocol.md, section 6) and the
// request-signing rules (section 5), shared by the engine's SyncSession, the server and any
// test client. Pure functions: no I/O, no state.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "mentorsync/export.h"
#include "mentorsync/schema.h"
#include "mentorsync/status.h"
#include "mentorsync/transaction.h"
#include "mentorsync/types.h"

namespace mentorsync::wire {

// Protocol limits (docs/protocol.md, section 3).
inline constexpr std::size_t kMaxBodyBytes = 4u << 20;
inline constexpr std::size_t kMaxTransactionsPerPush = 1'000;
inline constexpr std::size_t kMaxChangesPerTransaction = 1'000;
inline constexpr std::size_t kMaxDepth = 16;
inline constexpr std::size_t kMaxStringBytes = 64u << 10;
inline constexpr std::size_t kMaxPullLimit = 1'000;
inline constexpr std::size_t kDefaultPullLimit = 500;
inline constexpr std::size_t kMaxCursorBytes = 1'024;
// Each count of a pull request's device report (section 8); senders clamp to it.
inline constexpr std::uint64_t kMaxReportedCount = 1'000'000;
inline constexpr std::int64_t kSignatureWindowMs = 300'000;

// Appends the `txns` value (array [nodes, items]) for `transactions` to a msgpack buffer.
// Known collections and fields of `schema` are written as numbers, others as strings.
MENTORSYNC_API void append_transactions(std::string& out, const Schema& schema,
                                        std::span<const Transaction> transactions);
MENTORSYNC_API std::string encode_transactions(const Schema& schema,
                                               std::span<const Transaction> transactions);

// The rules of section 6 that a received transaction must meet, beyond its encoding: a
// non-zero stamp; at least one change; no empty collection or field name, no nil row; each
// (row, field) at most once; every prev and resolved stamp before the transaction's own;
// `_deleted` true, false or nil; values of fields `schema` knows valid for them (unknown
// collections and fields are kept, for newer peers); a created record complete
// (Schema::check_received). Not the count of changes: the decoder bounds received transactions
// (kMaxChangesPerTransaction) and local batches may be larger. Code::invalid_argument or
// Code::validation naming collection.field; reads and writes nothing.
MENTORSYNC_API Status check_transaction(const Schema& schema, const Transaction& txn);

// Decodes a `txns` value (the whole of `bytes`). Errors are Code::invalid_argument naming
// what was wrong. Structural limits (counts, depth, string sizes) are enforced here; schema
// validation of values is the receiver's job (Replica::apply_remote, the server).
MENTORSYNC_API Result<std::vector<Transaction>> decode_transactions(const Schema& schema,
                                                                    std::string_view bytes);

// The exact string a device signs (section 5), from the request's parts.
MENTORSYNC_API std::string signing_string(std::string_view method, std::string_view path,
                                          std::string_view timestamp, std::string_view nonce,
                                          std::string_view device_id, std::string_view body);

// Ed25519 keys of a device.
struct MENTORSYNC_API DeviceKeys {
    std::array<std::uint8_t, 32> public_key{};
    std::array<std::uint8_t, 64> secret_key{};  // keep in the platform keystore
    static DeviceKeys generate();
};

// base64url (RFC 4648 section 5) without padding, as the Authorization header uses it.
MENTORSYNC_API std::string base64url(std::string_view bytes);
inline constexpr std::size_t base64url_length(std::size_t bytes) {
    return (bytes * 4 + 2) / 3;
}
// The `bytes` bytes that `text` encodes, or nullopt unless `text` is exactly the canonical
// base64url text of that many bytes.
MENTORSYNC_API std::optional<std::string> from_base64url(std::string_view text, std::size_t bytes);

// The Ed25519 signature of `message`, base64url (86 characters).
MENTORSYNC_API std::string sign(const DeviceKeys& keys, std::string_view message);
// Whether `signature` (86 base64url characters) is a valid signature of `message` by
// `public_key`. Malformed text is simply not valid.
MENTORSYNC_API bool verify(std::span<const std::uint8_t, 32> public_key, std::string_view message,
                           std::string_view signature);

// The `Authorization` header of a signed request (section 5): "MS1 " then the device id,
// timestamp, nonce and signature joined by '.'. The four parts as they appear in the header:
inline constexpr std::string_view kAuthScheme = "MS1";
struct MENTORSYNC_API Credentials {
    std::string device;     // 16-byte device id, base64url (22 characters)
    std::string timestamp;  // decimal milliseconds since the Unix epoch
    std::string nonce;      // 16 random bytes, base64url (22 characters)
    std::string signature;  // 64 bytes, base64url (86 characters)
};
// The header value for a request with this method, path (as in the request line) and body,
// signed by `keys` at `timestamp_ms` with the 16-byte `nonce` (fresh for every request).
MENTORSYNC_API std::string authorization(const DeviceKeys& keys, std::string_view method,
                                         std::string_view path, const Uuid& device,
                                         std::int64_t timestamp_ms, std::string_view nonce,
                                         std::string_view body);
// Splits a header value and checks the form of each part (not the signature).
// Code::invalid_argument naming the part that is missing or malformed.
MENTORSYNC_API Result<Credentials> parse_authorization(std::string_view header);

// ---- message bodies (sections 2, 4, 7, 8) ----------------------------------------------------
// Encoders and strict decoders of every /v1/ body, shared by the engine's SyncSession, the
// server and test doubles so that both ends read the contract the same way. Decoders ignore
// unknown map keys (section 1) and answer a missing or mistyped key, trailing bytes, or a body
// over the limits of section 3 with Code::invalid_argument naming the key or the limit.
// error_reply_for() turns such an error into the HTTP status and code a server answers.

// ---- errors (section 2) ----------------------------------------------------------------------
// Every error code of the protocol's table. A Status that stands for one carries it as its
// Reason (domain ReasonDomain::wire); HTTP status and code are looked up from that, never from
// the message. The numbers are this build's, not the protocol's: programs exchange the names.
enum class Error : std::uint16_t {
    bad_request = 1,
    too_deep,
    string_too_long,
    unsigned_request,  // "unsigned" (a C++ keyword)
    unknown_device,
    bad_signature,
    stale_timestamp,
    replayed_nonce,
    device_revoked,
    enrollment_invalid,
    not_found,
    method_not_allowed,
    node_in_use,
    batch_mismatch,
    body_too_large,
    too_many_transactions,
    unsupported_media_type,
    rate_limited,
    headers_too_large,
    internal,
    unavailable,
};
// How many Errors there are: their values are 1..kErrorCodeCount, so a table indexed by value
// (0 for "none of them") has kErrorCodeCount + 1 slots.
inline constexpr std::size_t kErrorCodeCount = static_cast<std::size_t>(Error::unavailable);
// Every Error, in the order of the protocol's table (by HTTP status).
MENTORSYNC_API std::span<const Error> all_errors() noexcept;
// The protocol's code string, e.g. "too_deep"; "unsigned" for Error::unsigned_request.
MENTORSYNC_API std::string_view error_name(Error e) noexcept;
// The Error whose name is `name`; nullopt for a name the protocol does not define.
MENTORSYNC_API std::optional<Error> parse_error_name(std::string_view name) noexcept;
// The HTTP status the protocol answers with, e.g. 413 for body_too_large.
MENTORSYNC_API int http_status(Error e) noexcept;
// The Reason that stands for `error`.
inline constexpr Reason reason(Error e) noexcept {
    return Reason{ReasonDomain::wire, static_cast<std::uint16_t>(e)};
}
// A failed Status for `error` with `message`, its Code chosen by the table (invalid_argument
// for malformed requests, internal for internal, ...), its Reason set.
MENTORSYNC_API Status error(Error e, std::string message);
// The Error a Status stands for; nullopt when its reason is not of the wire's domain (or not a
// value of this build's table).
MENTORSYNC_API std::optional<Error> error_of(const Status& status) noexcept;

// `error` (section 2).
struct MENTORSYNC_API ErrorBody {
    std::string code;
    std::string message;
    std::optional<std::int64_t> server_time_ms;
};
MENTORSYNC_API std::string encode_error(const ErrorBody& error);
MENTORSYNC_API Result<ErrorBody> decode_error(std::string_view body);

// The HTTP status and error code (section 2) a server answers for a failed Status: those of its
// wire::Error (error_of()), or 400 bad_request when it has none; the message is the Status's.
// This file's decoders attach 413 body_too_large, 413 too_many_transactions, 400 too_deep or
// 400 string_too_long where they apply, and nothing (so 400 bad_request) otherwise.
struct MENTORSYNC_API ErrorReply {
    int http_status = 400;
    ErrorBody body;
};
MENTORSYNC_API ErrorReply error_reply_for(const Status& decode_error);

// POST /v1/enroll (section 4).
struct MENTORSYNC_API EnrollRequest {
    std::string code;
    std::array<std::uint8_t, 32> public_key{};
    Uuid node;
    std::string label;  // <= 100 characters (UTF-8 code points)
};
struct MENTORSYNC_API EnrollResponse {
    Uuid device_id;
    Uuid user_id;
    std::string role;  // "mentor" | "centre_staff"
    std::int64_t server_time_ms = 0;
};
inline constexpr std::size_t kMaxLabelChars = 100;
MENTORSYNC_API std::string encode_enroll_request(const EnrollRequest& request);
MENTORSYNC_API Result<EnrollRequest> decode_enroll_request(std::string_view body);
MENTORSYNC_API std::string encode_enroll_response(const EnrollResponse& response);
MENTORSYNC_API Result<EnrollResponse> decode_enroll_response(std::string_view body);

// POST /v1/sync/push (section 7).
struct MENTORSYNC_API PushRequest {
    Uuid batch;
    std::vector<Transaction> txns;
};
struct MENTORSYNC_API PushResult {
    enum class Kind : std::uint8_t { accepted = 0, held = 1, rejected = 2 };
    Kind kind = Kind::accepted;
    std::string code;  // rejected only: out_of_scope | invalid | future_stamp | foreign_node
    std::string message;
};
struct MENTORSYNC_API PushResponse {
    std::vector<PushResult> results;
    std::int64_t server_time_ms = 0;
};
MENTORSYNC_API std::string encode_push_request(const Schema& schema, const Uuid& batch,
                                               std::span<const Transaction> transactions);
MENTORSYNC_API Result<PushRequest> decode_push_request(const Schema& schema, std::string_view body);
MENTORSYNC_API std::string encode_push_response(const PushResponse& response);
MENTORSYNC_API Result<PushResponse> decode_push_response(std::string_view body);

// POST /v1/sync/pull (section 8).
// The device's own data-quality counts, sent with each pull (key "report", an array of three
// unsigned integers in this order). Each is at most kMaxReportedCount: a sender clamps, a
// decoder refuses a larger value. Counts only: the server keeps the last report per device.
struct MENTORSYNC_API DeviceReport {
    std::uint64_t pending = 0;      // local transactions not yet acknowledged nor rejected
    std::uint64_t quarantined = 0;  // received transactions held aside, stamped too far ahead
    std::uint64_t rejected = 0;     // local transactions the server rejected, still held
    bool operator==(const DeviceReport&) const = default;
};
struct MENTORSYNC_API PullRequest {
    std::string cursor;                  // opaque bytes, <= kMaxCursorBytes
    std::optional<std::uint64_t> limit;  // as sent; the server clamps it to 1..kMaxPullLimit
    std::optional<DeviceReport> report;  // absent from older clients
};
struct MENTORSYNC_API PullResponse {
    std::vector<Transaction> txns;
    std::vector<Uuid> purge;
    std::string cursor;
    bool more = false;
    std::int64_t server_time_ms = 0;
};
MENTORSYNC_API std::string encode_pull_request(const PullRequest& request);
MENTORSYNC_API Result<PullRequest> decode_pull_request(std::string_view body);
MENTORSYNC_API std::string encode_pull_response(const Schema& schema, const PullResponse& response);
MENTORSYNC_API Result<PullResponse> decode_pull_response(const Schema& schema,
                                                         std::string_view body);

// Lower-case hex of SHA-256 of `bytes` (the last line of the signed string; batch identity).
MENTORSYNC_API std::string sha256_hex(std::string_view bytes);

}  // namespace mentorsync::wire
