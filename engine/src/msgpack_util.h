// msgpack writing helpers shared by the storage codec (codec.cpp) and the wire codec
// (wire.cpp), which pack into different sinks. Internal to the engine.
#pragma once

#include <msgpack.hpp>

#include <cstdint>
#include <cstring>
#include <string_view>

#include "mentorsync/types.h"

namespace mentorsync::mp {

template <typename Packer>
void pack_str(Packer& pk, std::string_view s) {
    pk.pack_str(static_cast<std::uint32_t>(s.size()));
    pk.pack_str_body(s.data(), static_cast<std::uint32_t>(s.size()));
}

template <typename Packer>
void pack_bin(Packer& pk, std::string_view b) {
    pk.pack_bin(static_cast<std::uint32_t>(b.size()));
    pk.pack_bin_body(b.data(), static_cast<std::uint32_t>(b.size()));
}

// A float64 always, whatever its value. msgpack-cxx 4.1's pack_double() writes a double with
// no fraction as an integer (msgpack-c #1018): 2.0 would come back as the integer 2 (another
// kind of value, which a newer schema's number field would refuse), and a whole double of 2^63
// or more as a uint64 that the decoders refuse, so one such value would make a stored row or
// a page of history unreadable. Written here as msgpack's float 64 format: the 0xcb marker,
// then the IEEE 754 bits big-endian. pack_bin_body() appends bytes as they are.
template <typename Packer>
void pack_float64(Packer& pk, double d) {
    std::uint64_t bits = 0;
    std::memcpy(&bits, &d, sizeof bits);
    char out[9];
    out[0] = static_cast<char>(0xcb);
    for (int i = 0; i < 8; ++i)
        out[1 + i] = static_cast<char>(bits >> (56 - 8 * i));
    pk.pack_bin_body(out, sizeof out);
}

// A field value: nil, bool, int64 (shortest form), float64, str, or an array of values.
template <typename Packer>
void pack_value(Packer& pk, const Value& v) {
    switch (v.kind()) {
        case Value::Kind::null:
            pk.pack_nil();
            break;
        case Value::Kind::boolean:
            v.as_bool() ? pk.pack_true() : pk.pack_false();
            break;
        case Value::Kind::integer:
            pk.pack_int64(v.as_int());
            break;
        case Value::Kind::real:
            pack_float64(pk, v.as_real());
            break;
        case Value::Kind::string:
            pack_str(pk, v.as_string());
            break;
        case Value::Kind::list:
            pk.pack_array(static_cast<std::uint32_t>(v.as_list().size()));
            for (const auto& item : v.as_list())
                pack_value(pk, item);
            break;
    }
}

}  // namespace mentorsync::mp
