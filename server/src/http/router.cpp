#include "http/router.h"

#include <array>
#include <cctype>
#include <exception>
#include <variant>

#include "http/coord_api.h"
#include "http/handlers.h"
#include "http/msgpack_io.h"
#include "http/static_assets.h"

namespace mentorsync::server::http {

namespace {

struct RouteEntry {
    std::string_view path;
    std::string_view method;
    RouteId id;
    bool msgpack_body;  // POST endpoints: content type and body size apply
    std::variant<PublicHandler, SignedHandler> handler;
};

// The whole table of docs/protocol.md §1. One method per path keeps 405's Allow trivial.
const std::array<RouteEntry, 5> kRoutes = {{
    {"/healthz", "GET", RouteId::healthz, false, &handle_healthz},
    {"/metrics", "GET", RouteId::metrics, false, &handle_metrics},
    {"/v1/enroll", "POST", RouteId::enroll, true, &handle_enroll},
    {"/v1/sync/push", "POST", RouteId::push, true, &handle_push},
    {"/v1/sync/pull", "POST", RouteId::pull, true, &handle_pull},
}};

const RouteEntry* find_route(std::string_view path) noexcept {
    for (const RouteEntry& e : kRoutes) {
        if (e.path == path) return &e;
    }
    return nullptr;
}

std::string_view path_of(std::string_view target) noexcept {
    return target.substr(0, target.find('?'));
}

// A path of the sync protocol, this version or any other: "/v" and a version number, then "/"
// or the end ("/v1/...", "/v2/...", "/v2"). Such paths answer in msgpack (protocol §1), so a
// client of another version reads the error it gets.
bool is_protocol_path(std::string_view path) noexcept {
    if (!path.starts_with("/v")) return false;
    std::size_t i = 2;
    while (i < path.size() && std::isdigit(static_cast<unsigned char>(path[i])))
        ++i;
    return i > 2 && (i == path.size() || path[i] == '/');
}

bool iequals(std::string_view a, std::string_view b) noexcept {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i) {
        if (std::tolower(static_cast<unsigned char>(a[i])) !=
            std::tolower(static_cast<unsigned char>(b[i]))) {
            return false;
        }
    }
    return true;
}

Response dispatch(const RouteEntry& route, const HandlerContext& ctx, const Request& request,
                  std::size_t max_body_bytes) {
    if (request.method != route.method) {
        Response r = error_response(405, "method_not_allowed",
                                    "use " + std::string(route.method) + " for this endpoint");
        r.headers.emplace_back("Allow", std::string(route.method));
        return r;
    }
    if (route.msgpack_body) {
        if (!is_msgpack_content_type(request.header("Content-Type"))) {
            return error_response(415, "unsupported_media_type",
                                  "the Content-Type must be application/msgpack");
        }
        if (request.body.size() > max_body_bytes) {
            return error_response(
                413, "body_too_large",
                "the body is larger than " + std::to_string(max_body_bytes) + " bytes");
        }
    }
    if (const auto* handler = std::get_if<PublicHandler>(&route.handler)) {
        return (*handler)(ctx, request);
    }
    // Signed endpoints: the signature is checked before the body is even parsed (§5).
    SignedRequest signed_request{request.method, request.target,
                                 std::string(request.header("Authorization")), request.body};
    auto who = ctx.service.authenticate(signed_request);
    if (!who.ok()) {
        if (who.error.http_status < 400 || who.error.http_status > 599) {
            return error_response(500, "internal", "internal server error");
        }
        return error_response(who.error);
    }
    ctx.metrics.saw_device(who.value->device_id);
    Response r = std::get<SignedHandler>(route.handler)(ctx, request, *who.value);
    r.device = who.value->device_id.to_string();
    return r;
}

}  // namespace

std::string_view Request::header(std::string_view name) const {
    for (const auto& [key, value] : headers) {
        if (iequals(key, name)) return value;
    }
    return {};
}

std::string_view Request::path() const {
    return path_of(target);
}

bool is_msgpack_content_type(std::string_view content_type) noexcept {
    std::string_view media = content_type.substr(0, content_type.find(';'));
    while (!media.empty() && (media.back() == ' ' || media.back() == '\t'))
        media.remove_suffix(1);
    while (!media.empty() && (media.front() == ' ' || media.front() == '\t')) {
        media.remove_prefix(1);
    }
    return iequals(media, kMsgpackType);
}

Router::Router(SyncService& service, Metrics& metrics, std::size_t max_body_bytes,
               const CoordApi* coord)
    : context_{service, metrics}, max_body_bytes_(max_body_bytes), coord_(coord) {}

RouteId Router::route_of(std::string_view target) noexcept {
    const RouteEntry* e = find_route(path_of(target));
    return e != nullptr ? e->id : RouteId::other;
}

Response Router::handle(const Request& request) const {
    const RouteEntry* route = find_route(request.path());
    if (route == nullptr) {
        if (coord_ != nullptr && request.path().rfind("/api/", 0) == 0) {
            if (request.body.size() > max_body_bytes_)
                return error_response(413, "body_too_large", "the body is too large");
            return coord_->handle(request);  // never throws
        }
        // Outside the protocol's and the API's paths: the dashboard's embedded files (404 for
        // unknown ones).
        if (!is_protocol_path(request.path()) && !request.path().starts_with("/api/")) {
            return serve_static_asset(request);
        }
        return error_response(404, "not_found", "no such endpoint");
    }
    Response r;
    try {
        r = dispatch(*route, context_, request, max_body_bytes_);
    } catch (const std::exception&) {
        // The exception text may quote stored data; the log gets the fact, the client the code.
        r = error_response(500, "internal", "internal server error");
    } catch (...) {
        r = error_response(500, "internal", "internal server error");
    }
    r.route = std::string(route->path);
    return r;
}

}  // namespace mentorsync::server::http
