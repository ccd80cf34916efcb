// End-to-end: the real server binary on loopback, tablets with their own encrypted replicas
// syncing through SyncSession and the built-in HTTP transport.
#include <catch2/catch.hpp>
#include <chrono>
#include <cstdio>
#include <thread>

#include "server_process.h"
#include "test_support.h"
#include "wait.h"

using namespace mentorsync;
using mstest::admin;

namespace {

// One municipality, one youth centre, two mentors and a centre staff member, each with an
// enrollment code; learners assigned as each test needs.
struct Programme {
    mstest::TempDir dir;
    std::string data = dir.file("server");
    std::string municipality, centre, mentor_a, mentor_b, staff;

    Programme() {
        admin(data, {"init"});
        municipality =
            admin(data, {"add-municipality", "--name", "Testa novads"})["municipality_id"];
        centre = admin(data, {"add-institution", "--name", "Jauniešu centrs", "--municipality",
                              municipality, "--kind", "youth_centre"})["institution_id"];
        mentor_a = admin(data, {"add-user", "--role", "mentor", "--name", "Mentore A",
                                "--institution", centre})["user_id"];
        mentor_b = admin(data, {"add-user", "--role", "mentor", "--name", "Mentors B",
                                "--institution", centre})["user_id"];
        staff = admin(data, {"add-user", "--role", "centre_staff", "--name", "Darbiniece C",
                             "--institution", centre})["user_id"];
    }
    std::string learner(const std::string& name) {
        return admin(data, {"add-learner", "--name", name, "--birth-year", "2011", "--school",
                            centre, "--municipality", municipality, "--grade", "8", "--education",
                            "general"})["learner_id"];
    }
    void assign(const std::string& learner, const std::string& mentor,
                std::vector<std::string> extra = {}) {
        std::vector<std::string> args = {"assign", "--learner", learner, "--mentor", mentor};
        args.insert(args.end(), extra.begin(), extra.end());
        admin(data, args);
    }
    std::string code(const std::string& user) {
        return admin(data, {"enroll-code", "--user", user})["code"];
    }
};

Fields absence(const std::string& learner, const std::string& date) {
    return {{"learner_id", learner},
            {"date", date},
            {"lessons", 2},
            {"status", "unjustified"},
            {"source", "mentor"}};
}

std::vector<Record> records_of(Replica& r, const std::string& learner) {
    std::vector<Record> out;
    for (auto& rec : mstest::all_records(r)) {
        auto it = rec.fields.find("learner_id");
        bool mine = rec.collection == "learners"
                        ? rec.id.to_string() == learner
                        : it != rec.fields.end() && it->second == Value(learner);
        if (mine) out.push_back(std::move(rec));
    }
    return out;
}

void same_records(const std::vector<Record>& a, const std::vector<Record>& b) {
    REQUIRE(a.size() == b.size());
    for (std::size_t i = 0; i < a.size(); ++i) {
        CHECK(a[i].id == b[i].id);
        CHECK(a[i].fields == b[i].fields);
        CHECK(a[i].stamps == b[i].stamps);
        CHECK(a[i].deleted == b[i].deleted);
    }
}

}  // namespace

TEST_CASE("three tablets work offline, sync, and end with identical records", "[integration]") {
    Programme p;
    std::string l1 = p.learner("Skolniece Viena");
    std::string l2 = p.learner("Skolnieks Otrs");
    p.assign(l1, p.mentor_a);
    p.assign(l2, p.mentor_b);
    mstest::ServerProcess server(p.data);

    mstest::Tablet a(p.dir.file("a.db"), server.url());
    mstest::Tablet b(p.dir.file("b.db"), server.url());
    mstest::Tablet c(p.dir.file("c.db"), server.url());
    a.enroll(p.code(p.mentor_a), "A tablet");
    b.enroll(p.code(p.mentor_b), "B tablet");
    c.enroll(p.code(p.staff), "centre tablet");
    // First sync: each tablet receives its learners.
    for (auto* t : {&a, &b, &c})
        t->sync_ok();
    CHECK(records_of(a.replica(), l1).size() == 2);  // the learner and the assignment
    CHECK(records_of(a.replica(), l2).empty());      // another mentor's learner: never sent

    // A day offline.
    REQUIRE(a.replica().create("absences", absence(l1, "2026-11-23")).ok());
    REQUIRE(a.replica().create("absences", absence(l1, "2026-11-24")).ok());
    REQUIRE(b.replica().create("absences", absence(l2, "2026-11-23")).ok());
    REQUIRE(c.replica().create("absences", absence(l1, "2026-11-25")).ok());
    REQUIRE(c.replica().create("absences", absence(l2, "2026-11-25")).ok());

    // End of day: everyone syncs, then once more to pick up what the others sent.
    for (int round = 0; round < 2; ++round)
        for (auto* t : {&a, &b, &c})
            t->sync_ok();

    for (auto* t : {&a, &b, &c})
        CHECK(t->replica().status()->pending_transactions == 0);
    same_records(records_of(a.replica(), l1), records_of(c.replica(), l1));
    same_records(records_of(b.replica(), l2), records_of(c.replica(), l2));
    CHECK(records_of(a.replica(), l1).size() == 5);
    CHECK(records_of(b.replica(), l2).size() == 4);
    CHECK(records_of(a.replica(), l2).empty());
    CHECK(records_of(b.replica(), l1).empty());

    // The merged state applies pushes in the background; /metrics shows it catching up.
    client::HttpTransport plain(*client::Endpoint::parse(server.url()));
    std::string lag_line;
    mstest::wait_until(
        [&] {
            auto m = plain.send(HttpRequest{"GET", "/metrics", {}, {}});
            REQUIRE(m.ok());
            const auto at = m->body.find("\nmentorsync_state_lag_transactions ");
            REQUIRE(at != std::string::npos);
            lag_line = m->body.substr(at + 1, m->body.find('\n', at + 1) - at - 1);
            return lag_line == "mentorsync_state_lag_transactions 0";
        },
        std::chrono::seconds(5));
    CHECK(lag_line == "mentorsync_state_lag_transactions 0");
    CHECK(server.stop() == 0);
}

TEST_CASE("a write about another mentor's learner is rejected and stays local",
          "[integration][scope]") {
    Programme p;
    std::string l1 = p.learner("Skolniece Viena");
    std::string l2 = p.learner("Skolnieks Otrs");
    p.assign(l1, p.mentor_a);
    p.assign(l2, p.mentor_b);
    mstest::ServerProcess server(p.data);
    mstest::Tablet a(p.dir.file("a.db"), server.url());
    a.enroll(p.code(p.mentor_a), "A tablet");
    a.sync_ok();
    // A knows the other learner's id (say from a paper list) and logs an absence for them.
    REQUIRE(a.replica().create("absences", absence(l2, "2026-11-23")).ok());
    auto progress = a.sync_ok();
    CHECK(progress.rejected == 1);
    auto rejected = a.session().rejected();
    REQUIRE(rejected.ok());
    REQUIRE(rejected->size() == 1);
    CHECK((*rejected)[0].code == "out_of_scope");

    mstest::Tablet b(p.dir.file("b.db"), server.url());
    b.enroll(p.code(p.mentor_b), "B tablet");
    b.sync_ok();
    CHECK(records_of(b.replica(), l2).size() == 2);  // the learner and the assignment only
}

TEST_CASE("a day of 200 edits goes up in one push whose answer the tablet reads",
          "[integration][sync]") {
    // 200 is a tablet's default push batch; the answer holds one byte per accepted transaction,
    // denser than the request value bound (which answers were once wrongly held to).
    Programme p;
    std::string l1 = p.learner("Skolniece Viena");
    p.assign(l1, p.mentor_a);
    mstest::ServerProcess server(p.data);
    mstest::Tablet a(p.dir.file("a.db"), server.url());
    a.enroll(p.code(p.mentor_a), "A tablet");
    a.sync_ok();
    for (int i = 0; i < 200; ++i) {
        char date[16];  // "2026-MM-DD"; GCC at -O1 cannot bound the fields
        std::snprintf(date, sizeof date, "2026-%02d-%02d", 9 + i / 28 % 4, 1 + i % 28);
        REQUIRE(a.replica().create("absences", absence(l1, date)).ok());
    }
    auto progress = a.sync_ok();
    CHECK(progress.rejected == 0);
    CHECK(progress.acked == 200);
    CHECK(a.replica().status()->pending_transactions == 0);

    mstest::Tablet b(p.dir.file("b.db"), server.url());
    b.enroll(p.code(p.mentor_a), "A's second tablet");
    b.sync_ok();
    CHECK(records_of(b.replica(), l1).size() == 202);  // the learner, the assignment, 200 absences
}

TEST_CASE("moving a learner purges them from the old mentor's tablet and backfills the new one",
          "[integration][scope]") {
    Programme p;
    std::string l1 = p.learner("Skolniece Viena");
    p.assign(l1, p.mentor_a);
    mstest::ServerProcess server(p.data);
    mstest::Tablet a(p.dir.file("a.db"), server.url());
    mstest::Tablet b(p.dir.file("b.db"), server.url());
    a.enroll(p.code(p.mentor_a), "A tablet");
    b.enroll(p.code(p.mentor_b), "B tablet");
    a.sync_ok();
    for (int d = 1; d <= 5; ++d)
        REQUIRE(a.replica().create("absences", absence(l1, "2026-11-0" + std::to_string(d))).ok());
    a.sync_ok();
    b.sync_ok();
    CHECK(records_of(b.replica(), l1).empty());

    p.assign(l1, p.mentor_b);  // the case moves to mentor B
    auto pa = a.sync_ok();
    CHECK(pa.learners_purged == 1);
    CHECK(records_of(a.replica(), l1).empty());
    CHECK(a.replica().status()->records == 0);

    b.sync_ok();
    // B gets the learner's full history: learner, both assignments (old closed, new open) and
    // the five absences A logged before the move.
    auto got = records_of(b.replica(), l1);
    CHECK(got.size() == 8);
    CHECK(server.stop() == 0);
}

TEST_CASE("two mentors sharing a learner edit the same field: tablets and server agree",
          "[integration][conflict]") {
    Programme p;
    std::string l1 = p.learner("Kopīga Skolniece");
    p.assign(l1, p.mentor_a);
    p.assign(l1, p.mentor_b, {"--shared"});
    mstest::ServerProcess server(p.data);
    mstest::Tablet a(p.dir.file("a.db"), server.url());
    mstest::Tablet b(p.dir.file("b.db"), server.url());
    a.enroll(p.code(p.mentor_a), "A tablet");
    b.enroll(p.code(p.mentor_b), "B tablet");
    a.sync_ok();
    Fields contact = {
        {"learner_id", l1},   {"mentor_id", p.mentor_a}, {"starts_at", "2026-11-23T15:00"},
        {"duration_min", 45}, {"place", "youth_centre"}, {"form", "individual"}};
    auto id = a.replica().create("contacts", contact);
    REQUIRE(id.ok());
    a.sync_ok();
    b.sync_ok();
    REQUIRE(b.replica().get("contacts", *id).ok());

    // Both offline, both change the next steps.
    REQUIRE(a.replica().update("contacts", *id, {{"next_steps", "call the parents"}}).ok());
    REQUIRE(b.replica().update("contacts", *id, {{"next_steps", "meet the class teacher"}}).ok());
    a.sync_ok();
    b.sync_ok();
    a.sync_ok();

    auto ra = *a.replica().get("contacts", *id);
    auto rb = *b.replica().get("contacts", *id);
    CHECK(ra.fields == rb.fields);
    CHECK(ra.stamps == rb.stamps);
    auto ca = *a.replica().conflicts();
    auto cb = *b.replica().conflicts();
    REQUIRE(ca.size() == 1);
    REQUIRE(cb.size() == 1);
    CHECK(ca[0].loser == cb[0].loser);

    // The server's merged state holds the same winner and the same conflict record.
    auto server_conflict = admin(p.data, {"conflicts", "--learner", l1});
    CHECK(server_conflict["row"] == id->to_string());
    CHECK(server_conflict["field"] == "next_steps");
    CHECK(server_conflict["winner"]["value"] == ca[0].winner_value.as_string());
    CHECK(server_conflict["loser"]["value"] == ca[0].loser_value.as_string());
    CHECK(server_conflict["loser"]["node"] == ca[0].loser.node.to_string());
    CHECK(server_conflict["winner"]["node"] == ca[0].winner.node.to_string());
    CHECK(server.stop() == 0);
}

TEST_CASE(
    "a tablet whose clock ran ten years ahead delivers its edit once the clock is right, "
    "and a later honest edit wins on both tablets and the server",
    "[integration][clock]") {
    constexpr std::int64_t kTenYears = 10LL * 365 * 86'400'000;
    Programme p;
    std::string l1 = p.learner("Kopīga Skolniece");
    p.assign(l1, p.mentor_a);
    p.assign(l1, p.mentor_b, {"--shared"});
    mstest::ServerProcess server(p.data);
    auto a_clock = std::make_shared<ManualClock>(SystemClock::shared()->now_ms());
    mstest::Tablet a(p.dir.file("a.db"), server.url(), {}, a_clock);
    mstest::Tablet b(p.dir.file("b.db"), server.url());
    a.enroll(p.code(p.mentor_a), "A tablet");
    b.enroll(p.code(p.mentor_b), "B tablet");
    a.sync_ok();
    Fields contact = {
        {"learner_id", l1},   {"mentor_id", p.mentor_a}, {"starts_at", "2026-11-23T15:00"},
        {"duration_min", 45}, {"place", "youth_centre"}, {"form", "individual"}};
    auto id = a.replica().create("contacts", contact);
    REQUIRE(id.ok());
    a.sync_ok();
    b.sync_ok();

    // A's clock jumps ten years ahead; the mentor changes the next steps; A cannot sync.
    a_clock->advance(kTenYears);
    REQUIRE(a.replica().update("contacts", *id, {{"next_steps", "from the fast tablet"}}).ok());
    auto refused = a.sync();
    REQUIRE_FALSE(refused.ok());
    CHECK(refused.status().message().find("10 years ahead of the server's") != std::string::npos);
    // Later, B (clock right) changes them too.
    REQUIRE(b.replica().update("contacts", *id, {{"next_steps", "from the honest tablet"}}).ok());
    b.sync_ok();

    // A's clock is set right: the server refuses A's stamp, A re-dates and resends it.
    a_clock->set(SystemClock::shared()->now_ms());
    auto pa = a.sync_ok();
    CHECK(pa.redated == 1);
    CHECK(pa.rejected == 0);
    CHECK(a.replica().status()->pending_transactions == 0);
    b.sync_ok();

    auto ra = *a.replica().get("contacts", *id);
    auto rb = *b.replica().get("contacts", *id);
    CHECK(ra.fields.at("next_steps") == Value("from the honest tablet"));
    CHECK(ra.fields == rb.fields);
    CHECK(ra.stamps == rb.stamps);
    auto ca = *a.replica().conflicts();
    auto cb = *b.replica().conflicts();
    REQUIRE(ca.size() == 1);
    REQUIRE(cb.size() == 1);
    CHECK(ca[0].loser == cb[0].loser);
    CHECK(ca[0].loser_value == Value("from the fast tablet"));
    CHECK(ca[0].loser.millis() <= static_cast<std::uint64_t>(a_clock->now_ms()));
    auto server_conflict = admin(p.data, {"conflicts", "--learner", l1});
    CHECK(server_conflict["winner"]["value"] == "from the honest tablet");
    CHECK(server_conflict["loser"]["value"] == "from the fast tablet");
    CHECK(server.stop() == 0);
}
