// Idempotency under the worst interruptions: the connection drops after the server committed a
// push but before the tablet read the answer; a pull's answer is lost. Retrying must neither
// duplicate nor miss anything, and every retry is signed afresh: the server never sees a nonce
// twice (it would refuse the resend as replayed_nonce).
#include <catch2/catch.hpp>

#include <algorithm>
#include <set>

#include "drop_proxy.h"
#include "server_process.h"
#include "test_support.h"

using namespace mentorsync;
using mstest::admin;

namespace {

struct World {
    mstest::TempDir dir;
    std::string data = dir.file("server");
    std::string centre, mentor, staff, learner;
    World() {
        admin(data, {"init"});
        std::string m =
            admin(data, {"add-municipality", "--name", "Testa novads"})["municipality_id"];
        centre = admin(data, {"add-institution", "--name", "Centrs", "--municipality", m, "--kind",
                              "youth_centre"})["institution_id"];
        mentor = admin(data, {"add-user", "--role", "mentor", "--name", "Mentore", "--institution",
                              centre})["user_id"];
        staff = admin(data, {"add-user", "--role", "centre_staff", "--name", "Darbiniece",
                             "--institution", centre})["user_id"];
        learner = admin(
            data, {"add-learner", "--name", "Skolniece", "--birth-year", "2011", "--school", centre,
                   "--municipality", m, "--grade", "8", "--education", "general"})["learner_id"];
        admin(data, {"assign", "--learner", learner, "--mentor", mentor});
    }
    std::string code(const std::string& user) {
        return admin(data, {"enroll-code", "--user", user})["code"];
    }
    Fields absence(int day) const {
        return {{"learner_id", learner},
                {"date", "2026-11-0" + std::to_string(day)},
                {"lessons", 1},
                {"status", "unjustified"},
                {"source", "mentor"}};
    }
};

// Requests the server refused as replayed, from its request log (read after stop()).
std::size_t replays(const mstest::ServerProcess& server) {
    std::size_t n = 0;
    for (const auto& line : server.log_lines()) {
        auto j = nlohmann::json::parse(line, nullptr, false);
        if (!j.is_discarded() && j.value("event", "") == "request" &&
            j.value("code", "") == "replayed_nonce")
            ++n;
    }
    return n;
}

std::size_t distinct(const std::vector<std::string>& v) {
    return std::set<std::string>(v.begin(), v.end()).size();
}

}  // namespace

TEST_CASE("a push whose answer was lost is retried without duplicates", "[integration][retry]") {
    World w;
    mstest::ServerProcess server(w.data);
    mstest::DropProxy proxy(server.port());
    mstest::Tablet a(w.dir.file("a.db"), proxy.url());
    a.enroll(w.code(w.mentor), "mentor tablet");
    a.sync_ok();
    for (int d = 1; d <= 3; ++d)
        REQUIRE(a.replica().create("absences", w.absence(d)).ok());

    proxy.drop_next_answers(1);  // the push is committed, its answer never arrives
    auto p = a.sync_ok();
    CHECK(proxy.dropped() == 1);
    CHECK(p.acked == 3);
    CHECK(p.rejected == 0);
    CHECK(a.replica().status()->pending_transactions == 0);

    // Another tablet sees each absence exactly once: the server stored no duplicate.
    mstest::Tablet c(w.dir.file("c.db"), server.url());
    c.enroll(w.code(w.staff), "centre tablet");
    auto pc = c.sync_ok();
    CHECK(pc.pulled == 5);  // learner, assignment, three absences
    CHECK(pc.applied == 5);
    CHECK(server.stop() == 0);
    // The push went out on a kept-alive connection; its resend on a new one was signed anew.
    CHECK(replays(server) == 0);
    auto nonces = proxy.nonces();
    CHECK(nonces.size() >= 4);  // two syncs' requests and the resend
    CHECK(distinct(nonces) == nonces.size());
}

TEST_CASE("a pull whose answer was lost is resumed and misses nothing", "[integration][retry]") {
    World w;
    mstest::ServerProcess server(w.data);
    mstest::DropProxy proxy(server.port());
    mstest::Tablet a(w.dir.file("a.db"), server.url());
    a.enroll(w.code(w.mentor), "mentor tablet");
    a.sync_ok();
    for (int d = 1; d <= 4; ++d)
        REQUIRE(a.replica().create("absences", w.absence(d)).ok());
    a.sync_ok();

    mstest::Tablet c(w.dir.file("c.db"), proxy.url());
    c.enroll(w.code(w.staff), "centre tablet");
    proxy.drop_next_answers(2);  // the first two answers of this sync are lost
    auto pc = c.sync_ok();
    CHECK(proxy.dropped() == 2);
    CHECK(pc.applied == 6);
    Query q;
    q.collection = "absences";
    CHECK(c.replica().query(q)->size() == 4);
    CHECK(server.stop() == 0);
    CHECK(replays(server) == 0);
    auto nonces = proxy.nonces();
    CHECK(nonces.size() >= 3);  // the pull, its resend after each lost answer
    CHECK(distinct(nonces) == nonces.size());
}

TEST_CASE("every resend after a cut connection is signed afresh and none is refused as replayed",
          "[integration][retry]") {
    World w;
    mstest::ServerProcess server(w.data);
    mstest::DropProxy proxy(server.port());
    mstest::Tablet a(w.dir.file("a.db"), proxy.url());
    a.enroll(w.code(w.mentor), "mentor tablet");
    a.sync_ok();
    // Each round cuts the answer to the first request, which always goes out on the connection
    // the last sync kept alive: the transport reconnects and sends again at once.
    for (int round = 1; round <= 4; ++round) {
        REQUIRE(a.replica().create("absences", w.absence(round)).ok());
        proxy.drop_next_answers(round % 2 == 0 ? 2 : 1);  // even rounds lose the resend too
        auto p = a.sync_ok();
        CHECK(p.acked == 1);
    }
    CHECK(proxy.dropped() == 6);
    CHECK(a.replica().status()->pending_transactions == 0);
    CHECK(server.stop() == 0);
    CHECK(replays(server) == 0);
    auto nonces = proxy.nonces();
    CHECK(nonces.size() == 1 + 4 * 2 + 6);  // the first pull, a push and a pull per round, and
                                            // one resend per cut
    CHECK(distinct(nonces) == nonces.size());
}
