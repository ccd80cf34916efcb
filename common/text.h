// Small text helpers shared by the engine, the client SDK and the server.
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

}  // namespace mentorsync::common
