// Transaction encoding: round trips, compactness, and clear errors for hostile bytes.
#include <catch2/catch.hpp>

#include <msgpack.hpp>

#include "mentorsync/transaction.h"

using namespace mentorsync;

namespace {

Transaction sample() {
    Transaction t;
    t.stamp = {(std::uint64_t{1'795'392'000'000} << 16) | 3, Uuid::random()};
    Uuid row = Uuid::random();
    Stamp prev{(std::uint64_t{1'795'391'000'000} << 16), Uuid::random()};
    t.changes.push_back({"contacts", row, "notes", Value("Tikāmies pēc stundām"), prev, {}});
    t.changes.push_back({"contacts", row, "duration_min", Value(45), Stamp{}, {}});
    t.changes.push_back({"contacts",
                         row,
                         "topics",
                         Value(Value::List{"family", "learning"}),
                         prev,
                         {Stamp{5, Uuid::random()}}});
    t.changes.push_back({"absences", Uuid::random(), "_deleted", Value(true), Stamp{}, {}});
    t.changes.push_back({"contacts", row, "future_field", Value(2.5), Stamp{}, {}});
    t.changes.push_back({"contacts", row, "cleared", Value(), Stamp{}, {}});
    return t;
}

std::string pack(const auto& obj) {
    msgpack::sbuffer buf;
    msgpack::pack(buf, obj);
    return std::string(buf.data(), buf.size());
}

}  // namespace

TEST_CASE("a transaction survives encoding and decoding unchanged", "[codec]") {
    Transaction t = sample();
    auto decoded = decode_transaction(encode_transaction(t));
    REQUIRE(decoded.ok());
    CHECK(*decoded == t);
}

TEST_CASE("a record's creation costs a few bytes per field beyond its names and values",
          "[codec]") {
    Transaction t;
    t.stamp = {std::uint64_t{1'795'392'000'000} << 16, Uuid::random()};
    Uuid row = Uuid::random();
    std::size_t payload = 0;
    for (int i = 0; i < 10; ++i) {
        std::string field = "field" + std::to_string(i);
        std::string value(20, 'v');
        payload += field.size() + value.size();
        t.changes.push_back({"contacts", row, field, Value(value), Stamp{}, {}});
    }
    std::string bytes = encode_transaction(t);
    // Per change: array header, two string headers and a one-byte prev index.
    CHECK(bytes.size() - payload <= 10 * 4 + 60);
}

TEST_CASE("malformed transaction bytes are refused with a reason", "[codec]") {
    auto error = [](std::string_view bytes) {
        auto r = decode_transaction(bytes);
        REQUIRE_FALSE(r.ok());
        CHECK(r.status().code() == Code::invalid_argument);
        return r.status().message();
    };
    std::string good = encode_transaction(sample());

    CHECK(error("") == "transaction: is truncated");
    CHECK(error(good.substr(0, good.size() - 3)) == "transaction: is truncated");
    CHECK(error(good + "x") == "transaction: has trailing bytes after the msgpack value");
    CHECK(error(pack(42)) == "transaction: transaction is not an array");
    CHECK(error(pack(std::vector<int>{1, 2})) ==
          "transaction: transaction has 2 items, expected 5");
    // A value that is a map.
    msgpack::sbuffer buf;
    msgpack::packer<msgpack::sbuffer> pk(buf);
    pk.pack_array(5);
    pk.pack(1);
    pk.pack(std::uint64_t{99});
    pk.pack_bin(16);
    pk.pack_bin_body("0123456789abcdef", 16);
    pk.pack_array(1);
    pk.pack_array(3);
    pk.pack(std::string("contacts"));
    pk.pack_bin(16);
    pk.pack_bin_body("0123456789abcdef", 16);
    pk.pack_array(1);
    pk.pack_array(3);
    pk.pack(std::string("notes"));
    pk.pack_map(0);
    pk.pack(0);
    pk.pack_array(0);
    CHECK(error(std::string(buf.data(), buf.size())) ==
          "transaction: a value is a map; values are scalars or lists");
}

TEST_CASE("deeply nested and oversized input is refused before it is decoded", "[codec]") {
    std::string deep;
    for (int i = 0; i < 100'000; ++i)
        deep += '\x91';  // fixarray of 1, nested 100,000 deep
    deep += '\xc0';
    auto r = decode_transaction(deep);
    REQUIRE_FALSE(r.ok());
    CHECK(r.status().message() == "transaction: is nested deeper than 8 levels");

    DecodeLimits small;
    small.max_bytes = 16;
    auto big = decode_transaction(encode_transaction(sample()), small);
    REQUIRE_FALSE(big.ok());
    CHECK(big.status().message().find("more than the limit of 16") != std::string::npos);

    // A string header announcing 4 GiB with no body.
    std::string huge =
        "\x95\x01\x01\xc4\x10" + std::string(16, 'a') + "\x91\x93\xdb\xff\xff\xff\xff";
    auto h = decode_transaction(huge);
    REQUIRE_FALSE(h.ok());
    CHECK(h.status().code() == Code::invalid_argument);
}

TEST_CASE("uuids parse only in their canonical form", "[codec]") {
    Uuid u = Uuid::random();
    CHECK(Uuid::parse(u.to_string()) == u);
    CHECK((u.bytes[6] >> 4) == 4);
    CHECK(Uuid::parse("0F8FAD5B-D9CB-469F-A165-70867728950E").has_value());
    CHECK_FALSE(Uuid::parse("0f8fad5bd9cb469fa16570867728950e").has_value());
    CHECK_FALSE(Uuid::parse("0f8fad5b-d9cb-469f-a165-70867728950").has_value());
    CHECK_FALSE(Uuid::parse("0f8fad5b-d9cb-469f-a165-70867728950g").has_value());
    CHECK_FALSE(Uuid::parse("").has_value());
}
