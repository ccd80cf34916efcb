#include "http_client.h"

#include <chrono>
#include <fstream>
#include <stdexcept>
#include <utility>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
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

std::string bio_string(BIO* bio) {
    char* data = nullptr;
    const long n = BIO_get_mem_data(bio, &data);
    return std::string(data, static_cast<std::size_t>(n));
}

void write_file(const std::string& path, const std::string& text) {
    std::ofstream f(path, std::ios::binary);
    f << text;
    if (!f) throw std::runtime_error("cannot write " + path);
}

}  // namespace

SelfSignedCert make_self_signed_cert(const std::string& dir) {
    EVP_PKEY* key = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256");
    if (key == nullptr) throw std::runtime_error("EVP_PKEY_Q_keygen failed");
    X509* x = X509_new();
    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
    X509_gmtime_adj(X509_getm_notBefore(x), -60);
    X509_gmtime_adj(X509_getm_notAfter(x), 3600);
    X509_set_pubkey(x, key);
    X509_NAME* name = X509_get_subject_name(x);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                               reinterpret_cast<const unsigned char*>("localhost"), -1, -1, 0);
    X509_set_issuer_name(x, name);
    X509V3_CTX v3;
    X509V3_set_ctx_nodb(&v3);
    X509V3_set_ctx(&v3, x, x, nullptr, nullptr, 0);
    if (X509_EXTENSION* san =
            X509V3_EXT_conf_nid(nullptr, &v3, NID_subject_alt_name, "DNS:localhost,IP:127.0.0.1")) {
        X509_add_ext(x, san, -1);
        X509_EXTENSION_free(san);
    }
    if (X509_sign(x, key, EVP_sha256()) == 0) throw std::runtime_error("X509_sign failed");

    SelfSignedCert out;
    BIO* cert_bio = BIO_new(BIO_s_mem());
    PEM_write_bio_X509(cert_bio, x);
    out.cert_pem = bio_string(cert_bio);
    BIO_free(cert_bio);
    BIO* key_bio = BIO_new(BIO_s_mem());
    PEM_write_bio_PrivateKey(key_bio, key, nullptr, nullptr, 0, nullptr, nullptr);
    out.key_pem = bio_string(key_bio);
    BIO_free(key_bio);
    X509_free(x);
    EVP_PKEY_free(key);

    out.cert_file = dir + "/cert.pem";
    out.key_file = dir + "/key.pem";
    write_file(out.cert_file, out.cert_pem);
    write_file(out.key_file, out.key_pem);
    return out;
}

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

HttpClient::HttpClient(std::uint16_t port, const std::string& trusted_cert_pem)
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

}  // namespace mstest
