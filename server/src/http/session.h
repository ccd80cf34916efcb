// One client connection: the only translation unit that includes Beast's HTTP code.
//
// Each connection runs as one coroutine on its own strand (the executor of the accepted
// socket), so its stream, buffers and flags need no locks, and requests on a connection are
// answered strictly one after another: at most one write is ever in flight. Every wait is
// bounded: idle_timeout for the next request's header, read_timeout for the TLS handshake and
// a body, write_timeout for a response.
#pragma once

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>

#include "http/shared_state.h"

namespace mentorsync::server::http {

// Starts serving `socket`, whose executor must be a strand of its own. `tls` null: plain
// HTTP. Returns at once; the session keeps itself alive and unregisters from `state` when the
// connection ends. `state` and `*tls` must outlive every session (the server joins its io
// threads before destroying them).
void start_session(boost::asio::ip::tcp::socket socket, ServerState& state,
                   boost::asio::ssl::context* tls);

}  // namespace mentorsync::server::http
