// flood_bench: tablets pulling while clients without credentials flood the server.
//
// Starts the real mentorsync-server binary on 127.0.0.1 (its data directory prepared through
// the Admin API), enrolls a few tablets, and measures the latency of their pulls while one
// flood after another runs (docs/benchmarks.md, "Floods"):
//   baseline   nothing else
//   idle       1,200 connections that never send a byte, reconnecting 100 ms after each close
//   idle_nat   the same from the tablets' own address, as from a device behind their NAT
//   slow       300 connections each announcing a 4 MiB push (a real device id, a fresh
//              timestamp, a forged signature) and sending all but its last byte
//   signins    128 clients signing in back to back with random user names
//   bombs      a 4 MiB msgpack bomb to /v1/enroll and, signed by a tablet, to /v1/sync/push,
//              and a push at the decoder's value bound: the server's memory per bomb
// Attackers come from addresses of their own (Linux routes all of 127/8 to loopback): 40 for
// the idle connections, 10 for the slow bodies, one per signing-in client; the tablets from
// 127.0.0.1. A pull is made as a tablet makes its sync: on a new connection, signed, with an
// empty cursor (its whole scope, 10 transactions). Its latency runs from the first attempt to
// the 200, retries included (after 100 ms, on 503, 429 or a failed connection); a pull still
// without its 200 after 30 s is given up and counts with its 30 s.
//
// stdout: one JSON object per figure and line; stderr: progress. --legacy passes only the
// flags an older server knows, to measure the same floods against a build without the limits.
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <utility>  // Boost 1.74's awaitable.hpp uses std::exchange without it
#include <vector>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include "bench_util.h"
#include "core/admin.h"
#include "http_transport.h"
#include "mentorsync/sync_session.h"
#include "mentorsync/types.h"
#include "mentorsync/wire.h"

#ifndef MENTORSYNC_SERVER_BINARY
#define MENTORSYNC_SERVER_BINARY ""
#endif

namespace ms = mentorsync;
namespace fs = std::filesystem;
namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;
using bench::Figure;

namespace {

struct BenchError : std::runtime_error {
    using std::runtime_error::runtime_error;
};

template <typename T>
T take(ms::Result<T> r, const std::string& what) {
    if (!r.ok()) throw BenchError(what + ": " + r.status().to_string());
    return std::move(r).value();
}

void progress(const std::string& s) {
    std::cerr << "flood_bench: " << s << std::endl;
}

std::int64_t unix_ms() {
    using namespace std::chrono;
    return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

double percentile(std::vector<double> v, double p) {
    if (v.empty()) return std::nan("");
    std::sort(v.begin(), v.end());
    const auto rank =
        static_cast<std::size_t>(std::ceil(p / 100.0 * static_cast<double>(v.size())));
    return v[std::min(v.size() - 1, rank == 0 ? 0 : rank - 1)];
}

// --- configuration -------------------------------------------------------------------------

struct Config {
    std::string server = MENTORSYNC_SERVER_BINARY;
    std::string dir = fs::temp_directory_path().string();
    bool legacy = false;
    bool quick = false;
    std::size_t tablets = 16;
    double seconds = 10;
    std::size_t idle = 1200, idle_ips = 40;
    std::size_t slow = 300, slow_ips = 10;
    std::size_t signins = 128;
    std::string only;
};

void usage(std::ostream& out) {
    out << "usage: flood_bench [--server PATH] [--legacy] [--dir PATH] [--tablets N] [--seconds "
           "S]\n"
           "                   [--idle N] [--slow N] [--signins N] [--only PHASE] [--quick]\n"
           "phases: baseline idle idle_nat slow signins bombs\n";
}

std::optional<Config> parse_args(int argc, char** argv) {
    Config c;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        auto value = [&]() -> std::string {
            if (i + 1 >= argc) throw BenchError(a + " needs a value");
            return argv[++i];
        };
        if (a == "--help") return std::nullopt;
        if (a == "--server")
            c.server = value();
        else if (a == "--dir")
            c.dir = value();
        else if (a == "--legacy")
            c.legacy = true;
        else if (a == "--quick")
            c.quick = true;
        else if (a == "--tablets")
            c.tablets = std::stoul(value());
        else if (a == "--seconds")
            c.seconds = std::stod(value());
        else if (a == "--idle")
            c.idle = std::stoul(value());
        else if (a == "--slow")
            c.slow = std::stoul(value());
        else if (a == "--signins")
            c.signins = std::stoul(value());
        else if (a == "--only")
            c.only = value();
        else
            throw BenchError("unknown flag " + a);
    }
    if (c.quick) {
        c.tablets = 4;
        c.seconds = 1;
        c.idle = 60;
        c.idle_ips = 4;
        c.slow = 8;
        c.slow_ips = 2;
        c.signins = 8;
    }
    if (c.tablets == 0 || c.seconds <= 0) throw BenchError("--tablets and --seconds must be > 0");
    return c;
}

// --- the server process --------------------------------------------------------------------

struct Memory {
    double rss_mib = 0, hwm_mib = 0;
};

Memory read_memory(int pid) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/status");
    Memory m;
    std::string line;
    while (std::getline(in, line)) {
        if (line.rfind("VmRSS:", 0) == 0) m.rss_mib = std::stod(line.substr(6)) / 1024.0;
        if (line.rfind("VmHWM:", 0) == 0) m.hwm_mib = std::stod(line.substr(6)) / 1024.0;
    }
    return m;
}

// Resets the process's VmHWM to its current RSS (Linux clear_refs, value 5).
void reset_peak(int pid) {
    std::ofstream("/proc/" + std::to_string(pid) + "/clear_refs") << "5";
}

double process_cpu_seconds(int pid) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    const auto close = text.rfind(')');
    if (close == std::string::npos) return std::nan("");
    std::istringstream fields(text.substr(close + 2));
    std::string f;
    double ut = 0, st = 0;
    for (int i = 3; i <= 15 && fields >> f; ++i) {
        if (i == 14) ut = std::stod(f);
        if (i == 15) st = std::stod(f);
    }
    return (ut + st) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

class ServerProcess {
  public:
    ServerProcess(const Config& cfg, const std::string& data_dir) {
        int fds[2];
        if (pipe2(fds, O_CLOEXEC) != 0) throw BenchError("pipe failed");
        std::vector<std::string> args = {cfg.server, "--listen", "127.0.0.1:0", "--data-dir",
                                         data_dir};
        std::vector<char*> argv;
        for (auto& a : args)
            argv.push_back(a.data());
        argv.push_back(nullptr);
        pid_ = fork();
        if (pid_ < 0) throw BenchError("fork failed");
        if (pid_ == 0) {
            prctl(PR_SET_PDEATHSIG, SIGTERM);
            dup2(fds[1], 1);
            dup2(fds[1], 2);
            execv(argv[0], argv.data());
            _exit(127);
        }
        close(fds[1]);
        fd_ = fds[0];
        reader_ = std::thread([this] { read_log(); });
        std::unique_lock lock(mu_);
        if (!cv_.wait_for(lock, std::chrono::seconds(20), [this] { return port_ != 0 || eof_; }) ||
            port_ == 0) {
            lock.unlock();
            stop();
            throw BenchError("the server did not report listening (" + cfg.server + ")");
        }
    }
    ~ServerProcess() { stop(); }
    int pid() const { return pid_; }
    int port() const { return port_; }
    std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
    void stop() {
        if (pid_ > 0) {
            kill(pid_, SIGTERM);
            int status = 0;
            for (int i = 0; i < 1500; ++i) {
                if (waitpid(pid_, &status, WNOHANG) == pid_) {
                    pid_ = -1;
                    break;
                }
                std::this_thread::sleep_for(std::chrono::milliseconds(10));
            }
            if (pid_ > 0) {
                kill(pid_, SIGKILL);
                waitpid(pid_, &status, 0);
                pid_ = -1;
            }
        }
        if (reader_.joinable()) reader_.join();
        if (fd_ >= 0) close(fd_);
        fd_ = -1;
    }

  private:
    void read_log() {
        std::string pending;
        char buf[4096];
        for (ssize_t n; (n = read(fd_, buf, sizeof buf)) > 0;) {
            pending.append(buf, static_cast<std::size_t>(n));
            for (auto nl = pending.find('\n'); nl != std::string::npos; nl = pending.find('\n')) {
                const std::string line = pending.substr(0, nl);
                pending.erase(0, nl + 1);
                std::lock_guard g(mu_);
                if (port_ == 0 && line.find("\"listening\"") != std::string::npos) {
                    const auto p = line.find("\"port\":");
                    if (p != std::string::npos) port_ = std::atoi(line.c_str() + p + 7);
                    cv_.notify_all();
                }
            }
        }
        std::lock_guard g(mu_);
        eof_ = true;
        cv_.notify_all();
    }
    int pid_ = -1, fd_ = -1, port_ = 0;
    bool eof_ = false;
    std::thread reader_;
    std::mutex mu_;
    std::condition_variable cv_;
};

// --- tablets -------------------------------------------------------------------------------

struct Tablet {
    ms::wire::DeviceKeys keys = ms::wire::DeviceKeys::generate();
    ms::Uuid node = ms::Uuid::random();
    ms::Uuid id;
    std::string code;
};

ms::HttpRequest signed_post(const Tablet& t, const std::string& path, std::string body) {
    ms::HttpRequest r;
    r.method = "POST";
    r.path = path;
    r.body = std::move(body);
    r.headers = {{"Content-Type", "application/msgpack"},
                 {"Authorization", ms::wire::authorization(t.keys, "POST", path, t.id, unix_ms(),
                                                           ms::Uuid::random().raw(), r.body)}};
    return r;
}

std::string pull_body() {
    ms::wire::PullRequest pr;
    pr.limit = 500;
    return ms::wire::encode_pull_request(pr);
}

// One tablet's pulls for the phase: latency per pull, retries and give-ups.
struct PullStats {
    std::vector<double> ms;
    std::size_t retries = 0, failed = 0;
};

void pull_loop(const Tablet& t, const ms::client::Endpoint& ep, const std::atomic<bool>& stop,
               PullStats& out) {
    ms::client::TransportOptions opts;
    opts.connect_timeout = std::chrono::seconds(5);
    opts.request_timeout = std::chrono::seconds(10);
    ms::client::HttpTransport transport(ep, opts);
    while (!stop) {
        const auto start = Clock::now();
        bool done = false;
        while (!done && Clock::now() - start < std::chrono::seconds(30)) {
            transport.disconnect();  // a sync starts on a new connection
            auto r = transport.send(signed_post(t, "/v1/sync/pull", pull_body()));
            if (r.ok() && r->status == 200) {
                done = true;
                break;
            }
            if (r.ok() && r->status != 503 && r->status != 429)
                throw BenchError("a pull was answered " + std::to_string(r->status));
            ++out.retries;
            std::this_thread::sleep_for(std::chrono::milliseconds(100));
        }
        // A pull given up after 30 s counts with its 30 s: the percentiles include it.
        out.ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - start).count());
        if (!done) {
            ++out.failed;
            continue;
        }
        // 4 pulls a second per tablet: below the per-device rate limit (10/s after 60).
        std::this_thread::sleep_for(std::chrono::milliseconds(250));
    }
}

// --- attackers -----------------------------------------------------------------------------

struct AttackStats {
    std::atomic<std::uint64_t> connects{0}, connect_failures{0};
    std::mutex mu;
    std::map<int, std::uint64_t> statuses;  // first answer status on a connection; 0: none
    void saw(int status) {
        std::lock_guard g(mu);
        ++statuses[status];
    }
    std::string summary() {
        std::lock_guard g(mu);
        std::string s = "{";
        for (const auto& [k, v] : statuses) {
            if (s.size() > 1) s += ",";
            s += "\"" + std::to_string(k) + "\":" + std::to_string(v);
        }
        return s + "}";
    }
};

// Reads whatever the server sends until it closes; returns the status of the first answer.
asio::awaitable<int> read_until_closed(tcp::socket& s) {
    std::string got;
    char buf[4096];
    for (;;) {
        boost::system::error_code ec;
        const std::size_t n = co_await s.async_read_some(
            asio::buffer(buf), asio::redirect_error(asio::use_awaitable, ec));
        if (ec) break;
        if (got.size() < 64) got.append(buf, std::min<std::size_t>(n, 64));
    }
    co_return got.rfind("HTTP/1.1 ", 0) == 0 ? std::atoi(got.c_str() + 9) : 0;
}

asio::awaitable<bool> connect_from(tcp::socket& s, const asio::ip::address& from,
                                   const tcp::endpoint& to, AttackStats& stats) {
    boost::system::error_code ec;
    s.open(tcp::v4(), ec);
    if (!ec) s.set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec) s.bind(tcp::endpoint(from, 0), ec);
    if (!ec) co_await s.async_connect(to, asio::redirect_error(asio::use_awaitable, ec));
    if (ec) {
        ++stats.connect_failures;
        co_return false;
    }
    ++stats.connects;
    co_return true;
}

asio::awaitable<void> pause(std::chrono::milliseconds d) {
    asio::steady_timer t(co_await asio::this_coro::executor);
    t.expires_after(d);
    boost::system::error_code ec;
    co_await t.async_wait(asio::redirect_error(asio::use_awaitable, ec));
}

asio::awaitable<void> idle_attacker(asio::ip::address from, tcp::endpoint to,
                                    const std::atomic<bool>& stop, AttackStats& stats) {
    while (!stop) {
        tcp::socket s(co_await asio::this_coro::executor);
        if (co_await connect_from(s, from, to, stats)) stats.saw(co_await read_until_closed(s));
        co_await pause(std::chrono::milliseconds(100));
    }
}

asio::awaitable<void> slow_attacker(asio::ip::address from, tcp::endpoint to, std::string head,
                                    const std::atomic<bool>& stop, AttackStats& stats) {
    static const std::string chunk(64 * 1024, '\xc0');
    while (!stop) {
        tcp::socket s(co_await asio::this_coro::executor);
        if (co_await connect_from(s, from, to, stats)) {
            boost::system::error_code ec;
            co_await asio::async_write(s, asio::buffer(head),
                                       asio::redirect_error(asio::use_awaitable, ec));
            // All but the last byte of the 4 MiB, as fast as the server takes it; then nothing.
            std::size_t sent = 0;
            const std::size_t total = (4u << 20) - 1;
            while (!ec && sent < total && !stop) {
                const std::size_t n = std::min(chunk.size(), total - sent);
                co_await asio::async_write(s, asio::buffer(chunk.data(), n),
                                           asio::redirect_error(asio::use_awaitable, ec));
                sent += n;
            }
            stats.saw(co_await read_until_closed(s));
        }
        co_await pause(std::chrono::milliseconds(100));
    }
}

asio::awaitable<void> signin_attacker(asio::ip::address from, tcp::endpoint to,
                                      const std::atomic<bool>& stop, AttackStats& stats,
                                      std::uint64_t seed) {
    bench::Rng rng(seed);
    while (!stop) {
        tcp::socket s(co_await asio::this_coro::executor);
        if (!co_await connect_from(s, from, to, stats)) {
            co_await pause(std::chrono::milliseconds(100));
            continue;
        }
        const std::string body = "{\"username\":\"user" + std::to_string(rng.next() % 1000000000) +
                                 "\",\"password\":\"guess" + std::to_string(rng.next()) + "\"}";
        const std::string req =
            "POST /api/v1/auth/sign-in HTTP/1.1\r\nHost: x\r\n"
            "Content-Type: application/json\r\nConnection: close\r\n"
            "Content-Length: " +
            std::to_string(body.size()) + "\r\n\r\n" + body;
        boost::system::error_code ec;
        co_await asio::async_write(s, asio::buffer(req),
                                   asio::redirect_error(asio::use_awaitable, ec));
        const int status = co_await read_until_closed(s);
        stats.saw(status);
        if (status == 503 || status == 429 || status == 0)
            co_await pause(std::chrono::milliseconds(100));
    }
}

// Runs attack coroutines on one thread of their own until stopped; stopping destroys them,
// which closes every attacking socket at once.
class Attack {
  public:
    Attack() = default;
    ~Attack() { finish(); }
    template <typename Spawn>
    void start(Spawn spawn) {
        spawn(*ioc_, stop_, stats_);
        thread_ = std::thread([this] { ioc_->run(); });
    }
    void finish() {
        stop_ = true;
        if (!ioc_) return;
        ioc_->stop();
        if (thread_.joinable()) thread_.join();
        ioc_.reset();
    }
    AttackStats& stats() { return stats_; }

  private:
    std::unique_ptr<asio::io_context> ioc_ = std::make_unique<asio::io_context>(1);
    std::atomic<bool> stop_{false};
    AttackStats stats_;
    std::thread thread_;
};

asio::ip::address attacker_address(int net, std::size_t i) {
    return asio::ip::make_address("127." + std::to_string(net) + "." + std::to_string(i / 250) +
                                  "." + std::to_string(i % 250 + 1));
}

// --- phases --------------------------------------------------------------------------------

struct Phase {
    std::string name;
    std::function<void(Attack&, const tcp::endpoint&)> flood;  // null: none
    std::string what;
};

void run_phase(const Config& cfg, ServerProcess& server, const std::vector<Tablet>& tablets,
               const Phase& phase) {
    const auto ep = take(ms::client::Endpoint::parse(server.url()), "endpoint");
    const tcp::endpoint to(asio::ip::make_address("127.0.0.1"),
                           static_cast<unsigned short>(server.port()));
    Attack attack;
    if (phase.flood) {
        phase.flood(attack, to);
        // Let the flood build up before measuring.
        std::this_thread::sleep_for(std::chrono::milliseconds(cfg.quick ? 500 : 3000));
    }
    reset_peak(server.pid());
    const double cpu0 = process_cpu_seconds(server.pid());
    std::atomic<bool> stop{false};
    std::vector<PullStats> stats(tablets.size());
    std::vector<std::thread> pullers;
    std::vector<std::string> errors(tablets.size());
    for (std::size_t i = 0; i < tablets.size(); ++i)
        pullers.emplace_back([&, i] {
            try {
                pull_loop(tablets[i], ep, stop, stats[i]);
            } catch (const std::exception& e) {
                errors[i] = e.what();
            }
        });
    double rss_max = 0;
    const auto until = Clock::now() + std::chrono::duration<double>(cfg.seconds);
    while (Clock::now() < until) {
        rss_max = std::max(rss_max, read_memory(server.pid()).rss_mib);
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    stop = true;
    for (auto& t : pullers)
        t.join();
    const Memory mem = read_memory(server.pid());
    const double cpu = process_cpu_seconds(server.pid()) - cpu0;
    attack.finish();
    for (const auto& e : errors)
        if (!e.empty()) throw BenchError(phase.name + ": " + e);

    std::vector<double> all;
    std::size_t retries = 0, failed = 0;
    for (const auto& s : stats) {
        all.insert(all.end(), s.ms.begin(), s.ms.end());
        retries += s.retries;
        failed += s.failed;
    }
    const double p99 = percentile(all, 99);
    Figure("flood." + phase.name + ".pull_p99_ms", p99, "ms")
        .num("p50_ms", percentile(all, 50))
        .num("max_ms", all.empty() ? std::nan("") : *std::max_element(all.begin(), all.end()))
        .num("pulls", static_cast<double>(all.size()))
        .num("retries", static_cast<double>(retries))
        .num("gave_up", static_cast<double>(failed))
        .num("rss_max_mb", rss_max)
        .num("hwm_mb", mem.hwm_mib)
        .num("server_cpu_s", cpu)
        .num("attack_connects", static_cast<double>(attack.stats().connects))
        .raw("attack_answers", attack.stats().summary())
        .str("flood", phase.what)
        .str("server", cfg.legacy ? "legacy" : "current")
        .print();
    Figure("flood." + phase.name + ".rss_mb", std::max(rss_max, mem.hwm_mib), "MiB")
        .num("goal", 256)
        .flag("goal_met", std::max(rss_max, mem.hwm_mib) <= 256)
        .print();
    progress(phase.name + ": p99 " + bench::json_number(p99) + " ms over " +
             std::to_string(all.size()) + " pulls, " + std::to_string(retries) + " retries, " +
             std::to_string(failed) + " gave up, RSS max " + bench::json_number(rss_max) +
             " MiB, attack answers " + attack.stats().summary());
}

// A 4 MiB body of nils inside arrays of 65,535: one msgpack value per byte.
std::string nil_bomb(std::size_t arrays) {
    std::string b = "\xdc";
    b += static_cast<char>(arrays >> 8);
    b += static_cast<char>(arrays & 0xff);
    for (std::size_t i = 0; i < arrays; ++i) {
        b += "\xdc\xff\xff";
        b.append(0xffff, '\xc0');
    }
    return b;
}

// The same size in 2-byte values (uint8 200): exactly at the decoder's bound.
std::string uint8_bomb(std::size_t arrays) {
    std::string b = "\xdc";
    b += static_cast<char>(arrays >> 8);
    b += static_cast<char>(arrays & 0xff);
    for (std::size_t i = 0; i < arrays; ++i) {
        b += "\xdc\x7f\xff";  // 32,767 items of 2 bytes
        for (int k = 0; k < 0x7fff; ++k)
            b += "\xcc\xc8";
    }
    return b;
}

std::string push_with(const std::string& txns) {
    return std::string("\x82\xa5") + "batch\xc4\x10" + std::string(16, '\x07') + "\xa4txns" + txns;
}

void run_bombs(const Config& cfg, const std::string& data, const std::vector<Tablet>& tablets) {
    const std::size_t arrays = cfg.quick ? 4 : 63;
    struct Bomb {
        std::string name, path, body;
        bool sign;
    };
    const std::vector<Bomb> bombs = {
        {"enroll", "/v1/enroll", nil_bomb(arrays), false},
        {"push", "/v1/sync/push", push_with(nil_bomb(arrays)), true},
        {"push_at_bound", "/v1/sync/push", push_with(uint8_bomb(arrays)), true},
    };
    for (const Bomb& b : bombs) {
        // A fresh server per bomb, warmed up by one pull, so that the peak is the bomb's own.
        ServerProcess server(cfg, data);
        ms::client::HttpTransport transport(take(ms::client::Endpoint::parse(server.url()), "url"));
        if (auto w = transport.send(signed_post(tablets.front(), "/v1/sync/pull", pull_body()));
            !w.ok() || w->status != 200)
            throw BenchError("the warm-up pull failed");
        reset_peak(server.pid());
        const Memory before = read_memory(server.pid());
        ms::HttpRequest r;
        if (b.sign) {
            r = signed_post(tablets.front(), b.path, b.body);
        } else {
            r.method = "POST";
            r.path = b.path;
            r.body = b.body;
            r.headers = {{"Content-Type", "application/msgpack"}};
        }
        transport.disconnect();
        auto answer = transport.send(r);
        const Memory after = read_memory(server.pid());
        const double delta = after.hwm_mib - before.rss_mib;
        Figure("bomb." + b.name + ".rss_delta_mb", delta, "MiB")
            .num("status", answer.ok() ? answer->status : 0)
            .num("body_bytes", static_cast<double>(b.body.size()))
            .str("server", cfg.legacy ? "legacy" : "current")
            .print();
        progress("bomb " + b.name + ": " + std::to_string(b.body.size()) + " bytes, answered " +
                 std::to_string(answer.ok() ? answer->status : 0) + ", peak RSS +" +
                 bench::json_number(delta) + " MiB");
    }
}

int run(const Config& cfg) {
    rlimit r{};
    if (getrlimit(RLIMIT_NOFILE, &r) == 0 && r.rlim_cur < r.rlim_max) {
        r.rlim_cur = r.rlim_max;
        setrlimit(RLIMIT_NOFILE, &r);
    }
    std::string tmpl = (fs::path(cfg.dir) / "flood_bench.XXXXXX").string();
    if (mkdtemp(tmpl.data()) == nullptr) throw BenchError("cannot make a scratch directory");
    const std::string data = tmpl;
    struct Cleanup {
        std::string d;
        ~Cleanup() {
            std::error_code ec;
            fs::remove_all(d, ec);
        }
    } cleanup{data};

    // One youth centre, a mentor per tablet, five learners each with an open case.
    std::vector<Tablet> tablets(cfg.tablets);
    {
        auto admin = take(ms::server::Admin::open(data, true), "open data dir");
        const ms::Uuid mun = take(admin->add_municipality("Municipality 1"), "municipality");
        const ms::Uuid centre =
            take(admin->add_institution("Centre 1", ms::server::InstitutionKind::youth_centre, mun),
                 "institution");
        for (std::size_t i = 0; i < tablets.size(); ++i) {
            const ms::Uuid user = take(admin->add_user(ms::server::Role::mentor, centre,
                                                       "Mentor " + std::to_string(i + 1)),
                                       "user");
            for (int l = 0; l < 5; ++l) {
                ms::server::LearnerInput in;
                in.name = "Learner " + std::to_string(i * 5 + l + 1);
                in.birth_year = 2011;
                in.school_id = centre;
                in.municipality_id = mun;
                in.grade = 8;
                in.education = "general";
                ms::server::AssignInput a;
                a.learner = take(admin->add_learner(in), "learner");
                a.mentor = user;
                a.start_date = "2026-09-01";
                take(admin->assign(a), "assign");
            }
            tablets[i].code = take(admin->issue_enrollment_code(user), "code").code;
        }
    }
    {
        ServerProcess server(cfg, data);
        ms::client::HttpTransport transport(take(ms::client::Endpoint::parse(server.url()), "url"));
        for (std::size_t i = 0; i < tablets.size(); ++i) {
            auto e = take(ms::client::enroll(transport, tablets[i].code, tablets[i].keys,
                                             tablets[i].node, "Tablet " + std::to_string(i + 1)),
                          "enroll");
            tablets[i].id = e.device_id;
        }
    }

    const Tablet& known = tablets.front();
    const std::vector<Phase> phases = {
        {"baseline", nullptr, "none"},
        {"idle",
         [&](Attack& a, const tcp::endpoint& to) {
             a.start([&](asio::io_context& ioc, std::atomic<bool>& stop, AttackStats& st) {
                 for (std::size_t i = 0; i < cfg.idle; ++i)
                     asio::co_spawn(
                         ioc, idle_attacker(attacker_address(1, i % cfg.idle_ips), to, stop, st),
                         asio::detached);
             });
         },
         std::to_string(cfg.idle) + " connections sending nothing, from " +
             std::to_string(cfg.idle_ips) + " addresses"},
        {"idle_nat",
         [&](Attack& a, const tcp::endpoint& to) {
             a.start([&](asio::io_context& ioc, std::atomic<bool>& stop, AttackStats& st) {
                 for (std::size_t i = 0; i < cfg.idle; ++i)
                     asio::co_spawn(
                         ioc, idle_attacker(asio::ip::make_address("127.0.0.1"), to, stop, st),
                         asio::detached);
             });
         },
         std::to_string(cfg.idle) +
             " connections sending nothing, from the tablets' own address (one NAT)"},
        {"slow",
         [&](Attack& a, const tcp::endpoint& to) {
             a.start([&](asio::io_context& ioc, std::atomic<bool>& stop, AttackStats& st) {
                 for (std::size_t i = 0; i < cfg.slow; ++i) {
                     // A real device id and a fresh timestamp: what passes every check the
                     // header allows. The signature is garbage.
                     std::string auth = ms::wire::authorization(
                         ms::wire::DeviceKeys::generate(), "POST", "/v1/sync/push", known.id,
                         unix_ms() + 60'000, ms::Uuid::random().raw(), "x");
                     const std::string head =
                         "POST /v1/sync/push HTTP/1.1\r\nHost: x\r\nContent-Type: "
                         "application/msgpack\r\nAuthorization: " +
                         auth + "\r\nContent-Length: " + std::to_string(4u << 20) + "\r\n\r\n";
                     asio::co_spawn(
                         ioc,
                         slow_attacker(attacker_address(2, i % cfg.slow_ips), to, head, stop, st),
                         asio::detached);
                 }
             });
         },
         std::to_string(cfg.slow) + " connections each sending 4 MiB - 1 of a forged push, from " +
             std::to_string(cfg.slow_ips) + " addresses"},
        {"signins",
         [&](Attack& a, const tcp::endpoint& to) {
             a.start([&](asio::io_context& ioc, std::atomic<bool>& stop, AttackStats& st) {
                 for (std::size_t i = 0; i < cfg.signins; ++i)
                     asio::co_spawn(ioc,
                                    signin_attacker(attacker_address(3, i), to, stop, st, i + 1),
                                    asio::detached);
             });
         },
         std::to_string(cfg.signins) + " clients signing in with random names, one address each"},
    };
    // Each phase on a server process of its own (the same data directory): no phase inherits
    // another's memory or connections.
    for (const Phase& p : phases) {
        if (!cfg.only.empty() && cfg.only != p.name) continue;
        ServerProcess server(cfg, data);
        progress("phase " + p.name + ": server pid " + std::to_string(server.pid()));
        run_phase(cfg, server, tablets, p);
    }
    if (cfg.only.empty() || cfg.only == "bombs") run_bombs(cfg, data, tablets);
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    try {
        auto cfg = parse_args(argc, argv);
        if (!cfg) {
            usage(std::cout);
            return 0;
        }
        return run(*cfg);
    } catch (const BenchError& e) {
        std::cerr << "flood_bench: " << e.what() << "\n";
        usage(std::cerr);
        return 1;
    } catch (const std::exception& e) {
        std::cerr << "flood_bench: " << e.what() << "\n";
        return 1;
    }
}
