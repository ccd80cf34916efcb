#include "server_fixture.h"

#include <stdlib.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>

#include <nlohmann/json.hpp>

#include "core/admin.h"
#include "core/sync_service.h"
#include "mentorsync/replica.h"

namespace mentorsync::fuzz {

namespace {

using namespace mentorsync::server;

[[noreturn]] void setup_failed(const std::string& what) {
    std::fprintf(stderr, "fuzz server setup failed: %s\n", what.c_str());
    std::abort();
}

template <class T>
T ok(Result<T> r, const char* what) {
    if (!r.ok()) setup_failed(std::string(what) + ": " + r.status().to_string());
    return std::move(r).value();
}
void ok(const Status& s, const char* what) {
    if (!s.ok()) setup_failed(std::string(what) + ": " + s.to_string());
}

std::int64_t now_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

std::string make_data_dir() {
    std::string base = "/dev/shm";
    if (access(base.c_str(), W_OK) != 0) {
        const char* tmp = std::getenv("TMPDIR");
        base = tmp != nullptr && *tmp != '\0' ? tmp : "/tmp";
    }
    std::string templ = base + "/mentorsync-fuzz-XXXXXX";
    if (mkdtemp(templ.data()) == nullptr) setup_failed("cannot create a directory in " + base);
    return templ;
}

// The current instance, and its shutdown: the server's background threads (merged-state
// applier, checkpointers) must stop before exit() destroys the static objects they use, such
// as the programme schema.
std::unique_ptr<FuzzServer> g_instance;
void shut_down() {
    if (!g_instance) return;
    const std::string dir = g_instance->data_dir;
    g_instance.reset();
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
}

// A tablet of the mentor: an engine replica and its enrollment, syncing by direct calls.
struct Tablet {
    std::unique_ptr<Replica> replica;
    wire::DeviceKeys keys = wire::DeviceKeys::generate();
    Principal who;
    std::string cursor;

    void pull_all(SyncService& service) {
        for (;;) {
            wire::PullResponse page = ok(service.pull(who, cursor, 500), "pull");
            ok(replica->apply_remote(page.txns), "apply pulled transactions");
            cursor = page.cursor;
            if (!page.more) return;
        }
    }
    void push_pending(SyncService& service) {
        auto txns = ok(replica->pending(1000), "pending");
        wire::PushResponse r =
            ok(service.push(who, Uuid::random(), wire::sha256_hex(Uuid::random().raw()), txns),
               "push");
        std::vector<Stamp> acked;
        for (std::size_t i = 0; i < txns.size(); ++i)
            if (r.results.at(i).kind != wire::PushResult::Kind::rejected)
                acked.push_back(txns[i].stamp);
        ok(replica->acknowledge(acked), "acknowledge");
    }
};

Tablet enroll(SyncService& service, Admin& admin, const Uuid& mentor, const std::string& path,
              const std::string& label) {
    Tablet t;
    OpenOptions o;
    o.path = path;
    o.kdf = KdfParams::insecure_fast_for_tests();
    o.durability = Durability::normal;
    t.replica = ok(Replica::open(o, UnlockKey::passphrase("fuzz tablet passphrase")), "replica");
    const IssuedCode code = ok(admin.issue_enrollment_code(mentor), "enrollment code");
    wire::EnrollRequest rq{code.code, t.keys.public_key, t.replica->node(), label};
    wire::EnrollResponse r = ok(service.enroll(rq), "enroll");
    t.who = Principal{r.device_id, r.user_id, t.replica->node(), *parse_role(r.role)};
    return t;
}

std::string replace_all(std::string s, std::string_view from, std::string_view to) {
    for (std::size_t at = s.find(from); at != std::string::npos; at = s.find(from, at + to.size()))
        s.replace(at, from.size(), to);
    return s;
}

std::unique_ptr<FuzzServer> build() {
    auto fs = std::make_unique<FuzzServer>();
    fs->data_dir = make_data_dir();
    const LogSink quiet = [](std::string_view) {};

    // The organisation, as `mentorsync-server admin` would set it up.
    // Without a merged state of its own, as the admin command line runs: the server core below
    // owns state.db (state.lock) and catches up with what the admin wrote.
    std::unique_ptr<Admin> admin =
        ok(Admin::open(fs->data_dir, true, {}, quiet, /*with_state=*/false), "admin init");
    const Uuid muni = ok(admin->add_municipality("Fuzz novads"), "municipality");
    const Uuid centre =
        ok(admin->add_institution("Fuzz jauniešu centrs", InstitutionKind::youth_centre, muni),
           "centre");
    const Uuid school =
        ok(admin->add_institution("Fuzz skola", InstitutionKind::school, muni), "school");
    const Uuid mentor = ok(admin->add_user(Role::mentor, centre, "Mentore Fuzz"), "mentor");
    std::vector<Uuid> learners;
    for (const char* name : {"Learner Alpha", "Learner \"Beta\", =1+1"}) {
        LearnerInput in;
        in.name = name;
        in.birth_year = 2011;
        in.school_id = school;
        in.municipality_id = muni;
        in.grade = 8;
        in.education = "general";
        learners.push_back(ok(admin->add_learner(in), "learner"));
        ok(admin->assign({learners.back(), mentor, std::nullopt, "2025-09-01"}), "assign");
    }

    // The server as main.cpp builds it.
    ServiceOptions so;
    so.data_dir = fs->data_dir;
    so.log = quiet;
    ServerCore core = ok(open_server_core(so), "sync service");
    fs->state = core.state;
    fs->service = std::move(core.service);
    fs->coord = ok(http::CoordApi::open(fs->data_dir, core.state, false, quiet), "coordinator API");
    // The server's defaults, but no rate limits: the fuzzer is one device and one address
    // sending far more requests than any tablet, and a 429 would hide every handler behind it.
    http::ServerConfig config;
    config.device_rate_per_s = 0;
    config.ip_rate_per_s = 0;
    fs->router = std::make_unique<http::Router>(*fs->service, fs->metrics, config, fs->coord.get());

    // Two tablets of the mentor write records, then edit one contact concurrently.
    Tablet a = enroll(*fs->service, *admin, mentor, fs->data_dir + "/tablet-a.db", "tablet A");
    Tablet b = enroll(*fs->service, *admin, mentor, fs->data_dir + "/tablet-b.db", "tablet B");
    a.pull_all(*fs->service);
    Uuid contact;
    for (const Uuid& learner : learners) {
        contact = ok(a.replica->create("contacts", {{"learner_id", learner.to_string()},
                                                    {"mentor_id", mentor.to_string()},
                                                    {"starts_at", "2025-10-06T14:30"},
                                                    {"duration_min", 45},
                                                    {"place", "school"},
                                                    {"form", "individual"},
                                                    {"topics", Value::List{"learning", "family"}},
                                                    {"notes", "talked, \"calmly\"\r\nabout school"},
                                                    {"risk_flag", true}}),
                     "contact");
        // 24 unjustified lessons: over the escalation threshold of 20.
        for (const char* date : {"2025-10-07", "2025-10-08"})
            ok(a.replica->create("absences", {{"learner_id", learner.to_string()},
                                              {"date", date},
                                              {"lessons", 12},
                                              {"status", "unjustified"},
                                              {"source", "mentor"}}),
               "absence");
    }
    a.push_pending(*fs->service);
    b.pull_all(*fs->service);
    ok(a.replica->update("contacts", contact, {{"notes", "tablet A's notes"}}), "edit on A");
    ok(b.replica->update("contacts", contact, {{"notes", "@tablet B's notes"}}), "edit on B");
    a.push_pending(*fs->service);
    b.push_pending(*fs->service);
    fs->tablet_keys = a.keys;
    fs->tablet_device = a.who.device_id;
    fs->tablet_node = a.replica->node();

    // Coordinators: an admin with a browser session, and a token for each role.
    coord::CoordStore& cs = fs->coord->store();
    const std::string password = "synthetic fuzz password";
    ok(cs.add_account("fuzz-admin", coord::CoordRole::admin, std::nullopt, password), "admin");
    ok(cs.add_account("fuzz-muni", coord::CoordRole::municipality, muni, password), "muni");
    ok(cs.add_account("fuzz-national", coord::CoordRole::national, std::nullopt, password),
       "national");
    const coord::SignInResult signed_in = ok(cs.sign_in("fuzz-admin", password), "sign-in");
    if (signed_in.kind != coord::SignInResult::Kind::ok) setup_failed("sign-in refused");
    const std::string admin_token = ok(cs.issue_token("fuzz-admin", "fuzz", 0), "token").token;
    fs->placeholders = {
        {"@SESSION@", signed_in.session_id},
        {"@CSRF@", signed_in.csrf_token},
        {"@TOKEN_ADMIN@", admin_token},
        {"@TOKEN_MUNI@", ok(cs.issue_token("fuzz-muni", "fuzz", 0), "token").token},
        {"@TOKEN_NATIONAL@", ok(cs.issue_token("fuzz-national", "fuzz", 0), "token").token},
        {"@LEARNER@", learners.front().to_string()},
        {"@MUNI@", muni.to_string()},
        {std::string(FuzzServer::kTabletNode), std::string(fs->tablet_node.raw())},
        {std::string(FuzzServer::kLearnerText), learners.front().to_string()},
        {std::string(FuzzServer::kMentorText), mentor.to_string()},
    };
    http::Request list;
    list.method = "GET";
    list.target = "/api/v1/conflicts";
    list.headers = {{"Authorization", "Bearer " + admin_token}};
    const http::Response conflicts = fs->coord->handle(list);
    const auto j = nlohmann::json::parse(conflicts.body, nullptr, false);
    if (conflicts.status != 200 || j.is_discarded() || !j.contains("items") || j["items"].empty())
        setup_failed("the setup made no conflict: " + conflicts.body.substr(0, 200));
    fs->placeholders.emplace_back("@CONFLICT@", j["items"][0].value("id", ""));
    // Registered after the first setup has made every static object the server uses, so
    // that exit() runs it before destroying them.
    static const bool registered = std::atexit(shut_down) == 0;
    (void)registered;
    return fs;
}

}  // namespace

FuzzServer& FuzzServer::get() {
    // Renewed now and then: audit entries, nonces and accepted pushes pile up with every input,
    // and some views (audit verification) take longer the more there is.
    static std::uint64_t uses = 0;
    if (g_instance && ++uses % kRenewEvery == 0) shut_down();
    if (!g_instance) g_instance = build();
    return *g_instance;
}

std::string FuzzServer::substitute(std::string_view text) const {
    std::string out(text);
    if (out.find('@') == std::string::npos) return out;
    for (const auto& [from, to] : placeholders)
        out = replace_all(std::move(out), from, to);
    return out;
}

void FuzzServer::prepare(server::http::Request& request) {
    request.target = substitute(request.target);
    request.body = substitute(request.body);
    if (request.body.find('@') != std::string::npos) {
        request.body = replace_all(std::move(request.body), kFreshBatch, Uuid::random().raw());
        const auto ms = static_cast<std::uint64_t>(now_ms());
        std::string be(6, '\0');
        for (int i = 0; i < 6; ++i)
            be[static_cast<std::size_t>(i)] = static_cast<char>(ms >> (40 - 8 * i));
        request.body = replace_all(std::move(request.body), kFreshHlcMillis, be);
    }
    for (auto& [name, value] : request.headers) {
        value = substitute(value);
    }
    for (auto& [name, value] : request.headers) {
        if (value != "@SIGN@") continue;
        value = wire::authorization(tablet_keys, request.method, request.target, tablet_device,
                                    now_ms(), Uuid::random().raw(), request.body);
    }
}

}  // namespace mentorsync::fuzz
