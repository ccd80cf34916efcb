// Push (protocol §7): results per transaction, batch idempotency, and nothing stored for what
// is rejected.
#include "core_fixture.h"

using namespace mstest;

namespace {

// A hand-made transaction of `node` at `ms`: one new contact of `learner`.
Transaction contact_txn(const Uuid& node, std::int64_t ms, const Uuid& learner,
                        std::int64_t duration = 45) {
    Transaction t;
    t.stamp = Stamp{static_cast<std::uint64_t>(ms) << Stamp::kCounterBits, node};
    const Uuid row = Uuid::random();
    for (auto& [field, value] : contact_fields(learner, "pushed notes"))
        t.changes.push_back(
            {"contacts", row, field, field == "duration_min" ? Value(duration) : value, {}, {}});
    return t;
}

std::int64_t history_size(CoreFixture& f) {
    return CoreFixture::ok(f.store->count_txns());
}

}  // namespace

TEST_CASE("a push of transactions in scope is accepted and stored durably", "[server]") {
    CoreFixture f;
    Tablet t = f.tablet(f.mentor1);
    const auto before = history_size(f);
    Uuid contact = CoreFixture::ok(t.replica->create("contacts", contact_fields(f.learner1)));
    REQUIRE(t.replica->create("absences", absence_fields(f.learner1)).ok());
    wire::PushResponse r = f.push_pending(t);
    REQUIRE(r.results.size() == 2);
    CHECK(r.results[0].kind == wire::PushResult::Kind::accepted);
    CHECK(r.results[1].kind == wire::PushResult::Kind::accepted);
    CHECK(r.server_time_ms == f.clock->now_ms());
    CHECK(history_size(f) == before + 2);
    auto row = CoreFixture::ok(f.store->find_row(contact));
    REQUIRE(row);
    CHECK(row->learner == f.learner1);
}

TEST_CASE("a device may update its learner but not create learners or touch assignments",
          "[server]") {
    CoreFixture f;
    Tablet t = f.tablet(f.mentor1);
    f.pull_all(t);  // the learner and its assignment arrive on the tablet
    REQUIRE(t.replica->update("learners", f.learner1, {{"grade", 9}}).ok());
    wire::PushResponse updated = f.push_pending(t);
    CHECK(updated.results.at(0).kind == wire::PushResult::Kind::accepted);

    REQUIRE(t.replica->create("learners", learner_fields("New Learner")).ok());
    wire::PushResponse created = f.push_pending(t);
    CHECK(created.results.at(0).kind == wire::PushResult::Kind::rejected);
    CHECK(created.results.at(0).code == "out_of_scope");

    Query q;
    q.collection = "assignments";
    auto cases = CoreFixture::ok(t.replica->query(q));
    REQUIRE(cases.size() == 1);
    REQUIRE(t.replica->update("assignments", cases[0].id, {{"status", "paused"}}).ok());
    wire::PushResponse assignment = f.push_pending(t);
    CHECK(assignment.results.at(0).code == "out_of_scope");
}

TEST_CASE("a transaction already held is result 1, by stamp, in any batch", "[server]") {
    CoreFixture f;
    Tablet t = f.tablet(f.mentor1);
    REQUIRE(t.replica->create("contacts", contact_fields(f.learner1)).ok());
    auto txns = CoreFixture::ok(t.replica->pending(10));
    auto first = f.service->push(t.who, Uuid::random(), "hash-1", txns);
    REQUIRE(first.ok());
    const auto size = history_size(f);
    auto second = f.service->push(t.who, Uuid::random(), "hash-2", txns);
    REQUIRE(second.ok());
    CHECK(second->results.at(0).kind == wire::PushResult::Kind::held);
    CHECK(history_size(f) == size);
}

TEST_CASE(
    "a repeated batch gets its stored response and a reused batch id with new content "
    "is batch_mismatch",
    "[server]") {
    CoreFixture f;
    Tablet t = f.tablet(f.mentor1);
    REQUIRE(t.replica->create("contacts", contact_fields(f.learner1)).ok());
    auto txns = CoreFixture::ok(t.replica->pending(10));
    const Uuid batch = Uuid::random();
    auto first = f.service->push(t.who, batch, "same-hash", txns);
    REQUIRE(first.ok());
    const auto size = history_size(f);
    f.clock->advance(1000);
    auto again = f.service->push(t.who, batch, "same-hash", txns);
    REQUIRE(again.ok());
    // The very response given the first time: accepted (0), not "already held" (1).
    CHECK(again->results.at(0).kind == wire::PushResult::Kind::accepted);
    CHECK(again->server_time_ms == first->server_time_ms);
    CHECK(history_size(f) == size);

    auto mismatch = f.service->push(t.who, batch, "other-hash", txns);
    REQUIRE_FALSE(mismatch.ok());
    CHECK(http_status_of(mismatch) == 409);
    CHECK(error_code(mismatch) == "batch_mismatch");

    // Batch ids are per device: another device may use the same id.
    Tablet other = f.tablet(f.mentor1);
    CHECK(f.service->push(other.who, batch, "x", {}).ok());
}

TEST_CASE("rejected transactions get their code and nothing of them is stored", "[server]") {
    CoreFixture f;
    Tablet t = f.tablet(f.mentor1);
    const Uuid node = t.replica->node();
    const std::int64_t now = f.clock->now_ms();
    const auto size = history_size(f);

    std::vector<Transaction> txns;
    txns.push_back(contact_txn(node, now, f.learner2));                // another mentor's
    txns.push_back(contact_txn(node, now + 1, f.learner1, 900));       // duration > 720
    txns.push_back(contact_txn(node, now + 400'000, f.learner1));      // future
    txns.push_back(contact_txn(Uuid::random(), now + 2, f.learner1));  // foreign node
    Transaction empty;
    empty.stamp = Stamp{static_cast<std::uint64_t>(now + 3) << 16, node};
    txns.push_back(empty);  // no changes
    Transaction twice = contact_txn(node, now + 4, f.learner1);
    twice.changes.push_back(twice.changes.front());  // field twice
    txns.push_back(twice);
    Transaction late_prev = contact_txn(node, now + 5, f.learner1);
    late_prev.changes.front().prev = Stamp{late_prev.stamp.hlc + 1, node};  // seen >= own
    txns.push_back(late_prev);
    Transaction orphan = contact_txn(node, now + 6, f.learner1);
    std::erase_if(orphan.changes, [](const Change& c) { return c.field == "learner_id"; });
    txns.push_back(orphan);  // a new record naming no learner
    Transaction ok = contact_txn(node, now + 7, f.learner1);
    txns.push_back(ok);

    auto r = f.service->push(t.who, Uuid::random(), "h", txns);
    REQUIRE(r.ok());
    const auto& res = r->results;
    REQUIRE(res.size() == txns.size());
    CHECK(res[0].code == "out_of_scope");
    CHECK(res[1].code == "invalid");
    CHECK(res[1].message.find("contacts.duration_min") != std::string::npos);
    CHECK(res[2].code == "future_stamp");
    CHECK(res[3].code == "foreign_node");
    CHECK(res[4].code == "invalid");
    CHECK(res[5].code == "invalid");
    CHECK(res[6].code == "invalid");
    CHECK(res[7].code == "invalid");
    CHECK(res[8].kind == wire::PushResult::Kind::accepted);
    for (std::size_t i = 0; i + 1 < res.size(); ++i) {
        INFO(i);
        CHECK(res[i].kind == wire::PushResult::Kind::rejected);
        // Messages never carry values (the notes were "pushed notes").
        CHECK(res[i].message.find("pushed notes") == std::string::npos);
    }
    CHECK(history_size(f) == size + 1);
    for (std::size_t i = 0; i + 1 < txns.size(); ++i)
        if (!txns[i].changes.empty())
            CHECK_FALSE(CoreFixture::ok(f.store->find_row(txns[i].changes.back().row)));
}

TEST_CASE("a record's learner cannot be changed by a later transaction", "[server]") {
    CoreFixture f;
    Tablet t = f.tablet(f.mentor1);
    Uuid contact = CoreFixture::ok(t.replica->create("contacts", contact_fields(f.learner1)));
    f.push_pending(t);
    Transaction move;
    move.stamp = Stamp{static_cast<std::uint64_t>(f.clock->now_ms() + 10) << 16, t.replica->node()};
    move.changes.push_back({"contacts", contact, "learner_id", f.learner2.to_string(), {}, {}});
    auto r = f.service->push(t.who, Uuid::random(), "h", {move});
    REQUIRE(r.ok());
    CHECK(r->results.at(0).code == "invalid");
}

TEST_CASE("more than 1000 transactions in one push is too_many_transactions", "[server]") {
    CoreFixture f;
    Tablet t = f.tablet(f.mentor1);
    std::vector<Transaction> txns(1001);
    auto r = f.service->push(t.who, Uuid::random(), "h", txns);
    REQUIRE_FALSE(r.ok());
    CHECK(http_status_of(r) == 413);
    CHECK(error_code(r) == "too_many_transactions");
}

TEST_CASE(
    "a created record missing a required field is rejected alone, while updates need not repeat "
    "required fields",
    "[server][push]") {
    CoreFixture f;
    Tablet t = f.tablet(f.mentor1);
    const Uuid node = t.replica->node();
    const std::int64_t now = f.clock->now_ms();
    const auto size = history_size(f);

    Transaction no_place = contact_txn(node, now, f.learner1);  // a contact without `place`
    std::erase_if(no_place.changes, [](const Change& c) { return c.field == "place"; });
    Transaction nil_form = contact_txn(node, now + 1, f.learner1);
    for (Change& c : nil_form.changes)
        if (c.field == "form") c.value = Value();
    Transaction good = contact_txn(node, now + 2, f.learner1);
    auto r = f.service->push(t.who, Uuid::random(), "h1", {no_place, nil_form, good});
    REQUIRE(r.ok());
    const auto& res = r->results;
    REQUIRE(res.size() == 3);
    CHECK(res[0].code == "invalid");
    CHECK(res[0].message.find("contacts.place") != std::string::npos);
    CHECK(res[1].code == "invalid");
    CHECK(res[1].message.find("contacts.form") != std::string::npos);
    CHECK(res[2].kind == wire::PushResult::Kind::accepted);
    CHECK(history_size(f) == size + 1);
    CHECK_FALSE(CoreFixture::ok(f.store->find_row(no_place.changes.front().row)));

    // Updates of the stored contact: an optional field alone, or a required one with its prev,
    // are fine; clearing a required field is not.
    const Uuid row = good.changes.front().row;
    Transaction notes;
    notes.stamp = Stamp{static_cast<std::uint64_t>(now + 3) << 16, node};
    notes.changes.push_back({"contacts", row, "notes", Value("later"), good.stamp, {}});
    Transaction longer;
    longer.stamp = Stamp{static_cast<std::uint64_t>(now + 4) << 16, node};
    longer.changes.push_back({"contacts", row, "duration_min", Value(50), good.stamp, {}});
    Transaction cleared;
    cleared.stamp = Stamp{static_cast<std::uint64_t>(now + 5) << 16, node};
    cleared.changes.push_back({"contacts", row, "place", Value(), good.stamp, {}});
    auto u = f.service->push(t.who, Uuid::random(), "h2", {notes, longer, cleared});
    REQUIRE(u.ok());
    CHECK(u->results.at(0).kind == wire::PushResult::Kind::accepted);
    CHECK(u->results.at(1).kind == wire::PushResult::Kind::accepted);
    CHECK(u->results.at(2).code == "invalid");
    CHECK(u->results.at(2).message.find("contacts.place") != std::string::npos);
}

TEST_CASE("a malformed transaction is rejected in the words every receiver uses", "[server]") {
    // The server's check of protocol §6 is the engine's (wire::check_transaction), so a device
    // shows the same message whichever side refused the transaction; only the server's bound
    // on changes per transaction is its own.
    CoreFixture f;
    Tablet t = f.tablet(f.mentor1);
    const Uuid node = t.replica->node();
    const std::int64_t now = f.clock->now_ms();

    std::vector<Transaction> txns;
    Transaction empty;
    empty.stamp = Stamp{static_cast<std::uint64_t>(now) << 16, node};
    txns.push_back(empty);
    Transaction twice = contact_txn(node, now + 1, f.learner1);
    twice.changes.push_back(twice.changes.front());
    txns.push_back(twice);
    Transaction late_prev = contact_txn(node, now + 2, f.learner1);
    late_prev.changes.front().prev = Stamp{late_prev.stamp.hlc + 1, node};
    txns.push_back(late_prev);
    Transaction nil_row = contact_txn(node, now + 3, f.learner1);
    nil_row.changes.front().row = Uuid();
    txns.push_back(nil_row);
    Transaction huge = contact_txn(node, now + 4, f.learner1);
    while (huge.changes.size() <= wire::kMaxChangesPerTransaction)
        huge.changes.push_back({"contacts", Uuid::random(), "notes", Value("x"), {}, {}});
    txns.push_back(huge);

    auto r = f.service->push(t.who, Uuid::random(), "h", txns);
    REQUIRE(r.ok());
    REQUIRE(r->results.size() == txns.size());
    for (std::size_t i = 0; i + 1 < txns.size(); ++i) {
        INFO(i);
        CHECK(r->results[i].code == "invalid");
        const Status engine = wire::check_transaction(Schema::programme(), txns[i]);
        REQUIRE_FALSE(engine.ok());
        CHECK(r->results[i].message == engine.message());
    }
    CHECK(r->results.back().code == "invalid");
    CHECK(r->results.back().message == "the transaction has more than 1000 changes");
}
