// The HTTP status, error code (docs/protocol.md section 2) and message that error_reply_for()
// gives for every kind of decoder failure, recorded as a table. It was written against the
// decoders as they stood when error_reply_for() still searched the message text for phrases,
// and must keep passing unchanged now that the decoders attach a wire::Error instead.
#include <catch2/catch.hpp>

#include <msgpack.hpp>

#include <functional>
#include <string>
#include <vector>

#include "mentorsync/schema.h"
#include "mentorsync/wire.h"

using namespace mentorsync;
using namespace std::string_literals;

namespace {

// msgpack bytes built by hand, for bodies no encoder would produce.
struct Body {
    msgpack::sbuffer buf;
    msgpack::packer<msgpack::sbuffer> pk{buf};
    Body& arr(std::uint32_t n) {
        pk.pack_array(n);
        return *this;
    }
    Body& map(std::uint32_t n) {
        pk.pack_map(n);
        return *this;
    }
    Body& u(std::uint64_t v) {
        pk.pack_uint64(v);
        return *this;
    }
    Body& s(std::string_view v) {
        pk.pack_str(static_cast<std::uint32_t>(v.size()));
        pk.pack_str_body(v.data(), static_cast<std::uint32_t>(v.size()));
        return *this;
    }
    Body& b(std::string_view v) {
        pk.pack_bin(static_cast<std::uint32_t>(v.size()));
        pk.pack_bin_body(v.data(), static_cast<std::uint32_t>(v.size()));
        return *this;
    }
    Body& raw(std::string_view bytes) {
        buf.write(bytes.data(), bytes.size());
        return *this;
    }
    std::string str() const { return std::string(buf.data(), buf.size()); }
};

using Decoder = std::function<Status(std::string_view)>;

struct Named {
    std::string what;  // the decoder's name in its messages
    Decoder decode;
    bool client_body;  // decodes what a client sends (only those are under the value bound)
};

const std::vector<Named>& decoders() {
    static const std::vector<Named> k = {
        {"txns",
         [](std::string_view b) {
             return wire::decode_transactions(Schema::programme(), b).status();
         },
         true},
        {"error", [](std::string_view b) { return wire::decode_error(b).status(); }, false},
        {"enroll request",
         [](std::string_view b) { return wire::decode_enroll_request(b).status(); }, true},
        {"enroll response",
         [](std::string_view b) { return wire::decode_enroll_response(b).status(); }, false},
        {"push request",
         [](std::string_view b) {
             return wire::decode_push_request(Schema::programme(), b).status();
         },
         true},
        {"push response", [](std::string_view b) { return wire::decode_push_response(b).status(); },
         false},
        {"pull request", [](std::string_view b) { return wire::decode_pull_request(b).status(); },
         true},
        {"pull response",
         [](std::string_view b) {
             return wire::decode_pull_response(Schema::programme(), b).status();
         },
         false},
    };
    return k;
}

struct Row {
    std::string body;
    int http_status;
    std::string code;
    std::string message_tail;  // the message is the decoder's name, ": ", then this
    bool client_only = false;  // only a client's body is refused for this
};

void check_row(const Named& d, const Row& row) {
    const Status s = d.decode(row.body);
    INFO(d.what << ": " << s.message());
    REQUIRE_FALSE(s.ok());
    CHECK(s.code() == Code::invalid_argument);
    const wire::ErrorReply reply = wire::error_reply_for(s);
    CHECK(reply.http_status == row.http_status);
    CHECK(reply.body.code == row.code);
    CHECK(reply.body.message == d.what + ": " + row.message_tail);
    CHECK(reply.body.message == s.message());
    CHECK_FALSE(reply.body.server_time_ms);
}

std::string repeat(std::string_view unit, std::size_t n) {
    std::string out;
    out.reserve(unit.size() * n);
    for (std::size_t i = 0; i < n; ++i)
        out += unit;
    return out;
}

// A txns value of `n` transactions, each one change of a first write.
std::string txns_of(std::size_t n) {
    Body x;
    x.arr(2).arr(1).b(std::string(16, '\x07')).arr(static_cast<std::uint32_t>(n));
    for (std::size_t i = 0; i < n; ++i)
        x.arr(5).u(1'000'000 + i).u(0).u(3).b(std::string(16, '\x02')).arr(2).u(10).u(3);
    return x.str();
}

}  // namespace

TEST_CASE("every decoder answers the same status and code for the same kind of bad body",
          "[wire][errors]") {
    const std::string too_large(wire::kMaxBodyBytes + 1, '\0');
    const std::string long_text(wire::kMaxStringBytes + 1, 'a');
    // 65,537 items of two bytes each: under the value bound, over the container bound.
    const std::string wide_array = "\xdd\x00\x01\x00\x01"s + repeat("\xcc\x01", 65'537);
    const std::string wide_map = "\xdf\x00\x01\x00\x01"s + repeat("\xcc\x01\xcc\x01", 65'537);
    const std::string bomb = "\xdc\x00\x01\xdc\xff\xff"s + std::string(0xffff, '\xc0');

    const std::vector<Row> rows = {
        {"", 400, "bad_request", "is empty"},
        {too_large, 413, "body_too_large", "is 4194305 bytes, more than the body limit of 4194304"},
        {std::string(40, '\x91') + "\xc0", 400, "too_deep",
         "msgpack is nested deeper than 16 levels"},
        {Body().s(long_text).str(), 400, "string_too_long",
         "a string is longer than the limit of 65536 bytes"},
        {Body().b(long_text).str(), 400, "string_too_long",
         "a binary is longer than the limit of 65536 bytes"},
        {wide_array, 400, "bad_request", "an array has more than 65536 items"},
        {wide_map, 400, "bad_request", "a map has more than 65536 entries"},
        {bomb, 400, "bad_request",
         "holds more than 32786 msgpack values, the limit for 65541 bytes (one value per 2 "
         "bytes)",
         true},
        {"\xd4\x01\x00"s, 400, "bad_request",
         "holds a msgpack extension type, which the protocol does not use"},
        {"\x82\xa1", 400, "bad_request", "is truncated"},
        {"\xc1", 400, "bad_request", "is not valid msgpack"},
        {"\xc0\xc0"s, 400, "bad_request", "has 1 trailing bytes after the msgpack value"},
    };
    for (const Named& d : decoders()) {
        for (const Row& row : rows) {
            // Answers are exempt from the value bound (docs/security.md): a tablet reads a
            // large push answer of its own server.
            if (row.client_only && !d.client_body) continue;
            // One section per decoder and row, so that a failure names both.
            DYNAMIC_SECTION(d.what << " / " << row.message_tail.substr(0, 30)) {
                check_row(d, row);
            }
        }
    }
}

TEST_CASE("the shape errors of each body are plain 400 bad_request, too many transactions 413",
          "[wire][errors]") {
    const auto named = [](std::string_view what) -> const Named& {
        for (const Named& d : decoders())
            if (d.what == what) return d;
        FAIL("no decoder " << what);
        throw;  // unreachable
    };
    const std::string id(16, '\x05');
    const std::string key(32, 'k');
    struct Case {
        std::string decoder;
        std::string body;
        int http_status;
        std::string code;
        std::string message;  // whole
    };
    const std::vector<Case> cases = {
        {"error", Body().arr(0).str(), 400, "bad_request", "error: is an array, expected a map"},
        {"error", Body().map(1).u(1).u(2).str(), 400, "bad_request",
         "error: a key is an unsigned integer; keys must be strings"},
        {"error", Body().map(2).s("code").s("x").s("code").s("y").str(), 400, "bad_request",
         "error: key 'code' appears twice"},
        {"error", Body().map(1).s("code").s("x").str(), 400, "bad_request",
         "error: required key 'message' is missing"},
        {"error", Body().map(2).s("code").u(1).s("message").s("m").str(), 400, "bad_request",
         "error.code: is an unsigned integer, expected a string"},
        {"enroll request",
         Body()
             .map(4)
             .s("code")
             .s("c")
             .s("public_key")
             .b("short")
             .s("node")
             .b(id)
             .s("label")
             .s("l")
             .str(),
         400, "bad_request", "enroll request.public_key: is 5 bytes, expected 32"},
        {"enroll request",
         Body()
             .map(4)
             .s("code")
             .s("c")
             .s("public_key")
             .b(key)
             .s("node")
             .b(id)
             .s("label")
             .s("\xff")
             .str(),
         400, "bad_request", "enroll request.label: is not valid UTF-8"},
        {"enroll request",
         Body()
             .map(4)
             .s("code")
             .s("c")
             .s("public_key")
             .b(key)
             .s("node")
             .b(id)
             .s("label")
             .s(std::string(101, 'l'))
             .str(),
         400, "bad_request", "enroll request.label: has 101 characters, more than 100"},
        {"enroll response",
         Body()
             .map(4)
             .s("device_id")
             .b("x")
             .s("user_id")
             .b(id)
             .s("role")
             .s("mentor")
             .s("server_time_ms")
             .u(1)
             .str(),
         400, "bad_request", "enroll response.device_id: is 1 bytes of binary, expected 16"},
        {"push request",
         Body()
             .map(2)
             .s("batch")
             .b(id)
             .s("txns")
             .raw(txns_of(wire::kMaxTransactionsPerPush + 1))
             .str(),
         413, "too_many_transactions",
         "push request.txns.items: has 1001 transactions, more than the limit of 1000"},
        {"push request", Body().map(2).s("batch").b(id).s("txns").arr(1).u(0).str(), 400,
         "bad_request", "push request.txns: has 1 items, expected 2"},
        {"push response", Body().map(2).s("results").arr(1).u(2).s("server_time_ms").u(1).str(),
         400, "bad_request",
         "push response.results[0]: result 2 is not 0 or 1 (a rejection is an array)"},
        {"push response",
         Body()
             .map(2)
             .s("results")
             .arr(1001)
             .raw(repeat("\xcc\x00"s, 1001))
             .s("server_time_ms")
             .u(1)
             .str(),
         400, "bad_request", "push response.results: has 1001 items, expected 0 to 1000"},
        {"pull request",
         Body().map(1).s("cursor").b(std::string(wire::kMaxCursorBytes + 1, 'c')).str(), 400,
         "bad_request", "pull request.cursor: is 1025 bytes, more than 1024"},
        {"pull request",
         Body()
             .map(2)
             .s("cursor")
             .b("")
             .s("report")
             .arr(3)
             .u(0)
             .u(0)
             .u(wire::kMaxReportedCount + 1)
             .str(),
         400, "bad_request", "pull request.report.rejected: is more than the limit of 1000000"},
        {"pull response",
         Body()
             .map(5)
             .s("txns")
             .raw(txns_of(wire::kMaxTransactionsPerPush + 1))
             .s("purge")
             .arr(0)
             .s("cursor")
             .b("")
             .s("more")
             .raw("\xc2")
             .s("server_time_ms")
             .u(1)
             .str(),
         413, "too_many_transactions",
         "pull response.txns.items: has 1001 transactions, more than the limit of 1000"},
        {"pull response",
         Body()
             .map(5)
             .s("txns")
             .raw(txns_of(1))
             .s("purge")
             .arr(0)
             .s("cursor")
             .b("")
             .s("more")
             .u(1)
             .s("server_time_ms")
             .u(1)
             .str(),
         400, "bad_request", "pull response.more: is an unsigned integer, expected a boolean"},
    };
    for (const Case& c : cases) {
        DYNAMIC_SECTION(c.message) {
            const Status s = named(c.decoder).decode(c.body);
            INFO(s.message());
            REQUIRE_FALSE(s.ok());
            CHECK(s.code() == Code::invalid_argument);
            CHECK(s.message() == c.message);
            const wire::ErrorReply reply = wire::error_reply_for(s);
            CHECK(reply.http_status == c.http_status);
            CHECK(reply.body.code == c.code);
            CHECK(reply.body.message == c.message);
        }
    }
}

TEST_CASE("a transaction past the change limit is a plain 400, not a 413", "[wire][errors]") {
    Body x;
    x.arr(2).arr(1).b(std::string(16, '\x07')).arr(1).arr(5).u(1'000'000).u(0).u(3);
    x.b(std::string(16, '\x02'))
        .arr(2 * static_cast<std::uint32_t>(wire::kMaxChangesPerTransaction + 1));
    // Field 5 (a first write) and the value 3, two bytes each: under the value bound.
    x.raw(repeat("\xcc\x0a\xcc\x03"s, wire::kMaxChangesPerTransaction + 1));
    const Status s = wire::decode_transactions(Schema::programme(), x.str()).status();
    REQUIRE_FALSE(s.ok());
    const wire::ErrorReply reply = wire::error_reply_for(s);
    CHECK(reply.http_status == 400);
    CHECK(reply.body.code == "bad_request");
    CHECK(reply.body.message == "txns.items[0]: has more than 1000 changes");
}

TEST_CASE("a failure that no decoder made is answered as a plain 400 bad_request",
          "[wire][errors]") {
    for (const Status& s : {Status::io("SQLite: disk I/O error"), Status::internal("a bug"),
                            Status::invalid_argument("something else was wrong")}) {
        const wire::ErrorReply reply = wire::error_reply_for(s);
        CHECK(reply.http_status == 400);
        CHECK(reply.body.code == "bad_request");
        CHECK(reply.body.message == s.message());
    }
}
