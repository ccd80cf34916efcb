// Byte encodings shared by the engine, the client SDK and the server: lower-case hex,
// base64url without padding (RFC 4648 section 5, the protocol's and the coordinator API's
// tokens) and big-endian 64-bit integers (associated data, cursors, conflict ids).
// Thread-safety: pure functions.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace mentorsync::common {

// Two lower-case hex digits per byte.
std::string hex_lower(std::string_view bytes);
void append_hex_lower(std::string& out, std::string_view bytes);
// The value of one hex digit (0-9, a-f, A-F), or -1 for any other character.
int hex_digit(char c) noexcept;

// base64url without padding.
std::string base64url_encode(std::string_view bytes);
// The length of base64url_encode() of `bytes` bytes.
inline constexpr std::size_t base64url_length(std::size_t bytes) noexcept {
    return (bytes * 4 + 2) / 3;
}
// The `bytes` bytes that `text` encodes, or nullopt unless `text` is exactly the canonical
// base64url text of that many bytes (the protocol's rule: one text per value).
std::optional<std::string> base64url_decode_exact(std::string_view text, std::size_t bytes);
// The bytes that `text` encodes, of any length; nullopt if it is not base64url without
// padding. The caller bounds the length of `text` and checks what it decodes to.
std::optional<std::string> base64url_decode(std::string_view text);

// Appends v as 8 bytes, most significant first.
void append_be64(std::string& out, std::uint64_t v);
// The integer in the first 8 bytes of `in` (most significant first); nullopt if `in` is
// shorter than 8 bytes.
std::optional<std::uint64_t> read_be64(std::string_view in) noexcept;

}  // namespace mentorsync::common
