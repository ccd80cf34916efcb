// Fuzz target: the server's HTTP request path. Raw bytes, as a client sends them on one
// connection, go through Beast's request parser with the limits the session sets
// (session.cpp), then as many requests as the connection carries (keep-alive) go through the
// router, the handlers and the coordinator API to a real SyncService and coord.db
// (server_fixture.h); each answer is checked (response_checks.h) and serialised by Beast as the
// session would write it. This is the one translation unit of the fuzz build that includes
// Beast's HTTP code.
//
// The session's own reading loop is not run (it needs sockets and coroutines): this file does
// what it does with the parser's answers: header over the limit 431, body over the limit 413,
// any other parse error 400, end of input mid-request a client that left.
// Requests to /api/v1/auth/ are not answered: a sign-in runs Argon2id (about 0.1 s), which
// would starve the fuzzer, and a sign-out would end the fixture's session. The JSON body, CSRF
// and header checks they share run on /api/v1/conflicts/resolve.
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <sstream>

#include "fuzz_support.h"
#include "http/config.h"
#include "response_checks.h"
#include "server_fixture.h"

using namespace mentorsync;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using server::http::Request;
using server::http::Response;

namespace {

constexpr int kMaxRequestsPerInput = 8;  // a connection's pipelined requests

std::string_view sv(beast::string_view s) {
    return {s.data(), s.size()};
}

// As the session's to_plain().
Request to_plain(bhttp::request<bhttp::string_body>&& req) {
    Request out;
    out.method = std::string(req.method_string());
    out.target = std::string(req.target());
    for (const auto& field : req)
        out.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
    out.body = std::move(req.body());
    return out;
}

// As the session's write(): the headers it adds, then Beast's serialiser.
void write(Response response, std::string_view method, bool keep_alive) {
    bhttp::response<bhttp::string_body> res{static_cast<bhttp::status>(response.status), 11};
    res.set(bhttp::field::server, "mentorsync");
    res.set(bhttp::field::cache_control, "no-store");
    if (!response.content_type.empty()) res.set(bhttp::field::content_type, response.content_type);
    for (const auto& [name, value] : response.headers)
        res.set(name, value);
    res.body() = std::move(response.body);
    res.keep_alive(keep_alive);
    res.prepare_payload();
    if (method == "HEAD") res.body().clear();
    std::ostringstream out;
    out << res;
    MS_FUZZ_CHECK(out.str().starts_with("HTTP/1.1 "), "Beast wrote no status line");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    fuzz::FuzzServer& server = fuzz::FuzzServer::get();
    const server::http::ServerConfig cfg;  // the limits main.cpp starts with
    std::string_view rest = fuzz::as_text(data, size);
    for (int n = 0; n < kMaxRequestsPerInput && !rest.empty(); ++n) {
        bhttp::request_parser<bhttp::string_body> parser;
        parser.header_limit(static_cast<std::uint32_t>(cfg.max_header_bytes));
        parser.body_limit(cfg.max_body_bytes);
        parser.eager(true);
        beast::error_code ec;
        while (!rest.empty() && !parser.is_done()) {
            const std::size_t used = parser.put(boost::asio::buffer(rest.data(), rest.size()), ec);
            rest.remove_prefix(used);
            if (ec == bhttp::error::need_more) {
                ec = {};
                if (used == 0) break;  // the rest is an incomplete piece: the client left
                continue;
            }
            if (ec) break;
        }
        if (ec == bhttp::error::header_limit) return 0;  // 431, then the session closes
        if (ec == bhttp::error::body_limit) {
            // 413 from the header alone, counted under the target's route.
            (void)server::http::route_name(
                server::http::Router::route_of(sv(parser.get().target())));
            return 0;
        }
        if (ec) return 0;                 // 400 bad_request, then the session closes
        if (!parser.is_done()) return 0;  // the input ended mid-request: the client left
        const bool keep_alive = parser.get().keep_alive();
        Request request = to_plain(parser.release());
        server.prepare(request);
        if (request.path().starts_with("/api/v1/auth/")) {  // see the file comment
            if (!keep_alive) return 0;
            continue;
        }
        Response response = server.router->handle(request);
        fuzz::check_response(response);
        write(std::move(response), request.method, keep_alive);
        if (!keep_alive) return 0;
    }
    return 0;
}
