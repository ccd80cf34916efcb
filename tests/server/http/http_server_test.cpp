// The HTTP layer end to end: a real HttpServer on 127.0.0.1:<ephemeral> over a FakeService,
// spoken to through real sockets.
#include <condition_variable>
#include <mutex>
#include <regex>
#include <sstream>
#include <thread>

#include <sodium.h>
#include <catch2/catch.hpp>

#include "http_test_support.h"
#include "mentorsync/wire.h"

using namespace mstest;

namespace {

// A well-formed Authorization header (docs/protocol.md §5); the fake service does not verify it.
const std::string kAuthorization =
    "MS1 D4-tW9nLRp-hZXCGdyiVDg.1795392000123.Xwwqnot9TDorHg-djHtqWQ." + std::string(86, 'A');
const HttpClient::Headers kSigned = {{"Authorization", kAuthorization}};

std::vector<Transaction> sample_txns(std::size_t n) {
    std::vector<Transaction> out;
    const Uuid node = Uuid::random();
    const Uuid learner = Uuid::random();
    for (std::size_t i = 0; i < n; ++i) {
        Transaction t;
        t.stamp = Stamp{(std::uint64_t{1795392000123} << 16) + i, node};
        Change c;
        c.collection = "absences";
        c.row = Uuid::random();
        c.field = "learner_id";
        c.value = learner.to_string();
        t.changes.push_back(c);
        c.field = "date";
        c.value = "2031-02-17";
        t.changes.push_back(c);
        out.push_back(std::move(t));
    }
    return out;
}

std::string push_body(const Uuid& batch, const std::vector<Transaction>& txns) {
    msgpack::sbuffer b;
    Packer pk(b);
    pk.pack_map(2);
    pack_str(pk, "batch");
    pack_bin(pk, batch.raw());
    pack_str(pk, "txns");
    const std::string raw = wire::encode_transactions(Schema::programme(), txns);
    b.write(raw.data(), raw.size());
    return to_string(b);
}

std::string pull_body(std::string_view cursor, std::uint64_t limit) {
    msgpack::sbuffer b;
    Packer pk(b);
    pk.pack_map(2);
    pack_str(pk, "cursor");
    pack_bin(pk, cursor);
    pack_str(pk, "limit");
    pk.pack(limit);
    return to_string(b);
}

std::string enroll_body() {
    msgpack::sbuffer b;
    Packer pk(b);
    pk.pack_map(4);
    pack_str(pk, "code");
    pack_str(pk, "ABCD-EFGH-IJKL");
    pack_str(pk, "public_key");
    pack_bin(pk, std::string(32, '\x01'));
    pack_str(pk, "node");
    pack_bin(pk, Uuid::random().raw());
    pack_str(pk, "label");
    pack_str(pk, "Ilze's tablet");
    return to_string(b);
}

std::string sha256_hex(std::string_view body) {
    unsigned char d[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(d, reinterpret_cast<const unsigned char*>(body.data()), body.size());
    std::ostringstream out;
    for (unsigned char c : d)
        out << "0123456789abcdef"[c >> 4] << "0123456789abcdef"[c & 15];
    return out.str();
}

}  // namespace

TEST_CASE("healthz answers 200 ok as text", "[http]") {
    ServerFixture f;
    auto c = f.client();
    auto r = c.request("GET", "/healthz", "", "");
    CHECK(r.status == 200);
    CHECK(r.body == "ok\n");
    CHECK_THAT(r.header("content-type"), Catch::StartsWith("text/plain"));
}

TEST_CASE("metrics are Prometheus text with the documented series", "[http]") {
    ServerFixture f;
    auto c = f.client();
    REQUIRE(c.request("GET", "/healthz", "", "").status == 200);
    REQUIRE(c.request("GET", "/nope", "", "").status == 404);
    auto r = c.request("GET", "/metrics", "", "");
    REQUIRE(r.status == 200);
    CHECK_THAT(r.header("content-type"), Catch::StartsWith("text/plain; version=0.0.4"));
    const std::string& m = r.body;
    CHECK_THAT(m, Catch::Contains("# TYPE mentorsync_http_requests_total counter"));
    CHECK_THAT(m, Catch::Contains(
                      "mentorsync_http_requests_total{route=\"/healthz\",status=\"200\"} 1\n"));
    CHECK_THAT(
        m, Catch::Contains("mentorsync_http_requests_total{route=\"other\",status=\"404\"} 1\n"));
    CHECK_THAT(m, Catch::Contains("mentorsync_http_errors_total{code=\"not_found\"} 1\n"));
    CHECK_THAT(m, Catch::Contains("mentorsync_changes_ingested_total 0\n"));
    CHECK_THAT(m, Catch::Contains("# TYPE mentorsync_push_duration_seconds histogram"));
    CHECK_THAT(m, Catch::Contains("mentorsync_pull_duration_seconds_bucket{le=\"+Inf\"} 0\n"));
    CHECK_THAT(m, Catch::Contains("mentorsync_devices_seen 0\n"));
    // The fake service keeps no merged state: no lag series (the real one: integration).
    CHECK_THAT(m, !Catch::Contains("mentorsync_state_lag_transactions"));
    f.service.state_lag = 7;
    CHECK_THAT(c.request("GET", "/metrics", "", "").body,
               Catch::Contains("# TYPE mentorsync_state_lag_transactions gauge\n"
                               "mentorsync_state_lag_transactions 7\n"));
    // Every line is a comment or `name{labels} value`.
    const std::regex sample(R"(^[a-z_]+(\{[a-z_]+="[^"]*"(,[a-z_]+="[^"]*")*\})? [0-9.e+-]+$)");
    std::istringstream lines(m);
    for (std::string line; std::getline(lines, line);) {
        if (line.rfind("# ", 0) == 0) continue;
        INFO(line);
        CHECK(std::regex_match(line, sample));
    }
}

TEST_CASE("an unknown path is 404 not_found with the error body", "[http]") {
    ServerFixture f;
    auto c = f.client();
    require_error(c.request("POST", "/v1/sync/nothing", "\x80"), 404, "not_found");
    require_error(c.request("GET", "/v1/nothing", "", ""), 404, "not_found");
    CHECK(f.service.calls() == 0);
}

TEST_CASE("a known path with the wrong method is 405 with Allow", "[http]") {
    ServerFixture f;
    auto c = f.client();
    auto r = c.request("GET", "/v1/sync/push", "", "");
    require_error(r, 405, "method_not_allowed");
    CHECK(r.header("allow") == "POST");
    auto h = c.request("POST", "/healthz", "\x80");
    require_error(h, 405, "method_not_allowed");
    CHECK(h.header("allow") == "GET");
    CHECK(f.service.calls() == 0);
}

TEST_CASE("a body that is not application/msgpack is 415", "[http]") {
    ServerFixture f;
    auto c = f.client();
    require_error(c.request("POST", "/v1/enroll", enroll_body(), "application/json"), 415,
                  "unsupported_media_type");
    require_error(c.request("POST", "/v1/sync/pull", pull_body("", 1), ""), 415,
                  "unsupported_media_type");
    // Parameters and case do not matter.
    CHECK(c.request("POST", "/v1/enroll", enroll_body(), "Application/MsgPack; charset=binary")
              .status == 200);
    CHECK(f.service.auth_calls == 0);
    CHECK(f.service.enroll_calls == 1);
}

TEST_CASE("a body over 4 MiB is refused with 413 before it is read", "[http]") {
    ServerFixture f;
    auto c = f.client();
    // Announce 5 MiB but send only 1 KiB of it: the answer must come from the header alone.
    std::string head =
        "POST /v1/sync/push HTTP/1.1\r\nHost: x\r\nContent-Type: application/msgpack\r\n"
        "Content-Length: " +
        std::to_string(5u << 20) + "\r\n\r\n";
    REQUIRE(c.write_raw(head + std::string(1024, '\0')));
    auto r = c.read_response();
    require_error(r, 413, "body_too_large");
    CHECK(r.header("connection") == "close");
    CHECK(c.server_closed());
    CHECK(f.service.calls() == 0);
}

TEST_CASE("a chunked body over the limit is refused with 413", "[http]") {
    auto config = test_config();
    config.max_body_bytes = 4096;
    ServerFixture f(config);
    auto c = f.client();
    std::string req =
        "POST /v1/enroll HTTP/1.1\r\nHost: x\r\nContent-Type: application/msgpack\r\n"
        "Transfer-Encoding: chunked\r\n\r\n";
    for (int i = 0; i < 3; ++i)
        req += "800\r\n" + std::string(0x800, 'a') + "\r\n";
    req += "0\r\n\r\n";
    REQUIRE(c.write_raw(req));
    require_error(c.read_response(), 413, "body_too_large");
    CHECK(f.service.calls() == 0);
}

TEST_CASE("a header block over 8 KiB is 431 and the connection is closed", "[http]") {
    ServerFixture f;
    auto c = f.client();
    std::string req =
        "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Filler: " + std::string(9000, 'a') + "\r\n\r\n";
    REQUIRE(c.write_raw(req));
    auto r = c.read_response();
    REQUIRE(r.status == 431);
    CHECK(r.header("connection") == "close");
    CHECK(c.server_closed());
}

TEST_CASE("a malformed HTTP request is 400 and the connection is closed", "[http]") {
    ServerFixture f;
    auto c = f.client();
    REQUIRE(c.write_raw("GET /healthz HTTP/1.1\r\nHost x\r\n\r\n"));
    require_error(c.read_response(), 400, "bad_request");
    CHECK(c.server_closed());
}

TEST_CASE("malformed, too deep and incomplete msgpack bodies are 400 with the code", "[http]") {
    ServerFixture f;
    auto c = f.client();
    SECTION("not msgpack") {
        require_error(c.request("POST", "/v1/enroll", "\xc1\xc1"), 400, "bad_request");
    }
    SECTION("nested deeper than 16 levels") {
        std::string body =
            "\x81\xa1"
            "a" +
            std::string(16, '\x91') + "\xc0";
        require_error(c.request("POST", "/v1/enroll", body), 400, "too_deep");
    }
    SECTION("a missing key is named") {
        msgpack::sbuffer b;
        Packer pk(b);
        pk.pack_map(1);
        pack_str(pk, "code");
        pack_str(pk, "ABCD");
        auto d = require_error(c.request("POST", "/v1/enroll", to_string(b)), 400, "bad_request");
        CHECK_THAT(d.str("message"), Catch::Contains("public_key"));
    }
    SECTION("a signed request with a bad body is authenticated, then refused") {
        auto d = require_error(
            c.request("POST", "/v1/sync/push", "\x80", "application/msgpack", kSigned), 400,
            "bad_request");
        CHECK_THAT(d.str("message"), Catch::Contains("batch"));
        CHECK(f.service.auth_calls == 1);
    }
    CHECK(f.service.enroll_calls == 0);
    CHECK(f.service.push_calls == 0);
}

TEST_CASE("authentication errors pass through with server_time_ms", "[http]") {
    ServerFixture f;
    f.service.auth_error =
        wire::error(wire::Error::stale_timestamp, "the timestamp is 400 s from the server's clock");
    f.service.now = 1795392000140;
    auto c = f.client();
    const std::string body = push_body(Uuid::random(), sample_txns(1));
    auto d =
        require_error(c.request("POST", "/v1/sync/push?x=1", body, "application/msgpack", kSigned),
                      401, "stale_timestamp");
    REQUIRE(d.find("server_time_ms") != nullptr);
    CHECK(d.find("server_time_ms")->as<std::uint64_t>() == 1795392000140u);
    CHECK(f.service.push_calls == 0);
    // What the service was given to verify: the target as sent, the headers, the exact body.
    CHECK(f.service.last_signed.method == "POST");
    CHECK(f.service.last_signed.path == "/v1/sync/push?x=1");
    CHECK(f.service.last_signed.authorization == kAuthorization);
    CHECK(f.service.last_signed_body == body);

    f.service.auth_error = wire::error(wire::Error::device_revoked, "revoked");
    require_error(
        c.request("POST", "/v1/sync/pull", pull_body("", 10), "application/msgpack", kSigned), 403,
        "device_revoked");
    CHECK(f.service.pull_calls == 0);
}

TEST_CASE("push decodes the transactions and encodes the results", "[http]") {
    ServerFixture f;
    f.service.push_response.server_time_ms = 1795392000140;
    f.service.push_response.results = {
        {wire::PushResult::Kind::accepted, "", ""},
        {wire::PushResult::Kind::held, "", ""},
        {wire::PushResult::Kind::rejected, "out_of_scope", "not your learner"}};
    const Uuid batch = Uuid::random();
    const auto txns = sample_txns(3);
    const std::string body = push_body(batch, txns);
    auto c = f.client();
    auto r = c.request("POST", "/v1/sync/push", body, "application/msgpack", kSigned);
    REQUIRE(r.status == 200);
    REQUIRE(r.header("content-type") == "application/msgpack");

    CHECK(f.service.push_calls == 1);
    CHECK(f.service.last_batch == batch);
    CHECK(f.service.last_txns == txns);
    CHECK(f.service.last_body_hash == sha256_hex(body));
    CHECK(f.service.last_who.device_id == f.service.principal.device_id);

    auto d = decode(r.body);
    REQUIRE(d.find("server_time_ms") != nullptr);
    CHECK(d.find("server_time_ms")->as<std::uint64_t>() == 1795392000140u);
    const auto* results = d.find("results");
    REQUIRE(results != nullptr);
    REQUIRE(results->type == msgpack::type::ARRAY);
    REQUIRE(results->via.array.size == 3);
    const auto& a = results->via.array.ptr;
    CHECK(a[0].type == msgpack::type::POSITIVE_INTEGER);  // accepted: a bare 0 (§7)
    CHECK(a[0].as<int>() == 0);
    CHECK(a[1].as<int>() == 1);
    REQUIRE(a[2].via.array.size == 3);
    CHECK(a[2].via.array.ptr[0].as<int>() == 2);
    CHECK(a[2].via.array.ptr[1].as<std::string>() == "out_of_scope");
    CHECK(a[2].via.array.ptr[2].as<std::string>() == "not your learner");

    // One accepted transaction of two changes.
    auto m = c.request("GET", "/metrics", "", "");
    CHECK_THAT(m.body, Catch::Contains("mentorsync_changes_ingested_total 2\n"));
    CHECK_THAT(m.body, Catch::Contains("mentorsync_transactions_ingested_total 1\n"));
    CHECK_THAT(m.body, Catch::Contains("mentorsync_devices_seen 1\n"));
    CHECK_THAT(m.body, Catch::Contains("mentorsync_push_duration_seconds_count 1\n"));
}

TEST_CASE("a push of more than 1000 transactions is 413 too_many_transactions", "[http]") {
    ServerFixture f;
    auto c = f.client();
    auto r = c.request("POST", "/v1/sync/push", push_body(Uuid::random(), sample_txns(1001)),
                       "application/msgpack", kSigned);
    require_error(r, 413, "too_many_transactions");
    CHECK(f.service.push_calls == 0);
    // Exactly 1000 is fine.
    CHECK(c.request("POST", "/v1/sync/push", push_body(Uuid::random(), sample_txns(1000)),
                    "application/msgpack", kSigned)
              .status == 200);
}

TEST_CASE("pull passes cursor and limit and encodes the page", "[http]") {
    ServerFixture f;
    const auto txns = sample_txns(2);
    const Uuid purged = Uuid::random();
    f.service.pull_response.txns = txns;
    f.service.pull_response.purge = {purged};
    f.service.pull_response.cursor = std::string("\x00\x01next", 6);
    f.service.pull_response.more = true;
    f.service.pull_response.server_time_ms = 1795392000200;
    auto c = f.client();
    auto r =
        c.request("POST", "/v1/sync/pull", pull_body("prev", 5000), "application/msgpack", kSigned);
    REQUIRE(r.status == 200);
    CHECK(f.service.last_cursor == "prev");
    CHECK(f.service.last_limit == 1000);  // clamped

    auto d = decode(r.body);
    REQUIRE(d.find("txns") != nullptr);
    msgpack::sbuffer raw;
    msgpack::pack(raw, *d.find("txns"));
    auto decoded = wire::decode_transactions(Schema::programme(), to_string(raw));
    REQUIRE(decoded.ok());
    CHECK(*decoded == txns);
    const auto* purge = d.find("purge");
    REQUIRE(purge != nullptr);
    REQUIRE(purge->via.array.size == 1);
    CHECK(purge->via.array.ptr[0].as<std::string>() == std::string(purged.raw()));
    CHECK(d.find("cursor")->type == msgpack::type::BIN);
    CHECK(d.find("cursor")->as<std::string>() == std::string("\x00\x01next", 6));
    CHECK(d.find("more")->as<bool>());
    CHECK(d.find("server_time_ms")->as<std::uint64_t>() == 1795392000200u);
}

TEST_CASE("enroll passes the request through and encodes the answer", "[http]") {
    ServerFixture f;
    f.service.enroll_response.device_id = Uuid::random();
    f.service.enroll_response.user_id = Uuid::random();
    f.service.enroll_response.role = std::string(role_name(Role::centre_staff));
    f.service.enroll_response.server_time_ms = 42;
    auto c = f.client();
    auto r = c.request("POST", "/v1/enroll", enroll_body());
    REQUIRE(r.status == 200);
    CHECK(f.service.last_enroll.code == "ABCD-EFGH-IJKL");
    CHECK(f.service.last_enroll.label == "Ilze's tablet");
    auto d = decode(r.body);
    CHECK(d.find("device_id")->as<std::string>() ==
          std::string(f.service.enroll_response.device_id.raw()));
    CHECK(d.find("user_id")->as<std::string>() ==
          std::string(f.service.enroll_response.user_id.raw()));
    CHECK(d.str("role") == "centre_staff");
    CHECK(d.find("server_time_ms")->as<std::uint64_t>() == 42u);

    f.service.enroll_error = wire::error(wire::Error::enrollment_invalid, "unknown code");
    require_error(c.request("POST", "/v1/enroll", enroll_body()), 403, "enrollment_invalid");
}

TEST_CASE("one connection serves several requests with keep-alive", "[http]") {
    ServerFixture f;
    auto c = f.client();
    for (int i = 0; i < 5; ++i) {
        auto r = c.request("GET", "/healthz", "", "");
        REQUIRE(r.status == 200);
        CHECK(r.header("connection") != "close");
    }
}

TEST_CASE("logs are JSON lines with the bound port and never a body", "[http]") {
    ServerFixture f;
    {
        auto c = f.client();
        REQUIRE(c.request("POST", "/v1/enroll", enroll_body()).status == 200);
        REQUIRE(c.request("POST", "/v1/sync/push?secret=query",
                          push_body(Uuid::random(), sample_txns(1)), "application/msgpack", kSigned)
                    .status == 200);
    }
    f.server.request_stop();
    f.server.wait();
    const std::string logs = f.log.all();
    CHECK_THAT(logs, Catch::Contains("\"event\":\"listening\""));
    CHECK_THAT(logs, Catch::Contains("\"port\":" + std::to_string(f.port())));
    CHECK_THAT(logs, Catch::Contains("\"route\":\"/v1/sync/push\",\"status\":200"));
    CHECK_THAT(logs, Catch::Contains("\"device\":\"0f8fad5b-d9cb-469f-a165-70867728950e\""));
    CHECK_THAT(logs, Catch::Contains("\"event\":\"shutdown_complete\""));
    CHECK_THAT(logs, !Catch::Contains("Ilze"));
    CHECK_THAT(logs, !Catch::Contains("ABCD-EFGH"));
    CHECK_THAT(logs, !Catch::Contains("secret"));
    CHECK_THAT(logs, !Catch::Contains("2031-02-17"));
    std::istringstream lines(logs);
    for (std::string line; std::getline(lines, line);) {
        INFO(line);
        CHECK(line.front() == '{');
        CHECK(line.back() == '}');
        CHECK_THAT(line, Catch::Contains("\"time\":\"") && Catch::Contains("\"level\":\""));
    }
}

TEST_CASE("more connections than the limit get 503 unavailable when all are busy", "[http]") {
    auto config = test_config();
    config.max_connections = 1;
    ServerFixture f(config);
    // The one connection is busy: its push is held inside the service.
    std::mutex m;
    std::condition_variable cv;
    bool entered = false, release = false;
    f.service.on_push = [&] {
        std::unique_lock lock(m);
        entered = true;
        cv.notify_all();
        cv.wait(lock, [&] { return release; });
    };
    std::thread busy([&] {
        auto first = f.client();
        CHECK(first
                  .request("POST", "/v1/sync/push", push_body(Uuid::random(), sample_txns(1)),
                           "application/msgpack", kSigned)
                  .status == 200);
    });
    {
        std::unique_lock lock(m);
        REQUIRE(cv.wait_for(lock, std::chrono::seconds(5), [&] { return entered; }));
    }
    auto second = f.client();
    auto r = second.read_response();
    require_error(r, 503, "unavailable");
    CHECK(r.header("retry-after") == "1");
    {
        std::lock_guard lock(m);
        release = true;
    }
    cv.notify_all();
    busy.join();
}
