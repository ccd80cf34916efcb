// Test support: the real mentorsync-server binary as a child process on 127.0.0.1 with an
// ephemeral port, its admin command line, and tablets (Replica + SyncSession + the built-in
// HTTP transport) that enroll and sync against it.
#pragma once

#include <nlohmann/json.hpp>

#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "http_transport.h"
#include "mentorsync/replica.h"
#include "mentorsync/sync_session.h"

namespace mstest {

// Runs `mentorsync-server admin <args> --data-dir DIR` and returns its one JSON line; fails the
// test if it exits non-zero.
nlohmann::json admin(const std::string& data_dir, const std::vector<std::string>& args);
// The same, but returns {exit code, stdout} without failing.
std::pair<int, std::string> admin_raw(const std::string& data_dir,
                                      const std::vector<std::string>& args);

class ServerProcess {
  public:
    // Starts `mentorsync-server --listen 127.0.0.1:0 --data-dir DIR` and waits for its
    // "listening" log line (at most 20 s).
    // `extra` flags are appended (e.g. --tls-cert/--tls-key); with TLS, url() says https.
    explicit ServerProcess(std::string data_dir, std::vector<std::string> extra = {});
    ~ServerProcess();  // SIGTERM, then SIGKILL after 15 s
    ServerProcess(const ServerProcess&) = delete;
    ServerProcess& operator=(const ServerProcess&) = delete;

    std::string url() const {
        return (tls_ ? "https://127.0.0.1:" : "http://127.0.0.1:") + std::to_string(port_);
    }
    int port() const { return port_; }
    int pid() const { return pid_; }
    // Sends SIGTERM and returns the exit status (0 expected).
    int stop();
    // SIGKILL at once, as a crash or power cut would stop it, and waits for the process to end.
    void kill_now();
    // Every line the server logged so far.
    std::vector<std::string> log_lines() const;

  private:
    std::string data_dir_;
    int pid_ = -1;
    int port_ = 0;
    bool tls_ = false;
    int stderr_fd_ = -1;
    std::thread reader_;
    mutable std::mutex mu_;
    std::condition_variable changed_;  // a line arrived, or the server's stderr closed
    bool stderr_closed_ = false;
    std::vector<std::string> lines_;
};

// A tablet: its own encrypted replica, device keys, and a sync session once enrolled.
class Tablet {
  public:
    // `clock`: the tablet's wall clock (null: the system clock), for its replica and session.
    Tablet(const std::string& path, const std::string& server_url,
           mentorsync::client::TransportOptions transport = {},
           std::shared_ptr<const mentorsync::WallClock> clock = {});
    // Enrolls with a one-time code; fails the test on error.
    void enroll(const std::string& code, const std::string& label);
    // One whole sync; returns the result (not failing the test).
    mentorsync::Result<mentorsync::SyncProgress> sync();
    // A sync that must succeed.
    mentorsync::SyncProgress sync_ok();

    mentorsync::Replica& replica() { return *replica_; }
    const mentorsync::Uuid& device_id() const { return identity_.device_id; }
    mentorsync::client::HttpTransport& transport() { return transport_; }
    mentorsync::SyncSession& session() { return *session_; }

  private:
    std::unique_ptr<mentorsync::Replica> replica_;
    mentorsync::DeviceIdentity identity_;
    mentorsync::client::HttpTransport transport_;
    std::shared_ptr<const mentorsync::WallClock> clock_;
    std::unique_ptr<mentorsync::SyncSession> session_;
};

// Every record of every collection (deleted ones included), for comparing replicas.
std::vector<mentorsync::Record> all_records(mentorsync::Replica& r);

}  // namespace mstest
