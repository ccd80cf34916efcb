#include "mentorsync/types.h"

#include <sodium.h>

#include <cstdio>

#include "common/encoding.h"
#include "common/text.h"

namespace mentorsync {

Uuid Uuid::random() {
    Uuid u;
    randombytes_buf(u.bytes.data(), u.bytes.size());
    u.bytes[6] = static_cast<std::uint8_t>((u.bytes[6] & 0x0F) | 0x40);
    u.bytes[8] = static_cast<std::uint8_t>((u.bytes[8] & 0x3F) | 0x80);
    return u;
}

std::optional<Uuid> Uuid::parse(std::string_view text) {
    if (text.size() != 36) return std::nullopt;
    Uuid u;
    std::size_t j = 0;
    for (std::size_t i = 0; i < 36;) {
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (text[i] != '-') return std::nullopt;
            ++i;
            continue;
        }
        int hi = common::hex_digit(text[i]);
        int lo = common::hex_digit(text[i + 1]);
        if (hi < 0 || lo < 0) return std::nullopt;
        u.bytes[j++] = static_cast<std::uint8_t>(hi * 16 + lo);
        i += 2;
    }
    return u;
}

std::optional<Uuid> Uuid::from_bytes(std::string_view raw) {
    if (raw.size() != 16) return std::nullopt;
    Uuid u;
    for (std::size_t i = 0; i < 16; ++i)
        u.bytes[i] = static_cast<std::uint8_t>(raw[i]);
    return u;
}

bool Uuid::is_nil() const noexcept {
    for (auto b : bytes)
        if (b != 0) return false;
    return true;
}

std::string Uuid::to_string() const {
    const std::string_view b = raw();
    std::string s;
    s.reserve(36);
    common::append_hex_lower(s, b.substr(0, 4));
    for (std::size_t at : {4, 6, 8, 10}) {
        s += '-';
        common::append_hex_lower(s, b.substr(at, at == 10 ? 6 : 2));
    }
    return s;
}

std::string Stamp::to_string() const {
    char buf[24];
    std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(hlc));
    return std::string(buf) + "@" + node.to_string();
}

std::string Value::to_display() const {
    switch (kind()) {
        case Kind::null:
            return "null";
        case Kind::boolean:
            return as_bool() ? "true" : "false";
        case Kind::integer:
            return std::to_string(as_int());
        case Kind::real: {
            char buf[32];
            std::snprintf(buf, sizeof buf, "%.17g", as_real());
            return buf;
        }
        case Kind::string: {
            std::string out;
            common::append_json_string(out, as_string());
            return out;
        }
        case Kind::list: {
            std::string out = "[";
            bool first = true;
            for (const auto& v : as_list()) {
                if (!first) out += ", ";
                first = false;
                out += v.to_display();
            }
            return out + "]";
        }
    }
    return "?";
}

}  // namespace mentorsync
