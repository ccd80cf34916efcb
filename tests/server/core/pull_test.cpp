// Pull (protocol §8): scopes, paging and resumption, backfill when a learner comes into scope,
// purge when it leaves.
#include "core_fixture.h"

using namespace mstest;

TEST_CASE("a mentor's tablet receives its own learners and never another mentor's", "[server]") {
    CoreFixture f;
    Tablet m1 = f.tablet(f.mentor1);
    Tablet m2 = f.tablet(f.mentor2);
    Tablet staff = f.tablet(f.staff);
    f.pull_all(m1);
    f.pull_all(m2);
    for (int i = 0; i < 3; ++i) {
        REQUIRE(m1.replica->create("contacts", contact_fields(f.learner1)).ok());
        REQUIRE(m2.replica->create("contacts", contact_fields(f.learner2)).ok());
    }
    f.push_pending(m1);
    f.push_pending(m2);

    auto got1 = f.pull_all(m1);
    CHECK(got1.empty());  // its own pushes are not returned
    CHECK(f.learners_of(f.pull_all(m2)) == std::set<Uuid>{});

    Tablet m1b = f.tablet(f.mentor1);  // a second tablet of mentor 1 sees everything of learner1
    auto fresh = f.pull_all(m1b);
    CHECK(f.learners_of(fresh) == std::set<Uuid>{f.learner1});
    // learner, assignment, three contacts
    CHECK(fresh.size() == 5);
    Query q;
    q.collection = "contacts";
    CHECK(CoreFixture::ok(m1b.replica->query(q)).size() == 3);
    CHECK(CoreFixture::ok(m1b.replica->get("learners", f.learner1)).fields.at("name") ==
          Value("Learner One"));

    // Centre staff of mentor 1's centre: learner1 only (learner2's case is another centre's).
    CHECK(f.learners_of(f.pull_all(staff)) == std::set<Uuid>{f.learner1});
}

TEST_CASE("pulls page with limit, resume from the cursor and repeat identically", "[server]") {
    CoreFixture f;
    Tablet writer = f.tablet(f.mentor1);
    for (int i = 0; i < 23; ++i)
        REQUIRE(writer.replica->create("absences", absence_fields(f.learner1)).ok());
    f.push_pending(writer);

    Tablet reader = f.tablet(f.mentor1);
    PullResponse p1 = f.pull(reader, "", 10);
    CHECK(p1.txns.size() == 10);
    CHECK(p1.more);
    PullResponse p1again = f.pull(reader, "", 10);
    CHECK(p1again.txns == p1.txns);
    CHECK(p1again.cursor == p1.cursor);

    PullResponse p2 = f.pull(reader, p1.cursor, 10);
    PullResponse p3 = f.pull(reader, p2.cursor, 10);
    CHECK(p2.txns.size() == 10);
    CHECK(p3.txns.size() == 5);  // 2 admin transactions + 23 absences
    CHECK_FALSE(p3.more);
    // Oldest first, no repeats across pages.
    std::vector<Transaction> all = p1.txns;
    all.insert(all.end(), p2.txns.begin(), p2.txns.end());
    all.insert(all.end(), p3.txns.begin(), p3.txns.end());
    std::set<Stamp> stamps;
    for (const auto& t : all)
        stamps.insert(t.stamp);
    CHECK(stamps.size() == 25);

    PullResponse p4 = f.pull(reader, p3.cursor, 10);
    CHECK(p4.txns.empty());
    CHECK_FALSE(p4.more);
    CHECK(p4.cursor == p3.cursor);

    // Later changes come after the stored cursor.
    REQUIRE(writer.replica->create("absences", absence_fields(f.learner1)).ok());
    f.push_pending(writer);
    CHECK(f.pull(reader, p3.cursor, 10).txns.size() == 1);
}

TEST_CASE("a cursor is refused unless this server issued it to this device", "[server]") {
    CoreFixture f;
    Tablet a = f.tablet(f.mentor1);
    Tablet b = f.tablet(f.mentor1);
    PullResponse p = f.pull(a, "");
    auto stolen = f.service->pull(b.who, p.cursor, 10);
    REQUIRE_FALSE(stolen.ok());
    CHECK(stolen.error.http_status == 400);
    CHECK(stolen.error.code == "bad_request");
    std::string forged = p.cursor;
    forged[3] ^= 1;
    CHECK(f.service->pull(a.who, forged, 10).error.code == "bad_request");
    CHECK(f.service->pull(a.who, std::string(1025, 'x'), 10).error.code == "bad_request");
    CHECK(f.service->pull(a.who, "garbage", 10).error.code == "bad_request");
}

TEST_CASE("a learner newly assigned to a mentor arrives with its full history", "[server]") {
    CoreFixture f;
    Tablet m1 = f.tablet(f.mentor1);
    Tablet m2 = f.tablet(f.mentor2);
    f.pull_all(m1);
    f.pull_all(m2);
    // Mentor 2 writes a history for learner 2 before mentor 1 is involved.
    for (int i = 0; i < 7; ++i)
        REQUIRE(m2.replica->create("absences", absence_fields(f.learner2)).ok());
    REQUIRE(m2.replica->create("contacts", contact_fields(f.learner2, "old note")).ok());
    f.push_pending(m2);
    // Unrelated newer work by mentor 1's other tablet.
    Tablet m1b = f.tablet(f.mentor1);
    f.pull_all(m1b);
    REQUIRE(m1b.replica->create("contacts", contact_fields(f.learner1)).ok());
    f.push_pending(m1b);

    // A second case for learner 2, with mentor 1 (same centre as mentor 2? no: mentor 1's).
    auto moved = CoreFixture::ok(f.admin->assign({f.learner2, f.mentor1, std::nullopt, ""}));
    CHECK(moved.closed.size() == 1);

    // Small pages force the backfill to resume from the cursor.
    auto got = f.pull_all(m1, 3);
    CHECK(f.learners_of(got) == std::set<Uuid>{f.learner1, f.learner2});
    Query q;
    q.collection = "absences";
    q.ref = f.learner2;
    CHECK(CoreFixture::ok(m1.replica->query(q)).size() == 7);
    CHECK(CoreFixture::ok(m1.replica->get("learners", f.learner2)).fields.at("name") ==
          Value("Learner Two"));
    // Every transaction about learner 2 arrived exactly once: learner, two assignments'
    // transactions (the first case, then the move), 8 records.
    std::size_t about2 = 0;
    for (const auto& t : got)
        if (f.learners_of({t}) == std::set<Uuid>{f.learner2}) ++about2;
    CHECK(about2 == 1 + 2 + 8);
}

TEST_CASE(
    "a learner moved to another mentor is purged from the old mentor's tablets until "
    "their cursor passes the move",
    "[server]") {
    CoreFixture f;
    Tablet m1 = f.tablet(f.mentor1);
    REQUIRE(m1.replica->create("contacts", contact_fields(f.learner1)).ok());
    f.push_pending(m1);
    f.pull_all(m1);
    const std::string before_move = m1.cursor;

    REQUIRE(f.admin->assign({f.learner1, f.mentor2, std::nullopt, ""}).ok());
    // Newer work on learner 1 by mentor 2 never reaches mentor 1.
    Tablet m2 = f.tablet(f.mentor2);
    f.pull_all(m2);
    REQUIRE(m2.replica->create("contacts", contact_fields(f.learner1, "after the move")).ok());
    f.push_pending(m2);

    PullResponse p = f.pull(m1, before_move);
    CHECK(p.purge == std::vector<Uuid>{f.learner1});
    CHECK(p.txns.empty());
    // A lost response: the same cursor gives the purge again.
    CHECK(f.pull(m1, before_move).purge == std::vector<Uuid>{f.learner1});
    // A cursor issued after the move: no more purge.
    CHECK(f.pull(m1, p.cursor).purge.empty());

    // Mentor 1 may no longer write about learner 1.
    REQUIRE(m1.replica->create("absences", absence_fields(f.learner1)).ok());
    CHECK(f.push_pending(m1).results.at(0).code == "out_of_scope");

    // Mentor 2 got learner 1's whole history, mentor 1's contact included.
    Query q;
    q.collection = "contacts";
    q.ref = f.learner1;
    CHECK(CoreFixture::ok(m2.replica->query(q)).size() == 2);
}

TEST_CASE(
    "a tablet catching up after a move receives nothing more about the learner, even "
    "what was written before the move",
    "[server]") {
    CoreFixture f;
    Tablet m1 = f.tablet(f.mentor1);
    Tablet other = f.tablet(f.mentor1);
    f.pull_all(m1);
    for (int i = 0; i < 6; ++i)
        REQUIRE(other.replica->create("absences", absence_fields(f.learner1)).ok());
    f.push_pending(other);
    REQUIRE(f.admin->assign({f.learner1, f.mentor2, std::nullopt, ""}).ok());

    // Six absences were written while mentor 1 still had the learner, but it has lost it
    // now: they are not delivered, only the purge.
    PullResponse p = f.pull(m1, m1.cursor, 2);
    CHECK(p.purge == std::vector<Uuid>{f.learner1});
    CHECK(p.txns.empty());
    CHECK_FALSE(p.more);
    CHECK(f.pull(m1, p.cursor, 2).purge.empty());
}

namespace {

Uuid open_case(CoreFixture& f, const Uuid& learner, const Uuid& mentor) {
    for (const AssignmentState& a : CoreFixture::ok(f.store->assignments_of(learner)))
        if (a.mentor == mentor && a.grants_access()) return a.row;
    FAIL("no open case");
    return {};
}

// Closes the mentor's case of the learner, then opens a new one: the learner leaves the
// mentor's scope and comes back.
void close_and_reopen(CoreFixture& f, const Uuid& learner, const Uuid& mentor) {
    REQUIRE(f.admin->close_case({open_case(f, learner, mentor), "other", ""}).ok());
    REQUIRE(f.admin->assign({learner, mentor, std::nullopt, ""}).ok());
}

// Stamps that occur more than once in the transactions.
std::vector<Stamp> repeated(const std::vector<Transaction>& txns) {
    std::map<Stamp, int> count;
    for (const Transaction& t : txns)
        ++count[t.stamp];
    std::vector<Stamp> out;
    for (const auto& [stamp, n] : count)
        if (n > 1) out.push_back(stamp);
    return out;
}

}  // namespace

TEST_CASE(
    "a page from an empty cursor holds each transaction once after a case closed and reopened",
    "[server][pull]") {
    CoreFixture f;
    Tablet writer = f.tablet(f.mentor1);
    f.pull_all(writer);
    REQUIRE(writer.replica->create("absences", absence_fields(f.learner1)).ok());
    f.push_pending(writer);
    close_and_reopen(f, f.learner1, f.mentor1);
    REQUIRE(writer.replica->create("absences", absence_fields(f.learner1, "2026-11-24")).ok());
    f.push_pending(writer);

    Tablet fresh = f.tablet(f.mentor1);
    PullResponse p = f.pull(fresh, "");
    CHECK_FALSE(p.more);
    CHECK(repeated(p.txns).empty());
    // The learner, the first case, an absence, the close, the new case, a second absence.
    CHECK(p.txns.size() == 6);
    REQUIRE(fresh.replica->apply_remote(p.txns).ok());
    Query q;
    q.collection = "absences";
    CHECK(CoreFixture::ok(fresh.replica->query(q)).size() == 2);
}

TEST_CASE(
    "a tablet that kept a learner through a close and reopen receives only what it missed, "
    "not its own pushes",
    "[server][pull]") {
    CoreFixture f;
    const Uuid learner3 = f.add_learner("Learner Three");
    REQUIRE(f.admin->assign({learner3, f.mentor1, std::nullopt, ""}).ok());
    Tablet m1 = f.tablet(f.mentor1);
    f.pull_all(m1);
    REQUIRE(m1.replica->create("absences", absence_fields(f.learner1)).ok());
    f.push_pending(m1);
    const std::size_t before = CoreFixture::ok(f.store->head_seq());

    // The case moves to mentor 2, who writes, and comes back, all between two of m1's pulls;
    // meanwhile another of m1's learners leaves for good, so that pull also lists a purge.
    REQUIRE(f.admin->assign({f.learner1, f.mentor2, std::nullopt, ""}).ok());
    Tablet m2 = f.tablet(f.mentor2);
    f.pull_all(m2);
    REQUIRE(m2.replica->create("contacts", contact_fields(f.learner1, "while away")).ok());
    f.push_pending(m2);
    REQUIRE(f.admin->close_case({open_case(f, learner3, f.mentor1), "other", ""}).ok());
    REQUIRE(f.admin->assign({f.learner1, f.mentor1, std::nullopt, ""}).ok());

    // Small pages: the backfill of what it missed resumes from the cursor.
    CHECK(f.pull(m1, m1.cursor, 1).purge == std::vector<Uuid>{learner3});
    REQUIRE(m1.replica->purge_learner(learner3).ok());
    auto got = f.pull_all(m1, 1);
    CHECK(repeated(got).empty());
    // Only the transactions after its cursor: the move away, mentor 2's contact, the move back.
    for (const Transaction& t : got) {
        bool old = false;
        for (std::int64_t seq = 1; seq <= static_cast<std::int64_t>(before); ++seq)
            if (CoreFixture::ok(f.store->load_txn_meta(seq)).txn.stamp == t.stamp) old = true;
        CHECK_FALSE(old);
    }
    CHECK(got.size() == 3);
    Query q;
    q.collection = "contacts";
    q.ref = f.learner1;
    CHECK(CoreFixture::ok(m1.replica->query(q)).size() == 1);
}

TEST_CASE(
    "a tablet told to purge a learner before its cursor passed the close gets the whole "
    "history back when the learner returns",
    "[server][pull]") {
    CoreFixture f;
    Tablet m1 = f.tablet(f.mentor1);
    Tablet other = f.tablet(f.mentor1);
    // A second learner of mentor 1 whose traffic fills the pages.
    const Uuid learner3 = f.add_learner("Learner Three");
    REQUIRE(f.admin->assign({learner3, f.mentor1, std::nullopt, ""}).ok());
    f.pull_all(other);
    REQUIRE(other.replica->create("absences", absence_fields(f.learner1)).ok());
    f.push_pending(other);
    f.pull_all(m1);
    for (int i = 0; i < 4; ++i)
        REQUIRE(other.replica->create("absences", absence_fields(learner3)).ok());
    f.push_pending(other);
    REQUIRE(f.admin->close_case({open_case(f, f.learner1, f.mentor1), "other", ""}).ok());

    // A page that ends before the close: the purge is listed, the cursor stays before it.
    PullResponse p = f.pull(m1, m1.cursor, 2);
    REQUIRE(p.purge == std::vector<Uuid>{f.learner1});
    REQUIRE(p.more);
    REQUIRE(m1.replica->purge_learner(f.learner1).ok());
    REQUIRE(m1.replica->apply_remote(p.txns).ok());
    m1.cursor = p.cursor;

    // The learner comes back before the tablet's cursor passed the close.
    REQUIRE(f.admin->assign({f.learner1, f.mentor1, std::nullopt, ""}).ok());
    auto got = f.pull_all(m1, 2);
    CHECK(repeated(got).empty());
    CHECK(CoreFixture::ok(m1.replica->get("learners", f.learner1)).fields.at("name") ==
          Value("Learner One"));
    Query q;
    q.collection = "absences";
    q.ref = f.learner1;
    CHECK(CoreFixture::ok(m1.replica->query(q)).size() == 1);
}
