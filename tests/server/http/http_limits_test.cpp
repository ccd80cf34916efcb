// What unauthenticated and over-eager clients may cost (docs/security.md "Floods and memory"):
// connection limits with displacement, the header timeout, answers from the header before a
// body is read, the body budget and the rate limits, against a real HttpServer over a
// FakeService. The limits themselves (token buckets, the budget) are tested without sockets
// at the end.
#include <condition_variable>
#include <mutex>
#include <thread>

#include <catch2/catch.hpp>

#include "http/limits.h"
#include "http_test_support.h"
#include "wait.h"

using namespace mstest;
using server::http::BodyBudget;
using server::http::client_key;
using server::http::RateLimiter;

namespace {

const std::string kAuthorization =
    "MS1 D4-tW9nLRp-hZXCGdyiVDg.1795392000123.Xwwqnot9TDorHg-djHtqWQ." + std::string(86, 'A');
const HttpClient::Headers kSigned = {{"Authorization", kAuthorization}};

std::string pull_body() {
    msgpack::sbuffer b;
    Packer pk(b);
    pk.pack_map(1);
    pack_str(pk, "cursor");
    pack_bin(pk, "");
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
    pack_str(pk, "Tablet 7");
    return to_string(b);
}

// The head of a POST that announces `length` body bytes.
std::string post_head(const std::string& path, std::size_t length, bool sign = true) {
    return "POST " + path + " HTTP/1.1\r\nHost: x\r\nContent-Type: application/msgpack\r\n" +
           (sign ? "Authorization: " + kAuthorization + "\r\n" : std::string()) +
           "Content-Length: " + std::to_string(length) + "\r\n\r\n";
}

// Holds the FakeService's push until released, so that a connection stays busy.
struct PushGate {
    std::mutex m;
    std::condition_variable cv;
    bool entered = false, open = false;
    void install(FakeService& s) {
        s.on_push = [this] {
            std::unique_lock lock(m);
            entered = true;
            cv.notify_all();
            cv.wait(lock, [this] { return open; });
        };
    }
    bool wait_entered() {
        std::unique_lock lock(m);
        return cv.wait_for(lock, std::chrono::seconds(5), [this] { return entered; });
    }
    void release() {
        {
            std::lock_guard lock(m);
            open = true;
        }
        cv.notify_all();
    }
};

}  // namespace

// --- connections ------------------------------------------------------------------------

TEST_CASE("at the connection limit a new connection displaces the oldest that sent nothing",
          "[http][limits]") {
    auto config = test_config();
    config.max_connections = 2;
    ServerFixture f(config);
    auto silent = f.client();  // connects and never sends a request
    auto tablet = f.client();
    REQUIRE(tablet.request("GET", "/healthz", "", "").status == 200);
    // A third connection: the silent one goes, the tablet's idle keep-alive one stays.
    auto newcomer = f.client();
    REQUIRE(newcomer.request("GET", "/healthz", "", "").status == 200);
    CHECK(silent.closed_within(std::chrono::seconds(3)));
    CHECK(tablet.request("GET", "/healthz", "", "").status == 200);
    const std::string metrics = newcomer.request("GET", "/metrics", "", "").body;
    CHECK_THAT(metrics, Catch::Contains("mentorsync_http_connections_displaced_total 1"));
}

TEST_CASE("with no silent connection left, the oldest idle one is displaced", "[http][limits]") {
    auto config = test_config();
    config.max_connections = 2;
    ServerFixture f(config);
    auto older = f.client();
    REQUIRE(older.request("GET", "/healthz", "", "").status == 200);
    auto younger = f.client();
    // The server marks a connection idle just after its answer went out: wait until it has
    // done so for `older` (asked over `younger`, which is busy while it asks).
    const bool older_idle = mstest::wait_until(
        [&] {
            return younger.request("GET", "/metrics", "", "")
                       .body.find("mentorsync_http_connections_waiting{phase=\"idle\"} 1") !=
                   std::string::npos;
        },
        std::chrono::seconds(5));
    REQUIRE(older_idle);
    auto newcomer = f.client();
    REQUIRE(newcomer.request("GET", "/healthz", "", "").status == 200);
    CHECK(older.closed_within(std::chrono::seconds(3)));
    CHECK(younger.request("GET", "/healthz", "", "").status == 200);
}

TEST_CASE("one address holds at most its limit and displaces only its own connections",
          "[http][limits]") {
    auto config = test_config();
    config.max_connections_per_ip = 1;
    ServerFixture f(config);
    PushGate gate;
    gate.install(f.service);
    auto other = HttpClient(f.port(), {}, "127.0.0.2");
    REQUIRE(other.request("GET", "/healthz", "", "").status == 200);

    auto first = f.client();
    REQUIRE(first.request("GET", "/healthz", "", "").status == 200);
    // Wait until the server has marked `first` idle (asked over `other`, busy while it asks).
    const bool first_idle = mstest::wait_until(
        [&] {
            return other.request("GET", "/metrics", "", "")
                       .body.find("mentorsync_http_connections_waiting{phase=\"idle\"} 1") !=
                   std::string::npos;
        },
        std::chrono::seconds(5));
    REQUIRE(first_idle);
    auto second = f.client();  // same address: the first (idle) goes
    REQUIRE(second.request("GET", "/healthz", "", "").status == 200);
    CHECK(first.closed_within(std::chrono::seconds(3)));

    // With the address's one connection busy, the next one from it is refused...
    std::thread busy([&] {
        CHECK(second.request("POST", "/v1/sync/pull?x", pull_body(), "application/msgpack", kSigned)
                  .status == 200);
        CHECK(second
                  .request("POST", "/v1/sync/push",
                           "\x82\xa5"
                           "batch\xc4\x10" +
                               std::string(16, 'b') + "\xa4txns\x92\x90\x90",
                           "application/msgpack", kSigned)
                  .status == 200);
    });
    REQUIRE(gate.wait_entered());
    auto third = f.client();
    auto r = third.read_response();
    require_error(r, 503, "unavailable");
    CHECK_THAT(decode(r.body).str("message"), Catch::Contains("this address"));
    CHECK(r.header("retry-after") == "1");
    // ...while another address is not affected.
    CHECK(other.request("GET", "/healthz", "", "").status == 200);
    gate.release();
    busy.join();
}

TEST_CASE("a new connection gets the header timeout, a kept-alive one the idle timeout",
          "[http][limits]") {
    auto config = test_config();
    config.header_timeout = std::chrono::milliseconds(300);
    ServerFixture f(config);
    SECTION("a connection that sends nothing is closed") {
        auto c = f.client();
        CHECK(c.closed_within(std::chrono::seconds(3)));
    }
    SECTION("a header sent a byte at a time is cut off at the same deadline") {
        auto c = f.client();
        const std::string head = "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ";
        REQUIRE(c.write_raw(head));
        bool closed = false;
        for (int i = 0; i < 40 && !closed; ++i) {
            // One byte, then a 100 ms wait for the server to close: slowloris' own pace.
            if (!c.write_raw("a")) break;
            closed = c.closed_within(std::chrono::milliseconds(100));
        }
        CHECK((closed || c.closed_within(std::chrono::seconds(1))));
    }
    SECTION("after a request the connection waits for the next one longer") {
        auto c = f.client();
        REQUIRE(c.request("GET", "/healthz", "", "").status == 200);
        // Still open well past the header timeout (the idle timeout is 30 s). Time has to
        // pass here: there is no event to await for a close that must not happen.
        std::this_thread::sleep_for(std::chrono::milliseconds(900));
        CHECK(c.request("GET", "/healthz", "", "").status == 200);
    }
}

// --- answers from the header ------------------------------------------------------------

TEST_CASE("a signed request the precheck refuses is answered before its body is read",
          "[http][limits]") {
    ServerFixture f;
    f.service.precheck_error =
        wire::error(wire::Error::unknown_device, "this device is not enrolled");
    f.service.now = 1795392000140;
    auto c = f.client();
    // 4 MiB announced, 1 KiB sent: the answer must come from the header alone.
    REQUIRE(c.write_raw(post_head("/v1/sync/push", 4u << 20) + std::string(1024, '\0')));
    auto r = c.read_response();
    auto d = require_error(r, 401, "unknown_device");
    CHECK(d.find("server_time_ms") != nullptr);
    CHECK(r.header("connection") == "close");
    CHECK(f.service.precheck_calls == 1);
    CHECK(f.service.last_precheck == kAuthorization);
    CHECK(f.service.calls() == 0);
}

TEST_CASE("a refused request with a small body keeps its connection", "[http][limits]") {
    ServerFixture f;
    f.service.precheck_error = wire::error(wire::Error::device_revoked, "revoked");
    auto c = f.client();
    require_error(c.request("POST", "/v1/sync/pull", pull_body(), "application/msgpack", kSigned),
                  403, "device_revoked");
    CHECK(c.request("GET", "/healthz", "", "").status == 200);
    CHECK(f.service.auth_calls == 0);
}

TEST_CASE("an enrollment body over 4 KiB is refused from the header", "[http][limits]") {
    ServerFixture f;
    auto c = f.client();
    REQUIRE(c.write_raw(post_head("/v1/enroll", 4097, false) + std::string(100, '\x80')));
    auto d = require_error(c.read_response(), 413, "body_too_large");
    CHECK_THAT(d.str("message"), Catch::Contains("4096"));
    CHECK(c.server_closed());
    // A real enrollment is ~120 bytes and passes.
    auto ok = f.client();
    CHECK(ok.request("POST", "/v1/enroll", enroll_body()).status == 200);
    CHECK(f.service.enroll_calls == 1);
}

TEST_CASE("a body to a path that takes none is not read", "[http][limits]") {
    ServerFixture f;
    auto c = f.client();
    REQUIRE(c.write_raw(post_head("/v1/sync/nothing", 4u << 20) + std::string(1024, '\0')));
    require_error(c.read_response(), 404, "not_found");
    CHECK(c.server_closed());
    CHECK(f.service.precheck_calls == 0);
}

// --- the body budget ----------------------------------------------------------------------

TEST_CASE("large bodies beyond the budget get 503 before they are read; small ones pass",
          "[http][limits]") {
    auto config = test_config();
    config.max_body_bytes = 1u << 20;
    config.body_budget_bytes = 1u << 20;  // room for one largest body
    ServerFixture f(config);
    // A client holds the whole budget: 1 MiB announced, half of it sent.
    auto holder = f.client();
    REQUIRE(holder.write_raw(post_head("/v1/sync/push", 1u << 20) + std::string(512 * 1024, 'x')));
    // Wait until the server has admitted it (the precheck runs before the reservation).
    mstest::wait_until([&] { return f.service.precheck_calls >= 1; }, std::chrono::seconds(2));
    REQUIRE(f.service.precheck_calls == 1);

    auto second = HttpClient(f.port(), {}, "127.0.0.3");
    REQUIRE(second.write_raw(post_head("/v1/sync/push", 200 * 1024) + std::string(1024, 'y')));
    auto r = second.read_response();
    auto d = require_error(r, 503, "unavailable");
    CHECK(r.header("retry-after") == "1");
    CHECK(r.header("connection") == "close");
    // A pull's body is small: never held back by the budget.
    auto tablet = f.client();
    CHECK(tablet.request("POST", "/v1/sync/pull", pull_body(), "application/msgpack", kSigned)
              .status == 200);
    CHECK(f.service.push_calls == 0);
}

// --- rate limits ----------------------------------------------------------------------------

TEST_CASE("a device over its rate gets 429 rate_limited with Retry-After", "[http][limits]") {
    auto config = test_config();
    config.device_rate_burst = 2;
    config.device_rate_per_s = 0.01;  // one request back every 100 s
    ServerFixture f(config);
    auto c = f.client();
    for (int i = 0; i < 2; ++i)
        REQUIRE(c.request("POST", "/v1/sync/pull", pull_body(), "application/msgpack", kSigned)
                    .status == 200);
    auto r = c.request("POST", "/v1/sync/pull", pull_body(), "application/msgpack", kSigned);
    auto d = require_error(r, 429, "rate_limited");
    CHECK_THAT(d.str("message"), Catch::Contains("device"));
    const int wait = std::stoi(r.header("retry-after"));
    CHECK(wait >= 90);
    CHECK(wait <= 100);
    CHECK(f.service.auth_calls == 2);  // the third was refused from its header
    CHECK(f.service.pull_calls == 2);
    // The connection goes on, and a push is refused the same way without reading its body.
    REQUIRE(c.write_raw(post_head("/v1/sync/push", 4u << 20) + std::string(1024, '\0')));
    require_error(c.read_response(), 429, "rate_limited");
    CHECK(f.service.auth_calls == 2);
}

TEST_CASE("a refused signature costs the device nothing", "[http][limits]") {
    auto config = test_config();
    config.device_rate_burst = 2;
    config.device_rate_per_s = 0.01;
    ServerFixture f(config);
    // Someone who knows the device id but not its key sends requests in its name.
    f.service.auth_error = wire::error(wire::Error::bad_signature, "no");
    f.service.now = 1;
    auto forger = f.client();
    for (int i = 0; i < 5; ++i)
        require_error(
            forger.request("POST", "/v1/sync/pull", pull_body(), "application/msgpack", kSigned),
            401, "bad_signature");
    f.service.auth_error.reset();
    auto tablet = f.client();
    CHECK(tablet.request("POST", "/v1/sync/pull", pull_body(), "application/msgpack", kSigned)
              .status == 200);
}

TEST_CASE("enrollments from one address are rate limited, other addresses are not",
          "[http][limits]") {
    auto config = test_config();
    config.ip_rate_burst = 2;
    config.ip_rate_per_s = 0.01;
    ServerFixture f(config);
    auto c = f.client();
    CHECK(c.request("POST", "/v1/enroll", enroll_body()).status == 200);
    CHECK(c.request("POST", "/v1/enroll", enroll_body()).status == 200);
    auto r = c.request("POST", "/v1/enroll", enroll_body());
    require_error(r, 429, "rate_limited");
    CHECK(std::stoi(r.header("retry-after")) >= 1);
    CHECK(f.service.enroll_calls == 2);
    auto elsewhere = HttpClient(f.port(), {}, "127.0.0.4");
    CHECK(elsewhere.request("POST", "/v1/enroll", enroll_body()).status == 200);
}

// --- the limits without sockets -------------------------------------------------------------

TEST_CASE("token buckets spend a burst, refill at their rate and may go into debt", "[limits]") {
    RateLimiter limiter(3, 2);  // burst 3, 2 per second
    const auto t0 = RateLimiter::Clock::time_point{} + std::chrono::hours(1);
    for (int i = 0; i < 3; ++i)
        CHECK(limiter.take("a", t0) == 0);
    CHECK(limiter.take("a", t0) == 1);  // half a second to the next token: 1 s rounded up
    CHECK(limiter.wait_s("a", t0 + std::chrono::milliseconds(500)) == 0);
    // wait_s only looks; charge spends, even below zero.
    CHECK(limiter.wait_s("a", t0 + std::chrono::milliseconds(500)) == 0);
    limiter.charge("a", t0 + std::chrono::milliseconds(500));
    limiter.charge("a", t0 + std::chrono::milliseconds(500));
    limiter.charge("a", t0 + std::chrono::milliseconds(500));
    // 1 - 3 = -2 tokens: 1.5 s until one is back.
    CHECK(limiter.wait_s("a", t0 + std::chrono::milliseconds(500)) == 2);
    CHECK(limiter.wait_s("a", t0 + std::chrono::milliseconds(2000)) == 0);
    // Other keys are untouched, and a full bucket never exceeds its burst.
    CHECK(limiter.take("b", t0) == 0);
    const auto later = t0 + std::chrono::hours(1);
    for (int i = 0; i < 3; ++i)
        CHECK(limiter.take("b", later) == 0);
    CHECK(limiter.take("b", later) > 0);
}

TEST_CASE("a rate limiter holds a bounded number of keys", "[limits]") {
    RateLimiter limiter(2, 1, 3);
    const auto t0 = RateLimiter::Clock::time_point{} + std::chrono::hours(1);
    for (const char* k : {"a", "b", "c"})
        CHECK(limiter.take(k, t0) == 0);
    // The table is full of keys that are not full again: a new one must wait.
    CHECK(limiter.take("d", t0) == 1);
    CHECK(limiter.keys() == 3);
    // Once the others have refilled they are forgotten and make room.
    CHECK(limiter.take("d", t0 + std::chrono::seconds(5)) == 0);
    CHECK(limiter.keys() == 1);
    // The table is swept at most once a second, not for every new key.
    RateLimiter quick(2, 10, 2);  // refills a spent token in 0.1 s
    for (const char* k : {"a", "b"})
        CHECK(quick.take(k, t0) == 0);
    CHECK(quick.take("c", t0) == 1);  // swept: nothing to forget yet
    CHECK(quick.take("c", t0 + std::chrono::milliseconds(500)) == 1);  // full again, not swept
    CHECK(quick.keys() == 2);
    CHECK(quick.take("c", t0 + std::chrono::seconds(1)) == 0);  // swept now
    CHECK(quick.keys() == 1);
}

TEST_CASE("a rate limiter with rate 0 allows everything", "[limits]") {
    RateLimiter off(1, 0);
    for (int i = 0; i < 100; ++i)
        CHECK(off.take("x") == 0);
    CHECK(off.keys() == 0);
}

TEST_CASE("the body budget counts large bodies, per address and in all", "[limits]") {
    BodyBudget budget(8u << 20, 2u << 20);  // 8 MiB; a quarter, 2 MiB, per address
    BodyBudget::Lease a1, a2, b1, b2, c1, small;
    CHECK(budget.reserve("a", 64 * 1024, small));  // small: not counted
    CHECK(budget.in_flight() == 0);
    CHECK(budget.reserve("a", 2u << 20, a1));
    CHECK_FALSE(budget.reserve("a", 100 * 1024, a2));  // the address's share is used up
    CHECK(budget.reserve("b", 2u << 20, b1));
    CHECK(budget.reserve("c", 2u << 20, c1));
    CHECK(budget.reserve("d", 2u << 20, b2));
    BodyBudget::Lease e;
    CHECK_FALSE(budget.reserve("e", 100 * 1024, e));  // the whole budget is used
    CHECK(budget.in_flight() == 8u << 20);
    a1 = BodyBudget::Lease();  // released
    CHECK(budget.in_flight() == 6u << 20);
    CHECK(budget.reserve("e", 100 * 1024, e));
    {
        BodyBudget::Lease moved = std::move(e);
        CHECK(budget.in_flight() == (6u << 20) + 100 * 1024);
    }
    CHECK(budget.in_flight() == 6u << 20);
    // An address may always hold one largest body, even when a quarter is less.
    BodyBudget tight(4u << 20, 4u << 20);
    BodyBudget::Lease t;
    CHECK(tight.reserve("a", 4u << 20, t));
}

TEST_CASE("client addresses are keyed by IPv4 address or IPv6 /64", "[limits]") {
    CHECK(client_key("192.0.2.7") == "192.0.2.7");
    CHECK(client_key("::ffff:192.0.2.7") == "192.0.2.7");
    CHECK(client_key("2001:db8:1:2:aaaa:bbbb:cccc:dddd") == "2001:db8:1:2::/64");
    CHECK(client_key("2001:db8:1:2::1") == client_key("2001:db8:1:2:ffff::9"));
    CHECK(client_key("2001:db8:1:3::1") != client_key("2001:db8:1:2::1"));
    CHECK(client_key("::1") == "::/64");
}
