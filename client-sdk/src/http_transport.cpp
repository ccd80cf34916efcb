// The only translation unit of the client that includes Beast: a blocking HTTP/1.1 client with
// keep-alive, connect and request deadlines, and TLS through OpenSSL.
#include "http_transport.h"

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/version.hpp>

#include <algorithm>
#include <charconv>
#include <optional>
#include <thread>

#include "common/text.h"

namespace mentorsync::client {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

bool valid_host(std::string_view h) {
    if (h.empty() || h.size() > 253) return false;
    return std::all_of(h.begin(), h.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
               c == '-' || c == '.' || c == ':';
    });
}

}  // namespace

Result<Endpoint> Endpoint::parse(std::string_view url) {
    Endpoint e;
    std::string_view rest;
    if (url.rfind("http://", 0) == 0) {
        rest = url.substr(7);
        e.port = "80";
    } else if (url.rfind("https://", 0) == 0) {
        rest = url.substr(8);
        e.tls = true;
        e.port = "443";
    } else {
        return Status::invalid_argument("server URL must start with http:// or https://");
    }
    auto slash = rest.find('/');
    std::string_view authority = rest.substr(0, slash);
    if (slash != std::string_view::npos) {
        std::string_view path = rest.substr(slash);
        while (!path.empty() && path.back() == '/')
            path.remove_suffix(1);
        if (path.find_first_of("?# ") != std::string_view::npos)
            return Status::invalid_argument("server URL must not carry a query or fragment");
        e.base_path = std::string(path);
    }
    std::string_view host = authority;
    if (!authority.empty() && authority.front() == '[') {  // [::1]:8443
        auto close = authority.find(']');
        if (close == std::string_view::npos)
            return Status::invalid_argument("server URL has an unclosed [ in its host");
        host = authority.substr(1, close - 1);
        std::string_view after = authority.substr(close + 1);
        if (!after.empty()) {
            if (after.front() != ':') return Status::invalid_argument("server URL: bad port");
            e.port = std::string(after.substr(1));
        }
    } else if (auto colon = authority.rfind(':'); colon != std::string_view::npos) {
        host = authority.substr(0, colon);
        e.port = std::string(authority.substr(colon + 1));
    }
    if (!valid_host(host)) return Status::invalid_argument("server URL has no valid host");
    e.host = std::string(host);
    unsigned port = 0;
    auto [p, ec] = std::from_chars(e.port.data(), e.port.data() + e.port.size(), port);
    if (ec != std::errc() || p != e.port.data() + e.port.size() || port == 0 || port > 65535)
        return Status::invalid_argument("server URL has an invalid port");
    return e;
}

bool Endpoint::is_loopback() const {
    if (common::iequals_ascii(host, "localhost")) return true;
    // Only an address literal is known to be this machine without asking a resolver:
    // "127.example.org" is somebody else's name.
    boost::system::error_code ec;
    const auto address = asio::ip::make_address(host, ec);
    return !ec && address.is_loopback();
}

struct HttpTransport::Impl {
    Endpoint endpoint;
    TransportOptions options;
    asio::io_context ioc;
    asio::ssl::context ssl_ctx{asio::ssl::context::tls_client};
    std::optional<beast::tcp_stream> plain;
    std::optional<beast::ssl_stream<beast::tcp_stream>> secure;
    beast::flat_buffer buffer;

    bool trust_loaded = false;
    bool timed_out = false;  // the last exchange failed by its deadline

    Impl(Endpoint e, TransportOptions o) : endpoint(std::move(e)), options(std::move(o)) {}

    // Loading the system trust store costs ~17 ms of CPU: only TLS connections pay it, once.
    Status load_trust() {
        if (trust_loaded) return {};
        beast::error_code ec;
        ssl_ctx.set_default_verify_paths(ec);
        if (ec) return Status::io("TLS: cannot load the system's trusted certificates");
        if (!options.ca_file.empty()) {
            ssl_ctx.load_verify_file(options.ca_file, ec);
            if (ec)
                return Status::invalid_argument("TLS: cannot read the CA file " + options.ca_file +
                                                ": " + ec.message());
        }
        ssl_ctx.set_verify_mode(options.verify_peer ? asio::ssl::verify_peer
                                                    : asio::ssl::verify_none);
        trust_loaded = true;
        return {};
    }

    bool connected() const { return plain.has_value() || secure.has_value(); }

    void close() {
        beast::error_code ec;
        if (plain) plain->socket().shutdown(tcp::socket::shutdown_both, ec);
        if (secure) beast::get_lowest_layer(*secure).socket().close(ec);
        plain.reset();
        secure.reset();
        buffer.clear();
    }

    Status connect() {
        close();
        beast::error_code ec;
        tcp::resolver resolver(ioc);
        auto results = resolver.resolve(endpoint.host, endpoint.port, ec);
        if (ec) return Status::io("cannot resolve " + endpoint.host + ": " + ec.message());
        beast::tcp_stream stream(ioc);
        stream.expires_after(options.connect_timeout);
        // A synchronous connect cannot be timed out; run the async one against the deadline.
        stream.async_connect(results, [&](beast::error_code e, const tcp::endpoint&) { ec = e; });
        ioc.restart();
        ioc.run();
        if (ec)
            return Status::io("cannot connect to " + endpoint.host + ":" + endpoint.port + ": " +
                              ec.message());
        if (!endpoint.tls) {
            plain.emplace(std::move(stream));
            return {};
        }
        MS_RETURN_IF_ERROR(load_trust());
        secure.emplace(std::move(stream), ssl_ctx);
        if (!SSL_set_tlsext_host_name(secure->native_handle(), endpoint.host.c_str()))
            return Status::io("TLS: cannot set the server name");
        if (options.verify_peer)
            secure->set_verify_callback(asio::ssl::host_name_verification(endpoint.host));
        beast::get_lowest_layer(*secure).expires_after(options.connect_timeout);
        secure->async_handshake(asio::ssl::stream_base::client,
                                [&](beast::error_code e) { ec = e; });
        ioc.restart();
        ioc.run();
        if (ec) {
            close();
            return Status::io("TLS handshake with " + endpoint.host + " failed: " + ec.message());
        }
        return {};
    }

    template <typename Stream>
    Result<HttpResponse> exchange(Stream& stream, beast::tcp_stream& lowest,
                                  const HttpRequest& request) {
        http::request<http::string_body> req{http::string_to_verb(request.method),
                                             endpoint.base_path + request.path, 11};
        req.set(http::field::host, endpoint.host);
        req.set(http::field::user_agent, "mentorsync-client/1");
        req.keep_alive(true);
        for (const auto& h : request.headers)
            req.set(h.name, h.value);
        req.body() = request.body;
        req.prepare_payload();

        beast::error_code ec;
        lowest.expires_after(options.request_timeout);
        http::async_write(stream, req, [&](beast::error_code e, std::size_t) { ec = e; });
        ioc.restart();
        ioc.run();
        timed_out = ec == beast::error::timeout;
        if (ec) return Status::io("sending the request failed: " + ec.message());

        http::response_parser<http::string_body> parser;
        parser.body_limit(options.max_response_bytes);
        http::async_read(stream, buffer, parser, [&](beast::error_code e, std::size_t) { ec = e; });
        ioc.restart();
        ioc.run();
        timed_out = ec == beast::error::timeout;
        if (ec) return Status::io("reading the response failed: " + ec.message());
        auto& res = parser.get();
        HttpResponse out;
        out.status = static_cast<int>(res.result_int());
        out.body = std::move(res.body());
        if (auto it = res.find(http::field::retry_after); it != res.end())
            out.retry_after_s =
                parse_retry_after(std::string_view(it->value().data(), it->value().size()));
        if (!res.keep_alive()) close();
        return out;
    }

    Result<HttpResponse> send(const RequestBuilder& build) {
        // A kept-alive connection may have been closed by the server meanwhile: one reconnect
        // covers that, anything else is reported. A timeout is reported too: waiting a second
        // request_timeout would break the bound callers are promised.
        for (int attempt = 0; attempt < 2; ++attempt) {
            // Built per attempt: a resend never repeats the nonce the server may already have
            // recorded. Built before connecting, so a local failure is reported as such even
            // when the network is down.
            Result<HttpRequest> request = build();
            if (!request.ok()) return request.status();
            if (http::string_to_verb(request->method) == http::verb::unknown)
                return Status::invalid_argument("unknown HTTP method '" + request->method + "'");
            const bool reused = connected();
            if (!reused) MS_RETURN_IF_ERROR(connect());
            timed_out = false;
            Result<HttpResponse> r =
                plain ? exchange(*plain, *plain, *request)
                      : exchange(*secure, beast::get_lowest_layer(*secure), *request);
            if (r.ok()) return r;
            close();
            if (!reused || timed_out) return r;
        }
        return Status::io("the server closed the connection");
    }
};

HttpTransport::HttpTransport(Endpoint endpoint, TransportOptions options)
    : impl_(std::make_unique<Impl>(std::move(endpoint), std::move(options))) {}
HttpTransport::~HttpTransport() {
    impl_->close();
}

Result<HttpResponse> HttpTransport::send(const RequestBuilder& build) {
    try {
        return impl_->send(build);
    } catch (const std::exception& e) {
        impl_->close();
        return Status::io(std::string("HTTP transport: ") + e.what());
    }
}

Result<HttpResponse> HttpTransport::send(const HttpRequest& request) {
    const bool signed_request = request.header("Authorization").has_value();
    bool sent = false;
    return send([&]() -> Result<HttpRequest> {
        if (sent && signed_request)
            return Status::io(
                "the kept-alive connection failed; a signed request is not sent twice (its "
                "nonce may be recorded): sign it again");
        sent = true;
        return request;
    });
}

void HttpTransport::disconnect() {
    impl_->close();
}
const Endpoint& HttpTransport::endpoint() const noexcept {
    return impl_->endpoint;
}

Result<SyncProgress> run_sync(SyncSession& session, HttpTransport& transport,
                              const RunOptions& options) {
    auto cancelled = [&] { return options.cancelled && options.cancelled(); };
    auto sleep = [&](std::int64_t ms) {
        if (options.sleep) return options.sleep(ms);
        while (ms > 0 && !cancelled()) {
            std::int64_t slice = std::min<std::int64_t>(ms, 100);
            std::this_thread::sleep_for(std::chrono::milliseconds(slice));
            ms -= slice;
        }
    };
    session.start();
    int failures = 0;
    for (;;) {
        if (cancelled()) return Status::closed("sync cancelled");
        // The session signs each request it hands out, so the transport asks it again for a
        // resend after a stale connection. Its failure is local (a locked replica, storage),
        // not the network's: it ends the sync as is.
        std::optional<Status> local;
        auto response = transport.send([&]() -> Result<HttpRequest> {
            auto request = session.next_request();
            if (!request.ok()) local = request.status();
            return request;
        });
        if (local) return *local;
        SyncStep step = response.ok() ? session.handle_response(*response)
                                      : session.handle_transport_error(response.status().message());
        if (options.report) {
            options.report->last_step = step;
            options.report->transport_failed = !response.ok();
            options.report->last_http_status = response.ok() ? response->status : 0;
        }
        switch (step.kind) {
            case SyncStep::Kind::next:
                failures = 0;
                continue;
            case SyncStep::Kind::done:
                return session.progress();
            case SyncStep::Kind::failed:
                if (!step.transient) return step.status;
                if (options.max_attempts > 0 && ++failures >= options.max_attempts)
                    return Status(step.status.code(), "giving up after " +
                                                          std::to_string(failures) +
                                                          " attempts: " + step.status.message());
                sleep(step.retry_after_ms);
                continue;
        }
    }
}

Result<Enrollment> enroll(HttpTransport& transport, std::string_view code,
                          const wire::DeviceKeys& keys, const Uuid& node, std::string_view label) {
    auto request = enrollment_request(code, keys, node, label);
    if (!request.ok()) return request.status();
    auto response = transport.send(*request);
    if (!response.ok()) return response.status();
    return parse_enrollment_response(*response);
}

}  // namespace mentorsync::client
