// Enrollment (protocol §4) and signed requests (§5): every refusal with its documented code.
#include <functional>
#include "core_fixture.h"

using namespace mstest;

namespace {

wire::EnrollRequest enroll_request(const std::string& code, const Uuid& node) {
    auto keys = wire::DeviceKeys::generate();
    return wire::EnrollRequest{code, keys.public_key, node, "Ilze's tablet"};
}

}  // namespace

TEST_CASE("an enrollment code binds one device and works only once", "[server]") {
    CoreFixture f;
    const std::string code = f.code_for(f.mentor1);
    auto first = f.service->enroll(enroll_request(code, Uuid::random()));
    REQUIRE(first.ok());
    CHECK(first->user_id == f.mentor1);
    CHECK(first->role == role_name(Role::mentor));
    CHECK(first->server_time_ms == f.clock->now_ms());

    auto again = f.service->enroll(enroll_request(code, Uuid::random()));
    REQUIRE_FALSE(again.ok());
    CHECK(http_status_of(again) == 403);
    CHECK(error_code(again) == "enrollment_invalid");
}

TEST_CASE("enrollment codes are case-insensitive and ignore dashes", "[server]") {
    CoreFixture f;
    std::string code = f.code_for(f.staff);
    std::string typed;
    for (char c : code)
        if (c != '-') typed.push_back(static_cast<char>(std::tolower(c)));
    auto r = f.service->enroll(enroll_request(typed, Uuid::random()));
    REQUIRE(r.ok());
    CHECK(r->role == role_name(Role::centre_staff));
}

TEST_CASE("an enrollment code expires 72 hours after issue", "[server]") {
    CoreFixture f;
    const std::string code = f.code_for(f.mentor1);
    f.clock->advance(kEnrollmentCodeLifetimeMs);
    auto r = f.service->enroll(enroll_request(code, Uuid::random()));
    REQUIRE_FALSE(r.ok());
    CHECK(error_code(r) == "enrollment_invalid");
}

TEST_CASE("an unknown enrollment code gets the same answer as a used one", "[server]") {
    CoreFixture f;
    auto r = f.service->enroll(enroll_request("AAAA-BBBB-CCCC-DDDD", Uuid::random()));
    REQUIRE_FALSE(r.ok());
    CHECK(http_status_of(r) == 403);
    CHECK(error_code(r) == "enrollment_invalid");
}

TEST_CASE("a node already bound to a device is node_in_use and the code stays unused", "[server]") {
    CoreFixture f;
    const Uuid node = Uuid::random();
    REQUIRE(f.service->enroll(enroll_request(f.code_for(f.mentor1), node)).ok());
    const std::string second = f.code_for(f.mentor1);
    auto clash = f.service->enroll(enroll_request(second, node));
    REQUIRE_FALSE(clash.ok());
    CHECK(http_status_of(clash) == 409);
    CHECK(error_code(clash) == "node_in_use");
    // Nothing was stored: the code still works for a fresh replica.
    CHECK(f.service->enroll(enroll_request(second, Uuid::random())).ok());
}

TEST_CASE("enrollment rejects malformed requests with bad_request", "[server]") {
    CoreFixture f;
    const std::string code = f.code_for(f.mentor1);
    auto req = enroll_request(code, Uuid::random());
    req.label = std::string(101, 'x');
    CHECK(error_code(f.service->enroll(req)) == "bad_request");
    req = enroll_request(code, Uuid{});
    CHECK(error_code(f.service->enroll(req)) == "bad_request");
    req = enroll_request(code, Uuid::random());
    req.public_key.fill(0);
    CHECK(error_code(f.service->enroll(req)) == "bad_request");
    // None of these consumed the code.
    CHECK(f.service->enroll(enroll_request(code, Uuid::random())).ok());
}

TEST_CASE("only mentors and centre staff get enrollment codes", "[server]") {
    CoreFixture f;
    Uuid coordinator = CoreFixture::ok(f.admin->add_user(Role::coordinator, {}, "Koordinatore"));
    auto r = f.admin->issue_enrollment_code(coordinator);
    REQUIRE_FALSE(r.ok());
    CHECK(r.status().code() == Code::invalid_argument);
    CHECK_FALSE(f.admin->issue_enrollment_code(Uuid::random()).ok());
}

TEST_CASE("a correctly signed request authenticates its device", "[server]") {
    CoreFixture f;
    Tablet t = f.tablet(f.mentor1);
    auto r = f.service->authenticate(f.signed_request(t, "body"));
    INFO(r.status().message());
    REQUIRE(r.ok());
    CHECK(r->device_id == t.who.device_id);
    CHECK(r->user_id == f.mentor1);
    CHECK(r->node == t.replica->node());
    auto devices = CoreFixture::ok(f.admin->list_devices());
    REQUIRE(devices.size() == 1);
    CHECK(devices[0].last_seen_ms == f.clock->now_ms());
}

TEST_CASE("authentication refuses each bad request with the documented code", "[server]") {
    CoreFixture f;
    Tablet t = f.tablet(f.mentor1);
    auto expect = [&](const SignedRequest& rq, int status, const std::string& code) {
        auto r = f.service->authenticate(rq);
        INFO(code);
        REQUIRE_FALSE(r.ok());
        CHECK(http_status_of(r) == status);
        CHECK(error_code(r) == code);
        // The HTTP layer puts the service's time into a 401's body (sync_answers_test).
        if (status == 401) CHECK(f.service->now_ms() == f.clock->now_ms());
    };

    // The request with one part of its Authorization header changed.
    auto with = [&](SignedRequest rq, const std::function<void(wire::Credentials&)>& change) {
        auto c = wire::parse_authorization(rq.authorization);
        REQUIRE(c.ok());
        change(*c);
        rq.authorization = authorization_of(*c);
        return rq;
    };

    SECTION("unsigned: a missing or malformed header") {
        SignedRequest none = f.signed_request(t, "b");
        none.authorization.clear();
        expect(none, 401, "unsigned");
        for (int which = 0; which < 4; ++which) {
            expect(with(f.signed_request(t, "b"),
                        [&](wire::Credentials& c) {
                            std::string* part[] = {&c.device, &c.timestamp, &c.nonce, &c.signature};
                            part[which]->clear();
                        }),
                   401, "unsigned");
        }
        SignedRequest scheme = f.signed_request(t, "b");
        scheme.authorization.replace(0, 3, "MS2");
        expect(scheme, 401, "unsigned");
        // The standard base64 alphabet is not base64url.
        expect(with(f.signed_request(t, "b"), [](wire::Credentials& c) { c.device[0] = '+'; }), 401,
               "unsigned");
        expect(with(f.signed_request(t, "b"), [](wire::Credentials& c) { c.nonce.pop_back(); }),
               401, "unsigned");
        expect(with(f.signed_request(t, "b"), [](wire::Credentials& c) { c.timestamp = "12ab"; }),
               401, "unsigned");
        expect(with(f.signed_request(t, "b"), [](wire::Credentials& c) { c.signature += "A"; }),
               401, "unsigned");
    }
    SECTION("unknown_device") {
        expect(with(f.signed_request(t, "b"),
                    [](wire::Credentials& c) { c.device = wire::base64url(Uuid::random().raw()); }),
               401, "unknown_device");
    }
    SECTION("device_revoked comes before the signature check") {
        REQUIRE(f.admin->revoke_device(t.who.device_id).ok());
        expect(with(f.signed_request(t, "b"),
                    [](wire::Credentials& c) { c.signature = std::string(86, 'A'); }),
               403, "device_revoked");
    }
    SECTION("bad_signature: the body, path or another key") {
        SignedRequest rq = f.signed_request(t, "original body");
        rq.body = "altered body";
        expect(rq, 401, "bad_signature");
        SignedRequest path = f.signed_request(t, "b");
        path.path = "/v1/sync/pull";
        expect(path, 401, "bad_signature");
        Tablet other = f.tablet(f.mentor1);
        expect(
            with(f.signed_request(other, "b"),
                 [&](wire::Credentials& c) { c.device = wire::base64url(t.who.device_id.raw()); }),
            401, "bad_signature");
    }
    SECTION("stale_timestamp both ways, after the signature") {
        SignedRequest ahead = f.signed_request(t, "b");
        SignedRequest behind = f.signed_request(t, "b");
        f.clock->advance(-(wire::kSignatureWindowMs + 1));
        expect(ahead, 401, "stale_timestamp");
        f.clock->advance(2 * (wire::kSignatureWindowMs + 1));
        expect(behind, 401, "stale_timestamp");
        // Exactly at the window's edge is still fine.
        SignedRequest edge = f.signed_request(t, "b");
        f.clock->advance(wire::kSignatureWindowMs);
        CHECK(f.service->authenticate(edge).ok());
    }
    SECTION("replayed_nonce, while a new nonce passes") {
        SignedRequest rq = f.signed_request(t, "b");
        REQUIRE(f.service->authenticate(rq).ok());
        expect(rq, 401, "replayed_nonce");
        CHECK(f.service->authenticate(f.signed_request(t, "b")).ok());
    }
}

TEST_CASE("an enrollment label that is not UTF-8 is bad_request, and 100 characters are counted",
          "[server]") {
    // The HTTP decoder refuses such a label already; the service, which other callers reach
    // directly, counts characters the same validating way (common::utf8_length).
    CoreFixture f;
    const std::string code = f.code_for(f.mentor1);
    auto req = enroll_request(code, Uuid::random());
    req.label = std::string(10, '\xc4');  // lead bytes without their continuation bytes
    auto r = f.service->enroll(req);
    CHECK(error_code(r) == "bad_request");
    CHECK(r.status().message() == "label: not valid UTF-8");
    req.label.clear();
    for (int i = 0; i < 100; ++i)
        req.label += "\xc4\x81";  // 100 characters, 200 bytes
    CHECK(f.service->enroll(req).ok());
}
