// SyncSession against a small in-test responder, and Replica::purge_learner.
//
// FakeServer is a test double, not a server: it checks signatures, timestamps and nonces, keeps
// batch answers for idempotency and a flat log of transactions, and answers per
// docs/protocol.md using the wire functions. Scopes are not modelled; tests script purges.
#include <catch2/catch.hpp>

#include <msgpack.hpp>

#include <algorithm>
#include <cstdlib>
#include <map>
#include <random>
#include <set>
#include <utility>

#include "mentorsync/sync_session.h"
#include "mentorsync/wire.h"
#include "test_support.h"

using namespace mentorsync;
using mstest::TempDir;

namespace {

constexpr std::int64_t kNov2026 = 1'795'392'000'000;

HttpResponse error(int status, std::string code, std::optional<std::int64_t> time = {}) {
    return {status, wire::encode_error({std::move(code), "test double says no", time})};
}

struct FakeServer {
    std::shared_ptr<ManualClock> clock;
    Uuid device_id = Uuid::random();
    wire::DeviceKeys keys = wire::DeviceKeys::generate();
    Uuid device_node;  // the replica node bound to the device at enrollment
    std::vector<Transaction> log;
    std::set<Stamp> held;
    std::map<Uuid, std::pair<std::string, std::string>> batches;  // id -> body hash, answer
    std::set<std::string> nonces;
    std::set<Stamp> refuse;   // pushed transactions to reject as out of scope
    std::vector<Uuid> purge;  // sent with the next pull page, then forgotten
    std::size_t applied_pushes = 0;
    std::vector<HttpRequest> requests;

    HttpResponse handle(const HttpRequest& r) {
        requests.push_back(r);
        auto h = [&](const char* name) { return r.header(name).value_or(""); };
        if (h("Content-Type") != "application/msgpack") return error(415, "unsupported_media_type");
        auto cred = wire::parse_authorization(h("Authorization"));
        if (!cred.ok()) return error(401, "unsigned", clock->now_ms());
        if (cred->device != wire::base64url(device_id.raw()))
            return error(401, "unknown_device", clock->now_ms());
        const std::string text = wire::signing_string(r.method, r.path, cred->timestamp,
                                                      cred->nonce, cred->device, r.body);
        if (!wire::verify(keys.public_key, text, cred->signature))
            return error(401, "bad_signature", clock->now_ms());
        if (std::llabs(std::stoll(cred->timestamp) - clock->now_ms()) > wire::kSignatureWindowMs)
            return error(401, "stale_timestamp", clock->now_ms());
        if (!nonces.insert(cred->nonce).second)
            return error(401, "replayed_nonce", clock->now_ms());
        if (r.path == "/v1/sync/push") return push(r.body);
        if (r.path == "/v1/sync/pull") return pull(r.body);
        return error(404, "not_found");
    }

    HttpResponse push(const std::string& body) {
        auto req = wire::decode_push_request(Schema::programme(), body);
        if (!req.ok()) {
            auto e = wire::error_reply_for(req.status());
            return {e.http_status, wire::encode_error(e.body)};
        }
        const std::string hash = wire::sha256_hex(body);
        if (auto it = batches.find(req->batch); it != batches.end())
            return it->second.first == hash ? HttpResponse{200, it->second.second}
                                            : error(409, "batch_mismatch");
        wire::PushResponse resp;
        for (auto& t : req->txns) {
            wire::PushResult res;
            if (t.stamp.node != device_node) {
                res = {wire::PushResult::Kind::rejected, "foreign_node", "not your node"};
            } else if (refuse.count(t.stamp)) {
                res = {wire::PushResult::Kind::rejected, "out_of_scope", "learner not assigned"};
            } else if (held.count(t.stamp)) {
                res.kind = wire::PushResult::Kind::held;
            } else if (static_cast<std::int64_t>(t.stamp.millis()) >
                       clock->now_ms() + wire::kSignatureWindowMs) {
                res = {wire::PushResult::Kind::rejected, "future_stamp", "stamped too far ahead"};
            } else {
                held.insert(t.stamp);
                log.push_back(t);
            }
            resp.results.push_back(res);
        }
        ++applied_pushes;
        resp.server_time_ms = clock->now_ms();
        auto answer = wire::encode_push_response(resp);
        batches[req->batch] = {hash, answer};
        return {200, answer};
    }

    // The cursor is the decimal position in the log; a device's own transactions are skipped.
    HttpResponse pull(const std::string& body) {
        auto req = wire::decode_pull_request(body);
        if (!req.ok()) return error(400, "bad_request");
        std::size_t pos = req->cursor.empty() ? 0 : std::stoul(req->cursor);
        const std::size_t limit = std::clamp<std::size_t>(req->limit.value_or(500), 1, 1000);
        wire::PullResponse resp;
        while (pos < log.size() && resp.txns.size() < limit) {
            if (log[pos].stamp.node != device_node) resp.txns.push_back(log[pos]);
            ++pos;
        }
        resp.more = pos < log.size();
        resp.cursor = std::to_string(pos);
        resp.purge = std::exchange(purge, {});
        resp.server_time_ms = clock->now_ms();
        return {200, wire::encode_pull_response(Schema::programme(), resp)};
    }

    void add(std::span<const Transaction> txns) {
        for (const auto& t : txns)
            if (held.insert(t.stamp).second) log.push_back(t);
    }
};

// A replica, its clock, and a session enrolled with the fake server.
struct Device {
    TempDir dir;
    std::shared_ptr<ManualClock> clock = std::make_shared<ManualClock>(kNov2026);
    std::unique_ptr<Replica> replica;
    FakeServer server;
    std::unique_ptr<SyncSession> session;

    explicit Device(SyncOptions options = {}) {
        replica = mstest::open_replica(dir.file("tablet.db"), "pass", clock);
        server.clock = clock;
        server.device_node = replica->node();
        if (!options.clock) options.clock = clock;
        session = std::make_unique<SyncSession>(
            *replica, DeviceIdentity{server.device_id, server.keys}, std::move(options));
    }

    // The app restarts: session and replica closed, opened again from the file.
    void reopen() {
        session.reset();
        replica.reset();
        replica = mstest::open_replica(dir.file("tablet.db"), "pass", clock);
        SyncOptions options;
        options.clock = clock;
        session = std::make_unique<SyncSession>(
            *replica, DeviceIdentity{server.device_id, server.keys}, std::move(options));
    }

    // Drives one whole sync; returns the final step (done or failed).
    SyncStep sync(int max_requests = 100) {
        session->start();
        for (int i = 0; i < max_requests; ++i) {
            auto req = session->next_request();
            INFO((req.ok() ? "" : req.status().to_string()));
            REQUIRE(req.ok());
            SyncStep step = session->handle_response(server.handle(*req));
            if (step.kind != SyncStep::Kind::next) return step;
        }
        FAIL("the sync did not finish");
        return {};
    }
};

std::vector<Transaction> take_all(Replica& r) {
    auto p = r.pending(1'000'000);
    REQUIRE(p.ok());
    std::vector<Stamp> s;
    for (const auto& t : *p)
        s.push_back(t.stamp);
    REQUIRE(r.acknowledge(s).ok());
    return std::move(p).value();
}

std::size_t count_records(Replica& r, const std::string& collection) {
    Query q;
    q.collection = collection;
    q.include_deleted = true;
    auto rows = r.query(q);
    REQUIRE(rows.ok());
    return rows->size();
}

}  // namespace

// ---- purge_learner -----------------------------------------------------------------------------

TEST_CASE("purging a learner removes its records, log and conflicts and nothing else", "[purge]") {
    TempDir dir;
    auto clock = std::make_shared<ManualClock>(kNov2026);
    auto a = mstest::open_replica(dir.file("a.db"), "pass", clock);
    auto b = mstest::open_replica(dir.file("b.db"), "pass", clock);

    auto anna = a->create("learners", mstest::learner_fields("Anna Testa"));
    auto juris = a->create("learners", mstest::learner_fields("Juris Testa"));
    REQUIRE(anna.ok());
    REQUIRE(juris.ok());
    auto anna_contact = a->create("contacts", mstest::contact_fields(*anna, "first"));
    auto juris_contact = a->create("contacts", mstest::contact_fields(*juris, "first"));
    REQUIRE(a->create("absences", mstest::absence_fields(*anna)).ok());
    REQUIRE(a->create("absences", mstest::absence_fields(*juris)).ok());
    // One transaction about both learners: logged without a single learner.
    WriteBatch both;
    both.update("learners", *anna, {{"grade", 9}});
    both.update("learners", *juris, {{"grade", 9}});
    REQUIRE(a->commit(both).ok());
    auto history = take_all(*a);
    REQUIRE(b->apply_remote(history).ok());

    // Concurrent edits on both learners' contacts open a conflict on each side.
    clock->advance(1'000);
    REQUIRE(a->update("contacts", *anna_contact, {{"duration_min", 50}}).ok());
    REQUIRE(a->update("contacts", *juris_contact, {{"duration_min", 50}}).ok());
    REQUIRE(b->update("contacts", *anna_contact, {{"duration_min", 55}}).ok());
    REQUIRE(b->update("contacts", *juris_contact, {{"duration_min", 55}}).ok());
    REQUIRE(b->apply_remote(take_all(*a)).ok());
    REQUIRE(b->conflicts()->size() == 2);

    // A quarantined transaction about each learner.
    auto far = std::make_shared<ManualClock>(kNov2026 + 3'600'000);
    auto c = mstest::open_replica(dir.file("c.db"), "pass", far);
    REQUIRE(c->apply_remote(history).ok());
    REQUIRE(c->create("absences", mstest::absence_fields(*anna, "2026-12-01")).ok());
    REQUIRE(c->create("absences", mstest::absence_fields(*juris, "2026-12-01")).ok());
    REQUIRE(b->apply_remote(take_all(*c)).ok());
    REQUIRE(b->quarantined()->size() == 2);

    std::vector<ChangeEvent> seen;
    b->observe([&](const std::vector<ChangeEvent>& evs) {
        seen.insert(seen.end(), evs.begin(), evs.end());
    });
    const auto before = *b->status();
    auto report = b->purge_learner(*anna);
    INFO((report.ok() ? "" : report.status().to_string()));
    REQUIRE(report.ok());
    CHECK(report->rows == 3);  // the learner, a contact, an absence
    CHECK(report->conflicts == 1);
    CHECK(report->quarantined == 1);
    // Anna's three creations, the two-learner transaction, her contact edits (local and remote).
    CHECK(report->transactions == 6);

    CHECK(b->get("learners", *anna).status().code() == Code::not_found);
    CHECK(b->get("contacts", *anna_contact).status().code() == Code::not_found);
    CHECK(b->get("learners", *juris).ok());
    CHECK(b->get("contacts", *juris_contact).ok());
    CHECK(count_records(*b, "absences") == 1);
    auto conflicts = b->conflicts();
    REQUIRE(conflicts->size() == 1);
    CHECK(conflicts->at(0).row == *juris_contact);
    REQUIRE(b->quarantined()->size() == 1);
    const auto after = *b->status();
    CHECK(after.records == before.records - 3);
    // b's own unsent edit of Anna's contact is gone; its edit of Juris's is still pending.
    CHECK(after.pending_transactions == before.pending_transactions - 1);
    REQUIRE(seen.size() == 3);
    for (const auto& e : seen) {
        CHECK(e.purged);
        CHECK(e.row != *juris);
    }

    // Purging again, or a learner never held, finds nothing.
    auto again = b->purge_learner(*anna);
    REQUIRE(again.ok());
    CHECK(again->rows + again->transactions + again->conflicts + again->quarantined == 0);
}

TEST_CASE("a purged learner comes back when its transactions are delivered again", "[purge]") {
    TempDir dir;
    auto clock = std::make_shared<ManualClock>(kNov2026);
    auto a = mstest::open_replica(dir.file("a.db"), "pass", clock);
    auto b = mstest::open_replica(dir.file("b.db"), "pass", clock);
    auto anna = a->create("learners", mstest::learner_fields());
    REQUIRE(anna.ok());
    auto contact = a->create("contacts", mstest::contact_fields(*anna, "we met"));
    REQUIRE(contact.ok());
    REQUIRE(a->update("contacts", *contact, {{"duration_min", 30}}).ok());
    auto history = take_all(*a);
    REQUIRE(b->apply_remote(history).ok());
    REQUIRE(b->purge_learner(*anna).ok());
    REQUIRE(b->get("contacts", *contact).status().code() == Code::not_found);

    auto rep = b->apply_remote(history);
    REQUIRE(rep.ok());
    CHECK(rep->applied == history.size());
    CHECK(rep->duplicates == 0);
    auto rec = b->get("contacts", *contact);
    REQUIRE(rec.ok());
    CHECK(rec->fields.at("duration_min") == Value(30));
    CHECK(rec->fields.at("notes") == Value("we met"));
    CHECK(b->get("learners", *anna).ok());
}

TEST_CASE("purging keeps the clock ahead of every stamp it issued, across a restart", "[purge]") {
    TempDir dir;
    auto path = dir.file("a.db");
    auto clock = std::make_shared<ManualClock>(kNov2026 + 60'000);
    Stamp purged_stamp;
    Uuid juris;
    {
        auto a = mstest::open_replica(path, "pass", clock);
        auto j = a->create("learners", mstest::learner_fields("Juris"));
        REQUIRE(j.ok());
        juris = *j;
        WriteBatch wb;
        const Uuid anna = wb.create("learners", mstest::learner_fields("Anna"));
        auto c = a->commit(wb);
        REQUIRE(c.ok());
        purged_stamp = c->stamp;  // the greatest stamp in the log
        clock->set(kNov2026);     // the wall clock steps back a minute
        auto rep = a->purge_learner(anna);
        REQUIRE(rep.ok());
        REQUIRE(rep->transactions == 1);
    }
    auto a = mstest::open_replica(path, "pass", clock);
    REQUIRE(a->update("learners", juris, {{"grade", 9}}).ok());
    auto rec = a->get("learners", juris);
    REQUIRE(rec.ok());
    CHECK(rec->updated.hlc > purged_stamp.hlc);
}

// ---- SyncSession -------------------------------------------------------------------------------

TEST_CASE("a sync pushes pending transactions in batches, then pulls every page", "[sync]") {
    SyncOptions opts;
    opts.push_batch = 2;
    opts.pull_limit = 3;
    std::vector<SyncProgress> reports;
    opts.on_progress = [&](const SyncProgress& p) { reports.push_back(p); };
    Device dev(opts);
    for (int i = 0; i < 5; ++i)
        REQUIRE(dev.replica->create("learners", mstest::learner_fields()).ok());

    // Another device's seven transactions are on the server.
    TempDir other_dir;
    auto other = mstest::open_replica(other_dir.file("o.db"), "pass", dev.clock);
    auto learner = other->create("learners", mstest::learner_fields("Līga"));
    REQUIRE(learner.ok());
    for (int i = 0; i < 6; ++i)
        REQUIRE(other
                    ->create("absences",
                             mstest::absence_fields(*learner, "2026-11-1" + std::to_string(i)))
                    .ok());
    dev.server.add(take_all(*other));

    SyncStep step = dev.sync();
    INFO(step.status.to_string());
    REQUIRE(step.kind == SyncStep::Kind::done);
    CHECK_FALSE(dev.session->running());

    // 3 pushes (2 + 2 + 1) with distinct batch ids, then pulls of 3: the log holds the other
    // device's 7 then our 5, which are not returned to us: pages 0-2, 3-5, then 6 (and ours).
    std::vector<std::string> paths;
    std::set<Uuid> batch_ids;
    std::set<std::string> nonces;
    for (const auto& r : dev.server.requests) {
        paths.push_back(r.path);
        auto cred = wire::parse_authorization(r.header("authorization").value_or(""));
        REQUIRE(cred.ok());
        nonces.insert(cred->nonce);
        if (r.path == "/v1/sync/push")
            batch_ids.insert(wire::decode_push_request(Schema::programme(), r.body)->batch);
    }
    CHECK(paths == std::vector<std::string>{"/v1/sync/push", "/v1/sync/push", "/v1/sync/push",
                                            "/v1/sync/pull", "/v1/sync/pull", "/v1/sync/pull"});
    CHECK(batch_ids.size() == 3);
    CHECK(nonces.size() == dev.server.requests.size());
    CHECK(dev.server.log.size() == 12);
    CHECK(dev.replica->status()->pending_transactions == 0);
    CHECK(dev.replica->get("learners", *learner).ok());
    CHECK(count_records(*dev.replica, "absences") == 6);
    CHECK(dev.replica->sync_value("pull.cursor")->value_or("") == "12");

    const SyncProgress& p = dev.session->progress();
    CHECK(p.pushed == 5);
    CHECK(p.acked == 5);
    CHECK(p.rejected == 0);
    CHECK(p.pulled == 7);
    CHECK(p.applied == 7);
    CHECK(p.requests == 6);
    REQUIRE(reports.size() == 6);
    CHECK(reports[2].pushed == 5);
    CHECK(reports[3].pulled == 3);
    CHECK(dev.session->clock_skew_ms() == 0);

    // A second sync has nothing to push and pulls one empty page from the stored cursor.
    dev.server.requests.clear();
    REQUIRE(dev.sync().kind == SyncStep::Kind::done);
    REQUIRE(dev.server.requests.size() == 1);
    CHECK(wire::decode_pull_request(dev.server.requests[0].body)->cursor == "12");
    CHECK(dev.session->progress().pulled == 0);
}

TEST_CASE("a push whose answer was lost is sent again with the same batch id", "[sync]") {
    Device dev;
    REQUIRE(dev.replica->create("learners", mstest::learner_fields()).ok());
    dev.session->start();
    auto first = dev.session->next_request();
    REQUIRE(first.ok());
    dev.server.handle(*first);  // stored by the server; the answer never arrives
    REQUIRE(dev.server.log.size() == 1);
    SyncStep lost = dev.session->handle_transport_error("connection reset");
    CHECK(lost.kind == SyncStep::Kind::failed);
    CHECK(lost.transient);
    CHECK(lost.status.code() == Code::io);
    CHECK(lost.retry_after_ms >= 800);
    CHECK(lost.retry_after_ms <= 1200);
    CHECK(dev.session->running());

    dev.clock->advance(lost.retry_after_ms);  // the backoff passes
    auto retry = dev.session->next_request();
    REQUIRE(retry.ok());
    CHECK(retry->body == first->body);  // same batch id, same transactions
    auto retry_cred = wire::parse_authorization(retry->header("Authorization").value_or(""));
    auto first_cred = wire::parse_authorization(first->header("Authorization").value_or(""));
    REQUIRE(retry_cred.ok());
    REQUIRE(first_cred.ok());
    CHECK(retry_cred->nonce != first_cred->nonce);
    // Signed anew: the timestamp is the clock's now, not the first attempt's.
    CHECK(first_cred->timestamp == std::to_string(kNov2026));
    CHECK(retry_cred->timestamp == std::to_string(dev.clock->now_ms()));
    SyncStep step = dev.session->handle_response(dev.server.handle(*retry));
    REQUIRE(step.kind == SyncStep::Kind::next);
    CHECK(dev.server.applied_pushes == 1);  // the stored answer, nothing applied twice
    CHECK(dev.server.log.size() == 1);
    CHECK(dev.replica->status()->pending_transactions == 0);
    CHECK(dev.session->progress().acked == 1);

    // Lost answers back off: 1 s, 2 s, 4 s ... capped at 5 minutes, each ±20 %.
    auto pull = dev.session->next_request();
    REQUIRE(pull.ok());
    CHECK(pull->path == "/v1/sync/pull");
    std::int64_t base = 1'000;
    for (int i = 0; i < 12; ++i) {
        SyncStep s = dev.session->handle_transport_error("timeout");
        CHECK(s.retry_after_ms >= base * 8 / 10);
        CHECK(s.retry_after_ms <= base * 12 / 10);
        base = std::min<std::int64_t>(base * 2, 300'000);
    }
    REQUIRE(dev.session->handle_response(dev.server.handle(*dev.session->next_request())).kind ==
            SyncStep::Kind::done);
    // A new sync starts the backoff again from one second.
    dev.session->start();
    REQUIRE(dev.session->next_request().ok());
    CHECK(dev.session->handle_transport_error("timeout").retry_after_ms <= 1'200);
}

TEST_CASE("a request asked for again before any answer is signed anew and replaces the first",
          "[sync]") {
    // What a transport does when a kept-alive connection turns out to be closed: it asks for
    // the request again instead of resending bytes whose nonce the server may have recorded.
    Device dev;
    REQUIRE(dev.replica->create("learners", mstest::learner_fields()).ok());
    dev.session->start();
    auto first = dev.session->next_request();
    REQUIRE(first.ok());
    dev.server.handle(*first);  // it arrived; the connection broke before the answer
    dev.clock->advance(5);
    auto again = dev.session->next_request();
    REQUIRE(again.ok());
    CHECK(again->path == first->path);
    CHECK(again->body == first->body);  // the same batch id and transactions
    CHECK(again->header("Authorization") != first->header("Authorization"));
    // Resending the first request's bytes is what the server refuses.
    CHECK(dev.server.handle(*first).status == 401);
    SyncStep step = dev.session->handle_response(dev.server.handle(*again));
    REQUIRE(step.kind == SyncStep::Kind::next);
    CHECK(dev.server.applied_pushes == 1);  // the stored answer: nothing applied twice
    CHECK(dev.session->progress().acked == 1);
    auto pull = dev.session->next_request();
    REQUIRE(pull.ok());
    auto pull_again = dev.session->next_request();
    REQUIRE(pull_again.ok());
    CHECK(pull_again->body == pull->body);  // the same cursor and report
    CHECK(dev.session->handle_response(dev.server.handle(*pull_again)).kind ==
          SyncStep::Kind::done);
    std::set<std::string> nonces;
    for (const auto& r : dev.server.requests)
        nonces.insert(wire::parse_authorization(r.header("Authorization").value_or(""))->nonce);
    CHECK(nonces.size() == 3);  // first, again and pull_again; the repeat of first reused one
}

TEST_CASE("a stale timestamp is transient and reports the clock skew", "[sync]") {
    Device dev;
    dev.server.clock = std::make_shared<ManualClock>(kNov2026 + 10 * 60'000);  // server ahead
    dev.session->start();
    auto req = dev.session->next_request();
    REQUIRE(req.ok());
    SyncStep step = dev.session->handle_response(dev.server.handle(*req));
    CHECK(step.kind == SyncStep::Kind::failed);
    CHECK(step.transient);
    CHECK(step.server_code == "stale_timestamp");
    CHECK(step.retry_after_ms >= 800);
    REQUIRE(dev.session->clock_skew_ms().has_value());
    CHECK(*dev.session->clock_skew_ms() == 10 * 60'000);
    CHECK(step.status.message().find("10 min behind the server's") != std::string::npos);

    // Once the device clock is corrected, the same sync goes through.
    dev.clock->set(kNov2026 + 10 * 60'000);
    auto again = dev.session->next_request();
    REQUIRE(again.ok());
    CHECK(dev.session->handle_response(dev.server.handle(*again)).kind == SyncStep::Kind::done);
    CHECK(*dev.session->clock_skew_ms() == 0);
}

TEST_CASE("answers map to transient or permanent failures as the protocol says", "[sync]") {
    struct Case {
        HttpResponse response;
        bool transient;
    };
    const std::vector<Case> cases = {
        {error(500, "internal"), true},
        {error(503, "unavailable"), true},
        {{502, "<html>Bad gateway</html>"}, true},
        {{200, "<html>Welcome to Hotel Wi-Fi</html>"}, true},
        {error(401, "replayed_nonce", kNov2026), true},
        {error(401, "bad_signature", kNov2026), false},
        {error(401, "unknown_device", kNov2026), false},
        {error(403, "device_revoked"), false},
        {error(400, "bad_request"), false},
        {error(409, "batch_mismatch"), false},
        {error(413, "body_too_large"), false},
        {error(415, "unsupported_media_type"), false},
        {{204, ""}, false},
        {{302, ""}, false},
    };
    for (const auto& c : cases) {
        Device dev;
        REQUIRE(dev.replica->create("learners", mstest::learner_fields()).ok());
        dev.session->start();
        REQUIRE(dev.session->next_request().ok());
        SyncStep step = dev.session->handle_response(c.response);
        INFO(c.response.status << " " << step.status.to_string());
        CHECK(step.kind == SyncStep::Kind::failed);
        CHECK(step.transient == c.transient);
        CHECK(dev.session->running() == c.transient);
        CHECK_FALSE(step.status.message().empty());
        if (!c.transient) {
            CHECK(step.retry_after_ms == 0);
            CHECK(dev.session->next_request().status().code() == Code::invalid_argument);
        }
    }
}

TEST_CASE("a Retry-After header value is read as whole seconds and nothing else", "[sync]") {
    CHECK(parse_retry_after("7") == 7);
    CHECK(parse_retry_after(" 120\t") == 120);
    CHECK(parse_retry_after("0") == 0);
    CHECK(parse_retry_after("999999999") == 999'999'999);
    CHECK_FALSE(parse_retry_after("").has_value());
    CHECK_FALSE(parse_retry_after("1000000000").has_value());
    CHECK_FALSE(parse_retry_after("-1").has_value());
    CHECK_FALSE(parse_retry_after("+5").has_value());
    CHECK_FALSE(parse_retry_after("1.5").has_value());
    CHECK_FALSE(parse_retry_after("Wed, 21 Oct 2026 07:28:00 GMT").has_value());
}

TEST_CASE("a throttled or unavailable answer waits at least the Retry-After it carries", "[sync]") {
    Device dev;
    REQUIRE(dev.replica->create("learners", mstest::learner_fields()).ok());
    dev.session->start();
    REQUIRE(dev.session->next_request().ok());
    HttpResponse throttled = error(429, "rate_limited");
    throttled.retry_after_s = 90;
    SyncStep step = dev.session->handle_response(throttled);
    CHECK(step.kind == SyncStep::Kind::failed);
    CHECK(step.transient);
    CHECK(step.server_code == "rate_limited");
    CHECK(step.retry_after_ms >= 90'000);  // not the first backoff's 1 s
    CHECK(step.retry_after_ms <= 90'000 * 12 / 10);

    // A shorter Retry-After than the backoff already reached does not shorten the wait.
    REQUIRE(dev.session->next_request().ok());
    HttpResponse brief = error(503, "unavailable");
    brief.retry_after_s = 0;
    CHECK(dev.session->handle_response(brief).retry_after_ms >= 2'000 * 8 / 10);

    // A server asking for years is held to an hour, so a misconfigured proxy cannot park the
    // tablet's sync for good.
    REQUIRE(dev.session->next_request().ok());
    HttpResponse forever = error(503, "unavailable");
    forever.retry_after_s = 999'999'999;
    CHECK(dev.session->handle_response(forever).retry_after_ms == 3'600'000);
}

TEST_CASE("a 413 is permanent and the next sync sends smaller batches", "[sync]") {
    SyncOptions opts;
    opts.push_batch = 8;
    Device dev(opts);
    for (int i = 0; i < 8; ++i)
        REQUIRE(dev.replica->create("learners", mstest::learner_fields()).ok());
    dev.session->start();
    auto req = dev.session->next_request();
    REQUIRE(req.ok());
    CHECK(wire::decode_push_request(Schema::programme(), req->body)->txns.size() == 8);
    SyncStep step = dev.session->handle_response(error(413, "body_too_large"));
    CHECK(step.kind == SyncStep::Kind::failed);
    CHECK_FALSE(step.transient);
    CHECK(step.server_code == "body_too_large");
    CHECK(step.status.message().find("413 body_too_large") != std::string::npos);
    CHECK_FALSE(dev.session->running());

    dev.server.requests.clear();
    REQUIRE(dev.sync().kind == SyncStep::Kind::done);
    const auto& first = dev.server.requests.at(0);
    REQUIRE(first.path == "/v1/sync/push");
    auto decoded = wire::decode_push_request(Schema::programme(), first.body);
    CHECK(decoded->txns.size() == 4);
    CHECK(decoded->batch != wire::decode_push_request(Schema::programme(), req->body)->batch);
    CHECK(dev.replica->status()->pending_transactions == 0);
}

TEST_CASE("rejected transactions are recorded, shown and not sent again", "[sync]") {
    Device dev;
    auto kept = dev.replica->create("learners", mstest::learner_fields());
    auto refused = dev.replica->commit([] {
        WriteBatch b;
        b.create("learners", mstest::learner_fields());
        return b;
    }());
    REQUIRE(kept.ok());
    REQUIRE(refused.ok());
    dev.server.refuse.insert(refused->stamp);

    REQUIRE(dev.sync().kind == SyncStep::Kind::done);
    CHECK(dev.session->progress().rejected == 1);
    CHECK(dev.session->progress().acked == 1);
    auto rejected = dev.session->rejected();
    REQUIRE(rejected.ok());
    REQUIRE(rejected->size() == 1);
    CHECK(rejected->at(0).stamp == refused->stamp);
    CHECK(rejected->at(0).code == "out_of_scope");
    CHECK(rejected->at(0).message == "learner not assigned");
    CHECK(dev.replica->status()->pending_transactions == 1);  // it stays in the log

    // The next sync does not send it; after retry_rejected() it goes again.
    dev.server.requests.clear();
    REQUIRE(dev.sync().kind == SyncStep::Kind::done);
    REQUIRE(dev.server.requests.size() == 1);
    CHECK(dev.server.requests[0].path == "/v1/sync/pull");

    dev.server.refuse.clear();
    REQUIRE(dev.session->retry_rejected().ok());
    CHECK(dev.session->rejected()->empty());
    REQUIRE(dev.sync().kind == SyncStep::Kind::done);
    CHECK(dev.session->progress().acked == 1);
    CHECK(dev.replica->status()->pending_transactions == 0);
}

TEST_CASE("each pull request reports the device's counts as of after this sync's pushes",
          "[sync][report]") {
    Device dev;
    // Three local writes, one of which the server will refuse.
    auto learner = dev.replica->create("learners", mstest::learner_fields());
    REQUIRE(learner.ok());
    REQUIRE(dev.replica->create("absences", mstest::absence_fields(*learner, "2026-11-20")).ok());
    auto refused = dev.replica->commit([] {
        WriteBatch b;
        b.create("learners", mstest::learner_fields("Otra"));
        return b;
    }());
    REQUIRE(refused.ok());
    dev.server.refuse.insert(refused->stamp);
    REQUIRE(dev.replica->status()->pending_transactions == 3);

    // Another tablet, its clock an hour ahead, wrote about the same learner: this device will
    // quarantine that transaction when it pulls it.
    TempDir other_dir;
    auto far = std::make_shared<ManualClock>(kNov2026 + 3'600'000);
    auto other = mstest::open_replica(other_dir.file("o.db"), "pass", far);
    REQUIRE(other->create("absences", mstest::absence_fields(*learner, "2026-11-21")).ok());
    dev.server.add(take_all(*other));

    auto pull_reports = [&] {
        std::vector<wire::DeviceReport> out;
        for (const auto& r : dev.server.requests) {
            if (r.path != "/v1/sync/pull") continue;
            auto pr = wire::decode_pull_request(r.body);
            REQUIRE(pr.ok());
            REQUIRE(pr->report);
            out.push_back(*pr->report);
        }
        return out;
    };

    REQUIRE(dev.sync().kind == SyncStep::Kind::done);
    // The pull follows the push: two acknowledged, one rejected and still held, nothing
    // quarantined yet (the far transaction arrives in this very pull's answer).
    REQUIRE(dev.server.requests.front().path == "/v1/sync/push");
    CHECK(pull_reports() == std::vector<wire::DeviceReport>{{0, 0, 1}});
    REQUIRE(dev.replica->quarantined()->size() == 1);

    // A new local write before the next sync is pushed first, so the pull still reports 0
    // pending; the quarantined transaction is reported now.
    REQUIRE(dev.replica->create("absences", mstest::absence_fields(*learner, "2026-11-22")).ok());
    dev.server.requests.clear();
    REQUIRE(dev.sync().kind == SyncStep::Kind::done);
    CHECK(pull_reports() == std::vector<wire::DeviceReport>{{0, 1, 1}});

    // Each page's request reports the state as it is then: a write made while the pull pages
    // are running shows as pending on the next page (it goes with the next sync's push).
    auto near = mstest::open_replica(other_dir.file("n.db"), "pass", dev.clock);
    for (const char* day : {"2026-11-24", "2026-11-25"})
        REQUIRE(near->create("absences", mstest::absence_fields(*learner, day)).ok());
    dev.server.add(take_all(*near));
    SyncOptions one_per_page;
    one_per_page.pull_limit = 1;
    one_per_page.clock = dev.clock;
    SyncSession paged(*dev.replica, DeviceIdentity{dev.server.device_id, dev.server.keys},
                      one_per_page);
    dev.server.requests.clear();
    paged.start();
    for (int i = 0;; ++i) {
        REQUIRE(i < 10);
        auto req = paged.next_request();
        REQUIRE(req.ok());
        const SyncStep step = paged.handle_response(dev.server.handle(*req));
        if (step.kind == SyncStep::Kind::done) break;
        REQUIRE(step.kind == SyncStep::Kind::next);
        if (i == 0)  // after the first page
            REQUIRE(dev.replica->create("absences", mstest::absence_fields(*learner, "2026-11-26"))
                        .ok());
    }
    auto paged_reports = pull_reports();
    REQUIRE(paged_reports.size() >= 2);
    CHECK(paged_reports[0] == wire::DeviceReport{0, 1, 1});
    CHECK(paged_reports[1] == wire::DeviceReport{1, 1, 1});

    // After retry_rejected() the refused transaction counts as pending until pushed again.
    REQUIRE(dev.session->retry_rejected().ok());
    dev.server.refuse.clear();
    dev.server.requests.clear();
    REQUIRE(dev.sync().kind == SyncStep::Kind::done);
    CHECK(pull_reports().front() == wire::DeviceReport{0, 1, 0});
    CHECK(dev.replica->status()->pending_transactions == 0);
}

TEST_CASE("a pull page purges the learners it lists before applying its transactions",
          "[sync][purge]") {
    Device dev;
    TempDir other_dir;
    auto other = mstest::open_replica(other_dir.file("o.db"), "pass", dev.clock);
    auto anna = other->create("learners", mstest::learner_fields("Anna"));
    auto juris = other->create("learners", mstest::learner_fields("Juris"));
    REQUIRE(anna.ok());
    REQUIRE(juris.ok());
    REQUIRE(other->create("contacts", mstest::contact_fields(*anna)).ok());
    REQUIRE(other->create("contacts", mstest::contact_fields(*juris)).ok());
    dev.server.add(take_all(*other));
    REQUIRE(dev.sync().kind == SyncStep::Kind::done);
    REQUIRE(count_records(*dev.replica, "contacts") == 2);

    // Anna's case moves to another mentor; the same page brings a new absence of Juris.
    REQUIRE(other->create("absences", mstest::absence_fields(*juris)).ok());
    dev.server.add(take_all(*other));
    dev.server.purge = {*anna};
    REQUIRE(dev.sync().kind == SyncStep::Kind::done);
    CHECK(dev.session->progress().learners_purged == 1);
    CHECK(dev.session->progress().applied == 1);
    CHECK(dev.replica->get("learners", *anna).status().code() == Code::not_found);
    CHECK(dev.replica->get("learners", *juris).ok());
    CHECK(count_records(*dev.replica, "contacts") == 1);
    CHECK(count_records(*dev.replica, "absences") == 1);
}

TEST_CASE("a pull answered with more=true and no progress does not loop for ever", "[sync]") {
    Device dev;
    dev.session->start();
    REQUIRE(dev.session->next_request().ok());
    wire::PullResponse stuck;
    stuck.more = true;
    SyncStep step =
        dev.session->handle_response({200, wire::encode_pull_response(Schema::programme(), stuck)});
    CHECK(step.kind == SyncStep::Kind::failed);
    CHECK_FALSE(step.transient);
}

TEST_CASE("the session refuses calls out of order and survives garbage answers", "[sync]") {
    Device dev;
    CHECK(dev.session->next_request().status().code() == Code::invalid_argument);
    CHECK(dev.session->handle_response({200, ""}).status.code() == Code::invalid_argument);
    dev.session->start();
    CHECK(dev.session->handle_response({200, ""}).status.code() == Code::invalid_argument);

    std::mt19937 rng(7);
    for (int i = 0; i < 300; ++i) {
        dev.session->start();
        REQUIRE(dev.session->next_request().ok());
        std::string body(rng() % 64, '\0');
        for (auto& c : body)
            c = static_cast<char>(rng());
        SyncStep s = dev.session->handle_response({200 + static_cast<int>(rng() % 400), body});
        CHECK(s.kind == SyncStep::Kind::failed);
    }
}

// ---- a device whose clock ran ahead ----------------------------------------------------------

namespace {

constexpr std::int64_t kTenYears = 10LL * 365 * 86'400'000;

// The device's transactions the server stored, in the order it stored them.
std::vector<Transaction> stored_from(const Device& dev) {
    std::vector<Transaction> out;
    for (const auto& t : dev.server.log)
        if (t.stamp.node == dev.server.device_node) out.push_back(t);
    return out;
}

std::vector<std::string> paths_of(const FakeServer& server) {
    std::vector<std::string> out;
    for (const auto& r : server.requests)
        out.push_back(r.path);
    return out;
}

}  // namespace

TEST_CASE("a tablet ten years ahead delivers its edits with honest stamps once its clock is right",
          "[sync][clock][restamp]") {
    Device dev;
    dev.server.clock = std::make_shared<ManualClock>(kNov2026);  // the server's own clock
    TempDir other_dir;
    auto other_clock = std::make_shared<ManualClock>(kNov2026);
    auto other = mstest::open_replica(other_dir.file("o.db"), "pass", other_clock);
    auto learner = other->create("learners", mstest::learner_fields());
    REQUIRE(learner.ok());
    dev.server.add(take_all(*other));
    REQUIRE(dev.sync().kind == SyncStep::Kind::done);

    // The tablet's clock jumps ten years ahead. Offline, the mentor logs an absence and sets
    // the grade; a sync is refused: the request's own timestamp is ten years off.
    dev.clock->advance(kTenYears);
    REQUIRE(dev.replica->create("absences", mstest::absence_fields(*learner)).ok());
    REQUIRE(dev.replica->update("learners", *learner, {{"grade", 9}}).ok());
    SyncStep refused = dev.sync();
    CHECK(refused.kind == SyncStep::Kind::failed);
    CHECK(refused.transient);
    CHECK(refused.server_code == "stale_timestamp");
    CHECK(refused.status.message().find("10 years ahead of the server's") != std::string::npos);

    // The clock is set right; one more edit right after (stamped ten years ahead all the same:
    // the clock never went below its highest stamp). Meanwhile another mentor, clock right,
    // sets the grade too.
    dev.clock->set(kNov2026 + 60'000);
    dev.server.clock->set(kNov2026 + 60'000);
    REQUIRE(dev.replica->update("learners", *learner, {{"viis_link", "VIIS-7"}}).ok());
    other_clock->set(kNov2026 + 30'000);
    REQUIRE(other->update("learners", *learner, {{"grade", 7}}).ok());
    dev.server.add(take_all(*other));
    CHECK(dev.replica->get("learners", *learner)->fields.at("grade") == Value(9));

    dev.server.requests.clear();
    SyncStep step = dev.sync();
    INFO(step.status.to_string());
    REQUIRE(step.kind == SyncStep::Kind::done);
    // Refused once as future_stamp, re-dated, sent again and stored; then pulled.
    CHECK(paths_of(dev.server) ==
          std::vector<std::string>{"/v1/sync/push", "/v1/sync/push", "/v1/sync/pull"});
    const SyncProgress& p = dev.session->progress();
    CHECK(p.redated == 3);
    CHECK(p.acked == 3);
    CHECK(p.rejected == 0);
    CHECK(dev.session->rejected()->empty());
    CHECK(dev.replica->status()->pending_transactions == 0);
    const auto stored = stored_from(dev);
    REQUIRE(stored.size() == 3);
    for (const auto& t : stored)
        CHECK(static_cast<std::int64_t>(t.stamp.millis()) <= dev.server.clock->now_ms());
    auto notice = dev.session->redate_notice();
    REQUIRE(notice.ok());
    CHECK(notice->redated == 3);
    CHECK(notice->ahead_ms > kTenYears - 120'000);
    CHECK(notice->last_ms == kNov2026 + 60'000);
    REQUIRE(dev.session->clear_redate_notice().ok());
    CHECK(*dev.session->redate_notice() == RedateNotice{});

    // The honest edit, made after the tablet's in real time, wins on the tablet and everywhere
    // else; the tablet's grade is kept as a conflict; both hold the same.
    auto mine = dev.replica->get("learners", *learner);
    REQUIRE(mine.ok());
    CHECK(mine->fields.at("grade") == Value(7));
    CHECK(mine->fields.at("viis_link") == Value("VIIS-7"));
    REQUIRE(other->apply_remote(stored).ok());
    auto theirs = other->get("learners", *learner);
    CHECK(theirs->fields == mine->fields);
    CHECK(theirs->stamps == mine->stamps);
    auto my_conflicts = *dev.replica->conflicts();
    auto their_conflicts = *other->conflicts();
    REQUIRE(my_conflicts.size() == 1);
    REQUIRE(their_conflicts.size() == 1);
    CHECK(my_conflicts[0].loser_value == Value(9));
    CHECK(my_conflicts[0].loser == their_conflicts[0].loser);
    CHECK(my_conflicts[0].winner == their_conflicts[0].winner);

    // New edits are stamped by the corrected clock.
    dev.clock->advance(1'000);
    REQUIRE(dev.replica->update("learners", *learner, {{"grade", 8}}).ok());
    CHECK(dev.replica->pending(1)->at(0).stamp.millis() ==
          static_cast<std::uint64_t>(kNov2026 + 61'000));
}

TEST_CASE("a tablet seven minutes ahead: edits from just after the correction go through too",
          "[sync][clock][restamp]") {
    Device dev;
    dev.server.clock = std::make_shared<ManualClock>(kNov2026);
    dev.clock->set(kNov2026 + 7 * 60'000);
    auto learner = dev.replica->create("learners", mstest::learner_fields());
    REQUIRE(learner.ok());
    SyncStep refused = dev.sync();
    CHECK(refused.server_code == "stale_timestamp");
    CHECK(refused.status.message().find("7 min ahead of the server's") != std::string::npos);
    CHECK(*dev.session->clock_skew_ms() == -7 * 60'000);

    dev.clock->set(kNov2026 + 1'000);
    dev.server.clock->set(kNov2026 + 1'000);
    REQUIRE(dev.replica->update("learners", *learner, {{"grade", 9}}).ok());
    dev.server.requests.clear();
    REQUIRE(dev.sync().kind == SyncStep::Kind::done);
    CHECK(dev.session->progress().redated == 2);
    CHECK(dev.session->rejected()->empty());
    const auto stored = stored_from(dev);
    REQUIRE(stored.size() == 2);
    CHECK(stored[0].stamp < stored[1].stamp);
    CHECK(stored[1].changes.at(0).prev == stored[0].stamp);
    CHECK(static_cast<std::int64_t>(stored[1].stamp.millis()) <= kNov2026 + 1'000);
}

TEST_CASE("re-dating survives a restart between the clock's correction and the sync",
          "[sync][clock][restamp]") {
    Device dev;
    dev.server.clock = std::make_shared<ManualClock>(kNov2026);
    dev.clock->set(kNov2026 + kTenYears);
    auto learner = dev.replica->create("learners", mstest::learner_fields());
    REQUIRE(learner.ok());
    dev.clock->set(kNov2026);
    dev.reopen();
    // After the restart the clock still resumes from its highest stamp, ten years ahead ...
    REQUIRE(dev.replica->update("learners", *learner, {{"grade", 9}}).ok());
    CHECK(dev.replica->pending(2)->at(1).stamp.millis() ==
          static_cast<std::uint64_t>(kNov2026 + kTenYears));
    REQUIRE(dev.sync().kind == SyncStep::Kind::done);
    CHECK(dev.session->progress().redated == 2);
    CHECK(stored_from(dev).size() == 2);
    // ... and once the edits are re-dated it falls back, restart or not.
    dev.reopen();
    dev.clock->advance(10);
    REQUIRE(dev.replica->update("learners", *learner, {{"grade", 10}}).ok());
    CHECK(dev.replica->pending(1)->at(0).stamp.millis() ==
          static_cast<std::uint64_t>(kNov2026 + 10));
    REQUIRE(dev.sync().kind == SyncStep::Kind::done);
    CHECK(dev.session->progress().redated == 0);
    CHECK(stored_from(dev).size() == 3);
}

TEST_CASE("stamps within the server's five minutes are sent as they are", "[sync][clock]") {
    Device dev;
    dev.server.clock = std::make_shared<ManualClock>(kNov2026);
    dev.clock->set(kNov2026 + kMaxClockSkewMs - 1'000);  // 4 min 59 s ahead: still accepted
    REQUIRE(dev.replica->create("learners", mstest::learner_fields()).ok());
    const Stamp written = dev.replica->pending(1)->at(0).stamp;
    REQUIRE(dev.sync().kind == SyncStep::Kind::done);
    CHECK(dev.session->progress().redated == 0);
    REQUIRE(stored_from(dev).size() == 1);
    CHECK(stored_from(dev)[0].stamp == written);
    CHECK(describe_clock_offset(*dev.session->clock_skew_ms()) == "5 min ahead of the server's");
}

TEST_CASE("a refusal that re-dating cannot cure is sent once per sync, never in a loop",
          "[sync][clock][restamp]") {
    Device dev;
    REQUIRE(dev.replica->create("learners", mstest::learner_fields()).ok());
    REQUIRE(dev.replica->create("learners", mstest::learner_fields("Otra")).ok());
    // A server that refuses every transaction as stamped in the future, whatever its stamp.
    auto answer = [&](const HttpRequest& r) {
        HttpResponse real = dev.server.handle(r);
        if (r.path != "/v1/sync/push" || real.status != 200) return real;
        auto req = wire::decode_push_request(Schema::programme(), r.body);
        REQUIRE(req.ok());
        wire::PushResponse resp;
        for (std::size_t i = 0; i < req->txns.size(); ++i)
            resp.results.push_back({wire::PushResult::Kind::rejected, "future_stamp", "no"});
        resp.server_time_ms = dev.server.clock->now_ms();
        return HttpResponse{200, wire::encode_push_response(resp)};
    };
    auto run = [&] {
        dev.server.requests.clear();
        dev.session->start();
        for (int i = 0; i < 20; ++i) {
            auto req = dev.session->next_request();
            REQUIRE(req.ok());
            SyncStep step = dev.session->handle_response(answer(*req));
            if (step.kind != SyncStep::Kind::next) return step;
        }
        FAIL("the sync did not finish");
        return SyncStep{};
    };
    REQUIRE(run().kind == SyncStep::Kind::done);
    // Refused, re-dated once (the first stamp could go earlier: nothing was logged before it),
    // refused again: now they wait; the sync goes on to pull.
    CHECK(paths_of(dev.server) ==
          std::vector<std::string>{"/v1/sync/push", "/v1/sync/push", "/v1/sync/pull"});
    auto waiting = *dev.session->rejected();
    REQUIRE(waiting.size() == 2);
    CHECK(waiting[0].code == "future_stamp");
    CHECK(dev.session->progress().rejected == 2);
    CHECK(dev.replica->status()->pending_transactions == 2);
    // The next sync sends them once more (time has passed), and only once.
    REQUIRE(run().kind == SyncStep::Kind::done);
    CHECK(paths_of(dev.server) == std::vector<std::string>{"/v1/sync/push", "/v1/sync/pull"});
    CHECK(dev.session->rejected()->size() == 2);
}

TEST_CASE("future_stamp refusals an earlier sync left behind are re-dated before sending",
          "[sync][clock][restamp]") {
    Device dev;
    dev.server.clock = std::make_shared<ManualClock>(kNov2026);
    dev.clock->set(kNov2026 + kTenYears);
    REQUIRE(dev.replica->create("learners", mstest::learner_fields()).ok());
    const Stamp old_stamp = dev.replica->pending(1)->at(0).stamp;
    dev.clock->set(kNov2026);
    // What an earlier version left (or a sync killed right after the refusal): the refusal is
    // recorded, the transaction not re-dated. [hlc, node, code, message] per rejection.
    msgpack::sbuffer buf;
    msgpack::packer<msgpack::sbuffer> pk(buf);
    pk.pack_array(1);
    pk.pack_array(4);
    pk.pack_uint64(old_stamp.hlc);
    pk.pack_bin(16);
    pk.pack_bin_body(reinterpret_cast<const char*>(old_stamp.node.bytes.data()), 16);
    pk.pack(std::string("future_stamp"));
    pk.pack(std::string("stamped more than 300 s ahead of the server's clock"));
    REQUIRE(dev.replica->set_sync_value("push.rejected", std::string(buf.data(), buf.size())).ok());

    REQUIRE(dev.sync().kind == SyncStep::Kind::done);
    // No request carried the old stamp: it was re-dated first.
    CHECK(paths_of(dev.server) == std::vector<std::string>{"/v1/sync/push", "/v1/sync/pull"});
    CHECK(dev.session->progress().redated == 1);
    REQUIRE(stored_from(dev).size() == 1);
    CHECK(stored_from(dev)[0].stamp.millis() <= static_cast<std::uint64_t>(kNov2026));
    CHECK(dev.session->rejected()->empty());
    CHECK(dev.session->redate_notice()->redated == 1);
}

TEST_CASE("clock offsets are said in words, ahead or behind", "[sync][clock]") {
    CHECK(describe_clock_offset(0) == "in step with the server's");
    CHECK(describe_clock_offset(-499) == "in step with the server's");
    CHECK(describe_clock_offset(-240'000) == "4 min ahead of the server's");
    CHECK(describe_clock_offset(240'000) == "4 min behind the server's");
    CHECK(describe_clock_offset(-999) == "1 s ahead of the server's");
    CHECK(describe_clock_offset(119'000) == "119 s behind the server's");
    CHECK(describe_clock_offset(119'999) == "2 min behind the server's");
    CHECK(describe_clock_offset(-(kTenYears - 60'000)) == "10 years ahead of the server's");
    CHECK(describe_clock_offset(-3 * 3'600'000) == "3 h ahead of the server's");
    CHECK(describe_clock_offset(5 * 86'400'000) == "5 days behind the server's");
    CHECK(describe_clock_offset(-kTenYears) == "10 years ahead of the server's");
    CHECK(describe_clock_offset(INT64_MIN).find("years ahead of the server's") !=
          std::string::npos);
}

TEST_CASE("enrollment builds the documented request and reads the answer", "[sync][enroll]") {
    const auto keys = wire::DeviceKeys::generate();
    const Uuid node = Uuid::random();
    auto req = enrollment_request("ABCD-2345", keys, node, "Ilzes planšete");
    REQUIRE(req.ok());
    CHECK(req->method == "POST");
    CHECK(req->path == "/v1/enroll");
    CHECK(req->header("content-type") == "application/msgpack");
    CHECK_FALSE(req->header("Authorization").has_value());
    auto body = wire::decode_enroll_request(req->body);
    REQUIRE(body.ok());
    CHECK(body->code == "ABCD-2345");
    CHECK(body->public_key == keys.public_key);
    CHECK(body->node == node);
    CHECK(body->label == "Ilzes planšete");

    CHECK(enrollment_request("", keys, node, "x").status().code() == Code::invalid_argument);
    CHECK(enrollment_request("c", keys, node, std::string(101, 'x')).status().message() ==
          "the device label has 101 characters, more than 100");
    CHECK(enrollment_request("c", keys, node, "\xff").status().code() == Code::invalid_argument);

    wire::EnrollResponse er{Uuid::random(), Uuid::random(), "mentor", kNov2026};
    auto ok = parse_enrollment_response({200, wire::encode_enroll_response(er)});
    REQUIRE(ok.ok());
    CHECK(ok->device_id == er.device_id);
    CHECK(ok->user_id == er.user_id);
    CHECK(ok->role == "mentor");
    CHECK(ok->server_time_ms == kNov2026);

    auto refused = parse_enrollment_response(error(403, "enrollment_invalid"));
    REQUIRE_FALSE(refused.ok());
    CHECK(refused.status().code() == Code::invalid_argument);
    CHECK(refused.status().message() ==
          "enrollment refused (403 enrollment_invalid): test double says no");
    CHECK(parse_enrollment_response(error(503, "unavailable")).status().code() == Code::io);
    // Enrollment is rate-limited per client address: a 429 is "try again later", after the
    // answer's Retry-After, not "this code is no good".
    HttpResponse throttled = error(429, "rate_limited");
    throttled.retry_after_s = 7;
    auto later = parse_enrollment_response(throttled);
    CHECK(later.status().code() == Code::io);
    CHECK(later.status().retry_after_ms() == 7'000);
    CHECK(later.status().message() == "enrollment refused (429 rate_limited): test double says no");
    CHECK(parse_enrollment_response(error(408, "timeout")).status().code() == Code::io);
    CHECK(parse_enrollment_response({200, "junk"}).status().code() == Code::invalid_argument);
}
