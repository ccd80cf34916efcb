#include "server_process.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <future>

#include <catch2/catch.hpp>

#include "test_support.h"

namespace mstest {
namespace {

using namespace mentorsync;

// Runs argv, capturing stdout; returns {exit status, stdout}.
std::pair<int, std::string> run_capture(const std::vector<std::string>& argv) {
    int out[2];
    REQUIRE(pipe(out) == 0);
    pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        dup2(out[1], 1);
        close(out[0]);
        close(out[1]);
        std::vector<char*> args;
        for (const auto& a : argv)
            args.push_back(const_cast<char*>(a.c_str()));
        args.push_back(nullptr);
        execv(args[0], args.data());
        _exit(127);
    }
    close(out[1]);
    std::string text;
    char buf[4096];
    for (ssize_t n; (n = read(out[0], buf, sizeof buf)) > 0;)
        text.append(buf, static_cast<std::size_t>(n));
    close(out[0]);
    int status = 0;
    waitpid(pid, &status, 0);
    return {WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status), text};
}

}  // namespace

std::pair<int, std::string> admin_raw(const std::string& data_dir,
                                      const std::vector<std::string>& args) {
    std::vector<std::string> argv = {MENTORSYNC_SERVER_BINARY, "admin"};
    argv.insert(argv.end(), args.begin(), args.end());
    argv.push_back("--data-dir");
    argv.push_back(data_dir);
    return run_capture(argv);
}

nlohmann::json admin(const std::string& data_dir, const std::vector<std::string>& args) {
    auto [rc, out] = admin_raw(data_dir, args);
    INFO("admin " << args.front() << " printed: " << out);
    REQUIRE(rc == 0);
    auto nl = out.find('\n');
    return nlohmann::json::parse(out.substr(0, nl));
}

ServerProcess::ServerProcess(std::string data_dir, std::vector<std::string> extra)
    : data_dir_(std::move(data_dir)) {
    tls_ = std::find(extra.begin(), extra.end(), "--tls-cert") != extra.end();
    std::vector<std::string> argv = {MENTORSYNC_SERVER_BINARY,
                                     "--listen",
                                     "127.0.0.1:0",
                                     "--data-dir",
                                     data_dir_,
                                     "--threads",
                                     "2"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    int err[2];
    REQUIRE(pipe(err) == 0);
    pid_ = fork();
    REQUIRE(pid_ >= 0);
    if (pid_ == 0) {
        dup2(err[1], 2);
        close(err[0]);
        close(err[1]);
        // Not the test's stdout: should the test process die without stopping the server (an
        // abort under a sanitizer), an orphaned server holding ctest's output pipe would keep
        // ctest waiting on that test until its timeout.
        const int devnull = open("/dev/null", O_WRONLY);
        if (devnull >= 0) {
            dup2(devnull, 1);
            close(devnull);
        }
        std::vector<char*> args;
        for (auto& a : argv)
            args.push_back(a.data());
        args.push_back(nullptr);
        execv(args[0], args.data());
        _exit(127);
    }
    close(err[1]);
    stderr_fd_ = err[0];
    // The reader keeps draining the pipe so the server never blocks on a full stderr, and
    // wakes the constructor when the "listening" line arrives or the server's stderr closes.
    reader_ = std::thread([this] {
        std::string pending;
        char buf[4096];
        for (ssize_t n; (n = read(stderr_fd_, buf, sizeof buf)) > 0;) {
            pending.append(buf, static_cast<std::size_t>(n));
            for (auto nl = pending.find('\n'); nl != std::string::npos; nl = pending.find('\n')) {
                std::string line = pending.substr(0, nl);
                pending.erase(0, nl + 1);
                auto j = nlohmann::json::parse(line, nullptr, false);
                std::lock_guard g(mu_);
                if (port_ == 0 && !j.is_discarded() && j.value("event", "") == "listening")
                    port_ = j.value("port", 0);
                lines_.push_back(std::move(line));
                changed_.notify_all();
            }
        }
        std::lock_guard g(mu_);
        stderr_closed_ = true;
        changed_.notify_all();
    });
    {
        std::unique_lock g(mu_);
        changed_.wait_for(g, std::chrono::seconds(20),
                          [&] { return port_ != 0 || stderr_closed_; });
    }
    INFO("server log: " << [&] {
        std::string all;
        for (const auto& l : log_lines())
            all += l + "\n";
        return all;
    }());
    REQUIRE(port_ != 0);
}

int ServerProcess::stop() {
    if (pid_ <= 0) return -1;
    kill(pid_, SIGTERM);
    // waitpid blocks until the server exits; SIGKILL after 15 s ends a server that hangs, and
    // that waitpid then returns.
    auto exited = std::async(std::launch::async, [pid = pid_] {
        int status = 0;
        waitpid(pid, &status, 0);
        return status;
    });
    const bool in_time = exited.wait_for(std::chrono::seconds(15)) == std::future_status::ready;
    if (!in_time) kill(pid_, SIGKILL);
    const int status = exited.get();
    pid_ = -1;
    if (reader_.joinable()) reader_.join();
    close(stderr_fd_);
    if (!in_time) return -9;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

void ServerProcess::kill_now() {
    if (pid_ <= 0) return;
    kill(pid_, SIGKILL);
    int status = 0;
    waitpid(pid_, &status, 0);
    pid_ = -1;
    if (reader_.joinable()) reader_.join();
    close(stderr_fd_);
}

ServerProcess::~ServerProcess() {
    if (pid_ > 0) stop();
}

std::vector<std::string> ServerProcess::log_lines() const {
    std::lock_guard g(mu_);
    return lines_;
}

Tablet::Tablet(const std::string& path, const std::string& server_url,
               client::TransportOptions transport, std::shared_ptr<const WallClock> clock)
    : replica_(open_replica(path, "correct horse battery", clock)),
      transport_(*client::Endpoint::parse(server_url), std::move(transport)),
      clock_(std::move(clock)) {
    identity_.keys = wire::DeviceKeys::generate();
}

void Tablet::enroll(const std::string& code, const std::string& label) {
    auto e = client::enroll(transport_, code, identity_.keys, replica_->node(), label);
    INFO((e.ok() ? std::string() : e.status().to_string()));
    REQUIRE(e.ok());
    identity_.device_id = e->device_id;
    SyncOptions options;
    options.clock = clock_;
    session_ = std::make_unique<SyncSession>(*replica_, identity_, options);
}

Result<SyncProgress> Tablet::sync() {
    REQUIRE(session_);
    client::RunOptions o;
    o.sleep = [](std::int64_t) {};  // tests do not wait out backoff
    return client::run_sync(*session_, transport_, o);
}

SyncProgress Tablet::sync_ok() {
    auto r = sync();
    INFO((r.ok() ? std::string() : r.status().to_string()));
    REQUIRE(r.ok());
    return *r;
}

std::vector<Record> all_records(Replica& r) {
    std::vector<Record> out;
    for (const auto& c : r.schema().collections()) {
        Query q;
        q.collection = c.name;
        q.include_deleted = true;
        auto got = r.query(q);
        REQUIRE(got.ok());
        out.insert(out.end(), got->begin(), got->end());
    }
    std::sort(out.begin(), out.end(), [](const Record& a, const Record& b) { return a.id < b.id; });
    return out;
}

}  // namespace mstest
