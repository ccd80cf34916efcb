// The listener: owns the acceptor and hands each accepted connection to a session on a strand
// of its own. Stopping closes the acceptor (on the listener's strand), which ends the accept
// loop; open connections are the sessions' business.
// Thread-safety: stop() and port() may be called from any thread; open() before start().
#pragma once

#include <cstdint>
#include <memory>
#include <utility>  // Boost 1.74's awaitable.hpp uses std::exchange without it

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/strand.hpp>

#include "http/shared_state.h"
#include "mentorsync/status.h"

namespace mentorsync::server::http {

class Listener : public std::enable_shared_from_this<Listener> {
  public:
    // `tls` null: plain HTTP. `state` and `*tls` must outlive the io_context's threads.
    Listener(boost::asio::io_context& ioc, ServerState& state, boost::asio::ssl::context* tls);

    // Opens, binds and listens. Errors (address in use, permission) are Code::io.
    Status open(const boost::asio::ip::tcp::endpoint& endpoint);
    // The bound port (the real one when 0 was asked for).
    std::uint16_t port() const noexcept { return port_; }
    void start();
    void stop();

  private:
    boost::asio::awaitable<void> accept_loop();

    boost::asio::io_context& ioc_;
    ServerState& state_;
    boost::asio::ssl::context* tls_;
    boost::asio::strand<boost::asio::io_context::executor_type> strand_;
    boost::asio::ip::tcp::acceptor acceptor_;  // only used on strand_ once started
    std::uint16_t port_ = 0;
};

}  // namespace mentorsync::server::http
