// msgpack writing helpers shared by the storage codec (codec.cpp) and the wire codec
// (wire.cpp), which pack into different sinks. Internal to the engine.
#pragma once

#include <msgpack.hpp>

#include <cstdint>
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
            pk.pack_double(v.as_real());
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
