#include "drop_proxy.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>

#include <catch2/catch.hpp>

namespace mstest {
namespace {

int connect_to(int port) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<std::uint16_t>(port));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

}  // namespace

DropProxy::DropProxy(int server_port) : server_port_(server_port) {
    listen_fd_ = socket(AF_INET, SOCK_STREAM, 0);
    REQUIRE(listen_fd_ >= 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(bind(listen_fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
    REQUIRE(listen(listen_fd_, 16) == 0);
    socklen_t len = sizeof a;
    getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    acceptor_ = std::thread([this] {
        for (;;) {
            pollfd p{listen_fd_, POLLIN, 0};
            if (poll(&p, 1, 50) <= 0) {
                if (stopping_) return;
                continue;
            }
            int client = accept(listen_fd_, nullptr, nullptr);
            if (client < 0) continue;
            workers_.emplace_back([this, client] { serve(client); });
        }
    });
}

void DropProxy::serve(int client) {
    int server = connect_to(server_port_);
    if (server < 0) {
        close(client);
        return;
    }
    char buf[16384];
    std::string upstream;  // what the client sent, not yet searched for request heads
    while (!stopping_) {
        pollfd p[2] = {{client, POLLIN, 0}, {server, POLLIN, 0}};
        if (poll(p, 2, 50) <= 0) continue;
        if (p[0].revents) {
            ssize_t n = read(client, buf, sizeof buf);
            if (n <= 0) break;
            upstream.append(buf, static_cast<std::size_t>(n));
            note_requests(upstream);
            if (write(server, buf, static_cast<std::size_t>(n)) != n) break;
        }
        if (p[1].revents) {
            ssize_t n = read(server, buf, sizeof buf);
            if (n <= 0) break;
            // The server has answered, so it has committed: cut the client off here.
            if (drops_ > 0) {
                --drops_;
                ++dropped_;
                break;
            }
            if (write(client, buf, static_cast<std::size_t>(n)) != n) break;
        }
    }
    close(server);
    close(client);
}

// Finds the Authorization headers in the client's bytes. A header may arrive split across
// reads, so an unfinished tail is kept; bodies are small msgpack and never hold the pattern.
void DropProxy::note_requests(std::string& pending) {
    static const std::string kHeader = "\r\nAuthorization: MS1 ";
    std::size_t done = 0;
    for (;;) {
        auto at = pending.find(kHeader, done);
        if (at == std::string::npos) break;
        auto end = pending.find("\r\n", at + kHeader.size());
        if (end == std::string::npos) {  // the line is not complete yet: keep it whole
            pending.erase(0, at);
            return;
        }
        std::string value = pending.substr(at + kHeader.size(), end - at - kHeader.size());
        // device.timestamp.nonce.signature
        auto first = value.find('.');
        auto second = first == std::string::npos ? first : value.find('.', first + 1);
        auto third = second == std::string::npos ? second : value.find('.', second + 1);
        if (third != std::string::npos) {
            std::lock_guard g(mu_);
            nonces_.push_back(value.substr(second + 1, third - second - 1));
        }
        done = end;
    }
    // Keep only a tail that may be the start of the next header line.
    const std::size_t tail = kHeader.size();
    pending.erase(0, std::max(done, pending.size() > tail ? pending.size() - tail : 0));
}

std::vector<std::string> DropProxy::nonces() const {
    std::lock_guard g(mu_);
    return nonces_;
}

DropProxy::~DropProxy() {
    stopping_ = true;
    if (acceptor_.joinable()) acceptor_.join();
    for (auto& w : workers_)
        if (w.joinable()) w.join();
    close(listen_fd_);
}

}  // namespace mstest
