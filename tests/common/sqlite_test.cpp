// common/sqlite.h: the one SQLite wrapper. Its messages name the file by the caller's label
// (the replica's, server.db's and coord.db's words as they were), statements bind and read
// every type, and the statement cache lends and takes back statements.
#include <catch2/catch.hpp>

#include <fstream>
#include <string>

#include "common/sqlite.h"
#include "test_support.h"

using namespace mentorsync;
namespace sql = mentorsync::common::sql;
using mstest::TempDir;
using namespace std::string_literals;

namespace {

sql::Options with(sql::FileLabel label, bool create = true) {
    sql::Options o;
    o.label = label;
    o.create = create;
    return o;
}

void write_junk(const std::string& path) {
    std::ofstream(path, std::ios::binary) << std::string(4096, 'x');
}

}  // namespace

TEST_CASE("a missing file is not_found in the words of its label", "[common][sqlite]") {
    TempDir dir;
    sql::Db db;
    Status s = db.open(dir.file("absent.db"), with(sql::kReplicaFile, false));
    CHECK(s.code() == Code::not_found);
    CHECK(s.message() == "no replica file at the given path");
    s = db.open(dir.file("absent.db"), with(sql::kCoordDb, false));
    CHECK(s.message() == "no coord.db at the given path");

    sql::Options ro = with(sql::FileLabel{"", "the file", ""});
    ro.read_only = true;
    s = db.open(dir.file("absent.db"), ro);
    CHECK(s.code() == Code::io);
    CHECK(s.message() == "cannot open the file: unable to open database file");
    s = db.open(dir.file("no-such-dir/x.db"), with(sql::kServerDb));
    CHECK(s.code() == Code::io);
    CHECK(s.message() == "cannot open server.db: unable to open database file");
}

TEST_CASE("a file that is not a database is corrupt, named as the label says", "[common][sqlite]") {
    TempDir dir;
    const std::string path = dir.file("junk.db");
    write_junk(path);
    struct Row {
        sql::FileLabel label;
        std::string message;
    };
    const Row rows[] = {
        {sql::kReplicaFile,
         "the file is not a MentorSync replica or is damaged (file is not a database)"},
        {sql::kServerDb,
         "server.db is not a MentorSync server database or is damaged (file is not a database)"},
        {sql::kCoordDb,
         "coord.db is not a MentorSync coordinator database or is damaged (file is not a "
         "database)"},
    };
    for (const Row& r : rows) {
        sql::Db db;
        REQUIRE(db.open(path, with(r.label)).ok());  // SQLite reads the header lazily
        const Status s = db.exec("PRAGMA journal_mode=WAL");
        CHECK(s.code() == Code::corrupt);
        CHECK(s.message() == r.message);
        auto st = db.prepare("SELECT 1 FROM sqlite_master");
        REQUIRE_FALSE(st.ok());
        CHECK(st.status().code() == Code::corrupt);
        CHECK(st.status().message() == r.message);
    }
}

TEST_CASE("statements bind and read integers, text, blobs and NULL", "[common][sqlite]") {
    TempDir dir;
    sql::Db db;
    REQUIRE(db.open(dir.file("t.db"), with(sql::kServerDb)).ok());
    REQUIRE(db.exec("CREATE TABLE t (id INTEGER PRIMARY KEY, s TEXT, b BLOB, n INTEGER)").ok());
    {
        auto ins = db.prepare("INSERT INTO t (id, s, b, n) VALUES (?1, ?2, ?3, ?4)");
        REQUIRE(ins.ok());
        REQUIRE(ins->bind(1, 1)
                    .bind_text(2, "R\xC4\x93zekne")
                    .bind_blob(3, "\0\1"s)
                    .bind_null(4)
                    .run()
                    .ok());
        CHECK(db.changes() == 1);
        REQUIRE(ins->reset().bind(1, 2).bind_text(2, "").bind_blob(3, "").bind(4, -7).run().ok());
    }
    auto sel = db.prepare("SELECT s, b, n, typeof(b) FROM t ORDER BY id");
    REQUIRE(sel.ok());
    REQUIRE(*sel->step());
    CHECK(sel->text(0) == "R\xC4\x93zekne");
    CHECK(sel->blob(1) == "\0\1"s);
    CHECK(sel->is_null(2));
    CHECK(sel->text(2) == "");
    REQUIRE(*sel->step());
    CHECK(sel->text(0) == "");
    CHECK(sel->text(3) == "blob");  // an empty blob is a blob, not NULL
    CHECK(sel->int64(2) == -7);
    CHECK_FALSE(*sel->step());
}

TEST_CASE("a failed step is io with SQLite's message, and the statement can run again",
          "[common][sqlite]") {
    TempDir dir;
    sql::Db db;
    REQUIRE(db.open(dir.file("t.db"), with(sql::kReplicaFile)).ok());
    REQUIRE(db.exec("CREATE TABLE t (id INTEGER PRIMARY KEY)").ok());
    auto ins = db.prepare_uncached("INSERT INTO t (id) VALUES (?1)");
    REQUIRE(ins.ok());
    REQUIRE(ins->bind(1, 5).run().ok());
    const Status dup = ins->reset().bind(1, 5).run();
    CHECK(dup.code() == Code::io);
    CHECK(dup.message() == "SQLite: UNIQUE constraint failed: t.id");
    CHECK(ins->reset().bind(1, 6).run().ok());
    const Status bad = db.exec("SELEC 1");
    CHECK(bad.code() == Code::io);
    CHECK(bad.message() == "SQLite: near \"SELEC\": syntax error");
    auto wrong = db.prepare("SELECT nope FROM t");
    REQUIRE_FALSE(wrong.ok());
    CHECK(wrong.status().message() == "SQLite prepare: no such column: nope");
}

TEST_CASE("the statement cache lends one statement per text and prepares afresh when nested",
          "[common][sqlite]") {
    TempDir dir;
    sql::Db db;
    REQUIRE(db.open(dir.file("t.db"), with(sql::kServerDb)).ok());
    REQUIRE(db.exec("CREATE TABLE t (id INTEGER PRIMARY KEY);"
                    "INSERT INTO t VALUES (1), (2), (3)")
                .ok());
    const std::string text = "SELECT id FROM t WHERE id >= ?1 ORDER BY id";
    {
        auto outer = db.prepare(text);
        REQUIRE(outer.ok());
        REQUIRE(*outer->bind(1, 2).step());
        CHECK(outer->int64(0) == 2);
        // The same text while the first is lent out: a statement of its own.
        auto inner = db.prepare(text);
        REQUIRE(inner.ok());
        REQUIRE(*inner->bind(1, 1).step());
        CHECK(inner->int64(0) == 1);
        REQUIRE(*outer->step());
        CHECK(outer->int64(0) == 3);
    }  // both given back mid-read: reset, bindings cleared
    auto again = db.prepare(text);
    REQUIRE(again.ok());
    REQUIRE(*again->bind(1, 3).step());
    CHECK(again->int64(0) == 3);
    CHECK_FALSE(*again->step());
}

TEST_CASE("the write-ahead log can be found, synced and checkpointed", "[common][sqlite]") {
    TempDir dir;
    sql::Db db;
    REQUIRE(db.open(dir.file("t.db"), with(sql::kServerDb)).ok());
    REQUIRE(db.exec("PRAGMA journal_mode=WAL").ok());
    REQUIRE(db.exec("CREATE TABLE t (id INTEGER PRIMARY KEY); INSERT INTO t VALUES (1)").ok());
    auto log = db.wal_file();
    REQUIRE(log.ok());
    CHECK(sql::sync_file(*log).ok());
    const sql::Checkpoint c = db.wal_checkpoint(SQLITE_CHECKPOINT_TRUNCATE);
    CHECK(c.rc == SQLITE_OK);

    sql::Db rollback;
    REQUIRE(rollback.open(dir.file("r.db"), with(sql::kServerDb)).ok());
    REQUIRE(rollback.exec("CREATE TABLE t (id INTEGER)").ok());
    auto none = rollback.wal_file();
    REQUIRE_FALSE(none.ok());
    CHECK(none.status().message() == "SQLite: server.db has no open log to sync");
}
