// Replica: keys and lockout, local writes, reads, merge and conflicts, quarantine, observers.
#include <catch2/catch.hpp>
#include <filesystem>

#include <sqlite3.h>

#include <algorithm>
#include <atomic>
#include <fstream>
#include <thread>

#include "mentorsync/replica.h"
#include "test_support.h"

using namespace mentorsync;
using mstest::TempDir;

namespace {

constexpr std::int64_t kNov2026 = 1'795'392'000'000;

std::vector<Transaction> take(Replica& r) {
    auto p = r.pending(1'000'000);
    REQUIRE(p.ok());
    std::vector<Stamp> stamps;
    for (const auto& t : *p)
        stamps.push_back(t.stamp);
    REQUIRE(r.acknowledge(stamps).ok());
    return std::move(p).value();
}

ApplyReport give(Replica& to, const std::vector<Transaction>& txns) {
    auto rep = to.apply_remote(txns);
    INFO((rep.ok() ? std::string() : rep.status().to_string()));
    REQUIRE(rep.ok());
    return std::move(rep).value();
}

// Runs raw SQL on a replica file (the replica must be closed).
void sql(const std::string& path, const std::string& statement) {
    sqlite3* db = nullptr;
    REQUIRE(sqlite3_open(path.c_str(), &db) == SQLITE_OK);
    char* err = nullptr;
    int rc = sqlite3_exec(db, statement.c_str(), nullptr, nullptr, &err);
    INFO((err ? err : ""));
    sqlite3_free(err);
    sqlite3_close(db);
    REQUIRE(rc == SQLITE_OK);
}

}  // namespace

TEST_CASE("a replica reopens with its passphrase and keeps its records", "[replica][keys]") {
    TempDir dir;
    auto path = dir.file("tablet.db");
    Uuid learner;
    Uuid node;
    {
        auto r = mstest::open_replica(path);
        auto id = r->create("learners", mstest::learner_fields("Līga Testa"));
        REQUIRE(id.ok());
        learner = *id;
        node = r->node();
    }
    auto r = mstest::open_replica(path);
    CHECK(r->node() == node);
    auto rec = r->get("learners", learner);
    REQUIRE(rec.ok());
    CHECK(rec->fields.at("name") == Value("Līga Testa"));
    CHECK_FALSE(rec->deleted);
}

TEST_CASE("a wrong passphrase is a clear error and five in a row impose a growing delay",
          "[replica][keys]") {
    TempDir dir;
    auto path = dir.file("tablet.db");
    auto clock = std::make_shared<ManualClock>(kNov2026);
    mstest::open_replica(path, "right passphrase", clock);
    auto attempt = [&](const char* pass) {
        return Replica::open(mstest::test_options(path, clock), UnlockKey::passphrase(pass))
            .status();
    };
    for (int i = 0; i < 5; ++i) {
        Status s = attempt("wrong");
        CHECK(s.code() == Code::wrong_key);
        CHECK(s.message() == "wrong passphrase");
    }
    // Sixth attempt, even with the right passphrase, must wait 30 s.
    Status s = attempt("right passphrase");
    CHECK(s.code() == Code::locked_out);
    CHECK(s.message() == "5 wrong keys in a row: try again in 30 s");
    // The delay is also there for programs, to the millisecond, without reading the message.
    CHECK(s.retry_after_ms() == 30'000);
    clock->advance(10'500);
    s = attempt("right passphrase");
    CHECK(s.message() == "5 wrong keys in a row: try again in 20 s");
    CHECK(s.retry_after_ms() == 19'500);
    clock->advance(19'500);
    CHECK(attempt("wrong").code() == Code::wrong_key);
    // The delay doubles, and survives a "restart" (every attempt reopens the file).
    s = attempt("right passphrase");
    CHECK(s.message() == "6 wrong keys in a row: try again in 60 s");
    clock->advance(60'000);
    CHECK(attempt("right passphrase").ok());
    // Success resets the count.
    CHECK(attempt("wrong").code() == Code::wrong_key);
    CHECK(attempt("right passphrase").ok());
}

TEST_CASE("a raw key opens a raw-key replica and nothing else does", "[replica][keys]") {
    TempDir dir;
    auto path = dir.file("tablet.db");
    std::vector<std::uint8_t> key(32, 7), other(32, 8);
    {
        auto r = Replica::open(mstest::test_options(path), UnlockKey::raw(key));
        REQUIRE(r.ok());
    }
    CHECK(Replica::open(mstest::test_options(path), UnlockKey::raw(key)).ok());
    auto wrong = Replica::open(mstest::test_options(path), UnlockKey::raw(other));
    CHECK(wrong.status().code() == Code::wrong_key);
    auto pass = Replica::open(mstest::test_options(path), UnlockKey::passphrase("x"));
    CHECK(pass.status().message() == "this replica is unlocked with a raw, not a passphrase");
    std::vector<std::uint8_t> short_key(31, 1);
    auto bad = Replica::open(mstest::test_options(dir.file("other.db")), UnlockKey::raw(short_key));
    CHECK(bad.status().code() == Code::invalid_argument);
    CHECK(bad.status().message() == "a raw key must be exactly 32 bytes, got 31");
}

TEST_CASE("changing the passphrase rewraps the key and keeps every record", "[replica][keys]") {
    TempDir dir;
    auto path = dir.file("tablet.db");
    Uuid id;
    {
        auto r = mstest::open_replica(path, "old passphrase");
        id = *r->create("learners", mstest::learner_fields());
        CHECK(r->change_key(UnlockKey::passphrase("not it"), UnlockKey::passphrase("new")).code() ==
              Code::wrong_key);
        REQUIRE(r->change_key(UnlockKey::passphrase("old passphrase"),
                              UnlockKey::passphrase("new passphrase"))
                    .ok());
        CHECK(r->get("learners", id).ok());
    }
    CHECK(Replica::open(mstest::test_options(path), UnlockKey::passphrase("old passphrase"))
              .status()
              .code() == Code::wrong_key);
    auto r = mstest::open_replica(path, "new passphrase");
    CHECK(r->get("learners", id).ok());
}

TEST_CASE("a locked replica refuses data calls until unlocked", "[replica][keys]") {
    TempDir dir;
    auto r = mstest::open_replica(dir.file("tablet.db"), "pass phrase");
    auto id = *r->create("learners", mstest::learner_fields());
    r->lock();
    CHECK(r->is_locked());
    CHECK(r->get("learners", id).status().code() == Code::closed);
    CHECK(r->create("learners", mstest::learner_fields()).status().code() == Code::closed);
    CHECK(r->unlock(UnlockKey::passphrase("nope")).code() == Code::wrong_key);
    REQUIRE(r->unlock(UnlockKey::passphrase("pass phrase")).ok());
    CHECK(r->get("learners", id).ok());
}

TEST_CASE("unlock checks the key of an unlocked replica too, and wrong ones count and lock it",
          "[replica][keys]") {
    TempDir dir;
    auto clock = std::make_shared<ManualClock>(kNov2026);
    auto r = mstest::open_replica(dir.file("tablet.db"), "right passphrase", clock);
    auto id = *r->create("learners", mstest::learner_fields());
    REQUIRE_FALSE(r->is_locked());

    // An app re-checking its user gets the answer it asked for, not "already unlocked".
    Status wrong = r->unlock(UnlockKey::passphrase("a guess"));
    CHECK(wrong.code() == Code::wrong_key);
    CHECK(wrong.message() == "wrong passphrase");
    CHECK(r->is_locked());  // a failed re-check locks the replica
    CHECK(r->get("learners", id).status().code() == Code::closed);
    REQUIRE(r->unlock(UnlockKey::passphrase("right passphrase")).ok());
    CHECK(r->unlock(UnlockKey::passphrase("right passphrase")).ok());  // unlocked: checked, fine
    CHECK_FALSE(r->is_locked());
    CHECK(r->get("learners", id).ok());

    // A key of the other kind is refused and locks too, but tests no secret: it does not count.
    CHECK(r->unlock(UnlockKey::raw(std::vector<std::uint8_t>(32, 7))).code() == Code::wrong_key);
    CHECK(r->is_locked());
    REQUIRE(r->unlock(UnlockKey::passphrase("right passphrase")).ok());

    // Guesses against the unlocked replica count toward the lockout like any others: the first
    // one here meets an unlocked replica, four more a locked one, and the right key must wait.
    for (int i = 0; i < 5; ++i)
        CHECK(r->unlock(UnlockKey::passphrase("a guess")).code() == Code::wrong_key);
    Status held = r->unlock(UnlockKey::passphrase("right passphrase"));
    CHECK(held.code() == Code::locked_out);
    CHECK(held.message() == "5 wrong keys in a row: try again in 30 s");
    CHECK(r->is_locked());
    clock->advance(30'000);
    REQUIRE(r->unlock(UnlockKey::passphrase("right passphrase")).ok());
    // The right key reset the count: one more guess is just wrong, not a lockout.
    CHECK(r->unlock(UnlockKey::passphrase("a guess")).code() == Code::wrong_key);
    CHECK(r->unlock(UnlockKey::passphrase("right passphrase")).ok());
}

TEST_CASE("a clock set back does not stretch the lockout beyond its delay", "[replica][keys]") {
    TempDir dir;
    auto path = dir.file("tablet.db");
    auto clock = std::make_shared<ManualClock>(kNov2026);
    mstest::open_replica(path, "right passphrase", clock);
    auto attempt = [&](const char* pass) {
        return Replica::open(mstest::test_options(path, clock), UnlockKey::passphrase(pass))
            .status();
    };
    for (int i = 0; i < 5; ++i)
        REQUIRE(attempt("wrong").code() == Code::wrong_key);
    // The tablet's clock falls back a day (a flat battery, a manual change): the failures now
    // lie "in the future", and the wait is still at most the 30 s delay, not a day and 30 s.
    clock->set(kNov2026 - 24 * 3600 * 1000);
    Status s = attempt("right passphrase");
    CHECK(s.code() == Code::locked_out);
    CHECK(s.message() == "5 wrong keys in a row: try again in 30 s");
    clock->advance(30'000);
    CHECK(attempt("right passphrase").ok());
}

TEST_CASE("recognise tells a replica from every other file and leaves each as it was",
          "[replica][keys]") {
    TempDir dir;
    auto bytes_of = [](const std::string& p) {
        std::ifstream f(p, std::ios::binary);
        return std::string(std::istreambuf_iterator<char>(f), {});
    };
    auto path = dir.file("tablet.db");
    mstest::open_replica(path, "pass");
    CHECK(Replica::recognise(path).ok());
    CHECK_FALSE(std::filesystem::exists(path + "-wal"));  // the look left nothing behind
    CHECK_FALSE(std::filesystem::exists(path + "-shm"));

    // A replica open right now (through SQLite, in this process) is recognised alongside.
    {
        auto open = mstest::open_replica(path, "pass");
        REQUIRE(open->create("learners", mstest::learner_fields()).ok());
        CHECK(Replica::recognise(path).ok());
        CHECK(open->status().ok());
    }

    auto notes = dir.file("notes.txt");
    {
        std::ofstream f(notes);
        f << "Meeting notes: not a database at all, though long enough to have a header.\n";
    }
    const std::string notes_bytes = bytes_of(notes);
    Status s = Replica::recognise(notes);
    CHECK(s.code() == Code::invalid_argument);
    CHECK(s.message() == "the file is not an SQLite database");
    CHECK(bytes_of(notes) == notes_bytes);

    // Another program's database, in WAL mode like a replica, with a table called meta.
    auto other = dir.file("other.sqlite");
    sql(other,
        "PRAGMA journal_mode=WAL; CREATE TABLE meta(key TEXT PRIMARY KEY, value BLOB);"
        " INSERT INTO meta VALUES('format', '1'), ('owner', 'someone else');");
    const std::string other_bytes = bytes_of(other);
    s = Replica::recognise(other);
    CHECK(s.code() == Code::invalid_argument);
    CHECK(s.message() == "the file is an SQLite database whose meta table is not a replica's");
    CHECK(bytes_of(other) == other_bytes);
    CHECK_FALSE(std::filesystem::exists(other + "-wal"));  // SQLite's traces of the look are gone
    CHECK_FALSE(std::filesystem::exists(other + "-shm"));
    auto plain = dir.file("plain.sqlite");
    sql(plain, "CREATE TABLE t(x)");
    CHECK(Replica::recognise(plain).message() ==
          "the file is an SQLite database without a replica's meta table");

    auto empty = dir.file("empty.db");
    std::ofstream{empty};
    CHECK(Replica::recognise(empty).message() == "the file is empty");
    CHECK(Replica::recognise(dir.path().string()).message() == "the path is not a regular file");
    auto link = dir.file("link.db");
    std::filesystem::create_symlink(path, link);
    CHECK(Replica::recognise(link).message() == "the path is a symbolic link, not a replica file");
    CHECK(Replica::recognise(dir.file("missing.db")).code() == Code::not_found);
}

TEST_CASE("a file that is not a replica is refused, not overwritten", "[replica][keys]") {
    TempDir dir;
    auto path = dir.file("notes.txt");
    {
        std::ofstream f(path);
        f << "this is not a database, just some text long enough to have a header......";
    }
    auto r = Replica::open(mstest::test_options(path), UnlockKey::passphrase("x"));
    CHECK(r.status().code() == Code::corrupt);
    auto other = dir.file("other.sqlite");
    sql(other, "CREATE TABLE t(x)");
    auto r2 = Replica::open(mstest::test_options(other), UnlockKey::passphrase("x"));
    CHECK(r2.status().message() == "the file is an SQLite database but not a replica");
    OpenOptions o = mstest::test_options(dir.file("missing.db"));
    o.create_if_missing = false;
    CHECK(Replica::open(o, UnlockKey::passphrase("x")).status().code() == Code::not_found);
    OpenOptions negative = mstest::test_options(dir.file("negative.db"));
    negative.wal_autocheckpoint_pages = -1;
    auto r3 = Replica::open(negative, UnlockKey::passphrase("x"));
    CHECK(r3.status().code() == Code::invalid_argument);
    CHECK_THAT(r3.status().message(), Catch::Contains("wal_autocheckpoint_pages is -1"));
    CHECK_FALSE(std::filesystem::exists(dir.file("negative.db")));  // nothing left behind
}

TEST_CASE("a batch is written atomically or not at all", "[replica][write]") {
    TempDir dir;
    auto r = mstest::open_replica(dir.file("tablet.db"));
    Uuid learner = *r->create("learners", mstest::learner_fields());
    WriteBatch b;
    Uuid c1 = b.create("contacts", mstest::contact_fields(learner));
    Fields bad = mstest::absence_fields(learner);
    bad["lessons"] = 99;
    b.create("absences", bad);
    auto res = r->commit(b);
    REQUIRE_FALSE(res.ok());
    CHECK(res.status().message() == "absences.lessons: 99 is above the maximum 16");
    CHECK(r->get("contacts", c1).status().code() == Code::not_found);
    CHECK(r->status()->pending_transactions == 1);  // only the learner

    WriteBatch good;
    Uuid c2 = good.create("contacts", mstest::contact_fields(learner));
    good.update("contacts", c2, {{"duration_min", 60}});
    Uuid a = good.create("absences", mstest::absence_fields(learner));
    auto ok = r->commit(good);
    REQUIRE(ok.ok());
    CHECK(ok->rows == std::vector<Uuid>{c2, c2, a});
    CHECK(r->get("contacts", c2)->fields.at("duration_min") == Value(60));
    auto pending = r->pending(10);
    REQUIRE(pending->size() == 2);
    // One transaction, one change per field: the update folded into the creation.
    CHECK(pending->back().changes.size() ==
          mstest::contact_fields(learner).size() + mstest::absence_fields(learner).size());
}

TEST_CASE("updates, deletes and restores are checked against the record", "[replica][write]") {
    TempDir dir;
    auto r = mstest::open_replica(dir.file("tablet.db"));
    Uuid learner = *r->create("learners", mstest::learner_fields());
    Uuid c = *r->create("contacts", mstest::contact_fields(learner));
    Uuid nobody = Uuid::random();

    CHECK(r->update("contacts", nobody, {{"duration_min", 5}}).code() == Code::not_found);
    CHECK(r->update("absences", c, {{"lessons", 5}}).message().find("belongs to contacts") !=
          std::string::npos);
    CHECK(r->update("contacts", c, {{"place", nullptr}}).message() ==
          "contacts.place: is required and cannot be cleared");
    CHECK(r->update("contacts", c, {}).code() == Code::invalid_argument);
    REQUIRE(r->update("contacts", c, {{"notes", nullptr}}).ok());
    CHECK(r->get("contacts", c)->fields.count("notes") == 0);

    REQUIRE(r->remove("contacts", c).ok());
    CHECK(r->get("contacts", c)->deleted);
    CHECK(r->update("contacts", c, {{"duration_min", 5}}).message().find("restore it first") !=
          std::string::npos);
    Query q;
    q.collection = "contacts";
    q.ref = learner;
    CHECK(r->query(q)->empty());
    q.include_deleted = true;
    CHECK(r->query(q)->size() == 1);
    REQUIRE(r->restore("contacts", c).ok());
    CHECK_FALSE(r->get("contacts", c)->deleted);
    CHECK(r->get("learners", c).status().code() == Code::not_found);

    WriteBatch dup;
    dup.create_with_id("contacts", c, mstest::contact_fields(learner));
    CHECK(r->commit(dup).status().message().find("already exists") != std::string::npos);
    CHECK(r->commit(WriteBatch{}).status().message() == "the write batch is empty");
}

TEST_CASE("queries select by learner, by another reference and by date range", "[replica][query]") {
    TempDir dir;
    auto r = mstest::open_replica(dir.file("tablet.db"));
    Uuid anna = *r->create("learners", mstest::learner_fields("Anna"));
    Uuid olga = *r->create("learners", mstest::learner_fields("Olga"));
    Uuid mentor = Uuid::random();
    for (int day = 1; day <= 9; ++day) {
        auto f = mstest::contact_fields(day % 3 == 0 ? olga : anna, "n",
                                        "2026-11-0" + std::to_string(day) + "T09:00");
        if (day % 2 == 0) f["mentor_id"] = mentor.to_string();
        REQUIRE(r->create("contacts", f).ok());
    }
    Query q;
    q.collection = "contacts";
    q.ref = anna;
    auto all = r->query(q);
    REQUIRE(all.ok());
    CHECK(all->size() == 6);
    CHECK(all->front().fields.at("starts_at") == Value("2026-11-01T09:00"));  // ordered by date
    q.from_date = "2026-11-02";
    q.to_date = "2026-11-05";
    CHECK(r->query(q)->size() == 3);  // days 2, 4, 5

    Query by_mentor;
    by_mentor.collection = "contacts";
    by_mentor.ref_field = "mentor_id";
    by_mentor.ref = mentor;
    CHECK(r->query(by_mentor)->size() == 4);

    Query bad = q;
    bad.from_date = "1 Nov";
    CHECK(r->query(bad).status().message() == "from_date is not a date in the form YYYY-MM-DD");
    bad = q;
    bad.ref_field = "notes";
    CHECK(r->query(bad).status().message() == "contacts.notes is not a reference field");
    bad.collection = "meetings";
    CHECK(r->query(bad).status().code() == Code::invalid_argument);
    q.limit = 2;
    CHECK(r->query(q)->size() == 2);
}

TEST_CASE("two replicas editing the same field converge and keep the loser as a conflict",
          "[replica][merge]") {
    TempDir dir;
    auto a = mstest::open_replica(dir.file("a.db"));
    auto b = mstest::open_replica(dir.file("b.db"));
    Uuid learner = *a->create("learners", mstest::learner_fields());
    Uuid c = *a->create("contacts", mstest::contact_fields(learner));
    give(*b, take(*a));

    REQUIRE(a->update("contacts", c, {{"next_steps", "call the parents"}}).ok());
    REQUIRE(b->update("contacts", c, {{"next_steps", "visit the school"}}).ok());
    auto from_a = take(*a);
    auto from_b = take(*b);
    CHECK(give(*a, from_b).conflicts_opened == 1);
    CHECK(give(*b, from_a).conflicts_opened == 1);

    auto ra = *a->get("contacts", c);
    auto rb = *b->get("contacts", c);
    CHECK(ra.fields == rb.fields);
    CHECK(ra.stamps == rb.stamps);
    auto ca = *a->conflicts();
    auto cb = *b->conflicts();
    REQUIRE(ca.size() == 1);
    REQUIRE(cb.size() == 1);
    CHECK(ca[0].loser == cb[0].loser);
    CHECK(ca[0].loser_value == cb[0].loser_value);
    CHECK(ca[0].winner_value == ra.fields.at("next_steps"));
    CHECK(ca[0].loser_value != ca[0].winner_value);
    CHECK(ca[0].field == "next_steps");
    CHECK(ca[0].collection == "contacts");

    // Resolving on one side is a change like any other, and clears the conflict everywhere.
    auto st = a->resolve_conflict(c, "next_steps", ca[0].loser, Resolution::take_loser);
    REQUIRE(st.ok());
    give(*b, take(*a));
    CHECK(a->conflicts()->empty());
    CHECK(b->conflicts()->empty());
    CHECK(b->get("contacts", c)->fields.at("next_steps") == ca[0].loser_value);
    CHECK(a->resolve_conflict(c, "next_steps", ca[0].loser, Resolution::keep_winner)
              .status()
              .code() == Code::not_found);
}

TEST_CASE("an edit made after seeing another is not a conflict", "[replica][merge]") {
    TempDir dir;
    auto a = mstest::open_replica(dir.file("a.db"));
    auto b = mstest::open_replica(dir.file("b.db"));
    Uuid learner = *a->create("learners", mstest::learner_fields());
    give(*b, take(*a));
    REQUIRE(a->update("learners", learner, {{"grade", 9}}).ok());
    give(*b, take(*a));
    REQUIRE(b->update("learners", learner, {{"grade", 10}}).ok());
    give(*a, take(*b));
    CHECK(a->conflicts()->empty());
    CHECK(b->conflicts()->empty());
    CHECK(a->get("learners", learner)->fields.at("grade") == Value(10));
}

TEST_CASE("applying the same remote transactions twice changes nothing", "[replica][merge]") {
    TempDir dir;
    auto a = mstest::open_replica(dir.file("a.db"));
    auto b = mstest::open_replica(dir.file("b.db"));
    Uuid learner = *a->create("learners", mstest::learner_fields());
    REQUIRE(a->create("absences", mstest::absence_fields(learner)).ok());
    auto txns = take(*a);
    auto first = give(*b, txns);
    CHECK(first.applied == 2);
    auto second = give(*b, txns);
    CHECK(second.applied == 0);
    CHECK(second.duplicates == 2);
    CHECK(b->status()->records == 2);
    // A batch that holds the same transaction twice applies it once.
    auto c = mstest::open_replica(dir.file("c.db"));
    std::vector<Transaction> twice = {txns[0], txns[0], txns[1]};
    auto rep = give(*c, twice);
    CHECK(rep.applied == 2);
    CHECK(rep.duplicates == 1);
}

TEST_CASE("deletion merges like any other field", "[replica][merge]") {
    TempDir dir;
    auto a = mstest::open_replica(dir.file("a.db"));
    auto b = mstest::open_replica(dir.file("b.db"));
    Uuid learner = *a->create("learners", mstest::learner_fields());
    give(*b, take(*a));
    REQUIRE(a->remove("learners", learner).ok());                   // a deletes
    REQUIRE(b->update("learners", learner, {{"grade", 11}}).ok());  // b edits meanwhile
    give(*b, take(*a));
    give(*a, take(*b));
    // The edit is kept and the deletion stands: no "delete always wins", no lost edit.
    for (auto* r : {a.get(), b.get()}) {
        auto rec = *r->get("learners", learner);
        CHECK(rec.deleted);
        CHECK(rec.fields.at("grade") == Value(11));
    }
}

TEST_CASE("remote transactions invalid for the schema are rejected whole", "[replica][merge]") {
    TempDir dir;
    auto a = mstest::open_replica(dir.file("a.db"));
    Transaction t;
    t.stamp = {std::uint64_t(SystemClock().now_ms()) << 16, Uuid::random()};
    Uuid row = Uuid::random();
    t.changes.push_back({"absences", row, "lessons", Value(3), {}, {}});
    t.changes.push_back({"absences", row, "status", Value("maybe"), {}, {}});
    auto rep = give(*a, {t});
    REQUIRE(rep.rejected.size() == 1);
    CHECK(rep.rejected[0].reason.message() ==
          "absences.status: 'maybe' is not one of: unknown, justified, unjustified");
    CHECK(a->status()->records == 0);

    Transaction back = t;
    back.changes = {{"absences", row, "lessons", Value(3), t.stamp, {}}};
    auto rep2 = give(*a, {back});
    REQUIRE(rep2.rejected.size() == 1);
    CHECK(rep2.rejected[0].reason.message() ==
          "absences.lessons: prev stamp is not before the transaction's own stamp");
}

TEST_CASE("fields and collections from a newer schema are kept and passed on", "[replica][merge]") {
    TempDir dir;
    auto a = mstest::open_replica(dir.file("a.db"));
    auto c = mstest::open_replica(dir.file("c.db"));
    Transaction t;
    t.stamp = {std::uint64_t(SystemClock().now_ms()) << 16, Uuid::random()};
    Uuid learner = Uuid::random(), row = Uuid::random();
    auto f = mstest::absence_fields(learner);
    for (auto& [k, v] : f)
        t.changes.push_back({"absences", row, k, v, {}, {}});
    t.changes.push_back({"absences", row, "school_period", Value(3), {}, {}});
    t.changes.push_back({"wellbeing_checks", Uuid::random(), "score", Value(7), {}, {}});
    REQUIRE(give(*a, {t}).applied == 1);
    CHECK(a->get("absences", row)->fields.at("school_period") == Value(3));
    // A local edit of a known field leaves the unknown one alone.
    REQUIRE(a->update("absences", row, {{"lessons", 4}}).ok());
    CHECK(a->get("absences", row)->fields.at("school_period") == Value(3));
    // Relayed onwards (e.g. a centre tablet passing records on), it arrives intact.
    give(*c, {t});
    give(*c, take(*a));
    CHECK(c->get("absences", row)->fields.at("school_period") == Value(3));
    CHECK(c->get("absences", row)->fields.at("lessons") == Value(4));
}

TEST_CASE("a peer ten years ahead is quarantined, reported and can be released",
          "[replica][clock]") {
    TempDir dir;
    auto clock = std::make_shared<ManualClock>(kNov2026);
    auto a = mstest::open_replica(dir.file("a.db"), "pw", clock);
    Uuid learner = *a->create("learners", mstest::learner_fields());
    auto future_clock = std::make_shared<ManualClock>(kNov2026 + 10LL * 365 * 86'400'000);
    auto b = mstest::open_replica(dir.file("b.db"), "pw", future_clock);
    give(*b, take(*a));
    REQUIRE(b->update("learners", learner, {{"grade", 12}}).ok());
    auto from_b = take(*b);
    auto rep = give(*a, from_b);
    CHECK(rep.quarantined == 1);
    CHECK(rep.applied == 0);
    CHECK(a->get("learners", learner)->fields.at("grade") == Value(8));  // not merged as winner
    auto q = *a->quarantined();
    REQUIRE(q.size() == 1);
    CHECK(q[0].ahead_ms > 9LL * 365 * 86'400'000);
    CHECK(a->status()->quarantined == 1);
    // Delivered again: still held once.
    CHECK(give(*a, from_b).duplicates == 1);

    // Local stamps did not jump ten years ahead.
    REQUIRE(a->update("learners", learner, {{"grade", 9}}).ok());
    CHECK(take(*a).back().stamp.millis() < static_cast<std::uint64_t>(kNov2026 + 1000));

    auto rel = a->release_quarantined(q[0].stamp);
    REQUIRE(rel.ok());
    CHECK(rel->applied == 1);
    CHECK(a->quarantined()->empty());
    CHECK(a->get("learners", learner)->fields.at("grade") == Value(12));
    CHECK(a->release_quarantined(q[0].stamp).status().code() == Code::not_found);
}

TEST_CASE("a quarantined transaction can be discarded", "[replica][clock]") {
    TempDir dir;
    auto clock = std::make_shared<ManualClock>(kNov2026);
    auto a = mstest::open_replica(dir.file("a.db"), "pw", clock);
    auto future = std::make_shared<ManualClock>(kNov2026 + 3'600'000);
    auto b = mstest::open_replica(dir.file("b.db"), "pw", future);
    REQUIRE(b->create("learners", mstest::learner_fields()).ok());
    CHECK(give(*a, take(*b)).quarantined == 1);
    auto q = *a->quarantined();
    REQUIRE(a->discard_quarantined(q[0].stamp).ok());
    CHECK(a->status()->quarantined == 0);
    CHECK(a->status()->records == 0);
    CHECK(a->discard_quarantined(q[0].stamp).code() == Code::not_found);
}

// ---- own transactions stamped in the future ---------------------------------------------------

namespace {

constexpr std::int64_t kTenYears = 10LL * 365 * 86'400'000;

std::vector<Stamp> pending_stamps(Replica& r) {
    auto p = r.pending(1'000'000);
    REQUIRE(p.ok());
    std::vector<Stamp> out;
    for (const auto& t : *p)
        out.push_back(t.stamp);
    return out;
}

RestampReport restamp(Replica& r, const std::vector<Stamp>& refused,
                      std::optional<std::int64_t> server_time = {}) {
    auto rep = r.restamp_refused(refused, server_time);
    INFO((rep.ok() ? std::string() : rep.status().to_string()));
    REQUIRE(rep.ok());
    return std::move(rep).value();
}

}  // namespace

TEST_CASE("an edit refused as stamped ten years ahead is re-dated below a later honest edit",
          "[replica][clock][restamp]") {
    TempDir dir;
    auto honest_clock = std::make_shared<ManualClock>(kNov2026);
    auto fast_clock = std::make_shared<ManualClock>(kNov2026);
    auto fast = mstest::open_replica(dir.file("fast.db"), "pw", fast_clock);
    auto honest = mstest::open_replica(dir.file("honest.db"), "pw", honest_clock);
    Uuid learner = *honest->create("learners", mstest::learner_fields());
    give(*fast, take(*honest));

    // The tablet's clock jumps ten years ahead; the mentor edits the grade twice, once before
    // and once after the clock is set right again (that stamp is still ten years ahead: the
    // clock never went below its highest stamp).
    fast_clock->advance(60'000 + kTenYears);
    REQUIRE(fast->update("learners", learner, {{"grade", 9}}).ok());
    fast_clock->set(kNov2026 + 120'000);
    honest_clock->set(kNov2026 + 120'000);
    REQUIRE(fast->update("learners", learner, {{"grade", 10}}).ok());
    const auto refused = pending_stamps(*fast);
    REQUIRE(refused.size() == 2);
    CHECK(refused[1].millis() > static_cast<std::uint64_t>(kNov2026 + kTenYears));

    // Another mentor, clock right, changes the grade a minute later; the tablet merges it, and
    // its own refused value still wins there, ten years ahead.
    honest_clock->advance(60'000);
    fast_clock->advance(60'000);
    REQUIRE(honest->update("learners", learner, {{"grade", 7}}).ok());
    const auto honest_edit = take(*honest);
    give(*fast, honest_edit);
    CHECK(fast->get("learners", learner)->fields.at("grade") == Value(10));

    // The server refused both: they are re-dated, in order, just after what the tablet had
    // seen when they were written, so the later honest edit wins everywhere.
    std::vector<ChangeEvent> events;
    fast->observe([&](const std::vector<ChangeEvent>& e) {
        events.insert(events.end(), e.begin(), e.end());
    });
    const auto rep = restamp(*fast, refused, kNov2026 + 180'000);
    REQUIRE(rep.moved.size() == 2);
    CHECK(rep.kept.empty());
    CHECK(rep.rows == 1);
    CHECK(rep.moved[0].first == refused[0]);
    CHECK(rep.moved[1].first == refused[1]);
    const Stamp first = rep.moved[0].second, second = rep.moved[1].second;
    CHECK(first < second);
    CHECK(second < honest_edit.back().stamp);
    CHECK(first.millis() == static_cast<std::uint64_t>(kNov2026));  // just after the creation
    REQUIRE(events.size() == 1);
    CHECK(events[0].row == learner);
    CHECK_FALSE(events[0].remote);

    const auto redated = *fast->pending(10);
    REQUIRE(redated.size() == 2);
    CHECK(redated[0].stamp == first);
    CHECK(redated[1].stamp == second);
    CHECK(redated[1].changes.at(0).prev == first);  // the second edit saw the first
    CHECK(redated[1].changes.at(0).value == Value(10));

    auto rec = fast->get("learners", learner);
    CHECK(rec->fields.at("grade") == Value(7));
    auto conflicts = *fast->conflicts();
    REQUIRE(conflicts.size() == 1);
    CHECK(conflicts[0].loser == second);
    CHECK(conflicts[0].loser_value == Value(10));
    CHECK(conflicts[0].winner == honest_edit.back().stamp);

    // The honest replica computes the same once the re-dated edits arrive.
    give(*honest, take(*fast));
    CHECK(honest->get("learners", learner)->fields == rec->fields);
    CHECK(honest->get("learners", learner)->stamps == rec->stamps);
    auto theirs = *honest->conflicts();
    REQUIRE(theirs.size() == 1);
    CHECK(theirs[0].loser == second);
    CHECK(theirs[0].winner == conflicts[0].winner);

    // The clock fell back: the next edit is stamped by the wall clock, also after a restart.
    REQUIRE(fast->update("learners", learner, {{"grade", 11}}).ok());
    CHECK(take(*fast).back().stamp.millis() == static_cast<std::uint64_t>(kNov2026 + 180'000));
    fast.reset();
    fast = mstest::open_replica(dir.file("fast.db"), "pw", fast_clock);
    fast_clock->advance(5);
    REQUIRE(fast->update("learners", learner, {{"grade", 12}}).ok());
    CHECK(take(*fast).back().stamp.millis() == static_cast<std::uint64_t>(kNov2026 + 180'005));
}

TEST_CASE("re-dating moves every later pending edit and never a stamp that left the device",
          "[replica][clock][restamp]") {
    TempDir dir;
    auto clock = std::make_shared<ManualClock>(kNov2026);
    auto a = mstest::open_replica(dir.file("a.db"), "pw", clock);
    Uuid learner = *a->create("learners", mstest::learner_fields());
    const Stamp created = take(*a).back().stamp;  // acknowledged: it left the device
    clock->advance(1'000);
    Uuid absence = *a->create("absences", mstest::absence_fields(learner));  // honest, pending
    clock->advance(7 * 60'000);                                              // seven minutes ahead
    REQUIRE(a->update("absences", absence, {{"lessons", 4}}).ok());
    clock->set(kNov2026 + 2'000);  // set right; the next stamp is logical, still ahead
    REQUIRE(a->update("absences", absence, {{"lessons", 5}}).ok());
    const auto before = pending_stamps(*a);
    REQUIRE(before.size() == 3);

    // Only the middle one is named as refused; everything pending from it on moves (the last
    // one names it as prev), the honest one before it stays as it is.
    const auto rep = restamp(*a, {before[1]}, kNov2026 + 2'000);
    REQUIRE(rep.moved.size() == 2);
    CHECK(rep.moved[0].first == before[1]);
    CHECK(rep.moved[1].first == before[2]);
    const auto after = pending_stamps(*a);
    CHECK(after[0] == before[0]);
    // Above every stamp logged before it (the absence's creation), so the edit stays after
    // the creation it changed; in order; never later than before.
    CHECK(before[0] < after[1]);
    CHECK(after[1] < after[2]);
    CHECK(after[2] < before[1]);
    CHECK(created < after[1]);
    const auto txns = *a->pending(10);
    CHECK(txns[1].changes.at(0).prev == before[0]);
    CHECK(txns[2].changes.at(0).prev == after[1]);
    CHECK(a->get("absences", absence)->fields.at("lessons") == Value(5));
    // Acknowledged, unknown and other nodes' stamps are ignored.
    const auto none = restamp(*a, {created, Stamp{42, Uuid::random()}});
    CHECK(none.moved.empty());
    CHECK(none.kept.empty());
    CHECK(restamp(*a, {}).moved.empty());
}

TEST_CASE("a refused edit that cannot be dated earlier keeps its stamp",
          "[replica][clock][restamp]") {
    TempDir dir;
    auto clock = std::make_shared<ManualClock>(kNov2026);
    auto a = mstest::open_replica(dir.file("a.db"), "pw", clock);
    auto b = mstest::open_replica(dir.file("b.db"), "pw", clock);
    Uuid learner = *b->create("learners", mstest::learner_fields());
    clock->advance(1'000);
    REQUIRE(b->update("learners", learner, {{"grade", 9}}).ok());
    give(*a, take(*b));
    // a's edit is the first stamp after the one it replaced: there is no earlier one to give.
    REQUIRE(a->update("learners", learner, {{"grade", 10}}).ok());
    const auto stamps = pending_stamps(*a);
    auto from_b = *b->get("learners", learner);
    REQUIRE(stamps.front().hlc == from_b.stamps.at("grade").hlc + 1);
    const auto rep = restamp(*a, stamps);
    CHECK(rep.moved.empty());
    REQUIRE(rep.kept.size() == 1);
    CHECK(rep.kept[0] == stamps[0]);
    CHECK(pending_stamps(*a) == stamps);
}

TEST_CASE("a trusted server time bounds how early a re-dated edit can be",
          "[replica][clock][restamp]") {
    TempDir dir;
    auto clock = std::make_shared<ManualClock>(kNov2026);
    auto a = mstest::open_replica(dir.file("a.db"), "pw", clock);
    Uuid learner = *a->create("learners", mstest::learner_fields());
    take(*a);
    CHECK(a->note_trusted_time(0).code() == Code::invalid_argument);
    // A sync a day later: nothing new in the log, but the server said what time it was.
    REQUIRE(a->note_trusted_time(kNov2026 + 86'400'000).ok());
    REQUIRE(a->note_trusted_time(kNov2026 + 86'400'500).ok());  // same position: tighter
    clock->set(kNov2026 + 86'400'000 + kTenYears);
    REQUIRE(a->update("learners", learner, {{"grade", 9}}).ok());
    const auto rep = restamp(*a, pending_stamps(*a));
    REQUIRE(rep.moved.size() == 1);
    CHECK(rep.moved[0].second.millis() == static_cast<std::uint64_t>(kNov2026 + 86'400'500));
    // Readings taken after an edit do not bound it (it may be older than them).
    clock->set(kNov2026 + 2 * 86'400'000 + kTenYears);
    REQUIRE(a->update("learners", learner, {{"grade", 10}}).ok());
    REQUIRE(a->note_trusted_time(kNov2026 + 3 * 86'400'000).ok());
    const auto rep2 = restamp(*a, pending_stamps(*a));
    REQUIRE(rep2.moved.size() == 1);
    CHECK(rep2.moved[0].second.millis() == static_cast<std::uint64_t>(kNov2026 + 86'400'500));
    // Kept across a restart; at most 16 readings.
    clock->set(kNov2026 + 4 * 86'400'000);
    for (int i = 0; i < 40; ++i) {
        REQUIRE(a->create("absences", mstest::absence_fields(learner)).ok());
        REQUIRE(a->note_trusted_time(kNov2026 + 4 * 86'400'000 + i).ok());
    }
    a.reset();
    a = mstest::open_replica(dir.file("a.db"), "pw", clock);
    clock->set(kNov2026 + 4 * 86'400'000 + kTenYears);
    REQUIRE(a->update("learners", learner, {{"grade", 11}}).ok());
    const auto pending = pending_stamps(*a);
    const auto rep3 = restamp(*a, {pending.back()});
    REQUIRE(rep3.moved.size() == 1);
    CHECK(rep3.moved[0].second.millis() ==
          static_cast<std::uint64_t>(kNov2026 + 4 * 86'400'000 + 39));
}

TEST_CASE("a clock floor left ten years ahead by a purge falls back when the server refuses",
          "[replica][clock][restamp]") {
    TempDir dir;
    auto clock = std::make_shared<ManualClock>(kNov2026);
    auto a = mstest::open_replica(dir.file("a.db"), "pw", clock);
    Uuid kept = *a->create("learners", mstest::learner_fields("Anna"));
    Uuid gone = *a->create("learners", mstest::learner_fields("Juris"));
    take(*a);
    clock->set(kNov2026 + kTenYears);
    REQUIRE(a->update("learners", kept, {{"grade", 9}}).ok());
    clock->set(kNov2026 + 60'000);
    // A purge while the clock is stuck ten years ahead persists that as the clock's floor
    // (as this version still does: the floor must cover every stamp the purge removes).
    REQUIRE(a->purge_learner(gone).ok());
    a.reset();
    a = mstest::open_replica(dir.file("a.db"), "pw", clock);
    const auto refused = pending_stamps(*a);
    REQUIRE(refused.size() == 1);

    // Without the server's time the floor stays (nothing proves it wrong) and so does the stamp.
    CHECK(restamp(*a, refused).kept.size() == 1);
    // With it, the floor is lowered to what the server accepts and the edit re-dated below.
    const std::int64_t server_now = kNov2026 + 60'000;
    const auto rep = restamp(*a, refused, server_now);
    REQUIRE(rep.moved.size() == 1);
    CHECK(rep.moved[0].second.millis() <=
          static_cast<std::uint64_t>(server_now + kMaxClockSkewMs + 1));
    a.reset();
    a = mstest::open_replica(dir.file("a.db"), "pw", clock);
    clock->set(kNov2026 + 10 * 60'000);
    REQUIRE(a->update("learners", kept, {{"grade", 10}}).ok());
    CHECK(pending_stamps(*a).back().millis() == static_cast<std::uint64_t>(kNov2026 + 10 * 60'000));
}

TEST_CASE("observers hear local and remote commits after they are durable", "[replica]") {
    TempDir dir;
    auto a = mstest::open_replica(dir.file("a.db"));
    auto b = mstest::open_replica(dir.file("b.db"));
    std::vector<ChangeEvent> seen;
    Replica* self = b.get();
    bool readable = false;
    auto id = b->observe([&](const std::vector<ChangeEvent>& evs) {
        seen.insert(seen.end(), evs.begin(), evs.end());
        // Observers may call back into the replica: no lock is held.
        readable = self->get(evs.front().collection, evs.front().row).ok();
    });
    Uuid learner = *a->create("learners", mstest::learner_fields());
    give(*b, take(*a));
    REQUIRE(seen.size() == 1);
    CHECK(seen[0].remote);
    CHECK(seen[0].row == learner);
    CHECK(readable);
    REQUIRE(b->update("learners", learner, {{"grade", 2}}).ok());
    REQUIRE(seen.size() == 2);
    CHECK_FALSE(seen[1].remote);
    b->unobserve(id);
    REQUIRE(b->update("learners", learner, {{"grade", 3}}).ok());
    CHECK(seen.size() == 2);
}

TEST_CASE("pending transactions stay until acknowledged", "[replica][sync]") {
    TempDir dir;
    auto a = mstest::open_replica(dir.file("a.db"));
    Uuid learner = *a->create("learners", mstest::learner_fields());
    for (int i = 0; i < 5; ++i)
        REQUIRE(a->create("absences", mstest::absence_fields(learner)).ok());
    auto p = *a->pending(4);
    REQUIRE(p.size() == 4);
    CHECK(p[0].changes.front().collection == "learners");  // oldest first
    std::vector<Stamp> first_two = {p[0].stamp, p[1].stamp};
    REQUIRE(a->acknowledge(first_two).ok());
    CHECK(a->status()->pending_transactions == 4);
    CHECK(a->pending(10)->front().stamp == p[2].stamp);
    REQUIRE(a->set_sync_value("cursor", "42").ok());
    CHECK(**a->sync_value("cursor") == "42");
    CHECK_FALSE(a->sync_value("other")->has_value());
    // An empty value is a value, not a missing one.
    REQUIRE(a->set_sync_value("empty", "").ok());
    REQUIRE(a->sync_value("empty")->has_value());
    CHECK(a->sync_value("empty")->value().empty());
}

TEST_CASE("concurrent callers from several threads are serialised safely", "[replica]") {
    TempDir dir;
    auto a = mstest::open_replica(dir.file("a.db"));
    Uuid learner = *a->create("learners", mstest::learner_fields());
    std::atomic<int> failures{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t)
        threads.emplace_back([&] {
            for (int i = 0; i < 25; ++i) {
                if (!a->create("absences", mstest::absence_fields(learner)).ok()) ++failures;
                Query q;
                q.collection = "absences";
                q.ref = learner;
                if (!a->query(q).ok()) ++failures;
            }
        });
    for (auto& t : threads)
        t.join();
    CHECK(failures == 0);
    CHECK(a->status()->records == 101);
}

TEST_CASE("a swapped or altered blob is detected, never decoded into garbage",
          "[replica][security]") {
    TempDir dir;
    auto path = dir.file("tablet.db");
    Uuid l1, l2;
    {
        auto r = mstest::open_replica(path);
        l1 = *r->create("learners", mstest::learner_fields("Pirmā Testa"));
        l2 = *r->create("learners", mstest::learner_fields("Otrā Testa"));
    }
    // Copy the second learner's sealed state over the first's: each blob is bound to its row.
    auto hex = [](const Uuid& u) {
        std::string s = u.to_string();
        s.erase(std::remove(s.begin(), s.end(), '-'), s.end());
        return "X'" + s + "'";
    };
    sql(path, "UPDATE rows SET state = (SELECT state FROM rows WHERE id = " + hex(l2) +
                  ") WHERE id = " + hex(l1));
    {
        auto r = mstest::open_replica(path);
        auto got = r->get("learners", l1);
        REQUIRE_FALSE(got.ok());
        CHECK(got.status().code() == Code::corrupt);
        CHECK(got.status().message().find("failed authentication") != std::string::npos);
    }
    // Flip one byte of a change-log blob.
    sql(path,
        "UPDATE changes SET body = substr(body, 1, 30) || "
        "char((unicode(substr(body, 31, 1)) + 1) % 128) || substr(body, 32)");
    auto r = mstest::open_replica(path);
    auto p = r->pending(10);
    REQUIRE_FALSE(p.ok());
    CHECK(p.status().code() == Code::corrupt);
}

TEST_CASE("a date query runs on a replica whose own schema has no absences collection",
          "[replica][query]") {
    // The replica checks query dates with the schema's date rule, not through a field of the
    // programme schema, so a schema without that field works the same.
    CollectionDef visits;
    visits.name = "visits";
    visits.date_field = "day";
    FieldDef day_field;
    day_field.name = "day";
    day_field.type = FieldType::date;
    day_field.required = true;
    visits.fields = {day_field};
    const Schema custom(1, {visits});
    TempDir dir;
    auto options = mstest::test_options(dir.file("custom.db"));
    options.schema = &custom;
    auto opened = Replica::open(options, UnlockKey::passphrase("right passphrase"));
    REQUIRE(opened.ok());
    auto& r = *opened;
    for (const char* day : {"2026-11-01", "2026-11-03", "2026-11-05"})
        REQUIRE(r->create("visits", {{"day", Value(day)}}).ok());
    Query q;
    q.collection = "visits";
    q.from_date = "2026-11-02";
    q.to_date = "2026-11-05";
    auto found = r->query(q);
    REQUIRE(found.ok());
    CHECK(found->size() == 2);
    q.to_date = "2026-11-31";
    CHECK(r->query(q).status().message() == "to_date is not a date in the form YYYY-MM-DD");
}
