// Status and Result<T>: the engine's one error style.
//
// Every fallible engine call returns a Status (no value) or a Result<T> (a value or a Status).
// Exceptions never leave the engine's public API. A Status is cheap to copy when it is ok (no
// allocation) and carries a Code plus a human-readable message that names what was wrong
// (for validation: "contacts.duration_min: 900 is above the maximum 720").
//
// Optional parts are for programs, never parsed out of the message:
// - a Reason: which error of a protocol's table this is (wire::Error, the coordinator API's
//   coord::Error, the C ABI's ms_error_code). Where a Status becomes an HTTP answer (or an
//   ms_error), the reason alone picks the status and the error code; the message is for people.
// - retry_after_ms: how long the caller should wait before trying again (0 = no advice), e.g.
//   after a lockout.
// - transient: whether trying again may succeed, when the failing call knows better than its
//   code (unset: the code decides).
// - a Remote: what a server answered when the failure is its refusal (its error code string and
//   HTTP status), e.g. for the SDK's SERVER-domain errors.
// All parts are empty on an ok Status, which allocates nothing.
// Thread-safety: values; safe to copy across threads.
#pragma once

#include <cassert>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

#include "mentorsync/export.h"

namespace mentorsync {

enum class Code {
    ok = 0,
    invalid_argument,  // the caller passed something malformed (bad id, bad option, bad bytes)
    validation,        // a record does not satisfy the schema; message names collection.field
    not_found,         // no such record, conflict or quarantined transaction
    wrong_key,         // the passphrase or raw key does not unlock this replica
    locked_out,        // too many wrong passphrases; retry after retry_after_ms()
    corrupt,      // a stored blob failed authentication or does not decode: tampering or damage
    io,           // SQLite or the file system failed
    closed,       // the replica is closed or locked
    unsupported,  // a newer format or an operation this build cannot do
    internal,     // a bug: an invariant did not hold
};

// Stable lower-case name of a code, e.g. "validation".
MENTORSYNC_API std::string_view code_name(Code code) noexcept;

// Which table a Reason's value belongs to.
enum class ReasonDomain : std::uint8_t {
    none = 0,  // no reason: the Code alone describes the failure
    wire,      // mentorsync::wire::Error (docs/protocol.md, section 2)
    coord,     // the coordinator API's error table (server/src/coord)
    c_abi,     // the C ABI's ms_error_code (client-sdk/include/mentorsync/mentorsync.h)
};

// A protocol error a Status stands for: (domain, value of that domain's enum).
struct Reason {
    ReasonDomain domain = ReasonDomain::none;
    std::uint16_t value = 0;
    bool operator==(const Reason&) const = default;
};

// What a server answered when a failure is its refusal. http_status 0: no answer (no Remote).
struct Remote {
    int http_status = 0;
    std::string code;  // the server's error code, e.g. "unauthorized"; may be empty
    bool operator==(const Remote&) const = default;
};

class [[nodiscard]] MENTORSYNC_API Status {
  public:
    Status() noexcept = default;
    Status(Code code, std::string message) : code_(code), message_(std::move(message)) {}

    static Status ok_status() noexcept { return Status(); }
    static Status invalid_argument(std::string m) { return {Code::invalid_argument, std::move(m)}; }
    static Status validation(std::string m) { return {Code::validation, std::move(m)}; }
    static Status not_found(std::string m) { return {Code::not_found, std::move(m)}; }
    static Status wrong_key(std::string m) { return {Code::wrong_key, std::move(m)}; }
    static Status locked_out(std::string m) { return {Code::locked_out, std::move(m)}; }
    static Status corrupt(std::string m) { return {Code::corrupt, std::move(m)}; }
    static Status io(std::string m) { return {Code::io, std::move(m)}; }
    static Status closed(std::string m) { return {Code::closed, std::move(m)}; }
    static Status unsupported(std::string m) { return {Code::unsupported, std::move(m)}; }
    static Status internal(std::string m) { return {Code::internal, std::move(m)}; }

    bool ok() const noexcept { return code_ == Code::ok; }
    explicit operator bool() const noexcept { return ok(); }
    Code code() const noexcept { return code_; }
    const std::string& message() const noexcept { return message_; }
    // "validation: contacts.duration_min: 900 is above the maximum 720"
    std::string to_string() const;

    // The protocol error this failure stands for; {none, 0} when there is none (always for an
    // ok Status).
    Reason reason() const noexcept { return reason_; }
    // Milliseconds the caller should wait before trying again; 0 when there is no such advice.
    std::int64_t retry_after_ms() const noexcept { return retry_after_ms_; }
    // Whether trying again may succeed, if the failing call said so; nullopt when the code
    // decides (always for an ok Status).
    std::optional<bool> transient() const noexcept {
        if (transient_ == Transience::unset) return std::nullopt;
        return transient_ == Transience::transient;
    }
    // The server's answer this failure stands for; http_status 0 when there is none.
    const Remote& remote() const noexcept { return remote_; }

    // This Status with a reason (or retry advice) attached, for chaining at the point of
    // failure: `return Status::invalid_argument(m).with_reason(r);`. Ignored on an ok Status,
    // which carries neither. A negative delay counts as 0.
    Status& with_reason(Reason reason) & noexcept {
        if (!ok()) reason_ = reason;
        return *this;
    }
    Status with_reason(Reason reason) && noexcept {
        with_reason(reason);
        return std::move(*this);
    }
    Status& with_retry_after(std::int64_t ms) & noexcept {
        if (!ok()) retry_after_ms_ = ms > 0 ? ms : 0;
        return *this;
    }
    Status with_retry_after(std::int64_t ms) && noexcept {
        with_retry_after(ms);
        return std::move(*this);
    }
    Status& with_transient(bool transient) & noexcept {
        if (!ok()) transient_ = transient ? Transience::transient : Transience::permanent;
        return *this;
    }
    Status with_transient(bool transient) && noexcept {
        with_transient(transient);
        return std::move(*this);
    }
    Status& with_remote(Remote remote) & noexcept {
        if (!ok()) remote_ = std::move(remote);
        return *this;
    }
    Status with_remote(Remote remote) && noexcept {
        with_remote(std::move(remote));
        return std::move(*this);
    }

  private:
    enum class Transience : std::uint8_t { unset, transient, permanent };
    Code code_ = Code::ok;
    Transience transient_ = Transience::unset;
    Reason reason_;
    std::int64_t retry_after_ms_ = 0;
    std::string message_;
    Remote remote_;
};

// A value of type T, or the Status that explains why there is none.
template <typename T>
class [[nodiscard]] Result {
  public:
    Result(T value) : v_(std::move(value)) {}  // NOLINT: implicit by design
    Result(Status status) : v_(std::move(status)) {
        assert(!std::get<Status>(v_).ok() && "a Result holding a Status must hold an error");
    }

    bool ok() const noexcept { return v_.index() == 0; }
    explicit operator bool() const noexcept { return ok(); }

    // Precondition: ok().
    T& value() & { return std::get<0>(v_); }
    const T& value() const& { return std::get<0>(v_); }
    T&& value() && { return std::get<0>(std::move(v_)); }
    T* operator->() { return &value(); }
    const T* operator->() const { return &value(); }
    T& operator*() & { return value(); }
    const T& operator*() const& { return value(); }

    // The error, or an ok Status when a value is held.
    Status status() const { return ok() ? Status() : std::get<1>(v_); }

  private:
    std::variant<T, Status> v_;
};

}  // namespace mentorsync

// Propagate a failed Status from an expression, e.g. MS_RETURN_IF_ERROR(store.begin());
#define MS_RETURN_IF_ERROR(expr)                  \
    do {                                          \
        ::mentorsync::Status ms_status_ = (expr); \
        if (!ms_status_.ok()) return ms_status_;  \
    } while (0)

// Evaluates `expr` (a Result<T>); on failure returns its Status from the enclosing function,
// otherwise moves the value into `lhs`, which may declare a variable:
//   MS_ASSIGN_OR_RETURN(auto rows, store.query(q));
// It expands to two statements (so that `lhs` can be a declaration): do not use it as the
// only statement of an unbraced if/else/for.
#define MS_ASSIGN_OR_RETURN(lhs, expr) \
    MS_ASSIGN_OR_RETURN_IMPL_(MS_STATUS_CONCAT_(ms_result_, __LINE__), lhs, expr)
#define MS_ASSIGN_OR_RETURN_IMPL_(tmp, lhs, expr) \
    auto tmp = (expr);                            \
    if (!tmp.ok()) return tmp.status();           \
    lhs = std::move(tmp).value()
#define MS_STATUS_CONCAT_(a, b) MS_STATUS_CONCAT_INNER_(a, b)
#define MS_STATUS_CONCAT_INNER_(a, b) a##b
