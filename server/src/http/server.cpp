#include "http/server.h"

#include <csignal>
#include <exception>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <sodium.h>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "http/listener.h"
#include "http/shared_state.h"

namespace mentorsync::server::http {

namespace asio = boost::asio;
namespace ssl = boost::asio::ssl;
using tcp = asio::ip::tcp;

namespace {

// TLS 1.2 or newer with the server's cipher preference; the certificate chain and key come
// from PEM files. Errors name the file and carry OpenSSL's reason.
Result<std::unique_ptr<ssl::context>> make_tls_context(const ServerConfig& cfg) {
    if (cfg.tls_cert_file.empty() || cfg.tls_key_file.empty()) {
        return Status::invalid_argument("TLS needs both --tls-cert and --tls-key");
    }
    auto ctx = std::make_unique<ssl::context>(ssl::context::tls_server);
    boost::system::error_code ec;
    ctx->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                         ssl::context::no_sslv3 | ssl::context::no_tlsv1 |
                         ssl::context::no_tlsv1_1 | ssl::context::single_dh_use,
                     ec);
    SSL_CTX_set_min_proto_version(ctx->native_handle(), TLS1_2_VERSION);
    SSL_CTX_set_options(ctx->native_handle(), SSL_OP_CIPHER_SERVER_PREFERENCE);
    ctx->use_certificate_chain_file(cfg.tls_cert_file, ec);
    if (ec)
        return Status::io("cannot load the TLS certificate " + cfg.tls_cert_file + ": " +
                          ec.message());
    ctx->use_private_key_file(cfg.tls_key_file, ssl::context::pem, ec);
    if (ec) return Status::io("cannot load the TLS key " + cfg.tls_key_file + ": " + ec.message());
    if (SSL_CTX_check_private_key(ctx->native_handle()) != 1) {
        ERR_clear_error();
        return Status::invalid_argument("the TLS key " + cfg.tls_key_file +
                                        " does not match the certificate " + cfg.tls_cert_file);
    }
    return ctx;
}

}  // namespace

struct HttpServer::Impl {
    Impl(ServerConfig cfg, SyncService& service, Logger log, const CoordApi* coord)
        : config(cfg),
          logger(log),
          state(std::move(cfg), service, std::move(log), coord),
          ioc(static_cast<int>(config.threads == 0 ? 1 : config.threads)),
          control(asio::make_strand(ioc)) {}
    ~Impl() {
        // The sign-in pool's jobs post back to the io_context: its threads end first.
        state.stop_pools();
        // The acceptor and signal set must go while their io_context lives; the io_context
        // must go before `state` and `tls`, because destroying it destroys the frames of any
        // sessions abandoned by a timed-out shutdown, and those refer to both.
        signals.reset();
        listener.reset();
    }

    void begin_shutdown(std::string_view reason);
    asio::awaitable<void> drain();
    asio::awaitable<void> wait_for_sessions(std::chrono::steady_clock::time_point deadline);
    void arm_signals();

    // Declaration order is destruction order in reverse: see ~Impl.
    const ServerConfig config;
    Logger logger;
    std::unique_ptr<ssl::context> tls;
    ServerState state;
    asio::io_context ioc;
    // Shutdown steps run here, one at a time, whoever triggers them.
    asio::strand<asio::io_context::executor_type> control;
    std::shared_ptr<Listener> listener;
    std::optional<asio::signal_set> signals;
    std::vector<std::thread> threads;
    bool shutdown_started = false;  // only touched on `control`
    bool started = false;
};

void HttpServer::Impl::arm_signals() {
    signals->async_wait([this](const boost::system::error_code& ec, int signo) {
        if (ec) return;  // cancelled at the end of shutdown
        begin_shutdown(signo == SIGINT ? "SIGINT" : "SIGTERM");
        arm_signals();  // a second signal forces the close
    });
}

void HttpServer::Impl::begin_shutdown(std::string_view reason) {
    if (shutdown_started) {
        if (reason != "request") {
            logger.warn("shutdown_forced", {{"reason", reason}});
            state.stop_sessions(true);
        }
        return;
    }
    shutdown_started = true;
    logger.info("shutdown_started",
                {{"reason", reason},
                 {"connections", static_cast<std::int64_t>(state.session_count())},
                 {"timeout_ms", static_cast<std::int64_t>(config.shutdown_timeout.count())}});
    // Order matters: once stopping() is set no new session registers, so the snapshot that
    // stop_sessions() takes next covers every connection that will ever be served.
    state.begin_stopping();
    if (listener) listener->stop();
    state.stop_sessions(false);
    asio::co_spawn(control, drain(), asio::detached);
}

asio::awaitable<void> HttpServer::Impl::wait_for_sessions(
    std::chrono::steady_clock::time_point deadline) {
    // Polling keeps the sessions free of any callback into shutdown; 20 ms is far below
    // anything a person or an orchestrator notices.
    asio::steady_timer timer(control);
    while (state.session_count() > 0 && std::chrono::steady_clock::now() < deadline) {
        timer.expires_after(std::chrono::milliseconds(20));
        boost::system::error_code ec;
        co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    }
}

asio::awaitable<void> HttpServer::Impl::drain() {
    const auto started_at = std::chrono::steady_clock::now();
    co_await wait_for_sessions(started_at + config.shutdown_timeout);
    if (const std::size_t left = state.session_count(); left > 0) {
        logger.warn("shutdown_timeout", {{"connections", static_cast<std::int64_t>(left)}});
        state.stop_sessions(true);
        co_await wait_for_sessions(std::chrono::steady_clock::now() + std::chrono::seconds(1));
    }
    if (signals) {
        boost::system::error_code ec;
        signals->cancel(ec);
    }
    const auto elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(
        std::chrono::steady_clock::now() - started_at);
    if (const std::size_t left = state.session_count(); left > 0) {
        // Last resort: a session stuck in a service call. Its thread is abandoned to finish
        // on its own; the process is about to exit anyway.
        logger.error("shutdown_abandoned", {{"connections", static_cast<std::int64_t>(left)}});
        ioc.stop();
        co_return;
    }
    logger.info("shutdown_complete", {{"duration_ms", static_cast<std::int64_t>(elapsed.count())}});
}

HttpServer::HttpServer(ServerConfig config, SyncService& service, Logger logger,
                       const CoordApi* coord)
    : impl_(std::make_unique<Impl>(std::move(config), service, std::move(logger), coord)) {}

HttpServer::~HttpServer() {
    if (impl_->started) {
        request_stop();
        wait();
    }
}

Status HttpServer::start() {
    Impl& s = *impl_;
    if (s.started) return Status::invalid_argument("the server is already started");
    if (sodium_init() < 0) return Status::internal("libsodium failed to initialise");
    if (s.config.max_body_bytes == 0 || s.config.max_header_bytes == 0) {
        return Status::invalid_argument("body and header limits must be positive");
    }
    if (s.config.body_budget_bytes != 0 && s.config.body_budget_bytes < s.config.max_body_bytes) {
        return Status::invalid_argument("the body budget must hold at least one largest body");
    }

    boost::system::error_code ec;
    const std::string host = s.config.address == "localhost" ? "127.0.0.1" : s.config.address;
    const auto address = asio::ip::make_address(host, ec);
    if (ec) {
        return Status::invalid_argument("listen address \"" + s.config.address +
                                        "\" is not an IP address");
    }
    if (s.config.tls()) {
        auto ctx = make_tls_context(s.config);
        if (!ctx.ok()) return ctx.status();
        s.tls = std::move(ctx).value();
    }
    s.listener = std::make_shared<Listener>(s.ioc, s.state, s.tls.get());
    MS_RETURN_IF_ERROR(s.listener->open(tcp::endpoint(address, s.config.port)));

    if (s.config.handle_signals) {
        s.signals.emplace(s.control, SIGINT, SIGTERM);
        s.arm_signals();
    }
    s.listener->start();
    s.started = true;
    s.logger.info("listening", {{"address", std::string_view(address.to_string())},
                                {"port", static_cast<std::int64_t>(s.listener->port())},
                                {"tls", s.tls != nullptr},
                                {"threads", static_cast<std::int64_t>(s.config.threads)}});
    const unsigned n = s.config.threads == 0 ? 1 : s.config.threads;
    for (unsigned i = 0; i < n; ++i) {
        s.threads.emplace_back([&s] {
            // A handler that throws must not take the whole server down with it: log and
            // keep running (Asio leaves the io_context usable after an exception).
            for (;;) {
                try {
                    s.ioc.run();
                    return;
                } catch (const std::exception& e) {
                    s.logger.error("io_thread_exception", {{"error", std::string_view(e.what())}});
                } catch (...) {
                    s.logger.error("io_thread_exception");
                }
            }
        });
    }
    return Status();
}

std::uint16_t HttpServer::port() const noexcept {
    return impl_->listener ? impl_->listener->port() : 0;
}

void HttpServer::request_stop() {
    Impl* s = impl_.get();
    asio::post(s->control, [s] { s->begin_shutdown("request"); });
}

void HttpServer::wait() {
    for (auto& t : impl_->threads) {
        if (t.joinable()) t.join();
    }
}

}  // namespace mentorsync::server::http
