#include "http/coord_api.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <nlohmann/json.hpp>

#include "common/text.h"
#include "http/coord_handlers.h"

namespace mentorsync::server::http {

using coord::CoordRole;
using coord::Error;
using nlohmann::json;
namespace api = coord_api;

namespace {

// Who may call a route: anyone (sign-in), any signed-in caller, or administrators only.
enum class Auth { none, caller, admin };
// What a route's body is: none (GET), a JSON object, or a JSON object or nothing.
enum class BodyKind { none, json, json_optional };

struct CoordRoute {
    std::string_view path;  // the template after /api/v1/; {name} matches any one segment
    std::string_view method;
    Auth auth;
    BodyKind body;
    api::Handler handler;
};

// Every endpoint of docs/api/openapi.yaml. Query parameters are each handler's (Params::allow).
constexpr std::array<CoordRoute, 16> kCoordRoutes = {{
    {"auth/sign-in", "POST", Auth::none, BodyKind::json, &api::sign_in},
    {"auth/sign-out", "POST", Auth::caller, BodyKind::json_optional, &api::sign_out},
    {"me", "GET", Auth::caller, BodyKind::none, &api::me},
    {"municipalities", "GET", Auth::caller, BodyKind::none, &api::municipalities},
    {"institutions", "GET", Auth::caller, BodyKind::none, &api::institutions},
    {"records/{collection}", "GET", Auth::caller, BodyKind::none, &api::records},
    {"learners/{id}", "GET", Auth::caller, BodyKind::none, &api::learner},
    {"indicators", "GET", Auth::caller, BodyKind::none, &api::indicators},
    {"escalations", "GET", Auth::caller, BodyKind::none, &api::escalations},
    {"devices", "GET", Auth::caller, BodyKind::none, &api::devices},
    {"conflicts", "GET", Auth::caller, BodyKind::none, &api::conflicts},
    {"conflicts/resolve", "POST", Auth::caller, BodyKind::json, &api::resolve},
    {"export/records/{collection}", "GET", Auth::caller, BodyKind::none, &api::export_records},
    {"export/indicators", "GET", Auth::caller, BodyKind::none, &api::export_indicators},
    {"audit", "GET", Auth::admin, BodyKind::none, &api::audit},
    {"audit/verify", "GET", Auth::admin, BodyKind::none, &api::audit_verify},
}};

constexpr std::string_view kPrefix = "/api/v1/";
// The route of an API answer given before (or without) an endpoint of kCoordRoutes matching.
constexpr std::string_view kUnmatchedRoute = "/api/other";

std::vector<std::string_view> split(std::string_view rest) {
    std::vector<std::string_view> out;
    while (!rest.empty()) {
        const auto slash = rest.find('/');
        out.push_back(rest.substr(0, slash));
        rest = slash == std::string_view::npos ? std::string_view() : rest.substr(slash + 1);
    }
    return out;
}

// The route whose template matches the path's segments, and the value of its {placeholder}.
const CoordRoute* match(std::string_view path, std::string& path_part) {
    const auto segs = split(path.substr(kPrefix.size()));
    for (const CoordRoute& r : kCoordRoutes) {
        const auto want = split(r.path);
        if (want.size() != segs.size()) continue;
        bool ok = true;
        std::string part;
        for (std::size_t i = 0; i < want.size() && ok; ++i) {
            if (want[i].front() == '{')
                part = std::string(segs[i]);
            else
                ok = want[i] == segs[i];
        }
        if (ok) {
            path_part = std::move(part);
            return &r;
        }
    }
    return nullptr;
}

std::string host_of_origin(std::string_view origin) {
    const auto p = origin.find("://");
    if (p == std::string_view::npos) return {};
    return std::string(origin.substr(p + 3));
}

// The JSON body of a POST, and the checks browsers make possible: the media type, then a
// cross-site request refused before anything else, also for sign-in (login CSRF).
Status read_body(const CoordRoute& route, const Request& request, json& body) {
    if (route.body == BodyKind::json || !request.body.empty()) {
        std::string_view ct = request.header("Content-Type");
        ct = common::trim(ct.substr(0, ct.find(';')));
        if (!common::iequals_ascii(ct, "application/json"))
            return coord::error(Error::unsupported_media_type,
                                "the Content-Type must be application/json");
        body = json::parse(request.body, nullptr, false);
        if (body.is_discarded() || !body.is_object())
            return coord::error(Error::bad_request, "the body must be a JSON object");
    }
    const std::string_view site = request.header("Sec-Fetch-Site");
    if (!site.empty() && site != "same-origin" && site != "none")
        return coord::error(Error::csrf, "cross-site request refused");
    const std::string_view origin = request.header("Origin");
    if (!origin.empty() && host_of_origin(origin) != request.header("Host"))
        return coord::error(Error::csrf, "the Origin does not match the Host");
    return Status::ok_status();
}

// The caller of a request: an API token (Bearer) or a session cookie, then, for a session's
// write, its CSRF token; administrators only where the route says so.
Result<coord::Caller> authenticate(coord::CoordStore& store, const CoordRoute& route,
                                   const Request& request) {
    std::optional<coord::Caller> caller;
    const std::string_view authz = request.header("Authorization");
    if (!authz.empty()) {
        if (authz.size() < 7 || !common::iequals_ascii(authz.substr(0, 7), "Bearer "))
            return coord::error(Error::unauthenticated, "Authorization must be 'Bearer <token>'");
        MS_ASSIGN_OR_RETURN(caller,
                            coord::storage(store.token_caller(common::trim(authz.substr(7)))));
        if (!caller)
            return coord::error(Error::unauthenticated, "unknown, expired or revoked token");
    } else {
        const std::string sid = api::cookie_value(request.header("Cookie"), kSessionCookie);
        if (sid.empty()) return coord::error(Error::unauthenticated, "sign in first");
        MS_ASSIGN_OR_RETURN(caller, coord::storage(store.session_caller(sid)));
        if (!caller)
            return coord::error(Error::unauthenticated, "the session has ended: sign in again");
        if (route.method == "POST") {
            const std::string_view presented = request.header(kCsrfHeader);
            if (presented.empty() || !store.check_csrf(sid, presented))
                return coord::error(Error::csrf, "missing or wrong X-CSRF-Token");
        }
    }
    if (route.auth == Auth::admin && caller->account.role != CoordRole::admin)
        return coord::error(Error::forbidden, "the audit log is for administrators");
    return *caller;
}

Result<Response> answer(const api::CoordContext& ctx, const CoordRoute& route, api::Call& call) {
    if (route.method == "POST") MS_RETURN_IF_ERROR(read_body(route, call.req, call.body));
    MS_ASSIGN_OR_RETURN(call.params.q, api::parse_query(call.req.target));
    if (route.auth != Auth::none) {
        MS_ASSIGN_OR_RETURN(auto caller, authenticate(ctx.store, route, call.req));
        call.caller = std::move(caller);
    }
    return route.handler(ctx, call);
}

// The JSON error answer of a failed Status: its coord::Error's status and code (500 internal
// when it has none, without its message, which may name internals).
Response error_answer(const Status& s) {
    const auto e = coord::error_of(s);
    if (!e) return CoordApi::error(coord::Error::internal, "internal server error");
    return CoordApi::error(*e, s.message(), (s.retry_after_ms() + 999) / 1000);
}

}  // namespace

std::vector<std::string> coord_route_templates() {
    std::vector<std::string> out;
    for (const CoordRoute& r : kCoordRoutes)
        out.push_back(std::string(kPrefix) + std::string(r.path));
    return out;
}

Response CoordApi::error(coord::Error e, const std::string& message, std::int64_t retry_after_s) {
    const std::string code(coord::error_name(e));
    json body = {{"code", code}, {"message", message}};
    if (retry_after_s > 0) body["retry_after_s"] = retry_after_s;
    Response r = api::json_response(coord::http_status(e), body);
    r.error_code = code;
    if (retry_after_s > 0) r.headers.emplace_back("Retry-After", std::to_string(retry_after_s));
    // Answered before an endpoint was matched: counted and logged as the API's, not as "other".
    r.route = std::string(kUnmatchedRoute);
    return r;
}

CoordApi::CoordApi(std::shared_ptr<coord::CoordStore> store,
                   std::shared_ptr<coord::CoordViews> views, bool secure_cookies)
    : store_(std::move(store)), views_(std::move(views)), secure_cookies_(secure_cookies) {}

Result<std::unique_ptr<CoordApi>> CoordApi::open(const std::string& data_dir,
                                                 std::shared_ptr<MergedState> state,
                                                 bool secure_cookies, LogSink log) {
    if (!state) return Status::invalid_argument("the coordinator API needs the merged state");
    coord::CoordStoreOptions o;
    o.data_dir = data_dir;
    o.log = log;
    auto store = coord::CoordStore::open(o);
    if (!store.ok()) return store.status();
    StoreOptions so;
    so.data_dir = data_dir;
    so.create_if_missing = false;
    auto history = open_sqlite_store(so);
    if (!history.ok()) return history.status();
    auto views = std::make_shared<coord::CoordViews>(
        std::make_shared<Admin>(std::move(history).value(), std::move(state)));
    return std::make_unique<CoordApi>(std::move(store).value(), std::move(views), secure_cookies);
}

Response CoordApi::handle(const Request& request) const {
    const std::string_view path = request.path();
    std::string route(kUnmatchedRoute);
    try {
        std::string path_part;
        const CoordRoute* r = path.rfind(kPrefix, 0) == 0 ? match(path, path_part) : nullptr;
        if (r == nullptr) {
            Response resp = CoordApi::error(coord::Error::not_found, "no such endpoint");
            resp.route = route;
            return resp;
        }
        route = std::string(kPrefix) + std::string(r->path);
        Response resp;
        if (request.method != r->method) {
            resp = CoordApi::error(coord::Error::method_not_allowed,
                                   "use " + std::string(r->method) + " for this endpoint");
            resp.headers.emplace_back("Allow", std::string(r->method));
        } else {
            const api::CoordContext ctx{*store_, *views_, secure_cookies_};
            api::Call call{request, route, std::move(path_part), {}, json(), {}};
            auto a = answer(ctx, *r, call);
            resp = a.ok() ? std::move(a).value() : error_answer(a.status());
        }
        resp.route = route;
        return resp;
    } catch (const std::exception&) {
        // Not a path any handler means to take (e.g. a JSON type error): a fault, never a crash.
        Response resp = CoordApi::error(coord::Error::internal, "internal server error");
        resp.route = route;
        return resp;
    }
}

}  // namespace mentorsync::server::http
