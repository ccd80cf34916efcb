// server_bench: the sync server under the load of a national programme's devices.
//
// Starts the real mentorsync-server binary as a child process on 127.0.0.1 (an ephemeral port),
// after preparing its data directory through the Admin API (municipalities, institutions,
// mentors, learners and their cases), and drives it with simulated devices on loopback. A
// device here is not a replica: it builds Transactions directly (synthetic contacts and
// absences stamped with its node and a valid HLC), pushes them signed as docs/protocol.md §5
// says, and pulls its scope following the cursors, each device over its own keep-alive
// connection (client::HttpTransport).
//
// Phases, in this order, against one server process:
//   end_of_day  700 devices (one mentor per institution) each push ~400 field changes and then
//               pull their scope until `more` is false, through a bounded pool of clients:
//               wall time, push latency, and the bytes on the wire per field change.
//   ingest      100 devices push batches of 50 transactions concurrently for a fixed time:
//               accepted field changes per second.
//   rss         1,000 keep-alive connections that each sent GET /healthz: the server's VmRSS.
//
// stdout: one JSON object per figure and line, {"name", "value", "unit", ...}; nothing else.
// stderr: progress, the server's log lines on failure, and errors. Exit status 0 on success,
// 1 on any failure, 2 on bad usage. docs/benchmarks.md says what each figure means.
#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/tcp.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <deque>
#include <exception>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <latch>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <span>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "core/admin.h"
#include "http_transport.h"
#include "mentorsync/schema.h"
#include "mentorsync/sync_session.h"
#include "mentorsync/transaction.h"
#include "mentorsync/types.h"
#include "mentorsync/wire.h"

#include "bench_util.h"

#ifndef MENTORSYNC_SERVER_BINARY
#define MENTORSYNC_SERVER_BINARY ""
#endif

namespace ms = mentorsync;
namespace fs = std::filesystem;

namespace {

using bench::date_2026;
using bench::Figure;
using bench::json_number;
using bench::json_string;
using bench::kJustifications;
using bench::kPlaces;
using bench::kSources;
using bench::kStatuses;
using bench::kTopics;
using bench::median;
using bench::note_text;
using bench::Rng;
using bench::two;

// ------------------------------------------------------------------------------------------
// Errors and small helpers

struct BenchError : std::runtime_error {
    using std::runtime_error::runtime_error;
};

template <typename T>
T take(ms::Result<T> result, std::string_view what) {
    if (!result.ok()) throw BenchError(std::string(what) + ": " + result.status().to_string());
    return std::move(result).value();
}

using Clock = std::chrono::steady_clock;

double seconds_between(Clock::time_point a, Clock::time_point b) {
    return std::chrono::duration<double>(b - a).count();
}

std::int64_t unix_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

// Nearest-rank percentile of `v` (sorted in place); NaN when empty.
double percentile(std::vector<double>& v, double p) {
    if (v.empty()) return std::nan("");
    std::sort(v.begin(), v.end());
    auto rank = static_cast<std::size_t>(std::ceil(p / 100.0 * static_cast<double>(v.size())));
    return v[std::clamp<std::size_t>(rank, 1, v.size()) - 1];
}

std::string fmt(double v, int decimals = 2) {
    std::ostringstream o;
    o.setf(std::ios::fixed);
    o.precision(decimals);
    o << v;
    return o.str();
}

void progress(const std::string& line) {
    std::cerr << "server_bench: " << line << std::endl;
}

// ------------------------------------------------------------------------------------------
// Output: one JSON object per line on stdout

// ------------------------------------------------------------------------------------------
// Configuration

struct Config {
    std::size_t devices = 700;        // end_of_day devices, one per institution
    std::size_t municipalities = 42;  // the institutions are spread over these
    std::size_t learners_per_mentor = 5;
    std::size_t changes_per_device = 400;  // end_of_day: field changes each device pushes
    std::size_t pool = 64;                 // end_of_day: concurrent clients
    std::size_t ingest_devices = 100;
    std::size_t ingest_batch = 50;  // transactions per ingest push
    double ingest_seconds = 10;
    std::size_t connections = 1'000;  // rss
    unsigned server_threads = 0;      // 0: the server's default (CPU count, at least 2)
    std::string dir;                  // where the scratch directory goes
    std::string server = MENTORSYNC_SERVER_BINARY;
    std::string only;
    std::uint64_t seed = 42;
    bool keep = false;
    bool quick = false;
};

void usage(std::ostream& out) {
    out << R"(usage: server_bench [flags]

Runs the real mentorsync-server on 127.0.0.1 and measures it with simulated devices.
Figures go to stdout as JSON lines; progress to stderr. See docs/benchmarks.md.

  --devices N          end-of-day devices, one per institution (default 700)
  --pool N             end-of-day concurrent clients (default 64)
  --ingest-devices N   concurrent devices of the ingest phase (default 100)
  --seconds S          duration of the ingest phase (default 10)
  --connections N      keep-alive connections of the rss phase (default 1000)
  --server-threads N   the server's --threads (default: the server's own default)
  --only PHASE         end_of_day, ingest or rss
  --dir PATH           where the scratch directory server_bench.XXXXXX goes (default: the
                       system temp directory); the server's data directory is in it
  --keep               keep the scratch directory
  --server PATH        the mentorsync-server binary (default: the one built with this bench)
  --seed N             seed of the synthetic data
  --quick              a smoke run of a few seconds (tiny counts; its figures are not results)
  --help               this text
)";
}

std::uint64_t parse_count(std::string_view flag, const std::string& text, std::uint64_t min,
                          std::uint64_t max) {
    std::size_t used = 0;
    unsigned long long v = 0;
    try {
        v = std::stoull(text, &used);
    } catch (const std::exception&) {
        used = 0;
    }
    if (used != text.size() || text.empty() || text[0] == '-' || v < min || v > max)
        throw BenchError(std::string(flag) + " must be a whole number from " + std::to_string(min) +
                         " to " + std::to_string(max));
    return v;
}

// Returns nullopt for --help.
std::optional<Config> parse_args(int argc, char** argv) {
    Config cfg;
    std::optional<std::size_t> devices, ingest_devices, connections, pool;
    std::optional<double> seconds;
    for (int i = 1; i < argc; ++i) {
        std::string_view a = argv[i];
        auto value = [&]() -> std::string {
            if (i + 1 >= argc) throw BenchError(std::string(a) + " needs a value");
            return argv[++i];
        };
        if (a == "--help" || a == "-h") return std::nullopt;
        if (a == "--quick") {
            cfg.quick = true;
        } else if (a == "--keep") {
            cfg.keep = true;
        } else if (a == "--devices") {
            devices = parse_count(a, value(), 1, 100'000);
        } else if (a == "--pool") {
            pool = parse_count(a, value(), 1, 1'000);
        } else if (a == "--ingest-devices") {
            ingest_devices = parse_count(a, value(), 1, 1'000);
        } else if (a == "--seconds") {
            seconds = static_cast<double>(parse_count(a, value(), 1, 3'600));
        } else if (a == "--connections") {
            connections = parse_count(a, value(), 1, 100'000);
        } else if (a == "--server-threads") {
            cfg.server_threads = static_cast<unsigned>(parse_count(a, value(), 1, 256));
        } else if (a == "--only") {
            cfg.only = value();
            if (cfg.only != "end_of_day" && cfg.only != "ingest" && cfg.only != "rss")
                throw BenchError("--only: expected end_of_day, ingest or rss");
        } else if (a == "--dir") {
            cfg.dir = value();
        } else if (a == "--server") {
            cfg.server = value();
        } else if (a == "--seed") {
            cfg.seed = parse_count(a, value(), 0, UINT64_MAX);
        } else {
            throw BenchError("unknown argument '" + std::string(a) + "'");
        }
    }
    if (cfg.quick) {
        cfg.devices = 8;
        cfg.municipalities = 2;
        cfg.learners_per_mentor = 3;
        cfg.changes_per_device = 100;
        cfg.pool = 4;
        cfg.ingest_devices = 4;
        cfg.ingest_seconds = 1;
        cfg.connections = 50;
    }
    if (devices) cfg.devices = *devices;
    if (pool) cfg.pool = *pool;
    if (ingest_devices) cfg.ingest_devices = *ingest_devices;
    if (seconds) cfg.ingest_seconds = *seconds;
    if (connections) cfg.connections = *connections;
    cfg.municipalities = std::min(cfg.municipalities, cfg.devices);
    if (cfg.server.empty()) throw BenchError("no server binary: pass --server PATH");
    return cfg;
}

// ------------------------------------------------------------------------------------------
// Synthetic programme data

// The msgpack size of a value as the wire encodes it (the most compact form; checked against
// the encoder by check_value_sizes()).
std::size_t msgpack_size(const ms::Value& v) {
    using K = ms::Value::Kind;
    switch (v.kind()) {
        case K::null:
        case K::boolean:
            return 1;
        case K::integer: {
            const std::int64_t i = v.as_int();
            if (i >= 0) {
                if (i < 128) return 1;
                if (i < 256) return 2;
                if (i < 65'536) return 3;
                if (i <= 0xFFFFFFFFll) return 5;
                return 9;
            }
            if (i >= -32) return 1;
            if (i >= -128) return 2;
            if (i >= -32'768) return 3;
            if (i >= INT32_MIN) return 5;
            return 9;
        }
        case K::real:
            return 9;
        case K::string: {
            const std::size_t n = v.as_string().size();
            return (n < 32 ? 1 : n < 256 ? 2 : n < 65'536 ? 3 : 5) + n;
        }
        case K::list: {
            const auto& l = v.as_list();
            std::size_t n = l.size() < 16 ? 1 : l.size() < 65'536 ? 3 : 5;
            for (const auto& item : l)
                n += msgpack_size(item);
            return n;
        }
    }
    return 0;
}

std::size_t value_bytes(const ms::Transaction& t) {
    std::size_t n = 0;
    for (const auto& c : t.changes)
        n += msgpack_size(c.value);
    return n;
}

// ------------------------------------------------------------------------------------------
// Organisation data, written through the Admin API before the server starts

struct Mentor {
    ms::Uuid user;
    ms::Uuid institution;
    std::vector<std::string> learners;  // canonical UUID text, as learner_id values hold them
};

struct Organisation {
    std::vector<Mentor> end_of_day;  // one per institution
    std::vector<Mentor> ingest;      // a second mentor in the first institutions
    std::size_t institutions = 0, learners = 0;
};

Organisation set_up_organisation(const Config& cfg, const std::string& data_dir,
                                 std::size_t eod_devices, std::size_t ingest_devices) {
    auto admin = take(ms::server::Admin::open(data_dir, /*create=*/true), "open data dir");
    Rng rng(cfg.seed);
    Organisation org;
    std::vector<ms::Uuid> municipalities;
    for (std::size_t m = 0; m < std::max<std::size_t>(1, cfg.municipalities); ++m)
        municipalities.push_back(take(
            admin->add_municipality("Municipality " + std::to_string(m + 1)), "add_municipality"));
    const std::size_t n_inst = std::max<std::size_t>(1, std::max(eod_devices, ingest_devices));
    std::vector<std::pair<ms::Uuid, ms::Uuid>> institutions;  // id, municipality
    for (std::size_t i = 0; i < n_inst; ++i) {
        const ms::Uuid& mun = municipalities[i % municipalities.size()];
        // A third are youth centres, the rest schools.
        const auto kind = i % 3 == 2 ? ms::server::InstitutionKind::youth_centre
                                     : ms::server::InstitutionKind::school;
        institutions.emplace_back(
            take(admin->add_institution("Institution " + std::to_string(i + 1), kind, mun),
                 "add_institution"),
            mun);
    }
    org.institutions = institutions.size();
    auto add_mentor = [&](std::size_t i, const std::string& name) {
        const auto& [inst, mun] = institutions[i % institutions.size()];
        Mentor m;
        m.institution = inst;
        m.user = take(admin->add_user(ms::server::Role::mentor, inst, name), "add_user");
        for (std::size_t l = 0; l < cfg.learners_per_mentor; ++l) {
            ms::server::LearnerInput in;
            in.name = "Learner " + std::to_string(org.learners + 1);
            in.birth_year = rng.between(2008, 2015);
            in.school_id = inst;
            in.municipality_id = mun;
            in.grade = rng.between(1, 12);
            in.education = rng.percent(80) ? "general" : "vocational";
            const ms::Uuid learner = take(admin->add_learner(in), "add_learner");
            ms::server::AssignInput a;
            a.learner = learner;
            a.mentor = m.user;
            a.start_date = "2026-09-01";
            take(admin->assign(a), "assign");
            m.learners.push_back(learner.to_string());
            ++org.learners;
        }
        return m;
    };
    // The Admin calls join an enclosing store transaction, so 50 mentors with their learners
    // and cases are committed at once instead of paying one fsync per call.
    auto in_one_commit = [&](const std::function<void()>& fn) {
        const ms::Status s = admin->store().transact([&]() -> ms::Status {
            fn();  // an exception rolls back; transact() reports it as an internal error
            return {};
        });
        if (!s.ok()) throw BenchError("setup: " + s.to_string());
    };
    const auto start = Clock::now();
    constexpr std::size_t kPerCommit = 50;
    for (std::size_t from = 0; from < eod_devices; from += kPerCommit) {
        in_one_commit([&] {
            for (std::size_t i = from; i < std::min(eod_devices, from + kPerCommit); ++i)
                org.end_of_day.push_back(add_mentor(i, "Mentor " + std::to_string(i + 1)));
        });
        if (org.end_of_day.size() % 100 == 0)
            progress("setup: " + std::to_string(org.end_of_day.size()) + "/" +
                     std::to_string(eod_devices) + " end-of-day mentors (" +
                     fmt(seconds_between(start, Clock::now()), 1) + " s)");
    }
    for (std::size_t from = 0; from < ingest_devices; from += kPerCommit) {
        in_one_commit([&] {
            for (std::size_t i = from; i < std::min(ingest_devices, from + kPerCommit); ++i)
                org.ingest.push_back(add_mentor(i, "Ingest mentor " + std::to_string(i + 1)));
        });
    }
    return org;
}

// ------------------------------------------------------------------------------------------
// The server process

struct ProcMemory {
    double rss_mib = 0, hwm_mib = 0;
};

ProcMemory read_memory(int pid) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/status");
    if (!in) throw BenchError("cannot read /proc/" + std::to_string(pid) + "/status");
    ProcMemory m;
    std::string line;
    while (std::getline(in, line)) {
        auto value = [&](std::string_view key) -> std::optional<double> {
            if (line.rfind(key, 0) != 0) return std::nullopt;
            return std::stod(line.substr(key.size())) / 1024.0;  // kB -> MiB
        };
        if (auto v = value("VmRSS:")) m.rss_mib = *v;
        if (auto v = value("VmHWM:")) m.hwm_mib = *v;
    }
    return m;
}

// User + system CPU seconds of a process (from /proc/<pid>/stat).
double process_cpu_seconds(int pid) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    const auto close = text.rfind(')');
    if (close == std::string::npos) return std::nan("");
    std::istringstream fields(text.substr(close + 2));
    std::string f;
    double utime = 0, stime = 0;
    // After "pid (comm) ": state is field 3; utime and stime are fields 14 and 15.
    for (int i = 3; i <= 15 && fields >> f; ++i) {
        if (i == 14) utime = std::stod(f);
        if (i == 15) stime = std::stod(f);
    }
    return (utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

double self_cpu_seconds() {
    rusage u{};
    getrusage(RUSAGE_SELF, &u);
    auto s = [](const timeval& t) { return static_cast<double>(t.tv_sec) + t.tv_usec / 1e6; };
    return s(u.ru_utime) + s(u.ru_stime);
}

// Raises this process's open-file limit to its hard limit (the child server inherits it).
rlim_t raise_nofile_limit() {
    rlimit r{};
    if (getrlimit(RLIMIT_NOFILE, &r) != 0) return 0;
    if (r.rlim_cur < r.rlim_max) {
        r.rlim_cur = r.rlim_max;
        setrlimit(RLIMIT_NOFILE, &r);
        getrlimit(RLIMIT_NOFILE, &r);
    }
    return r.rlim_cur;
}

class ServerProcess {
  public:
    ServerProcess(const Config& cfg, const std::string& data_dir) {
        int pipe_fds[2];
        if (pipe2(pipe_fds, O_CLOEXEC) != 0) throw BenchError("pipe failed");
        // Every simulated device connects from 127.0.0.1: the per-address limits (connections,
        // enrollments) and the per-device rate would measure themselves, not the server.
        std::vector<std::string> args = {
            cfg.server, "--listen",          "127.0.0.1:0", "--data-dir",
            data_dir,   "--max-connections", "2000",        "--max-connections-per-ip",
            "0",        "--ip-rate",         "0",           "--device-rate",
            "0"};
        if (cfg.server_threads > 0) {
            args.push_back("--threads");
            args.push_back(std::to_string(cfg.server_threads));
        }
        std::vector<char*> argv;
        for (auto& a : args)
            argv.push_back(a.data());
        argv.push_back(nullptr);
        pid_ = fork();
        if (pid_ < 0) throw BenchError("fork failed");
        if (pid_ == 0) {
            prctl(PR_SET_PDEATHSIG, SIGTERM);  // never outlive the bench
            // Its log lines and anything on stdout go to the pipe: the bench's stdout holds
            // figures only.
            dup2(pipe_fds[1], 1);
            dup2(pipe_fds[1], 2);
            execv(argv[0], argv.data());
            _exit(127);
        }
        close(pipe_fds[1]);
        fd_ = pipe_fds[0];
        reader_ = std::thread([this] { read_log(); });
        std::unique_lock lock(mu_);
        const bool up = cv_.wait_for(lock, std::chrono::seconds(20),
                                     [this] { return port_ != 0 || log_closed_; });
        if (!up || port_ == 0) {
            lock.unlock();
            dump_log();
            stop();
            throw BenchError("the server did not report listening (binary " + cfg.server + ")");
        }
    }
    ~ServerProcess() { stop(); }
    ServerProcess(const ServerProcess&) = delete;
    ServerProcess& operator=(const ServerProcess&) = delete;

    int pid() const { return pid_; }
    int port() const { return port_; }
    std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
    bool alive() const { return pid_ > 0 && waitpid(pid_, nullptr, WNOHANG) == 0; }

    void dump_log() const {
        std::lock_guard g(mu_);
        for (const auto& l : lines_)
            std::cerr << "  server: " << l << "\n";
    }

    // SIGTERM, then SIGKILL after 15 s. Returns the exit status.
    int stop() {
        int result = -1;
        if (pid_ > 0) {
            kill(pid_, SIGTERM);
            int status = 0;
            bool exited = false;
            for (int i = 0; i < 1500 && !exited; ++i) {
                if (waitpid(pid_, &status, WNOHANG) == pid_)
                    exited = true;
                else
                    std::this_thread::sleep_for(std::chrono::milliseconds(10));
            }
            if (!exited) {
                kill(pid_, SIGKILL);
                waitpid(pid_, &status, 0);
            }
            result = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
            pid_ = -1;
        }
        if (reader_.joinable()) reader_.join();
        if (fd_ >= 0) close(fd_);
        fd_ = -1;
        return result;
    }

  private:
    void read_log() {
        std::string pending;
        char buf[4096];
        for (ssize_t n; (n = read(fd_, buf, sizeof buf)) > 0;) {
            pending.append(buf, static_cast<std::size_t>(n));
            for (auto nl = pending.find('\n'); nl != std::string::npos; nl = pending.find('\n')) {
                std::string line = pending.substr(0, nl);
                pending.erase(0, nl + 1);
                std::lock_guard g(mu_);
                if (port_ == 0 && line.find("\"listening\"") != std::string::npos) {
                    // {"...","event":"listening",...,"port":43123,...}
                    const auto p = line.find("\"port\":");
                    if (p != std::string::npos) port_ = std::atoi(line.c_str() + p + 7);
                }
                lines_.push_back(std::move(line));
                if (lines_.size() > 200) lines_.pop_front();
                cv_.notify_all();
            }
        }
        std::lock_guard g(mu_);
        log_closed_ = true;
        cv_.notify_all();
    }

    int pid_ = -1;
    int fd_ = -1;
    int port_ = 0;
    bool log_closed_ = false;
    std::thread reader_;
    mutable std::mutex mu_;
    std::condition_variable cv_;
    std::deque<std::string> lines_;
};

// ------------------------------------------------------------------------------------------
// Devices

struct Device {
    const Mentor* mentor = nullptr;
    ms::wire::DeviceKeys keys;
    ms::Uuid node;
    ms::Uuid id;  // from enrollment
    std::uint64_t last_hlc = 0;
};

// A fresh HLC stamp value: wall milliseconds above a 16-bit counter, strictly increasing.
std::uint64_t next_hlc(Device& d) {
    const std::uint64_t wall = static_cast<std::uint64_t>(unix_ms()) << ms::Stamp::kCounterBits;
    d.last_hlc = std::max(d.last_hlc + 1, wall);
    return d.last_hlc;
}

// One record created by one user action: a contact (10 fields, a 300-byte note) or an
// absence (6 fields), as one transaction stamped by the device.
ms::Transaction make_record(Device& d, Rng& rng, bool contact) {
    ms::Transaction t;
    t.stamp = ms::Stamp{next_hlc(d), d.node};
    const ms::Uuid row = rng.uuid();
    const std::string& learner = rng.pick(d.mentor->learners);
    auto set = [&](const char* collection, const char* field, ms::Value v) {
        ms::Change c;
        c.collection = collection;
        c.row = row;
        c.field = field;
        c.value = std::move(v);
        t.changes.push_back(std::move(c));
    };
    if (contact) {
        set("contacts", "learner_id", learner);
        set("contacts", "mentor_id", d.mentor->user.to_string());
        set("contacts", "starts_at",
            date_2026(rng) + "T" + two(rng.between(8, 18)) + ":" + two(rng.between(0, 3) * 15));
        set("contacts", "duration_min", rng.between(15, 120));
        set("contacts", "place", rng.pick(kPlaces));
        set("contacts", "form", rng.percent(85) ? "individual" : "group");
        ms::Value::List topics;
        const std::size_t first = rng.below(kTopics.size()), n = 1 + rng.below(3);
        for (std::size_t i = 0; i < n; ++i)
            topics.emplace_back(kTopics[(first + i * 3) % kTopics.size()]);
        set("contacts", "topics", std::move(topics));
        set("contacts", "notes", note_text(rng, 300));
        set("contacts", "follow_up", date_2026(rng));
        set("contacts", "risk_flag", rng.percent(10));
    } else {
        set("absences", "learner_id", learner);
        set("absences", "date", date_2026(rng));
        set("absences", "lessons", rng.between(1, 8));
        const std::string& status = rng.pick(kStatuses);
        set("absences", "status", status);
        if (status == "justified")
            set("absences", "justification", rng.pick(kJustifications));
        else
            set("absences", "parents_contacted", date_2026(rng));  // six fields either way
        set("absences", "source", rng.pick(kSources));
    }
    return t;
}

// Three contacts to one absence, as a mentor's log roughly has.
bool contact_at(std::size_t i) {
    return i % 4 != 3;
}

// Checks msgpack_size() against the wire encoder: a change's value costs exactly
// msgpack_size() bytes of the body.
void check_value_sizes() {
    Device d;
    Mentor m;
    m.learners = {ms::Uuid{}.to_string()};
    d.mentor = &m;
    d.node = ms::Uuid::random();
    Rng rng(7);
    const ms::Schema& schema = ms::Schema::programme();
    for (bool contact : {true, false}) {
        ms::Transaction t = make_record(d, rng, contact);
        const std::size_t full = ms::wire::encode_transactions(schema, {&t, 1}).size();
        for (std::size_t i = 0; i < t.changes.size(); ++i) {
            ms::Transaction u = t;
            u.changes[i].value = ms::Value();  // nil: one byte
            const std::size_t without = ms::wire::encode_transactions(schema, {&u, 1}).size();
            if (full - without + 1 != msgpack_size(t.changes[i].value))
                throw BenchError("msgpack_size disagrees with the wire encoder for field " +
                                 t.changes[i].field);
        }
    }
}

// The bytes Beast puts on the wire for a request (client::HttpTransport): request line, Host,
// User-Agent, the request's own headers, Content-Length, the blank line. Checked against the
// kernel's count of bytes sent after the end-of-day phase.
std::size_t request_head_bytes(const ms::HttpRequest& r) {
    std::size_t n = r.method.size() + 1 + r.path.size() + std::strlen(" HTTP/1.1\r\n");
    n += std::strlen("Host: 127.0.0.1\r\n") + std::strlen("User-Agent: mentorsync-client/1\r\n");
    for (const auto& h : r.headers)
        n += h.name.size() + 2 + h.value.size() + 2;
    if (!r.body.empty() || r.method != "GET")
        n += std::strlen("Content-Length: \r\n") + std::to_string(r.body.size()).size();
    return n + 2;
}

// A request signed as docs/protocol.md §5 says.
ms::HttpRequest signed_post(const Device& d, std::string path, std::string body, Rng& nonces) {
    ms::HttpRequest r;
    r.method = "POST";
    r.path = std::move(path);
    r.body = std::move(body);
    char nonce[16];
    const std::uint64_t a = nonces.next(), b = nonces.next();
    std::memcpy(nonce, &a, 8);
    std::memcpy(nonce + 8, &b, 8);
    r.headers = {
        {"Content-Type", "application/msgpack"},
        {"Authorization", ms::wire::authorization(d.keys, r.method, r.path, d.id, unix_ms(),
                                                  {nonce, sizeof nonce}, r.body)}};
    return r;
}

std::string describe_error(const ms::HttpResponse& res) {
    auto e = ms::wire::decode_error(res.body);
    return "HTTP " + std::to_string(res.status) +
           (e.ok() ? " " + e->code + ": " + e->message : std::string());
}

// Traffic and timing one client thread saw.
struct Traffic {
    std::uint64_t request_head = 0, request_body = 0, response_body = 0;
    std::uint64_t push_bodies = 0, pull_bodies = 0;  // request + response bodies, by endpoint
    std::uint64_t requests = 0, retries = 0;
    std::vector<double> push_ms;
    void add(const Traffic& o) {
        request_head += o.request_head;
        request_body += o.request_body;
        response_body += o.response_body;
        push_bodies += o.push_bodies;
        pull_bodies += o.pull_bodies;
        requests += o.requests;
        retries += o.retries;
        push_ms.insert(push_ms.end(), o.push_ms.begin(), o.push_ms.end());
    }
};

// Sends a signed POST and returns the 200 answer. A transport failure or 503 is retried (a
// fresh signature each time, after 50 ms doubling) up to five times; any other answer fails.
std::string exchange(ms::client::HttpTransport& transport, const Device& d, const char* path,
                     const std::string& body, Rng& nonces, Traffic& traffic,
                     double* latency_ms = nullptr) {
    for (int attempt = 0;; ++attempt) {
        ms::HttpRequest req = signed_post(d, path, body, nonces);
        traffic.request_head += request_head_bytes(req);
        traffic.request_body += req.body.size();
        std::uint64_t& bodies =
            std::string_view(path) == "/v1/sync/push" ? traffic.push_bodies : traffic.pull_bodies;
        bodies += req.body.size();
        ++traffic.requests;
        const auto start = Clock::now();
        auto res = transport.send(req);
        const double ms_taken = seconds_between(start, Clock::now()) * 1e3;
        std::string why;
        if (!res.ok()) {
            why = res.status().to_string();
        } else if (res->status == 200) {
            traffic.response_body += res->body.size();
            bodies += res->body.size();
            if (latency_ms) *latency_ms = ms_taken;
            return std::move(res->body);
        } else if (res->status != 503) {
            throw BenchError(std::string(path) + ": " + describe_error(*res));
        } else {
            traffic.response_body += res->body.size();
            why = describe_error(*res);
        }
        if (attempt >= 5) throw BenchError(std::string(path) + " failed 6 times: " + why);
        ++traffic.retries;
        std::this_thread::sleep_for(std::chrono::milliseconds(50 << attempt));
    }
}

// Runs fn(i) for i in [0, n) on `threads` threads; rethrows the first failure.
void parallel_for(std::size_t n, std::size_t threads, const std::function<void(std::size_t)>& fn) {
    std::atomic<std::size_t> next{0};
    std::atomic<bool> failed{false};
    std::exception_ptr error;
    std::mutex mu;
    std::vector<std::thread> pool;
    for (std::size_t t = 0; t < std::min(n, threads); ++t) {
        pool.emplace_back([&] {
            for (std::size_t i; !failed && (i = next++) < n;) {
                try {
                    fn(i);
                } catch (...) {
                    std::lock_guard g(mu);
                    if (!error) error = std::current_exception();
                    failed = true;
                }
            }
        });
    }
    for (auto& t : pool)
        t.join();
    if (error) std::rethrow_exception(error);
}

// ------------------------------------------------------------------------------------------
// Kernel byte counts of this process's connections to the server

struct SocketBytes {
    std::uint64_t sent = 0, received = 0;
    std::size_t sockets = 0;
    bool supported = true;
};

// Sums TCP_INFO's tcpi_bytes_acked (payload bytes sent and acknowledged) and
// tcpi_bytes_received (payload bytes received) over every TCP socket of this process connected
// to 127.0.0.1:port. Exact payload counts, headers and bodies both ways, whatever the client
// library does; connections closed before the call are not counted.
SocketBytes socket_bytes_to(int port) {
    SocketBytes out;
    std::vector<int> fds;
    for (const auto& entry : fs::directory_iterator("/proc/self/fd")) {
        int fd = 0;
        try {
            fd = std::stoi(entry.path().filename().string());
        } catch (const std::exception&) {
            continue;
        }
        fds.push_back(fd);
    }
    for (int fd : fds) {
        struct stat st {};
        if (fstat(fd, &st) != 0 || !S_ISSOCK(st.st_mode)) continue;
        sockaddr_in peer{};
        socklen_t len = sizeof peer;
        if (getpeername(fd, reinterpret_cast<sockaddr*>(&peer), &len) != 0) continue;
        if (peer.sin_family != AF_INET || ntohs(peer.sin_port) != port ||
            peer.sin_addr.s_addr != htonl(INADDR_LOOPBACK))
            continue;
        tcp_info info{};
        socklen_t ilen = sizeof info;
        if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &info, &ilen) != 0) continue;
        if (ilen < offsetof(tcp_info, tcpi_bytes_received) + sizeof info.tcpi_bytes_received) {
            out.supported = false;
            continue;
        }
        // The SYN is one acknowledged sequence number, not a payload byte; a FIN received
        // (CLOSE_WAIT, state 8: the server closed an idle connection) is one more.
        out.sent += info.tcpi_bytes_acked - 1;
        out.received += info.tcpi_bytes_received - (info.tcpi_state == 8 ? 1 : 0);
        ++out.sockets;
    }
    return out;
}

// ------------------------------------------------------------------------------------------
// Setup shared by the phases

struct Fleet {
    std::vector<Device> end_of_day;
    std::vector<Device> ingest;
};

void enroll_all(const ServerProcess& server, std::vector<Device>& devices,
                const std::vector<Mentor>& mentors, const std::vector<std::string>& codes,
                const std::string& label) {
    devices.resize(mentors.size());
    const auto endpoint = take(ms::client::Endpoint::parse(server.url()), "endpoint");
    // Enrollment is not measured: 16 clients enroll every device, each over one connection
    // (an HttpTransport loads the system trust store when it is made, which costs CPU).
    constexpr std::size_t kClients = 16;
    std::vector<std::unique_ptr<ms::client::HttpTransport>> transports;
    for (std::size_t i = 0; i < kClients; ++i)
        transports.push_back(std::make_unique<ms::client::HttpTransport>(endpoint));
    std::atomic<std::size_t> next_client{0};
    parallel_for(devices.size(), kClients, [&](std::size_t i) {
        thread_local std::size_t client = next_client++;
        Device& d = devices[i];
        d.mentor = &mentors[i];
        d.keys = ms::wire::DeviceKeys::generate();
        d.node = ms::Uuid::random();
        auto& transport = *transports[client % kClients];
        auto e = take(ms::client::enroll(transport, codes[i], d.keys, d.node,
                                         label + " " + std::to_string(i + 1)),
                      "enroll");
        d.id = e.device_id;
    });
}

// ------------------------------------------------------------------------------------------
// Phases

void bench_end_of_day(const Config& cfg, const ServerProcess& server,
                      std::vector<Device>& devices) {
    const ms::Schema& schema = ms::Schema::programme();
    const std::size_t n = devices.size();
    progress("end_of_day: building the day's records of " + std::to_string(n) + " devices");
    // Each device's day, built before the timer: a tablet has its records in hand. Pushes go
    // in batches of at most 200 transactions, as SyncSession sends them by default.
    constexpr std::size_t kPushBatch = 200;
    std::vector<std::vector<std::string>> bodies(n);
    std::uint64_t pushed_txns = 0, pushed_changes = 0, pushed_value_bytes = 0;
    for (std::size_t i = 0; i < n; ++i) {
        Rng rng(cfg.seed * 1'000'003 + i);
        std::vector<ms::Transaction> day;
        std::size_t changes = 0;
        for (std::size_t r = 0; changes < cfg.changes_per_device; ++r) {
            day.push_back(make_record(devices[i], rng, contact_at(r)));
            changes += day.back().changes.size();
            pushed_value_bytes += value_bytes(day.back());
        }
        pushed_txns += day.size();
        pushed_changes += changes;
        for (std::size_t from = 0; from < day.size(); from += kPushBatch) {
            const std::size_t count = std::min(kPushBatch, day.size() - from);
            bodies[i].push_back(ms::wire::encode_push_request(
                schema, rng.uuid(), std::span<const ms::Transaction>(day.data() + from, count)));
        }
    }

    // One connection per device, kept open until the bytes are counted. The transports are
    // made before the timer: constructing one loads the system trust store (even for plain
    // HTTP), a cost a device pays once per app start, not per sync. Each connects on its
    // device's first request, inside the timer.
    const auto endpoint = take(ms::client::Endpoint::parse(server.url()), "endpoint");
    std::vector<std::unique_ptr<ms::client::HttpTransport>> transports(n);
    for (auto& t : transports)
        t = std::make_unique<ms::client::HttpTransport>(endpoint);
    std::vector<Traffic> traffic(n);
    std::vector<std::uint64_t> pulled_txns(n), pulled_changes(n), pulled_value_bytes(n),
        pull_pages(n);
    std::atomic<std::uint64_t> rejected{0};
    std::mutex first_rejection_mu;
    std::string first_rejection;

    const double server_cpu0 = process_cpu_seconds(server.pid()), client_cpu0 = self_cpu_seconds();
    progress("end_of_day: " + std::to_string(n) + " devices push " +
             std::to_string(pushed_changes) + " changes and pull, " + std::to_string(cfg.pool) +
             " at a time");
    const auto start = Clock::now();
    parallel_for(n, cfg.pool, [&](std::size_t i) {
        Device& d = devices[i];
        Rng nonces(std::random_device{}() ^ (static_cast<std::uint64_t>(i) << 32));
        auto& transport = *transports[i];
        Traffic& t = traffic[i];
        for (const std::string& body : bodies[i]) {
            double latency = 0;
            auto res = take(ms::wire::decode_push_response(
                                exchange(transport, d, "/v1/sync/push", body, nonces, t, &latency)),
                            "push response");
            t.push_ms.push_back(latency);
            for (const auto& r : res.results) {
                if (r.kind == ms::wire::PushResult::Kind::rejected) {
                    ++rejected;
                    std::lock_guard g(first_rejection_mu);
                    if (first_rejection.empty()) first_rejection = r.code + ": " + r.message;
                }
            }
        }
        ms::wire::PullRequest pull;
        pull.limit = ms::wire::kDefaultPullLimit;
        for (;;) {
            auto page = take(ms::wire::decode_pull_response(
                                 schema, exchange(transport, d, "/v1/sync/pull",
                                                  ms::wire::encode_pull_request(pull), nonces, t)),
                             "pull response");
            ++pull_pages[i];
            pulled_txns[i] += page.txns.size();
            for (const auto& txn : page.txns) {
                pulled_changes[i] += txn.changes.size();
                pulled_value_bytes[i] += value_bytes(txn);
            }
            if (!page.more) break;
            pull.cursor = std::move(page.cursor);
        }
    });
    const double secs = seconds_between(start, Clock::now());
    const double server_cpu = process_cpu_seconds(server.pid()) - server_cpu0;
    const double client_cpu = self_cpu_seconds() - client_cpu0;
    if (rejected > 0)
        throw BenchError("end_of_day: the server rejected " + std::to_string(rejected.load()) +
                         " transactions, e.g. " + first_rejection);

    const SocketBytes kernel = socket_bytes_to(server.port());
    transports.clear();

    Traffic all;
    for (const auto& t : traffic)
        all.add(t);
    std::uint64_t p_txns = 0, p_changes = 0, p_values = 0, pages = 0;
    for (std::size_t i = 0; i < n; ++i) {
        p_txns += pulled_txns[i];
        p_changes += pulled_changes[i];
        p_values += pulled_value_bytes[i];
        pages += pull_pages[i];
    }
    progress("end_of_day: " + fmt(secs, 2) + " s; server CPU " + fmt(server_cpu, 2) +
             " s, bench CPU " + fmt(client_cpu, 2) + " s; pulled " + std::to_string(p_txns) +
             " transactions in " + std::to_string(pages) + " pages");

    Figure("server.end_of_day.seconds", secs, "s")
        .str("goal", "<= 10")
        .flag("goal_met", secs <= 10)
        .num("devices", static_cast<double>(n))
        .num("concurrent_clients", static_cast<double>(cfg.pool))
        .num("transactions_pushed", static_cast<double>(pushed_txns))
        .num("changes_pushed", static_cast<double>(pushed_changes))
        .num("transactions_pulled", static_cast<double>(p_txns))
        .num("changes_pulled", static_cast<double>(p_changes))
        .num("requests", static_cast<double>(all.requests))
        .num("retries", static_cast<double>(all.retries))
        .num("server_cpu_s", server_cpu)
        .num("bench_cpu_s", client_cpu)
        .print();

    std::vector<double> lat = all.push_ms;
    const double p50 = percentile(lat, 50), p99 = percentile(lat, 99);
    Figure("server.push.p99_ms", p99, "ms")
        .num("p50_ms", p50)
        .num("max_ms", lat.empty() ? std::nan("") : lat.back())
        .num("pushes", static_cast<double>(lat.size()))
        .num("changes_per_push",
             static_cast<double>(pushed_changes) / std::max<double>(1, lat.size()))
        .str("load", "end_of_day")
        .print();
    Figure("server.push.p50_ms", p50, "ms").str("load", "end_of_day").print();

    // Bytes on the wire. Request heads are what Beast serialises (request_head_bytes); the
    // kernel's count of bytes sent checks them. Response heads are the kernel's count of bytes
    // received minus the response bodies, so both directions are exact payload counts.
    const std::uint64_t requests_total = all.request_head + all.request_body;
    const bool kernel_ok = kernel.supported && kernel.sockets == n && kernel.sent == requests_total;
    if (!kernel_ok)
        progress("end_of_day: kernel byte counts do not match (" + std::to_string(kernel.sockets) +
                 " sockets, " + std::to_string(kernel.sent) + " bytes sent vs " +
                 std::to_string(requests_total) + " serialised): response heads are estimated");
    const std::uint64_t response_head =
        kernel_ok ? kernel.received - all.response_body : 0;  // unknown: reported as null below
    const std::uint64_t wire = requests_total + all.response_body + response_head;
    const std::uint64_t values = pushed_value_bytes + p_values;
    const std::uint64_t changes = pushed_changes + p_changes;
    const double per_change = kernel_ok
                                  ? (static_cast<double>(wire) - static_cast<double>(values)) /
                                        static_cast<double>(std::max<std::uint64_t>(1, changes))
                                  : std::nan("");
    const double dchanges = static_cast<double>(std::max<std::uint64_t>(1, changes));
    const double body_overhead =
        static_cast<double>(all.request_body + all.response_body) - static_cast<double>(values);
    Figure("wire.overhead_bytes_per_change", per_change, "bytes/change")
        .str("goal", "<= 8")
        .flag("goal_met", kernel_ok && per_change <= 8)
        .num("changes", static_cast<double>(changes))
        .num("wire_bytes", kernel_ok ? static_cast<double>(wire) : std::nan(""))
        .num("value_bytes", static_cast<double>(values))
        .num("request_head_bytes", static_cast<double>(all.request_head))
        .num("request_body_bytes", static_cast<double>(all.request_body))
        .num("response_head_bytes", kernel_ok ? static_cast<double>(response_head) : std::nan(""))
        .num("response_body_bytes", static_cast<double>(all.response_body))
        .num("body_overhead_per_change", body_overhead / dchanges)
        .num("push_body_overhead_per_change",
             (static_cast<double>(all.push_bodies) - static_cast<double>(pushed_value_bytes)) /
                 static_cast<double>(std::max<std::uint64_t>(1, pushed_changes)))
        .num("pull_body_overhead_per_change",
             (static_cast<double>(all.pull_bodies) - static_cast<double>(p_values)) /
                 static_cast<double>(std::max<std::uint64_t>(1, p_changes)))
        .num("head_bytes_per_change",
             kernel_ok ? static_cast<double>(all.request_head + response_head) / dchanges
                       : std::nan(""))
        .num("requests", static_cast<double>(all.requests))
        .str("counted_by", kernel_ok ? "TCP_INFO bytes_acked/bytes_received of the device "
                                       "connections, matching the serialised requests"
                                     : "kernel counts unavailable")
        .print();
}

// One unlabelled series of the server's /metrics, through a GET of its own.
std::optional<long> server_metric(const ServerProcess& server, std::string_view name) {
    ms::client::HttpTransport transport(take(ms::client::Endpoint::parse(server.url()), "url"));
    auto res = transport.send(ms::HttpRequest{"GET", "/metrics", {}, {}});
    if (!res.ok() || res->status != 200) return std::nullopt;
    const std::string key = "\n" + std::string(name) + " ";
    const auto p = res->body.find(key);
    if (p == std::string::npos) return std::nullopt;
    return std::strtol(res->body.c_str() + p + key.size(), nullptr, 10);
}

// The server's own gauge of open connections.
std::optional<long> connections_open(const ServerProcess& server) {
    return server_metric(server, "mentorsync_http_connections_open");
}

void bench_ingest(const Config& cfg, const ServerProcess& server, std::vector<Device>& devices) {
    const ms::Schema& schema = ms::Schema::programme();
    const std::size_t n = devices.size();
    const auto endpoint = take(ms::client::Endpoint::parse(server.url()), "endpoint");
    std::vector<Traffic> traffic(n);
    std::vector<std::uint64_t> accepted(n), accepted_txns(n), rejected(n), held(n);
    std::latch ready(static_cast<std::ptrdiff_t>(n) + 1);
    std::atomic<bool> failed{false};
    std::exception_ptr error;
    std::mutex mu;
    Clock::time_point start;
    std::vector<Clock::time_point> finished(n);
    const auto duration = std::chrono::duration_cast<Clock::duration>(
        std::chrono::duration<double>(cfg.ingest_seconds));
    std::vector<std::thread> threads;
    for (std::size_t i = 0; i < n; ++i) {
        threads.emplace_back([&, i] {
            Device& d = devices[i];
            Rng rng(cfg.seed * 7'000'003 + i), nonces(std::random_device{}() + i);
            ms::client::HttpTransport transport(endpoint);
            Traffic& t = traffic[i];
            try {
                // Connect before the start, as a device that is already online.
                auto res = transport.send(ms::HttpRequest{"GET", "/healthz", {}, {}});
                if (!res.ok() || res->status != 200) throw BenchError("healthz failed");
            } catch (...) {
                std::lock_guard g(mu);
                if (!error) error = std::current_exception();
                failed = true;
            }
            ready.arrive_and_wait();
            std::size_t r = 0;
            try {
                while (!failed && Clock::now() - start < duration) {
                    std::vector<ms::Transaction> batch;
                    for (std::size_t k = 0; k < cfg.ingest_batch; ++k, ++r)
                        batch.push_back(make_record(d, rng, contact_at(r)));
                    const std::string body =
                        ms::wire::encode_push_request(schema, rng.uuid(), batch);
                    double latency = 0;
                    auto res = take(ms::wire::decode_push_response(exchange(
                                        transport, d, "/v1/sync/push", body, nonces, t, &latency)),
                                    "push response");
                    t.push_ms.push_back(latency);
                    if (res.results.size() != batch.size())
                        throw BenchError("push answered " + std::to_string(res.results.size()) +
                                         " results for " + std::to_string(batch.size()));
                    for (std::size_t k = 0; k < batch.size(); ++k) {
                        switch (res.results[k].kind) {
                            case ms::wire::PushResult::Kind::accepted:
                                accepted[i] += batch[k].changes.size();
                                ++accepted_txns[i];
                                break;
                            case ms::wire::PushResult::Kind::held:
                                ++held[i];
                                break;
                            case ms::wire::PushResult::Kind::rejected:
                                ++rejected[i];
                                break;
                        }
                    }
                }
            } catch (...) {
                std::lock_guard g(mu);
                if (!error) error = std::current_exception();
                failed = true;
            }
            finished[i] = Clock::now();
        });
    }
    progress("ingest: " + std::to_string(n) + " devices push batches of " +
             std::to_string(cfg.ingest_batch) + " transactions for " + fmt(cfg.ingest_seconds, 0) +
             " s");
    start = Clock::now();
    ready.arrive_and_wait();
    // Read after every client has made its transport and connected (untimed work).
    const double server_cpu0 = process_cpu_seconds(server.pid()), client_cpu0 = self_cpu_seconds();
    for (auto& t : threads)
        t.join();
    if (error) std::rethrow_exception(error);
    const double secs = seconds_between(start, *std::max_element(finished.begin(), finished.end()));
    const double server_cpu = process_cpu_seconds(server.pid()) - server_cpu0;
    const double client_cpu = self_cpu_seconds() - client_cpu0;
    // Pushes are answered once durable; the merged state (coordinators' views) applies them
    // in the background, at most a bounded lag behind. The time until it has caught up is
    // part of the cost: reported as state_drain_s and in merged_changes_per_s.
    double drain = 0;
    for (;;) {
        auto lag = server_metric(server, "mentorsync_state_lag_transactions");
        if (!lag) throw BenchError("/metrics has no mentorsync_state_lag_transactions");
        drain = seconds_between(start, Clock::now()) - secs;
        if (*lag == 0) break;
        if (drain > 120) throw BenchError("the merged state did not catch up within 120 s");
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    drain = std::max(0.0, drain);
    const double server_cpu_drained = process_cpu_seconds(server.pid()) - server_cpu0;
    Traffic all;
    std::uint64_t changes = 0, txns = 0, rej = 0, hld = 0;
    for (std::size_t i = 0; i < n; ++i) {
        all.add(traffic[i]);
        changes += accepted[i];
        txns += accepted_txns[i];
        rej += rejected[i];
        hld += held[i];
    }
    if (txns == 0) throw BenchError("ingest: no transaction was accepted");
    const double rate = static_cast<double>(changes) / secs;
    std::vector<double> lat = all.push_ms;
    const double p50 = percentile(lat, 50), p99 = percentile(lat, 99);
    progress("ingest: " + std::to_string(changes) + " changes in " + fmt(secs, 2) +
             " s; server CPU " + fmt(server_cpu, 2) + " s, bench CPU " + fmt(client_cpu, 2) + " s");
    Figure("server.ingest.changes_per_s", rate, "changes/s")
        .str("goal", ">= 100000")
        .flag("goal_met", rate >= 100'000)
        .num("devices", static_cast<double>(n))
        .num("transactions_per_push", static_cast<double>(cfg.ingest_batch))
        .num("seconds", secs)
        .num("pushes", static_cast<double>(lat.size()))
        .num("transactions_accepted", static_cast<double>(txns))
        .num("changes_accepted", static_cast<double>(changes))
        .num("transactions_rejected", static_cast<double>(rej))
        .num("transactions_held", static_cast<double>(hld))
        .num("push_p50_ms", p50)
        .num("push_p99_ms", p99)
        .num("retries", static_cast<double>(all.retries))
        .num("server_cpu_s", server_cpu)
        .num("bench_cpu_s", client_cpu)
        .num("state_drain_s", drain)
        .num("server_cpu_drained_s", server_cpu_drained)
        .num("merged_changes_per_s", static_cast<double>(changes) / (secs + drain))
        .print();
}

// A plain blocking socket to the server with one GET answered, kept open.
int open_healthz_connection(int port) {
    const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) throw BenchError(std::string("socket: ") + std::strerror(errno));
    timeval tv{10, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<std::uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    auto fail = [&](const std::string& what) {
        const std::string msg = what + ": " + std::strerror(errno);
        close(fd);
        throw BenchError(msg);
    };
    if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) fail("connect");
    const std::string_view req = "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
    if (send(fd, req.data(), req.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(req.size()))
        fail("send");
    std::string got;
    char buf[1024];
    for (;;) {
        const ssize_t r = recv(fd, buf, sizeof buf, 0);
        if (r <= 0) fail("reading the healthz answer");
        got.append(buf, static_cast<std::size_t>(r));
        const auto end = got.find("\r\n\r\n");
        if (end == std::string::npos) continue;
        std::size_t length = 0;
        std::string lower = got.substr(0, end);
        std::transform(lower.begin(), lower.end(), lower.begin(),
                       [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
        if (const auto cl = lower.find("content-length:"); cl != std::string::npos)
            length = std::strtoul(lower.c_str() + cl + 15, nullptr, 10);
        if (got.size() >= end + 4 + length) break;
    }
    if (got.rfind("HTTP/1.1 200", 0) != 0) {
        close(fd);
        throw BenchError("healthz answered " + got.substr(0, got.find('\r')));
    }
    return fd;
}

void bench_rss(const Config& cfg, const ServerProcess& server) {
    const rlim_t limit = raise_nofile_limit();
    if (limit < cfg.connections + 64)
        throw BenchError("RLIMIT_NOFILE is " + std::to_string(limit) + ": too low for " +
                         std::to_string(cfg.connections) + " connections");
    // Earlier phases' connections must be gone, or they count against the server's limit.
    for (int i = 0; i < 100; ++i) {
        auto open = connections_open(server);
        if (open && *open <= 1) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    const ProcMemory before = read_memory(server.pid());
    // VmHWM so far is the peak of the load phases; reset it (Linux >= 4.0) so the figure's
    // peak is that of holding the connections.
    bool reset = false;
    {
        std::ofstream out("/proc/" + std::to_string(server.pid()) + "/clear_refs");
        out << "5";
        out.flush();
        reset = static_cast<bool>(out);
    }
    progress("rss: opening " + std::to_string(cfg.connections) + " keep-alive connections");
    std::vector<int> fds;
    fds.reserve(cfg.connections);
    try {
        for (std::size_t i = 0; i < cfg.connections; ++i)
            fds.push_back(open_healthz_connection(server.port()));
    } catch (...) {
        for (int fd : fds)
            close(fd);
        throw;
    }
    const auto open = connections_open(server);
    const ProcMemory with = read_memory(server.pid());
    for (int fd : fds)
        close(fd);
    progress("rss: " + fmt(with.rss_mib, 1) + " MiB with " + std::to_string(fds.size()) +
             " connections (server counts " + (open ? std::to_string(*open) : "?") + " open)");
    Figure("server.rss_mb", with.rss_mib, "MiB")
        .str("goal", "<= 256")
        .flag("goal_met", with.rss_mib <= 256)
        .num("connections", static_cast<double>(fds.size()))
        .num("server_connections_open", open ? static_cast<double>(*open) : std::nan(""))
        .num("peak_mb", reset ? with.hwm_mib : std::nan(""))
        .num("before_connections_mb", before.rss_mib)
        .num("load_peak_mb", before.hwm_mib)
        .str("note",
             "VmRSS of the server holding the connections, after the earlier phases. peak_mb is "
             "VmHWM since just before the connections opened, load_peak_mb VmHWM before that")
        .print();
}

// ------------------------------------------------------------------------------------------

class ScratchDir {
  public:
    ScratchDir(const std::string& parent, bool keep) : keep_(keep) {
        fs::path base = parent.empty() ? fs::temp_directory_path() : fs::path(parent);
        std::string tmpl = (base / "server_bench.XXXXXX").string();
        if (!mkdtemp(tmpl.data())) throw BenchError("mkdtemp in " + base.string() + " failed");
        path_ = tmpl;
    }
    ~ScratchDir() {
        std::error_code ec;
        if (!keep_) fs::remove_all(path_, ec);
    }
    ScratchDir(const ScratchDir&) = delete;
    ScratchDir& operator=(const ScratchDir&) = delete;
    const fs::path& path() const { return path_; }

  private:
    fs::path path_;
    bool keep_;
};

void run(const Config& cfg) {
    check_value_sizes();
    auto want = [&](std::string_view phase) { return cfg.only.empty() || cfg.only == phase; };
    raise_nofile_limit();
    ScratchDir scratch(cfg.dir, cfg.keep);
    const std::string data_dir = (scratch.path() / "data").string();
    const std::size_t eod = want("end_of_day") ? cfg.devices : 0;
    const std::size_t ingest = want("ingest") ? cfg.ingest_devices : 0;

    progress("setup: " + std::to_string(eod) + " end-of-day and " + std::to_string(ingest) +
             " ingest mentors, " + std::to_string(cfg.learners_per_mentor) + " learners each, in " +
             data_dir);
    const auto setup_start = Clock::now();
    Organisation org = set_up_organisation(cfg, data_dir, eod, ingest);
    // Enrollment codes are issued the same way, before the server opens the store.
    std::vector<std::string> eod_codes, ingest_codes;
    {
        auto admin = take(ms::server::Admin::open(data_dir, false), "open data dir");
        for (const auto& m : org.end_of_day)
            eod_codes.push_back(take(admin->issue_enrollment_code(m.user), "enrollment code").code);
        for (const auto& m : org.ingest)
            ingest_codes.push_back(
                take(admin->issue_enrollment_code(m.user), "enrollment code").code);
    }
    progress("setup: " + std::to_string(org.institutions) + " institutions, " +
             std::to_string(org.learners) + " learners in " +
             fmt(seconds_between(setup_start, Clock::now()), 1) + " s");

    ServerProcess server(cfg, data_dir);
    progress("server pid " + std::to_string(server.pid()) + " listening on " + server.url());
    try {
        Fleet fleet;
        const auto enroll_start = Clock::now();
        enroll_all(server, fleet.end_of_day, org.end_of_day, eod_codes, "Tablet");
        enroll_all(server, fleet.ingest, org.ingest, ingest_codes, "Ingest tablet");
        progress("enrolled " + std::to_string(fleet.end_of_day.size() + fleet.ingest.size()) +
                 " devices in " + fmt(seconds_between(enroll_start, Clock::now()), 1) + " s");
        if (want("end_of_day")) bench_end_of_day(cfg, server, fleet.end_of_day);
        if (want("ingest")) bench_ingest(cfg, server, fleet.ingest);
        if (want("rss")) bench_rss(cfg, server);
    } catch (...) {
        if (!server.alive()) progress("the server died");
        server.dump_log();
        throw;
    }
    const int rc = server.stop();
    if (rc != 0) {
        server.dump_log();
        throw BenchError("the server exited with status " + std::to_string(rc));
    }
}

}  // namespace

int main(int argc, char** argv) {
    std::optional<Config> cfg;
    try {
        cfg = parse_args(argc, argv);
    } catch (const std::exception& e) {
        std::cerr << "server_bench: " << e.what() << "\n";
        usage(std::cerr);
        return 2;
    }
    if (!cfg) {
        usage(std::cout);
        return 0;
    }
    try {
        run(*cfg);
    } catch (const std::exception& e) {
        std::cerr << "server_bench: error: " << e.what() << "\n";
        return 1;
    }
    return 0;
}
