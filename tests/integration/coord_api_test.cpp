// The coordinator API against the real server binary: sign-in, cookies, CSRF, lockout, tokens,
// role refusals over HTTP, CSV exports, the audit chain (tampered through coord.db itself),
// and every path of docs/api/openapi.yaml answering as documented.
#include <sqlite3.h>
#include <stdlib.h>

#include <catch2/catch.hpp>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "http_client.h"
#include "server_process.h"
#include "test_support.h"
#include "wait.h"

using mstest::admin;
using nlohmann::json;

namespace {

constexpr const char* kAdminPw = "administratora parole";
constexpr const char* kMuniPw = "pašvaldības parole 1";
constexpr const char* kNatPw = "valsts līmeņa parole";

std::string add_account(const std::string& data, const std::string& user, const std::string& role,
                        const std::string& pw, const std::string& muni = "") {
    // The password goes through the environment, as documented (never argv).
    ::setenv("MENTORSYNC_COORD_PASSWORD", pw.c_str(), 1);
    std::vector<std::string> args = {"coord-add-account", "--username", user, "--role", role};
    if (!muni.empty()) args.insert(args.end(), {"--municipality", muni});
    json j = admin(data, args);
    ::unsetenv("MENTORSYNC_COORD_PASSWORD");
    return j["account_id"];
}

struct Env {
    mstest::TempDir dir;
    std::string data = dir.file("data");
    std::string muni_a, muni_b, school_a, school_b, mentor, learner_a, learner_b, learner_eq;
    std::unique_ptr<mstest::ServerProcess> server;

    Env() {
        admin(data, {"init"});
        muni_a = admin(data, {"add-municipality", "--name", "Ādažu novads"})["municipality_id"];
        muni_b = admin(data, {"add-municipality", "--name", "Cēsu novads"})["municipality_id"];
        school_a = admin(data, {"add-institution", "--name", "Ādažu skola", "--municipality",
                                muni_a, "--kind", "school"})["institution_id"];
        school_b = admin(data, {"add-institution", "--name", "Cēsu skola", "--municipality", muni_b,
                                "--kind", "school"})["institution_id"];
        mentor = admin(data, {"add-user", "--role", "mentor", "--name", "Mentore", "--institution",
                              school_a})["user_id"];
        auto learner = [&](const std::string& name, const std::string& school,
                           const std::string& muni) -> std::string {
            return admin(data, {"add-learner", "--name", name, "--birth-year", "2011", "--school",
                                school, "--municipality", muni, "--grade", "8", "--education",
                                "general"})["learner_id"];
        };
        learner_a = learner("Žanis Ķirsis-Ļūļaņš", school_a, muni_a);
        learner_eq = learner("=HYPERLINK(\"http://x\")", school_a, muni_a);
        learner_b = learner("Cēsu skolēns", school_b, muni_b);
        admin(data,
              {"assign", "--learner", learner_a, "--mentor", mentor, "--start-date", "2026-09-01"});
        add_account(data, "admin", "admin", kAdminPw);
        add_account(data, "ada", "municipality", kMuniPw, muni_a);
        add_account(data, "visc", "national", kNatPw);
        server = std::make_unique<mstest::ServerProcess>(data);
    }
    std::uint16_t port() const { return static_cast<std::uint16_t>(server->port()); }
};

// A browser-like client: keeps the session cookie and the CSRF token.
struct Browser {
    mstest::HttpClient http;
    std::string cookie, csrf;
    explicit Browser(std::uint16_t port) : http(port) {}

    mstest::HttpResponse sign_in(const std::string& user, const std::string& pw) {
        auto r =
            http.request("POST", "/api/v1/auth/sign-in",
                         json{{"username", user}, {"password", pw}}.dump(), "application/json");
        if (r.status == 200) {
            const std::string sc = r.header("set-cookie");
            cookie = sc.substr(0, sc.find(';'));
            csrf = json::parse(r.body)["csrf_token"];
        }
        return r;
    }
    mstest::HttpResponse get(const std::string& target) {
        return http.request("GET", target, "", "", {{"Cookie", cookie}});
    }
    mstest::HttpResponse post(const std::string& target, const json& body,
                              mstest::HttpClient::Headers extra = {}, bool with_csrf = true) {
        mstest::HttpClient::Headers h = {{"Cookie", cookie}};
        if (with_csrf) h.emplace_back("X-CSRF-Token", csrf);
        h.insert(h.end(), extra.begin(), extra.end());
        return http.request("POST", target, body.dump(), "application/json", h);
    }
};

std::string code_of(const mstest::HttpResponse& r) {
    auto j = json::parse(r.body, nullptr, false);
    return j.is_object() ? j.value("code", "") : "";
}

void tamper(const std::string& db_path, const std::string& sql) {
    sqlite3* db = nullptr;
    REQUIRE(sqlite3_open(db_path.c_str(), &db) == SQLITE_OK);
    char* err = nullptr;
    const int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err);
    INFO((err ? err : ""));
    sqlite3_free(err);
    sqlite3_close(db);
    REQUIRE(rc == SQLITE_OK);
}

// --- a minimal reader of docs/api/openapi.yaml: nested maps by indentation ---------------------
struct YNode {
    std::string value;
    std::map<std::string, YNode> kids;
    const YNode* at(const std::string& k) const {
        auto it = kids.find(k);
        return it == kids.end() ? nullptr : &it->second;
    }
};

std::string unquote(std::string s) {
    while (!s.empty() && s.back() == ' ')
        s.pop_back();
    if (s.size() >= 2 && (s.front() == '\'' || s.front() == '"') && s.back() == s.front())
        return s.substr(1, s.size() - 2);
    return s;
}

YNode parse_yaml(std::istream& in) {
    YNode root;
    std::vector<std::pair<int, YNode*>> stack = {{-1, &root}};
    std::string line;
    int block = -1;  // indent of a block scalar's key: deeper lines are its text
    std::map<YNode*, int> items;
    while (std::getline(in, line)) {
        const auto first = line.find_first_not_of(' ');
        if (first == std::string::npos || line[first] == '#') continue;
        int indent = static_cast<int>(first);
        if (block >= 0 && indent > block) continue;
        block = -1;
        std::string content = line.substr(first);
        while (stack.back().first >= indent)
            stack.pop_back();
        if (content.rfind("- ", 0) == 0) {
            YNode* parent = stack.back().second;
            YNode* item = &parent->kids["-" + std::to_string(items[parent]++)];
            stack.emplace_back(indent, item);
            content = content.substr(2);
            indent += 2;
        }
        const auto colon = content.find(": ");
        const bool ends = !content.empty() && content.back() == ':';
        if (colon == std::string::npos && !ends) continue;  // a plain list value
        const std::string key =
            unquote(ends && colon == std::string::npos ? content.substr(0, content.size() - 1)
                                                       : content.substr(0, colon));
        const std::string value =
            colon == std::string::npos ? "" : unquote(content.substr(colon + 2));
        YNode* node = &stack.back().second->kids[key];
        node->value = value;
        if (value == "|" || value == ">") block = indent;
        stack.emplace_back(indent, node);
    }
    return root;
}

std::vector<std::string> flow_list(const std::string& v) {
    std::vector<std::string> out;
    if (v.size() < 2 || v.front() != '[') return out;
    std::stringstream ss(v.substr(1, v.size() - 2));
    std::string item;
    while (std::getline(ss, item, ',')) {
        item.erase(0, item.find_first_not_of(' '));
        out.push_back(unquote(item));
    }
    return out;
}

}  // namespace

TEST_CASE("coordinator API: sign-in, CSRF, sign-out, lockout and tokens over HTTP",
          "[integration]") {
    Env env;
    Browser b(env.port());

    // No session: 401 with a JSON error and the API's security headers.
    auto anon = b.get("/api/v1/me");
    CHECK(anon.status == 401);
    CHECK(code_of(anon) == "unauthenticated");
    CHECK(anon.header("x-content-type-options") == "nosniff");
    CHECK(anon.header("cache-control") == "no-store");

    // Sign-in: the body must be JSON.
    auto form = b.http.request("POST", "/api/v1/auth/sign-in", "username=admin",
                               "application/x-www-form-urlencoded");
    CHECK(form.status == 415);
    CHECK(b.http.request("POST", "/api/v1/auth/sign-in", "{", "application/json").status == 400);
    auto cross = b.http.request("POST", "/api/v1/auth/sign-in",
                                json{{"username", "admin"}, {"password", kAdminPw}}.dump(),
                                "application/json", {{"Sec-Fetch-Site", "cross-site"}});
    CHECK(cross.status == 403);
    CHECK(code_of(cross) == "csrf");

    auto in = b.sign_in("admin", kAdminPw);
    REQUIRE(in.status == 200);
    const std::string sc = in.header("set-cookie");
    CHECK(sc.find("ms_session=") == 0);
    CHECK(sc.find("HttpOnly") != std::string::npos);
    CHECK(sc.find("SameSite=Strict") != std::string::npos);
    CHECK(sc.find("Path=/") != std::string::npos);
    CHECK(sc.find("Secure") == std::string::npos);  // plain HTTP in this test
    auto me = b.get("/api/v1/me");
    REQUIRE(me.status == 200);
    const json mej = json::parse(me.body);
    CHECK(mej["account"]["role"] == "admin");
    CHECK(mej["auth"] == "session");
    CHECK(mej["csrf_token"] == b.csrf);

    // CSRF: state-changing requests need the session's token, from this site.
    auto no_token = b.post("/api/v1/auth/sign-out", json::object(), {}, false);
    CHECK(no_token.status == 403);
    CHECK(code_of(no_token) == "csrf");
    const std::string real = b.csrf;
    b.csrf = "AAAA" + real.substr(4);
    CHECK(b.post("/api/v1/auth/sign-out", json::object()).status == 403);
    b.csrf = real;
    CHECK(b.post("/api/v1/auth/sign-out", json::object(), {{"Sec-Fetch-Site", "cross-site"}})
              .status == 403);
    CHECK(b.post("/api/v1/auth/sign-out", json::object(), {{"Origin", "http://evil.example"}})
              .status == 403);
    CHECK(b.get("/api/v1/me").status == 200);  // none of those signed out
    auto out = b.post("/api/v1/auth/sign-out", json::object());
    CHECK(out.status == 200);
    CHECK(out.header("set-cookie").find("Max-Age=0") != std::string::npos);
    CHECK(b.get("/api/v1/me").status == 401);

    // Lockout: after 5 failures the 6th attempt (even the right password) gets 429.
    Browser lk(env.port());
    for (int i = 0; i < 5; ++i) {
        auto r = lk.sign_in("visc", "nepareiza parole");
        CHECK(r.status == 401);
        CHECK(code_of(r) == "bad_credentials");
    }
    auto locked = lk.sign_in("visc", kNatPw);
    CHECK(locked.status == 429);
    CHECK(code_of(locked) == "locked_out");
    CHECK(locked.header("retry-after") == "30");
    CHECK(json::parse(locked.body)["retry_after_s"] == 30);
    // An unknown username answers exactly like a wrong password.
    auto unknown = lk.sign_in("nav-tada", "nepareiza parole");
    CHECK(unknown.status == 401);
    CHECK(code_of(unknown) == "bad_credentials");

    // API tokens: issued by the admin tool, sent as Bearer, refused once revoked.
    json tok = admin(env.data, {"coord-issue-token", "--username", "ada", "--name", "atskaite"});
    const std::string bearer = "Bearer " + tok["token"].get<std::string>();
    mstest::HttpClient script(env.port());
    auto tme = script.request("GET", "/api/v1/me", "", "", {{"Authorization", bearer}});
    REQUIRE(tme.status == 200);
    CHECK(json::parse(tme.body)["auth"] == "token");
    CHECK(json::parse(tme.body)["csrf_token"].is_null());
    CHECK(json::parse(tme.body)["municipality_name"] == "Ādažu novads");
    CHECK(script.request("GET", "/api/v1/me", "", "", {{"Authorization", "Basic abc"}}).status ==
          401);
    admin(env.data, {"coord-revoke-token", "--token-id", tok["token_id"]});
    CHECK(script.request("GET", "/api/v1/me", "", "", {{"Authorization", bearer}}).status == 401);
    // The token is not in any list the tool prints.
    auto [rc, listed] = mstest::admin_raw(env.data, {"coord-list-tokens"});
    CHECK(rc == 0);
    CHECK(listed.find(tok["token"].get<std::string>()) == std::string::npos);
    // Passwords on the command line are refused: there is no such option.
    CHECK(mstest::admin_raw(env.data, {"coord-add-account", "--username", "x1x", "--role", "admin",
                                       "--password", "abcdefghijklmn"})
              .first == 2);
}

TEST_CASE("coordinator API: roles over HTTP, CSV export, audit chain verification",
          "[integration]") {
    Env env;
    Browser adm(env.port()), ada(env.port()), visc(env.port());
    REQUIRE(adm.sign_in("admin", kAdminPw).status == 200);
    REQUIRE(ada.sign_in("ada", kMuniPw).status == 200);
    REQUIRE(visc.sign_in("visc", kNatPw).status == 200);

    // Municipality: own learners; another municipality's learner is indistinguishable from
    // one that does not exist.
    auto own = ada.get("/api/v1/records/learners");
    REQUIRE(own.status == 200);
    CHECK(json::parse(own.body)["items"].size() == 2);
    auto other = ada.get("/api/v1/learners/" + env.learner_b);
    auto none = ada.get("/api/v1/learners/00000000-0000-4000-8000-000000000000");
    CHECK(other.status == 404);
    CHECK(none.status == 404);
    CHECK(other.body == none.body);
    CHECK(ada.get("/api/v1/records/contacts?learner=" + env.learner_b).body ==
          ada.get("/api/v1/records/contacts?learner=00000000-0000-4000-8000-000000000000").body);
    CHECK(ada.get("/api/v1/learners/" + env.learner_a).status == 200);
    CHECK(ada.get("/api/v1/audit").status == 403);
    CHECK(ada.get("/api/v1/indicators?municipality=" + env.muni_b).status == 404);
    // National: aggregates yes, learner-level no.
    CHECK(visc.get("/api/v1/indicators").status == 200);
    CHECK(json::parse(visc.get("/api/v1/indicators").body)["suppressed"] == true);
    for (const char* path :
         {"/api/v1/records/learners", "/api/v1/escalations", "/api/v1/conflicts", "/api/v1/devices",
          "/api/v1/audit", "/api/v1/export/records/learners"}) {
        INFO(path);
        auto r = visc.get(path);
        CHECK(r.status == 403);
        CHECK(code_of(r) == "forbidden");
    }
    CHECK(visc.get("/api/v1/learners/" + env.learner_a).status == 403);
    // Bad parameters are 400 naming the parameter; unknown paths and methods as documented.
    auto bad = adm.get("/api/v1/records/learners?limit=0");
    CHECK(bad.status == 400);
    CHECK(json::parse(bad.body)["message"].get<std::string>().find("limit") == 0);
    CHECK(adm.get("/api/v1/records/learners?muncipality=x").status == 400);
    CHECK(adm.get("/api/v1/records/learners?learner=not-a-uuid").status == 400);
    CHECK(adm.get("/api/v1/nothing").status == 404);
    auto wrong_method = adm.post("/api/v1/me", json::object());
    CHECK(wrong_method.status == 405);
    CHECK(wrong_method.header("allow") == "GET");

    // CSV: BOM, Latvian letters intact, formula guard, audited.
    auto csv = ada.get("/api/v1/export/records/learners");
    REQUIRE(csv.status == 200);
    CHECK(csv.header("content-type").find("text/csv") == 0);
    CHECK(csv.header("content-disposition").find("attachment") == 0);
    CHECK(csv.body.rfind("\xEF\xBB\xBF"
                         "id,deleted,updated_at,name,",
                         0) == 0);
    CHECK(csv.body.find("Žanis Ķirsis-Ļūļaņš") != std::string::npos);
    CHECK(csv.body.find("\"'=HYPERLINK(\"\"http://x\"\")\"") != std::string::npos);
    CHECK(csv.body.find("Cēsu skolēns") == std::string::npos);
    auto icsv = visc.get("/api/v1/export/indicators");
    REQUIRE(icsv.status == 200);
    CHECK(icsv.body.rfind("\xEF\xBB\xBF"
                          "indicator,period,group,value,target\r\n",
                          0) == 0);

    // The audit log holds the sign-ins, the views, the refusals and the exports.
    auto log = json::parse(adm.get("/api/v1/audit?limit=500").body);
    std::multiset<std::string> events;
    for (const json& e : log["items"])
        events.insert(e["event"].get<std::string>() + "/" + e["outcome"].get<std::string>());
    CHECK(events.count("sign_in/ok") == 3);
    CHECK(events.count("export/ok") == 2);
    CHECK(events.count("view_learner/ok") == 1);
    CHECK(events.count("view_learner/failed") >= 2);
    CHECK(log.dump().find("Žanis") == std::string::npos);  // ids, never names

    auto v = json::parse(adm.get("/api/v1/audit/verify").body);
    CHECK(v["ok"] == true);
    CHECK(v["entries"].get<int>() >= 10);
    CHECK(admin(env.data, {"verify-audit"})["ok"] == true);

    // Someone edits an entry in coord.db: both the endpoint and the admin command see it.
    tamper(env.dir.file("data/coord.db"), "UPDATE audit SET username='cits' WHERE seq=2");
    auto edited = json::parse(adm.get("/api/v1/audit/verify").body);
    CHECK(edited["ok"] == false);
    CHECK(edited["first_bad_seq"] == 2);
    auto [rc, text] = mstest::admin_raw(env.data, {"verify-audit"});
    CHECK(rc == 1);
    CHECK(json::parse(text)["first_bad_seq"] == 2);
}

TEST_CASE("API and dashboard requests are counted and logged under their own routes",
          "[integration]") {
    Env env;
    Browser b(env.port());
    REQUIRE(b.sign_in("ada", kMuniPw).status == 200);
    REQUIRE(b.get("/api/v1/me").status == 200);
    REQUIRE(b.get("/api/v1/learners/" + env.learner_a).status == 200);
    REQUIRE(b.get("/api/v1/no-such-endpoint").status == 404);
    REQUIRE(b.get("/").status == 200);

    // A request is accounted after its answer is written, so the last ones may still be on
    // their way into the counters when /metrics is read.
    std::string metrics;
    const bool counted = mstest::wait_until(
        [&] {
            metrics = b.get("/metrics").body;
            return metrics.find("route=\"/dashboard\",status=\"200\"} 1\n") != std::string::npos &&
                   metrics.find("route=\"/api/v1\",status=\"404\"} 1\n") != std::string::npos;
        },
        std::chrono::seconds(10));
    INFO(metrics);
    CHECK(counted);
    CHECK_THAT(metrics, Catch::Contains("mentorsync_http_requests_total{route=\"/api/v1\","
                                        "status=\"200\"} 3\n"));
    CHECK_THAT(metrics, !Catch::Contains("route=\"other\""));

    // The log names the API's route template (never the raw path with its id), the
    // dashboard's files one route.
    std::vector<std::string> lines;
    const auto request_lines_with = [&](const std::string& needle) {
        int n = 0;
        for (const std::string& line : lines) {
            if (line.find("\"event\":\"request\"") != std::string::npos &&
                line.find(needle) != std::string::npos)
                ++n;
        }
        return n;
    };
    CHECK(mstest::wait_until(
        [&] {
            lines = env.server->log_lines();
            return request_lines_with("\"route\":\"/dashboard\"") == 1;
        },
        std::chrono::seconds(10)));
    CHECK(request_lines_with("\"route\":\"/api/v1/auth/sign-in\"") == 1);
    CHECK(request_lines_with("\"route\":\"/api/v1/me\"") == 1);
    CHECK(request_lines_with("\"route\":\"/api/v1/learners/{id}\"") == 1);
    CHECK(request_lines_with("\"route\":\"/api/other\"") == 1);
    CHECK(request_lines_with("\"route\":\"other\"") == 0);
    CHECK(request_lines_with(env.learner_a) == 0);
}

TEST_CASE("coordinator API: deleting an audit entry is detected", "[integration]") {
    Env env;
    Browser adm(env.port());
    REQUIRE(adm.sign_in("admin", kAdminPw).status == 200);
    for (int i = 0; i < 3; ++i)
        REQUIRE(adm.get("/api/v1/records/learners").status == 200);
    tamper(env.dir.file("data/coord.db"), "DELETE FROM audit WHERE seq=3");
    auto v = json::parse(adm.get("/api/v1/audit/verify").body);
    CHECK(v["ok"] == false);
    CHECK(v["first_bad_seq"] == 3);
    CHECK(mstest::admin_raw(env.data, {"verify-audit"}).first == 1);
}

TEST_CASE("every path and method of docs/api/openapi.yaml answers as documented", "[integration]") {
    std::ifstream f(MENTORSYNC_SOURCE_DIR "/docs/api/openapi.yaml");
    REQUIRE(f.good());
    const YNode doc = parse_yaml(f);
    const YNode* paths = doc.at("paths");
    const YNode* schemas = doc.at("components") ? doc.at("components")->at("schemas") : nullptr;
    REQUIRE(paths != nullptr);
    REQUIRE(schemas != nullptr);
    REQUIRE(paths->kids.size() >= 16);

    Env env;
    // A token for every call (no cookie, no CSRF), except sign-in which needs none.
    json tok = admin(env.data, {"coord-issue-token", "--username", "admin", "--name", "spec"});
    const std::string bearer = "Bearer " + tok["token"].get<std::string>();
    mstest::HttpClient http(env.port());
    int checked = 0;
    for (const auto& [path, item] : paths->kids) {
        for (const auto& [method, op] : item.kids) {
            if (method != "get" && method != "post") continue;
            std::string target = path;
            auto sub = [&](const std::string& from, const std::string& to) {
                if (auto p = target.find(from); p != std::string::npos)
                    target.replace(p, from.size(), to);
            };
            sub("{collection}", "learners");
            sub("{id}", env.learner_a);
            std::string body;
            mstest::HttpClient::Headers h = {{"Authorization", bearer}};
            if (path == "/api/v1/auth/sign-in") {
                body = json{{"username", "admin"}, {"password", kAdminPw}}.dump();
                h.clear();
            } else if (path == "/api/v1/conflicts/resolve") {
                body = json{{"id", "bm90LWEtY29uZmxpY3Q"}, {"resolution", "keep_winner"}}.dump();
            } else if (method == "post") {
                body = "{}";
            }
            std::string upper = method == "get" ? "GET" : "POST";
            auto r =
                http.request(upper, target, body, method == "post" ? "application/json" : "", h);
            INFO(upper << " " << target << " -> " << r.status << " " << r.body.substr(0, 300));
            const YNode* responses = op.at("responses");
            REQUIRE(responses != nullptr);
            CHECK(responses->at(std::to_string(r.status)) != nullptr);
            CHECK(r.header("x-content-type-options") == "nosniff");
            ++checked;
            if (r.status != 200) continue;
            const YNode* ok = responses->at("200");
            const YNode* content = ok->at("content");
            REQUIRE(content != nullptr);
            if (const YNode* js = content->at("application/json")) {
                CHECK(r.header("content-type").find("application/json") == 0);
                const std::string ref = js->at("schema")->at("$ref")->value;
                const std::string name = ref.substr(ref.rfind('/') + 1);
                const YNode* schema = schemas->at(name);
                REQUIRE(schema != nullptr);
                const json got = json::parse(r.body);
                if (const YNode* req = schema->at("required"))
                    for (const std::string& field : flow_list(req->value)) {
                        INFO("schema " << name << " field " << field);
                        CHECK(got.contains(field));
                    }
            } else {
                CHECK(content->at("text/csv") != nullptr);
                CHECK(r.header("content-type").find("text/csv") == 0);
            }
        }
    }
    CHECK(checked >= 16);
}

TEST_CASE("coordinator API with real tablets: device sync status, and a resolution they pull",
          "[integration]") {
    using namespace mentorsync;
    Env env;
    mstest::Tablet t1(env.dir.file("t1.db"), env.server->url());
    mstest::Tablet t2(env.dir.file("t2.db"), env.server->url());
    t1.enroll(admin(env.data, {"enroll-code", "--user", env.mentor})["code"], "planšete 1");
    t2.enroll(admin(env.data, {"enroll-code", "--user", env.mentor})["code"], "planšete 2");
    t1.sync_ok();
    auto contact = t1.replica().create("contacts", {{"learner_id", env.learner_a},
                                                    {"mentor_id", env.mentor},
                                                    {"starts_at", "2026-10-05T10:00"},
                                                    {"duration_min", 45},
                                                    {"place", "school"},
                                                    {"form", "individual"}});
    REQUIRE(contact.ok());
    t1.sync_ok();
    t2.sync_ok();
    REQUIRE(t1.replica().update("contacts", *contact, {{"duration_min", 50}}).ok());
    REQUIRE(t2.replica().update("contacts", *contact, {{"duration_min", 70}}).ok());
    t1.sync_ok();
    t2.sync_ok();

    Browser adm(env.port()), ada(env.port());
    REQUIRE(adm.sign_in("admin", kAdminPw).status == 200);
    REQUIRE(ada.sign_in("ada", kMuniPw).status == 200);

    // Both devices synced just now; labels and user names are not part of the answer.
    auto devices = adm.get("/api/v1/devices");
    REQUIRE(devices.status == 200);
    const json dj = json::parse(devices.body);
    REQUIRE(dj["items"].size() == 2);
    for (const json& d : dj["items"]) {
        CHECK(d["days_since_sync"] == 0);
        CHECK_FALSE(d["last_sync_at"].is_null());
        CHECK(d["role"] == "mentor");
    }
    CHECK(devices.body.find("planšete") == std::string::npos);
    const json ind = json::parse(adm.get("/api/v1/indicators?school_year=2026/2027").body);
    CHECK(ind["data_quality"]["devices_by_days_since_sync"]["0-1"] == 2);
    CHECK(ind["data_quality"]["open_conflicts"] == 1);

    // The municipality coordinator sees the conflict with both writers, and resolves it.
    auto queue = ada.get("/api/v1/conflicts");
    REQUIRE(queue.status == 200);
    const json items = json::parse(queue.body)["items"];
    REQUIRE(items.size() == 1);
    const json c = items[0];
    CHECK(c["field"] == "duration_min");
    const std::set<std::string> writers = {c["winner"]["device_id"], c["loser"]["device_id"]};
    CHECK(writers == std::set<std::string>{t1.device_id().to_string(), t2.device_id().to_string()});
    const std::int64_t loser = c["loser"]["value"];
    CHECK(ada.post("/api/v1/conflicts/resolve", {{"id", c["id"]}, {"resolution", "take_loser"}}, {},
                   false)
              .status == 403);  // no CSRF token
    auto res =
        ada.post("/api/v1/conflicts/resolve", {{"id", c["id"]}, {"resolution", "take_loser"}});
    INFO(res.body);
    REQUIRE(res.status == 200);
    CHECK(json::parse(ada.get("/api/v1/conflicts").body)["items"].empty());

    // The resolution is a change like any other: both tablets pull it, and their conflicts close.
    for (mstest::Tablet* t : {&t1, &t2}) {
        t->sync_ok();
        auto rec = t->replica().get("contacts", *contact);
        REQUIRE(rec.ok());
        CHECK(rec->fields.at("duration_min") == Value(loser));
        CHECK(t->replica().conflicts(*contact)->empty());
    }
    // And the resolution is in the audit log.
    const json log = json::parse(adm.get("/api/v1/audit").body);
    bool resolved = false;
    for (const json& e : log["items"])
        resolved = resolved || e["event"] == "resolve";
    CHECK(resolved);

    // Data quality from the devices themselves: t1 writes about a learner of the other
    // municipality, which its mentor may not write; the server rejects it, t1 keeps it, and
    // the pull that ends the sync reports it. t2's last pull reported an empty log.
    REQUIRE(t1.replica()
                .create("contacts", {{"learner_id", env.learner_b},
                                     {"mentor_id", env.mentor},
                                     {"starts_at", "2026-10-06T10:00"},
                                     {"duration_min", 30},
                                     {"place", "school"},
                                     {"form", "individual"}})
                .ok());
    t1.sync_ok();
    REQUIRE(t1.session().rejected()->size() == 1);
    const json dq = json::parse(adm.get("/api/v1/indicators?school_year=2026/2027").body);
    INFO(dq["data_quality"].dump());
    CHECK(dq["data_quality"]["rejected_on_server"] == 1);
    CHECK(dq["data_quality"]["devices_not_reporting"] == 0);
    CHECK(dq["data_quality"]["pending_on_devices"] == 0);
    CHECK(dq["data_quality"]["rejected_on_devices"] == 1);
    CHECK(dq["data_quality"]["quarantined_on_devices"] == 0);
    // Parsed into a named value first: a range-for over json::parse(...)["items"] would iterate
    // into a temporary destroyed before the loop body runs.
    const json device_list = json::parse(adm.get("/api/v1/devices").body);
    for (const json& d : device_list["items"]) {
        INFO(d.dump());
        const bool first = d["id"] == t1.device_id().to_string();
        CHECK(d["rejected_by_server"] == (first ? 1 : 0));
        CHECK(d["rejected_on_device"] == (first ? 1 : 0));
        CHECK(d["pending_on_device"] == 0);
        CHECK(d["reported_at"].is_string());
    }
    // The municipality coordinator's export carries the same figure.
    auto csv = ada.get("/api/v1/export/indicators?school_year=2026/2027");
    REQUIRE(csv.status == 200);
    CHECK(csv.body.find("data_quality_rejected_on_server,2026/2027,,1,") != std::string::npos);
}
