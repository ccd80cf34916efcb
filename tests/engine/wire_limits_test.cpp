// The decoders' allocation bound (docs/protocol.md §3): a request body may hold at most one
// msgpack value per 2 bytes (plus 16), checked by a scan that builds nothing before the body is
// unpacked, so that unpacking costs at most a fixed multiple of the body's size. Answers are not
// held to it: a push answer is one byte per accepted transaction.
#include <string>

#include <catch2/catch.hpp>

#include "mentorsync/schema.h"
#include "mentorsync/wire.h"

using namespace mentorsync;

namespace {

// `arrays` arrays of 65,535 nils each, inside one array: one value per byte.
std::string nil_bomb(std::size_t arrays) {
    std::string b;
    b += '\xdc';  // array 16
    b += static_cast<char>(arrays >> 8);
    b += static_cast<char>(arrays & 0xff);
    for (std::size_t i = 0; i < arrays; ++i) {
        b += "\xdc\xff\xff";
        b.append(0xffff, '\xc0');
    }
    return b;
}

// A push request map whose txns value is `txns` (raw msgpack).
std::string push_with(const std::string& txns) {
    std::string b =
        "\x82\xa5"
        "batch\xc4\x10" +
        std::string(16, '\x07') + "\xa4txns";
    return b + txns;
}

std::vector<Transaction> lessons_only(std::size_t n) {
    std::vector<Transaction> out;
    const Uuid node = Uuid::random();
    for (std::size_t i = 0; i < n; ++i) {
        Transaction t;
        t.stamp = Stamp{(std::uint64_t{1795392000123} << 16) + i, node};
        Change c;
        c.collection = "absences";
        c.row = Uuid::random();
        c.field = "lessons";
        c.value = Value(std::int64_t{3});
        t.changes.push_back(c);
        out.push_back(std::move(t));
    }
    return out;
}

}  // namespace

TEST_CASE("a body of more values than one per two bytes is refused before it is unpacked",
          "[wire][limits]") {
    const std::string body = push_with(nil_bomb(3));
    auto r = wire::decode_push_request(Schema::programme(), body);
    REQUIRE_FALSE(r.ok());
    CHECK(r.status().code() == Code::invalid_argument);
    CHECK_THAT(r.status().message(), Catch::Contains("msgpack values"));
    CHECK_THAT(r.status().message(), Catch::Contains(std::to_string(body.size())));
    // It is a plain 400 for the server.
    CHECK(wire::error_reply_for(r.status()).http_status == 400);
    CHECK(wire::error_reply_for(r.status()).body.code == "bad_request");
    // The same bound holds for every body the decoders read.
    auto e = wire::decode_enroll_request(nil_bomb(1));
    REQUIRE_FALSE(e.ok());
    CHECK_THAT(e.status().message(), Catch::Contains("msgpack values"));
}

TEST_CASE("the densest real pushes stay far below the value bound", "[wire][limits]") {
    // One small integer per transaction: the fewest bytes per value a push can have, short
    // of hand-made bodies (a stamp, a row id and a field code come with every change).
    const auto txns = lessons_only(wire::kMaxTransactionsPerPush);
    const std::string body = wire::encode_push_request(Schema::programme(), Uuid::random(), txns);
    auto r = wire::decode_push_request(Schema::programme(), body);
    REQUIRE(r.ok());
    CHECK(r->txns.size() == txns.size());
    // Tiny bodies have room too: an empty map is one byte and one value.
    CHECK(wire::decode_pull_request(std::string("\x81\xa6"
                                                "cursor\xc4\x00",
                                                10))
              .ok());
}

TEST_CASE("nesting past the limit is still reported as too deep", "[wire][limits]") {
    const std::string body = std::string(40, '\x91') + "\xc0";
    auto r = wire::decode_enroll_request(body);
    REQUIRE_FALSE(r.ok());
    CHECK(wire::error_reply_for(r.status()).body.code == "too_deep");
}

TEST_CASE("push answers denser than the request bound decode at every size", "[wire][limits]") {
    // A push answer is one value and one byte per accepted transaction: at 200 (a tablet's
    // default batch) it holds more than one value per 2 bytes. Before answers were exempt, a
    // tablet that pushed more than about 55 transactions could not read the answer and resent
    // the same batch for ever.
    for (std::size_t n : {std::size_t{1}, std::size_t{58}, std::size_t{59}, std::size_t{200},
                          wire::kMaxTransactionsPerPush}) {
        INFO(n << " accepted transactions");
        wire::PushResponse answer;
        answer.server_time_ms = 1795392000123;
        answer.results.resize(n);  // accepted
        answer.results.back().kind = wire::PushResult::Kind::held;
        auto r = wire::decode_push_response(wire::encode_push_response(answer));
        REQUIRE(r.ok());
        CHECK(r->results.size() == n);
        CHECK(r->results.back().kind == wire::PushResult::Kind::held);
        CHECK(r->server_time_ms == answer.server_time_ms);
    }
    // A request body of one value per byte is still refused.
    CHECK_FALSE(wire::decode_enroll_request(nil_bomb(1)).ok());
}
