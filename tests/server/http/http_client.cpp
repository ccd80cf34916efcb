#include "http_client.h"

#include <chrono>
#include <fstream>
#include <stdexcept>
#include <utility>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

namespace mstest {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;

namespace {

constexpr auto kTimeout = std::chrono::seconds(5);

}  // namespace

struct HttpClient::Impl {
    asio::io_context ioc;
    asio::ssl::context ctx{asio::ssl::context::tls_client};
    std::unique_ptr<beast::tcp_stream> plain;
    std::unique_ptr<beast::ssl_stream<beast::tcp_stream>> tls;
    beast::flat_buffer buffer;

    beast::tcp_stream& lowest() { return tls ? beast::get_lowest_layer(*tls) : *plain; }

    // Runs one asynchronous operation to completion under the client's timeout.
    template <class Start>
    beast::error_code run(Start&& start) {
        beast::error_code result = asio::error::would_block;
        lowest().expires_after(kTimeout);
        start([&result](beast::error_code ec, auto&&...) { result = ec; });
        ioc.restart();
        ioc.run();
        return result;
    }

    template <class F>
    beast::error_code with_stream(F&& f) {
        if (tls) return f(*tls);
        return f(*plain);
    }
};

HttpClient::HttpClient(std::uint16_t port, const std::string& trusted_cert_pem,
                       const std::string& source_address)
    : impl_(std::make_unique<Impl>()) {
    Impl& s = *impl_;
    const tcp::endpoint endpoint(asio::ip::make_address("127.0.0.1"), port);
    if (!trusted_cert_pem.empty()) {
        s.ctx.add_certificate_authority(asio::buffer(trusted_cert_pem));
        s.ctx.set_verify_mode(asio::ssl::verify_peer);
        s.tls = std::make_unique<beast::ssl_stream<beast::tcp_stream>>(s.ioc, s.ctx);
    } else {
        s.plain = std::make_unique<beast::tcp_stream>(s.ioc);
    }
    if (!source_address.empty()) {
        auto& sock = s.lowest().socket();
        sock.open(tcp::v4());
        sock.bind(tcp::endpoint(asio::ip::make_address(source_address), 0));
    }
    auto ec = s.run([&](auto handler) { s.lowest().async_connect(endpoint, handler); });
    if (ec) throw std::runtime_error("connect: " + ec.message());
    if (s.tls) {
        ec = s.run(
            [&](auto handler) { s.tls->async_handshake(asio::ssl::stream_base::client, handler); });
        if (ec) throw std::runtime_error("TLS handshake: " + ec.message());
    }
}

HttpClient::~HttpClient() = default;

HttpResponse HttpClient::request(const std::string& method, const std::string& target,
                                 const std::string& body, const std::string& content_type,
                                 const Headers& headers) {
    bhttp::request<bhttp::string_body> req{bhttp::string_to_verb(method), target, 11};
    req.set(bhttp::field::host, "127.0.0.1");
    if (!content_type.empty()) req.set(bhttp::field::content_type, content_type);
    for (const auto& [k, v] : headers)
        req.set(k, v);
    req.body() = body;
    req.prepare_payload();
    Impl& s = *impl_;
    const auto ec = s.with_stream([&](auto& stream) {
        return s.run([&](auto handler) { bhttp::async_write(stream, req, handler); });
    });
    if (ec) return {};
    return read_response();
}

bool HttpClient::write_raw(std::string_view bytes) {
    Impl& s = *impl_;
    const auto ec = s.with_stream([&](auto& stream) {
        return s.run([&](auto handler) {
            asio::async_write(stream, asio::buffer(bytes.data(), bytes.size()), handler);
        });
    });
    return !ec;
}

HttpResponse HttpClient::read_response() {
    Impl& s = *impl_;
    bhttp::response_parser<bhttp::string_body> parser;
    parser.body_limit(64u << 20);
    const auto ec = s.with_stream([&](auto& stream) {
        return s.run([&](auto handler) { bhttp::async_read(stream, s.buffer, parser, handler); });
    });
    HttpResponse out;
    if (ec) return out;
    auto res = parser.release();
    out.status = static_cast<int>(res.result_int());
    for (const auto& f : res) {
        std::string name(f.name_string());
        for (char& c : name)
            c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        out.headers[name] = std::string(f.value());
    }
    out.body = std::move(res.body());
    return out;
}

bool HttpClient::server_closed() {
    Impl& s = *impl_;
    char byte = 0;
    s.lowest().expires_after(std::chrono::seconds(1));
    beast::error_code result = asio::error::would_block;
    s.with_stream([&](auto& stream) {
        stream.async_read_some(asio::buffer(&byte, 1),
                               [&result](beast::error_code ec, std::size_t) { result = ec; });
        return beast::error_code();
    });
    s.ioc.restart();
    s.ioc.run();
    return result && result != beast::error::timeout;
}

bool HttpClient::closed_within(std::chrono::milliseconds limit) {
    Impl& s = *impl_;
    char byte = 0;
    s.lowest().expires_after(limit);
    beast::error_code result = asio::error::would_block;
    s.with_stream([&](auto& stream) {
        stream.async_read_some(asio::buffer(&byte, 1),
                               [&result](beast::error_code ec, std::size_t) { result = ec; });
        return beast::error_code();
    });
    s.ioc.restart();
    s.ioc.run();
    return result && result != beast::error::timeout;
}

}  // namespace mstest
