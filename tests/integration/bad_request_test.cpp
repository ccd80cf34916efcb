// The bad-request matrix of docs/protocol.md against the real server: each hostile or broken
// request gets the documented status and error code, and nothing is stored.
#include <catch2/catch.hpp>

#include <chrono>
#include <nlohmann/json.hpp>

#include "server_process.h"
#include "test_support.h"

using namespace mentorsync;
using mstest::admin;

namespace {

std::int64_t now_ms() {
    using namespace std::chrono;
    return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

// A device made by hand, so every part of a request can be broken on purpose.
struct RawDevice {
    wire::DeviceKeys keys = wire::DeviceKeys::generate();
    Uuid node = Uuid::random();
    Uuid id;

    HttpRequest signed_request(const std::string& path, std::string body,
                               std::int64_t ts = now_ms(), const wire::DeviceKeys* signer = nullptr,
                               std::optional<Uuid> device = std::nullopt) const {
        HttpRequest r;
        r.method = "POST";
        r.path = path;
        r.body = std::move(body);
        r.headers = {{"Content-Type", "application/msgpack"},
                     {"Authorization",
                      wire::authorization(signer ? *signer : keys, "POST", path,
                                          device.value_or(id), ts, Uuid::random().raw(), r.body)}};
        return r;
    }
};

struct Setup {
    mstest::TempDir dir;
    std::string data = dir.file("server");
    std::string mentor, staff, learner, other_learner;
    Setup() {
        admin(data, {"init"});
        std::string m =
            admin(data, {"add-municipality", "--name", "Testa novads"})["municipality_id"];
        std::string c = admin(data, {"add-institution", "--name", "Centrs", "--municipality", m,
                                     "--kind", "youth_centre"})["institution_id"];
        mentor = admin(
            data, {"add-user", "--role", "mentor", "--name", "M", "--institution", c})["user_id"];
        std::string other = admin(
            data, {"add-user", "--role", "mentor", "--name", "O", "--institution", c})["user_id"];
        staff = admin(data, {"add-user", "--role", "centre_staff", "--name", "S", "--institution",
                             c})["user_id"];
        auto add_learner = [&] {
            return admin(data, {"add-learner", "--name", "L", "--birth-year", "2011", "--school", c,
                                "--municipality", m, "--grade", "8", "--education",
                                "general"})["learner_id"]
                .get<std::string>();
        };
        learner = add_learner();
        other_learner = add_learner();
        admin(data, {"assign", "--learner", learner, "--mentor", mentor});
        admin(data, {"assign", "--learner", other_learner, "--mentor", other});
    }
    std::string code(const std::string& user) {
        return admin(data, {"enroll-code", "--user", user})["code"];
    }
};

Transaction absence_txn(const RawDevice& d, const std::string& learner) {
    Transaction t;
    t.stamp = {static_cast<std::uint64_t>(now_ms()) << 16, d.node};
    Uuid row = Uuid::random();
    t.changes = {{"absences", row, "learner_id", Value(learner), {}, {}},
                 {"absences", row, "date", Value("2026-11-23"), {}, {}},
                 {"absences", row, "lessons", Value(2), {}, {}},
                 {"absences", row, "status", Value("unjustified"), {}, {}},
                 {"absences", row, "source", Value("mentor"), {}, {}}};
    return t;
}

// Sends and expects an error answer with this status and code.
void expect_error(client::HttpTransport& t, const HttpRequest& r, int status,
                  const std::string& code) {
    auto res = t.send(r);
    REQUIRE(res.ok());
    INFO("expected " << status << " " << code << ", body: " << res->body.substr(0, 200));
    CHECK(res->status == status);
    auto err = wire::decode_error(res->body);
    REQUIRE(err.ok());
    CHECK(err->code == code);
    CHECK_FALSE(err->message.empty());
}

}  // namespace

TEST_CASE("every bad request is answered with the documented status and stores nothing",
          "[integration][protocol]") {
    Setup s;
    mstest::ServerProcess server(s.data);
    client::HttpTransport t(*client::Endpoint::parse(server.url()));
    RawDevice dev;
    auto e = client::enroll(t, s.code(s.mentor), dev.keys, dev.node, "raw device");
    REQUIRE(e.ok());
    dev.id = e->device_id;
    const Schema& schema = Schema::programme();
    std::vector<Transaction> one = {absence_txn(dev, s.learner)};
    const std::string push_body = wire::encode_push_request(schema, Uuid::random(), one);

    SECTION("unsigned") {
        HttpRequest r{
            "POST", "/v1/sync/push", {{"Content-Type", "application/msgpack"}}, push_body};
        expect_error(t, r, 401, "unsigned");
    }
    SECTION("forged signature") {
        auto other = wire::DeviceKeys::generate();
        expect_error(t, dev.signed_request("/v1/sync/push", push_body, now_ms(), &other), 401,
                     "bad_signature");
    }
    SECTION("body changed after signing") {
        auto r = dev.signed_request("/v1/sync/push", push_body);
        r.body = wire::encode_push_request(schema, Uuid::random(), one);
        expect_error(t, r, 401, "bad_signature");
    }
    SECTION("stale timestamp, with the server's time in the answer") {
        auto r = dev.signed_request("/v1/sync/push", push_body, now_ms() - 10 * 60 * 1000);
        auto res = t.send(r);
        REQUIRE(res.ok());
        CHECK(res->status == 401);
        auto err = wire::decode_error(res->body);
        REQUIRE(err.ok());
        CHECK(err->code == "stale_timestamp");
        REQUIRE(err->server_time_ms.has_value());
        CHECK(std::abs(*err->server_time_ms - now_ms()) < 60'000);
    }
    SECTION("replayed nonce") {
        auto r = dev.signed_request("/v1/sync/pull", wire::encode_pull_request({}));
        auto first = t.send(r);
        REQUIRE(first.ok());
        CHECK(first->status == 200);
        expect_error(t, r, 401, "replayed_nonce");
    }
    SECTION("unknown device") {
        expect_error(
            t, dev.signed_request("/v1/sync/push", push_body, now_ms(), nullptr, Uuid::random()),
            401, "unknown_device");
    }
    SECTION("revoked device") {
        admin(s.data, {"revoke-device", "--device", dev.id.to_string()});
        expect_error(t, dev.signed_request("/v1/sync/push", push_body), 403, "device_revoked");
    }
    SECTION("oversized body") {
        std::string big(5u << 20, '\x90');
        expect_error(t, dev.signed_request("/v1/sync/push", big), 413, "body_too_large");
    }
    SECTION("too many transactions") {
        std::vector<Transaction> many;
        for (int i = 0; i < 1001; ++i) {
            many.push_back(absence_txn(dev, s.learner));
            many.back().stamp.hlc += static_cast<std::uint64_t>(i);
        }
        expect_error(t,
                     dev.signed_request("/v1/sync/push",
                                        wire::encode_push_request(schema, Uuid::random(), many)),
                     413, "too_many_transactions");
    }
    SECTION("malformed msgpack") {
        expect_error(t, dev.signed_request("/v1/sync/push", std::string("\xc1\xff\x00", 3)), 400,
                     "bad_request");
    }
    SECTION("deeply nested msgpack") {
        std::string deep(10'000, '\x91');
        deep += '\xc0';
        expect_error(t, dev.signed_request("/v1/sync/push", deep), 400, "too_deep");
    }
    SECTION("a pull whose device report is over the bound or negative") {
        // Hand-built, as the encoder never writes them: {"cursor": bin(0), "report": [0, x, 0]}
        // with x = 1,000,001 (uint32 0xce 000f4241), then x = -1 (negative fixint 0xff).
        const std::string head(
            "\x82\xa6"
            "cursor"
            "\xc4\x00\xa6"
            "report"
            "\x93\x00",
            19);
        for (const std::string& x : {std::string("\xce\x00\x0f\x42\x41", 5), std::string("\xff")}) {
            const std::string body = head + x + std::string(1, '\0');
            auto res = t.send(dev.signed_request("/v1/sync/pull", body));
            REQUIRE(res.ok());
            CHECK(res->status == 400);
            auto err = wire::decode_error(res->body);
            REQUIRE(err.ok());
            CHECK(err->code == "bad_request");
            CHECK(err->message.find("report.quarantined") != std::string::npos);
        }
    }
    SECTION("wrong content type") {
        auto r = dev.signed_request("/v1/sync/push", push_body);
        r.headers[0].value = "application/json";
        expect_error(t, r, 415, "unsupported_media_type");
    }
    SECTION("unknown route and wrong method") {
        expect_error(t, HttpRequest{"GET", "/v1/nothing", {}, ""}, 404, "not_found");
        expect_error(t, HttpRequest{"GET", "/v1/sync/push", {}, ""}, 405, "method_not_allowed");
    }
    SECTION("another protocol version's paths answer a msgpack error, not a web page") {
        for (const char* path : {"/v2/sync/pull", "/v2/", "/v2", "/v10/enroll", "/v1"}) {
            INFO(path);
            expect_error(t, HttpRequest{"GET", path, {}, ""}, 404, "not_found");
            expect_error(
                t, HttpRequest{"POST", path, {{"Content-Type", "application/msgpack"}}, "\x80"},
                404, "not_found");
        }
    }
    SECTION("a signed request refused for its body has used its nonce") {
        auto r = dev.signed_request("/v1/sync/push", std::string("\xc1", 1));
        expect_error(t, r, 400, "bad_request");
        expect_error(t, r, 401, "replayed_nonce");  // a retry must be signed afresh
        auto fresh = t.send(dev.signed_request("/v1/sync/pull", wire::encode_pull_request({})));
        REQUIRE(fresh.ok());
        CHECK(fresh->status == 200);
    }
    SECTION("transactions without changes or with an incomplete record are rejected alone") {
        // Hand-built: {"batch": bin(16), "txns": [[node], [t0, t1, t2]]} where t0 has no
        // groups, t1 one group whose changes array is empty, t2 a new absence without its
        // required `status` (field 3).
        Transaction good = absence_txn(dev, s.learner);
        const std::uint64_t hlc = good.stamp.hlc;
        auto bin = [](std::string_view b) {
            return nlohmann::json::binary(std::vector<std::uint8_t>(b.begin(), b.end()));
        };
        const std::string row(Uuid::random().raw());
        nlohmann::json incomplete = nlohmann::json::array(
            {hlc + 3, 0, 3, bin(row),
             nlohmann::json::array({0, s.learner, 2, "2026-11-23", 4, 2, 10, "mentor"})});
        nlohmann::json body = {
            {"batch", bin(Uuid::random().raw())},
            {"txns", nlohmann::json::array(
                         {nlohmann::json::array({bin(dev.node.raw())}),
                          nlohmann::json::array(
                              {nlohmann::json::array({hlc + 1, 0}),
                               nlohmann::json::array({hlc + 2, 0, 3, bin(Uuid::random().raw()),
                                                      nlohmann::json::array()}),
                               incomplete})})}};
        auto bytes = nlohmann::json::to_msgpack(body);
        auto res =
            t.send(dev.signed_request("/v1/sync/push", std::string(bytes.begin(), bytes.end())));
        REQUIRE(res.ok());
        INFO(res->body.substr(0, 200));
        REQUIRE(res->status == 200);
        auto answer = wire::decode_push_response(res->body);
        REQUIRE(answer.ok());
        REQUIRE(answer->results.size() == 3);
        for (const auto& r : answer->results) {
            CHECK(r.kind == wire::PushResult::Kind::rejected);
            CHECK(r.code == "invalid");
        }
        CHECK(answer->results[2].message.find("absences.status") != std::string::npos);
    }
    SECTION("a write outside the device's scope") {
        std::vector<Transaction> foreign = {absence_txn(dev, s.other_learner)};
        auto r = dev.signed_request("/v1/sync/push",
                                    wire::encode_push_request(schema, Uuid::random(), foreign));
        auto res = t.send(r);
        REQUIRE(res.ok());
        REQUIRE(res->status == 200);
        auto body = wire::decode_push_response(res->body);
        REQUIRE(body.ok());
        REQUIRE(body->results.size() == 1);
        CHECK(body->results[0].kind == wire::PushResult::Kind::rejected);
        CHECK(body->results[0].code == "out_of_scope");
    }

    // Whatever was tried above, the centre's tablet sees only what the administrator wrote:
    // two learners and their two cases.
    mstest::Tablet staff(s.dir.file("staff.db"), server.url());
    staff.enroll(s.code(s.staff), "centre tablet");
    staff.sync_ok();
    CHECK(staff.replica().status()->records == 4);
    CHECK(server.stop() == 0);
}

TEST_CASE("a device never reads another mentor's learner", "[integration][protocol]") {
    Setup s;
    mstest::ServerProcess server(s.data);
    mstest::Tablet m(s.dir.file("m.db"), server.url());
    m.enroll(s.code(s.mentor), "mentor tablet");
    m.sync_ok();
    Query q;
    q.collection = "learners";
    auto learners = m.replica().query(q);
    REQUIRE(learners->size() == 1);
    CHECK(learners->front().id.to_string() == s.learner);
    CHECK(m.replica().get("learners", *Uuid::parse(s.other_learner)).status().code() ==
          Code::not_found);
}
