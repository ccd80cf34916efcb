// coord.db: accounts, lockout, sessions, CSRF, API tokens and the hash-chained audit log.
#include <sqlite3.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "coord/coord_store.h"
#include "coord/csv.h"
#include "core/admin.h"
#include "test_support.h"

using namespace mentorsync;
using namespace mentorsync::server;
using namespace mentorsync::server::coord;

namespace {

constexpr const char* kPassword = "pareizā parole 123";

struct StoreFixture {
    mstest::TempDir dir;
    std::shared_ptr<ManualClock> clock = std::make_shared<ManualClock>(1'790'000'000'000);
    std::unique_ptr<CoordStore> store;
    std::vector<std::string> log;

    StoreFixture() {
        // `admin init` equivalent: server.key and server.db.
        REQUIRE(Admin::open(data(), true, clock, [](std::string_view) {}).ok());
        reopen();
    }
    std::string data() const { return dir.file("data"); }
    void reopen() {
        store.reset();
        CoordStoreOptions o;
        o.data_dir = data();
        o.clock = clock;
        o.log = [this](std::string_view l) { log.emplace_back(l); };
        auto s = CoordStore::open(o);
        INFO(s.status().to_string());
        REQUIRE(s.ok());
        store = std::move(s).value();
    }
    // Runs SQL on coord.db directly, as someone with file access would.
    void tamper(const std::string& sql) {
        sqlite3* db = nullptr;
        REQUIRE(sqlite3_open(dir.file("data/coord.db").c_str(), &db) == SQLITE_OK);
        char* err = nullptr;
        const int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err);
        INFO((err ? err : ""));
        sqlite3_free(err);
        sqlite3_close(db);
        REQUIRE(rc == SQLITE_OK);
    }
    std::string file_bytes(const std::string& name) {
        std::ifstream f(dir.file("data/" + name), std::ios::binary);
        return std::string(std::istreambuf_iterator<char>(f), {});
    }
};

}  // namespace

TEST_CASE("coordinator accounts: validation, and passwords stored only as Argon2id", "[server]") {
    StoreFixture f;
    const Uuid muni = Uuid::random();
    CHECK(f.store->add_account("ab", CoordRole::admin, std::nullopt, kPassword).status().code() ==
          Code::invalid_argument);
    CHECK(f.store->add_account("Anna Bērziņa", CoordRole::admin, std::nullopt, kPassword)
              .status()
              .code() == Code::invalid_argument);
    CHECK(f.store->add_account("anna", CoordRole::admin, std::nullopt, "short").status().code() ==
          Code::invalid_argument);
    CHECK(f.store->add_account("anna", CoordRole::municipality, std::nullopt, kPassword)
              .status()
              .code() == Code::invalid_argument);
    CHECK(f.store->add_account("anna", CoordRole::national, muni, kPassword).status().code() ==
          Code::invalid_argument);
    auto a = f.store->add_account("Anna", CoordRole::municipality, muni, kPassword);
    REQUIRE(a.ok());
    CHECK(a->username == "anna");
    CHECK(f.store->add_account("anna", CoordRole::admin, std::nullopt, kPassword).status().code() ==
          Code::invalid_argument);
    // Neither the password nor anything but its Argon2id string is in the database file.
    const std::string bytes = f.file_bytes("coord.db") + f.file_bytes("coord.db-wal");
    CHECK(bytes.find("pareiz") == std::string::npos);
    CHECK(bytes.find("$argon2id$") != std::string::npos);
}

TEST_CASE("sign-in lockout: the delay grows with each failure and survives a restart", "[server]") {
    StoreFixture f;
    REQUIRE(f.store->add_account("vita", CoordRole::national, std::nullopt, kPassword).ok());
    for (int i = 1; i < CoordStore::kLockoutThreshold; ++i) {
        auto r = f.store->sign_in("vita", "wrong password!!");
        REQUIRE(r.ok());
        CHECK(r->kind == SignInResult::Kind::bad_credentials);
        CHECK(r->failures == i);
    }
    // The 5th failure locks for 30 s; during it even the right password is refused.
    REQUIRE(f.store->sign_in("vita", "wrong password!!")->kind ==
            SignInResult::Kind::bad_credentials);
    auto locked = f.store->sign_in("vita", kPassword);
    REQUIRE(locked.ok());
    CHECK(locked->kind == SignInResult::Kind::locked_out);
    CHECK(locked->retry_after_s == 30);

    f.clock->advance(31'000);
    REQUIRE(f.store->sign_in("vita", "wrong again!!!!")->kind ==
            SignInResult::Kind::bad_credentials);
    // The 6th failure: 60 s, persisted in coord.db.
    f.reopen();
    auto second = f.store->sign_in("vita", kPassword);
    CHECK(second->kind == SignInResult::Kind::locked_out);
    CHECK(second->retry_after_s == 60);
    f.clock->advance(61'000);
    REQUIRE(f.store->sign_in("vita", "and again!!!!!!")->kind ==
            SignInResult::Kind::bad_credentials);
    CHECK(f.store->sign_in("vita", kPassword)->retry_after_s == 120);

    // Unknown usernames are counted and locked the same way: the answer reveals nothing.
    for (int i = 0; i < CoordStore::kLockoutThreshold; ++i)
        CHECK(f.store->sign_in("nobody", kPassword)->kind == SignInResult::Kind::bad_credentials);
    CHECK(f.store->sign_in("nobody", kPassword)->kind == SignInResult::Kind::locked_out);

    // After the wait the right password works and clears the counter.
    f.clock->advance(121'000);
    auto ok = f.store->sign_in("VITA", kPassword);
    REQUIRE(ok.ok());
    CHECK(ok->kind == SignInResult::Kind::ok);
    f.clock->advance(1000);
    CHECK(f.store->sign_in("vita", "wrong password!!")->failures == 1);
}

TEST_CASE("sessions: hashed ids, idle and absolute expiry, sign-out, CSRF tokens", "[server]") {
    StoreFixture f;
    REQUIRE(f.store->add_account("admin", CoordRole::admin, std::nullopt, kPassword).ok());
    auto r = f.store->sign_in("admin", kPassword);
    REQUIRE(r.ok());
    REQUIRE(r->kind == SignInResult::Kind::ok);
    CHECK(r->session_id.size() == 43);
    CHECK(f.file_bytes("coord.db").find(r->session_id) == std::string::npos);
    CHECK(f.file_bytes("coord.db-wal").find(r->session_id) == std::string::npos);

    auto c = f.store->session_caller(r->session_id);
    REQUIRE(c.ok());
    REQUIRE(c->has_value());
    CHECK((*c)->account.username == "admin");
    CHECK_FALSE(f.store->session_caller(r->session_id + "x")->has_value());

    // CSRF: the session's token, nothing else.
    CHECK(f.store->check_csrf(r->session_id, r->csrf_token));
    CHECK(f.store->csrf_token(r->session_id) == r->csrf_token);
    CHECK_FALSE(f.store->check_csrf(r->session_id, ""));
    auto other = f.store->sign_in("admin", kPassword);
    CHECK_FALSE(f.store->check_csrf(r->session_id, other->csrf_token));

    // Idle: 29 minutes apart keeps it alive (sliding), 31 minutes of silence ends it.
    for (int i = 0; i < 3; ++i) {
        f.clock->advance(29 * 60 * 1000);
        CHECK(f.store->session_caller(r->session_id)->has_value());
    }
    f.clock->advance(31 * 60 * 1000);
    CHECK_FALSE(f.store->session_caller(r->session_id)->has_value());

    // Absolute: 8 hours even when used all the time.
    auto s2 = f.store->sign_in("admin", kPassword);
    for (int i = 0; i < 16; ++i) {
        f.clock->advance(29 * 60 * 1000);
        CHECK(f.store->session_caller(s2->session_id)->has_value());
    }
    f.clock->advance(29 * 60 * 1000);
    CHECK_FALSE(f.store->session_caller(s2->session_id)->has_value());

    auto s3 = f.store->sign_in("admin", kPassword);
    REQUIRE(f.store->end_session(s3->session_id).ok());
    CHECK_FALSE(f.store->session_caller(s3->session_id)->has_value());

    // Disabling an account ends its sessions.
    auto s4 = f.store->sign_in("admin", kPassword);
    REQUIRE(f.store->set_disabled("admin", true).ok());
    CHECK_FALSE(f.store->session_caller(s4->session_id)->has_value());
    CHECK(f.store->sign_in("admin", kPassword)->kind == SignInResult::Kind::bad_credentials);
}

TEST_CASE("API tokens: shown once, stored hashed, expire, revocable", "[server]") {
    StoreFixture f;
    REQUIRE(f.store->add_account("skripts", CoordRole::national, std::nullopt, kPassword).ok());
    auto t = f.store->issue_token("skripts", "monthly report", 30);
    REQUIRE(t.ok());
    CHECK(t->token.rfind("mst_" + t->info.id + "_", 0) == 0);
    const std::string secret = t->token.substr(21);
    CHECK(f.file_bytes("coord.db").find(secret) == std::string::npos);
    CHECK(f.file_bytes("coord.db-wal").find(secret) == std::string::npos);

    auto c = f.store->token_caller(t->token);
    REQUIRE(c.ok());
    REQUIRE(c->has_value());
    CHECK((*c)->account.username == "skripts");
    CHECK((*c)->via == Caller::Via::token);
    // A wrong secret with the right id, garbage, and an expired token are all refused.
    std::string forged = t->token;
    forged.back() = forged.back() == 'A' ? 'B' : 'A';
    CHECK_FALSE(f.store->token_caller(forged)->has_value());
    CHECK_FALSE(f.store->token_caller("mst_garbage")->has_value());
    CHECK_FALSE(f.store->token_caller("")->has_value());

    auto forever = f.store->issue_token("skripts", "no expiry", 0);
    f.clock->advance(31LL * 86'400'000);
    CHECK_FALSE(f.store->token_caller(t->token)->has_value());
    CHECK(f.store->token_caller(forever->token)->has_value());

    REQUIRE(f.store->revoke_token(forever->info.id).ok());
    CHECK_FALSE(f.store->token_caller(forever->token)->has_value());
    CHECK(f.store->revoke_token(forever->info.id).code() == Code::not_found);
    CHECK(f.store->issue_token("nobody", "x", 0).status().code() == Code::not_found);
    CHECK(f.store->issue_token("skripts", "", 0).status().code() == Code::invalid_argument);
}

TEST_CASE("audit log: the hash chain detects an edited or deleted entry", "[server]") {
    StoreFixture f;
    auto acc = f.store->add_account("admin", CoordRole::admin, std::nullopt, kPassword);
    REQUIRE(acc.ok());
    for (int i = 0; i < 5; ++i)
        REQUIRE(
            f.store->audit(*acc, "", "view_records", "ok", "{\"count\":" + std::to_string(i) + "}")
                .ok());
    auto v = f.store->verify_audit();
    REQUIRE(v.ok());
    CHECK(v->ok);
    CHECK(v->entries == 5);
    CHECK(v->head_hash.size() == 64);
    // Every append is also logged with its hash (the copy outside coord.db).
    CHECK(f.log.back().find(v->head_hash) != std::string::npos);

    SECTION("an edited detail") {
        f.tamper("UPDATE audit SET detail='{\"count\":99}' WHERE seq=3");
        auto bad = f.store->verify_audit();
        CHECK_FALSE(bad->ok);
        CHECK(bad->first_bad_seq == 3);
    }
    SECTION("an edit with the hash recomputed without the key still fails") {
        f.tamper("UPDATE audit SET outcome='failed' WHERE seq=2");
        f.tamper("UPDATE audit SET hash=randomblob(32) WHERE seq=2");
        CHECK(f.store->verify_audit()->first_bad_seq == 2);
    }
    SECTION("a deleted entry") {
        f.tamper("DELETE FROM audit WHERE seq=4");
        auto bad = f.store->verify_audit();
        CHECK_FALSE(bad->ok);
        CHECK(bad->first_bad_seq == 4);
        CHECK(bad->problem.find("missing") != std::string::npos);
    }
    SECTION("deleted and renumbered") {
        f.tamper("DELETE FROM audit WHERE seq=2; UPDATE audit SET seq=seq-1 WHERE seq>2");
        CHECK(f.store->verify_audit()->first_bad_seq == 2);
    }
    SECTION("the first entry deleted") {
        f.tamper("DELETE FROM audit WHERE seq=1");
        CHECK(f.store->verify_audit()->first_bad_seq == 1);
    }
}

TEST_CASE("CSV: BOM, RFC 4180 quoting, Latvian letters, formula guard", "[server]") {
    CHECK(csv_cell("plain") == "plain");
    CHECK(csv_cell("a,b") == "\"a,b\"");
    CHECK(csv_cell("say \"hi\"") == "\"say \"\"hi\"\"\"");
    CHECK(csv_cell("two\nlines") == "\"two\nlines\"");
    CHECK(csv_cell("=SUM(A1:A9)") == "'=SUM(A1:A9)");
    CHECK(csv_cell("+371 2000000") == "'+371 2000000");
    CHECK(csv_cell("-5") == "'-5");
    CHECK(csv_cell("@cmd") == "'@cmd");
    CHECK(csv_cell("=HYPERLINK(\"x\",\"y\")") == "\"'=HYPERLINK(\"\"x\"\",\"\"y\"\")\"");
    CHECK(csv_cell("") == "");
    const std::string latvian = "āčēģīķļņšūž ĀČĒĢĪĶĻŅŠŪŽ";
    CHECK(csv_cell(latvian) == latvian);
    const std::string doc = csv_document({"vārds", "skaits"}, {{"Jānis, Ķegums", "3"}, {"", "x"}});
    CHECK(doc == "\xEF\xBB\xBFvārds,skaits\r\n\"Jānis, Ķegums\",3\r\n,x\r\n");
}

TEST_CASE("a coordinator password or an organisation name that is not valid UTF-8 is refused",
          "[server][coord]") {
    StoreFixture f;
    // 12 lead bytes, so counting lead bytes (as before) saw 12 characters; \xff is never UTF-8.
    const std::string bad_password = "abcdefghijk\xff";
    auto acc = f.store->add_account("riga", CoordRole::admin, std::nullopt, bad_password);
    REQUIRE_FALSE(acc.ok());
    CHECK(acc.status().code() == Code::invalid_argument);
    CHECK(acc.status().message() == "password: not valid UTF-8");
    REQUIRE(f.store->add_account("riga", CoordRole::admin, std::nullopt, kPassword).ok());
    CHECK(f.store->set_password("riga", "\xc3\x28 twelve bytes").message() ==
          "password: not valid UTF-8");

    auto admin = Admin::open(
        f.data(), false, f.clock, [](std::string_view) {}, false);
    REQUIRE(admin.ok());
    auto m = (*admin)->add_municipality("Novads \xe2\x82");  // a truncated 3-byte sequence
    REQUIRE_FALSE(m.ok());
    CHECK(m.status().message() == "name: not valid UTF-8");
    CHECK((*admin)->add_municipality("Ādažu novads").ok());
}

TEST_CASE("a damaged coord.db is reported as coord.db, not as server.db", "[server][coord]") {
    StoreFixture f;
    f.store.reset();
    for (const char* suffix : {"", "-wal", "-shm"})
        std::filesystem::remove(f.dir.file(std::string("data/coord.db") + suffix));
    {
        std::ofstream out(f.dir.file("data/coord.db"), std::ios::binary);
        out << std::string(4096, 'x');
    }
    CoordStoreOptions o;
    o.data_dir = f.data();
    o.clock = f.clock;
    o.log = [](std::string_view) {};
    auto s = CoordStore::open(o);
    REQUIRE_FALSE(s.ok());
    INFO(s.status().to_string());
    CHECK(s.status().message().find("coord.db is not a MentorSync coordinator database") !=
          std::string::npos);
    CHECK(s.status().message().find("server.db") == std::string::npos);
}
