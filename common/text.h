// Small text helpers shared by the engine, the client SDK and the server: UTF-8 length, ASCII
// case and blank handling, excerpts of untrusted text for messages, JSON string literals.
// Thread-safety: pure functions.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace mentorsync::common {

// Number of code points in valid UTF-8 (overlongs, surrogates and > U+10FFFF rejected);
// nullopt if the bytes are not valid UTF-8.
std::optional<std::size_t> utf8_length(std::string_view s) noexcept;

// True if s holds only spaces, tabs and line breaks (or nothing).
bool is_blank(std::string_view s) noexcept;

// At most 40 printable ASCII characters of untrusted text, for error messages; anything else
// becomes '?'. Keeps messages short and free of control characters.
std::string safe_excerpt(std::string_view s);

// Whether a and b are equal when ASCII letters are compared without case (HTTP header names
// and tokens). Bytes outside A-Z/a-z must match exactly; no locale is consulted.
bool iequals_ascii(std::string_view a, std::string_view b) noexcept;

// s with A-Z turned into a-z; every other byte unchanged.
std::string to_lower_ascii(std::string_view s);

// The characters trim() removes by default: HTTP's optional whitespace (RFC 9110 §5.6.3).
inline constexpr std::string_view kSpaceAndTab = " \t";
// std::isspace's set in the C locale: space, \t, \n, \v, \f, \r.
inline constexpr std::string_view kAsciiWhitespace = " \t\n\v\f\r";

// s without leading and trailing bytes that occur in `chars`. A view into s.
std::string_view trim(std::string_view s, std::string_view chars = kSpaceAndTab) noexcept;

// Appends `text` as a JSON string literal, quotes included, exactly as nlohmann::json's
// dump() writes it with error_handler_t::replace and ensure_ascii off: '"' and '\' escaped,
// \b \f \n \r \t by name, other bytes below 0x20 as \u00xx, everything else as is; each
// maximal ill-formed UTF-8 subsequence becomes one U+FFFD, so the line is always valid JSON.
void append_json_string(std::string& out, std::string_view text);

}  // namespace mentorsync::common
