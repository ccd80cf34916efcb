// The store: full history, the server key file, sealing at rest, and the admin command line.
#include <sys/stat.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "cli/admin_cli.h"
#include "core/checkpointer.h"
#include "core_fixture.h"

using namespace mstest;

namespace {

std::string slurp(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
}

std::vector<std::string> leaks(const std::string& db, const std::vector<std::string>& secrets) {
    std::vector<std::string> found;
    for (const char* suffix : {"", "-wal", "-shm", "-journal"}) {
        std::string path = db + suffix;
        if (!std::filesystem::exists(path)) continue;
        std::string bytes = slurp(path);
        for (const auto& s : secrets)
            if (bytes.find(s) != std::string::npos) found.push_back(s + " in " + path);
    }
    return found;
}

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

}  // namespace

TEST_CASE("the server keeps every accepted transaction with its device, arrival and learner",
          "[server]") {
    CoreFixture f;
    Tablet t = f.tablet(f.mentor1);
    Uuid contact = CoreFixture::ok(t.replica->create("contacts", contact_fields(f.learner1)));
    f.push_pending(t);
    f.clock->advance(60'000);
    REQUIRE(t.replica->update("contacts", contact, {{"duration_min", 50}}).ok());
    f.push_pending(t);
    f.clock->advance(60'000);
    REQUIRE(t.replica->update("contacts", contact, {{"duration_min", 55}}).ok());
    f.push_pending(t);

    const auto head = CoreFixture::ok(f.store->head_seq());
    // learner1, learner2, two assignments, then the three writes: nothing overwritten.
    REQUIRE(head == 7);
    std::vector<std::int64_t> durations;
    for (std::int64_t seq = 5; seq <= head; ++seq) {
        StoredTxn s = CoreFixture::ok(f.store->load_txn(seq));
        CHECK(s.seq == seq);
        CHECK(s.device == t.who.device_id);
        CHECK(s.learners == std::vector<Uuid>{f.learner1});
        CHECK(s.txn.stamp.node == t.replica->node());
        for (const auto& ch : s.txn.changes)
            if (ch.field == "duration_min") durations.push_back(ch.value.as_int());
    }
    CHECK(durations == std::vector<std::int64_t>{45, 50, 55});
    StoredTxn first = CoreFixture::ok(f.store->load_txn(1));
    CHECK_FALSE(first.device.has_value());  // the admin API's, stamped with the server's node
    CHECK(first.txn.stamp.node == f.store->server_node());
    CHECK(CoreFixture::ok(f.store->load_txn(7)).received_ms -
              CoreFixture::ok(f.store->load_txn(5)).received_ms ==
          120'000);
}

TEST_CASE("each field's winning stamp is kept per row, and the later write wins", "[server]") {
    CoreFixture f;
    Tablet t = f.tablet(f.mentor1);
    Uuid contact = CoreFixture::ok(t.replica->create("contacts", contact_fields(f.learner1)));
    f.push_pending(t);
    const FieldStamps created = CoreFixture::ok(f.store->field_stamps_of(contact));
    for (const auto& [field, value] : contact_fields(f.learner1))
        REQUIRE(created.count(field) == 1);
    const Stamp first = created.at("duration_min");
    CHECK(first.node == t.replica->node());
    for (const auto& [field, stamp] : created)
        CHECK(stamp == first);  // one transaction wrote them all

    f.clock->advance(60'000);
    REQUIRE(t.replica->update("contacts", contact, {{"duration_min", 50}}).ok());
    f.push_pending(t);
    const FieldStamps updated = CoreFixture::ok(f.store->field_stamps_of(contact));
    CHECK(updated.size() == created.size());
    CHECK(first < updated.at("duration_min"));
    CHECK(updated.at("starts_at") == first);
    CHECK(CoreFixture::ok(f.store->field_stamp(contact, "duration_min")) ==
          updated.at("duration_min"));

    // Unknown rows and fields have no stamp; field names of any length and bytes round-trip.
    CHECK(CoreFixture::ok(f.store->field_stamp(contact, "no such field")).is_zero());
    CHECK(CoreFixture::ok(f.store->field_stamp(Uuid::random(), "duration_min")).is_zero());
    CHECK(CoreFixture::ok(f.store->field_stamps_of(Uuid::random())).empty());
    FieldStamps odd = updated;
    odd[std::string(300, 'x')] = Stamp{1, Uuid::random()};
    odd[std::string("a\0b", 3)] = Stamp{~0ull >> 1, Uuid::random()};
    REQUIRE(f.store->set_field_stamps(contact, odd).ok());
    CHECK(CoreFixture::ok(f.store->field_stamps_of(contact)) == odd);
    CHECK(f.store->set_field_stamps(Uuid::random(), odd).code() == Code::not_found);
}

TEST_CASE("unsynced commits are visible at once and sync_log syncs them, once per group",
          "[server]") {
    CoreFixture f;
    REQUIRE(f.store->sync_log().ok());  // nothing to sync yet
    const Uuid row = Uuid::random();
    REQUIRE(f.store
                ->transact_unsynced(
                    [&]() -> Status {
                        return f.store->add_row(row, {"contacts", f.learner1}, 1, FieldStamps{});
                    },
                    true)
                .ok());
    CHECK(CoreFixture::ok(f.store->find_row(row)).has_value());
    // A failed body commits nothing, synced or not.
    const Uuid lost = Uuid::random();
    CHECK_FALSE(f.store
                    ->transact_unsynced(
                        [&]() -> Status {
                            MS_RETURN_IF_ERROR(
                                f.store->add_row(lost, {"contacts", f.learner1}, 1, FieldStamps{}));
                            return Status::internal("changed my mind");
                        },
                        true)
                    .ok());
    CHECK_FALSE(CoreFixture::ok(f.store->find_row(lost)).has_value());
    // Many threads syncing at once all return; the store stays usable.
    std::vector<std::thread> threads;
    std::atomic<int> failures{0};
    for (int i = 0; i < 8; ++i)
        threads.emplace_back([&] {
            for (int k = 0; k < 20; ++k) {
                const Uuid r = Uuid::random();
                Status s = f.store->transact_unsynced(
                    [&]() -> Status {
                        return f.store->add_row(r, {"contacts", f.learner1}, 1, FieldStamps{});
                    },
                    true);
                if (!s.ok() || !f.store->sync_log().ok()) ++failures;
            }
        });
    for (auto& t : threads)
        t.join();
    CHECK(failures == 0);
    CHECK(f.store->sync_log().ok());
}

TEST_CASE(
    "acknowledged commits from many threads, a second store and restarting checkpoints all "
    "survive a reopen",
    "[server][store][concurrency]") {
    // The group commit under stress: 8 threads commit unsynced and sync_log as a push does, a
    // second SqliteStore on the same file commits with transact as the admin command line does,
    // and a checkpointer with a one-page threshold RESTARTs the log again and again, so SQLite
    // rewrites and syncs the log header while sync_log syncs the log from outside the store's
    // lock. Every commit acknowledged (transact, or transact_unsynced then sync_log both ok)
    // must be there after both stores close and the file reopens. Run it under
    // MENTORSYNC_TSAN (ctest -L tsan) to have the store's own locking checked too.
    TempDir dir;
    StoreOptions options;
    options.data_dir = dir.file("data");
    auto opened = open_sqlite_store(options);
    REQUIRE(opened.ok());
    std::unique_ptr<ServerStore> store = std::move(opened).value();
    options.create_if_missing = false;
    auto admin_opened = open_sqlite_store(options);
    REQUIRE(admin_opened.ok());
    std::unique_ptr<ServerStore> admin_store = std::move(admin_opened).value();
    auto restarter = WalCheckpointer::start({.path = dir.file("data/server.db"),
                                             .name = "server.db",
                                             .interval = std::chrono::milliseconds(1),
                                             .restart_pages = 1,
                                             .log = [](std::string_view) {}});
    REQUIRE(restarter.ok());

    constexpr int kWriters = 8, kEach = 25, kAdminWrites = 40;
    const Uuid learner = Uuid::random();
    std::vector<std::vector<Uuid>> acknowledged(kWriters + 1);
    std::atomic<int> failures{0};
    std::vector<std::thread> threads;
    for (int w = 0; w < kWriters; ++w)
        threads.emplace_back([&, w] {
            for (int k = 0; k < kEach; ++k) {
                const Uuid row = Uuid::random();
                Status s = store->transact_unsynced(
                    [&]() -> Status {
                        return store->add_row(row, {"contacts", learner}, 1, FieldStamps{});
                    },
                    true);
                if (s.ok()) s = store->sync_log();
                if (s.ok())
                    acknowledged[static_cast<std::size_t>(w)].push_back(row);
                else
                    ++failures;
            }
        });
    threads.emplace_back([&] {
        for (int k = 0; k < kAdminWrites; ++k) {
            const Uuid row = Uuid::random();
            Status s = admin_store->transact([&]() -> Status {
                return admin_store->add_row(row, {"contacts", learner}, 1, FieldStamps{});
            });
            if (s.ok())
                acknowledged[kWriters].push_back(row);
            else
                ++failures;
        }
    });
    for (auto& t : threads)
        t.join();
    CHECK(failures == 0);
    restarter->reset();
    admin_store.reset();
    store.reset();

    auto reopened = open_sqlite_store(options);
    REQUIRE(reopened.ok());
    std::size_t found = 0, total = 0;
    for (const auto& rows : acknowledged)
        for (const Uuid& row : rows) {
            ++total;
            if (CoreFixture::ok((*reopened)->find_row(row)).has_value()) ++found;
        }
    CHECK(total == kWriters * kEach + kAdminWrites);
    CHECK(found == total);
    CHECK(CoreFixture::ok((*reopened)->rows_of(learner)).size() == total);
}

TEST_CASE("a checkpointer for a file that is not there says which file it could not open",
          "[server][store]") {
    TempDir dir;
    auto cp = WalCheckpointer::start(
        {.path = dir.file("gone.db"), .name = "gone.db", .log = [](std::string_view) {}});
    REQUIRE_FALSE(cp.ok());
    CHECK(cp.status().message() ==
          "cannot open gone.db to checkpoint it: unable to open database file");
    CHECK_FALSE(std::filesystem::exists(dir.file("gone.db")));  // and it did not create it
}

TEST_CASE("server.key is created owner-only and a weak or missing key stops the start",
          "[server]") {
    TempDir dir;
    const std::string data = dir.file("data");
    StoreOptions o;
    o.data_dir = data;
    {
        auto s = open_sqlite_store(o);
        REQUIRE(s.ok());
    }
    const std::string key = data + "/server.key";
    struct stat st {};
    REQUIRE(::stat(key.c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0600);
    CHECK(st.st_size == 32);
    CHECK(std::filesystem::exists(data + "/server.db"));
    CHECK(open_sqlite_store(o).ok());  // reopens with the same key

    SECTION("readable by others") {
        REQUIRE(::chmod(key.c_str(), 0644) == 0);
        auto s = open_sqlite_store(o);
        REQUIRE_FALSE(s.ok());
        CHECK(s.status().message().find("chmod 600") != std::string::npos);
    }
    SECTION("missing while server.db exists") {
        std::filesystem::remove(key);
        auto s = open_sqlite_store(o);
        REQUIRE_FALSE(s.ok());
        CHECK(s.status().code() == Code::not_found);
        CHECK_FALSE(std::filesystem::exists(key));  // not silently replaced
    }
    SECTION("another key") {
        std::filesystem::remove(key);
        {
            std::ofstream k(key, std::ios::binary);
            k << std::string(32, 'k');
        }
        REQUIRE(::chmod(key.c_str(), 0600) == 0);
        auto s = open_sqlite_store(o);
        REQUIRE_FALSE(s.ok());
        CHECK(s.status().code() == Code::wrong_key);
    }
    SECTION("not 32 bytes") {
        std::filesystem::resize_file(key, 31);
        CHECK_FALSE(open_sqlite_store(o).ok());
    }
}

TEST_CASE("names, notes and labels never appear in plaintext in server.db, its WAL or shm",
          "[server]") {
    const std::vector<std::string> secrets = {
        "Zigfrīds Plaintextovskis", "NOTE-ZEBRA-4411 tēvs strādā ārzemēs", "MENTORS-KAPIBARA-5",
        "LABEL-ANTILOPE-31", "NEXT-STEP-PELIKĀNS-77"};
    std::string db;
    {
        CoreFixture f;
        db = f.dir.file("data") + "/server.db";
        Uuid mentor = CoreFixture::ok(f.admin->add_user(Role::mentor, f.centre, secrets[2]));
        Uuid learner = f.add_learner(secrets[0]);
        REQUIRE(f.admin->assign({learner, mentor, std::nullopt, ""}).ok());
        Tablet t = f.tablet(mentor, secrets[3]);
        Uuid c =
            CoreFixture::ok(t.replica->create("contacts", contact_fields(learner, secrets[1])));
        REQUIRE(t.replica->update("contacts", c, {{"next_steps", secrets[4]}}).ok());
        f.push_pending(t);
        CHECK(std::filesystem::exists(db + "-wal"));
        CHECK(leaks(db, secrets).empty());
        // The values are there, readable with the key.
        auto users = CoreFixture::ok(f.store->list_users());
        CHECK(std::any_of(users.begin(), users.end(),
                          [&](const User& u) { return u.display_name == secrets[2]; }));
        CHECK(CoreFixture::ok(f.admin->list_devices()).at(0).label == secrets[3]);
    }
    CHECK(leaks(db, secrets).empty());
}

TEST_CASE("the admin command line runs its commands and refuses bad input with exit codes",
          "[server]") {
    TempDir dir;
    const std::string data = dir.file("data");
    CHECK(admin_cli({}) == 2);
    CHECK(admin_cli({"frobnicate", "--data-dir", data}) == 2);
    CHECK(admin_cli({"init"}) == 2);  // no --data-dir
    CHECK(admin_cli({"add-municipality", "--data-dir", data, "--name", "X"}) == 1);  // no init
    REQUIRE(admin_cli({"init", "--data-dir", data}) == 0);
    CHECK(admin_cli({"add-municipality", "--data-dir", data, "--name", "Rīga"}) == 0);
    CHECK(admin_cli({"add-municipality", "--data-dir", data, "--name", "Rīga"}) == 1);  // twice
    CHECK(admin_cli({"add-municipality", "--data-dir", data}) == 2);  // --name missing
    CHECK(admin_cli({"add-municipality", "--data-dir", data, "--name", "A", "--bogus", "1"}) == 2);
    CHECK(admin_cli({"add-institution", "--data-dir", data, "--name", "C", "--kind", "school",
                     "--municipality", "not-a-uuid"}) == 2);
    CHECK(admin_cli({"add-institution", "--data-dir", data, "--name", "C", "--kind", "school",
                     "--municipality", Uuid::random().to_string()}) == 1);  // unknown
    CHECK(admin_cli({"add-user", "--data-dir", data, "--role", "wizard", "--name", "N"}) == 2);
    CHECK(admin_cli({"add-user", "--data-dir", data, "--role", "mentor", "--name", "N"}) ==
          1);  // a mentor needs an institution
    CHECK(admin_cli({"add-learner", "--data-dir", data, "--name", "N", "--birth-year", "x",
                     "--school", Uuid::random().to_string(), "--municipality",
                     Uuid::random().to_string(), "--grade", "8", "--education", "general"}) == 2);
    CHECK(admin_cli({"enroll-code", "--data-dir", data, "--user", Uuid::random().to_string()}) ==
          1);
    CHECK(admin_cli(
              {"revoke-device", "--data-dir", data, "--device", Uuid::random().to_string()}) == 1);
    CHECK(admin_cli({"list-devices", "--data-dir", data}) == 0);
    CHECK(admin_cli({"help"}) == 0);

    // A whole set-up through the command line; every answer is one JSON object per line.
    auto field = [](const std::string& line, const char* key) {
        return nlohmann::json::parse(line).at(key).get<std::string>();
    };
    std::string out;
    REQUIRE(admin_cli({"list-municipalities", "--data-dir", data}, &out) == 0);
    const std::string muni = field(out, "municipality_id");
    REQUIRE(admin_cli({"add-institution", "--data-dir", data, "--name", "Centrs", "--kind",
                       "youth_centre", "--municipality", muni},
                      &out) == 0);
    const std::string inst = field(out, "institution_id");
    REQUIRE(admin_cli({"add-user", "--data-dir", data, "--role", "mentor", "--name",
                       "Secret Mentor Name", "--institution", inst},
                      &out) == 0);
    CHECK(out.find("Secret Mentor Name") == std::string::npos);  // ids only
    const std::string user = field(out, "user_id");
    REQUIRE(admin_cli({"add-learner", "--data-dir", data, "--name", "Secret Learner Name",
                       "--birth-year", "2011", "--school", inst, "--municipality", muni, "--grade",
                       "8", "--education", "general"},
                      &out) == 0);
    CHECK(out.find("Secret Learner Name") == std::string::npos);
    const std::string learner = field(out, "learner_id");
    REQUIRE(admin_cli({"assign", "--data-dir", data, "--learner", learner, "--mentor", user,
                       "--start-date", "2026-09-01"},
                      &out) == 0);
    CHECK_FALSE(field(out, "assignment_id").empty());
    CHECK(admin_cli({"assign", "--data-dir", data, "--learner", learner, "--mentor", user,
                     "--start-date", "2026-13-01"}) == 1);  // not a date
    REQUIRE(admin_cli({"enroll-code", "--data-dir", data, "--user", user}, &out) == 0);
    CHECK(field(out, "code").size() == 19);
}

TEST_CASE("the admin API validates learners against the schema and organisation data", "[server]") {
    CoreFixture f;
    LearnerInput in;
    in.name = "N";
    in.birth_year = 2011;
    in.school_id = f.school;
    in.municipality_id = f.municipality;
    in.grade = 13;  // above 12
    in.education = "general";
    auto bad = f.admin->add_learner(in);
    REQUIRE_FALSE(bad.ok());
    CHECK(bad.status().code() == Code::validation);
    in.grade = 8;
    in.school_id = Uuid::random();
    CHECK(f.admin->add_learner(in).status().code() == Code::not_found);
    // Assigning to a non-mentor, or a non-learner, is refused.
    CHECK_FALSE(f.admin->assign({f.learner1, f.staff, std::nullopt, ""}).ok());
    CHECK_FALSE(f.admin->assign({Uuid::random(), f.mentor1, std::nullopt, ""}).ok());
    // The same assignment again changes nothing.
    const auto head = CoreFixture::ok(f.store->head_seq());
    auto same = CoreFixture::ok(f.admin->assign({f.learner1, f.mentor1, std::nullopt, ""}));
    CHECK(same.unchanged);
    CHECK(CoreFixture::ok(f.store->head_seq()) == head);
}

TEST_CASE("the service opens from a data directory for the HTTP layer", "[server]") {
    TempDir dir;
    ServiceOptions o;
    o.data_dir = dir.file("data");
    auto s = open_sync_service(o);
    REQUIRE(s.ok());
    CHECK((*s)->schema().version() == Schema::programme().version());
    o.create_if_missing = false;
    o.data_dir = dir.file("missing");
    CHECK_FALSE(open_sync_service(o).ok());
}

TEST_CASE("pushes and pulls from many threads at once all land, each exactly once", "[server]") {
    CoreFixture f;
    constexpr int kThreads = 4, kEach = 15;
    std::vector<Tablet> writers;
    for (int i = 0; i < kThreads; ++i)
        writers.push_back(f.tablet(f.mentor1));
    for (auto& w : writers)
        for (int j = 0; j < kEach; ++j)
            REQUIRE(w.replica->create("absences", absence_fields(f.learner1)).ok());
    Tablet reader = f.tablet(f.mentor1);
    std::atomic<int> failures{0};
    std::vector<std::thread> threads;
    for (auto& w : writers)
        threads.emplace_back([&f, &w, &failures] {
            auto txns = w.replica->pending(100);
            if (!txns.ok()) return void(++failures);
            // One transaction per push, so pushes interleave with each other and with pulls.
            for (const auto& t : *txns) {
                auto rq = f.signed_request(w, "body");
                if (!f.service->authenticate(rq).ok()) ++failures;
                auto r = f.service->push(w.who, Uuid::random(), "h", {t});
                if (!r.ok() || r->results.at(0).kind != wire::PushResult::Kind::accepted)
                    ++failures;
            }
        });
    threads.emplace_back([&f, &reader, &failures] {
        std::string cursor;
        for (int i = 0; i < 20; ++i) {
            auto r = f.service->pull(reader.who, cursor, 7);
            if (!r.ok()) return void(++failures);
            cursor = r->cursor;
        }
    });
    for (auto& t : threads)
        t.join();
    CHECK(failures == 0);
    CHECK(CoreFixture::ok(f.store->count_txns()) == 4 + kThreads * kEach);
    CHECK(f.pull_all(reader, 1000).size() == 2 + kThreads * kEach);
}
