// The coordinator API's answers, byte for byte: every /api/v1 endpoint for every role (and
// without one), successes and refusals, over the synthetic programme of programme_fixture.h
// with a fixed clock and a seeded random generator. Each answer (status, route label, error
// code, headers, JSON body as dump() wrote it, CSV bytes) and the audit entries it wrote are
// compared with golden/coord_api.txt, written from the code before the issue-15 refactor
// (MENTORSYNC_UPDATE_GOLDEN=1 rewrites the file). JSON is compared as text, not with json ==,
// so that an integer turning into a float (2 vs 2.0) is caught.
//
// A second test states, per endpoint, which audit entries it writes on success and on a
// 403/404 refusal.
#include <catch2/catch.hpp>

#include <cstdlib>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <sstream>

#include "coord/coord_store.h"
#include "core/server_key.h"
#include "deterministic_random.h"
#include "http/coord_api.h"
#include "programme_fixture.h"

using namespace mstest;
using namespace mentorsync::server::coord;
using mentorsync::server::http::CoordApi;
using mentorsync::server::http::Request;
using mentorsync::server::http::Response;
using nlohmann::json;

namespace {

// 2026-11-16T09:00:00Z: semester 1 of school year 2026/2027.
constexpr std::int64_t kStartMs = 1'794'819'600'000;
constexpr const char* kPassword = "pareizā parole 123";

using Headers = std::vector<std::pair<std::string, std::string>>;

struct GoldenApi {
    DeterministicRandom rng;  // first: alive before and after every thread of the fixture
    Programme p{kStartMs};
    Tablet t1, t2;
    std::shared_ptr<CoordStore> store;
    std::unique_ptr<CoordApi> api;
    std::map<std::string, std::string> bearer;  // username -> "Bearer mst_..."
    std::vector<std::string> transcript;

    GoldenApi() {
        // Two tablets of mentor1 edit the same contact offline: two conflicts (one on an S9
        // field, notes, whose values the municipality does not see).
        t1 = p.tablet(p.mentor1, "first");
        t2 = p.tablet(p.mentor1, "second");
        p.pull_all(t1);
        p.pull_all(t2);
        Query q;
        q.collection = "contacts";
        q.ref = p.learners[0];
        auto rows = p.ok(t1.replica->query(q));
        REQUIRE_FALSE(rows.empty());
        const Uuid contact = rows[0].id;
        REQUIRE(
            t1.replica->update("contacts", contact, {{"duration_min", 50}, {"notes", "a"}}).ok());
        p.clock->advance(10);
        REQUIRE(
            t2.replica->update("contacts", contact, {{"duration_min", 70}, {"notes", "b"}}).ok());
        p.push_pending(t1);
        p.clock->advance(60'000);
        p.push_pending(t2);
        p.clock->advance(60'000);

        const std::string data = p.dir.file("data");
        REQUIRE(mentorsync::server::ServerKey::load(data + "/server.key", true).ok());
        CoordStoreOptions o;
        o.data_dir = data;
        o.clock = p.clock;
        o.log = [](std::string_view) {};
        store = p.ok(CoordStore::open(o));
        REQUIRE(store->add_account("admin", CoordRole::admin, std::nullopt, kPassword).ok());
        REQUIRE(
            store->add_account("riga", CoordRole::municipality, p.municipality, kPassword).ok());
        REQUIRE(store->add_account("otrs", CoordRole::municipality, p.muni_b, kPassword).ok());
        REQUIRE(store->add_account("visc", CoordRole::national, std::nullopt, kPassword).ok());
        for (const char* u : {"admin", "riga", "otrs", "visc"})
            bearer[u] = "Bearer " + p.ok(store->issue_token(u, "golden", 0)).token;
        auto views = std::make_shared<CoordViews>(p.shared_admin, p.clock);
        api = std::make_unique<CoordApi>(store, views, false);
    }

    std::int64_t audit_head() {
        auto e = p.ok(store->audit_entries(0, 1));
        return e.empty() ? 0 : e[0].seq;
    }

    // Sends one request, appends its transcript entry, and returns the answer.
    Response call(const std::string& label, const std::string& method, const std::string& target,
                  Headers headers = {}, const std::string& body = {}) {
        Request rq;
        rq.method = method;
        rq.target = target;
        rq.headers = std::move(headers);
        rq.headers.emplace_back("Host", "coord.test");
        rq.body = body;
        rq.client = "192.0.2.1";
        const std::int64_t before = audit_head();
        Response r = api->handle(rq);
        std::ostringstream out;
        out << "### " << label << " " << method << " " << target << "\n";
        out << "status: " << r.status << "\nroute: " << r.route << "\nerror_code: " << r.error_code
            << "\ncontent-type: " << r.content_type << "\n";
        for (const auto& [k, v] : r.headers)
            out << "header: " << k << ": " << v << "\n";
        auto entries = p.ok(store->audit_entries(0, 100));
        for (auto it = entries.rbegin(); it != entries.rend(); ++it)
            if (it->seq > before)
                out << "audit: " << it->username << " " << it->event << " " << it->outcome << " "
                    << it->detail << "\n";
        out << "body: " << r.body.size() << " bytes\n" << r.body << "\n";
        transcript.push_back(out.str());
        p.clock->advance(1'000);
        return r;
    }
    Response get(const std::string& who, const std::string& target) {
        Headers h;
        if (bearer.count(who)) h.emplace_back("Authorization", bearer.at(who));
        return call(who, "GET", target, std::move(h));
    }
    Response post(const std::string& who, const std::string& target, const std::string& body,
                  Headers h = {{"Content-Type", "application/json"}}) {
        if (bearer.count(who)) h.emplace_back("Authorization", bearer.at(who));
        return call(who, "POST", target, std::move(h), body);
    }
    // Follows next_cursor once, when there is one.
    void follow(const std::string& who, const std::string& target, const Response& r) {
        const json j = json::parse(r.body, nullptr, false);
        if (j.is_object() && j.contains("next_cursor") && j["next_cursor"].is_string())
            get(who, target + (target.find('?') == std::string::npos ? "?" : "&") +
                         "cursor=" + j["next_cursor"].get<std::string>());
    }

    static std::string session_of(const Response& r) {
        for (const auto& [k, v] : r.headers)
            if (k == "Set-Cookie") return v.substr(0, v.find(';'));
        return {};
    }

    void run_reads(const std::string& who) {
        const std::string a = p.municipality.to_string(), b = p.muni_b.to_string();
        const std::string l0 = p.learners[0].to_string(), l7 = p.learners[7].to_string();
        for (const char* t : {"/api/v1/me", "/api/v1/municipalities", "/api/v1/institutions"})
            get(who, t);
        get(who, "/api/v1/institutions?municipality=" + b);
        get(who, "/api/v1/institutions?municipality=nope");
        for (const std::string& c : record_collections())
            get(who, "/api/v1/records/" + c);
        follow(who, "/api/v1/records/contacts?limit=2",
               get(who, "/api/v1/records/contacts?limit=2"));
        for (const std::string& q :
             {std::string("absences?from=2026-10-01&to=2026-10-31"), "contacts?learner=" + l0,
              "contacts?learner=" + l7, "contacts?municipality=" + a, "contacts?municipality=" + b,
              "contacts?centre=" + p.centre.to_string(),
              std::string("contacts?include_deleted=true"), std::string("absences?from=2026-02-30"),
              std::string("contacts?include_deleted=maybe"), std::string("contacts?limit=0"),
              std::string("contacts?limit=501"), std::string("contacts?cursor=garbage"),
              std::string("contacts?colour=red"), std::string("contacts?limit=1&limit=2"),
              std::string("contacts?from=%ZZ"), std::string("nope")})
            get(who, "/api/v1/records/" + q);
        for (const std::string& l : {l0, l7, Uuid::random().to_string(), std::string("not-a-uuid")})
            get(who, "/api/v1/learners/" + l);
        for (const std::string& q :
             {std::string(""), std::string("?school_year=2026/2027"),
              std::string("?school_year=2025/2026"), std::string("?school_year=2026-2027"),
              "?municipality=" + a, "?municipality=" + b})
            get(who, "/api/v1/indicators" + q);
        get(who, "/api/v1/export/indicators");
        get(who, "/api/v1/export/indicators?school_year=2025/2026&municipality=" + a);
        for (const std::string& c : record_collections())
            get(who, "/api/v1/export/records/" + c);
        get(who, "/api/v1/export/records/contacts?municipality=" + b);
        get(who, "/api/v1/export/records/contacts?limit=5");
        get(who, "/api/v1/export/records/nope");
        for (const std::string& q : {std::string(""), std::string("?semester=2026/2027-1"),
                                     std::string("?semester=2026/2027-2"),
                                     std::string("?semester=2026/2027-3"), "?municipality=" + b})
            get(who, "/api/v1/escalations" + q);
        get(who, "/api/v1/devices");
        get(who, "/api/v1/devices?municipality=" + b);
        get(who, "/api/v1/conflicts");
        follow(who, "/api/v1/conflicts?limit=1", get(who, "/api/v1/conflicts?limit=1"));
        get(who, "/api/v1/conflicts?cursor=garbage");
        get(who, "/api/v1/conflicts?learner=" + l0);
        get(who, "/api/v1/conflicts?municipality=" + b);
        follow(who, "/api/v1/audit?limit=3", get(who, "/api/v1/audit?limit=3"));
        get(who, "/api/v1/audit?cursor=x1");
        get(who, "/api/v1/audit/verify");
        call(who, "POST", "/api/v1/me",
             {{"Authorization", bearer.count(who) ? bearer.at(who) : ""}});
        get(who, "/api/v1/auth/sign-out");
        get(who, "/api/v1/nope");
    }

    std::vector<std::string> conflict_ids(const std::string& field) {
        Headers h{{"Authorization", bearer.at("admin")}};
        Request rq;
        rq.method = "GET";
        rq.target = "/api/v1/conflicts";
        rq.headers = h;
        const json j = json::parse(api->handle(rq).body);
        std::vector<std::string> out;
        for (const json& c : j["items"])
            if (c["field"] == field) out.push_back(c["id"]);
        return out;
    }

    void run_writes() {
        const std::string duration = conflict_ids("duration_min").at(0);
        const std::string notes = conflict_ids("notes").at(0);
        const std::string r = "/api/v1/conflicts/resolve";
        post("admin", r, "{}", {});
        post("admin", r, "{}", {{"Content-Type", "text/plain"}});
        for (const std::string& body :
             {std::string("[]"), std::string("not json"), std::string("{\"id\":1}"),
              std::string("{\"id\":\"x\"}"),
              std::string("{\"id\":\"garbage\",\"resolution\":\"keep_winner\"}"),
              "{\"id\":\"" + duration + "\",\"resolution\":\"custom\"}",
              "{\"id\":\"" + duration + "\",\"resolution\":\"merge\"}",
              "{\"id\":\"" + duration + "\",\"resolution\":\"custom\",\"value\":9999}",
              "{\"id\":\"" + duration + "\",\"resolution\":\"keep_winner\",\"colour\":1}"})
            post("admin", r, body);
        post("admin", r + "?x=1", "{\"id\":\"" + duration + "\",\"resolution\":\"keep_winner\"}");
        post("otrs", r, "{\"id\":\"" + duration + "\",\"resolution\":\"take_loser\"}");
        post("visc", r, "{\"id\":\"" + duration + "\",\"resolution\":\"take_loser\"}");
        post("riga", r, "{\"id\":\"" + notes + "\",\"resolution\":\"keep_winner\"}");
        post("riga", r, "{\"id\":\"" + duration + "\",\"resolution\":\"take_loser\"}");
        post("riga", r, "{\"id\":\"" + duration + "\",\"resolution\":\"take_loser\"}");
        post("admin", r,
             "{\"id\":\"" + notes + "\",\"resolution\":\"custom\",\"value\":\"apvienots\"}");
        get("admin", "/api/v1/conflicts");
        get("riga", "/api/v1/records/contacts?learner=" + p.learners[0].to_string());
    }

    void run_sessions() {
        const std::string in = "/api/v1/auth/sign-in";
        get("anon", "/api/v1/me");
        call("anon", "GET", "/api/v1/me", {{"Authorization", "Bearer mst_nope_nope"}});
        call("anon", "GET", "/api/v1/me", {{"Authorization", "Basic YWRtaW4="}});
        call("anon", "GET", "/api/v1/me", {{"Cookie", "ms_session=unknown"}});
        call("anon", "GET", "/api/v1/records/contacts", {});
        call("anon", "GET", "/api/v2/me", {});
        call("anon", "GET", in, {});
        post("anon", in, "{\"username\":\"riga\",\"password\":\"x\"}",
             {{"Content-Type", "text/plain"}});
        for (const std::string& body :
             {std::string("{}"), std::string("{\"username\":\"\",\"password\":\"x\"}"),
              std::string("{\"username\":\"riga\"}"),
              std::string("{\"username\":\"riga\",\"password\":7}"),
              std::string("{\"username\":\"riga\",\"password\":\"wrong password\"}"),
              std::string("{\"username\":\"nobody\",\"password\":\"wrong password\"}")})
            post("anon", in, body);
        post("anon", in, "{\"username\":\"riga\",\"password\":\"x\"}",
             {{"Content-Type", "application/json"}, {"Sec-Fetch-Site", "cross-site"}});
        post("anon", in, "{\"username\":\"riga\",\"password\":\"x\"}",
             {{"Content-Type", "application/json"}, {"Origin", "https://evil.test"}});
        const Response ok = post(
            "anon", in, std::string("{\"username\":\"riga\",\"password\":\"") + kPassword + "\"}");
        const std::string cookie = session_of(ok);
        const std::string csrf = json::parse(ok.body)["csrf_token"];
        call("session", "GET", "/api/v1/me", {{"Cookie", cookie}});
        call("session", "GET", "/api/v1/records/contacts?limit=1", {{"Cookie", "a=b; " + cookie}});
        call("session", "POST", "/api/v1/conflicts/resolve",
             {{"Cookie", cookie}, {"Content-Type", "application/json"}},
             "{\"id\":\"x\",\"resolution\":\"keep_winner\"}");
        call("session", "POST", "/api/v1/conflicts/resolve",
             {{"Cookie", cookie}, {"Content-Type", "application/json"}, {"X-CSRF-Token", "nope"}},
             "{\"id\":\"x\",\"resolution\":\"keep_winner\"}");
        call("session", "POST", "/api/v1/conflicts/resolve",
             {{"Cookie", cookie}, {"Content-Type", "application/json"}, {"X-CSRF-Token", csrf}},
             "{\"id\":\"x\",\"resolution\":\"keep_winner\"}");
        call("session", "POST", "/api/v1/auth/sign-out", {{"Cookie", cookie}});
        call("session", "POST", "/api/v1/auth/sign-out",
             {{"Cookie", cookie}, {"X-CSRF-Token", csrf}});
        call("session", "GET", "/api/v1/me", {{"Cookie", cookie}});
        post("admin", "/api/v1/auth/sign-out", "");
        call("session", "GET", "/api/v1/me", {{"Authorization", bearer.at("admin")}});
        // Lockout: the fifth consecutive failure locks the username.
        for (int i = 0; i < 6; ++i)
            post("anon", in, "{\"username\":\"otrs\",\"password\":\"wrong password\"}");
        post("anon", in, std::string("{\"username\":\"otrs\",\"password\":\"") + kPassword + "\"}");
    }
};

std::string golden_path() {
    return std::string(MENTORSYNC_GOLDEN_DIR) + "/coord_api.txt";
}

std::vector<std::string> split_entries(const std::string& text) {
    std::vector<std::string> out;
    std::size_t pos = 0;
    while (pos < text.size()) {
        std::size_t next = text.find("\n### ", pos);
        next = next == std::string::npos ? text.size() : next + 1;
        out.push_back(text.substr(pos, next - pos));
        pos = next;
    }
    return out;
}

std::vector<std::string> audit_events(GoldenApi& g, std::int64_t after) {
    std::vector<std::string> out;
    auto entries = g.p.ok(g.store->audit_entries(0, 100));
    for (auto it = entries.rbegin(); it != entries.rend(); ++it)
        if (it->seq > after) out.push_back(it->username + " " + it->event + " " + it->outcome);
    return out;
}

}  // namespace

TEST_CASE("every coordinator endpoint answers every role with the same bytes as before",
          "[server][coord][golden]") {
    GoldenApi g;
    for (const char* who : {"admin", "riga", "otrs", "visc", "anon"})
        g.run_reads(who);
    g.run_writes();
    g.run_sessions();
    std::string all;
    for (const std::string& e : g.transcript)
        all += e;

    const char* update = std::getenv("MENTORSYNC_UPDATE_GOLDEN");
    if (update != nullptr && std::string(update) == "1") {
        std::ofstream(golden_path(), std::ios::binary) << all;
        WARN("rewrote " << golden_path());
        return;
    }
    std::ifstream f(golden_path(), std::ios::binary);
    REQUIRE(f.good());
    const std::string expected((std::istreambuf_iterator<char>(f)), {});
    const auto want = split_entries(expected);
    const auto got = split_entries(all);
    CHECK(got.size() == want.size());
    for (std::size_t i = 0; i < std::min(got.size(), want.size()); ++i) {
        INFO("entry " << i);
        CHECK(got[i] == want[i]);
    }
}

TEST_CASE("coordinator endpoints write the audit entries they owe, on success and on refusal",
          "[server][coord]") {
    GoldenApi g;
    const std::string a = g.p.municipality.to_string(), l0 = g.p.learners[0].to_string(),
                      l7 = g.p.learners[7].to_string();
    struct Case {
        std::string who, target;
        int status;
        std::vector<std::string> events;
    };
    const std::vector<Case> cases = {
        // Reads of learner-level data are audited, refusals (403/404) too.
        {"riga", "/api/v1/records/contacts", 200, {"riga view_records ok"}},
        {"riga", "/api/v1/records/contacts?learner=" + l7, 404, {"riga view_records failed"}},
        {"visc", "/api/v1/records/contacts", 403, {"visc view_records failed"}},
        {"riga", "/api/v1/records/contacts?limit=0", 400, {}},
        {"riga", "/api/v1/records/nope", 400, {}},
        {"riga", "/api/v1/export/records/absences", 200, {"riga export ok"}},
        {"visc", "/api/v1/export/records/absences", 403, {"visc export failed"}},
        {"otrs", "/api/v1/export/records/contacts?municipality=" + a, 404, {"otrs export failed"}},
        {"riga", "/api/v1/learners/" + l0, 200, {"riga view_learner ok"}},
        {"riga", "/api/v1/learners/" + l7, 404, {"riga view_learner failed"}},
        {"visc", "/api/v1/learners/" + l0, 403, {"visc view_learner failed"}},
        {"riga", "/api/v1/learners/not-a-uuid", 400, {}},
        // Aggregates: the export is audited, the screen view is not.
        {"visc", "/api/v1/indicators", 200, {}},
        {"visc", "/api/v1/export/indicators", 200, {"visc export ok"}},
        {"riga", "/api/v1/escalations", 200, {"riga view_escalations ok"}},
        {"visc", "/api/v1/escalations", 403, {}},
        {"admin", "/api/v1/conflicts", 200, {"admin view_conflicts ok"}},
        {"visc", "/api/v1/conflicts", 403, {}},
        {"riga", "/api/v1/devices", 200, {}},
        {"riga", "/api/v1/me", 200, {}},
        {"riga", "/api/v1/municipalities", 200, {}},
        {"admin", "/api/v1/audit", 200, {}},
        {"riga", "/api/v1/audit", 403, {}},
    };
    for (const Case& c : cases) {
        INFO(c.who << " " << c.target);
        const std::int64_t before = g.audit_head();
        const Response r = g.get(c.who, c.target);
        CHECK(r.status == c.status);
        CHECK(audit_events(g, before) == c.events);
    }

    const std::string duration = g.conflict_ids("duration_min").at(0);
    const std::string body = "{\"id\":\"" + duration + "\",\"resolution\":\"take_loser\"}";
    std::int64_t before = g.audit_head();
    CHECK(g.post("otrs", "/api/v1/conflicts/resolve", body).status == 404);
    CHECK(audit_events(g, before).empty());
    before = g.audit_head();
    CHECK(g.post("riga", "/api/v1/conflicts/resolve", body).status == 200);
    CHECK(audit_events(g, before) == std::vector<std::string>{"riga resolve ok"});

    // Sign-in and sign-out are audited by name, a failure under the name typed.
    before = g.audit_head();
    const std::string in = "/api/v1/auth/sign-in";
    CHECK(g.post("anon", in, "{\"username\":\"riga\",\"password\":\"wrong password\"}").status ==
          401);
    const Response ok = g.post(
        "anon", in, std::string("{\"username\":\"riga\",\"password\":\"") + kPassword + "\"}");
    CHECK(ok.status == 200);
    const Response out = g.call("session", "POST", "/api/v1/auth/sign-out",
                                {{"Cookie", GoldenApi::session_of(ok)},
                                 {"X-CSRF-Token", json::parse(ok.body)["csrf_token"]}});
    CHECK(out.status == 200);
    CHECK(audit_events(g, before) ==
          std::vector<std::string>{"riga sign_in failed", "riga sign_in ok", "riga sign_out ok"});
}
