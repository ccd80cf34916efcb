#include "http/session.h"

#include <algorithm>
#include <array>
#include <chrono>
#include <exception>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

#include "common/text.h"
#include "http/beast_message.h"
#include "http/blocking_pool.h"
#include "http/limits.h"
#include "http/msgpack_io.h"

namespace mentorsync::server::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;
using TlsStream = beast::ssl_stream<beast::tcp_stream>;

namespace {

// How much of a refused body close() reads and drops (within its 1 s). A request that broke a
// size limit (413, 431) gets up to 4 MiB, so that a client that sends its whole body before
// reading sees the answer telling it to send less; a 413 whose Content-Length is known gets
// the whole declared body, up to twice the server's body limit (drain_after_413): closing with
// unread bytes resets the connection and can destroy the answer before the client reads it.
// Any other refusal gets 256 KiB, about what a real push still has in flight: more would make
// a flood of refused 4 MiB uploads cost the server a 4 MiB read each.
constexpr std::size_t kDrainTooLarge = 4u << 20;
constexpr std::size_t kDrainRefused = 256u << 10;

std::size_t drain_after_413(std::optional<std::uint64_t> length, std::size_t max_body_bytes) {
    const std::uint64_t cap =
        std::max<std::uint64_t>(kDrainTooLarge, 2 * static_cast<std::uint64_t>(max_body_bytes));
    if (length && *length <= cap) return static_cast<std::size_t>(*length);
    return kDrainTooLarge;
}

// The one place that decides which errors are a client going away (normal, not logged) and
// which are worth a log line.
bool is_disconnect(const beast::error_code& ec) {
    return ec == bhttp::error::end_of_stream || ec == bhttp::error::partial_message ||
           ec == asio::error::eof || ec == asio::error::connection_reset ||
           ec == asio::error::connection_aborted || ec == asio::error::broken_pipe ||
           ec == asio::error::operation_aborted || ec == asio::error::not_connected ||
           ec == asio::error::bad_descriptor || ec == beast::error::timeout ||
           ec == asio::ssl::error::stream_truncated;
}

// A malformed request (as opposed to a broken connection): answered 400, then closed.
bool is_http_parse_error(const beast::error_code& ec) {
    return ec.category() == bhttp::make_error_code(bhttp::error::bad_method).category() &&
           !is_disconnect(ec);
}

// Beast 1.74 has its own string_view type.
std::string_view sv(beast::string_view s) {
    return {s.data(), s.size()};
}

// The request's header block as a plain Request, without its body.
Request head_of(const bhttp::request<bhttp::string_body>& req, const std::string& client) {
    Request out;
    out.method = std::string(req.method_string());
    out.target = std::string(req.target());
    for (const auto& field : req) {
        out.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
    }
    out.client = client;
    return out;
}

// How long a body of `bytes` may take to arrive: slow senders of small bodies are cut off as
// early as slow senders of headers, a large body gets time for a slow uplink.
std::chrono::milliseconds body_deadline(const ServerConfig& cfg, std::size_t bytes) {
    const auto allowed = cfg.header_timeout + std::chrono::seconds(bytes / (16 * 1024));
    return std::min(cfg.read_timeout,
                    std::chrono::duration_cast<std::chrono::milliseconds>(allowed));
}

template <class Stream>
class Session final : public SessionControl, public std::enable_shared_from_this<Session<Stream>> {
  public:
    static constexpr bool kTls = std::is_same_v<Stream, TlsStream>;

    Session(Stream stream, ServerState& state, std::string client)
        : stream_(std::move(stream)),
          state_(state),
          client_(std::move(client)),
          accepted_(Clock::now()) {
        state_.metrics().connection_opened();
    }
    ~Session() override {
        if (registered_) state_.remove_session(this);
        state_.metrics().connection_closed();
    }

    void set_admission(Admission a) {
        admission_ = a;
        registered_ = a == Admission::admitted;
    }

    void stop(bool force) override {
        asio::post(stream_.get_executor(), [self = this->shared_from_this(), force] {
            self->stop_requested_ = true;
            if (force) {
                beast::get_lowest_layer(self->stream_).close();
            } else if (!self->busy_) {
                // Idle: waiting for (or in the middle of) a request header. Cancelling ends
                // the read with operation_aborted; the loop sees stop_requested_ and closes.
                beast::get_lowest_layer(self->stream_).cancel();
            }
        });
    }

    asio::awaitable<void> run();

  private:
    asio::awaitable<void> serve();
    asio::awaitable<bool> write(Response response, RouteId route, std::string_view method,
                                bool keep_alive, Clock::time_point started);
    asio::awaitable<void> close(std::size_t drain);

    void phase(SessionPhase p) {
        if (registered_) state_.set_phase(this, p);
    }

    Stream stream_;
    ServerState& state_;
    const std::string client_;  // client_key() of the peer address
    const Clock::time_point accepted_;
    Admission admission_ = Admission::stopping;
    bool registered_ = false;
    // Only touched on the strand:
    bool busy_ = false;  // between a complete request header and the end of its response
    bool stop_requested_ = false;
};

template <class Stream>
asio::awaitable<void> Session<Stream>::run() {
    const ServerConfig& cfg = state_.config();
    auto& lowest = beast::get_lowest_layer(stream_);
    beast::error_code ec;
    if constexpr (kTls) {
        // The handshake and the first request header share one deadline from accept.
        lowest.expires_at(accepted_ + cfg.header_timeout);
        co_await stream_.async_handshake(asio::ssl::stream_base::server,
                                         asio::redirect_error(asio::use_awaitable, ec));
        if (ec) {
            // Scanners and misconfigured clients; the code says which without any detail.
            if (!is_disconnect(ec)) {
                state_.logger().info("tls_handshake_failed",
                                     {{"error", std::string_view(ec.message())}});
            }
            lowest.close();
            co_return;
        }
    }
    if (!registered_) {
        busy_ = true;
        Response refused = error_response(
            wire::Error::unavailable,
            admission_ == Admission::stopping       ? "the server is shutting down"
            : admission_ == Admission::address_full ? "too many connections from this address"
                                                    : "too many connections");
        if (admission_ != Admission::stopping) refused.headers.emplace_back("Retry-After", "1");
        co_await write(std::move(refused), RouteId::other, "", false, Clock::now());
        // No drain: a refused connection must not linger (it may be one of thousands).
        co_await close(0);
        co_return;
    }
    co_await serve();
}

// One request at a time: header (bounded by header_timeout for a new connection, idle_timeout
// on keep-alive), then Router::check_head() decides from the header alone whether the body is
// worth reading at all, the body budget whether there is room for it, and only then is it read.
template <class Stream>
asio::awaitable<void> Session<Stream>::serve() {
    const ServerConfig& cfg = state_.config();
    auto& lowest = beast::get_lowest_layer(stream_);
    beast::flat_buffer buffer;
    beast::error_code ec;
    bool first = true;
    for (;;) {
        // Checked and followed by the read with no suspension in between, so a stop() posted
        // to this strand either is seen here or cancels the read.
        if (stop_requested_ || state_.stopping()) break;
        busy_ = false;
        if (!first) phase(SessionPhase::idle);
        bhttp::request_parser<bhttp::string_body> parser;
        parser.header_limit(static_cast<std::uint32_t>(cfg.max_header_bytes));
        parser.body_limit(cfg.max_body_bytes);

        if (first) {
            lowest.expires_at(accepted_ + cfg.header_timeout);
        } else {
            lowest.expires_after(cfg.idle_timeout);
        }
        first = false;
        co_await bhttp::async_read_header(stream_, buffer, parser,
                                          asio::redirect_error(asio::use_awaitable, ec));
        auto started = Clock::now();
        if (ec == bhttp::error::header_limit) {
            busy_ = true;
            co_await write(error_response(wire::Error::headers_too_large,
                                          "the request header block is larger than " +
                                              std::to_string(cfg.max_header_bytes) + " bytes"),
                           RouteId::other, "", false, started);
            co_await close(kDrainTooLarge);
            co_return;
        }
        if (ec == bhttp::error::body_limit) {
            // A Content-Length beyond the limit is refused from the header alone: the body is
            // never read, let alone buffered.
            busy_ = true;
            const auto& head = parser.get();
            co_await write(error_response(wire::Error::body_too_large,
                                          "the body is larger than " +
                                              std::to_string(cfg.max_body_bytes) + " bytes"),
                           Router::route_of(sv(head.target())), sv(head.method_string()), false,
                           started);
            std::optional<std::uint64_t> declared;
            if (const auto l = parser.content_length()) declared = *l;
            co_await close(drain_after_413(declared, cfg.max_body_bytes));
            co_return;
        }
        if (ec) {
            if (is_http_parse_error(ec)) {
                busy_ = true;
                co_await write(error_response(wire::Error::bad_request, "malformed HTTP request"),
                               RouteId::other, "", false, started);
                co_await close(kDrainRefused);
                co_return;
            }
            break;  // the client left, the timeout passed, or shutdown cancelled the read
        }
        busy_ = true;
        phase(SessionPhase::busy);

        const bool client_keep_alive = parser.get().keep_alive();
        const bool has_body = !parser.is_done();
        std::optional<std::uint64_t> length;
        if (const auto l = parser.content_length()) length = *l;
        Request request = head_of(parser.get(), client_);
        HeadCheck check = state_.router().check_head(request, length, has_body);

        BodyBudget::Lease lease;
        if (!check.answer && has_body &&
            !state_.body_budget().reserve(client_, length.value_or(check.body_limit), lease)) {
            check.answer = state_.router().overloaded(
                request, "too many large request bodies in flight: retry shortly");
        }
        if (check.answer) {
            // Refused from the header. A small body that the client is sending anyway is read
            // and dropped after the answer, so that the connection can go on; any other body
            // is never read, and since unread bytes would be taken for the next request, the
            // connection ends with the answer.
            const bool expects_continue =
                common::iequals_ascii(sv(parser.get()[bhttp::field::expect]), "100-continue");
            const bool drop_body = has_body && length && *length <= BodyBudget::kSmallBody &&
                                   check.answer->status != 413 && !expects_continue;
            const RouteId route = route_from_name(check.answer->route);
            const int status = check.answer->status;
            const bool keep_alive = (!has_body || drop_body) && client_keep_alive &&
                                    !stop_requested_ && !state_.stopping();
            const bool written = co_await write(std::move(*check.answer), route, request.method,
                                                keep_alive, started);
            if (!written) break;
            if (!keep_alive) {
                co_await close(!has_body       ? 0
                               : status == 413 ? drain_after_413(length, cfg.max_body_bytes)
                                               : kDrainRefused);
                co_return;
            }
            if (drop_body) {
                lowest.expires_after(body_deadline(cfg, static_cast<std::size_t>(*length)));
                co_await bhttp::async_read(stream_, buffer, parser,
                                           asio::redirect_error(asio::use_awaitable, ec));
                if (ec) break;
            }
            continue;
        }

        if (has_body) {
            // curl and others wait for "100 Continue" before sending a large body.
            if (common::iequals_ascii(sv(parser.get()[bhttp::field::expect]), "100-continue")) {
                bhttp::response<bhttp::empty_body> cont{bhttp::status::continue_, 11};
                lowest.expires_after(cfg.write_timeout);
                co_await bhttp::async_write(stream_, cont,
                                            asio::redirect_error(asio::use_awaitable, ec));
                if (ec) break;
            }
            // Chunked bodies (no Content-Length) are held to the route's own limit as they come.
            parser.body_limit(check.body_limit);
            lowest.expires_after(body_deadline(cfg, length.value_or(check.body_limit)));
            co_await bhttp::async_read(stream_, buffer, parser,
                                       asio::redirect_error(asio::use_awaitable, ec));
            if (ec == bhttp::error::body_limit) {
                co_await write(error_response(wire::Error::body_too_large,
                                              "the body is larger than " +
                                                  std::to_string(check.body_limit) + " bytes"),
                               Router::route_of(request.target), request.method, false, started);
                co_await close(kDrainTooLarge);
                co_return;
            }
            if (ec) {
                if (is_http_parse_error(ec)) {
                    co_await write(
                        error_response(wire::Error::bad_request, "malformed HTTP request"),
                        RouteId::other, "", false, started);
                    co_await close(kDrainRefused);
                    co_return;
                }
                break;
            }
            request.body = std::move(parser.get().body());
        }
        lowest.expires_never();  // the service call may take a while; no timer fires in it

        Response response;
        if (check.signin) {
            // Argon2id: on the sign-in pool, never on this io thread, which serves other
            // connections while the verification runs.
            const Router& router = state_.router();
            auto verified = state_.signin_pool().try_run(
                [&router, &request] { return router.handle(request); }, asio::use_awaitable);
            if (verified) {
                response = co_await std::move(*verified);
            } else {
                response =
                    router.overloaded(request, "too many sign-ins in progress: retry shortly");
            }
        } else {
            // SQLite and the log sync: on the store pool, so that a slow disk holds this
            // request only, not the io thread and every connection it serves.
            const Router& router = state_.router();
            auto handled = state_.store_pool().try_run(
                [&router, &request] { return router.handle(request); }, asio::use_awaitable);
            if (handled) {
                response = co_await std::move(*handled);
            } else {
                response = router.overloaded(request, "the server is busy: retry shortly");
            }
        }
        const RouteId route = route_from_name(response.route);
        // A request that arrived before shutdown is answered in full, but the connection
        // ends with it.
        const bool keep_alive = client_keep_alive && !stop_requested_ && !state_.stopping();
        const bool written =
            co_await write(std::move(response), route, request.method, keep_alive, started);
        if (!written || !keep_alive) break;
    }
    co_await close(0);
}

// Writes one response and accounts it. Returns false when the write failed.
template <class Stream>
asio::awaitable<bool> Session<Stream>::write(Response response, RouteId route,
                                             std::string_view method, bool keep_alive,
                                             Clock::time_point started) {
    auto res = to_beast_response(response, method, keep_alive);

    beast::error_code ec;
    beast::get_lowest_layer(stream_).expires_after(state_.config().write_timeout);
    co_await bhttp::async_write(stream_, res, asio::redirect_error(asio::use_awaitable, ec));
    state_.record(route, method, response, Clock::now() - started);
    if (ec && !is_disconnect(ec)) {
        state_.logger().warn("write_failed", {{"error", std::string_view(ec.message())}});
    }
    co_return !ec;
}

// Ends the connection politely and in bounded time. `drain`: the client may still be sending
// a body we refused; reading and discarding up to that many bytes of it (for at most 1 s) lets
// the client read our answer before the close, where closing with unread data would reset the
// connection and could destroy the answer in flight.
template <class Stream>
asio::awaitable<void> Session<Stream>::close(std::size_t drain) {
    auto& lowest = beast::get_lowest_layer(stream_);
    beast::error_code ec;
    if constexpr (kTls) {
        lowest.expires_after(std::chrono::seconds(1));
        co_await stream_.async_shutdown(asio::redirect_error(asio::use_awaitable, ec));
    } else {
        lowest.socket().shutdown(tcp::socket::shutdown_send, ec);
        if (drain > 0 && !ec) {
            lowest.expires_after(std::chrono::seconds(1));
            std::array<char, 16 * 1024> scratch;
            std::size_t total = 0;
            while (total < drain) {
                const std::size_t n = co_await lowest.async_read_some(
                    asio::buffer(scratch), asio::redirect_error(asio::use_awaitable, ec));
                if (ec) break;
                total += n;
            }
        }
    }
    lowest.close();
}

template <class Stream>
asio::awaitable<void> run_session(std::shared_ptr<Session<Stream>> session) {
    co_await session->run();
}

template <class Stream>
void spawn(Stream stream, ServerState& state, std::string client) {
    auto executor = stream.get_executor();
    auto session = std::make_shared<Session<Stream>>(std::move(stream), state, client);
    session->set_admission(state.add_session(session, client));
    asio::co_spawn(executor, run_session(std::move(session)), [&state](std::exception_ptr e) {
        if (!e) return;
        // Only allocation failure or a bug gets here; the connection is already gone.
        try {
            std::rethrow_exception(e);
        } catch (const std::exception& ex) {
            state.logger().error("session_failed", {{"error", std::string_view(ex.what())}});
        } catch (...) {
            state.logger().error("session_failed");
        }
    });
}

}  // namespace

void start_session(tcp::socket socket, ServerState& state, asio::ssl::context* tls) {
    beast::error_code ec;
    const auto peer = socket.remote_endpoint(ec);
    std::string client = ec ? std::string() : client_key(peer.address().to_string());
    if (tls != nullptr) {
        spawn(TlsStream(beast::tcp_stream(std::move(socket)), *tls), state, std::move(client));
    } else {
        spawn(beast::tcp_stream(std::move(socket)), state, std::move(client));
    }
}

}  // namespace mentorsync::server::http
