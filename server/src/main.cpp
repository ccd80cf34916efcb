// mentorsync-server: the sync server's command line.
//
//   mentorsync-server [serve] [flags]     run the HTTP server (docs/operations.md)
//   mentorsync-server admin <command> ... administer the data directory (core/admin.h)
//
// Every serve flag has an environment variable (flags win), so that a container or a systemd
// unit can configure the server without a wrapper script. Exit codes: 0 stopped cleanly,
// 1 failed to start, 2 bad command line.
#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "cli/admin_cli.h"
#include "core/service.h"
#include "core/sync_service.h"
#include "http/config.h"
#include "http/coord_api.h"
#include "http/log.h"
#include "http/server.h"

namespace {

using mentorsync::server::http::Logger;
using mentorsync::server::http::ServerConfig;

constexpr const char* kUsage = R"(usage: mentorsync-server [serve] [flags]
       mentorsync-server admin <command> --data-dir DIR [options]   (admin --help for commands)

Runs the MentorSync sync server (docs/protocol.md) until SIGTERM or SIGINT.

flags (each may also be set by the environment variable shown; a flag wins):
  --listen ADDR:PORT        MENTORSYNC_LISTEN            default 127.0.0.1:8443
                            IPv6 as [ADDR]:PORT; port 0 picks a free port, which the
                            "listening" log line reports
  --data-dir DIR            MENTORSYNC_DATA_DIR          required; holds server.db and
                            server.key, created by `mentorsync-server admin init`
  --threads N               MENTORSYNC_THREADS           default: one per CPU, at least 2 (io
                            only: the database work runs on the store threads)
  --store-threads N         MENTORSYNC_STORE_THREADS     default: 2 per CPU, at least 4:
                            threads for each request's database work and log sync
  --max-body BYTES          MENTORSYNC_MAX_BODY          default 4194304 (the protocol's 4 MiB)
  --max-connections N       MENTORSYNC_MAX_CONNECTIONS   default 1024; at the limit a new
                            connection displaces the oldest one that has sent no request yet
                            (else the oldest idle one); only if all are busy it gets 503
  --max-connections-per-ip N  MENTORSYNC_MAX_CONNECTIONS_PER_IP  default 64 (an IPv6 /64 is
                            one address); the same displacement within one address; 0: none
  --header-timeout S        MENTORSYNC_HEADER_TIMEOUT    default 10: seconds a new connection
                            gets for its TLS handshake and first request header
  --body-budget BYTES       MENTORSYNC_BODY_BUDGET       default 67108864 (64 MiB): bodies over
                            64 KiB in flight, server-wide; beyond it 503; 0: no budget
  --device-rate N           MENTORSYNC_DEVICE_RATE       default 10: requests per second one
                            device may make to /v1/sync/* after its burst; 0: no limit
  --device-burst N          MENTORSYNC_DEVICE_BURST      default 60
  --ip-rate R               MENTORSYNC_IP_RATE           default 0.5: enrollments and sign-ins
                            per second from one address after its burst; 0: no limit
  --ip-burst N              MENTORSYNC_IP_BURST          default 20
  --signin-threads N        MENTORSYNC_SIGNIN_THREADS    default 2: threads for Argon2id
  --signin-queue N          MENTORSYNC_SIGNIN_QUEUE      default 32: sign-ins that may wait for
                            them; more get 503
  --tls-cert FILE           MENTORSYNC_TLS_CERT          PEM certificate chain
  --tls-key FILE            MENTORSYNC_TLS_KEY           PEM private key; TLS is on when
                            both are given, otherwise plain HTTP (loopback and tests only)
  --shutdown-timeout S      MENTORSYNC_SHUTDOWN_TIMEOUT  default 10: seconds in-flight requests
                            get to finish after SIGTERM/SIGINT
  --help                    this text

Logs: JSON lines on stderr. Exit codes: 0 stopped cleanly, 1 failed to start, 2 usage error.
)";

using mentorsync::Result;
using mentorsync::Status;

struct Flag {
    std::string_view name;  // without "--"
    const char* env;
    std::optional<std::string> value;
};

std::optional<unsigned long long> parse_uint(std::string_view text) {
    unsigned long long v = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    if (text.empty() || ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
    return v;
}

// Every failure here is a usage error: invalid_argument, its message naming the flag.
Result<unsigned long long> uint_flag(const Flag& f, unsigned long long min,
                                     unsigned long long max) {
    const auto v = parse_uint(*f.value);
    if (!v || *v < min || *v > max) {
        return Status::invalid_argument("--" + std::string(f.name) +
                                        " must be a whole number from " + std::to_string(min) +
                                        " to " + std::to_string(max));
    }
    return *v;
}

// A non-negative decimal ("0.5", "10") of at most `max`.
Result<double> rate_flag(const Flag& f, double max) {
    double v = 0;
    const std::string& t = *f.value;
    const auto [end, ec] = std::from_chars(t.data(), t.data() + t.size(), v);
    if (t.empty() || ec != std::errc() || end != t.data() + t.size() || !(v >= 0) || v > max) {
        return Status::invalid_argument("--" + std::string(f.name) +
                                        " must be a number from 0 to " +
                                        std::to_string(static_cast<long long>(max)));
    }
    return v;
}

// Fills `config` and `data_dir` from the environment, then from argv[first..]. Returns false
// when --help was asked for; invalid_argument (a usage error) names what was wrong.
Result<bool> parse_serve_args(int argc, char** argv, int first, ServerConfig& config,
                              std::string& data_dir) {
    std::vector<Flag> flags = {
        {"listen", "MENTORSYNC_LISTEN", {}},
        {"data-dir", "MENTORSYNC_DATA_DIR", {}},
        {"threads", "MENTORSYNC_THREADS", {}},
        {"max-body", "MENTORSYNC_MAX_BODY", {}},
        {"max-connections", "MENTORSYNC_MAX_CONNECTIONS", {}},
        {"max-connections-per-ip", "MENTORSYNC_MAX_CONNECTIONS_PER_IP", {}},
        {"header-timeout", "MENTORSYNC_HEADER_TIMEOUT", {}},
        {"body-budget", "MENTORSYNC_BODY_BUDGET", {}},
        {"device-rate", "MENTORSYNC_DEVICE_RATE", {}},
        {"device-burst", "MENTORSYNC_DEVICE_BURST", {}},
        {"ip-rate", "MENTORSYNC_IP_RATE", {}},
        {"ip-burst", "MENTORSYNC_IP_BURST", {}},
        {"signin-threads", "MENTORSYNC_SIGNIN_THREADS", {}},
        {"signin-queue", "MENTORSYNC_SIGNIN_QUEUE", {}},
        {"store-threads", "MENTORSYNC_STORE_THREADS", {}},
        {"tls-cert", "MENTORSYNC_TLS_CERT", {}},
        {"tls-key", "MENTORSYNC_TLS_KEY", {}},
        {"shutdown-timeout", "MENTORSYNC_SHUTDOWN_TIMEOUT", {}},
    };
    for (Flag& f : flags) {
        if (const char* v = std::getenv(f.env); v != nullptr && *v != '\0') f.value = v;
    }
    for (int i = first; i < argc; ++i) {
        std::string_view arg = argv[i];
        if (arg == "--help" || arg == "-h") return false;
        if (arg.rfind("--", 0) != 0)
            return Status::invalid_argument("unexpected argument '" + std::string(arg) + "'");
        arg.remove_prefix(2);
        std::optional<std::string> inline_value;
        if (const auto eq = arg.find('='); eq != std::string_view::npos) {
            inline_value = std::string(arg.substr(eq + 1));
            arg = arg.substr(0, eq);
        }
        Flag* flag = nullptr;
        for (Flag& f : flags) {
            if (f.name == arg) flag = &f;
        }
        if (flag == nullptr) return Status::invalid_argument("unknown flag --" + std::string(arg));
        if (inline_value) {
            flag->value = std::move(inline_value);
        } else if (i + 1 < argc) {
            flag->value = argv[++i];
        } else {
            return Status::invalid_argument("--" + std::string(arg) + " needs a value");
        }
    }

    // Precondition: `name` is in `flags` (the names below are the table's own).
    const auto get = [&](std::string_view name) -> const Flag& {
        for (const Flag& f : flags) {
            if (f.name == name) return f;
        }
        std::abort();
    };
    if (const Flag& f = get("listen"); f.value) {
        auto parsed = mentorsync::server::http::parse_listen(*f.value);
        if (!parsed.ok()) return Status::invalid_argument("--listen: " + parsed.status().message());
        config.address = parsed->first;
        config.port = parsed->second;
    }
    if (const Flag& f = get("data-dir"); f.value) data_dir = *f.value;
    // The io threads only parse and write; a request's database work, including the wait
    // for the log's sync, runs on the store threads, which may outnumber the cores because
    // they spend much of their time waiting on the disk.
    config.threads = std::max(2u, std::thread::hardware_concurrency());
    config.store_threads = std::max(4u, 2 * std::thread::hardware_concurrency());
    if (const Flag& f = get("store-threads"); f.value) {
        MS_ASSIGN_OR_RETURN(const auto v, uint_flag(f, 1, 256));
        config.store_threads = static_cast<unsigned>(v);
    }
    if (const Flag& f = get("threads"); f.value) {
        MS_ASSIGN_OR_RETURN(const auto v, uint_flag(f, 1, 256));
        config.threads = static_cast<unsigned>(v);
    }
    if (const Flag& f = get("max-body"); f.value) {
        MS_ASSIGN_OR_RETURN(const auto v, uint_flag(f, 1024, 64ull << 20));
        config.max_body_bytes = static_cast<std::size_t>(v);
    }
    if (const Flag& f = get("max-connections"); f.value) {
        MS_ASSIGN_OR_RETURN(const auto v, uint_flag(f, 1, 1'000'000));
        config.max_connections = static_cast<std::size_t>(v);
    }
    if (const Flag& f = get("max-connections-per-ip"); f.value) {
        MS_ASSIGN_OR_RETURN(const auto v, uint_flag(f, 0, 1'000'000));
        config.max_connections_per_ip = static_cast<std::size_t>(v);
    }
    if (const Flag& f = get("header-timeout"); f.value) {
        MS_ASSIGN_OR_RETURN(const auto v, uint_flag(f, 1, 300));
        config.header_timeout = std::chrono::seconds(v);
    }
    if (const Flag& f = get("body-budget"); f.value) {
        MS_ASSIGN_OR_RETURN(const auto v, uint_flag(f, 0, 64ull << 30));
        config.body_budget_bytes = static_cast<std::size_t>(v);
    }
    if (config.body_budget_bytes != 0 && config.body_budget_bytes < config.max_body_bytes) {
        return Status::invalid_argument("--body-budget must be 0 or at least --max-body");
    }
    if (const Flag& f = get("device-rate"); f.value) {
        MS_ASSIGN_OR_RETURN(config.device_rate_per_s, rate_flag(f, 1e6));
    }
    if (const Flag& f = get("device-burst"); f.value) {
        MS_ASSIGN_OR_RETURN(const auto v, uint_flag(f, 1, 1'000'000));
        config.device_rate_burst = static_cast<double>(v);
    }
    if (const Flag& f = get("ip-rate"); f.value) {
        MS_ASSIGN_OR_RETURN(config.ip_rate_per_s, rate_flag(f, 1e6));
    }
    if (const Flag& f = get("ip-burst"); f.value) {
        MS_ASSIGN_OR_RETURN(const auto v, uint_flag(f, 1, 1'000'000));
        config.ip_rate_burst = static_cast<double>(v);
    }
    if (const Flag& f = get("signin-threads"); f.value) {
        MS_ASSIGN_OR_RETURN(const auto v, uint_flag(f, 1, 64));
        config.signin_threads = static_cast<unsigned>(v);
    }
    if (const Flag& f = get("signin-queue"); f.value) {
        MS_ASSIGN_OR_RETURN(const auto v, uint_flag(f, 0, 100'000));
        config.signin_queue = static_cast<std::size_t>(v);
    }
    if (const Flag& f = get("tls-cert"); f.value) config.tls_cert_file = *f.value;
    if (const Flag& f = get("tls-key"); f.value) config.tls_key_file = *f.value;
    if (config.tls_cert_file.empty() != config.tls_key_file.empty()) {
        return Status::invalid_argument("--tls-cert and --tls-key go together");
    }
    if (const Flag& f = get("shutdown-timeout"); f.value) {
        MS_ASSIGN_OR_RETURN(const auto v, uint_flag(f, 0, 3600));
        config.shutdown_timeout = std::chrono::seconds(v);
    }
    if (data_dir.empty())
        return Status::invalid_argument("--data-dir (or MENTORSYNC_DATA_DIR) is required");
    return true;
}

int serve(int argc, char** argv, int first) {
    ServerConfig config;
    config.handle_signals = true;
    std::string data_dir;
    const auto parsed = parse_serve_args(argc, argv, first, config, data_dir);
    if (!parsed.ok()) {
        std::fprintf(stderr, "mentorsync-server: %s\n\n%s", parsed.status().message().c_str(),
                     kUsage);
        return 2;
    }
    if (!*parsed) {
        std::fputs(kUsage, stdout);
        return 0;
    }

    const Logger logger;
    mentorsync::server::ServiceOptions options;
    options.data_dir = data_dir;
    // A mistyped --data-dir must not start an empty server that devices would then sync
    // against: the directory is created only by `admin init`.
    options.create_if_missing = false;
    // One log: the core's lines (merged state, store) go through the same logger, one lock.
    options.log = logger.sink();
    // This process owns state.db from here on (state.lock, core/data_dir_lock.h): a second
    // server on the same directory stops here.
    auto core = mentorsync::server::open_server_core(options);
    if (!core.ok()) {
        logger.error("startup_failed", {{"error", std::string_view(core.status().to_string())}});
        return 1;
    }
    // The coordinator API (/api/v1, docs/api/openapi.yaml): coord.db, and the same merged state
    // as the pushes (one owner of state.db), read through a store connection of its own so that
    // its reads do not queue behind pushes. Secure cookies exactly when the server speaks TLS.
    auto coord = mentorsync::server::http::CoordApi::open(data_dir, core->state, config.tls(),
                                                          logger.sink());
    if (!coord.ok()) {
        logger.error("startup_failed", {{"error", std::string_view(coord.status().to_string())}});
        return 1;
    }
    mentorsync::server::http::HttpServer server(config, *core->service, logger, coord->get());
    if (auto st = server.start(); !st.ok()) {
        logger.error("startup_failed", {{"error", std::string_view(st.to_string())}});
        return 1;
    }
    server.wait();
    logger.info("stopped");
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    const std::string_view command = argc > 1 ? argv[1] : "";
    if (command == "admin") return mentorsync::server::run_admin(argc, argv);
    if (command == "serve") return serve(argc, argv, 2);
    if (command.empty() || command.rfind("-", 0) == 0) return serve(argc, argv, 1);
    std::fprintf(stderr, "mentorsync-server: unknown command '%s'\n\n%s", argv[1], kUsage);
    return 2;
}
