// Status and Result<T>: the engine's one error style.
//
// Every fallible engine call returns a Status (no value) or a Result<T> (a value or a Status).
// Exceptions never leave the engine's public API. A Status is cheap to copy when it is ok (no
// allocation) and carries a Code plus a human-readable message that names what was wrong
// (for validation: "contacts.duration_min: 900 is above the maximum 600").
// Thread-safety: values; safe to copy across threads.
#pragma once

#include <cassert>
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
    locked_out,        // too many wrong passphrases; retry after the delay the message states
    corrupt,      // a stored blob failed authentication or does not decode: tampering or damage
    io,           // SQLite or the file system failed
    closed,       // the replica is closed or locked
    unsupported,  // a newer format or an operation this build cannot do
    internal,     // a bug: an invariant did not hold
};

// Stable lower-case name of a code, e.g. "validation".
MENTORSYNC_API std::string_view code_name(Code code) noexcept;

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
    // "validation: contacts.duration_min: 900 is above the maximum 600"
    std::string to_string() const;

  private:
    Code code_ = Code::ok;
    std::string message_;
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
