// The synthetic programme the coordinator tests share: two municipalities, nine learners (some
// with Latvian diacritics), contacts, absences and risk assessments written by three mentors'
// tablets and pushed, a CoordViews over the merged state, and one account per role.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "coord/coord_views.h"
#include "core_fixture.h"

namespace mstest {

using namespace mentorsync::server::coord;
using nlohmann::json;

// A view's refusal, as the view tests see it: the HTTP status its coord::Error answers with.
struct Refused {
    int status;
};

// CoordViews with every Result unwrapped, so that the view tests read a view's value directly:
// a failed Result throws Refused (Programme::view_status() returns its status).
class UnwrappedViews {
  public:
    explicit UnwrappedViews(std::unique_ptr<CoordViews> views) : v_(std::move(views)) {}

    json municipalities(const Account& who) { return unwrap(v_->municipalities(who)); }
    json institutions(const Account& who, std::optional<Uuid> m) {
        return unwrap(v_->institutions(who, m));
    }
    json records(const Account& who, const RecordFilter& f) { return unwrap(v_->records(who, f)); }
    Table records_table(const Account& who, RecordFilter f) {
        return unwrap(v_->records_table(who, std::move(f)));
    }
    json learner_file(const Account& who, const Uuid& l) {
        return unwrap(v_->learner_file(who, l));
    }
    json indicators(const Account& who, const std::string& sy, std::optional<Uuid> m) {
        return unwrap(v_->indicators(who, sy, m));
    }
    Table indicators_table(const json& ind) { return v_->indicators_table(ind); }
    json escalations(const Account& who, const std::string& sem, std::optional<Uuid> m) {
        return unwrap(v_->escalations(who, sem, m));
    }
    json devices(const Account& who, std::optional<Uuid> m) { return unwrap(v_->devices(who, m)); }
    json conflicts(const Account& who, std::optional<Uuid> m, std::optional<Uuid> l,
                   std::size_t limit, const std::string& cursor) {
        return unwrap(v_->conflicts(who, m, l, limit, cursor));
    }
    json resolve(const Account& who, const std::string& id, const std::string& how,
                 const json& value) {
        return unwrap(v_->resolve(who, id, how, value));
    }
    std::string today() const { return v_->today(); }

  private:
    template <typename T>
    static T unwrap(Result<T> r) {
        if (!r.ok()) throw Refused{http_status(answer_of(r.status()))};
        return std::move(r).value();
    }
    std::unique_ptr<CoordViews> v_;
};

struct CaseRow {
    std::string name;
    bool in_b;  // municipality B, else the fixture's A
    std::string start, end;
};

struct ContactRow {
    int learner;  // index into the learners
    std::string starts_at;
    int minutes;
};

struct AbsenceRow {
    int learner;
    std::string date;
    int lessons;
    std::string status;
};

struct Programme : CoreFixture {
    Uuid muni_b, school_b, centre_b, mentor3;
    std::vector<Uuid> learners;        // index = row in kCases
    std::vector<Uuid> learner_mentor;  // the mentor of each
    std::vector<bool> learner_in_b;
    std::shared_ptr<Admin> shared_admin;
    std::unique_ptr<UnwrappedViews> views;
    Account admin_acc, muni_a, muni_b_acc, national;

    // The synthetic cases. Learners 0 and 1 are the fixture's (A, started 2026-09-01).
    const std::vector<CaseRow> cases = {
        {"Learner One", false, "2026-09-01", ""},
        {"Learner Two", false, "2026-09-01", ""},
        {"Anna Ābele", false, "2026-10-15", ""},
        {"Jānis Ķēniņš", false, "2025-09-01", "2026-08-31"},
        {"Līga Šņore", false, "2026-11-02", ""},
        {"Oskars Ūdris", false, "2027-02-01", ""},
        {"Pēteris Žagars", false, "2026-09-01", ""},
        {"Marta Čakste", true, "2026-09-01", ""},
        {"Edgars Ģērmanis", true, "2026-12-01", ""},
    };
    const std::vector<ContactRow> contacts = {
        {0, "2026-09-03T10:00", 45}, {0, "2026-09-17T10:00", 30}, {0, "2026-10-01T09:30", 60},
        {1, "2026-09-10T12:00", 40}, {2, "2026-10-20T14:00", 90}, {2, "2026-11-05T14:00", 20},
        {6, "2026-11-06T08:00", 50}, {7, "2026-09-20T15:00", 35}, {8, "2026-12-02T16:00", 25},
        {0, "2025-12-01T10:00", 30},  // the previous school year: not counted
    };
    const std::vector<AbsenceRow> absences = {
        {0, "2026-10-05", 8, "unjustified"},  {0, "2026-10-06", 8, "unjustified"},
        {0, "2026-10-07", 8, "unjustified"},                                        // 24 > 20
        {2, "2026-10-21", 12, "unjustified"}, {2, "2026-11-21", 8, "unjustified"},  // 20: not
        {6, "2026-09-21", 10, "unjustified"}, {6, "2026-09-22", 15, "justified"},
        {6, "2026-09-23", 6, "unknown"},                                             // 10
        {7, "2026-11-10", 16, "unjustified"}, {7, "2026-12-10", 5, "unjustified"},   // 21 > 20
        {1, "2027-02-10", 16, "unjustified"}, {1, "2027-02-11", 16, "unjustified"},  // sem. 2
    };

    Programme() : Programme(wall_now_ms()) {}
    // The clock starts at `start_ms` (a fixed instant for output compared with golden files).
    explicit Programme(std::int64_t start_ms) : CoreFixture(start_ms) {
        muni_b = ok(admin->add_municipality("Otrs novads"));
        school_b = ok(admin->add_institution("Otra skola", InstitutionKind::school, muni_b));
        centre_b = ok(admin->add_institution("Otrs centrs", InstitutionKind::youth_centre, muni_b));
        mentor3 = ok(admin->add_user(Role::mentor, centre_b, "Mentore Trešā"));
        for (std::size_t i = 0; i < cases.size(); ++i) {
            const CaseRow& c = cases[i];
            Uuid l;
            if (i == 0)
                l = learner1;
            else if (i == 1)
                l = learner2;
            else {
                LearnerInput in;
                in.name = c.name;
                in.birth_year = 2010;
                in.school_id = c.in_b ? school_b : school;
                in.municipality_id = c.in_b ? muni_b : municipality;
                in.grade = 9;
                in.education = "general";
                l = ok(admin->add_learner(in));
            }
            const Uuid mentor = c.in_b ? mentor3 : (i == 1 ? mentor2 : mentor1);
            if (i >= 2) {
                auto a = ok(admin->assign({l, mentor, std::nullopt, c.start}));
                if (!c.end.empty())
                    REQUIRE(admin->close_case({a.assignment, "goals_met", c.end}).ok());
            }
            learners.push_back(l);
            learner_mentor.push_back(mentor);
            learner_in_b.push_back(c.in_b);
        }
        // Each mentor's tablet writes its learners' contacts and absences, and pushes.
        std::map<Uuid, Tablet> tabs;
        for (const Uuid& m : {mentor1, mentor2, mentor3}) {
            tabs.emplace(m, tablet(m));
            pull_all(tabs.at(m));
        }
        for (const ContactRow& c : contacts) {
            Tablet& t = tabs.at(learner_mentor[c.learner]);
            REQUIRE(t.replica
                        ->create("contacts", {{"learner_id", learners[c.learner].to_string()},
                                              {"mentor_id", learner_mentor[c.learner].to_string()},
                                              {"starts_at", c.starts_at},
                                              {"duration_min", c.minutes},
                                              {"place", "school"},
                                              {"form", "individual"},
                                              {"notes", "=slepena piezīme"},
                                              {"next_steps", "zvanīt vecākiem"}})
                        .ok());
        }
        for (const AbsenceRow& a : absences) {
            Tablet& t = tabs.at(learner_mentor[a.learner]);
            Fields f{{"learner_id", learners[a.learner].to_string()},
                     {"date", a.date},
                     {"lessons", a.lessons},
                     {"status", a.status},
                     {"source", "mentor"}};
            if (a.status == "justified") f["justification"] = "doctor";
            REQUIRE(t.replica->create("absences", f).ok());
        }
        // Risk: learner 0 assessed twice in semester 1 (the later one counts), learner 2 once.
        auto risk = [&](int l, const std::string& on, const std::string& family) {
            Tablet& t = tabs.at(learner_mentor[l]);
            REQUIRE(
                t.replica
                    ->create("risk_assessments", {{"learner_id", learners[l].to_string()},
                                                  {"semester", "2026/2027-1"},
                                                  {"assessed_on", on},
                                                  {"assessor_id", learner_mentor[l].to_string()},
                                                  {"learning_level", "medium"},
                                                  {"social_health_level", "low"},
                                                  {"family_level", family},
                                                  {"economic_level", "none"},
                                                  {"overall_level", "medium"}})
                    .ok());
        };
        risk(0, "2026-10-01", "high");
        risk(0, "2026-11-01", "low");
        risk(2, "2026-10-22", "high");
        for (auto& [m, t] : tabs)
            push_pending(t);

        shared_admin = std::make_shared<Admin>(store, state, clock);
        views = std::make_unique<UnwrappedViews>(std::make_unique<CoordViews>(shared_admin, clock));
        admin_acc = {Uuid::random(), "admin", CoordRole::admin, std::nullopt, 0, false};
        muni_a = {Uuid::random(), "riga", CoordRole::municipality, municipality, 0, false};
        muni_b_acc = {Uuid::random(), "otrs", CoordRole::municipality, muni_b, 0, false};
        national = {Uuid::random(), "visc", CoordRole::national, std::nullopt, 0, false};
    }

    // --- expectations derived from the tables above ----------------------------------------
    bool in_scope(int i, std::optional<bool> b) const { return !b || learner_in_b[i] == *b; }
    static bool overlaps(const CaseRow& c, const std::string& from, const std::string& to) {
        return c.start <= to && (c.end.empty() || c.end >= from);
    }
    std::int64_t supported(std::optional<bool> b) const {
        std::int64_t n = 0;
        for (std::size_t i = 0; i < cases.size(); ++i)
            if (in_scope(static_cast<int>(i), b) && overlaps(cases[i], "2026-09-01", "2027-08-31"))
                ++n;
        return n;
    }

    int view_status(const std::function<void()>& f) {
        try {
            f();
        } catch (const Refused& e) {
            return e.status;
        }
        return 200;
    }
};

}  // namespace mstest
