// Server lifecycle: graceful shutdown with requests in flight, idle connections, TLS, and
// start-up errors.
#include <chrono>
#include <future>
#include <thread>

#include <catch2/catch.hpp>

#include "http_test_support.h"
#include "mentorsync/wire.h"
#include "test_support.h"
#include "wait.h"

using namespace mstest;
using namespace std::chrono_literals;

namespace {

// A well-formed Authorization header (docs/protocol.md §5); the fake service does not verify it.
const std::string kAuthorization =
    "MS1 D4-tW9nLRp-hZXCGdyiVDg.1795392000123.Xwwqnot9TDorHg-djHtqWQ." + std::string(86, 'A');
const HttpClient::Headers kSigned = {{"Authorization", kAuthorization}};

std::string empty_push_body() {
    msgpack::sbuffer b;
    Packer pk(b);
    pk.pack_map(2);
    pack_str(pk, "batch");
    pack_bin(pk, Uuid::random().raw());
    pack_str(pk, "txns");
    const std::string raw = wire::encode_transactions(Schema::programme(), {});
    b.write(raw.data(), raw.size());
    return to_string(b);
}

// Lets a test hold a service call until it says go.
struct Gate {
    std::promise<void> entered;
    std::promise<void> open;
    std::shared_future<void> release = open.get_future().share();
};

}  // namespace

TEST_CASE("graceful shutdown finishes a request in flight, then stops", "[http]") {
    ServerFixture f;
    Gate gate;
    auto entered = gate.entered.get_future();
    f.service.on_push = [&gate] {
        gate.entered.set_value();
        gate.release.wait();
    };
    auto client = f.client();
    auto idle = f.client();  // a kept-alive connection with nothing to do
    REQUIRE(idle.request("GET", "/healthz", "", "").status == 200);

    auto in_flight = std::async(std::launch::async, [&] {
        return client.request("POST", "/v1/sync/push", empty_push_body(), "application/msgpack",
                              kSigned);
    });
    REQUIRE(entered.wait_for(5s) == std::future_status::ready);

    f.server.request_stop();
    // The idle connection is closed at once; new connections are refused (once the acceptor,
    // closed on the server's own thread, is gone).
    CHECK(idle.server_closed());
    CHECK(wait_until(
        [&] {
            try {
                HttpClient probe(f.port());
                return false;
            } catch (...) {
                return true;
            }
        },
        5s));
    CHECK_THROWS(HttpClient(f.port()));

    gate.open.set_value();
    auto r = in_flight.get();
    CHECK(r.status == 200);
    CHECK(r.header("connection") == "close");
    f.server.wait();
    // Stopped because the request finished, not because the shutdown timeout (5 s) ran out.
    CHECK_THAT(f.log.all(), !Catch::Contains("\"event\":\"shutdown_timeout\""));
    CHECK(f.service.push_calls == 1);
    CHECK_THAT(f.log.all(), Catch::Contains("\"event\":\"shutdown_complete\""));
}

TEST_CASE("shutdown gives up on a request that outlasts the timeout", "[http]") {
    auto config = test_config();
    config.shutdown_timeout = 100ms;
    ServerFixture f(config);
    Gate gate;
    auto entered = gate.entered.get_future();
    f.service.on_push = [&gate] {
        gate.entered.set_value();
        gate.release.wait();
    };
    auto client = f.client();
    auto in_flight = std::async(std::launch::async, [&] {
        return client.request("POST", "/v1/sync/push", empty_push_body(), "application/msgpack",
                              kSigned);
    });
    REQUIRE(entered.wait_for(5s) == std::future_status::ready);
    f.server.request_stop();
    // The stuck call is abandoned after timeout + 1 s of forced closing.
    CHECK(f.log.wait_for("\"event\":\"shutdown_timeout\"", 5s));
    CHECK_THAT(f.log.all(), Catch::Contains("\"event\":\"shutdown_timeout\""));
    gate.open.set_value();
    f.server.wait();
    in_flight.get();
}

TEST_CASE("a slow service call holds only its own request, not the io thread", "[http]") {
    // One io thread: were the service call run on it, as before the store pool, the health
    // check on the second connection would wait for the stuck push.
    auto config = test_config();
    config.threads = 1;
    config.store_threads = 2;
    ServerFixture f(config);
    Gate gate;
    auto entered = gate.entered.get_future();
    f.service.on_push = [&gate] {
        gate.entered.set_value();
        gate.release.wait();
    };
    auto pusher = f.client();
    auto stuck = std::async(std::launch::async, [&] {
        return pusher.request("POST", "/v1/sync/push", empty_push_body(), "application/msgpack",
                              kSigned);
    });
    REQUIRE(entered.wait_for(5s) == std::future_status::ready);
    auto other = f.client();
    auto health = std::async(std::launch::async,
                             [&] { return other.request("GET", "/healthz", "", "").status; });
    const bool answered = health.wait_for(5s) == std::future_status::ready;
    gate.open.set_value();
    CHECK(answered);
    CHECK(health.get() == 200);
    CHECK(stuck.get().status == 200);
}

TEST_CASE("TLS serves requests with a throwaway self-signed certificate", "[http]") {
    TempDir dir;
    const SelfSignedCert cert = make_self_signed_cert(dir.path().string());
    auto config = test_config();
    config.tls_cert_file = cert.cert_file;
    config.tls_key_file = cert.key_file;
    ServerFixture f(config);
    HttpClient c(f.port(), cert.cert_pem);
    auto r = c.request("GET", "/healthz", "", "");
    CHECK(r.status == 200);
    CHECK(r.body == "ok\n");
    auto p = c.request("POST", "/v1/sync/push", empty_push_body(), "application/msgpack", kSigned);
    CHECK(p.status == 200);
    require_error(c.request("GET", "/v1/nowhere", "", ""), 404, "not_found");
    CHECK_THAT(f.log.all(), Catch::Contains("\"tls\":true"));

    // A plain-HTTP client gets no answer from a TLS port.
    HttpClient plain(f.port());
    CHECK(plain.request("GET", "/healthz", "", "").status == 0);
}

TEST_CASE("start-up errors are reported, not thrown", "[http]") {
    FakeService service;
    LogCapture log;
    SECTION("an address that is not an IP") {
        auto config = test_config();
        config.address = "sync.example.lv";
        server::http::HttpServer s(config, service, log.logger());
        auto st = s.start();
        CHECK(st.code() == Code::invalid_argument);
    }
    SECTION("a port in use") {
        ServerFixture first;
        auto config = test_config();
        config.port = first.port();
        server::http::HttpServer s(config, service, log.logger());
        auto st = s.start();
        CHECK(st.code() == Code::io);
    }
    SECTION("missing TLS files") {
        auto config = test_config();
        config.tls_cert_file = "/nonexistent/cert.pem";
        config.tls_key_file = "/nonexistent/key.pem";
        server::http::HttpServer s(config, service, log.logger());
        auto st = s.start();
        CHECK_FALSE(st.ok());
        CHECK_THAT(st.message(), Catch::Contains("/nonexistent/cert.pem"));
    }
}

TEST_CASE("listen addresses parse as ADDR:PORT", "[http]") {
    using server::http::parse_listen;
    CHECK(parse_listen("127.0.0.1:8443").value() ==
          std::pair<std::string, std::uint16_t>("127.0.0.1", 8443));
    CHECK(parse_listen("[::1]:0").value() == std::pair<std::string, std::uint16_t>("::1", 0));
    CHECK_FALSE(parse_listen("127.0.0.1").ok());
    CHECK_FALSE(parse_listen("127.0.0.1:65536").ok());
    CHECK_FALSE(parse_listen("::1:80").ok());
    CHECK_FALSE(parse_listen(":80").ok());
}
