// Test fixture for the server core: a data directory with a store and its merged state, the
// admin API and the sync service sharing them, a manual clock, and tablets (engine replicas with
// enrolled device keys) that sign requests exactly as protocol §5 says.
#pragma once

#include <catch2/catch.hpp>

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "core/admin.h"
#include "core/merged_state.h"
#include "core/store.h"
#include "core/sync_service.h"
#include "mentorsync/replica.h"
#include "mentorsync/wire.h"
#include "service_errors.h"
#include "test_support.h"

namespace mstest {

using namespace mentorsync;
using namespace mentorsync::server;

inline std::int64_t wall_now_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

inline std::string hex(std::string_view bytes) {
    static const char* d = "0123456789abcdef";
    std::string out;
    for (unsigned char c : bytes) {
        out.push_back(d[c >> 4]);
        out.push_back(d[c & 15]);
    }
    return out;
}

// An Authorization value from its four parts as they appear in it (docs/protocol.md §5), for
// tests that replace one part.
inline std::string authorization_of(const wire::Credentials& c) {
    return std::string(wire::kAuthScheme) + " " + c.device + "." + c.timestamp + "." + c.nonce +
           "." + c.signature;
}

// A tablet: a replica plus an enrolled device key.
struct Tablet {
    std::unique_ptr<Replica> replica;
    wire::DeviceKeys keys;
    Principal who;
    std::string cursor;
};

struct CoreFixture {
    TempDir dir;
    std::shared_ptr<ManualClock> clock = std::make_shared<ManualClock>(wall_now_ms());
    std::shared_ptr<ServerStore> store;
    std::shared_ptr<MergedState> state;
    // Every line the core logged, so tests can check what logs contain.
    std::shared_ptr<std::vector<std::string>> log_lines =
        std::make_shared<std::vector<std::string>>();
    std::shared_ptr<std::mutex> log_mu = std::make_shared<std::mutex>();
    std::unique_ptr<Admin> admin;
    std::unique_ptr<SyncServiceImpl> service;
    Uuid municipality, centre, school, other_centre;
    Uuid mentor1, mentor2, staff;
    Uuid learner1, learner2;
    int tablets_made = 0;

    CoreFixture() : CoreFixture(wall_now_ms()) {}
    // Starts the manual clock at `start_ms`, for tests whose output must not depend on today.
    explicit CoreFixture(std::int64_t start_ms) : clock(std::make_shared<ManualClock>(start_ms)) {
        StoreOptions o;
        o.data_dir = dir.file("data");
        o.clock = clock;
        auto s = open_sqlite_store(o);
        INFO(s.status().to_string());
        REQUIRE(s.ok());
        store = std::move(s).value();
        state = open_state();
        admin = std::make_unique<Admin>(store, state, clock);
        service = std::make_unique<SyncServiceImpl>(store, state, clock);
        municipality = ok(admin->add_municipality("Testa novads"));
        centre = ok(
            admin->add_institution("Jauniešu centrs", InstitutionKind::youth_centre, municipality));
        other_centre = ok(
            admin->add_institution("Otrais centrs", InstitutionKind::youth_centre, municipality));
        school = ok(admin->add_institution("Testa skola", InstitutionKind::school, municipality));
        mentor1 = ok(admin->add_user(Role::mentor, centre, "Mentore Pirmā"));
        mentor2 = ok(admin->add_user(Role::mentor, other_centre, "Mentors Otrais"));
        staff = ok(admin->add_user(Role::centre_staff, centre, "Centra Darbiniece"));
        learner1 = add_learner("Learner One");
        learner2 = add_learner("Learner Two");
        REQUIRE(admin->assign({learner1, mentor1, std::nullopt, "2026-09-01"}).ok());
        REQUIRE(admin->assign({learner2, mentor2, std::nullopt, "2026-09-01"}).ok());
    }

    // The data directory's merged state over this fixture's store (opening it catches up).
    // Closes the merged state as a server stops (admin and service first, so the state's
    // applier drains), then opens it again with a new Admin. The service stays closed.
    void reopen_state() {
        admin.reset();
        service.reset();
        state.reset();
        state = open_state();
        admin = std::make_unique<Admin>(store, state, clock);
    }

    std::shared_ptr<MergedState> open_state() {
        MergedStateOptions mo;
        mo.data_dir = dir.file("data");
        mo.clock = clock;
        mo.log = [lines = log_lines, mu = log_mu](std::string_view line) {
            std::lock_guard lock(*mu);
            lines->emplace_back(line);
        };
        auto st = MergedState::open(store, std::move(mo));
        INFO(st.status().to_string());
        REQUIRE(st.ok());
        return std::move(st).value();
    }

    std::vector<std::string> logged() const {
        std::lock_guard lock(*log_mu);
        return *log_lines;
    }

    template <typename T>
    static T ok(Result<T> r) {
        INFO(r.status().to_string());
        REQUIRE(r.ok());
        return std::move(r).value();
    }

    Uuid add_learner(const std::string& name) {
        LearnerInput in;
        in.name = name;
        in.birth_year = 2011;
        in.school_id = school;
        in.municipality_id = municipality;
        in.grade = 8;
        in.education = "general";
        return ok(admin->add_learner(in));
    }

    std::string code_for(const Uuid& user) { return ok(admin->issue_enrollment_code(user)).code; }

    // A new replica enrolled for `user`.
    Tablet tablet(const Uuid& user, const std::string& label = "test tablet") {
        Tablet t;
        t.replica = open_replica(dir.file("tablet" + std::to_string(tablets_made++) + ".db"),
                                 "correct horse battery", clock);
        t.keys = wire::DeviceKeys::generate();
        wire::EnrollRequest rq{code_for(user), t.keys.public_key, t.replica->node(), label};
        auto r = service->enroll(rq);
        INFO(error_code(r) + ": " + r.status().message());
        REQUIRE(r.ok());
        t.who = Principal{r->device_id, r->user_id, t.replica->node(), *parse_role(r->role)};
        return t;
    }

    // A correctly signed request of `t`, at the server's current time.
    SignedRequest signed_request(const Tablet& t, std::string_view body,
                                 const std::string& path = "/v1/sync/push") {
        SignedRequest rq;
        rq.method = "POST";
        rq.path = path;
        rq.body = body;
        rq.authorization = wire::authorization(t.keys, rq.method, rq.path, t.who.device_id,
                                               clock->now_ms(), Uuid::random().raw(), body);
        return rq;
    }

    // Pushes the tablet's pending transactions in one new batch; acknowledges accepted ones.
    wire::PushResponse push_pending(Tablet& t) {
        auto txns = ok(t.replica->pending(1000));
        auto r = service->push(t.who, Uuid::random(), hex(Uuid::random().raw()), txns);
        INFO(error_code(r) + ": " + r.status().message());
        REQUIRE(r.ok());
        std::vector<Stamp> acked;
        for (std::size_t i = 0; i < txns.size(); ++i)
            if (r->results[i].kind != wire::PushResult::Kind::rejected)
                acked.push_back(txns[i].stamp);
        REQUIRE(t.replica->acknowledge(acked).ok());
        // The merged state applies pushes in the background: wait for it, so that tests which
        // read state.db directly (not through a view, which catches up) see this push.
        if (state) state->drain();
        return *r;
    }

    wire::PullResponse pull(const Tablet& t, const std::string& cursor, std::size_t limit = 500) {
        auto r = service->pull(t.who, cursor, limit);
        INFO(error_code(r) + ": " + r.status().message());
        REQUIRE(r.ok());
        return *r;
    }

    // A pull as the HTTP layer makes it: the signed request (whose authentication records the
    // report with the nonce, protocol §8) and then the pull itself, from the tablet's cursor.
    wire::PullResponse signed_pull(Tablet& t, std::optional<wire::DeviceReport> report) {
        wire::PullRequest pr;
        pr.cursor = t.cursor;
        pr.report = report;
        const std::string body = wire::encode_pull_request(pr);
        auto who = service->authenticate(signed_request(t, body, "/v1/sync/pull"));
        INFO(error_code(who) + ": " + who.status().message());
        REQUIRE(who.ok());
        wire::PullResponse p = pull(t, t.cursor);
        REQUIRE(t.replica->apply_remote(p.txns).ok());
        t.cursor = p.cursor;
        return p;
    }

    // Pulls until `more` is false, applying every page to the tablet's replica.
    std::vector<Transaction> pull_all(Tablet& t, std::size_t limit = 500) {
        std::vector<Transaction> all;
        for (int i = 0; i < 1000; ++i) {
            wire::PullResponse p = pull(t, t.cursor, limit);
            REQUIRE(t.replica->apply_remote(p.txns).ok());
            all.insert(all.end(), p.txns.begin(), p.txns.end());
            t.cursor = p.cursor;
            if (!p.more) return all;
        }
        FAIL("pull never finished");
        return all;
    }

    // The learners that transactions concern (their rows' learners, from the store).
    std::set<Uuid> learners_of(const std::vector<Transaction>& txns) {
        std::set<Uuid> out;
        for (const auto& txn : txns)
            for (const auto& ch : txn.changes) {
                auto row = ok(store->find_row(ch.row));
                REQUIRE(row.has_value());
                out.insert(row->learner);
            }
        return out;
    }
};

}  // namespace mstest
