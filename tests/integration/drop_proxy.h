// Test support: a loopback TCP proxy in front of the server that can cut a connection right
// after the server starts answering, i.e. after the server committed the request but before the
// client read the answer (the hardest moment for idempotency).
#pragma once

#include <atomic>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace mstest {

class DropProxy {
  public:
    explicit DropProxy(int server_port);
    ~DropProxy();
    DropProxy(const DropProxy&) = delete;
    DropProxy& operator=(const DropProxy&) = delete;

    std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
    // The next `n` server answers are cut off: the client sees the connection close instead.
    void drop_next_answers(int n) { drops_ = n; }
    int dropped() const { return dropped_; }
    // The nonce of every signed request that went through, in order (the MS1 Authorization
    // header's third part), resends included: a retry must never repeat one.
    std::vector<std::string> nonces() const;

  private:
    void serve(int client);
    void note_requests(std::string& pending);
    mutable std::mutex mu_;
    std::vector<std::string> nonces_;  // guarded by mu_
    int listen_fd_ = -1;
    int port_ = 0;
    int server_port_;
    std::atomic<int> drops_{0};
    std::atomic<int> dropped_{0};
    std::atomic<bool> stopping_{false};
    std::thread acceptor_;
    std::vector<std::thread> workers_;
};

}  // namespace mstest
