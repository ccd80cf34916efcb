// What unauthenticated clients may cost, against the real server binary with its default
// limits (docs/security.md "Floods and memory"): answers from the header before a body is
// read, the enrollment body limit, connections that never send a request, and sign-ins that
// queue on their own threads. The figures under load are bench/flood_bench's.
#include <catch2/catch.hpp>

#include <atomic>
#include <nlohmann/json.hpp>
#include <thread>
#include <vector>

#include "http_client.h"
#include "server_process.h"
#include "test_support.h"

using mstest::admin;
using nlohmann::json;

namespace {

struct Env {
    mstest::TempDir dir;
    std::string data = dir.file("data");
    std::unique_ptr<mstest::ServerProcess> server;
    explicit Env(std::vector<std::string> flags = {}) {
        admin(data, {"init"});
        server = std::make_unique<mstest::ServerProcess>(data, std::move(flags));
    }
    std::uint16_t port() const { return static_cast<std::uint16_t>(server->port()); }
};

std::string post_head(const std::string& path, std::size_t length, const std::string& extra) {
    return "POST " + path + " HTTP/1.1\r\nHost: x\r\nContent-Type: application/msgpack\r\n" +
           extra + "Content-Length: " + std::to_string(length) + "\r\n\r\n";
}

}  // namespace

TEST_CASE("unsigned and unknown-device pushes are answered from the header, body unread",
          "[integration][limits]") {
    Env env;
    SECTION("no Authorization") {
        mstest::HttpClient c(env.port());
        REQUIRE(c.write_raw(post_head("/v1/sync/push", 4u << 20, "") + std::string(4096, 'x')));
        auto r = c.read_response();
        CHECK(r.status == 401);
        CHECK(r.header("connection") == "close");
    }
    SECTION("a device id that was never enrolled") {
        const std::string auth =
            "Authorization: MS1 D4-tW9nLRp-hZXCGdyiVDg.1795392000123.Xwwqnot9TDorHg-djHtqWQ." +
            std::string(86, 'A') + "\r\n";
        mstest::HttpClient c(env.port());
        REQUIRE(c.write_raw(post_head("/v1/sync/pull", 4u << 20, auth) + std::string(4096, 'x')));
        auto r = c.read_response();
        CHECK(r.status == 401);
    }
}

TEST_CASE("an enrollment body over 4 KiB is 413 body_too_large", "[integration][limits]") {
    Env env;
    mstest::HttpClient c(env.port());
    // A whole 5 KiB body, sent at once: the old limit (4 MiB) would have read and parsed it.
    auto r = c.request("POST", "/v1/enroll", std::string(5 * 1024, '\xc0'));
    CHECK(r.status == 413);
}

TEST_CASE("connections that never send a request do not lock new ones out",
          "[integration][limits]") {
    Env env({"--max-connections", "32"});
    std::vector<std::unique_ptr<mstest::HttpClient>> silent;
    for (int i = 0; i < 40; ++i)
        silent.push_back(std::make_unique<mstest::HttpClient>(env.port()));
    // Every one of these is answered: each displaces the oldest silent connection.
    for (int i = 0; i < 5; ++i) {
        mstest::HttpClient tablet(env.port());
        CHECK(tablet.request("GET", "/healthz", "", "").status == 200);
    }
}

TEST_CASE("sign-ins beyond the sign-in threads and their queue get 503 with Retry-After",
          "[integration][limits]") {
    Env env({"--signin-threads", "1", "--signin-queue", "1"});
    constexpr int kClients = 8;
    std::vector<std::thread> threads;
    std::vector<mstest::HttpResponse> answers(kClients);
    std::atomic<int> ready{0};
    for (int i = 0; i < kClients; ++i) {
        threads.emplace_back([&, i] {
            mstest::HttpClient c(env.port());
            ++ready;
            while (ready < kClients)
                std::this_thread::yield();
            answers[i] = c.request(
                "POST", "/api/v1/auth/sign-in",
                json{{"username", "nobody" + std::to_string(i)}, {"password", "x"}}.dump(),
                "application/json");
        });
    }
    for (auto& t : threads)
        t.join();
    int refused = 0, verified = 0;
    for (const auto& r : answers) {
        INFO(r.status << " " << r.body);
        if (r.status == 503) {
            ++refused;
            CHECK(json::parse(r.body)["code"] == "unavailable");
            CHECK(r.header("retry-after") == "1");
        } else {
            CHECK(r.status == 401);  // bad_credentials: a full Argon2id verification ran
            ++verified;
        }
    }
    CHECK(verified >= 1);
    CHECK(refused >= 1);
    // The server is still fine.
    mstest::HttpClient c(env.port());
    CHECK(c.request("GET", "/healthz", "", "").status == 200);
}
