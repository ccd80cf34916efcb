#include "http/router.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <exception>
#include <string>
#include <variant>

#include "common/text.h"
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

// Route limits: what each route reads at most.
struct Limits {
    std::size_t sync;
    std::size_t enroll;
};

std::size_t body_limit_of(const RouteEntry& route, const Limits& limits) noexcept {
    if (!route.msgpack_body) return 0;
    return route.id == RouteId::enroll ? limits.enroll : limits.sync;
}

// The checks of a known route that need no body: method 405, content type 415, declared
// length 413. nullopt: passed.
std::optional<Response> route_head_checks(const RouteEntry& route, const Request& request,
                                          std::uint64_t length, std::size_t limit) {
    if (request.method != route.method) {
        Response r = error_response(wire::Error::method_not_allowed,
                                    "use " + std::string(route.method) + " for this endpoint");
        r.headers.emplace_back("Allow", std::string(route.method));
        return r;
    }
    if (route.msgpack_body) {
        if (!is_msgpack_content_type(request.header("Content-Type"))) {
            return error_response(wire::Error::unsupported_media_type,
                                  "the Content-Type must be application/msgpack");
        }
        if (length > limit) {
            return error_response(wire::Error::body_too_large,
                                  "the body is larger than " + std::to_string(limit) + " bytes");
        }
    }
    return std::nullopt;
}

Response rate_limited(std::int64_t wait_s, std::string_view who) {
    Response r = error_response(wire::Error::rate_limited, "too many requests from this " +
                                                               std::string(who) + ": retry after " +
                                                               std::to_string(wait_s) + " s");
    r.headers.emplace_back("Retry-After", std::to_string(wait_s));
    return r;
}

Response dispatch(const RouteEntry& route, const HandlerContext& ctx, const Request& request,
                  std::size_t limit, RateLimiter& devices) {
    if (auto refused = route_head_checks(route, request, request.body.size(), limit)) {
        return std::move(*refused);
    }
    if (const auto* handler = std::get_if<PublicHandler>(&route.handler)) {
        return (*handler)(ctx, request);
    }
    // Signed endpoints: the signature is checked before the body is even parsed (§5).
    SignedRequest signed_request{request.method, request.target,
                                 std::string(request.header("Authorization")), request.body};
    auto who = ctx.service.authenticate(signed_request);
    if (!who.ok()) return service_error_response(who.status(), ctx.service.now_ms());
    // Genuine now: the device pays for the request (check_head refused it if it had nothing
    // left to pay with).
    devices.charge(who->device_id.to_string());
    ctx.metrics.saw_device(who->device_id);
    Response r = std::get<SignedHandler>(route.handler)(ctx, request, *who);
    r.device = who->device_id.to_string();
    return r;
}

bool is_api(std::string_view path) noexcept {
    return path.rfind("/api/", 0) == 0;
}

}  // namespace

std::string_view Request::header(std::string_view name) const {
    for (const auto& [key, value] : headers) {
        if (common::iequals_ascii(key, name)) return value;
    }
    return {};
}

std::string_view Request::path() const {
    return path_of(target);
}

bool is_msgpack_content_type(std::string_view content_type) noexcept {
    const std::string_view media = common::trim(content_type.substr(0, content_type.find(';')));
    return common::iequals_ascii(media, kMsgpackType);
}

Router::Router(SyncService& service, Metrics& metrics, const ServerConfig& config,
               const CoordApi* coord)
    : context_{service, metrics},
      max_body_bytes_(config.max_body_bytes),
      max_enroll_body_bytes_(std::min(config.max_enroll_body_bytes, config.max_body_bytes)),
      max_api_body_bytes_(std::min(config.max_api_body_bytes, config.max_body_bytes)),
      coord_(coord),
      device_limiter_(config.device_rate_burst, config.device_rate_per_s),
      address_limiter_(config.ip_rate_burst, config.ip_rate_per_s) {}

RouteId Router::route_of(std::string_view target) noexcept {
    const RouteEntry* e = find_route(path_of(target));
    return e != nullptr ? e->id : RouteId::other;
}

Response Router::overloaded(const Request& head, std::string message) const {
    Response r = coord_ != nullptr && is_api(head.path())
                     ? CoordApi::error(coord::Error::unavailable, message)
                     : error_response(wire::Error::unavailable, message);
    r.headers.emplace_back("Retry-After", "1");
    if (const RouteEntry* route = find_route(head.path())) r.route = std::string(route->path);
    return r;
}

HeadCheck Router::check_head(const Request& head, std::optional<std::uint64_t> content_length,
                             bool has_body) const {
    HeadCheck out;
    const std::uint64_t declared = content_length.value_or(0);
    const RouteEntry* route = find_route(head.path());
    if (route == nullptr) {
        if (coord_ != nullptr && is_api(head.path())) {
            out.body_limit = max_api_body_bytes_;
            if (declared > out.body_limit) {
                out.answer = CoordApi::error(
                    coord::Error::body_too_large,
                    "the body is larger than " + std::to_string(out.body_limit) + " bytes");
                return out;
            }
            if (head.method == "POST" && head.path() == "/api/v1/auth/sign-in") {
                out.signin = true;
                if (const auto wait = address_limiter_.take(head.client); wait > 0) {
                    out.answer = CoordApi::error(coord::Error::rate_limited,
                                                 "too many sign-ins from this address: retry "
                                                 "after " +
                                                     std::to_string(wait) + " s",
                                                 wait);
                }
            }
            return out;
        }
        // A path that takes no body (a dashboard file, or none at all) is answered from its
        // header; a body sent with it is never read.
        if (has_body) out.answer = handle(head);
        return out;
    }
    const Limits limits{max_body_bytes_, max_enroll_body_bytes_};
    out.body_limit = body_limit_of(*route, limits);
    auto answer = [&](Response r) {
        r.route = std::string(route->path);
        out.answer = std::move(r);
        return out;
    };
    if (auto refused = route_head_checks(*route, head, declared, out.body_limit)) {
        return answer(std::move(*refused));
    }
    if (!route->msgpack_body) {
        if (has_body) return answer(handle(head));
        return out;
    }
    if (route->id == RouteId::enroll) {
        if (const auto wait = address_limiter_.take(head.client); wait > 0) {
            return answer(rate_limited(wait, "address"));
        }
        return out;
    }
    if (std::holds_alternative<SignedHandler>(route->handler)) {
        auto device = context_.service.precheck(head.header("Authorization"));
        if (!device.ok())
            return answer(service_error_response(device.status(), context_.service.now_ms()));
        if (!device->is_nil()) {
            if (const auto wait = device_limiter_.wait_s(device->to_string()); wait > 0) {
                return answer(rate_limited(wait, "device"));
            }
        }
    }
    return out;
}

Response Router::handle(const Request& request) const {
    const RouteEntry* route = find_route(request.path());
    if (route == nullptr) {
        if (coord_ != nullptr && is_api(request.path())) {
            if (request.body.size() > max_api_body_bytes_)
                return CoordApi::error(coord::Error::body_too_large, "the body is too large");
            return coord_->handle(request);  // never throws
        }
        // Outside the protocol's and the API's paths: the dashboard's embedded files (404 for
        // unknown ones).
        if (!is_protocol_path(request.path()) && !request.path().starts_with("/api/")) {
            Response asset = serve_static_asset(request);
            // A path that is no file of the dashboard (a scan, a typo) stays "other".
            if (asset.status != 404) asset.route = "/dashboard";
            return asset;
        }
        return error_response(wire::Error::not_found, "no such endpoint");
    }
    Response r;
    try {
        r = dispatch(*route, context_, request,
                     body_limit_of(*route, Limits{max_body_bytes_, max_enroll_body_bytes_}),
                     device_limiter_);
    } catch (const std::exception&) {
        // The exception text may quote stored data; the log gets the fact, the client the code.
        r = error_response(wire::Error::internal, "internal server error");
    } catch (...) {
        r = error_response(wire::Error::internal, "internal server error");
    }
    r.route = std::string(route->path);
    return r;
}

}  // namespace mentorsync::server::http
