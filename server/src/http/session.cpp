#include "http/session.h"

#include <array>
#include <cctype>
#include <chrono>
#include <exception>
#include <memory>
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

#include "http/msgpack_io.h"

namespace mentorsync::server::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;
using TlsStream = beast::ssl_stream<beast::tcp_stream>;

namespace {

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

bool iequals(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i) {
        if (std::tolower(static_cast<unsigned char>(a[i])) !=
            std::tolower(static_cast<unsigned char>(b[i]))) {
            return false;
        }
    }
    return true;
}

// Beast 1.74 has its own string_view type.
std::string_view sv(beast::string_view s) {
    return {s.data(), s.size()};
}

Request to_plain(bhttp::request<bhttp::string_body>&& req) {
    Request out;
    out.method = std::string(req.method_string());
    out.target = std::string(req.target());
    for (const auto& field : req) {
        out.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
    }
    out.body = std::move(req.body());
    return out;
}

template <class Stream>
class Session final : public SessionControl, public std::enable_shared_from_this<Session<Stream>> {
  public:
    static constexpr bool kTls = std::is_same_v<Stream, TlsStream>;

    Session(Stream stream, ServerState& state) : stream_(std::move(stream)), state_(state) {
        state_.metrics().connection_opened();
    }
    ~Session() override {
        if (registered_) state_.remove_session(this);
        state_.metrics().connection_closed();
    }

    void set_registered(bool registered) { registered_ = registered; }

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
    asio::awaitable<void> close(bool drain);

    Stream stream_;
    ServerState& state_;
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
        lowest.expires_after(cfg.read_timeout);
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
        co_await write(error_response(503, "unavailable",
                                      state_.stopping() ? "the server is shutting down"
                                                        : "too many connections"),
                       RouteId::other, "", false, Clock::now());
        co_await close(true);
        co_return;
    }
    co_await serve();
}

template <class Stream>
asio::awaitable<void> Session<Stream>::serve() {
    const ServerConfig& cfg = state_.config();
    auto& lowest = beast::get_lowest_layer(stream_);
    beast::flat_buffer buffer;
    beast::error_code ec;
    for (;;) {
        // Checked and followed by the read with no suspension in between, so a stop() posted
        // to this strand either is seen here or cancels the read.
        if (stop_requested_ || state_.stopping()) break;
        busy_ = false;
        bhttp::request_parser<bhttp::string_body> parser;
        parser.header_limit(static_cast<std::uint32_t>(cfg.max_header_bytes));
        parser.body_limit(cfg.max_body_bytes);

        lowest.expires_after(cfg.idle_timeout);
        co_await bhttp::async_read_header(stream_, buffer, parser,
                                          asio::redirect_error(asio::use_awaitable, ec));
        auto started = Clock::now();
        if (ec == bhttp::error::header_limit) {
            busy_ = true;
            co_await write(error_response(431, "headers_too_large",
                                          "the request header block is larger than " +
                                              std::to_string(cfg.max_header_bytes) + " bytes"),
                           RouteId::other, "", false, started);
            co_await close(true);
            co_return;
        }
        if (ec == bhttp::error::body_limit) {
            // A Content-Length beyond the limit is refused from the header alone: the body is
            // never read, let alone buffered.
            busy_ = true;
            const auto& head = parser.get();
            co_await write(error_response(413, "body_too_large",
                                          "the body is larger than " +
                                              std::to_string(cfg.max_body_bytes) + " bytes"),
                           Router::route_of(sv(head.target())), sv(head.method_string()), false,
                           started);
            co_await close(true);
            co_return;
        }
        if (ec) {
            if (is_http_parse_error(ec)) {
                busy_ = true;
                co_await write(error_response(400, "bad_request", "malformed HTTP request"),
                               RouteId::other, "", false, started);
                co_await close(true);
                co_return;
            }
            break;  // the client left, the idle timeout passed, or shutdown cancelled the read
        }
        busy_ = true;

        // curl and others wait for "100 Continue" before sending a large body.
        if (iequals(sv(parser.get()[bhttp::field::expect]), "100-continue")) {
            bhttp::response<bhttp::empty_body> cont{bhttp::status::continue_, 11};
            lowest.expires_after(cfg.write_timeout);
            co_await bhttp::async_write(stream_, cont,
                                        asio::redirect_error(asio::use_awaitable, ec));
            if (ec) break;
        }
        if (!parser.is_done()) {
            lowest.expires_after(cfg.read_timeout);
            co_await bhttp::async_read(stream_, buffer, parser,
                                       asio::redirect_error(asio::use_awaitable, ec));
            if (ec == bhttp::error::body_limit) {  // chunked bodies are only caught here
                const auto& head = parser.get();
                co_await write(error_response(413, "body_too_large",
                                              "the body is larger than " +
                                                  std::to_string(cfg.max_body_bytes) + " bytes"),
                               Router::route_of(sv(head.target())), sv(head.method_string()), false,
                               started);
                co_await close(true);
                co_return;
            }
            if (ec) {
                if (is_http_parse_error(ec)) {
                    co_await write(error_response(400, "bad_request", "malformed HTTP request"),
                                   RouteId::other, "", false, started);
                    co_await close(true);
                    co_return;
                }
                break;
            }
        }
        lowest.expires_never();  // the service call may take a while; no timer fires in it

        const bool client_keep_alive = parser.get().keep_alive();
        Request request = to_plain(parser.release());
        Response response = state_.router().handle(request);
        const RouteId route = route_from_name(response.route);
        // A request that arrived before shutdown is answered in full, but the connection
        // ends with it.
        const bool keep_alive = client_keep_alive && !stop_requested_ && !state_.stopping();
        const bool written =
            co_await write(std::move(response), route, request.method, keep_alive, started);
        if (!written || !keep_alive) break;
    }
    co_await close(false);
}

// Writes one response and accounts it. Returns false when the write failed.
template <class Stream>
asio::awaitable<bool> Session<Stream>::write(Response response, RouteId route,
                                             std::string_view method, bool keep_alive,
                                             Clock::time_point started) {
    bhttp::response<bhttp::string_body> res{static_cast<bhttp::status>(response.status), 11};
    res.set(bhttp::field::server, "mentorsync");
    res.set(bhttp::field::cache_control, "no-store");
    if (!response.content_type.empty()) res.set(bhttp::field::content_type, response.content_type);
    for (const auto& [name, value] : response.headers)
        res.set(name, value);
    res.body() = std::move(response.body);
    res.keep_alive(keep_alive);
    res.prepare_payload();
    // HEAD: the headers a GET would get (Content-Length included), without the body.
    if (method == "HEAD") res.body().clear();

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
// a body we refused; reading and discarding it for a moment (up to 1 s / 4 MiB) lets the client
// read our answer before the close, where closing with unread data would reset the connection
// and could destroy the answer in flight.
template <class Stream>
asio::awaitable<void> Session<Stream>::close(bool drain) {
    auto& lowest = beast::get_lowest_layer(stream_);
    beast::error_code ec;
    if constexpr (kTls) {
        lowest.expires_after(std::chrono::seconds(1));
        co_await stream_.async_shutdown(asio::redirect_error(asio::use_awaitable, ec));
    } else {
        lowest.socket().shutdown(tcp::socket::shutdown_send, ec);
        if (drain && !ec) {
            lowest.expires_after(std::chrono::seconds(1));
            std::array<char, 16 * 1024> scratch;
            std::size_t total = 0;
            while (total < (4u << 20)) {
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
void spawn(Stream stream, ServerState& state) {
    auto executor = stream.get_executor();
    auto session = std::make_shared<Session<Stream>>(std::move(stream), state);
    session->set_registered(state.add_session(session));
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
    if (tls != nullptr) {
        spawn(TlsStream(beast::tcp_stream(std::move(socket)), *tls), state);
    } else {
        spawn(beast::tcp_stream(std::move(socket)), state);
    }
}

}  // namespace mentorsync::server::http
