#include "core/stored_answer.h"

#include <msgpack.hpp>

#include <cstdint>
#include <exception>
#include <optional>

namespace mentorsync::server {

namespace {

std::optional<std::int64_t> integer(const msgpack::object& o) {
    if (o.type == msgpack::type::POSITIVE_INTEGER) {
        if (o.via.u64 > static_cast<std::uint64_t>(INT64_MAX)) return std::nullopt;
        return static_cast<std::int64_t>(o.via.u64);
    }
    if (o.type == msgpack::type::NEGATIVE_INTEGER) return o.via.i64;
    return std::nullopt;
}

std::optional<std::string> text(const msgpack::object& o) {
    if (o.type != msgpack::type::STR) return std::nullopt;
    return std::string(o.via.str.ptr, o.via.str.size);
}

// The encoding of builds before issue 15: nlohmann-json's msgpack of {"t", "r"}.
std::optional<wire::PushResponse> decode_legacy(std::string_view bytes) {
    msgpack::object_handle handle;
    std::size_t offset = 0;
    try {
        handle = msgpack::unpack(bytes.data(), bytes.size(), offset);
    } catch (const std::exception&) {
        return std::nullopt;
    }
    if (offset != bytes.size()) return std::nullopt;
    const msgpack::object& root = handle.get();
    if (root.type != msgpack::type::MAP) return std::nullopt;
    std::optional<std::int64_t> time;
    const msgpack::object* results = nullptr;
    for (std::uint32_t i = 0; i < root.via.map.size; ++i) {
        const msgpack::object_kv& kv = root.via.map.ptr[i];
        const auto key = text(kv.key);
        if (key == "t")
            time = integer(kv.val);
        else if (key == "r")
            results = &kv.val;
    }
    if (!time || results == nullptr || results->type != msgpack::type::ARRAY) return std::nullopt;
    wire::PushResponse out;
    out.server_time_ms = *time;
    for (std::uint32_t i = 0; i < results->via.array.size; ++i) {
        const msgpack::object& r = results->via.array.ptr[i];
        if (r.type != msgpack::type::ARRAY || r.via.array.size != 3) return std::nullopt;
        const auto kind = integer(r.via.array.ptr[0]);
        auto code = text(r.via.array.ptr[1]);
        auto message = text(r.via.array.ptr[2]);
        if (!kind || *kind < 0 || *kind > 2 || !code || !message) return std::nullopt;
        out.results.push_back(
            {static_cast<wire::PushResult::Kind>(*kind), std::move(*code), std::move(*message)});
    }
    return out;
}

}  // namespace

std::string encode_stored_answer(const wire::PushResponse& answer) {
    return wire::encode_push_response(answer);
}

Result<wire::PushResponse> decode_stored_answer(std::string_view bytes) {
    auto current = wire::decode_push_response(bytes);
    if (current.ok()) return current;
    if (auto legacy = decode_legacy(bytes)) return std::move(*legacy);
    return Status::corrupt("a stored push response does not decode");
}

}  // namespace mentorsync::server
