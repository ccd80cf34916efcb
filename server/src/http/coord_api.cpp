#include "http/coord_api.h"

#include <algorithm>
#include <cctype>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "coord/csv.h"

namespace mentorsync::server::http {

using coord::Caller;
using coord::CoordRole;
using coord::ViewError;
using nlohmann::json;

namespace {

[[noreturn]] void fail(int status, std::string code, std::string message) {
    throw ViewError{status, std::move(code), std::move(message)};
}

void add_security_headers(Response& r) {
    r.headers.emplace_back("Cache-Control", "no-store");
    r.headers.emplace_back("X-Content-Type-Options", "nosniff");
    r.headers.emplace_back("X-Frame-Options", "DENY");
    r.headers.emplace_back("Referrer-Policy", "no-referrer");
}

Response json_response(int status, const json& body) {
    Response r;
    r.status = status;
    r.content_type = "application/json; charset=utf-8";
    r.body = body.dump(-1, ' ', false, json::error_handler_t::replace);
    add_security_headers(r);
    return r;
}

Response json_error(int status, const std::string& code, const std::string& message) {
    Response r = json_response(status, {{"code", code}, {"message", message}});
    r.error_code = code;
    return r;
}

bool iequal(std::string_view a, std::string_view b) {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
               return std::tolower(static_cast<unsigned char>(x)) ==
                      std::tolower(static_cast<unsigned char>(y));
           });
}

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
        s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t'))
        s.remove_suffix(1);
    return s;
}

int hexval(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

std::optional<std::string> url_decode(std::string_view s) {
    std::string out;
    for (std::size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '+') {
            out.push_back(' ');
        } else if (s[i] == '%') {
            if (i + 2 >= s.size()) return std::nullopt;
            const int h = hexval(s[i + 1]), l = hexval(s[i + 2]);
            if (h < 0 || l < 0) return std::nullopt;
            out.push_back(static_cast<char>(h * 16 + l));
            i += 2;
        } else {
            out.push_back(s[i]);
        }
    }
    return out;
}

// The query string as a map; repeated or undecodable parameters are refused.
std::map<std::string, std::string> parse_query(std::string_view target) {
    std::map<std::string, std::string> out;
    const auto q = target.find('?');
    if (q == std::string_view::npos) return out;
    std::string_view rest = target.substr(q + 1);
    while (!rest.empty()) {
        const auto amp = rest.find('&');
        std::string_view part = rest.substr(0, amp);
        rest = amp == std::string_view::npos ? std::string_view() : rest.substr(amp + 1);
        if (part.empty()) continue;
        const auto eq = part.find('=');
        auto k = url_decode(part.substr(0, eq));
        auto v =
            url_decode(eq == std::string_view::npos ? std::string_view() : part.substr(eq + 1));
        if (!k || !v) fail(400, "bad_parameter", "query: malformed percent-encoding");
        if (out.count(*k)) fail(400, "bad_parameter", *k + ": given more than once");
        out.emplace(std::move(*k), std::move(*v));
    }
    return out;
}

struct Params {
    std::map<std::string, std::string> q;
    std::set<std::string> allowed;

    void allow(std::initializer_list<const char*> names) {
        for (const char* n : names)
            allowed.insert(n);
    }
    // Every parameter must be one the endpoint knows: a typo must not silently widen a query.
    void check_known() const {
        for (const auto& [k, v] : q)
            if (!allowed.count(k)) fail(400, "bad_parameter", k + ": unknown parameter");
    }
    std::string str(const std::string& name) const {
        auto it = q.find(name);
        return it == q.end() ? std::string() : it->second;
    }
    std::optional<Uuid> uuid(const std::string& name) const {
        auto it = q.find(name);
        if (it == q.end()) return std::nullopt;
        auto u = Uuid::parse(it->second);
        if (!u) fail(400, "bad_parameter", name + ": not a UUID");
        return u;
    }
    std::size_t limit() const {
        auto it = q.find("limit");
        if (it == q.end()) return 100;
        const std::string& v = it->second;
        if (v.empty() || v.size() > 3 || !std::all_of(v.begin(), v.end(), ::isdigit))
            fail(400, "bad_parameter", "limit: a whole number from 1 to 500");
        const int n = std::stoi(v);
        if (n < 1 || n > 500) fail(400, "bad_parameter", "limit: a whole number from 1 to 500");
        return static_cast<std::size_t>(n);
    }
    bool boolean(const std::string& name) const {
        auto it = q.find(name);
        if (it == q.end()) return false;
        if (it->second == "true") return true;
        if (it->second == "false") return false;
        fail(400, "bad_parameter", name + ": true or false");
    }
};

std::string cookie_value(std::string_view header, std::string_view name) {
    while (!header.empty()) {
        const auto semi = header.find(';');
        std::string_view part = trim(header.substr(0, semi));
        header = semi == std::string_view::npos ? std::string_view() : header.substr(semi + 1);
        const auto eq = part.find('=');
        if (eq != std::string_view::npos && part.substr(0, eq) == name)
            return std::string(part.substr(eq + 1));
    }
    return {};
}

std::string host_of_origin(std::string_view origin) {
    const auto p = origin.find("://");
    if (p == std::string_view::npos) return {};
    return std::string(origin.substr(p + 3));
}

json account_json(const coord::Account& a) {
    return {
        {"id", a.id.to_string()},
        {"username", a.username},
        {"role", std::string(coord::coord_role_name(a.role))},
        {"municipality_id", a.municipality ? json(a.municipality->to_string()) : json(nullptr)}};
}

std::string iso(std::int64_t ms) {
    std::time_t secs = static_cast<std::time_t>(ms / 1000);
    std::tm tm{};
    gmtime_r(&secs, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buf;
}

// Compact JSON of only the given (non-empty) filters, for audit details. Built before the
// filters are checked, so bytes that are not UTF-8 are replaced rather than thrown on (which
// would answer 500 where the check answers 400).
std::string detail(std::initializer_list<std::pair<const char*, json>> items) {
    json d = json::object();
    for (const auto& [k, v] : items)
        if (!(v.is_string() && v.get<std::string>().empty()) && !v.is_null()) d[k] = v;
    return d.dump(-1, ' ', false, json::error_handler_t::replace);
}

json opt(const std::optional<Uuid>& u) {
    return u ? json(u->to_string()) : json(nullptr);
}

// One request being answered: the parsed pieces and the caller.
struct Call {
    const Request& req;
    std::string path;
    std::vector<std::string> segs;  // path segments after /api/v1/
    Params params;
    std::optional<Caller> caller;
};

}  // namespace

Response CoordApi::error(int status, const std::string& code, const std::string& message,
                         std::int64_t retry_after_s) {
    if (retry_after_s <= 0) return json_error(status, code, message);
    Response r = json_response(
        status, {{"code", code}, {"message", message}, {"retry_after_s", retry_after_s}});
    r.error_code = code;
    r.headers.emplace_back("Retry-After", std::to_string(retry_after_s));
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
    const std::string path(request.path());
    std::string route = "/api/other";
    try {
        static constexpr std::string_view kPrefix = "/api/v1/";
        if (path.rfind(kPrefix, 0) != 0) fail(404, "not_found", "no such endpoint");
        Call call{request, path, {}, {}, {}};
        {
            std::string_view rest = std::string_view(path).substr(kPrefix.size());
            while (!rest.empty()) {
                const auto slash = rest.find('/');
                call.segs.emplace_back(rest.substr(0, slash));
                rest =
                    slash == std::string_view::npos ? std::string_view() : rest.substr(slash + 1);
            }
        }
        const auto& s = call.segs;
        const std::size_t n = s.size();
        // --- route table: template, method ---------------------------------------------
        std::string method;
        if (n == 2 && s[0] == "auth" && s[1] == "sign-in")
            route = "/api/v1/auth/sign-in", method = "POST";
        else if (n == 2 && s[0] == "auth" && s[1] == "sign-out")
            route = "/api/v1/auth/sign-out", method = "POST";
        else if (n == 1 && s[0] == "me")
            route = "/api/v1/me", method = "GET";
        else if (n == 1 && s[0] == "municipalities")
            route = "/api/v1/municipalities", method = "GET";
        else if (n == 1 && s[0] == "institutions")
            route = "/api/v1/institutions", method = "GET";
        else if (n == 2 && s[0] == "records")
            route = "/api/v1/records/{collection}", method = "GET";
        else if (n == 2 && s[0] == "learners")
            route = "/api/v1/learners/{id}", method = "GET";
        else if (n == 1 && s[0] == "indicators")
            route = "/api/v1/indicators", method = "GET";
        else if (n == 1 && s[0] == "escalations")
            route = "/api/v1/escalations", method = "GET";
        else if (n == 1 && s[0] == "devices")
            route = "/api/v1/devices", method = "GET";
        else if (n == 1 && s[0] == "conflicts")
            route = "/api/v1/conflicts", method = "GET";
        else if (n == 2 && s[0] == "conflicts" && s[1] == "resolve")
            route = "/api/v1/conflicts/resolve", method = "POST";
        else if (n == 3 && s[0] == "export" && s[1] == "records")
            route = "/api/v1/export/records/{collection}", method = "GET";
        else if (n == 2 && s[0] == "export" && s[1] == "indicators")
            route = "/api/v1/export/indicators", method = "GET";
        else if (n == 1 && s[0] == "audit")
            route = "/api/v1/audit", method = "GET";
        else if (n == 2 && s[0] == "audit" && s[1] == "verify")
            route = "/api/v1/audit/verify", method = "GET";
        else
            fail(404, "not_found", "no such endpoint");

        if (request.method != method) {
            Response r =
                json_error(405, "method_not_allowed", "use " + method + " for this endpoint");
            r.headers.emplace_back("Allow", method);
            r.route = route;
            return r;
        }
        const bool writes = method == "POST";
        json body;
        if (writes) {
            // Sign-out may come without a body; everything else sends JSON.
            if (route != "/api/v1/auth/sign-out" || !request.body.empty()) {
                std::string_view ct = request.header("Content-Type");
                ct = trim(ct.substr(0, ct.find(';')));
                if (!iequal(ct, "application/json"))
                    fail(415, "unsupported_media_type",
                         "the Content-Type must be application/json");
                body = json::parse(request.body, nullptr, false);
                if (body.is_discarded() || !body.is_object())
                    fail(400, "bad_request", "the body must be a JSON object");
            }
            // Browsers say where a request comes from; a cross-site one is refused before
            // anything else, also for sign-in (login CSRF).
            const std::string_view site = request.header("Sec-Fetch-Site");
            if (!site.empty() && site != "same-origin" && site != "none")
                fail(403, "csrf", "cross-site request refused");
            const std::string_view origin = request.header("Origin");
            if (!origin.empty() && host_of_origin(origin) != request.header("Host"))
                fail(403, "csrf", "the Origin does not match the Host");
        }
        call.params.q = parse_query(request.target);

        // --- sign-in: the only endpoint without a caller ---------------------------------
        if (route == "/api/v1/auth/sign-in") {
            call.params.check_known();
            if (!body.contains("username") || !body["username"].is_string() ||
                body["username"].get<std::string>().empty() ||
                body["username"].get<std::string>().size() > 100)
                fail(400, "bad_parameter", "username: a string of 1 to 100 characters");
            if (!body.contains("password") || !body["password"].is_string() ||
                body["password"].get<std::string>().size() > 1024)
                fail(400, "bad_parameter", "password: a string of at most 1024 bytes");
            auto r = store_->sign_in(body["username"].get<std::string>(),
                                     body["password"].get<std::string>());
            if (!r.ok()) fail(500, "internal", "storage error");
            if (r->kind == coord::SignInResult::Kind::locked_out) {
                Response resp =
                    json_response(429, {{"code", "locked_out"},
                                        {"message", "too many failed sign-ins: try again later"},
                                        {"retry_after_s", r->retry_after_s}});
                resp.error_code = "locked_out";
                resp.headers.emplace_back("Retry-After", std::to_string(r->retry_after_s));
                resp.route = route;
                return resp;
            }
            if (r->kind == coord::SignInResult::Kind::bad_credentials)
                fail(401, "bad_credentials", "wrong username or password");
            Response resp = json_response(200, {{"account", account_json(*r->account)},
                                                {"csrf_token", r->csrf_token},
                                                {"expires_at", iso(r->expires_ms)}});
            std::string cookie = std::string(kSessionCookie) + "=" + r->session_id +
                                 "; Path=/; HttpOnly; SameSite=Strict; Max-Age=" +
                                 std::to_string(coord::CoordStore::kSessionMaxMs / 1000);
            if (secure_cookies_) cookie += "; Secure";
            resp.headers.emplace_back("Set-Cookie", cookie);
            resp.route = route;
            return resp;
        }

        // --- authentication --------------------------------------------------------------
        const std::string_view authz = request.header("Authorization");
        if (!authz.empty()) {
            if (authz.size() < 7 || !iequal(authz.substr(0, 7), "Bearer "))
                fail(401, "unauthenticated", "Authorization must be 'Bearer <token>'");
            auto c = store_->token_caller(trim(authz.substr(7)));
            if (!c.ok()) fail(500, "internal", "storage error");
            if (!*c) fail(401, "unauthenticated", "unknown, expired or revoked token");
            call.caller = **c;
        } else {
            const std::string sid = cookie_value(request.header("Cookie"), kSessionCookie);
            if (sid.empty()) fail(401, "unauthenticated", "sign in first");
            auto c = store_->session_caller(sid);
            if (!c.ok()) fail(500, "internal", "storage error");
            if (!*c) fail(401, "unauthenticated", "the session has ended: sign in again");
            call.caller = **c;
            if (writes) {
                const std::string_view presented = request.header(kCsrfHeader);
                if (presented.empty() || !store_->check_csrf(sid, presented))
                    fail(403, "csrf", "missing or wrong X-CSRF-Token");
            }
        }
        const coord::Account& who = call.caller->account;
        const auto audit = [&](std::string_view event, std::string_view outcome,
                               const std::string& d) {
            if (!store_->audit(who, who.username, event, outcome, d).ok())
                fail(500, "internal", "the audit log could not be written");
        };
        Params& p = call.params;
        json out;
        Response resp;
        bool is_json = true;

        if (route == "/api/v1/auth/sign-out") {
            p.check_known();
            if (call.caller->via == Caller::Via::session) {
                if (!store_->end_session(call.caller->session_id).ok())
                    fail(500, "internal", "storage error");
            }
            audit("sign_out", "ok", "{}");
            out = {{"ok", true}};
            resp = json_response(200, out);
            std::string cookie =
                std::string(kSessionCookie) + "=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0";
            if (secure_cookies_) cookie += "; Secure";
            resp.headers.emplace_back("Set-Cookie", cookie);
            is_json = false;
        } else if (route == "/api/v1/me") {
            p.check_known();
            json muni_name = nullptr;
            if (who.municipality) {
                // Kept in a variable: iterating a member of the temporary would dangle.
                const json all = views_->municipalities(who);
                for (const auto& m : all["items"])
                    if (m["id"] == who.municipality->to_string()) muni_name = m["name"];
            }
            out = {{"account", account_json(who)},
                   {"auth", call.caller->via == Caller::Via::session ? "session" : "token"},
                   {"csrf_token", call.caller->via == Caller::Via::session
                                      ? json(store_->csrf_token(call.caller->session_id))
                                      : json(nullptr)},
                   {"municipality_name", muni_name}};
        } else if (route == "/api/v1/municipalities") {
            p.check_known();
            out = views_->municipalities(who);
        } else if (route == "/api/v1/institutions") {
            p.allow({"municipality"});
            p.check_known();
            out = views_->institutions(who, p.uuid("municipality"));
        } else if (route == "/api/v1/records/{collection}" ||
                   route == "/api/v1/export/records/{collection}") {
            const bool exporting = route == "/api/v1/export/records/{collection}";
            p.allow({"municipality", "centre", "learner", "from", "to", "include_deleted"});
            if (!exporting) p.allow({"limit", "cursor"});
            p.check_known();
            coord::RecordFilter f;
            f.collection = exporting ? s[2] : s[1];
            f.municipality = p.uuid("municipality");
            f.centre = p.uuid("centre");
            f.learner = p.uuid("learner");
            f.from = p.str("from");
            f.to = p.str("to");
            f.include_deleted = p.boolean("include_deleted");
            const std::string d_filters = detail({{"collection", f.collection},
                                                  {"municipality", opt(f.municipality)},
                                                  {"centre", opt(f.centre)},
                                                  {"learner", opt(f.learner)},
                                                  {"from", f.from},
                                                  {"to", f.to}});
            try {
                if (exporting) {
                    f.limit = 0;
                    coord::Table t = views_->records_table(who, f);
                    json d = json::parse(d_filters);
                    d["rows"] = t.rows.size();
                    audit("export", "ok", d.dump());
                    resp.status = 200;
                    resp.content_type = "text/csv; charset=utf-8";
                    resp.body = coord::csv_document(t.header, t.rows);
                    resp.headers.emplace_back("Content-Disposition",
                                              "attachment; filename=\"" + f.collection + ".csv\"");
                    add_security_headers(resp);
                    is_json = false;
                } else {
                    f.limit = p.limit();
                    f.cursor = p.str("cursor");
                    out = views_->records(who, f);
                    json d = json::parse(d_filters);
                    d["count"] = out["items"].size();
                    audit("view_records", "ok", d.dump());
                }
            } catch (const ViewError& e) {
                if (e.status == 403 || e.status == 404)
                    audit(exporting ? "export" : "view_records", "failed", d_filters);
                throw;
            }
        } else if (route == "/api/v1/learners/{id}") {
            p.check_known();
            auto id = Uuid::parse(s[1]);
            if (!id) fail(400, "bad_parameter", "id: not a UUID");
            const std::string d = detail({{"learner", id->to_string()}});
            try {
                out = views_->learner_file(who, *id);
            } catch (const ViewError& e) {
                if (e.status == 403 || e.status == 404) audit("view_learner", "failed", d);
                throw;
            }
            audit("view_learner", "ok", d);
        } else if (route == "/api/v1/indicators" || route == "/api/v1/export/indicators") {
            p.allow({"school_year", "municipality"});
            p.check_known();
            out = views_->indicators(who, p.str("school_year"), p.uuid("municipality"));
            if (route == "/api/v1/export/indicators") {
                coord::Table t = views_->indicators_table(out);
                audit("export", "ok",
                      detail({{"what", "indicators"},
                              {"school_year", out["school_year"]},
                              {"municipality", out["municipality_id"]},
                              {"rows", t.rows.size()}}));
                resp.status = 200;
                resp.content_type = "text/csv; charset=utf-8";
                resp.body = coord::csv_document(t.header, t.rows);
                resp.headers.emplace_back("Content-Disposition",
                                          "attachment; filename=\"indicators.csv\"");
                add_security_headers(resp);
                is_json = false;
            }
        } else if (route == "/api/v1/escalations") {
            p.allow({"semester", "municipality"});
            p.check_known();
            out = views_->escalations(who, p.str("semester"), p.uuid("municipality"));
            audit("view_escalations", "ok",
                  detail({{"semester", out["semester"]},
                          {"municipality", opt(p.uuid("municipality"))},
                          {"count", out["items"].size()}}));
        } else if (route == "/api/v1/devices") {
            p.allow({"municipality"});
            p.check_known();
            out = views_->devices(who, p.uuid("municipality"));
        } else if (route == "/api/v1/conflicts") {
            p.allow({"municipality", "learner", "limit", "cursor"});
            p.check_known();
            out = views_->conflicts(who, p.uuid("municipality"), p.uuid("learner"), p.limit(),
                                    p.str("cursor"));
            audit("view_conflicts", "ok",
                  detail({{"municipality", opt(p.uuid("municipality"))},
                          {"learner", opt(p.uuid("learner"))},
                          {"count", out["items"].size()}}));
        } else if (route == "/api/v1/conflicts/resolve") {
            p.check_known();
            for (const auto& [k, v] : body.items())
                if (k != "id" && k != "resolution" && k != "value")
                    fail(400, "bad_parameter", k + ": unknown field");
            if (!body.contains("id") || !body["id"].is_string())
                fail(400, "bad_parameter", "id: required, the conflict's id");
            if (!body.contains("resolution") || !body["resolution"].is_string())
                fail(400, "bad_parameter", "resolution: one of keep_winner, take_loser, custom");
            const std::string how = body["resolution"];
            if (how == "custom" && !body.contains("value"))
                fail(400, "bad_parameter", "value: required with the custom resolution");
            out = views_->resolve(who, body["id"], how,
                                  body.contains("value") ? body["value"] : json(nullptr));
            audit("resolve", "ok",
                  detail({{"conflict", body["id"]}, {"resolution", how}, {"seq", out["seq"]}}));
        } else if (route == "/api/v1/audit" || route == "/api/v1/audit/verify") {
            if (who.role != CoordRole::admin)
                fail(403, "forbidden", "the audit log is for administrators");
            if (route == "/api/v1/audit/verify") {
                p.check_known();
                auto v = store_->verify_audit();
                if (!v.ok()) fail(500, "internal", "storage error");
                out = {
                    {"ok", v->ok},
                    {"entries", v->entries},
                    {"head_hash", v->head_hash.empty() ? json(nullptr) : json(v->head_hash)},
                    {"first_bad_seq", v->first_bad_seq ? json(*v->first_bad_seq) : json(nullptr)},
                    {"problem", v->problem.empty() ? json(nullptr) : json(v->problem)}};
            } else {
                p.allow({"limit", "cursor"});
                p.check_known();
                std::int64_t before = 0;
                const std::string c = p.str("cursor");
                if (!c.empty()) {
                    if (c.size() > 18 || !std::all_of(c.begin(), c.end(), ::isdigit))
                        fail(400, "bad_cursor", "cursor: not a cursor this API gave out");
                    before = std::stoll(c);
                }
                const std::size_t limit = p.limit();
                auto entries = store_->audit_entries(before, limit + 1);
                if (!entries.ok()) fail(500, "internal", "storage error");
                json items = json::array();
                json next = nullptr;
                for (std::size_t i = 0; i < entries->size(); ++i) {
                    const auto& e = (*entries)[i];
                    if (i == limit) {
                        next = std::to_string((*entries)[i - 1].seq);
                        break;
                    }
                    json d = json::parse(e.detail, nullptr, false);
                    items.push_back(
                        {{"seq", e.seq},
                         {"at", iso(e.at_ms)},
                         {"account_id", e.account.empty() ? json(nullptr) : json(e.account)},
                         {"username", e.username},
                         {"event", e.event},
                         {"outcome", e.outcome},
                         {"detail", d.is_discarded() ? json::object() : d},
                         {"hash", coord::to_hex(e.hash)}});
                }
                out = {{"items", items}, {"next_cursor", next}};
            }
        }
        if (is_json) resp = json_response(200, out);
        resp.route = route;
        return resp;
    } catch (const ViewError& e) {
        Response r = json_error(e.status, e.code, e.message);
        r.route = route;
        return r;
    } catch (const std::exception&) {
        Response r = json_error(500, "internal", "internal server error");
        r.route = route;
        return r;
    }
}

}  // namespace mentorsync::server::http
