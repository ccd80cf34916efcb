// The coordinator views at the programme's scale: 2,500 learners, 20,000 contacts and 10,000
// absences in the merged state. Prints how long each view takes (one JSON line per figure);
// the bounds only catch a view that became unusable. Label `long`: it takes a few minutes.
#include <catch2/catch.hpp>

#include <chrono>
#include <iostream>

#include "coord/coord_views.h"
#include "programme_fixture.h"

using namespace mstest;
using namespace mentorsync::server::coord;

TEST_CASE("coordinator views at programme scale", "[server][long]") {
    CoreFixture f;
    constexpr int kMentors = 10, kLearners = 2500;
    std::vector<Uuid> mentors;
    for (int m = 0; m < kMentors; ++m)
        mentors.push_back(f.ok(f.admin->add_user(Role::mentor, f.centre, "M" + std::to_string(m))));
    std::vector<Tablet> tablets;
    std::vector<std::vector<Uuid>> of(kMentors);
    for (int i = 0; i < kLearners; ++i) {
        const Uuid l = f.add_learner("L" + std::to_string(i));
        REQUIRE(f.admin->assign({l, mentors[i % kMentors], std::nullopt, "2026-09-01"}).ok());
        of[i % kMentors].push_back(l);
    }
    for (int m = 0; m < kMentors; ++m) {
        tablets.push_back(f.tablet(mentors[m]));
        f.pull_all(tablets.back());
        for (const Uuid& l : of[m]) {
            WriteBatch b;  // one learner per transaction, as the apps write
            for (int c = 0; c < 8; ++c)
                b.create("contacts", {{"learner_id", l.to_string()},
                                      {"mentor_id", mentors[m].to_string()},
                                      {"starts_at", "2026-" + std::string(c < 4 ? "10" : "11") +
                                                        "-1" + std::to_string(c) + "T10:00"},
                                      {"duration_min", 30 + c},
                                      {"place", "school"},
                                      {"form", "individual"},
                                      {"notes", "synthetic"}});
            for (int a = 0; a < 4; ++a)
                b.create("absences", {{"learner_id", l.to_string()},
                                      {"date", "2026-10-2" + std::to_string(a)},
                                      {"lessons", 6},
                                      {"status", "unjustified"},
                                      {"source", "e_journal"}});
            REQUIRE(tablets.back().replica->commit(b).ok());
        }
        for (;;) {
            auto pending = f.ok(tablets.back().replica->pending(1));
            if (pending.empty()) break;
            f.push_pending(tablets.back());
        }
    }
    auto views = std::make_shared<Admin>(f.store, f.state, f.clock);
    UnwrappedViews v(std::make_unique<CoordViews>(views, f.clock));
    const Account admin{Uuid::random(), "admin", CoordRole::admin, std::nullopt, 0, false};
    const Account muni{Uuid::random(), "m", CoordRole::municipality, f.municipality, 0, false};
    auto timed = [](const char* what, const std::function<void()>& fn) {
        const auto t0 = std::chrono::steady_clock::now();
        fn();
        const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                            std::chrono::steady_clock::now() - t0)
                            .count();
        std::cout << "{\"figure\":\"coord_view_ms\",\"view\":\"" << what << "\",\"ms\":" << ms
                  << "}\n";
        CHECK(ms < 30'000);
    };
    nlohmann::json ind;
    timed("indicators", [&] { ind = v.indicators(admin, "2026/2027", std::nullopt); });
    CHECK(ind["supported_learners"]["value"] == kLearners + 2);  // + the fixture's two
    CHECK(ind["contacts_by_month"][1]["contacts"] == kLearners * 4);
    timed("escalations", [&] {
        CHECK(v.escalations(muni, "2026/2027-1", std::nullopt)["items"].size() == kLearners);
    });
    RecordFilter rf;
    rf.collection = "contacts";
    timed("records_page", [&] { CHECK(v.records(muni, rf)["items"].size() == 100); });
    rf.learner = of[0][0];
    timed("records_one_learner", [&] { CHECK(v.records(muni, rf)["items"].size() == 8); });
    rf.learner.reset();
    rf.from = rf.to = "2026-10-10";
    rf.limit = 0;  // the whole day, unpaged
    timed("records_one_day", [&] { CHECK(v.records(muni, rf)["items"].size() == kLearners); });
    timed("learner_file", [&] { v.learner_file(muni, of[3][7]); });
}
