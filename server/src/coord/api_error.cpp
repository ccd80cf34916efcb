#include "coord/api_error.h"

#include <array>

namespace mentorsync::server::coord {

namespace {

struct Row {
    Error error;
    std::string_view name;
    int http_status;
    Code code;
};

// Indexed by the enum's value - 1; the order of the enum.
constexpr std::array<Row, 16> kTable = {{
    {Error::bad_request, "bad_request", 400, Code::invalid_argument},
    {Error::bad_parameter, "bad_parameter", 400, Code::invalid_argument},
    {Error::bad_cursor, "bad_cursor", 400, Code::invalid_argument},
    {Error::unauthenticated, "unauthenticated", 401, Code::invalid_argument},
    {Error::bad_credentials, "bad_credentials", 401, Code::invalid_argument},
    {Error::forbidden, "forbidden", 403, Code::invalid_argument},
    {Error::csrf, "csrf", 403, Code::invalid_argument},
    {Error::not_found, "not_found", 404, Code::not_found},
    {Error::method_not_allowed, "method_not_allowed", 405, Code::invalid_argument},
    {Error::conflict_changed, "conflict_changed", 409, Code::invalid_argument},
    {Error::body_too_large, "body_too_large", 413, Code::invalid_argument},
    {Error::unsupported_media_type, "unsupported_media_type", 415, Code::invalid_argument},
    {Error::locked_out, "locked_out", 429, Code::locked_out},
    {Error::rate_limited, "rate_limited", 429, Code::unsupported},
    {Error::internal, "internal", 500, Code::internal},
    {Error::unavailable, "unavailable", 503, Code::unsupported},
}};

constexpr bool table_in_enum_order() {
    for (std::size_t i = 0; i < kTable.size(); ++i)
        if (static_cast<std::size_t>(kTable[i].error) != i + 1) return false;
    return true;
}
static_assert(table_in_enum_order(), "kTable must list every coord::Error in enum order");
static_assert(static_cast<std::size_t>(Error::unavailable) == kTable.size(),
              "kTable must list every coord::Error");

const Row& row_of(Error e) noexcept {
    const auto i = static_cast<std::size_t>(e);
    return i >= 1 && i <= kTable.size() ? kTable[i - 1]
                                        : kTable[static_cast<std::size_t>(Error::internal) - 1];
}

constexpr auto make_error_list() {
    std::array<Error, kTable.size()> out{};
    for (std::size_t i = 0; i < kTable.size(); ++i)
        out[i] = kTable[i].error;
    return out;
}
constexpr std::array<Error, kTable.size()> kErrorList = make_error_list();

}  // namespace

std::span<const Error> all_errors() noexcept {
    return kErrorList;
}

std::string_view error_name(Error e) noexcept {
    return row_of(e).name;
}

int http_status(Error e) noexcept {
    return row_of(e).http_status;
}

Status error(Error e, std::string message) {
    return Status(row_of(e).code, std::move(message)).with_reason(reason(e));
}

std::optional<Error> error_of(const Status& status) noexcept {
    const Reason r = status.reason();
    if (r.domain != ReasonDomain::coord || r.value < 1 || r.value > kTable.size())
        return std::nullopt;
    return static_cast<Error>(r.value);
}

}  // namespace mentorsync::server::coord
