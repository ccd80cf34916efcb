// The msgpack request parsing and response encoding of the HTTP layer, without sockets.
#include <catch2/catch.hpp>

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
    auto r = parse_enroll(enroll_body());
    REQUIRE(r.ok());
    CHECK(r.value->code == "ABCD-EFGH");
    CHECK(r.value->label == "Ilze's tablet");
    CHECK(r.value->public_key[0] == 7);
}

TEST_CASE("request map errors name the key that is missing or mistyped", "[http]") {
    SECTION("missing key") {
        msgpack::sbuffer b;
        Packer pk(b);
        pk.pack_map(1);
        pack_str(pk, "code");
        pack_str(pk, "X");
        auto r = parse_enroll(to_string(b));
        REQUIRE_FALSE(r.ok());
        CHECK(r.error.http_status == 400);
        CHECK(r.error.code == "bad_request");
        CHECK_THAT(r.error.message, Catch::Contains("public_key"));
    }
    SECTION("wrong length of a binary") {
        auto r = parse_enroll(enroll_body("x", 31));
        REQUIRE_FALSE(r.ok());
        CHECK_THAT(r.error.message, Catch::Contains("public_key: is 31 bytes, expected 32"));
    }
    SECTION("label longer than 100 characters") {
        // Lead bytes without their continuation bytes: not UTF-8 at all.
        CHECK_FALSE(parse_enroll(enroll_body(std::string(10, '\xc4'))).ok());
        std::string label;
        for (int i = 0; i < 100; ++i)
            label += "\xc4\x81";  // 100 characters, 200 bytes
        CHECK(parse_enroll(enroll_body(label)).ok());
        auto r = parse_enroll(enroll_body(label + "a"));
        REQUIRE_FALSE(r.ok());
        CHECK_THAT(r.error.message, Catch::Contains("label"));
    }
    SECTION("a key given twice") {
        msgpack::sbuffer b;
        Packer pk(b);
        pk.pack_map(2);
        pack_str(pk, "cursor");
        pack_bin(pk, "");
        pack_str(pk, "cursor");
        pack_bin(pk, "x");
        auto r = parse_pull(to_string(b));
        REQUIRE_FALSE(r.ok());
        CHECK_THAT(r.error.message, Catch::Contains("'cursor' appears twice"));
    }
    SECTION("not a map") {
        auto r = parse_pull("\x90");
        REQUIRE_FALSE(r.ok());
        CHECK(r.error.code == "bad_request");
    }
}

TEST_CASE("msgpack limits give too_deep, string_too_long and bad_request", "[http]") {
    SECTION("16 levels are accepted, 17 are too deep") {
        auto ok = parse_pull(nested(16));
        CHECK(ok.error.code != "too_deep");  // fails later, for the missing cursor
        auto r = parse_pull(nested(17));
        REQUIRE_FALSE(r.ok());
        CHECK(r.error.code == "too_deep");
        CHECK(r.error.http_status == 400);
    }
    SECTION("a 65,536-byte string is accepted, one more byte is too long") {
        CHECK(parse_enroll(enroll_body(std::string(65536, 'a'))).error.code != "string_too_long");
        auto r = parse_enroll(enroll_body(std::string(65537, 'a')));
        REQUIRE_FALSE(r.ok());
        CHECK(r.error.code == "string_too_long");
    }
    SECTION("trailing bytes") {
        auto r = parse_enroll(enroll_body() + "\xc0");
        REQUIRE_FALSE(r.ok());
        CHECK(r.error.code == "bad_request");
        CHECK_THAT(r.error.message, Catch::Contains("trailing"));
    }
    SECTION("truncated and garbage bodies") {
        const std::string body = enroll_body();
        CHECK(parse_enroll(body.substr(0, body.size() - 3)).error.code == "bad_request");
        CHECK(parse_enroll("\xc1").error.code == "bad_request");
        CHECK(parse_enroll("").error.code == "bad_request");
    }
    SECTION("a count larger than the body is refused without allocating for it") {
        // array32 claiming 4 billion elements, in 6 bytes
        auto r = parse_pull(std::string("\xdd\xff\xff\xff\xff\xc0", 6));
        REQUIRE_FALSE(r.ok());
        CHECK(r.error.code == "bad_request");
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
    CHECK(parse_pull(body(std::nullopt)).value->limit == 500);
    CHECK(parse_pull(body(0)).value->limit == 1);
    CHECK(parse_pull(body(20)).value->limit == 20);
    CHECK(parse_pull(body(5000)).value->limit == 1000);
    CHECK(parse_pull(body(-1)).error.code == "bad_request");
    CHECK(parse_pull(body(std::nullopt, 1024)).ok());
    auto r = parse_pull(body(std::nullopt, 1025));
    REQUIRE_FALSE(r.ok());
    CHECK_THAT(r.error.message, Catch::Contains("cursor"));
}

TEST_CASE("the error body carries server_time_ms only when set", "[http]") {
    auto plain = decode(encode_error({400, "bad_request", "missing key \"x\"", std::nullopt}));
    CHECK(plain.get().via.map.size == 2);
    auto timed = decode(encode_error({401, "stale_timestamp", "clock is off", 1795392000123}));
    REQUIRE(timed.find("server_time_ms") != nullptr);
    CHECK(timed.find("server_time_ms")->as<std::uint64_t>() == 1795392000123u);
}
