#include "common/encoding.h"

#include <sodium.h>

namespace mentorsync::common {

namespace {
constexpr int kBase64url = sodium_base64_VARIANT_URLSAFE_NO_PADDING;
}

std::string hex_lower(std::string_view bytes) {
    std::string out;
    append_hex_lower(out, bytes);
    return out;
}

void append_hex_lower(std::string& out, std::string_view bytes) {
    const std::size_t start = out.size();
    out.resize(start + bytes.size() * 2 + 1);  // sodium_bin2hex writes a terminating NUL
    sodium_bin2hex(out.data() + start, bytes.size() * 2 + 1,
                   reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size());
    out.pop_back();
}

int hex_digit(char c) noexcept {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

std::string base64url_encode(std::string_view bytes) {
    std::string out(sodium_base64_ENCODED_LEN(bytes.size(), kBase64url), '\0');
    sodium_bin2base64(out.data(), out.size(), reinterpret_cast<const unsigned char*>(bytes.data()),
                      bytes.size(), kBase64url);
    out.pop_back();  // the terminating NUL
    return out;
}

std::optional<std::string> base64url_decode_exact(std::string_view text, std::size_t bytes) {
    if (text.size() != base64url_length(bytes)) return std::nullopt;
    std::string out(bytes, '\0');
    std::size_t len = 0;
    if (sodium_base642bin(reinterpret_cast<unsigned char*>(out.data()), out.size(), text.data(),
                          text.size(), nullptr, &len, nullptr, kBase64url) != 0 ||
        len != bytes)
        return std::nullopt;
    // Canonical form only: the unused low bits of the last digit are 0.
    if (base64url_encode(out) != text) return std::nullopt;
    return out;
}

std::optional<std::string> base64url_decode(std::string_view text) {
    std::string out(text.size(), '\0');  // never longer than its text
    std::size_t len = 0;
    if (sodium_base642bin(reinterpret_cast<unsigned char*>(out.data()), out.size(), text.data(),
                          text.size(), nullptr, &len, nullptr, kBase64url) != 0)
        return std::nullopt;
    out.resize(len);
    return out;
}

void append_be64(std::string& out, std::uint64_t v) {
    for (int i = 7; i >= 0; --i)
        out.push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
}

std::optional<std::uint64_t> read_be64(std::string_view in) noexcept {
    if (in.size() < 8) return std::nullopt;
    std::uint64_t v = 0;
    for (std::size_t i = 0; i < 8; ++i)
        v = (v << 8) | static_cast<unsigned char>(in[i]);
    return v;
}

}  // namespace mentorsync::common
