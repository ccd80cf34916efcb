// The merged state (state.db): the server holds the same winners and conflicts as a replica
// that applied the same transactions, heals after a crash between the history commit and the
// state apply, and serves the admin views. Also shared cases and close-case, which move scopes.
#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "cli/admin_cli.h"
#include "core_fixture.h"
#include "wait.h"

using namespace mstest;

namespace {

// Runs the command line with its output captured (kept out of the test log).
int admin_cli(std::vector<std::string> args, std::string* out = nullptr) {
    args.insert(args.begin(), {"mentorsync-server", "admin"});
    std::vector<char*> argv;
    for (auto& a : args)
        argv.push_back(a.data());
    std::ostringstream captured_out, captured_err;
    auto* old_out = std::cout.rdbuf(captured_out.rdbuf());
    auto* old_err = std::cerr.rdbuf(captured_err.rdbuf());
    int rc = run_admin(static_cast<int>(argv.size()), argv.data());
    std::cout.rdbuf(old_out);
    std::cerr.rdbuf(old_err);
    if (out) *out = captured_out.str() + captured_err.str();
    return rc;
}

std::vector<nlohmann::json> json_lines(const std::string& text) {
    std::vector<nlohmann::json> out;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);)
        if (!line.empty()) out.push_back(nlohmann::json::parse(line));
    return out;
}

void check_same_record(const Record& a, const Record& b) {
    INFO(a.collection << " " << a.id.to_string());
    CHECK(a.collection == b.collection);
    CHECK(a.id == b.id);
    CHECK(a.fields == b.fields);
    CHECK(a.stamps == b.stamps);
    CHECK(a.deleted == b.deleted);
    CHECK(a.updated == b.updated);
}

void check_same_conflicts(const std::vector<Conflict>& a, const std::vector<Conflict>& b) {
    REQUIRE(a.size() == b.size());
    for (std::size_t i = 0; i < a.size(); ++i) {
        CHECK(a[i].collection == b[i].collection);
        CHECK(a[i].row == b[i].row);
        CHECK(a[i].field == b[i].field);
        CHECK(a[i].winner_value == b[i].winner_value);
        CHECK(a[i].winner == b[i].winner);
        CHECK(a[i].loser_value == b[i].loser_value);
        CHECK(a[i].loser == b[i].loser);
    }
}

// Every record `replica` holds of `learner`, in every collection of the schema.
std::size_t count_records(Replica& replica, const Uuid& learner) {
    std::size_t n = replica.get("learners", learner).ok() ? 1 : 0;
    for (const CollectionDef& c : Schema::programme().collections()) {
        if (c.name == "learners") continue;
        Query q;
        q.collection = c.name;
        q.ref = learner;
        q.include_deleted = true;
        n += CoreFixture::ok(replica.query(q)).size();
    }
    return n;
}

// The learner's records and conflicts in the server's merged state are exactly `replica`'s.
void check_state_matches(CoreFixture& f, Replica& replica, const Uuid& learner) {
    auto records = CoreFixture::ok(f.admin->learner_records(learner));
    REQUIRE_FALSE(records.empty());
    CHECK(records.size() == count_records(replica, learner));
    for (const Record& r : records)
        check_same_record(r, CoreFixture::ok(replica.get(r.collection, r.id)));
    std::vector<Conflict> theirs;
    for (const Record& r : records) {
        auto c = CoreFixture::ok(replica.conflicts(r.id));
        theirs.insert(theirs.end(), c.begin(), c.end());
    }
    std::sort(theirs.begin(), theirs.end(),
              [](const Conflict& a, const Conflict& b) { return a.row < b.row; });
    check_same_conflicts(CoreFixture::ok(f.admin->conflicts(learner)), theirs);
}

// All history, newest first (reverse arrival order: the merge must not care).
std::vector<Transaction> history_reversed(CoreFixture& f) {
    std::vector<Transaction> out;
    for (std::int64_t seq = CoreFixture::ok(f.store->head_seq()); seq >= 1; --seq)
        out.push_back(CoreFixture::ok(f.store->load_txn(seq)).txn);
    return out;
}

// Two tablets of the learner's mentors edit the same contact's notes without seeing each
// other's edit. Returns the contact's id.
Uuid concurrent_notes(CoreFixture& f, Tablet& a, Tablet& b, const Uuid& learner) {
    f.pull_all(a);
    f.pull_all(b);
    const Uuid contact =
        CoreFixture::ok(a.replica->create("contacts", contact_fields(learner, "first notes")));
    f.push_pending(a);
    f.pull_all(b);
    f.clock->advance(1000);
    REQUIRE(a.replica->update("contacts", contact, {{"notes", "notes by A"}}).ok());
    f.clock->advance(1000);
    REQUIRE(b.replica->update("contacts", contact, {{"notes", "notes by B"}}).ok());
    f.push_pending(a);
    f.push_pending(b);
    f.pull_all(a);
    f.pull_all(b);
    return contact;
}

Uuid open_case_of(CoreFixture& f, const Uuid& learner, const Uuid& mentor) {
    for (const AssignmentState& a : CoreFixture::ok(f.store->assignments_of(learner)))
        if (a.mentor == mentor && a.grants_access()) return a.row;
    FAIL("no open case");
    return {};
}

bool logged_anything_of(const CoreFixture& f, const std::vector<std::string>& secrets) {
    for (const std::string& line : f.logged())
        for (const std::string& s : secrets)
            if (line.find(s) != std::string::npos) return true;
    return false;
}

}  // namespace

TEST_CASE("the server's merged state equals an engine replica that applied the same transactions",
          "[server]") {
    CoreFixture f;
    Tablet a = f.tablet(f.mentor1);
    Tablet b = f.tablet(f.mentor1);
    Tablet c = f.tablet(f.mentor2);
    const Uuid contact = concurrent_notes(f, a, b, f.learner1);
    // More of everything: deletes, a restore, learner edits, another learner's records.
    const Uuid absence = CoreFixture::ok(a.replica->create("absences", absence_fields(f.learner1)));
    REQUIRE(a.replica->update("learners", f.learner1, {{"grade", 9}}).ok());
    f.push_pending(a);
    f.pull_all(b);
    REQUIRE(b.replica->remove("absences", absence).ok());
    REQUIRE(b.replica->remove("contacts", contact).ok());
    REQUIRE(b.replica->restore("contacts", contact).ok());
    f.push_pending(b);
    f.pull_all(c);
    for (int i = 0; i < 3; ++i)
        REQUIRE(c.replica->create("absences", absence_fields(f.learner2)).ok());
    f.push_pending(c);

    // A replica that applied the whole history, in reverse order.
    auto reference = open_replica(f.dir.file("reference.db"), "reference key", f.clock);
    auto report = CoreFixture::ok(reference->apply_remote(history_reversed(f)));
    CHECK(report.rejected.empty());
    CHECK(report.quarantined == 0);
    check_state_matches(f, *reference, f.learner1);
    check_state_matches(f, *reference, f.learner2);
    check_same_conflicts(CoreFixture::ok(f.admin->conflicts()),
                         CoreFixture::ok(reference->conflicts()));
    CHECK(CoreFixture::ok(f.admin->conflicts()).size() == 1);

    // And the tablets that pulled everything hold what the server holds.
    f.pull_all(a);
    check_state_matches(f, *a.replica, f.learner1);
    f.pull_all(c);
    check_state_matches(f, *c.replica, f.learner2);

    CHECK(CoreFixture::ok(f.state->applied_seq()) == CoreFixture::ok(f.store->head_seq()));
    CHECK(f.logged().empty());  // nothing rejected or quarantined, nothing replayed
}

TEST_CASE("a state.db deleted while the server was down is rebuilt from the history at open",
          "[server]") {
    CoreFixture f;
    Tablet a = f.tablet(f.mentor1);
    Tablet b = f.tablet(f.mentor1);
    concurrent_notes(f, a, b, f.learner1);
    const auto records = CoreFixture::ok(f.admin->learner_records(f.learner1));
    const auto conflicts = CoreFixture::ok(f.admin->conflicts());
    REQUIRE(conflicts.size() == 1);

    // The server stops; state.db is lost.
    f.admin.reset();
    f.service.reset();
    f.state.reset();
    const std::string path = f.dir.file("data") + "/state.db";
    for (const char* suffix : {"", "-wal", "-shm"})
        std::filesystem::remove(path + suffix);

    f.state = f.open_state();
    f.admin = std::make_unique<Admin>(f.store, f.state, f.clock);
    CHECK(CoreFixture::ok(f.state->applied_seq()) == CoreFixture::ok(f.store->head_seq()));
    const auto rebuilt = CoreFixture::ok(f.admin->learner_records(f.learner1));
    REQUIRE(rebuilt.size() == records.size());
    for (std::size_t i = 0; i < records.size(); ++i)
        check_same_record(rebuilt[i], records[i]);
    check_same_conflicts(CoreFixture::ok(f.admin->conflicts()), conflicts);
    // One info line, with counts only.
    REQUIRE(f.logged().size() == 1);
    CHECK(f.logged()[0].find("\"event\":\"state_replayed\"") != std::string::npos);
    CHECK_FALSE(logged_anything_of(f, {"notes", "Learner One", "first notes"}));
}

TEST_CASE("history committed without its state apply is applied at the next open or catch-up",
          "[server]") {
    CoreFixture f;
    Tablet a = f.tablet(f.mentor1);
    f.pull_all(a);
    // A service and admin with no merged state: the history moves on, state.db does not, as
    // if the process died right after each history commit.
    SyncServiceImpl stateless(f.store, nullptr, f.clock);
    Admin stateless_admin(f.store, nullptr, f.clock);
    const Uuid contact = CoreFixture::ok(a.replica->create("contacts", contact_fields(f.learner1)));
    auto txns = CoreFixture::ok(a.replica->pending(10));
    REQUIRE(stateless.push(a.who, Uuid::random(), "h", txns).ok());
    const Uuid learner3 = CoreFixture::ok(stateless_admin.add_learner(
        {"Learner Three", 2012, f.school, f.municipality, 7, "general", ""}));
    const auto head = CoreFixture::ok(f.store->head_seq());
    CHECK(CoreFixture::ok(f.state->applied_seq()) == head - 2);

    SECTION("at the next open") {
        f.reopen_state();
        CHECK(CoreFixture::ok(f.state->applied_seq()) == head);
        REQUIRE(f.logged().size() == 1);
        CHECK(nlohmann::json::parse(f.logged()[0]).at("transactions") == 2);
    }
    SECTION("at the next write of the running server") {
        CHECK(CoreFixture::ok(f.admin->assign({learner3, f.mentor2, std::nullopt, ""}))
                  .closed.empty());
        CHECK(CoreFixture::ok(f.state->applied_seq()) == head + 1);
    }
    SECTION("when the apply landed but the applied seq was not recorded") {
        // A crash between apply_remote and set_sync_value: the batch is applied again, as
        // duplicates, and nothing changes.
        REQUIRE(CoreFixture::ok(f.state->catch_up()) == 2);
        REQUIRE(f.state->replica().set_sync_value(MergedState::kAppliedSeqKey, "1").ok());
        CHECK(CoreFixture::ok(f.state->catch_up()) == head - 1);
        CHECK(CoreFixture::ok(f.state->applied_seq()) == head);
        CHECK(f.logged().empty());  // duplicates are not rejections
    }
    auto rec = CoreFixture::ok(f.state->replica().get("contacts", contact));
    CHECK(rec.fields.at("notes") == Value("met after class"));
    // The learner the stateless admin added is there (with its case, in the second section).
    auto three = CoreFixture::ok(f.admin->learner_records(learner3));
    CHECK(std::count_if(three.begin(), three.end(), [&](const Record& r) {
              return r.collection == "learners" && r.id == learner3;
          }) == 1);
}

TEST_CASE("a state.db that is ahead of the history is rebuilt, not trusted", "[server]") {
    CoreFixture f;
    Tablet a = f.tablet(f.mentor1);
    f.pull_all(a);
    REQUIRE(a.replica->create("absences", absence_fields(f.learner1)).ok());
    f.push_pending(a);
    const auto head = CoreFixture::ok(f.store->head_seq());
    // As if server.db had been restored from a backup older than state.db.
    REQUIRE(f.state->replica()
                .set_sync_value(MergedState::kAppliedSeqKey, std::to_string(head + 50))
                .ok());
    f.reopen_state();
    CHECK(CoreFixture::ok(f.state->applied_seq()) == head);
    CHECK(CoreFixture::ok(f.admin->learner_records(f.learner1)).size() == 3);
    REQUIRE_FALSE(f.logged().empty());
    CHECK(f.logged()[0].find("\"event\":\"state_rebuild\"") != std::string::npos);
}

TEST_CASE("a transaction the state quarantines is logged and released into the merge", "[server]") {
    CoreFixture f;
    Tablet a = f.tablet(f.mentor1);
    f.pull_all(a);
    SyncServiceImpl stateless(f.store, nullptr, f.clock);
    const Uuid absence = CoreFixture::ok(a.replica->create("absences", absence_fields(f.learner1)));
    REQUIRE(
        stateless.push(a.who, Uuid::random(), "h", CoreFixture::ok(a.replica->pending(10))).ok());
    // The server's clock is stepped back ten minutes before the state applies it.
    f.clock->advance(-10 * 60 * 1000);
    CHECK(CoreFixture::ok(f.state->catch_up()) == 1);
    CHECK(CoreFixture::ok(f.state->replica().quarantined()).empty());
    CHECK(CoreFixture::ok(f.state->replica().get("absences", absence)).fields.at("lessons") ==
          Value(3));
    REQUIRE(f.logged().size() == 1);
    auto line = nlohmann::json::parse(f.logged()[0]);
    CHECK(line.at("event") == "state_quarantined");
    CHECK(line.at("level") == "warn");
}

TEST_CASE("a transaction the state's schema rejects is logged by seq, stamp and code only",
          "[server]") {
    CoreFixture f;
    Tablet a = f.tablet(f.mentor1);
    f.pull_all(a);
    REQUIRE(a.replica->create("contacts", contact_fields(f.learner1, "secret notes")).ok());
    f.push_pending(a);
    // A state whose schema disagrees with the ledger's: contacts last at most 10 minutes.
    std::vector<CollectionDef> collections = Schema::programme().collections();
    for (CollectionDef& c : collections)
        if (c.name == "contacts")
            for (FieldDef& fd : c.fields)
                if (fd.name == "duration_min") fd.max = 10;
    const Schema strict(Schema::programme().version(), collections);
    std::filesystem::create_directories(f.dir.file("strict"));
    std::vector<std::string> lines;
    MergedStateOptions mo;
    mo.data_dir = f.dir.file("strict");
    mo.clock = f.clock;
    mo.schema = &strict;
    mo.log = [&lines](std::string_view line) { lines.emplace_back(line); };
    auto state = CoreFixture::ok(MergedState::open(f.store, std::move(mo)));
    CHECK(CoreFixture::ok(state->applied_seq()) == CoreFixture::ok(f.store->head_seq()));
    std::vector<nlohmann::json> rejected;
    for (const std::string& l : lines) {
        CHECK(l.find("secret notes") == std::string::npos);
        CHECK(l.find("duration") == std::string::npos);  // not even the reason's text
        auto j = nlohmann::json::parse(l);
        if (j.at("event") == "state_rejected") rejected.push_back(j);
    }
    REQUIRE(rejected.size() == 1);
    CHECK(rejected[0].at("seq") == CoreFixture::ok(f.store->head_seq()));
    CHECK(rejected[0].at("code") == "validation");
}

TEST_CASE(
    "two mentors sharing a learner edit one field concurrently and the server holds the "
    "same single conflict as both tablets",
    "[server]") {
    CoreFixture f;
    auto shared = CoreFixture::ok(
        f.admin->assign({f.learner1, f.mentor2, std::nullopt, "2026-10-01", /*shared=*/true}));
    CHECK(shared.closed.empty());
    CHECK(shared.kept == std::vector<Uuid>{open_case_of(f, f.learner1, f.mentor1)});
    Tablet m1 = f.tablet(f.mentor1);
    Tablet m2 = f.tablet(f.mentor2);
    const Uuid contact = concurrent_notes(f, m1, m2, f.learner1);

    auto server = CoreFixture::ok(f.admin->conflicts(f.learner1));
    REQUIRE(server.size() == 1);
    CHECK(server[0].row == contact);
    CHECK(server[0].field == "notes");
    CHECK(server[0].winner_value == Value("notes by B"));  // the later stamp
    CHECK(server[0].loser_value == Value("notes by A"));
    CHECK(server[0].winner.node == m2.replica->node());
    CHECK(server[0].loser.node == m1.replica->node());
    check_same_conflicts(server, CoreFixture::ok(m1.replica->conflicts()));
    check_same_conflicts(server, CoreFixture::ok(m2.replica->conflicts()));
    CHECK(CoreFixture::ok(f.admin->conflicts(f.learner2)).empty());
    CHECK_FALSE(logged_anything_of(f, {"notes by", "first notes"}));
}

TEST_CASE("a shared assignment keeps both mentors in scope and a plain assign still moves the case",
          "[server]") {
    CoreFixture f;
    Tablet m1 = f.tablet(f.mentor1);
    Tablet m2 = f.tablet(f.mentor2);
    REQUIRE(m1.replica->create("contacts", contact_fields(f.learner1, "before sharing")).ok());
    f.push_pending(m1);
    f.pull_all(m1);
    f.pull_all(m2);
    REQUIRE(f.admin->assign({f.learner1, f.mentor2, std::nullopt, "", true}).ok());

    // Mentor 2 receives learner 1 with its history; mentor 1 loses nothing.
    wire::PullResponse p1 = f.pull(m1, m1.cursor);
    CHECK(p1.purge.empty());
    auto got = f.pull_all(m2);
    CHECK(f.learners_of(got) == std::set<Uuid>{f.learner1});
    Query q;
    q.collection = "contacts";
    q.ref = f.learner1;
    CHECK(CoreFixture::ok(m2.replica->query(q)).size() == 1);
    // Both may write about the learner, and each receives the other's writes.
    REQUIRE(m1.replica->create("absences", absence_fields(f.learner1)).ok());
    REQUIRE(m2.replica->create("absences", absence_fields(f.learner1)).ok());
    CHECK(f.push_pending(m1).results.at(0).kind == wire::PushResult::Kind::accepted);
    CHECK(f.push_pending(m2).results.at(0).kind == wire::PushResult::Kind::accepted);
    q.collection = "absences";
    f.pull_all(m1);
    f.pull_all(m2);
    CHECK(CoreFixture::ok(m1.replica->query(q)).size() == 2);
    CHECK(CoreFixture::ok(m2.replica->query(q)).size() == 2);
    // Sharing again is no change.
    CHECK(CoreFixture::ok(f.admin->assign({f.learner1, f.mentor2, std::nullopt, "", true}))
              .unchanged);

    // A plain assign to mentor 2 moves the case: mentor 1's closes, mentor 2's stays.
    auto moved = CoreFixture::ok(f.admin->assign({f.learner1, f.mentor2, std::nullopt, ""}));
    CHECK(moved.closed.size() == 1);
    CHECK_FALSE(moved.unchanged);
    CHECK(f.pull(m1, m1.cursor).purge == std::vector<Uuid>{f.learner1});
    CHECK(f.pull(m2, m2.cursor).purge.empty());
}

TEST_CASE("closing a case purges the learner from that mentor's tablets only", "[server]") {
    CoreFixture f;
    REQUIRE(f.admin->assign({f.learner1, f.mentor2, std::nullopt, "", true}).ok());
    Tablet m1 = f.tablet(f.mentor1);
    Tablet m2 = f.tablet(f.mentor2);
    Tablet staff = f.tablet(f.staff);  // mentor 1's centre
    f.pull_all(m1);
    f.pull_all(m2);
    f.pull_all(staff);
    const Uuid case1 = open_case_of(f, f.learner1, f.mentor1);

    auto closed = CoreFixture::ok(f.admin->close_case({case1, "goals_met", "2026-12-20"}));
    CHECK(closed.learner == f.learner1);
    CHECK(closed.mentor == f.mentor1);
    CHECK_FALSE(closed.mentor_keeps_learner);
    // Mentor 1 and mentor 1's centre lose the learner; mentor 2 (another centre) keeps it.
    CHECK(f.pull(m1, m1.cursor).purge == std::vector<Uuid>{f.learner1});
    CHECK(f.pull(staff, staff.cursor).purge == std::vector<Uuid>{f.learner1});
    CHECK(f.pull(m2, m2.cursor).purge.empty());
    REQUIRE(m1.replica->create("absences", absence_fields(f.learner1)).ok());
    CHECK(f.push_pending(m1).results.at(0).code == "out_of_scope");
    REQUIRE(m2.replica->create("absences", absence_fields(f.learner1)).ok());
    CHECK(f.push_pending(m2).results.at(0).kind == wire::PushResult::Kind::accepted);

    // The merged state shows the closed case as the tablets of mentor 2 will.
    auto rec = CoreFixture::ok(f.state->replica().get("assignments", case1));
    CHECK(rec.fields.at("status") == Value("closed"));
    CHECK(rec.fields.at("closing_reason") == Value("goals_met"));
    CHECK(rec.fields.at("end_date") == Value("2026-12-20"));
    f.pull_all(m2);
    check_same_record(rec, CoreFixture::ok(m2.replica->get("assignments", case1)));

    // Bad requests change nothing.
    const auto head = CoreFixture::ok(f.store->head_seq());
    CHECK(f.admin->close_case({case1, "other", ""}).status().code() == Code::invalid_argument);
    CHECK(f.admin->close_case({Uuid::random(), "other", ""}).status().code() == Code::not_found);
    const Uuid case2 = open_case_of(f, f.learner1, f.mentor2);
    CHECK(f.admin->close_case({case2, "bored", ""}).status().code() == Code::validation);
    CHECK(f.admin->close_case({case2, "other", "2026-02-30"}).status().code() == Code::validation);
    CHECK(CoreFixture::ok(f.store->head_seq()) == head);
}

TEST_CASE("the admin command line shows a learner's merged records and the open conflicts",
          "[server]") {
    CoreFixture f;
    const std::string data = f.dir.file("data");
    Tablet a = f.tablet(f.mentor1);
    Tablet b = f.tablet(f.mentor1);
    const Uuid contact = concurrent_notes(f, a, b, f.learner1);

    // The command line opens the same data directory beside the running service.
    std::string out;
    REQUIRE(admin_cli({"show-learner", "--data-dir", data, "--learner", f.learner1.to_string()},
                      &out) == 0);
    auto lines = json_lines(out);
    const auto records = CoreFixture::ok(f.admin->learner_records(f.learner1));
    REQUIRE(lines.size() == records.size());
    bool saw_contact = false, saw_learner = false;
    for (const auto& j : lines) {
        CHECK(j.at("learner_id") == f.learner1.to_string());
        if (j.at("id") == contact.to_string()) {
            saw_contact = true;
            CHECK(j.at("collection") == "contacts");
            CHECK(j.at("deleted") == false);
            CHECK(j.at("fields").at("notes") == "notes by B");
            CHECK(j.at("fields").at("duration_min") == 45);
            CHECK(j.at("stamps").at("notes").at("node") == b.replica->node().to_string());
            CHECK(j.at("stamps").at("notes").at("hlc").get<std::string>().size() == 16);
        }
        if (j.at("collection") == "learners") {
            saw_learner = true;
            CHECK(j.at("fields").at("name") == "Learner One");
        }
    }
    CHECK(saw_contact);
    CHECK(saw_learner);

    for (const std::vector<std::string>& args :
         {std::vector<std::string>{"conflicts", "--data-dir", data},
          std::vector<std::string>{"conflicts", "--data-dir", data, "--learner",
                                   f.learner1.to_string()}}) {
        REQUIRE(admin_cli(args, &out) == 0);
        auto c = json_lines(out);
        REQUIRE(c.size() == 1);
        const Conflict expected = CoreFixture::ok(f.admin->conflicts()).at(0);
        CHECK(c[0].at("learner_id") == f.learner1.to_string());
        CHECK(c[0].at("collection") == "contacts");
        CHECK(c[0].at("row") == contact.to_string());
        CHECK(c[0].at("field") == "notes");
        CHECK(c[0].at("winner").at("value") == "notes by B");
        CHECK(c[0].at("winner").at("node") == expected.winner.node.to_string());
        CHECK(c[0].at("loser").at("value") == "notes by A");
        CHECK(c[0].at("loser").at("hlc") ==
              expected.loser.to_string().substr(0, expected.loser.to_string().find('@')));
    }
    REQUIRE(admin_cli({"conflicts", "--data-dir", data, "--learner", f.learner2.to_string()},
                      &out) == 0);
    CHECK(out.empty());

    // Bad input: usage errors exit 2, failures 1.
    CHECK(admin_cli({"show-learner", "--data-dir", data}) == 2);
    CHECK(admin_cli({"show-learner", "--data-dir", data, "--learner", "nope"}) == 2);
    CHECK(admin_cli(
              {"show-learner", "--data-dir", data, "--learner", Uuid::random().to_string()}) == 1);
    CHECK(admin_cli({"show-learner", "--data-dir", data, "--learner", contact.to_string()}) ==
          1);  // a contact, not a learner
    CHECK(admin_cli({"conflicts", "--data-dir", data, "--learner", Uuid::random().to_string()}) ==
          1);
    CHECK(admin_cli({"conflicts", "--data-dir", data, "--shared"}) == 2);
}

TEST_CASE("the admin command line shares a case and closes one", "[server]") {
    CoreFixture f;
    const std::string data = f.dir.file("data");
    std::string out;
    REQUIRE(admin_cli({"assign", "--data-dir", data, "--learner", f.learner1.to_string(),
                       "--mentor", f.mentor2.to_string(), "--shared"},
                      &out) == 0);
    auto j = nlohmann::json::parse(out);
    CHECK(j.at("closed").empty());
    CHECK(j.at("kept").size() == 1);
    const std::string case2 = j.at("assignment_id");
    CHECK(
        CoreFixture::ok(f.store->scope_now({Subject::Kind::mentor, f.mentor1})).count(f.learner1));
    CHECK(
        CoreFixture::ok(f.store->scope_now({Subject::Kind::mentor, f.mentor2})).count(f.learner1));

    CHECK(admin_cli({"assign", "--data-dir", data, "--learner", f.learner1.to_string(), "--mentor",
                     f.mentor2.to_string(), "--shared=yes"}) == 2);
    CHECK(admin_cli({"assign", "--data-dir", data, "--learner", f.learner1.to_string(), "--mentor",
                     f.mentor2.to_string(), "--shared", "--shared"}) == 2);
    CHECK(admin_cli({"close-case", "--data-dir", data}) == 2);
    CHECK(admin_cli({"close-case", "--data-dir", data, "--assignment", "x"}) == 2);
    CHECK(admin_cli(
              {"close-case", "--data-dir", data, "--assignment", case2, "--reason", "bored"}) == 2);
    CHECK(admin_cli(
              {"close-case", "--data-dir", data, "--assignment", Uuid::random().to_string()}) == 1);
    CHECK(admin_cli({"close-case", "--data-dir", data, "--assignment", case2, "--end-date",
                     "2026-02-30"}) == 1);

    REQUIRE(admin_cli(
                {"close-case", "--data-dir", data, "--assignment", case2, "--reason", "moved_away"},
                &out) == 0);
    j = nlohmann::json::parse(out);
    CHECK(j.at("learner_id") == f.learner1.to_string());
    CHECK(j.at("mentor_id") == f.mentor2.to_string());
    CHECK(j.at("mentor_keeps_learner") == false);
    CHECK_FALSE(
        CoreFixture::ok(f.store->scope_now({Subject::Kind::mentor, f.mentor2})).count(f.learner1));
    CHECK(
        CoreFixture::ok(f.store->scope_now({Subject::Kind::mentor, f.mentor1})).count(f.learner1));
    CHECK(admin_cli({"close-case", "--data-dir", data, "--assignment", case2}) == 1);  // closed
    // The command line wrote the history only (state.db is the owner's: f.state here, as the
    // running server's); the owner's applier finds the writes there by itself, within about a
    // second, without a view asking.
    const std::int64_t head = CoreFixture::ok(f.store->head_seq());
    mstest::wait_until([&] { return CoreFixture::ok(f.state->applied_seq()) >= head; },
                       std::chrono::seconds(20));
    REQUIRE(CoreFixture::ok(f.state->applied_seq()) == head);
    auto rec = CoreFixture::ok(f.state->replica().get("assignments", *Uuid::parse(case2)));
    CHECK(rec.fields.at("closing_reason") == Value("moved_away"));
}

TEST_CASE("a damaged state.db stops the server but no admin command, the views included",
          "[server]") {
    TempDir dir;
    const std::string data = dir.file("data");
    REQUIRE(admin_cli({"init", "--data-dir", data}) == 0);
    {
        std::ofstream junk(data + "/state.db", std::ios::binary | std::ios::trunc);
        junk << std::string(8192, 'x');
    }
    for (const char* suffix : {"-wal", "-shm"})
        std::filesystem::remove(data + "/state.db" + suffix);

    ServiceOptions o;
    o.data_dir = data;
    o.create_if_missing = false;
    auto service = open_sync_service(o);
    REQUIRE_FALSE(service.ok());
    CHECK(service.status().code() == Code::corrupt);
    CHECK(service.status().message().find("move it") != std::string::npos);

    // The command line never opens state.db: writes go to the history, views replay it.
    std::string out;
    REQUIRE(admin_cli({"add-municipality", "--data-dir", data, "--name", "Novads"}, &out) == 0);
    CHECK(out.find("state") == std::string::npos);  // no warning about it either
    CHECK(admin_cli({"show-learner", "--data-dir", data, "--learner", Uuid::random().to_string()},
                    &out) == 1);
    CHECK(out.find("no learner") != std::string::npos);
    CHECK(admin_cli({"conflicts", "--data-dir", data}) == 0);
    CHECK(admin_cli({"list-devices", "--data-dir", data}) == 0);
    // Untouched: still the junk it was.
    CHECK(std::filesystem::file_size(data + "/state.db") == 8192);

    // Moved away, it is rebuilt at the next open.
    std::filesystem::rename(data + "/state.db", dir.file("state.db.damaged"));
    REQUIRE(open_sync_service(o).ok());
    CHECK(admin_cli({"conflicts", "--data-dir", data}) == 0);
}

TEST_CASE("state.db has one owner: a second one is refused, in this process or a server",
          "[server][owner]") {
    CoreFixture f;  // f.state owns the data directory's state.db, as a running server would
    const std::string data = f.dir.file("data");
    MergedStateOptions mo;
    mo.data_dir = data;
    auto second = MergedState::open(f.store, mo);
    REQUIRE_FALSE(second.ok());
    CHECK(second.status().code() == Code::io);
    CHECK(second.status().message().find("in use") != std::string::npos);
    ServiceOptions o;
    o.data_dir = data;
    o.create_if_missing = false;
    auto server = open_sync_service(o);
    REQUIRE_FALSE(server.ok());
    CHECK(server.status().message().find("in use") != std::string::npos);
    CHECK_FALSE(Admin::open(data, false).ok());
    // Not the command line: it owns nothing, and works beside the owner.
    CHECK(Admin::open(data, false, {}, {}, /*with_state=*/false).ok());

    // Released with the owner (the fixture's admin and service hold it too).
    f.admin.reset();
    f.service.reset();
    f.state.reset();
    REQUIRE(open_sync_service(o).ok());
    CHECK(MergedState::open(f.store, mo).ok());
}

TEST_CASE("the admin views replay the history and equal the owner's state.db", "[server][owner]") {
    CoreFixture f;
    Tablet a = f.tablet(f.mentor1);
    Tablet b = f.tablet(f.mentor1);
    concurrent_notes(f, a, b, f.learner1);
    REQUIRE(a.replica->create("absences", absence_fields(f.learner1)).ok());
    f.push_pending(a);
    // Without a merged state of its own (the command line's Admin), beside the owner.
    Admin history_only(f.store, nullptr, f.clock);
    const auto owner_records = CoreFixture::ok(f.admin->learner_records(f.learner1));
    const auto replayed = CoreFixture::ok(history_only.learner_records(f.learner1));
    REQUIRE(replayed.size() == owner_records.size());
    for (std::size_t i = 0; i < replayed.size(); ++i) {
        CHECK(replayed[i].id == owner_records[i].id);
        CHECK(replayed[i].fields == owner_records[i].fields);
        CHECK(replayed[i].stamps == owner_records[i].stamps);
    }
    const auto owner_conflicts = CoreFixture::ok(f.admin->conflicts());
    REQUIRE(owner_conflicts.size() == 1);
    for (const auto& view : {CoreFixture::ok(history_only.conflicts()),
                             CoreFixture::ok(history_only.conflicts(f.learner1))}) {
        REQUIRE(view.size() == 1);
        CHECK(view[0].row == owner_conflicts[0].row);
        CHECK(view[0].loser == owner_conflicts[0].loser);
        CHECK(view[0].winner_value == owner_conflicts[0].winner_value);
    }
    CHECK(CoreFixture::ok(history_only.conflicts(f.learner2)).empty());
    CHECK(history_only.learner_records(Uuid::random()).status().code() == Code::not_found);
    // A replay of one learner answers for that learner only.
    auto one = CoreFixture::ok(MergedState::replay(f.store, {}, f.learner1));
    CHECK(one->learner_records(f.learner2).status().code() == Code::invalid_argument);
    CHECK(one->conflicts().status().code() == Code::invalid_argument);
}

TEST_CASE("pushes hand their transactions to the background applier, which applies them in order",
          "[server]") {
    CoreFixture f;
    Tablet a = f.tablet(f.mentor1);
    f.pull_all(a);
    std::vector<Uuid> absences;
    // Several pushes straight through the service (push_pending would drain after each).
    for (int i = 0; i < 5; ++i) {
        absences.push_back(
            CoreFixture::ok(a.replica->create("absences", absence_fields(f.learner1))));
        auto txns = CoreFixture::ok(a.replica->pending(10));
        auto r = f.service->push(a.who, Uuid::random(), "h" + std::to_string(i), txns);
        REQUIRE(r.ok());
        std::vector<Stamp> acked;
        for (const Transaction& t : txns)
            acked.push_back(t.stamp);
        REQUIRE(a.replica->acknowledge(acked).ok());
    }
    f.state->drain();
    CHECK(CoreFixture::ok(f.state->applied_seq()) == CoreFixture::ok(f.store->head_seq()));
    for (const Uuid& id : absences)
        CHECK(CoreFixture::ok(f.state->replica().get("absences", id)).fields.at("lessons") ==
              Value(3));
    CHECK(f.logged().empty());  // nothing failed, nothing replayed
}

TEST_CASE("closing the merged state applies what was handed in first", "[server]") {
    CoreFixture f;
    Tablet a = f.tablet(f.mentor1);
    f.pull_all(a);
    const Uuid absence = CoreFixture::ok(a.replica->create("absences", absence_fields(f.learner1)));
    REQUIRE(
        f.service->push(a.who, Uuid::random(), "h", CoreFixture::ok(a.replica->pending(10))).ok());
    const auto head = CoreFixture::ok(f.store->head_seq());
    // No drain: the destructor stops the applier only once it has applied everything.
    f.reopen_state();
    CHECK(CoreFixture::ok(f.state->applied_seq()) == head);
    CHECK(f.logged().empty());  // no replay at open: it was all applied before the close
    CHECK(CoreFixture::ok(f.state->replica().get("absences", absence)).fields.at("lessons") ==
          Value(3));
}
