// `mentorsync-server admin <command> --data-dir DIR [options]`: the administrators' command line.
// Output is one JSON object per line on stdout; errors are one JSON object on stderr
// ({"ok":false,"error":<code>,"message":...}) after which usage errors also print the usage text.
// Exit codes: 0 done, 1 the command failed, 2 the command line is wrong.
// Names typed here (users, learners) are never echoed back by the commands that write them:
// their output carries ids only. The list and view commands (list-users, list-devices,
// show-learner, conflicts) print names, labels and record values: this is the administrator's
// own tool on the server. None of it ever goes to a log.
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "cli/admin_cli.h"

#include "cli/args.h"
#include "coord/coord_store.h"
#include "core/admin.h"
#include "mentorsync/value_json.h"

namespace mentorsync::server {

namespace {

using nlohmann::json;

constexpr const char* kUsage = R"(usage: mentorsync-server admin <command> --data-dir DIR [options]

commands:
  init                                   create DIR, server.key (mode 0600) and server.db
  add-municipality --name NAME
  add-institution  --name NAME --municipality ID --kind school|youth_centre
  add-user         --role mentor|centre_staff|coordinator|admin --name NAME
                   [--institution ID]    (required for mentor and centre_staff)
  add-learner      --name NAME --birth-year YYYY --school ID --municipality ID
                   --grade N --education general|vocational [--viis-link TEXT]
  assign           --learner ID --mentor USER_ID [--centre INSTITUTION_ID]
                   [--start-date YYYY-MM-DD] [--shared]
                   opens the learner's case with the mentor; an open case with another
                   mentor is closed, so that mentor's devices purge the learner. --shared:
                   co-mentoring, the other mentors' open cases stay and every one of them
                   receives and may edit the learner's records
  close-case       --assignment ID [--reason goals_met|moved_away|left_education|declined|
                   transferred|other] [--end-date YYYY-MM-DD]
                   closes one case (default reason other, end date today); the mentor's
                   devices purge the learner unless another of their cases of it is open
  show-learner     --learner ID          every record of the learner in the merged state:
                   fields, deleted, per-field stamps (record values: keep the output safe)
  conflicts        [--learner ID]        open conflicts: winner and loser values and stamps
  enroll-code      --user USER_ID        prints a one-time code (valid 72 h) once
  revoke-device    --device DEVICE_ID
  list-devices
  list-users
  list-institutions
  list-municipalities

coordinator accounts and the audit log (coord.db, docs/operations.md):
  coord-add-account   --username NAME --role municipality|national|admin
                      [--municipality ID] [--password-stdin]
                      the password (at least 12 characters) comes from the environment
                      variable MENTORSYNC_COORD_PASSWORD, or with --password-stdin from the
                      first line of stdin; never from the command line
  coord-set-password  --username NAME [--password-stdin]   (ends the account's sessions)
  coord-disable       --username NAME     ends its sessions; its tokens stop working
  coord-enable        --username NAME
  coord-list-accounts
  coord-issue-token   --username NAME --name TEXT [--days N]
                      prints an API token once (only its hash is stored); N 0 = no expiry
  coord-revoke-token  --token-id ID
  coord-list-tokens
  verify-audit        re-computes the audit log's hash chain; exit 1 if it is broken

Output: one JSON object per line. Exit codes: 0 ok, 1 failure, 2 usage error.
)";

using cli::Args;
using cli::ArgSpec;

// A command line the commands cannot run: exit 2 with the usage text (every failed Status of
// the Result<int> below is one; a command's own failure is printed and answered 1).
Status usage(std::string message) {
    return Status::invalid_argument(std::move(message));
}

const std::map<std::string, ArgSpec>& commands() {
    static const std::map<std::string, ArgSpec> c = {
        {"init", {{}, {}, {}}},
        {"add-municipality", {{"name"}, {}, {}}},
        {"add-institution", {{"name", "municipality", "kind"}, {}, {}}},
        {"add-user", {{"role", "name"}, {"institution"}, {}}},
        {"add-learner",
         {{"name", "birth-year", "school", "municipality", "grade", "education"},
          {"viis-link"},
          {}}},
        {"assign", {{"learner", "mentor"}, {"centre", "start-date"}, {"shared"}}},
        {"close-case", {{"assignment"}, {"reason", "end-date"}, {}}},
        {"show-learner", {{"learner"}, {}, {}}},
        {"conflicts", {{}, {"learner"}, {}}},
        {"enroll-code", {{"user"}, {}, {}}},
        {"revoke-device", {{"device"}, {}, {}}},
        {"list-devices", {{}, {}, {}}},
        {"list-users", {{}, {}, {}}},
        {"list-institutions", {{}, {}, {}}},
        {"list-municipalities", {{}, {}, {}}},
        {"coord-add-account", {{"username", "role"}, {"municipality"}, {"password-stdin"}}},
        {"coord-set-password", {{"username"}, {}, {"password-stdin"}}},
        {"coord-disable", {{"username"}, {}, {}}},
        {"coord-enable", {{"username"}, {}, {}}},
        {"coord-list-accounts", {{}, {}, {}}},
        {"coord-issue-token", {{"username", "name"}, {"days"}, {}}},
        {"coord-revoke-token", {{"token-id"}, {}, {}}},
        {"coord-list-tokens", {{}, {}, {}}},
        {"verify-audit", {{}, {}, {}}},
    };
    return c;
}

void print(const json& j) {
    std::cout << j.dump() << "\n";
}

int failure(const Status& s) {
    json j{{"ok", false}, {"error", std::string(code_name(s.code()))}, {"message", s.message()}};
    std::cerr << j.dump() << "\n";
    return 1;
}

int usage_error(const std::string& message) {
    json j{{"ok", false}, {"error", "usage"}, {"message", message}};
    std::cerr << j.dump() << "\n" << kUsage;
    return 2;
}

// A stamp as the engine prints it (Stamp::to_string): 16 hex digits of hlc, and the node.
json stamp_json(const Stamp& s) {
    const std::string text = s.to_string();
    return {{"hlc", text.substr(0, text.find('@'))}, {"node", s.node.to_string()}};
}

json record_json(const Uuid& learner, const Record& r) {
    json fields = json::object();
    for (const auto& [name, value] : r.fields)
        fields[name] = value_to_json(value);
    json stamps = json::object();
    for (const auto& [name, stamp] : r.stamps)
        stamps[name] = stamp_json(stamp);
    return {{"learner_id", learner.to_string()},
            {"collection", r.collection},
            {"id", r.id.to_string()},
            {"deleted", r.deleted},
            {"fields", fields},
            {"stamps", stamps},
            {"updated", stamp_json(r.updated)}};
}

json conflict_json(const std::optional<Uuid>& learner, const Conflict& c) {
    json winner = stamp_json(c.winner);
    winner["value"] = value_to_json(c.winner_value);
    json loser = stamp_json(c.loser);
    loser["value"] = value_to_json(c.loser_value);
    return {{"learner_id", learner ? json(learner->to_string()) : json(nullptr)},
            {"collection", c.collection},
            {"row", c.row.to_string()},
            {"field", c.field},
            {"winner", winner},
            {"loser", loser}};
}

// --reason is checked here, like --kind, so a typo is a usage error listing the choices.
Result<std::string> closing_reason(const Args& a) {
    if (!a.has("reason")) return std::string("other");
    const FieldDef* f = Schema::programme().collection("assignments")->field("closing_reason");
    for (const std::string& allowed : f->allowed)
        if (allowed == a.get("reason")) return allowed;
    std::string choices;
    for (const std::string& allowed : f->allowed)
        choices += (choices.empty() ? "" : ", ") + allowed;
    return usage("--reason: expected one of " + choices);
}

json device_json(const Device& d) {
    json j{{"device_id", d.id.to_string()}, {"user_id", d.user.to_string()},
           {"node", d.node.to_string()},    {"label", d.label},
           {"revoked", d.revoked},          {"enrolled_ms", d.enrolled_ms}};
    j["last_seen_ms"] = d.last_seen_ms ? json(*d.last_seen_ms) : json(nullptr);
    return j;
}

// The new password: the environment variable, or the first line of stdin. Never argv, where
// every user of the machine could read it in the process list.
Result<std::string> read_password(const Args& a) {
    std::string pw;
    if (a.has("password-stdin")) {
        if (!std::getline(std::cin, pw)) return usage("--password-stdin: stdin is empty");
        if (!pw.empty() && pw.back() == '\r') pw.pop_back();
    } else if (const char* env = std::getenv("MENTORSYNC_COORD_PASSWORD"); env && *env) {
        pw = env;
    } else {
        return usage("give the password in MENTORSYNC_COORD_PASSWORD or with --password-stdin");
    }
    return pw;
}

json account_json(const coord::Account& acc) {
    return {
        {"account_id", acc.id.to_string()},
        {"username", acc.username},
        {"role", std::string(coord::coord_role_name(acc.role))},
        {"municipality_id", acc.municipality ? json(acc.municipality->to_string()) : json(nullptr)},
        {"created_ms", acc.created_ms},
        {"disabled", acc.disabled}};
}

Result<int> run_coord(const std::string& command, const Args& a) {
    coord::CoordStoreOptions o;
    o.data_dir = a.get("data-dir");
    // The admin tool's own audit log lines would only clutter its JSON output.
    o.log = [](std::string_view) {};
    auto opened = coord::CoordStore::open(o);
    if (!opened.ok()) return failure(opened.status());
    coord::CoordStore& store = **opened;
    if (command == "coord-add-account") {
        auto role = coord::parse_coord_role(a.get("role"));
        if (!role) return usage("--role: expected municipality, national or admin");
        std::optional<Uuid> muni;
        if (a.has("municipality")) {
            MS_ASSIGN_OR_RETURN(muni, a.uuid("municipality"));
            auto admin = Admin::open(
                a.get("data-dir"), false, {}, [](std::string_view) {}, /*with_state=*/false);
            if (!admin.ok()) return failure(admin.status());
            auto m = (*admin)->store().find_municipality(*muni);
            if (!m.ok()) return failure(m.status());
            if (!*m) return failure(Status::not_found("no municipality " + muni->to_string()));
        }
        MS_ASSIGN_OR_RETURN(const std::string password, read_password(a));
        auto acc = store.add_account(a.get("username"), *role, muni, password);
        if (!acc.ok()) return failure(acc.status());
        json j = account_json(*acc);
        j["ok"] = true;
        print(j);
        return 0;
    }
    if (command == "coord-set-password") {
        MS_ASSIGN_OR_RETURN(const std::string password, read_password(a));
        Status st = store.set_password(a.get("username"), password);
        if (!st.ok()) return failure(st);
        print({{"ok", true}, {"username", a.get("username")}});
        return 0;
    }
    if (command == "coord-disable" || command == "coord-enable") {
        Status st = store.set_disabled(a.get("username"), command == "coord-disable");
        if (!st.ok()) return failure(st);
        print({{"ok", true},
               {"username", a.get("username")},
               {"disabled", command == "coord-disable"}});
        return 0;
    }
    if (command == "coord-list-accounts") {
        auto all = store.list_accounts();
        if (!all.ok()) return failure(all.status());
        for (const auto& acc : *all)
            print(account_json(acc));
        return 0;
    }
    if (command == "coord-issue-token") {
        std::int64_t days = 0;
        if (a.has("days")) {
            MS_ASSIGN_OR_RETURN(days, a.integer("days"));
        }
        auto t = store.issue_token(a.get("username"), a.get("name"), days);
        if (!t.ok()) return failure(t.status());
        print({{"ok", true},
               {"token_id", t->info.id},
               {"token", t->token},
               {"expires_ms", t->info.expires_ms ? json(*t->info.expires_ms) : json(nullptr)}});
        return 0;
    }
    if (command == "coord-revoke-token") {
        Status st = store.revoke_token(a.get("token-id"));
        if (!st.ok()) return failure(st);
        print({{"ok", true}, {"token_id", a.get("token-id")}, {"revoked", true}});
        return 0;
    }
    if (command == "coord-list-tokens") {
        auto all = store.list_tokens();
        if (!all.ok()) return failure(all.status());
        for (const auto& t : *all) {
            auto opt = [](const std::optional<std::int64_t>& v) {
                return v ? json(*v) : json(nullptr);
            };
            print({{"token_id", t.id},
                   {"account_id", t.account.to_string()},
                   {"name", t.name},
                   {"created_ms", t.created_ms},
                   {"expires_ms", opt(t.expires_ms)},
                   {"revoked_ms", opt(t.revoked_ms)},
                   {"last_used_ms", opt(t.last_used_ms)}});
        }
        return 0;
    }
    if (command == "verify-audit") {
        auto v = store.verify_audit();
        if (!v.ok()) return failure(v.status());
        print({{"ok", v->ok},
               {"entries", v->entries},
               {"head_hash", v->head_hash.empty() ? json(nullptr) : json(v->head_hash)},
               {"first_bad_seq", v->first_bad_seq ? json(*v->first_bad_seq) : json(nullptr)},
               {"problem", v->problem.empty() ? json(nullptr) : json(v->problem)}});
        return v->ok ? 0 : 1;
    }
    return usage_error("unknown command '" + command + "'");
}

Result<int> run(const std::string& command, const Args& a) {
    if (command.rfind("coord-", 0) == 0 || command == "verify-audit") return run_coord(command, a);
    const bool create = command == "init";
    // The command line never opens state.db: it belongs to the running server (or to the next
    // one to start), which applies what is written here from the history. Writes go to the
    // history only; the views replay it in memory (Admin without a merged state). So every
    // command works beside a running server, beside other admin commands, and with a damaged
    // state.db.
    auto opened = Admin::open(a.get("data-dir"), create, {}, {}, /*with_state=*/false);
    if (!opened.ok()) return failure(opened.status());
    Admin& admin = **opened;

    if (command == "init") {
        print({{"ok", true},
               {"data_dir", a.get("data-dir")},
               {"server_node", admin.store().server_node().to_string()}});
        return 0;
    }
    if (command == "add-municipality") {
        auto id = admin.add_municipality(a.get("name"));
        if (!id.ok()) return failure(id.status());
        print({{"ok", true}, {"municipality_id", id->to_string()}});
        return 0;
    }
    if (command == "add-institution") {
        auto kind = parse_institution_kind(a.get("kind"));
        if (!kind) return usage("--kind: expected school or youth_centre");
        MS_ASSIGN_OR_RETURN(const Uuid municipality, a.uuid("municipality"));
        auto id = admin.add_institution(a.get("name"), *kind, municipality);
        if (!id.ok()) return failure(id.status());
        print({{"ok", true}, {"institution_id", id->to_string()}});
        return 0;
    }
    if (command == "add-user") {
        auto role = parse_role(a.get("role"));
        if (!role) return usage("--role: expected mentor, centre_staff, coordinator or admin");
        std::optional<Uuid> inst;
        if (a.has("institution")) {
            MS_ASSIGN_OR_RETURN(inst, a.uuid("institution"));
        }
        auto id = admin.add_user(*role, inst, a.get("name"));
        if (!id.ok()) return failure(id.status());
        print({{"ok", true}, {"user_id", id->to_string()}, {"role", a.get("role")}});
        return 0;
    }
    if (command == "add-learner") {
        LearnerInput in;
        in.name = a.get("name");
        MS_ASSIGN_OR_RETURN(in.birth_year, a.integer("birth-year"));
        MS_ASSIGN_OR_RETURN(in.school_id, a.uuid("school"));
        MS_ASSIGN_OR_RETURN(in.municipality_id, a.uuid("municipality"));
        MS_ASSIGN_OR_RETURN(in.grade, a.integer("grade"));
        in.education = a.get("education");
        if (a.has("viis-link")) in.viis_link = a.get("viis-link");
        auto id = admin.add_learner(in);
        if (!id.ok()) return failure(id.status());
        print({{"ok", true}, {"learner_id", id->to_string()}});
        return 0;
    }
    if (command == "assign") {
        AssignInput in;
        MS_ASSIGN_OR_RETURN(in.learner, a.uuid("learner"));
        MS_ASSIGN_OR_RETURN(in.mentor, a.uuid("mentor"));
        if (a.has("centre")) {
            MS_ASSIGN_OR_RETURN(in.centre, a.uuid("centre"));
        }
        if (a.has("start-date")) in.start_date = a.get("start-date");
        in.shared = a.has("shared");
        auto r = admin.assign(in);
        if (!r.ok()) return failure(r.status());
        json closed = json::array(), kept = json::array();
        for (const Uuid& c : r->closed)
            closed.push_back(c.to_string());
        for (const Uuid& c : r->kept)
            kept.push_back(c.to_string());
        print({{"ok", true},
               {"assignment_id", r->assignment.to_string()},
               {"closed", closed},
               {"kept", kept},
               {"unchanged", r->unchanged}});
        return 0;
    }
    if (command == "close-case") {
        CloseCaseInput in;
        MS_ASSIGN_OR_RETURN(in.assignment, a.uuid("assignment"));
        MS_ASSIGN_OR_RETURN(in.reason, closing_reason(a));
        if (a.has("end-date")) in.end_date = a.get("end-date");
        auto r = admin.close_case(in);
        if (!r.ok()) return failure(r.status());
        print({{"ok", true},
               {"assignment_id", in.assignment.to_string()},
               {"learner_id", r->learner.to_string()},
               {"mentor_id", r->mentor.to_string()},
               {"mentor_keeps_learner", r->mentor_keeps_learner}});
        return 0;
    }
    if (command == "show-learner") {
        MS_ASSIGN_OR_RETURN(const Uuid learner, a.uuid("learner"));
        auto records = admin.learner_records(learner);
        if (!records.ok()) return failure(records.status());
        for (const Record& r : *records)
            print(record_json(learner, r));
        return 0;
    }
    if (command == "conflicts") {
        std::optional<Uuid> learner;
        if (a.has("learner")) {
            MS_ASSIGN_OR_RETURN(learner, a.uuid("learner"));
        }
        auto all = admin.conflicts(learner);
        if (!all.ok()) return failure(all.status());
        for (const Conflict& c : *all) {
            std::optional<Uuid> of = learner;
            if (!of) {
                auto row = admin.store().find_row(c.row);
                if (!row.ok()) return failure(row.status());
                if (*row) of = (*row)->learner;
            }
            print(conflict_json(of, c));
        }
        return 0;
    }
    if (command == "enroll-code") {
        MS_ASSIGN_OR_RETURN(const Uuid user, a.uuid("user"));
        auto r = admin.issue_enrollment_code(user);
        if (!r.ok()) return failure(r.status());
        print({{"ok", true},
               {"code", r->code},
               {"user_id", r->user.to_string()},
               {"expires_ms", r->expires_ms}});
        return 0;
    }
    if (command == "revoke-device") {
        MS_ASSIGN_OR_RETURN(const Uuid device, a.uuid("device"));
        Status s = admin.revoke_device(device);
        if (!s.ok()) return failure(s);
        print({{"ok", true}, {"device_id", a.get("device")}, {"revoked", true}});
        return 0;
    }
    if (command == "list-devices") {
        auto all = admin.list_devices();
        if (!all.ok()) return failure(all.status());
        for (const Device& d : *all)
            print(device_json(d));
        return 0;
    }
    if (command == "list-users") {
        auto all = admin.store().list_users();
        if (!all.ok()) return failure(all.status());
        for (const User& u : *all) {
            json j{{"user_id", u.id.to_string()},
                   {"role", std::string(role_name(u.role))},
                   {"name", u.display_name}};
            j["institution_id"] = u.institution ? json(u.institution->to_string()) : json(nullptr);
            print(j);
        }
        return 0;
    }
    if (command == "list-institutions") {
        auto all = admin.store().list_institutions();
        if (!all.ok()) return failure(all.status());
        for (const Institution& i : *all)
            print({{"institution_id", i.id.to_string()},
                   {"municipality_id", i.municipality.to_string()},
                   {"kind", std::string(institution_kind_name(i.kind))},
                   {"name", i.name}});
        return 0;
    }
    if (command == "list-municipalities") {
        auto all = admin.store().list_municipalities();
        if (!all.ok()) return failure(all.status());
        for (const Municipality& m : *all)
            print({{"municipality_id", m.id.to_string()}, {"name", m.name}});
        return 0;
    }
    return usage_error("unknown command '" + command + "'");
}

}  // namespace

std::vector<std::string> admin_command_names() {
    std::vector<std::string> out;
    for (const auto& [name, spec] : commands())
        out.push_back(name);
    return out;
}

int run_admin(int argc, char** argv) {
    std::vector<std::string> words(argv + std::min(argc, 1), argv + argc);
    if (!words.empty() && words.front() == "admin") words.erase(words.begin());
    if (words.empty()) return usage_error("no command given");
    const std::string command = words.front();
    if (command == "help" || command == "--help" || command == "-h") {
        std::cout << kUsage;
        return 0;
    }
    auto it = commands().find(command);
    if (it == commands().end()) return usage_error("unknown command '" + command + "'");
    try {
        auto args =
            Args::parse(it->second, std::vector<std::string>(words.begin() + 1, words.end()));
        if (!args.ok()) return usage_error(args.status().message());
        auto rc = run(command, *args);
        return rc.ok() ? *rc : usage_error(rc.status().message());
    } catch (const std::exception& e) {
        // Not a path any command means to take (e.g. out of memory): a failure, never a crash.
        return failure(Status::internal(e.what()));
    }
}

}  // namespace mentorsync::server
