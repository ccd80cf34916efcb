// The request bodies as the handlers decode them (the wire codec, with the answer a server gives
// for its errors), the pull limit clamp and the error body, without sockets.
#include <catch2/catch.hpp>

#include "http/handlers.h"
#include "http/msgpack_io.h"
#include "http_test_support.h"
#include "mentorsync/wire.h"

using namespace mstest;
using namespace mentorsync::server::http;

namespace {

std::string enroll_body(std::string_view label = "Ilze's tablet", std::size_t key_bytes = 32) {
    msgpack::sbuffer b;
    Packer pk(b);
    pk.pack_map(4);
    pack_str(pk, "code");
    pack_str(pk, "ABCD-EFGH");
    pack_str(pk, "public_key");
    pack_bin(pk, std::string(key_bytes, '\x07'));
    pack_str(pk, "node");
    pack_bin(pk, Uuid::random().raw());
    pack_str(pk, "label");
    pack_str(pk, label);
    return to_string(b);
}

// A map {"a": [[[...nil...]]]} whose nesting, counting the map, is `levels`.
std::string nested(int levels) {
    std::string s =
        "\x81\xa1"
        "a";
    for (int i = 0; i < levels - 1; ++i)
        s.push_back('\x91');
    s.push_back('\xc0');
    return s;
}

}  // namespace

TEST_CASE("a well-formed enroll body parses into the service's request", "[http]") {
    auto r = wire::decode_enroll_request(enroll_body());
    REQUIRE(r.ok());
    CHECK(r->code == "ABCD-EFGH");
    CHECK(r->label == "Ilze's tablet");
    CHECK(r->public_key[0] == 7);
}

TEST_CASE("request map errors name the key that is missing or mistyped", "[http]") {
    SECTION("missing key") {
        msgpack::sbuffer b;
        Packer pk(b);
        pk.pack_map(1);
        pack_str(pk, "code");
        pack_str(pk, "X");
        auto r = wire::decode_enroll_request(to_string(b));
        REQUIRE_FALSE(r.ok());
        CHECK(reply_status(r) == 400);
        CHECK(reply_code(r) == "bad_request");
        CHECK_THAT(r.status().message(), Catch::Contains("public_key"));
    }
    SECTION("wrong length of a binary") {
        auto r = wire::decode_enroll_request(enroll_body("x", 31));
        REQUIRE_FALSE(r.ok());
        CHECK_THAT(r.status().message(), Catch::Contains("public_key: is 31 bytes, expected 32"));
    }
    SECTION("label longer than 100 characters") {
        // Lead bytes without their continuation bytes: not UTF-8 at all.
        CHECK_FALSE(wire::decode_enroll_request(enroll_body(std::string(10, '\xc4'))).ok());
        std::string label;
        for (int i = 0; i < 100; ++i)
            label += "\xc4\x81";  // 100 characters, 200 bytes
        CHECK(wire::decode_enroll_request(enroll_body(label)).ok());
        auto r = wire::decode_enroll_request(enroll_body(label + "a"));
        REQUIRE_FALSE(r.ok());
        CHECK_THAT(r.status().message(), Catch::Contains("label"));
    }
    SECTION("a key given twice") {
        msgpack::sbuffer b;
        Packer pk(b);
        pk.pack_map(2);
        pack_str(pk, "cursor");
        pack_bin(pk, "");
        pack_str(pk, "cursor");
        pack_bin(pk, "x");
        auto r = wire::decode_pull_request(to_string(b));
        REQUIRE_FALSE(r.ok());
        CHECK_THAT(r.status().message(), Catch::Contains("'cursor' appears twice"));
    }
    SECTION("not a map") {
        auto r = wire::decode_pull_request("\x90");
        REQUIRE_FALSE(r.ok());
        CHECK(reply_code(r) == "bad_request");
    }
}

TEST_CASE("msgpack limits give too_deep, string_too_long and bad_request", "[http]") {
    SECTION("16 levels are accepted, 17 are too deep") {
        auto ok = wire::decode_pull_request(nested(16));
        CHECK(reply_code(ok) != "too_deep");  // fails later, for the missing cursor
        auto r = wire::decode_pull_request(nested(17));
        REQUIRE_FALSE(r.ok());
        CHECK(reply_code(r) == "too_deep");
        CHECK(reply_status(r) == 400);
    }
    SECTION("a 65,536-byte string is accepted, one more byte is too long") {
        CHECK(reply_code(wire::decode_enroll_request(enroll_body(std::string(65536, 'a')))) !=
              "string_too_long");
        auto r = wire::decode_enroll_request(enroll_body(std::string(65537, 'a')));
        REQUIRE_FALSE(r.ok());
        CHECK(reply_code(r) == "string_too_long");
    }
    SECTION("trailing bytes") {
        auto r = wire::decode_enroll_request(enroll_body() + "\xc0");
        REQUIRE_FALSE(r.ok());
        CHECK(reply_code(r) == "bad_request");
        CHECK_THAT(r.status().message(), Catch::Contains("trailing"));
    }
    SECTION("truncated and garbage bodies") {
        const std::string body = enroll_body();
        CHECK(reply_code(wire::decode_enroll_request(body.substr(0, body.size() - 3))) ==
              "bad_request");
        CHECK(reply_code(wire::decode_enroll_request("\xc1")) == "bad_request");
        CHECK(reply_code(wire::decode_enroll_request("")) == "bad_request");
    }
    SECTION("a count larger than the body is refused without allocating for it") {
        // array32 claiming 4 billion elements, in 6 bytes
        auto r = wire::decode_pull_request(std::string("\xdd\xff\xff\xff\xff\xc0", 6));
        REQUIRE_FALSE(r.ok());
        CHECK(reply_code(r) == "bad_request");
    }
}

TEST_CASE("pull limits are clamped and cursors are bounded", "[http]") {
    const auto body = [](std::optional<std::int64_t> limit, std::size_t cursor_bytes = 4) {
        msgpack::sbuffer b;
        Packer pk(b);
        pk.pack_map(limit ? 2 : 1);
        pack_str(pk, "cursor");
        pack_bin(pk, std::string(cursor_bytes, 'c'));
        if (limit) {
            pack_str(pk, "limit");
            pk.pack(*limit);
        }
        return to_string(b);
    };
    CHECK(pull_limit(wire::decode_pull_request(body(std::nullopt))->limit) == 500);
    CHECK(pull_limit(wire::decode_pull_request(body(0))->limit) == 1);
    CHECK(pull_limit(wire::decode_pull_request(body(20))->limit) == 20);
    CHECK(pull_limit(wire::decode_pull_request(body(5000))->limit) == 1000);
    CHECK(reply_code(wire::decode_pull_request(body(-1))) == "bad_request");
    CHECK(wire::decode_pull_request(body(std::nullopt, 1024)).ok());
    auto r = wire::decode_pull_request(body(std::nullopt, 1025));
    REQUIRE_FALSE(r.ok());
    CHECK_THAT(r.status().message(), Catch::Contains("cursor"));
}

TEST_CASE("the error body carries server_time_ms only when set", "[http]") {
    auto plain = decode(error_response(wire::Error::bad_request, "missing key \"x\"").body);
    CHECK(plain.get().via.map.size == 2);
    auto timed =
        decode(error_response(wire::Error::stale_timestamp, "clock is off", 1795392000123).body);
    REQUIRE(timed.find("server_time_ms") != nullptr);
    CHECK(timed.find("server_time_ms")->as<std::uint64_t>() == 1795392000123u);
}
