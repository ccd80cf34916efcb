// Plain HTTP request and response values passed between the Beast session (session.cpp) and the
// router and handlers. They exist so that only the session's translation unit (and
// beast_message.cpp, which turns a Response into Beast's message) includes Beast: everything
// that decides *what* to answer works on these structs alone.
// Thread-safety: values; a Request is owned by the session that read it.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace mentorsync::server::http {

// One request as read from the wire, already bounded by the session (header block <= 8 KiB,
// body <= the configured maximum).
struct Request {
    std::string method;  // as sent, e.g. "POST"
    std::string target;  // the request-target as sent, query included (it is signed)
    std::vector<std::pair<std::string, std::string>> headers;
    std::string body;
    // The client's address as rate limits and connection limits key it (client_key() of
    // http/limits.h). Set by the session; never logged.
    std::string client;

    // The value of the first header called `name` (case-insensitive), or "" when absent.
    std::string_view header(std::string_view name) const;
    // The target without its query string: what routing looks at.
    std::string_view path() const;
};

// What the router answers. `route`, `error_code` and `device` are not sent: the session passes
// them to the access log and the metrics.
struct Response {
    int status = 200;
    std::string content_type;  // empty: no body
    std::string body;
    std::vector<std::pair<std::string, std::string>> headers;  // extra headers, e.g. Allow

    std::string route = "other";  // the matched route template, never the raw target
    std::string error_code;       // the protocol code when status >= 400
    std::string device;           // the authenticated device id, when there is one
};

}  // namespace mentorsync::server::http
