// The sync protocol's wire encoding (docs/protocol.md sections 2 to 8) and request signing.
#include <catch2/catch.hpp>

#include <msgpack.hpp>

#include <algorithm>
#include <cctype>
#include <random>

#include "mentorsync/wire.h"
#include "test_support.h"

using namespace mentorsync;

namespace {

const Schema& schema() {
    return Schema::programme();
}

Uuid uuid_n(std::uint8_t n) {
    Uuid u;
    u.bytes.fill(n);
    return u;
}

Change change(std::string collection, const Uuid& row, std::string field, Value v, Stamp prev = {},
              std::vector<Stamp> resolves = {}) {
    return {std::move(collection), row, std::move(field), std::move(v), prev, std::move(resolves)};
}

// Builds msgpack bytes by hand, for inputs the encoder would never produce.
struct Bytes {
    msgpack::sbuffer buf;
    msgpack::packer<msgpack::sbuffer> pk{buf};
    Bytes& arr(std::uint32_t n) {
        pk.pack_array(n);
        return *this;
    }
    Bytes& map(std::uint32_t n) {
        pk.pack_map(n);
        return *this;
    }
    Bytes& u(std::uint64_t v) {
        pk.pack_uint64(v);
        return *this;
    }
    Bytes& i(std::int64_t v) {
        pk.pack_int64(v);
        return *this;
    }
    Bytes& s(std::string_view v) {
        pk.pack_str(static_cast<std::uint32_t>(v.size()));
        pk.pack_str_body(v.data(), static_cast<std::uint32_t>(v.size()));
        return *this;
    }
    Bytes& b(std::string_view v) {
        pk.pack_bin(static_cast<std::uint32_t>(v.size()));
        pk.pack_bin_body(v.data(), static_cast<std::uint32_t>(v.size()));
        return *this;
    }
    Bytes& nil() {
        pk.pack_nil();
        return *this;
    }
    std::string str() const { return std::string(buf.data(), buf.size()); }
};

// A txns value with one node and one transaction whose single group is [collection, row,
// changes]; `group` writes the group's items.
template <typename F>
std::string one_group(F&& group, std::uint64_t node_index = 0) {
    Bytes x;
    x.arr(2).arr(1).b(uuid_n(7).raw()).arr(1).arr(5).u(1'000'000).u(node_index);
    group(x);  // collection, row, changes
    return x.str();
}

// Expects decode_transactions to fail with invalid_argument and a message containing `phrase`.
void expect_bad(std::string_view bytes, std::string_view phrase) {
    auto r = wire::decode_transactions(schema(), bytes);
    REQUIRE_FALSE(r.ok());
    INFO(r.status().message());
    CHECK(r.status().code() == Code::invalid_argument);
    CHECK(r.status().message().find(phrase) != std::string::npos);
}

}  // namespace

TEST_CASE("every value kind and seen form survives a round trip", "[wire]") {
    const Uuid a = Uuid::random(), b = Uuid::random(), row = Uuid::random();
    Transaction t1;
    t1.stamp = {117662810120060933ull, a};
    t1.changes = {
        change("contacts", row, "learner_id", Value(Uuid::random().to_string())),
        change("contacts", row, "duration_min", Value(45), Stamp{5, b}),
        change("contacts", row, "risk_flag", Value(true), Stamp{6, a}, {Stamp{7, b}}),
        change("contacts", row, "notes", Value("Ēriks, 12 g. — šķiršanās"), {}, {Stamp{3, b}}),
        change("contacts", row, "topics", Value(Value::List{"family", "health"})),
        change("contacts", row, "next_steps", Value()),
        change("contacts", row, std::string(kDeletedField), Value(false)),
    };
    Transaction t2;
    t2.stamp = {117662810120060999ull, b};
    const Uuid other = Uuid::random();
    t2.changes = {
        change("absences", other, "lessons", Value(std::int64_t{-9'223'372'036'854'775'807 - 1})),
        change("absences", other, "mood", Value(std::int64_t{9'223'372'036'854'775'807})),
        change("surveys", other, "score", Value(3.25)),
        change("surveys", other, "nested",
               Value(Value::List{Value(), Value(false), Value(-1), Value(0.5), Value("x"),
                                 Value(Value::List{}), Value(Value::List{Value(1)})})),
        change("learners", row, "grade", Value(8)),
    };
    std::vector<Transaction> txns{t1, t2};
    auto bytes = wire::encode_transactions(schema(), txns);
    auto back = wire::decode_transactions(schema(), bytes);
    INFO((back.ok() ? "" : back.status().to_string()));
    REQUIRE(back.ok());
    CHECK(*back == txns);

    // An empty list of transactions is a valid txns value too (an empty pull page).
    auto empty = wire::decode_transactions(schema(), wire::encode_transactions(schema(), {}));
    REQUIRE(empty.ok());
    CHECK(empty->empty());
}

TEST_CASE("known collections and fields travel as numbers, unknown ones as kept names", "[wire]") {
    const Uuid node = uuid_n(1), row = uuid_n(2);
    Transaction t;
    t.stamp = {1'000, node};
    t.changes = {change("contacts", row, "duration_min", Value(60)),
                 change("contacts", row, "mood", Value("calm")),
                 change("contacts", row, std::string(kDeletedField), Value(true)),
                 change("surveys", row, "score", Value(4))};
    auto bytes = wire::encode_transactions(schema(), std::span(&t, 1));
    auto oh = msgpack::unpack(bytes.data(), bytes.size());
    // [hlc, node, 2, row, changes, "surveys", row, changes]
    const auto& txn = oh.get().via.array.ptr[1].via.array.ptr[0].via.array;
    REQUIRE(txn.size == 8);
    CHECK(txn.ptr[2].type == msgpack::type::POSITIVE_INTEGER);
    CHECK(txn.ptr[2].via.u64 == 2);  // contacts
    const auto& ch = txn.ptr[4].via.array;
    REQUIRE(ch.size == 8);          // 2 items for the numbered first write, 3 for each name
    CHECK(ch.ptr[0].via.u64 == 6);  // duration_min (3), a first write: 2 x 3
    CHECK(ch.ptr[2].as<std::string>() == "mood");
    CHECK(ch.ptr[3].as<std::string>() == "calm");
    CHECK(ch.ptr[4].via.u64 == 0);                     // a name is always followed by seen
    CHECK(ch.ptr[5].as<std::string>() == "_deleted");  // always a string
    CHECK(txn.ptr[5].as<std::string>() == "surveys");
    CHECK(txn.ptr[7].via.array.ptr[0].as<std::string>() == "score");

    auto back = wire::decode_transactions(schema(), bytes);
    REQUIRE(back.ok());
    CHECK(back->at(0) == t);

    // A known name sent as a string is read as that name.
    auto named = one_group(
        [&](Bytes& x) { x.s("contacts").b(row.raw()).arr(3).s("duration_min").u(60).u(0); });
    auto r = wire::decode_transactions(schema(), named);
    REQUIRE(r.ok());
    CHECK(r->at(0).changes.at(0).collection == "contacts");
    CHECK(r->at(0).changes.at(0).field == "duration_min");
}

TEST_CASE("the documented contact example encodes byte for byte", "[wire]") {
    const Uuid node = uuid_n(0x11), row = uuid_n(0x22), learner = uuid_n(0x33);
    Transaction t;
    t.stamp = {0x19d4000000000000ull, node};
    t.changes = {change("contacts", row, "learner_id", Value(learner.to_string())),
                 change("contacts", row, "starts_at", Value("2026-11-10T16:30")),
                 change("contacts", row, "duration_min", Value(60))};
    Bytes want;
    want.arr(2).arr(1).b(node.raw()).arr(1).arr(5).u(t.stamp.hlc).u(0);
    want.u(2).b(row.raw()).arr(6);
    want.u(0).s(learner.to_string()).u(4).s("2026-11-10T16:30").u(6).u(60);
    CHECK(wire::encode_transactions(schema(), std::span(&t, 1)) == want.str());
}

TEST_CASE("a first write of a numbered field costs its value plus one byte", "[wire]") {
    const Uuid node = uuid_n(1), row = uuid_n(2);
    Transaction t;
    t.stamp = {42, node};
    t.changes = {change("absences", row, "learner_id", Value(Uuid::random().to_string()))};
    auto size = [&] { return wire::encode_transactions(schema(), std::span(&t, 1)).size(); };
    auto value_bytes = [](const Value& v) {
        Bytes x;
        if (v.is_string())
            x.s(v.as_string());
        else
            x.i(v.as_int());
        return x.str().size();
    };
    for (const Value& v : {Value(3), Value("2026-11-23"), Value("unjustified")}) {
        const std::size_t before = size();
        static const char* const fields[] = {"lessons", "date", "status"};
        t.changes.push_back(change("absences", row, fields[t.changes.size() - 1], v));
        CHECK(size() - before == value_bytes(v) + 1);
    }
}

TEST_CASE("malformed txns are refused with a message naming what is wrong", "[wire]") {
    const Uuid row = uuid_n(2);
    Transaction t;
    t.stamp = {77, uuid_n(1)};
    t.changes = {change("absences", row, "lessons", Value(3))};
    const std::string good = wire::encode_transactions(schema(), std::span(&t, 1));
    REQUIRE(wire::decode_transactions(schema(), good).ok());

    SECTION("empty, truncated, trailing bytes, not msgpack") {
        expect_bad("", "is empty");
        for (std::size_t n = 1; n < good.size(); ++n)
            expect_bad(good.substr(0, n), "is truncated");
        expect_bad(good + '\xc0', "1 trailing bytes");
        expect_bad("\xc1", "is not valid msgpack");
        expect_bad("\xd4\x01\x02", "extension type");
    }
    SECTION("wrong types") {
        expect_bad(Bytes().map(0).str(), "txns: is a map, expected an array");
        expect_bad(Bytes().arr(1).arr(0).str(), "txns: has 1 items, expected 2");
        expect_bad(Bytes().arr(2).arr(1).s("node").arr(0).str(),
                   "txns.nodes[0]: is a string, expected 16 bytes of binary");
        expect_bad(Bytes().arr(2).arr(1).b("short").arr(0).str(),
                   "txns.nodes[0]: is 5 bytes of binary, expected 16");
        Bytes hlc;
        hlc.arr(2).arr(1).b(uuid_n(1).raw()).arr(1).arr(5).s("77").u(0).u(3).b(row.raw());
        hlc.arr(2).u(4).u(3);
        expect_bad(hlc.str(), "txns.items[0].hlc: is a string, expected an unsigned integer");
        Bytes neg;
        neg.arr(2).arr(1).b(uuid_n(1).raw()).arr(1).arr(5).u(77).i(-1).u(3).b(row.raw());
        neg.arr(2).u(4).u(3);
        expect_bad(neg.str(), "txns.items[0].node: is a negative integer");
        expect_bad(one_group([&](Bytes& x) { x.u(3).b("0123456789abcde").arr(0); }),
                   "groups[0].row: is 15 bytes of binary, expected 16");
        expect_bad(one_group([&](Bytes& x) { x.nil().b(row.raw()).arr(0); }),
                   "is nil, expected a collection number or name");
        expect_bad(one_group([&](Bytes& x) { x.u(3).b(row.raw()).arr(3).nil().u(1).u(0); }),
                   "changes[0].field: is nil, expected a field code or name");
        expect_bad(one_group([&](Bytes& x) { x.u(3).b(row.raw()).arr(2).u(4).map(0); }),
                   "a value is a map");
        expect_bad(one_group([&](Bytes& x) { x.u(3).b(row.raw()).arr(2).u(4).b("xx"); }),
                   "a value is binary");
        expect_bad(one_group([&](Bytes& x) { x.u(3).b(row.raw()).arr(2).u(4).u(1ull << 63); }),
                   "larger than 2^63-1");
        expect_bad(one_group([&](Bytes& x) { x.u(3).b(row.raw()).arr(3).u(5).u(1).s("0"); }),
                   "seen: is a string, expected 0 or an array");
        expect_bad(one_group([&](Bytes& x) { x.s("").b(row.raw()).arr(2).u(4).u(1); }),
                   "collection name is empty");
        expect_bad(one_group([&](Bytes& x) { x.u(3).b(row.raw()).arr(3).s("").u(1).u(0); }),
                   "field name is empty");
    }
    SECTION("shapes") {
        Bytes too_short;
        too_short.arr(2).arr(1).b(uuid_n(1).raw()).arr(1).arr(1).u(77);
        expect_bad(too_short.str(), "txns.items[0]: has 1 items, expected at least 2");
        Bytes half_group;
        half_group.arr(2).arr(1).b(uuid_n(1).raw()).arr(1).arr(6).u(77).u(0);
        half_group.u(3).b(row.raw()).arr(2).u(4).u(3).u(3);
        expect_bad(half_group.str(), "txns.items[0]: has 6 items, not hlc, node and whole");
        // A change with a seen needs three items, a first write two.
        expect_bad(one_group([&](Bytes& x) { x.u(3).b(row.raw()).arr(4).u(5).u(1).u(0).u(5); }),
                   "changes: ends inside change 1 (expected its value and seen)");
        expect_bad(one_group([&](Bytes& x) { x.u(3).b(row.raw()).arr(3).u(4).u(1).u(4); }),
                   "changes: ends inside change 1 (expected its value)");
        // A named field is always followed by its seen.
        expect_bad(one_group([&](Bytes& x) { x.u(3).b(row.raw()).arr(2).s("mood").u(1); }),
                   "changes: ends inside change 0 (expected its value and seen)");
    }
    SECTION("indexes out of range") {
        expect_bad(one_group([&](Bytes& x) { x.u(3).b(row.raw()).arr(2).u(4).u(1); }, 1),
                   "txns.items[0].node: node index 1 is out of range (the node table has 1");
        expect_bad(
            one_group([&](Bytes& x) { x.u(3).b(row.raw()).arr(3).u(5).u(1).arr(2).u(4).u(9); }),
            "seen[0].node: node index 4 is out of range");
        expect_bad(one_group([&](Bytes& x) { x.u(99).b(row.raw()).arr(2).u(4).u(1); }),
                   "collection number 99 is out of range (schema version 1 has");
        expect_bad(one_group([&](Bytes& x) { x.u(3).b(row.raw()).arr(2).u(198).u(1); }),
                   "field number 99 is out of range (absences has 7 fields)");
        expect_bad(one_group([&](Bytes& x) { x.s("surveys").b(row.raw()).arr(2).u(0).u(1); }),
                   "field number 0 given for a collection this schema does not know");
    }
    SECTION("seen of the wrong length or number") {
        expect_bad(one_group([&](Bytes& x) {
                       x.u(3).b(row.raw()).arr(3).u(5).u(1).arr(3).u(0).u(5).u(0);
                   }),
                   "seen: has 3 items; expected a positive even number");
        expect_bad(one_group([&](Bytes& x) { x.u(3).b(row.raw()).arr(3).u(5).u(1).arr(0); }),
                   "seen: has 0 items");
        expect_bad(one_group([&](Bytes& x) { x.u(3).b(row.raw()).arr(3).u(5).u(1).u(5); }),
                   "seen: is the number 5; the only number allowed is 0");
    }
    SECTION("too deep, too long, too many") {
        Transaction deep = t;
        Value v(1);
        for (int i = 0; i < 14; ++i)  // txns, items, txn and changes hold it: 18 levels
            v = Value(Value::List{v});
        deep.changes[0].value = v;
        auto deep_bytes = wire::encode_transactions(schema(), std::span(&deep, 1));
        expect_bad(deep_bytes, "msgpack is nested deeper than 16 levels");
        auto deep_err = wire::decode_transactions(schema(), deep_bytes).status();
        CHECK(wire::error_reply_for(deep_err).body.code == "too_deep");
        CHECK(wire::error_reply_for(deep_err).http_status == 400);

        Transaction longer = t;
        longer.changes[0].value = Value(std::string(wire::kMaxStringBytes + 1, 'a'));
        auto long_bytes = wire::encode_transactions(schema(), std::span(&longer, 1));
        expect_bad(long_bytes, "a string is longer than the limit of 65536 bytes");
        CHECK(wire::error_reply_for(wire::decode_transactions(schema(), long_bytes).status())
                  .body.code == "string_too_long");
        longer.changes[0].value = Value(std::string(wire::kMaxStringBytes, 'a'));
        CHECK(wire::decode_transactions(schema(),
                                        wire::encode_transactions(schema(), std::span(&longer, 1)))
                  .ok());

        std::vector<Transaction> many(wire::kMaxTransactionsPerPush + 1, t);
        for (std::size_t i = 0; i < many.size(); ++i)
            many[i].stamp.hlc = 100 + i;
        auto many_bytes = wire::encode_transactions(schema(), many);
        expect_bad(many_bytes, "txns.items: has 1001 transactions, more than the limit of 1000");
        auto many_reply =
            wire::error_reply_for(wire::decode_transactions(schema(), many_bytes).status());
        CHECK(many_reply.http_status == 413);
        CHECK(many_reply.body.code == "too_many_transactions");
        many.pop_back();
        CHECK(wire::decode_transactions(schema(), wire::encode_transactions(schema(), many)).ok());

        Transaction wide = t;
        wide.changes.clear();
        for (std::size_t i = 0; i <= wire::kMaxChangesPerTransaction; ++i)
            wide.changes.push_back(change("absences", row, "f" + std::to_string(i), Value(1)));
        expect_bad(wire::encode_transactions(schema(), std::span(&wide, 1)),
                   "txns.items[0]: has more than 1000 changes");
        wide.changes.pop_back();
        CHECK(wire::decode_transactions(schema(),
                                        wire::encode_transactions(schema(), std::span(&wide, 1)))
                  .ok());

        std::string huge(wire::kMaxBodyBytes + 1, '\0');
        expect_bad(huge, "bytes, more than the body limit of 4194304");
        auto huge_reply = wire::error_reply_for(wire::decode_transactions(schema(), huge).status());
        CHECK(huge_reply.http_status == 413);
        CHECK(huge_reply.body.code == "body_too_large");
    }
}

TEST_CASE("no byte string crashes the decoders", "[wire]") {
    Transaction t;
    t.stamp = {77, uuid_n(1)};
    t.changes = {change("absences", uuid_n(2), "lessons", Value(3), Stamp{5, uuid_n(3)},
                        {Stamp{6, uuid_n(4)}}),
                 change("surveys", uuid_n(2), "x", Value(Value::List{"a", 1, 2.5}))};
    wire::PullResponse pr;
    pr.txns = {t};
    pr.purge = {uuid_n(9)};
    pr.cursor = "c";
    const std::vector<std::string> seeds = {
        wire::encode_transactions(schema(), std::span(&t, 1)),
        wire::encode_push_request(schema(), uuid_n(5), std::span(&t, 1)),
        wire::encode_pull_response(schema(), pr),
        wire::encode_push_response({{{wire::PushResult::Kind::rejected, "invalid", "m"}}, 5}),
        wire::encode_error({"bad_request", "m", 5}),
    };
    std::mt19937 rng(20261123);
    for (int i = 0; i < 3000; ++i) {
        std::string s = seeds[static_cast<std::size_t>(i) % seeds.size()];
        const int edits = 1 + static_cast<int>(rng() % 4);
        for (int e = 0; e < edits && !s.empty(); ++e) {
            const std::size_t at = rng() % s.size();
            switch (rng() % 3) {
                case 0:
                    s[at] = static_cast<char>(s[at] ^ (1 << (rng() % 8)));
                    break;
                case 1:
                    s.erase(at, 1 + rng() % 3);
                    break;
                default:
                    s.insert(at, 1, static_cast<char>(rng()));
            }
        }
        for (auto code :
             {wire::decode_transactions(schema(), s).status().code(),
              wire::decode_push_request(schema(), s).status().code(),
              wire::decode_pull_response(schema(), s).status().code(),
              wire::decode_push_response(s).status().code(),
              wire::decode_pull_request(s).status().code(), wire::decode_error(s).status().code(),
              wire::decode_enroll_request(s).status().code(),
              wire::decode_enroll_response(s).status().code()})
            CHECK((code == Code::ok || code == Code::invalid_argument));
    }
}

TEST_CASE("message bodies round trip and name missing or mistyped keys", "[wire]") {
    Transaction t;
    t.stamp = {77, uuid_n(1)};
    t.changes = {change("absences", uuid_n(2), "lessons", Value(3))};

    auto push = wire::decode_push_request(
        schema(), wire::encode_push_request(schema(), uuid_n(5), std::span(&t, 1)));
    REQUIRE(push.ok());
    CHECK(push->batch == uuid_n(5));
    CHECK(push->txns == std::vector<Transaction>{t});

    wire::PushResponse presp;
    presp.results = {{wire::PushResult::Kind::accepted, "", ""},
                     {wire::PushResult::Kind::held, "", ""},
                     {wire::PushResult::Kind::rejected, "out_of_scope", "not your learner"}};
    presp.server_time_ms = 1'795'392'000'140;
    auto presp2 = wire::decode_push_response(wire::encode_push_response(presp));
    REQUIRE(presp2.ok());
    REQUIRE(presp2->results.size() == 3);
    CHECK(presp2->results[1].kind == wire::PushResult::Kind::held);
    CHECK(presp2->results[2].code == "out_of_scope");
    CHECK(presp2->results[2].message == "not your learner");
    CHECK(presp2->server_time_ms == presp.server_time_ms);

    auto pull = wire::decode_pull_request(
        wire::encode_pull_request({std::string("\0c", 2), 500, std::nullopt}));
    REQUIRE(pull.ok());
    CHECK(pull->cursor == std::string("\0c", 2));
    CHECK(pull->limit == 500u);
    auto no_limit =
        wire::decode_pull_request(wire::encode_pull_request({"", std::nullopt, std::nullopt}));
    REQUIRE(no_limit.ok());
    CHECK_FALSE(no_limit->limit);

    wire::PullResponse pr;
    pr.txns = {t};
    pr.purge = {uuid_n(9), uuid_n(10)};
    pr.cursor = "next";
    pr.more = true;
    pr.server_time_ms = 5;
    auto pr2 = wire::decode_pull_response(schema(), wire::encode_pull_response(schema(), pr));
    REQUIRE(pr2.ok());
    CHECK(pr2->txns == pr.txns);
    CHECK(pr2->purge == pr.purge);
    CHECK(pr2->cursor == "next");
    CHECK(pr2->more);

    auto err = wire::decode_error(wire::encode_error({"stale_timestamp", "clock", 99}));
    REQUIRE(err.ok());
    CHECK(err->code == "stale_timestamp");
    CHECK(err->server_time_ms == 99);

    wire::EnrollRequest er;
    er.code = "ABCD-EFGH";
    er.public_key.fill(3);
    er.node = uuid_n(4);
    er.label = "Ilzes planšete";
    auto er2 = wire::decode_enroll_request(wire::encode_enroll_request(er));
    REQUIRE(er2.ok());
    CHECK(er2->code == er.code);
    CHECK(er2->public_key == er.public_key);
    CHECK(er2->label == er.label);
    er.label = std::string(101, 'x');
    auto long_label = wire::decode_enroll_request(wire::encode_enroll_request(er));
    REQUIRE_FALSE(long_label.ok());
    CHECK(long_label.status().message() ==
          "enroll request.label: has 101 characters, more than 100");

    auto check_bad = [](const Status& s, std::string_view want) {
        INFO(s.message());
        CHECK(s.code() == Code::invalid_argument);
        CHECK(s.message() == want);
    };
    // A missing key, a mistyped key, a duplicate key; unknown keys are ignored.
    check_bad(wire::decode_pull_request(Bytes().map(1).s("limit").u(3).str()).status(),
              "pull request: required key 'cursor' is missing");
    check_bad(wire::decode_pull_request(Bytes().map(1).s("cursor").s("abc").str()).status(),
              "pull request.cursor: is a string, expected binary");
    check_bad(wire::decode_pull_request(Bytes().map(2).s("cursor").b("").s("cursor").b("").str())
                  .status(),
              "pull request: key 'cursor' appears twice");
    check_bad(wire::decode_pull_request(
                  Bytes().map(1).s("cursor").b(std::string(wire::kMaxCursorBytes + 1, 'c')).str())
                  .status(),
              "pull request.cursor: is 1025 bytes, more than 1024");
    check_bad(wire::decode_pull_request(Bytes().map(1).u(1).b("").str()).status(),
              "pull request: a key is an unsigned integer; keys must be strings");
    CHECK(wire::decode_pull_request(Bytes().map(2).s("cursor").b("").s("future").u(1).str()).ok());
    check_bad(wire::decode_push_response(
                  Bytes().map(2).s("results").arr(1).u(3).s("server_time_ms").u(1).str())
                  .status(),
              "push response.results[0]: result 3 is not 0 or 1 (a rejection is an array)");
    check_bad(wire::decode_push_response(
                  Bytes().map(2).s("results").arr(1).arr(1).u(0).s("server_time_ms").u(1).str())
                  .status(),
              "push response.results[0]: has 1 items, expected 3");
    check_bad(wire::decode_push_response(Bytes()
                                             .map(2)
                                             .s("results")
                                             .arr(1)
                                             .arr(3)
                                             .u(1)
                                             .s("x")
                                             .s("y")
                                             .s("server_time_ms")
                                             .u(1)
                                             .str())
                  .status(),
              "push response.results[0]: rejection kind 1 is not 2");
    check_bad(
        wire::decode_push_response(
            Bytes().map(2).s("results").arr(1).arr(2).u(2).s("x").s("server_time_ms").u(1).str())
            .status(),
        "push response.results[0]: has 2 items, expected 3");
    check_bad(
        wire::decode_push_response(
            Bytes().map(2).s("results").arr(1).s("ok").s("server_time_ms").u(1).str())
            .status(),
        "push response.results[0]: is a string, expected 0, 1 or an array [2, code, message]");
    check_bad(wire::decode_error(Bytes().map(1).s("code").s("x").str()).status(),
              "error: required key 'message' is missing");
    CHECK(wire::error_reply_for(wire::decode_error("").status()).body.code == "bad_request");
}

TEST_CASE("a pull request's device report is optional, bounded and named when wrong",
          "[wire][report]") {
    // With a report: the documented layout, byte for byte, built independently by hand.
    wire::PullRequest with;
    with.cursor = "cur";
    with.limit = 500;
    with.report = wire::DeviceReport{0, 2, 1'000'000};
    const std::string bytes = wire::encode_pull_request(with);
    CHECK(bytes == Bytes()
                       .map(3)
                       .s("cursor")
                       .b("cur")
                       .s("limit")
                       .u(500)
                       .s("report")
                       .arr(3)
                       .u(0)
                       .u(2)
                       .u(1'000'000)
                       .str());
    auto back = wire::decode_pull_request(bytes);
    REQUIRE(back.ok());
    CHECK(back->cursor == "cur");
    CHECK(back->limit == 500u);
    REQUIRE(back->report);
    CHECK(*back->report == wire::DeviceReport{0, 2, 1'000'000});

    // Small counts cost 11 bytes per pull: the key (7), the array header (1), three values.
    wire::PullRequest without = with;
    without.report.reset();
    wire::PullRequest small = with;
    small.report = wire::DeviceReport{3, 0, 1};
    CHECK(wire::encode_pull_request(small).size() ==
          wire::encode_pull_request(without).size() + 11);

    // An older client's body (no report) still decodes, without one.
    auto old = wire::decode_pull_request(Bytes().map(2).s("cursor").b("").s("limit").u(9).str());
    REQUIRE(old.ok());
    CHECK_FALSE(old->report);
    CHECK(old->limit == 9u);

    auto check_bad = [](std::string body, std::string_view want) {
        auto r = wire::decode_pull_request(body);
        REQUIRE_FALSE(r.ok());
        INFO(r.status().message());
        CHECK(r.status().code() == Code::invalid_argument);
        CHECK(r.status().message() == want);
        // Every one of these is a plain 400 bad_request (protocol section 2).
        const auto reply = wire::error_reply_for(r.status());
        CHECK(reply.http_status == 400);
        CHECK(reply.body.code == "bad_request");
    };
    auto report = [](auto&& fill) {
        Bytes x;
        x.map(2).s("cursor").b("").s("report");
        fill(x);
        return x.str();
    };
    check_bad(report([](Bytes& x) { x.arr(3).i(-1).u(0).u(0); }),
              "pull request.report.pending: is a negative integer, expected an unsigned integer");
    check_bad(report([](Bytes& x) { x.arr(3).u(0).s("2").u(0); }),
              "pull request.report.quarantined: is a string, expected an unsigned integer");
    check_bad(report([](Bytes& x) { x.arr(3).u(0).u(0).u(wire::kMaxReportedCount + 1); }),
              "pull request.report.rejected: is more than the limit of 1000000");
    check_bad(report([](Bytes& x) { x.arr(2).u(0).u(0); }),
              "pull request.report: has 2 items, expected 3");
    check_bad(report([](Bytes& x) { x.arr(4).u(0).u(0).u(0).u(0); }),
              "pull request.report: has 4 items, expected 3");
    check_bad(report([](Bytes& x) { x.map(1).s("pending").u(0); }),
              "pull request.report: is a map, expected an array [pending, quarantined, rejected]");
    check_bad(report([](Bytes& x) { x.nil(); }),
              "pull request.report: is nil, expected an array [pending, quarantined, rejected]");
    check_bad(report([](Bytes& x) {
                  x.arr(3).u(0);
                  x.pk.pack_double(1.5);
                  x.u(0);
              }),
              "pull request.report.quarantined: is a float, expected an unsigned integer");
}

TEST_CASE("the signed string is the seven documented lines", "[wire][signing]") {
    const std::string body =
        "\x82\xa5"
        "batch";
    const std::string s = wire::signing_string("POST", "/v1/sync/push", "1795392000123",
                                               "5f0c2a9e8b7d4c3a2b1e0f9d8c7b6a59",
                                               "0f8fad5b-d9cb-469f-a165-70867728950e", body);
    CHECK(s ==
          "MS1-SIG\nPOST\n/v1/sync/push\n1795392000123\n5f0c2a9e8b7d4c3a2b1e0f9d8c7b6a59\n"
          "0f8fad5b-d9cb-469f-a165-70867728950e\n" +
              wire::sha256_hex(body));
    CHECK(std::count(s.begin(), s.end(), '\n') == 6);
    CHECK(s.back() != '\n');
    // Known SHA-256 vectors, lower-case hex.
    CHECK(wire::sha256_hex("") ==
          "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    CHECK(wire::sha256_hex("abc") ==
          "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    CHECK(wire::signing_string("POST", "/v1/sync/pull", "1", "n", "d", "").substr(0, 36) ==
          "MS1-SIG\nPOST\n/v1/sync/pull\n1\nn\nd\ne3b");
}

TEST_CASE("a signature verifies, and a flipped bit or malformed base64url does not",
          "[wire][signing]") {
    const auto keys = wire::DeviceKeys::generate();
    const auto other = wire::DeviceKeys::generate();
    CHECK(keys.public_key != other.public_key);
    const std::string msg =
        wire::signing_string("POST", "/v1/sync/push", "1795392000123", "Xwwqnot9TDorHg-djHtqWQ",
                             "D4-tW9nLRp-hZXCGdyiVDg", "body");
    const std::string sig = wire::sign(keys, msg);
    REQUIRE(sig.size() == 86);
    CHECK(std::all_of(sig.begin(), sig.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_';
    }));
    CHECK(wire::verify(keys.public_key, msg, sig));
    CHECK_FALSE(wire::verify(other.public_key, msg, sig));

    for (std::size_t bit = 0; bit < msg.size() * 8; bit += 7) {
        std::string flipped = msg;
        flipped[bit / 8] = static_cast<char>(flipped[bit / 8] ^ (1 << (bit % 8)));
        CHECK_FALSE(wire::verify(keys.public_key, flipped, sig));
    }
    std::string bad_sig = sig;
    bad_sig[10] = bad_sig[10] == 'A' ? 'B' : 'A';
    CHECK_FALSE(wire::verify(keys.public_key, msg, bad_sig));

    // The last character carries 2 bits of the signature and 4 unused bits, which must be 0:
    // a text that differs only there decodes to the same bytes and is refused (one text per
    // signature).
    std::string loose = sig;
    const std::string alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    loose.back() = alphabet[alphabet.find(sig.back()) + 1];
    for (const std::string& malformed :
         {std::string(), sig.substr(0, 85), sig + "A",
          sig.substr(0, 84) + "==", sig.substr(0, 84) + "+/", std::string(86, ' '), loose})
        CHECK_FALSE(wire::verify(keys.public_key, msg, malformed));
}

TEST_CASE("base64url round-trips canonically", "[wire][signing]") {
    // RFC 4648 section 10 vectors, without padding, in the URL-safe alphabet.
    CHECK(wire::base64url("") == "");
    CHECK(wire::base64url("f") == "Zg");
    CHECK(wire::base64url("fo") == "Zm8");
    CHECK(wire::base64url("foobar") == "Zm9vYmFy");
    CHECK(wire::base64url("\xfb\xff") == "-_8");
    CHECK(wire::from_base64url("-_8", 2) == std::string("\xfb\xff"));
    CHECK_FALSE(wire::from_base64url("-_9", 2));  // unused bits set
    CHECK_FALSE(wire::from_base64url("+/8", 2));  // the standard alphabet
    CHECK_FALSE(wire::from_base64url("Zm8", 3));  // wrong length for 3 bytes
    CHECK_FALSE(wire::from_base64url("Zm8=", 2));
    CHECK(wire::base64url_length(16) == 22);
    CHECK(wire::base64url_length(64) == 86);
}

TEST_CASE("the Authorization header carries device, timestamp, nonce and signature",
          "[wire][signing]") {
    const auto keys = wire::DeviceKeys::generate();
    const Uuid device = *Uuid::parse("0f8fad5b-d9cb-469f-a165-70867728950e");
    const std::string nonce(16, '\x5f');
    const std::string header =
        wire::authorization(keys, "POST", "/v1/sync/push", device, 1795392000123, nonce, "body");
    CHECK(header.rfind("MS1 D4-tW9nLRp-hZXCGdyiVDg.1795392000123.", 0) == 0);
    CHECK(header.size() == 4 + 22 + 1 + 13 + 1 + 22 + 1 + 86);
    auto c = wire::parse_authorization(header);
    REQUIRE(c.ok());
    CHECK(c->device == "D4-tW9nLRp-hZXCGdyiVDg");
    CHECK(c->timestamp == "1795392000123");
    CHECK(c->nonce == wire::base64url(nonce));
    CHECK(wire::verify(
        keys.public_key,
        wire::signing_string("POST", "/v1/sync/push", c->timestamp, c->nonce, c->device, "body"),
        c->signature));

    const std::string rest = header.substr(4);
    for (const std::string& bad :
         {std::string(), std::string("MS1"), "MS1 " + rest.substr(0, rest.rfind('.')),
          "ms1 " + rest, "MS1  " + rest, "Bearer " + rest, "MS1 " + rest + ".x",
          "MS1 " + std::string("D4-tW9nLRp-hZXCGdyiVDh") + rest.substr(22),
          "MS1 " + rest.substr(0, 23) + "12ab" + rest.substr(36)}) {
        INFO(bad);
        auto r = wire::parse_authorization(bad);
        REQUIRE_FALSE(r.ok());
        CHECK(r.status().message().find("Authorization") != std::string::npos);
    }
}

TEST_CASE("a transaction without changes decodes, so that the receiver rejects it alone",
          "[wire]") {
    const Uuid row = uuid_n(2);
    // No groups at all, a group whose changes array is empty, and such a group beside a valid
    // transaction: the body is well formed (protocol §6), each empty transaction decodes with
    // no changes and its neighbour intact.
    Bytes no_groups;
    no_groups.arr(2).arr(1).b(uuid_n(1).raw()).arr(1).arr(2).u(77).u(0);
    auto a = wire::decode_transactions(schema(), no_groups.str());
    INFO(a.status().message());
    REQUIRE(a.ok());
    REQUIRE(a->size() == 1);
    CHECK(a->at(0).stamp.hlc == 77);
    CHECK(a->at(0).changes.empty());

    auto b = wire::decode_transactions(schema(),
                                       one_group([&](Bytes& x) { x.u(3).b(row.raw()).arr(0); }));
    INFO(b.status().message());
    REQUIRE(b.ok());
    REQUIRE(b->size() == 1);
    CHECK(b->at(0).changes.empty());

    Bytes two;
    two.arr(2).arr(1).b(uuid_n(1).raw()).arr(2);
    two.arr(5).u(77).u(0).u(3).b(row.raw()).arr(0);
    two.arr(5).u(78).u(0).u(3).b(row.raw()).arr(2).u(4).u(3);
    auto c = wire::decode_transactions(schema(), two.str());
    INFO(c.status().message());
    REQUIRE(c.ok());
    REQUIRE(c->size() == 2);
    CHECK(c->at(0).changes.empty());
    REQUIRE(c->at(1).changes.size() == 1);
    CHECK(c->at(1).changes[0].field == "lessons");
    // An empty transaction encodes as [hlc, node] and decodes back.
    Transaction empty;
    empty.stamp = {77, uuid_n(1)};
    auto back = wire::decode_transactions(
        schema(), wire::encode_transactions(schema(), std::span(&empty, 1)));
    REQUIRE(back.ok());
    REQUIRE(back->size() == 1);
    CHECK(back->at(0).stamp == empty.stamp);
    CHECK(back->at(0).changes.empty());
}

TEST_CASE("a uuid field value travels as its text, and 16 bytes of binary are refused by name",
          "[wire]") {
    const Uuid row = uuid_n(2);
    const Uuid learner = uuid_n(9);
    // absences.learner_id (field 0) as its 36-character text: decoded as that text.
    auto ok = wire::decode_transactions(schema(), one_group([&](Bytes& x) {
                                            x.u(3).b(row.raw()).arr(2).u(0).s(learner.to_string());
                                        }));
    INFO(ok.status().message());
    REQUIRE(ok.ok());
    CHECK(ok->at(0).changes.at(0).value == Value(learner.to_string()));
    // As 16 bytes: refused, and the message says how a uuid travels.
    expect_bad(one_group([&](Bytes& x) { x.u(3).b(row.raw()).arr(2).u(0).b(learner.raw()); }),
               "a uuid value is its 36-character text");
}

TEST_CASE(
    "a receiver refuses a created record missing a required field, whatever order transactions "
    "arrive in",
    "[wire][schema]") {
    mstest::TempDir dir;
    auto writer = mstest::open_replica(dir.file("writer.db"));
    const Uuid learner = Uuid::random();
    const Uuid contact =
        *writer->create("contacts", mstest::contact_fields(learner, "synthetic notes"));
    REQUIRE(writer->update("contacts", contact, {{"duration_min", Value(50)}}).ok());
    auto txns = *writer->pending(10);
    REQUIRE(txns.size() == 2);
    const Transaction create = txns[0], update = txns[1];

    // The schema judges each transaction alone: the update (its required field has a prev)
    // passes before or without the create; the create passes whole.
    CHECK(Schema::programme().check_received(update).ok());
    CHECK(Schema::programme().check_received(create).ok());
    Transaction no_place = create;
    std::erase_if(no_place.changes, [](const Change& c) { return c.field == "place"; });
    auto refused = Schema::programme().check_received(no_place);
    CHECK(refused.code() == Code::validation);
    CHECK(refused.message().find("contacts.place") != std::string::npos);
    CHECK(refused.message().find("synthetic") == std::string::npos);
    Transaction nil_required = update;
    nil_required.changes[0].value = Value();
    CHECK(Schema::programme().check_received(nil_required).code() == Code::validation);
    // Unknown collections and fields are a newer peer's: not judged.
    Transaction newer = no_place;
    for (Change& c : newer.changes)
        c.collection = "surveys";
    CHECK(Schema::programme().check_received(newer).ok());

    // An engine receiver rejects the incomplete create and takes the update first, then the
    // create, as a valid history.
    auto reader = mstest::open_replica(dir.file("reader.db"));
    auto bad = reader->apply_remote(std::vector<Transaction>{no_place});
    REQUIRE(bad.ok());
    REQUIRE(bad->rejected.size() == 1);
    CHECK(bad->rejected[0].reason.message().find("contacts.place") != std::string::npos);
    auto out_of_order = reader->apply_remote(std::vector<Transaction>{update, create});
    REQUIRE(out_of_order.ok());
    CHECK(out_of_order->rejected.empty());
    CHECK(reader->get("contacts", contact)->fields.at("duration_min") == Value(50));
}
