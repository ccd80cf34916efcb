// The built-in HTTP transport on its own, against a scripted loopback server that closes or
// stalls a kept-alive connection on cue: a resend is built anew (a signed request never goes out
// twice with the same nonce), and a timeout is reported rather than waited out twice.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include <atomic>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "http_transport.h"

using namespace mentorsync;

namespace {

// What the scripted server does with one request.
enum class Act {
    answer,    // 200 "ok", keeping the connection alive
    close,     // read it, then close the connection without a word (a stale keep-alive)
    stall,     // read it and never answer, until the client gives up
    throttle,  // 429 rate_limited with Retry-After: 7 (and an error body), kept alive
};

// A loopback HTTP/1.1 server that follows a script: (connection number, request number on that
// connection), both from 0, to the Act for that request. Records every request's Authorization
// header (empty if none).
class ScriptedServer {
  public:
    explicit ScriptedServer(std::function<Act(int, int)> script) : script_(std::move(script)) {
        listen_fd_ = socket(AF_INET, SOCK_STREAM, 0);
        REQUIRE(listen_fd_ >= 0);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        REQUIRE(bind(listen_fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
        REQUIRE(listen(listen_fd_, 8) == 0);
        socklen_t len = sizeof a;
        getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&a), &len);
        port_ = ntohs(a.sin_port);
        acceptor_ = std::thread([this] {
            while (!stopping_) {
                pollfd p{listen_fd_, POLLIN, 0};
                if (poll(&p, 1, 50) <= 0) continue;
                int fd = accept(listen_fd_, nullptr, nullptr);
                if (fd < 0) continue;
                const int n = connections_++;
                workers_.emplace_back([this, fd, n] { serve(fd, n); });
            }
        });
    }
    ~ScriptedServer() {
        stopping_ = true;
        acceptor_.join();
        for (auto& w : workers_)
            w.join();
        close(listen_fd_);
    }
    ScriptedServer(const ScriptedServer&) = delete;
    ScriptedServer& operator=(const ScriptedServer&) = delete;

    std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
    int connections() const { return connections_; }
    std::vector<std::string> authorizations() const {
        std::lock_guard g(mu_);
        return authorizations_;
    }

  private:
    // Reads one request (head and Content-Length body); false when the peer closed first.
    bool read_request(int fd, std::string& buffered, std::string& head) {
        char buf[4096];
        for (;;) {
            auto end = buffered.find("\r\n\r\n");
            if (end != std::string::npos) {
                head = buffered.substr(0, end + 2);
                std::size_t body = 0;
                if (auto at = head.find("Content-Length: "); at != std::string::npos)
                    body = std::stoul(head.substr(at + 16));
                if (buffered.size() >= end + 4 + body) {
                    buffered.erase(0, end + 4 + body);
                    return true;
                }
            }
            pollfd p{fd, POLLIN, 0};
            if (poll(&p, 1, 50) <= 0) {
                if (stopping_) return false;
                continue;
            }
            ssize_t n = read(fd, buf, sizeof buf);
            if (n <= 0) return false;
            buffered.append(buf, static_cast<std::size_t>(n));
        }
    }

    void serve(int fd, int connection) {
        std::string buffered, head;
        for (int request = 0; read_request(fd, buffered, head); ++request) {
            std::string auth;
            if (auto at = head.find("\r\nAuthorization: "); at != std::string::npos) {
                auto from = at + 17;
                auth = head.substr(from, head.find("\r\n", from) - from);
            }
            {
                std::lock_guard g(mu_);
                authorizations_.push_back(auth);
            }
            const Act act = script_(connection, request);
            if (act == Act::close) break;
            if (act == Act::stall) {  // until the client hangs up
                while (read_request(fd, buffered, head)) {
                }
                break;
            }
            static const std::string kOk =
                "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: keep-alive\r\n\r\nok";
            static const std::string kThrottled = [] {
                const std::string body = wire::encode_error({"rate_limited", "slow down", {}});
                return "HTTP/1.1 429 Too Many Requests\r\nRetry-After: 7\r\nContent-Length: " +
                       std::to_string(body.size()) + "\r\nConnection: keep-alive\r\n\r\n" + body;
            }();
            const std::string& answer = act == Act::throttle ? kThrottled : kOk;
            if (write(fd, answer.data(), answer.size()) != static_cast<ssize_t>(answer.size()))
                break;
        }
        close(fd);
    }

    std::function<Act(int, int)> script_;
    int listen_fd_ = -1;
    int port_ = 0;
    std::atomic<bool> stopping_{false};
    std::atomic<int> connections_{0};
    std::thread acceptor_;
    std::vector<std::thread> workers_;  // only the acceptor adds; joined after it stopped
    mutable std::mutex mu_;
    std::vector<std::string> authorizations_;  // guarded by mu_
};

HttpRequest post(std::string authorization = {}) {
    HttpRequest r{"POST", "/v1/sync/pull", {{"Content-Type", "application/msgpack"}}, "\x80"};
    if (!authorization.empty()) r.headers.push_back({"Authorization", std::move(authorization)});
    return r;
}

// The first request of the second connection on, everything is answered; the first
// connection answers its first request and closes on the second (idle keep-alive closed).
Act stale_after_one(int connection, int request) {
    return connection == 0 && request == 1 ? Act::close : Act::answer;
}

}  // namespace

TEST_CASE("a resend on a new connection is built anew, so it never repeats a nonce",
          "[integration][transport]") {
    ScriptedServer server(stale_after_one);
    client::HttpTransport t(*client::Endpoint::parse(server.url()));
    int built = 0;
    auto build = [&]() -> Result<HttpRequest> {
        ++built;
        return post("MS1 device.1795392000000.nonce" + std::to_string(built) + ".signature");
    };
    auto first = t.send(build);
    REQUIRE(first.ok());
    CHECK(first->status == 200);
    auto second = t.send(build);  // the kept-alive connection is closed under it
    REQUIRE(second.ok());
    CHECK(second->status == 200);
    CHECK(built == 3);
    CHECK(server.connections() == 2);
    CHECK(server.authorizations() ==
          std::vector<std::string>{"MS1 device.1795392000000.nonce1.signature",
                                   "MS1 device.1795392000000.nonce2.signature",
                                   "MS1 device.1795392000000.nonce3.signature"});

    // A builder's failure is returned as it is, with nothing sent.
    auto refused = t.send([]() -> Result<HttpRequest> { return Status::closed("locked"); });
    CHECK(refused.status().code() == Code::closed);
    CHECK(server.authorizations().size() == 3);
}

TEST_CASE("a signed request given as bytes is never sent twice; an unsigned one may be",
          "[integration][transport]") {
    ScriptedServer server(stale_after_one);
    client::HttpTransport t(*client::Endpoint::parse(server.url()));
    const HttpRequest signed_request = post("MS1 device.1795392000000.once.signature");
    REQUIRE(t.send(post()).ok());
    auto r = t.send(signed_request);  // the connection closes under it
    CHECK(r.status().code() == Code::io);
    CHECK(server.authorizations() ==
          std::vector<std::string>{"", "MS1 device.1795392000000.once.signature"});

    ScriptedServer again(stale_after_one);
    client::HttpTransport u(*client::Endpoint::parse(again.url()));
    REQUIRE(u.send(post()).ok());
    auto resent = u.send(post());  // unsigned: reconnects and sends it again
    REQUIRE(resent.ok());
    CHECK(resent->status == 200);
    CHECK(again.authorizations().size() == 3);
    CHECK(again.connections() == 2);
}

TEST_CASE("a request that times out on a kept-alive connection is reported, not sent again",
          "[integration][transport]") {
    ScriptedServer server([](int connection, int request) {
        return connection == 0 && request == 1 ? Act::stall : Act::answer;
    });
    client::TransportOptions options;
    options.request_timeout = std::chrono::milliseconds(300);
    client::HttpTransport t(*client::Endpoint::parse(server.url()), options);
    REQUIRE(t.send(post()).ok());
    auto r = t.send(post());
    CHECK(r.status().code() == Code::io);
    CHECK(r.status().message().find("timeout") != std::string::npos);
    CHECK(server.connections() == 1);  // no second connection, no second wait
}

TEST_CASE("a 429's Retry-After reaches the response, and enrollment reports it as a delay",
          "[integration][transport]") {
    ScriptedServer server([](int, int) { return Act::throttle; });
    client::HttpTransport t(*client::Endpoint::parse(server.url()));
    auto r = t.send(post());
    REQUIRE(r.ok());
    CHECK(r->status == 429);
    CHECK(r->retry_after_s == 7);

    // Enrollment refused by the per-address rate limit: try again later, not a bad code.
    const auto keys = wire::DeviceKeys::generate();
    auto e = client::enroll(t, "ABCD-2345", keys, Uuid::random(), "throttled tablet");
    REQUIRE_FALSE(e.ok());
    CHECK(e.status().code() == Code::io);
    CHECK(e.status().retry_after_ms() == 7'000);
    CHECK(e.status().message() == "enrollment refused (429 rate_limited): slow down");
}
