// Fuzz target: the coordinator API (server/src/http/coord_api.cpp and the views and stores
// under it) without HTTP parsing, so that the fuzzer spends its time on the API's own parsing:
// the query string, the Cookie and Authorization headers, the CSRF and Origin checks, JSON
// bodies, the views' filters (dates, school years, semesters, cursors) and the CSV exports.
// The input is a request in a simple text form:
//   METHOD TARGET\n
//   Name: value\n ... (headers, up to an empty line)
//   body
// with the placeholders of server_fixture.h for a session, CSRF token, API tokens and ids that
// exist. Every answer is checked (response_checks.h). Requests under /api/v1/auth/ are not
// answered: see http_request.cpp.
#include <string>

#include "fuzz_support.h"
#include "response_checks.h"
#include "server_fixture.h"

using namespace mentorsync;
using server::http::Request;

namespace {

std::string_view take_line(std::string_view& rest) {
    const auto nl = rest.find('\n');
    std::string_view line = rest.substr(0, nl);
    rest = nl == std::string_view::npos ? std::string_view() : rest.substr(nl + 1);
    if (line.ends_with('\r')) line.remove_suffix(1);
    return line;
}

Request parse(std::string_view input) {
    Request r;
    std::string_view first = take_line(input);
    const auto sp = first.find(' ');
    r.method = std::string(first.substr(0, sp));
    r.target = sp == std::string_view::npos ? "/" : std::string(first.substr(sp + 1));
    for (std::string_view line = take_line(input); !line.empty(); line = take_line(input)) {
        const auto colon = line.find(':');
        std::string_view value =
            colon == std::string_view::npos ? std::string_view() : line.substr(colon + 1);
        while (value.starts_with(' '))
            value.remove_prefix(1);
        r.headers.emplace_back(std::string(line.substr(0, colon)), std::string(value));
    }
    r.body = std::string(input);
    return r;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    fuzz::FuzzServer& server = fuzz::FuzzServer::get();
    Request request = parse(fuzz::as_text(data, size));
    server.prepare(request);
    if (request.path().starts_with("/api/v1/auth/")) return 0;  // see the file comment
    fuzz::check_response(server.coord->handle(request));
    return 0;
}
