// The handlers of the coordinator API, one per endpoint; CoordApi (coord_api.cpp) has matched
// the route, checked the method, the body's media type and the caller before any runs here.
#include "http/coord_handlers.h"

#include <algorithm>
#include <cctype>

#include "common/calendar.h"
#include "common/encoding.h"
#include "common/text.h"
#include "coord/csv.h"
#include "http/coord_api.h"

namespace mentorsync::server::http::coord_api {

using coord::Caller;
using coord::Error;
using nlohmann::json;

namespace {

std::optional<std::string> url_decode(std::string_view s) {
    std::string out;
    for (std::size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '+') {
            out.push_back(' ');
        } else if (s[i] == '%') {
            if (i + 2 >= s.size()) return std::nullopt;
            const int h = common::hex_digit(s[i + 1]), l = common::hex_digit(s[i + 2]);
            if (h < 0 || l < 0) return std::nullopt;
            out.push_back(static_cast<char>(h * 16 + l));
            i += 2;
        } else {
            out.push_back(s[i]);
        }
    }
    return out;
}

json account_json(const coord::Account& a) {
    return {
        {"id", a.id.to_string()},
        {"username", a.username},
        {"role", std::string(coord::coord_role_name(a.role))},
        {"municipality_id", a.municipality ? json(a.municipality->to_string()) : json(nullptr)}};
}

std::string iso(std::int64_t ms) {
    return common::iso_utc_seconds(ms);
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

// Appends the caller's audit entry; failing to write it fails the request.
Status audit(const CoordContext& ctx, const Call& call, std::string_view event,
             std::string_view outcome, const std::string& d) {
    const coord::Account& who = call.caller->account;
    if (!ctx.store.audit(who, who.username, event, outcome, d).ok())
        return coord::error(Error::internal, "the audit log could not be written");
    return Status::ok_status();
}

// A refusal of a learner-level view that the audit log records: 403 and 404.
bool audited_refusal(const Status& s) {
    const int status = coord::http_status(coord::answer_of(s));
    return status == 403 || status == 404;
}

// Audits a view's refusal as "failed" (when it is one the log records) and returns it.
Status refused(const CoordContext& ctx, const Call& call, std::string_view event,
               const std::string& d, Status s) {
    if (audited_refusal(s)) MS_RETURN_IF_ERROR(audit(ctx, call, event, "failed", d));
    return s;
}

Response csv_response(const coord::Table& t, const std::string& filename) {
    Response r;
    r.status = 200;
    r.content_type = "text/csv; charset=utf-8";
    r.body = coord::csv_document(t.header, t.rows);
    r.headers.emplace_back("Content-Disposition", "attachment; filename=\"" + filename + "\"");
    add_security_headers(r);
    return r;
}

std::string session_cookie(const CoordContext& ctx, const std::string& value,
                           std::int64_t max_age_s) {
    std::string cookie =
        std::string(kSessionCookie) + "=" + value +
        "; Path=/; HttpOnly; SameSite=Strict; Max-Age=" + std::to_string(max_age_s);
    if (ctx.secure_cookies) cookie += "; Secure";
    return cookie;
}

// The filters of the records endpoints, parsed in the order their errors are reported.
struct RecordQuery {
    coord::RecordFilter filter;
    std::string detail;  // the audit detail of the filters
};

Result<RecordQuery> record_query(const Call& call) {
    const Params& p = call.params;
    RecordQuery r;
    coord::RecordFilter& f = r.filter;
    f.collection = call.path_part;
    MS_ASSIGN_OR_RETURN(f.municipality, p.uuid("municipality"));
    MS_ASSIGN_OR_RETURN(f.centre, p.uuid("centre"));
    MS_ASSIGN_OR_RETURN(f.learner, p.uuid("learner"));
    f.from = p.str("from");
    f.to = p.str("to");
    MS_ASSIGN_OR_RETURN(f.include_deleted, p.boolean("include_deleted"));
    r.detail = detail({{"collection", f.collection},
                       {"municipality", opt(f.municipality)},
                       {"centre", opt(f.centre)},
                       {"learner", opt(f.learner)},
                       {"from", f.from},
                       {"to", f.to}});
    return r;
}

}  // namespace

void Params::allow(std::initializer_list<const char*> names) {
    for (const char* n : names)
        allowed.insert(n);
}

Status Params::check_known() const {
    for (const auto& [k, v] : q)
        if (!allowed.count(k)) return coord::error(Error::bad_parameter, k + ": unknown parameter");
    return Status::ok_status();
}

std::string Params::str(const std::string& name) const {
    auto it = q.find(name);
    return it == q.end() ? std::string() : it->second;
}

Result<std::optional<Uuid>> Params::uuid(const std::string& name) const {
    auto it = q.find(name);
    if (it == q.end()) return std::optional<Uuid>();
    auto u = Uuid::parse(it->second);
    if (!u) return coord::error(Error::bad_parameter, name + ": not a UUID");
    return u;
}

Result<std::size_t> Params::limit() const {
    auto it = q.find("limit");
    if (it == q.end()) return std::size_t{100};
    const std::string& v = it->second;
    const Status bad = coord::error(Error::bad_parameter, "limit: a whole number from 1 to 500");
    if (v.empty() || v.size() > 3 || !std::all_of(v.begin(), v.end(), ::isdigit)) return bad;
    const int n = std::stoi(v);
    if (n < 1 || n > 500) return bad;
    return static_cast<std::size_t>(n);
}

Result<bool> Params::boolean(const std::string& name) const {
    auto it = q.find(name);
    if (it == q.end()) return false;
    if (it->second == "true") return true;
    if (it->second == "false") return false;
    return coord::error(Error::bad_parameter, name + ": true or false");
}

Result<std::map<std::string, std::string>> parse_query(std::string_view target) {
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
        if (!k || !v)
            return coord::error(Error::bad_parameter, "query: malformed percent-encoding");
        if (out.count(*k)) return coord::error(Error::bad_parameter, *k + ": given more than once");
        out.emplace(std::move(*k), std::move(*v));
    }
    return out;
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

std::string cookie_value(std::string_view header, std::string_view name) {
    while (!header.empty()) {
        const auto semi = header.find(';');
        std::string_view part = common::trim(header.substr(0, semi));
        header = semi == std::string_view::npos ? std::string_view() : header.substr(semi + 1);
        const auto eq = part.find('=');
        if (eq != std::string_view::npos && part.substr(0, eq) == name)
            return std::string(part.substr(eq + 1));
    }
    return {};
}

// --- sign-in and sign-out ---------------------------------------------------------------------

// Argon2id runs here: the session calls the router on its sign-in pool (http/session.cpp),
// after the per-address rate limit (http/router.cpp), never on an io thread.
Result<Response> sign_in(const CoordContext& ctx, Call& call) {
    MS_RETURN_IF_ERROR(call.params.check_known());
    const json& body = call.body;
    if (!body.contains("username") || !body["username"].is_string() ||
        body["username"].get<std::string>().empty() ||
        body["username"].get<std::string>().size() > 100)
        return coord::error(Error::bad_parameter, "username: a string of 1 to 100 characters");
    if (!body.contains("password") || !body["password"].is_string() ||
        body["password"].get<std::string>().size() > 1024)
        return coord::error(Error::bad_parameter, "password: a string of at most 1024 bytes");
    MS_ASSIGN_OR_RETURN(auto r,
                        coord::storage(ctx.store.sign_in(body["username"].get<std::string>(),
                                                         body["password"].get<std::string>())));
    if (r.kind == coord::SignInResult::Kind::locked_out)
        return coord::error(Error::locked_out, "too many failed sign-ins: try again later")
            .with_retry_after(r.retry_after_s * 1000);
    if (r.kind == coord::SignInResult::Kind::bad_credentials)
        return coord::error(Error::bad_credentials, "wrong username or password");
    Response resp = json_response(200, {{"account", account_json(*r.account)},
                                        {"csrf_token", r.csrf_token},
                                        {"expires_at", iso(r.expires_ms)}});
    resp.headers.emplace_back(
        "Set-Cookie", session_cookie(ctx, r.session_id, coord::CoordStore::kSessionMaxMs / 1000));
    return resp;
}

Result<Response> sign_out(const CoordContext& ctx, Call& call) {
    MS_RETURN_IF_ERROR(call.params.check_known());
    if (call.caller->via == Caller::Via::session)
        MS_RETURN_IF_ERROR(coord::storage(ctx.store.end_session(call.caller->session_id)));
    MS_RETURN_IF_ERROR(audit(ctx, call, "sign_out", "ok", "{}"));
    Response resp = json_response(200, {{"ok", true}});
    resp.headers.emplace_back("Set-Cookie", session_cookie(ctx, "", 0));
    return resp;
}

// --- the caller and the organisation ------------------------------------------------------------

Result<Response> me(const CoordContext& ctx, Call& call) {
    MS_RETURN_IF_ERROR(call.params.check_known());
    const coord::Account& who = call.caller->account;
    json muni_name = nullptr;
    if (who.municipality) {
        MS_ASSIGN_OR_RETURN(const json all, ctx.views.municipalities(who));
        for (const auto& m : all["items"])
            if (m["id"] == who.municipality->to_string()) muni_name = m["name"];
    }
    const bool session = call.caller->via == Caller::Via::session;
    return json_response(
        200, {{"account", account_json(who)},
              {"auth", session ? "session" : "token"},
              {"csrf_token",
               session ? json(ctx.store.csrf_token(call.caller->session_id)) : json(nullptr)},
              {"municipality_name", muni_name}});
}

Result<Response> municipalities(const CoordContext& ctx, Call& call) {
    MS_RETURN_IF_ERROR(call.params.check_known());
    MS_ASSIGN_OR_RETURN(json out, ctx.views.municipalities(call.caller->account));
    return json_response(200, out);
}

Result<Response> institutions(const CoordContext& ctx, Call& call) {
    call.params.allow({"municipality"});
    MS_RETURN_IF_ERROR(call.params.check_known());
    MS_ASSIGN_OR_RETURN(auto municipality, call.params.uuid("municipality"));
    MS_ASSIGN_OR_RETURN(json out, ctx.views.institutions(call.caller->account, municipality));
    return json_response(200, out);
}

// --- learner-level data (audited, refusals too) --------------------------------------------------

Result<Response> records(const CoordContext& ctx, Call& call) {
    call.params.allow({"municipality", "centre", "learner", "from", "to", "include_deleted"});
    call.params.allow({"limit", "cursor"});
    MS_RETURN_IF_ERROR(call.params.check_known());
    MS_ASSIGN_OR_RETURN(RecordQuery rq, record_query(call));
    MS_ASSIGN_OR_RETURN(rq.filter.limit, call.params.limit());
    rq.filter.cursor = call.params.str("cursor");
    auto page = ctx.views.records(call.caller->account, rq.filter);
    if (!page.ok()) return refused(ctx, call, "view_records", rq.detail, page.status());
    json d = json::parse(rq.detail);
    d["count"] = (*page)["items"].size();
    MS_RETURN_IF_ERROR(audit(ctx, call, "view_records", "ok", d.dump()));
    return json_response(200, *page);
}

Result<Response> export_records(const CoordContext& ctx, Call& call) {
    call.params.allow({"municipality", "centre", "learner", "from", "to", "include_deleted"});
    MS_RETURN_IF_ERROR(call.params.check_known());
    MS_ASSIGN_OR_RETURN(RecordQuery rq, record_query(call));
    rq.filter.limit = 0;
    auto table = ctx.views.records_table(call.caller->account, rq.filter);
    if (!table.ok()) return refused(ctx, call, "export", rq.detail, table.status());
    json d = json::parse(rq.detail);
    d["rows"] = table->rows.size();
    MS_RETURN_IF_ERROR(audit(ctx, call, "export", "ok", d.dump()));
    return csv_response(*table, rq.filter.collection + ".csv");
}

Result<Response> learner(const CoordContext& ctx, Call& call) {
    MS_RETURN_IF_ERROR(call.params.check_known());
    auto id = Uuid::parse(call.path_part);
    if (!id) return coord::error(Error::bad_parameter, "id: not a UUID");
    const std::string d = detail({{"learner", id->to_string()}});
    auto file = ctx.views.learner_file(call.caller->account, *id);
    if (!file.ok()) return refused(ctx, call, "view_learner", d, file.status());
    MS_RETURN_IF_ERROR(audit(ctx, call, "view_learner", "ok", d));
    return json_response(200, *file);
}

// --- aggregates -----------------------------------------------------------------------------

Result<Response> indicators(const CoordContext& ctx, Call& call) {
    call.params.allow({"school_year", "municipality"});
    MS_RETURN_IF_ERROR(call.params.check_known());
    MS_ASSIGN_OR_RETURN(auto municipality, call.params.uuid("municipality"));
    MS_ASSIGN_OR_RETURN(
        json out,
        ctx.views.indicators(call.caller->account, call.params.str("school_year"), municipality));
    return json_response(200, out);
}

Result<Response> export_indicators(const CoordContext& ctx, Call& call) {
    call.params.allow({"school_year", "municipality"});
    MS_RETURN_IF_ERROR(call.params.check_known());
    MS_ASSIGN_OR_RETURN(auto municipality, call.params.uuid("municipality"));
    MS_ASSIGN_OR_RETURN(
        json out,
        ctx.views.indicators(call.caller->account, call.params.str("school_year"), municipality));
    const coord::Table t = ctx.views.indicators_table(out);
    MS_RETURN_IF_ERROR(audit(ctx, call, "export", "ok",
                             detail({{"what", "indicators"},
                                     {"school_year", out["school_year"]},
                                     {"municipality", out["municipality_id"]},
                                     {"rows", t.rows.size()}})));
    return csv_response(t, "indicators.csv");
}

Result<Response> escalations(const CoordContext& ctx, Call& call) {
    call.params.allow({"semester", "municipality"});
    MS_RETURN_IF_ERROR(call.params.check_known());
    MS_ASSIGN_OR_RETURN(auto municipality, call.params.uuid("municipality"));
    MS_ASSIGN_OR_RETURN(json out, ctx.views.escalations(call.caller->account,
                                                        call.params.str("semester"), municipality));
    MS_RETURN_IF_ERROR(audit(ctx, call, "view_escalations", "ok",
                             detail({{"semester", out["semester"]},
                                     {"municipality", opt(municipality)},
                                     {"count", out["items"].size()}})));
    return json_response(200, out);
}

Result<Response> devices(const CoordContext& ctx, Call& call) {
    call.params.allow({"municipality"});
    MS_RETURN_IF_ERROR(call.params.check_known());
    MS_ASSIGN_OR_RETURN(auto municipality, call.params.uuid("municipality"));
    MS_ASSIGN_OR_RETURN(json out, ctx.views.devices(call.caller->account, municipality));
    return json_response(200, out);
}

// --- the conflict queue ---------------------------------------------------------------------

Result<Response> conflicts(const CoordContext& ctx, Call& call) {
    Params& p = call.params;
    p.allow({"municipality", "learner", "limit", "cursor"});
    MS_RETURN_IF_ERROR(p.check_known());
    MS_ASSIGN_OR_RETURN(auto municipality, p.uuid("municipality"));
    MS_ASSIGN_OR_RETURN(auto learner_id, p.uuid("learner"));
    MS_ASSIGN_OR_RETURN(const std::size_t limit, p.limit());
    MS_ASSIGN_OR_RETURN(json out, ctx.views.conflicts(call.caller->account, municipality,
                                                      learner_id, limit, p.str("cursor")));
    MS_RETURN_IF_ERROR(audit(ctx, call, "view_conflicts", "ok",
                             detail({{"municipality", opt(municipality)},
                                     {"learner", opt(learner_id)},
                                     {"count", out["items"].size()}})));
    return json_response(200, out);
}

Result<Response> resolve(const CoordContext& ctx, Call& call) {
    MS_RETURN_IF_ERROR(call.params.check_known());
    const json& body = call.body;
    for (const auto& [k, v] : body.items())
        if (k != "id" && k != "resolution" && k != "value")
            return coord::error(Error::bad_parameter, k + ": unknown field");
    if (!body.contains("id") || !body["id"].is_string())
        return coord::error(Error::bad_parameter, "id: required, the conflict's id");
    if (!body.contains("resolution") || !body["resolution"].is_string())
        return coord::error(Error::bad_parameter,
                            "resolution: one of keep_winner, take_loser, custom");
    const std::string how = body["resolution"];
    if (how == "custom" && !body.contains("value"))
        return coord::error(Error::bad_parameter, "value: required with the custom resolution");
    MS_ASSIGN_OR_RETURN(json out,
                        ctx.views.resolve(call.caller->account, body["id"], how,
                                          body.contains("value") ? body["value"] : json(nullptr)));
    MS_RETURN_IF_ERROR(
        audit(ctx, call, "resolve", "ok",
              detail({{"conflict", body["id"]}, {"resolution", how}, {"seq", out["seq"]}})));
    return json_response(200, out);
}

// --- the audit log (administrators; CoordApi checks the role) ------------------------------

Result<Response> audit(const CoordContext& ctx, Call& call) {
    call.params.allow({"limit", "cursor"});
    MS_RETURN_IF_ERROR(call.params.check_known());
    std::int64_t before = 0;
    const std::string c = call.params.str("cursor");
    if (!c.empty()) {
        if (c.size() > 18 || !std::all_of(c.begin(), c.end(), ::isdigit))
            return coord::error(Error::bad_cursor, "cursor: not a cursor this API gave out");
        before = std::stoll(c);
    }
    MS_ASSIGN_OR_RETURN(const std::size_t limit, call.params.limit());
    MS_ASSIGN_OR_RETURN(auto entries, coord::storage(ctx.store.audit_entries(before, limit + 1)));
    json items = json::array();
    json next = nullptr;
    for (std::size_t i = 0; i < entries.size(); ++i) {
        const auto& e = entries[i];
        if (i == limit) {
            next = std::to_string(entries[i - 1].seq);
            break;
        }
        json d = json::parse(e.detail, nullptr, false);
        items.push_back({{"seq", e.seq},
                         {"at", iso(e.at_ms)},
                         {"account_id", e.account.empty() ? json(nullptr) : json(e.account)},
                         {"username", e.username},
                         {"event", e.event},
                         {"outcome", e.outcome},
                         {"detail", d.is_discarded() ? json::object() : d},
                         {"hash", common::hex_lower(e.hash)}});
    }
    return json_response(200, {{"items", items}, {"next_cursor", next}});
}

Result<Response> audit_verify(const CoordContext& ctx, Call& call) {
    MS_RETURN_IF_ERROR(call.params.check_known());
    MS_ASSIGN_OR_RETURN(auto v, coord::storage(ctx.store.verify_audit()));
    return json_response(
        200, {{"ok", v.ok},
              {"entries", v.entries},
              {"head_hash", v.head_hash.empty() ? json(nullptr) : json(v.head_hash)},
              {"first_bad_seq", v.first_bad_seq ? json(*v.first_bad_seq) : json(nullptr)},
              {"problem", v.problem.empty() ? json(nullptr) : json(v.problem)}});
}

}  // namespace mentorsync::server::http::coord_api
