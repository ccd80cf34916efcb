// The coordinator API's error table (docs/api/openapi.yaml, "Error"): each code with its HTTP
// status. A failed Status that carries one of these as its Reason (ReasonDomain::coord) is
// answered with that status and code, and its message as the JSON body's "message"; a Status
// without such a reason is answered 500 internal. The views (coord/coord_views.h) and the HTTP
// layer (http/coord_api.cpp) build their refusals with error() below.
// Thread-safety: constants and pure functions.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "mentorsync/status.h"

namespace mentorsync::server::coord {

// The numbers are this build's; clients see the names.
enum class Error : std::uint16_t {
    bad_request = 1,         // 400: the body is not a JSON object
    bad_parameter,           // 400: a query parameter or body field is malformed; names it
    bad_cursor,              // 400: a cursor this API did not give out
    unauthenticated,         // 401: no, an unknown or an expired session or token
    bad_credentials,         // 401: wrong username or password
    forbidden,               // 403: the role may not see this
    csrf,                    // 403: missing/wrong X-CSRF-Token, or a cross-site request
    not_found,               // 404: no such endpoint, or outside the caller's scope
    method_not_allowed,      // 405
    conflict_changed,        // 409: the conflict moved on since it was read
    body_too_large,          // 413 (the HTTP layer's body budget)
    unsupported_media_type,  // 415
    locked_out,              // 429: too many failed sign-ins for this username
    rate_limited,            // 429: too many requests from this address
    internal,                // 500
    unavailable,             // 503: the server is saturated
};

// Every Error, in the enum's order (by HTTP status).
std::span<const Error> all_errors() noexcept;
// The code string clients see, e.g. "bad_parameter".
std::string_view error_name(Error e) noexcept;
// The HTTP status of `e`, e.g. 404 for not_found.
int http_status(Error e) noexcept;
// The Reason that stands for `e`.
inline constexpr Reason reason(Error e) noexcept {
    return Reason{ReasonDomain::coord, static_cast<std::uint16_t>(e)};
}
// A failed Status for `e` with `message` (a Code chosen to match) and its Reason set.
Status error(Error e, std::string message);
// The Error a Status stands for; nullopt when its reason is not of the coordinator's table.
std::optional<Error> error_of(const Status& status) noexcept;
// The Error a failed Status is answered with: error_of(), or internal when it has none.
inline Error answer_of(const Status& status) noexcept {
    return error_of(status).value_or(Error::internal);
}

// Maps any failure of the stores to internal "storage error" (what leaves the server never
// names SQLite or a file), keeping the value of a success; for MS_ASSIGN_OR_RETURN.
template <typename T>
Result<T> storage(Result<T> r) {
    if (!r.ok()) return error(Error::internal, "storage error");
    return r;
}
inline Status storage(Status s) {
    if (!s.ok()) return error(Error::internal, "storage error");
    return s;
}

}  // namespace mentorsync::server::coord
