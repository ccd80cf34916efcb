// What the sync endpoints answer, byte for byte, with the real SyncService behind the router:
// the (endpoint, bad input) -> (status, code, body) table, a replayed batch's answer, and a
// batch answer stored by earlier builds (nlohmann's msgpack of {"t", "r"}), which must still be
// answered after an upgrade. These pin the answers while the service's API and the stored
// format change underneath (issue 15).
#include <catch2/catch.hpp>

#include <functional>

#include "core_fixture.h"
#include "http/config.h"
#include "http/metrics.h"
#include "http/router.h"

using namespace mstest;
using namespace mentorsync::server::http;

namespace {

std::string from_hex(std::string_view h) {
    std::string out;
    for (std::size_t i = 0; i + 1 < h.size(); i += 2)
        out.push_back(static_cast<char>(std::stoi(std::string(h.substr(i, 2)), nullptr, 16)));
    return out;
}

// A push answer as an earlier build stored it in batches.response: nlohmann::json::to_msgpack
// of {"t": 1795392000123, "r": [[0,"",""], [1,"",""], [2,"out_of_scope","learners are created
// by administrators only"], [2,"invalid","contacts.duration_min: 900 is above the maximum
// 720"]]}, made by that encoder (keys sorted, "t" as uint64).
constexpr std::string_view kLegacyAnswerHex =
    "82a172949300a0a09301a0a09302ac6f75745f6f665f73636f7065d92b6c6561726e6572732061726520637265"
    "617465642062792061646d696e6973747261746f7273206f6e6c799302a7696e76616c6964d933636f6e746163"
    "74732e6475726174696f6e5f6d696e3a203930302069732061626f766520746865206d6178696d756d20373230"
    "a174cf000001a205b3d07b";
// The same encoder's answer to an empty batch at time 0.
constexpr std::string_view kLegacyEmptyHex = "82a17290a17400";

struct RouterFixture : CoreFixture {
    ServerConfig config;
    Metrics metrics;
    Router router{*service, metrics, config};

    static Request post(std::string target, std::string body) {
        Request r;
        r.method = "POST";
        r.target = std::move(target);
        r.headers = {{"Content-Type", "application/msgpack"}};
        r.body = std::move(body);
        r.client = "127.0.0.1";
        return r;
    }
    // A request of `t`, signed at `ms` (default: the server's time) with a fresh nonce.
    Request signed_post(const Tablet& t, std::string target, std::string body,
                        std::optional<std::int64_t> ms = std::nullopt,
                        std::string nonce = std::string(Uuid::random().raw())) {
        Request r = post(target, body);
        r.headers.emplace_back("Authorization",
                               wire::authorization(t.keys, "POST", target, t.who.device_id,
                                                   ms.value_or(clock->now_ms()), nonce, body));
        return r;
    }
    std::string push_body(const Tablet& t, const Uuid& batch) {
        auto txns = ok(t.replica->pending(1000));
        return wire::encode_push_request(Schema::programme(), batch, txns);
    }
};

std::string enroll_body(std::string code, std::array<std::uint8_t, 32> key, const Uuid& node,
                        std::string label = "tablet") {
    return wire::encode_enroll_request({std::move(code), key, node, std::move(label)});
}

std::array<std::uint8_t, 32> valid_key() {
    return wire::DeviceKeys::generate().public_key;
}

struct Row {
    std::string what;
    std::function<Request(RouterFixture&, Tablet&)> request;
    int status;
    std::string code;
    std::string message;
    bool server_time;  // the body carries server_time_ms (the 401s)
};

}  // namespace

TEST_CASE("every bad sync request gets its documented status, code and body bytes",
          "[http][protocol]") {
    const std::vector<Row> rows = {
        {"a known path with the wrong method",
         [](RouterFixture&, Tablet&) {
             Request r = RouterFixture::post("/v1/sync/push", "");
             r.method = "GET";
             return r;
         },
         405, "method_not_allowed", "use POST for this endpoint", false},
        {"an unknown protocol path",
         [](RouterFixture&, Tablet&) { return RouterFixture::post("/v2/enroll", ""); }, 404,
         "not_found", "no such endpoint", false},
        {"a body that is not msgpack",
         [](RouterFixture&, Tablet&) {
             Request r = RouterFixture::post("/v1/enroll", "{}");
             r.headers = {{"Content-Type", "application/json"}};
             return r;
         },
         415, "unsupported_media_type", "the Content-Type must be application/msgpack", false},
        {"an enroll body that does not decode",
         [](RouterFixture&, Tablet&) { return RouterFixture::post("/v1/enroll", "\xc1"); }, 400,
         "bad_request", "enroll request: is not valid msgpack", false},
        {"an enroll body nested too deep",
         [](RouterFixture&, Tablet&) {
             return RouterFixture::post("/v1/enroll", std::string(40, '\x91') + '\x01');
         },
         400, "too_deep", "enroll request: msgpack is nested deeper than 16 levels", false},
        {"an unknown enrollment code",
         [](RouterFixture&, Tablet&) {
             return RouterFixture::post("/v1/enroll",
                                        enroll_body("AAAA-BBBB-CCCC", valid_key(), Uuid::random()));
         },
         403, "enrollment_invalid", "the enrollment code is unknown, used or expired", false},
        {"a nil node",
         [](RouterFixture& f, Tablet&) {
             return RouterFixture::post("/v1/enroll",
                                        enroll_body(f.code_for(f.mentor1), valid_key(), Uuid()));
         },
         400, "bad_request", "node: nil id", false},
        {"a public key that is no Ed25519 point",
         [](RouterFixture& f, Tablet&) {
             return RouterFixture::post("/v1/enroll",
                                        enroll_body(f.code_for(f.mentor1), {}, Uuid::random()));
         },
         400, "bad_request", "public_key: not a valid Ed25519 public key", false},
        {"a label over 100 characters",
         [](RouterFixture& f, Tablet&) {
             return RouterFixture::post(
                 "/v1/enroll", enroll_body(f.code_for(f.mentor1), valid_key(), Uuid::random(),
                                           std::string(101, 'x')));
         },
         400, "bad_request", "enroll request.label: has 101 characters, more than 100", false},
        {"a node already bound to a device",
         [](RouterFixture& f, Tablet& t) {
             return RouterFixture::post(
                 "/v1/enroll", enroll_body(f.code_for(f.mentor1), valid_key(), t.who.node));
         },
         409, "node_in_use",
         "this replica's node id is already bound to another device; a new replica is needed",
         false},
        {"a push without Authorization",
         [](RouterFixture& f, Tablet& t) {
             return RouterFixture::post("/v1/sync/push", f.push_body(t, Uuid::random()));
         },
         401, "unsigned", "Authorization: missing or not of the MS1 scheme", true},
        {"a push from a device that is not enrolled",
         [](RouterFixture& f, Tablet& t) {
             Tablet stranger;
             stranger.keys = wire::DeviceKeys::generate();
             stranger.who = t.who;
             stranger.who.device_id = Uuid::random();
             return f.signed_post(stranger, "/v1/sync/push", f.push_body(t, Uuid::random()));
         },
         401, "unknown_device", "this device is not enrolled", true},
        {"a push whose signature does not verify",
         [](RouterFixture& f, Tablet& t) {
             Tablet forger = {nullptr, wire::DeviceKeys::generate(), t.who, {}};
             return f.signed_post(forger, "/v1/sync/push", f.push_body(t, Uuid::random()));
         },
         401, "bad_signature", "the request signature does not verify", true},
        {"a push signed 301 s ago",
         [](RouterFixture& f, Tablet& t) {
             return f.signed_post(t, "/v1/sync/push", f.push_body(t, Uuid::random()),
                                  f.clock->now_ms() - 301'000);
         },
         401, "stale_timestamp", "the request timestamp is more than 300 s from the server's clock",
         true},
        {"a push whose nonce was used",
         [](RouterFixture& f, Tablet& t) {
             const std::string nonce(Uuid::random().raw());
             const std::string body = f.push_body(t, Uuid::random());
             REQUIRE(f.router.handle(f.signed_post(t, "/v1/sync/push", body, {}, nonce)).status ==
                     200);
             return f.signed_post(t, "/v1/sync/push", body, {}, nonce);
         },
         401, "replayed_nonce", "this nonce was already used", true},
        {"a signed push body that does not decode",
         [](RouterFixture& f, Tablet& t) { return f.signed_post(t, "/v1/sync/push", "\x80"); }, 400,
         "bad_request", "push request: required key 'batch' is missing", false},
        {"a batch id used before with other content",
         [](RouterFixture& f, Tablet& t) {
             const Uuid batch = Uuid::random();
             REQUIRE(
                 f.router.handle(f.signed_post(t, "/v1/sync/push", f.push_body(t, batch))).status ==
                 200);
             REQUIRE(t.replica->create("absences", absence_fields(f.learner1)).ok());
             return f.signed_post(t, "/v1/sync/push", f.push_body(t, batch));
         },
         409, "batch_mismatch", "this batch id was used before with different content", false},
        {"a pull with a cursor this server did not issue",
         [](RouterFixture& f, Tablet& t) {
             return f.signed_post(t, "/v1/sync/pull",
                                  wire::encode_pull_request({std::string(40, 'c'), {}, {}}));
         },
         400, "bad_request", "cursor: not a cursor this server issued to this device", false},
        {"a revoked device",
         [](RouterFixture& f, Tablet& t) {
             REQUIRE(f.admin->revoke_device(t.who.device_id).ok());
             return f.signed_post(t, "/v1/sync/pull", wire::encode_pull_request({}));
         },
         403, "device_revoked", "this device was revoked by an administrator", false},
    };
    for (const Row& row : rows) {
        DYNAMIC_SECTION(row.what) {
            RouterFixture f;
            Tablet t = f.tablet(f.mentor1);
            REQUIRE(t.replica->create("contacts", contact_fields(f.learner1)).ok());
            const Request rq = row.request(f, t);
            const Response r = f.router.handle(rq);
            CHECK(r.status == row.status);
            CHECK(r.error_code == row.code);
            CHECK(r.content_type == "application/msgpack");
            std::optional<std::int64_t> t_ms;
            if (row.server_time) t_ms = f.clock->now_ms();
            CHECK(r.body == wire::encode_error({row.code, row.message, t_ms}));
            auto body = wire::decode_error(r.body);
            REQUIRE(body.ok());
            CHECK(body->code == row.code);
            CHECK(body->message == row.message);
        }
    }
}

TEST_CASE("a signed header is refused before its body with the answer the body would get",
          "[http][protocol]") {
    RouterFixture f;
    Tablet t = f.tablet(f.mentor1);
    auto head_answer = [&](Request rq) {
        const std::uint64_t length = rq.body.size();
        rq.body.clear();
        HeadCheck h = f.router.check_head(rq, length, length > 0);
        REQUIRE(h.answer);
        return *h.answer;
    };
    SECTION("an Authorization header that is not the protocol's") {
        Request rq = RouterFixture::post("/v1/sync/push", "\x80");
        rq.headers.emplace_back("Authorization", "Bearer abc");
        Response r = head_answer(rq);
        CHECK(r.status == 401);
        CHECK(r.body ==
              wire::encode_error({"unsigned", "Authorization: missing or not of the MS1 scheme",
                                  f.clock->now_ms()}));
    }
    SECTION("a device that is not enrolled") {
        Tablet stranger = {nullptr, wire::DeviceKeys::generate(), t.who, {}};
        stranger.who.device_id = Uuid::random();
        Response r = head_answer(f.signed_post(stranger, "/v1/sync/push", "\x80"));
        CHECK(r.status == 401);
        CHECK(r.body == wire::encode_error(
                            {"unknown_device", "this device is not enrolled", f.clock->now_ms()}));
    }
    SECTION("a stale timestamp, even with a signature that would not verify") {
        Tablet forger = {nullptr, wire::DeviceKeys::generate(), t.who, {}};
        Response r = head_answer(
            f.signed_post(forger, "/v1/sync/pull", "\x80", f.clock->now_ms() + 400'000));
        CHECK(r.status == 401);
        CHECK(r.body == wire::encode_error({"stale_timestamp",
                                            "the request timestamp is more than 300 s from the "
                                            "server's clock",
                                            f.clock->now_ms()}));
    }
    SECTION("a revoked device") {
        REQUIRE(f.admin->revoke_device(t.who.device_id).ok());
        Response r = head_answer(f.signed_post(t, "/v1/sync/pull", "\x80"));
        CHECK(r.status == 403);
        CHECK(r.body == wire::encode_error(
                            {"device_revoked", "this device was revoked by an administrator", {}}));
    }
}

TEST_CASE("a replayed batch answers with the first answer's bytes", "[http][protocol]") {
    RouterFixture f;
    Tablet t = f.tablet(f.mentor1);
    REQUIRE(t.replica->create("contacts", contact_fields(f.learner1)).ok());
    REQUIRE(t.replica->create("learners", learner_fields("New Learner")).ok());  // rejected
    const Uuid batch = Uuid::random();
    const std::string body = f.push_body(t, batch);
    const Response first = f.router.handle(f.signed_post(t, "/v1/sync/push", body));
    REQUIRE(first.status == 200);
    auto decoded = wire::decode_push_response(first.body);
    REQUIRE(decoded.ok());
    REQUIRE(decoded->results.size() == 2);
    CHECK(decoded->results[1].kind == wire::PushResult::Kind::rejected);

    f.clock->advance(5'000);  // the replay's answer keeps the first answer's server time
    const Response again = f.router.handle(f.signed_post(t, "/v1/sync/push", body));
    CHECK(again.status == 200);
    CHECK(again.body == first.body);
}

TEST_CASE("a batch answer stored by an earlier build is answered from its old encoding",
          "[http][protocol]") {
    RouterFixture f;
    Tablet t = f.tablet(f.mentor1);
    REQUIRE(t.replica->create("contacts", contact_fields(f.learner1)).ok());
    const Uuid batch = Uuid::random();
    const std::string body = f.push_body(t, batch);
    const std::string hash = wire::sha256_hex(body);

    SECTION("a batch with results of every kind") {
        REQUIRE(f.store
                    ->add_batch(t.who.device_id, batch,
                                StoredBatch{hash, from_hex(kLegacyAnswerHex)}, f.clock->now_ms())
                    .ok());
        const Response r = f.router.handle(f.signed_post(t, "/v1/sync/push", body));
        REQUIRE(r.status == 200);
        wire::PushResponse expected;
        expected.server_time_ms = 1795392000123;
        expected.results = {
            {wire::PushResult::Kind::accepted, "", ""},
            {wire::PushResult::Kind::held, "", ""},
            {wire::PushResult::Kind::rejected, "out_of_scope",
             "learners are created by administrators only"},
            {wire::PushResult::Kind::rejected, "invalid",
             "contacts.duration_min: 900 is above the maximum 720"},
        };
        CHECK(r.body == wire::encode_push_response(expected));
    }
    SECTION("an empty batch") {
        REQUIRE(f.store
                    ->add_batch(t.who.device_id, batch,
                                StoredBatch{hash, from_hex(kLegacyEmptyHex)}, f.clock->now_ms())
                    .ok());
        const Response r = f.router.handle(f.signed_post(t, "/v1/sync/push", body));
        REQUIRE(r.status == 200);
        CHECK(r.body == wire::encode_push_response({}));
    }
    SECTION("a stored answer that does not decode is a server fault, not a guess") {
        REQUIRE(f.store
                    ->add_batch(t.who.device_id, batch, StoredBatch{hash, "\x82\xa1"},
                                f.clock->now_ms())
                    .ok());
        const Response r = f.router.handle(f.signed_post(t, "/v1/sync/push", body));
        CHECK(r.status == 500);
        CHECK(r.error_code == "internal");
    }
}
