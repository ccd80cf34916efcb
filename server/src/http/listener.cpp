#include "http/listener.h"

#include <chrono>
#include <string>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "http/session.h"

namespace mentorsync::server::http {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

Listener::Listener(asio::io_context& ioc, ServerState& state, asio::ssl::context* tls)
    : ioc_(ioc), state_(state), tls_(tls), strand_(asio::make_strand(ioc)), acceptor_(strand_) {}

Status Listener::open(const tcp::endpoint& endpoint) {
    boost::system::error_code ec;
    const auto fail = [&](const char* what) {
        return Status::io(std::string(what) + " " + endpoint.address().to_string() + ":" +
                          std::to_string(endpoint.port()) + ": " + ec.message());
    };
    acceptor_.open(endpoint.protocol(), ec);
    if (ec) return fail("cannot open a socket for");
    // A restarted server must not wait for the old socket's TIME_WAIT to pass.
    acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
    if (ec) return fail("cannot set SO_REUSEADDR on");
    acceptor_.bind(endpoint, ec);
    if (ec) return fail("cannot bind");
    acceptor_.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) return fail("cannot listen on");
    port_ = acceptor_.local_endpoint(ec).port();
    if (ec) return fail("cannot read the bound port of");
    return Status();
}

void Listener::start() {
    asio::co_spawn(
        strand_, [self = shared_from_this()] { return self->accept_loop(); }, asio::detached);
}

void Listener::stop() {
    asio::post(strand_, [self = shared_from_this()] {
        boost::system::error_code ec;
        self->acceptor_.close(ec);
    });
}

asio::awaitable<void> Listener::accept_loop() {
    asio::steady_timer backoff(strand_);
    for (;;) {
        boost::system::error_code ec;
        // Each connection gets a strand of its own: its handlers never run concurrently,
        // while different connections use every io thread.
        const asio::any_io_executor session_executor = asio::make_strand(ioc_);
        tcp::socket socket = co_await acceptor_.async_accept(
            session_executor, asio::redirect_error(asio::use_awaitable, ec));
        if (!acceptor_.is_open() || ec == asio::error::operation_aborted) break;
        if (ec) {
            // Typically EMFILE: accepting again at once would spin. Wait, then retry.
            state_.logger().warn("accept_failed", {{"error", std::string_view(ec.message())}});
            backoff.expires_after(std::chrono::milliseconds(100));
            co_await backoff.async_wait(asio::redirect_error(asio::use_awaitable, ec));
            continue;
        }
        socket.set_option(tcp::no_delay(true), ec);
        start_session(std::move(socket), state_, tls_);
    }
    state_.logger().info("listener_stopped");
}

}  // namespace mentorsync::server::http
