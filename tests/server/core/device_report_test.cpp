// Device data quality in server.db: the report a device sends with its signed pulls (protocol
// §8) and the count of transactions the server rejected on its pushes, once per batch.
#include <msgpack.hpp>

#include <filesystem>

#include "common/sqlite.h"
#include "core_fixture.h"

using namespace mstest;

namespace {

std::optional<DeviceReportRow> report_of(CoreFixture& f, const Tablet& t) {
    auto d = CoreFixture::ok(f.store->find_device(t.who.device_id));
    REQUIRE(d.has_value());
    return d->report;
}

std::int64_t rejected_total_of(CoreFixture& f, const Tablet& t) {
    auto d = CoreFixture::ok(f.store->find_device(t.who.device_id));
    REQUIRE(d.has_value());
    return d->rejected_total;
}

// A contact about `learner`, written on the tablet; returns the pending transaction.
Transaction contact_on(Tablet& t, const Uuid& learner, const Uuid& mentor) {
    REQUIRE(t.replica
                ->create("contacts", {{"learner_id", learner.to_string()},
                                      {"mentor_id", mentor.to_string()},
                                      {"starts_at", "2026-11-20T10:00"},
                                      {"duration_min", 30},
                                      {"place", "school"},
                                      {"form", "individual"}})
                .ok());
    auto pending = CoreFixture::ok(t.replica->pending(1000));
    REQUIRE_FALSE(pending.empty());
    return pending.back();
}

}  // namespace

namespace {
// server.db opened directly, as an older server version would have left it.
const mentorsync::common::sql::Options kServerDbFile{.create = false,
                                                     .label = mentorsync::common::sql::kServerDb};
}  // namespace

TEST_CASE("a signed pull's report is stored for its device only, the latest one kept",
          "[server][report]") {
    CoreFixture f;
    Tablet a = f.tablet(f.mentor1);
    Tablet b = f.tablet(f.mentor2);
    CHECK_FALSE(report_of(f, a));  // never reported: NULL, not zeros
    CHECK(rejected_total_of(f, a) == 0);

    const std::int64_t t1 = f.clock->now_ms();
    f.signed_pull(a, wire::DeviceReport{3, 1, 2});
    auto r = report_of(f, a);
    REQUIRE(r);
    CHECK(r->pending == 3);
    CHECK(r->quarantined == 1);
    CHECK(r->rejected == 2);
    CHECK(r->reported_ms == t1);
    CHECK_FALSE(report_of(f, b));  // another device's figures are untouched

    // A later report replaces it; a pull without one (an older client) leaves it as it was.
    f.clock->advance(60'000);
    f.signed_pull(a, wire::DeviceReport{0, 0, 1});
    r = report_of(f, a);
    REQUIRE(r);
    CHECK((r->pending == 0 && r->quarantined == 0 && r->rejected == 1));
    CHECK(r->reported_ms == t1 + 60'000);
    f.clock->advance(60'000);
    f.signed_pull(a, std::nullopt);
    r = report_of(f, a);
    REQUIRE(r);
    CHECK(r->reported_ms == t1 + 60'000);
    CHECK(r->rejected == 1);
    // The last-seen time moved on all the same.
    CHECK(CoreFixture::ok(f.store->find_device(a.who.device_id))->last_seen_ms == t1 + 120'000);

    // A replayed request stores nothing.
    wire::PullRequest pr;
    pr.report = wire::DeviceReport{9, 9, 9};
    const std::string body = wire::encode_pull_request(pr);
    SignedRequest once = f.signed_request(a, body, "/v1/sync/pull");
    REQUIRE(f.service->authenticate(once).ok());
    CHECK(report_of(f, a)->pending == 9);
    f.signed_pull(a, wire::DeviceReport{1, 1, 1});
    auto replay = f.service->authenticate(once);
    REQUIRE_FALSE(replay.ok());
    CHECK(error_code(replay) == "replayed_nonce");
    CHECK(report_of(f, a)->pending == 1);

    // A report over the bound does not decode: nothing of it is stored (the pull handler
    // answers 400 bad_request, see the integration bad-request test).
    msgpack::sbuffer over;
    {
        msgpack::packer<msgpack::sbuffer> pk(over);
        pk.pack_map(2);
        pk.pack("cursor");
        pk.pack_bin(0);
        pk.pack("report");
        pk.pack_array(3);
        pk.pack_uint64(wire::kMaxReportedCount + 1);
        pk.pack_uint64(0);
        pk.pack_uint64(0);
    }
    const std::string over_body(over.data(), over.size());
    REQUIRE_FALSE(wire::decode_pull_request(over_body).ok());
    REQUIRE(f.service->authenticate(f.signed_request(a, over_body, "/v1/sync/pull")).ok());
    CHECK(report_of(f, a)->pending == 1);

    // A push body is never read as a report, whatever it holds.
    REQUIRE(f.service->authenticate(f.signed_request(a, body, "/v1/sync/push")).ok());
    CHECK(report_of(f, a)->pending == 1);
}

TEST_CASE("rejections are counted once per batch; a retried batch adds nothing",
          "[server][report]") {
    CoreFixture f;
    Tablet t = f.tablet(f.mentor1);
    f.pull_all(t);
    // learner2 is mentor2's: out of scope for mentor1. learner1 is in scope.
    std::vector<Transaction> txns = {contact_on(t, f.learner2, f.mentor1),
                                     contact_on(t, f.learner1, f.mentor1)};
    Transaction foreign = txns[1];
    foreign.stamp.node = Uuid::random();
    txns.push_back(foreign);  // a second rejection in the same batch: foreign_node

    const Uuid batch = Uuid::random();
    auto first = f.service->push(t.who, batch, "hash-1", txns);
    REQUIRE(first.ok());
    REQUIRE(first->results.size() == 3);
    CHECK(first->results[0].code == "out_of_scope");
    CHECK(first->results[1].kind == wire::PushResult::Kind::accepted);
    CHECK(first->results[2].code == "foreign_node");
    CHECK(rejected_total_of(f, t) == 2);

    // The same batch again (a lost answer): the stored answer, and no second count.
    auto again = f.service->push(t.who, batch, "hash-1", txns);
    REQUIRE(again.ok());
    REQUIRE(again->results.size() == 3);
    CHECK(again->results[0].code == "out_of_scope");
    CHECK(rejected_total_of(f, t) == 2);
    // The same batch id with other content is refused whole: nothing counted.
    auto mismatch = f.service->push(t.who, batch, "hash-2", txns);
    REQUIRE_FALSE(mismatch.ok());
    CHECK(error_code(mismatch) == "batch_mismatch");
    CHECK(rejected_total_of(f, t) == 2);

    // A push with nothing rejected leaves the count alone (no extra write).
    auto fine =
        f.service->push(t.who, Uuid::random(), "hash-3", {contact_on(t, f.learner1, f.mentor1)});
    REQUIRE(fine.ok());
    CHECK(fine->results.at(0).kind == wire::PushResult::Kind::accepted);
    CHECK(rejected_total_of(f, t) == 2);

    // Sent again in a new batch (the user's retry), the out-of-scope one is a new rejection
    // answer and counts again: the figure counts rejection answers, not distinct transactions.
    auto resent = f.service->push(t.who, Uuid::random(), "hash-4", {txns[0]});
    REQUIRE(resent.ok());
    CHECK(resent->results.at(0).code == "out_of_scope");
    CHECK(rejected_total_of(f, t) == 3);

    // Other devices are untouched.
    Tablet other = f.tablet(f.mentor2);
    CHECK(rejected_total_of(f, other) == 0);
}

TEST_CASE("a format 2 server.db is upgraded in place to format 3", "[server][report]") {
    TempDir dir;
    StoreOptions o;
    Uuid device;
    {
        CoreFixture f;
        Tablet t = f.tablet(f.mentor1);
        device = t.who.device_id;
        f.signed_pull(t, wire::DeviceReport{1, 2, 3});
        // Close everything over the store, copy the data directory, and turn the copy back
        // into format 2 below.
        f.service.reset();
        f.admin.reset();
        f.state.reset();
        f.store.reset();
        std::filesystem::copy(f.dir.file("data"), dir.file("old"),
                              std::filesystem::copy_options::recursive);
    }
    o.data_dir = dir.file("old");
    {
        mentorsync::common::sql::Db db;
        REQUIRE(db.open(o.data_dir + "/server.db", kServerDbFile).ok());
        for (const char* col : {"report_pending", "report_quarantined", "report_rejected",
                                "report_ms", "rejected_total"})
            REQUIRE(db.exec(std::string("ALTER TABLE devices DROP COLUMN ") + col).ok());
        REQUIRE(db.exec("UPDATE meta SET value='2' WHERE key='format'").ok());
    }
    auto store = open_sqlite_store(o);
    INFO(store.status().to_string());
    REQUIRE(store.ok());
    auto d = CoreFixture::ok((*store)->find_device(device));
    REQUIRE(d.has_value());
    CHECK_FALSE(d->report);  // format 2 had none: "never reported"
    CHECK(d->rejected_total == 0);
    REQUIRE((*store)->set_device_report(device, {4, 5, 6, 7}).ok());
    REQUIRE((*store)->add_device_rejections(device, 2).ok());
    d = CoreFixture::ok((*store)->find_device(device));
    REQUIRE(d->report);
    CHECK(d->report->rejected == 6);
    CHECK(d->rejected_total == 2);
    store->reset();

    // Opened again it is format 3 and stays as it is; format 1 is still refused.
    auto again = open_sqlite_store(o);
    REQUIRE(again.ok());
    CHECK(CoreFixture::ok((*again)->find_device(device))->rejected_total == 2);
    again->reset();
    {
        mentorsync::common::sql::Db db;
        REQUIRE(db.open(o.data_dir + "/server.db", kServerDbFile).ok());
        auto st = db.prepare("SELECT value FROM meta WHERE key='format'");
        REQUIRE(st.ok());
        REQUIRE(*st->step());
        CHECK(st->text(0) == "3");
    }
    {
        mentorsync::common::sql::Db db;
        REQUIRE(db.open(o.data_dir + "/server.db", kServerDbFile).ok());
        REQUIRE(db.exec("UPDATE meta SET value='1' WHERE key='format'").ok());
    }
    auto refused = open_sqlite_store(o);
    REQUIRE_FALSE(refused.ok());
    CHECK(refused.status().code() == Code::unsupported);
}

TEST_CASE(
    "an authenticated request the handler refuses has used its nonce and its last-seen time, "
    "and a refused pull keeps nothing of its report",
    "[server][report][auth]") {
    CoreFixture f;
    Tablet a = f.tablet(f.mentor1);
    Tablet b = f.tablet(f.mentor1);

    // A pull whose cursor is another device's: the pull handler refuses it (400), so the report
    // it carries is not kept; the nonce and the last-seen time are.
    const std::string b_cursor = f.pull(b, "").cursor;
    wire::PullRequest pr;
    pr.cursor = b_cursor;
    pr.report = wire::DeviceReport{7, 7, 7};
    const std::string body = wire::encode_pull_request(pr);
    f.clock->advance(1'000);
    const std::int64_t t = f.clock->now_ms();
    SignedRequest rq = f.signed_request(a, body, "/v1/sync/pull");
    auto who = f.service->authenticate(rq);
    REQUIRE(who.ok());
    auto refused = f.service->pull(*who, pr.cursor, 10);
    REQUIRE_FALSE(refused.ok());
    CHECK(http_status_of(refused) == 400);
    CHECK_FALSE(report_of(f, a));
    CHECK(CoreFixture::ok(f.store->find_device(a.who.device_id))->last_seen_ms == t);

    // The same signed request again is a replay, even though it was refused: a retry must be
    // signed afresh (new nonce and timestamp).
    auto again = f.service->authenticate(rq);
    REQUIRE_FALSE(again.ok());
    CHECK(error_code(again) == "replayed_nonce");
    CHECK(f.service->authenticate(f.signed_request(a, body, "/v1/sync/pull")).ok());

    // A pull whose cursor is good keeps its report.
    pr.cursor = f.pull(a, "").cursor;
    pr.report = wire::DeviceReport{1, 2, 3};
    REQUIRE(
        f.service->authenticate(f.signed_request(a, wire::encode_pull_request(pr), "/v1/sync/pull"))
            .ok());
    REQUIRE(report_of(f, a));
    CHECK(report_of(f, a)->quarantined == 2);
}
