// browser_seed: fills a running mentorsync-server with a small synthetic programme for the
// dashboard's browser tests (dashboard.test.mjs), the way real data arrives: organisation and
// cases through `mentorsync-server admin`, records from two mentors' tablets syncing over
// HTTP, and two conflicts from those tablets editing one shared contact while offline.
//
// Reuses the integration tests' helpers (server_process.h: admin(), Tablet). It is a Catch2
// program so that those helpers' REQUIREs fail it with a message; it reads
//   MENTORSYNC_SEED_DATA  the server's data directory (already `admin init`ed)
//   MENTORSYNC_SEED_URL   the server's base URL (already serving)
//   MENTORSYNC_SEED_OUT   where to write the JSON the browser test checks the pages against
// Dates follow the clock: the records fall in the current school year and semester up to
// today, so the dashboard's defaults (the current school year and semester) show them.
// All names are synthetic; one contains markup, to check that the dashboard shows it as text.
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <map>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "server_process.h"
#include "test_support.h"

using namespace mentorsync;
using mstest::admin;
using nlohmann::json;

namespace {

std::string env(const char* name) {
    const char* v = std::getenv(name);
    INFO("environment variable " << name << " must be set");
    REQUIRE(v != nullptr);
    REQUIRE(*v != '\0');
    return v;
}

using Day = std::chrono::sys_days;

std::string iso(Day d) {
    const std::chrono::year_month_day ymd(d);
    char buf[16];
    std::snprintf(buf, sizeof buf, "%04d-%02u-%02u", static_cast<int>(ymd.year()),
                  static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()));
    return buf;
}

std::string month_of(Day d) {
    return iso(d).substr(0, 7);
}

// The school year (1 Sept – 31 Aug) and semester (Sept–Dec, Jan–Aug) containing `today`.
struct Calendar {
    Day today;
    int first_year;
    Day year_start;
    Day semester_start;
    std::string semester;

    explicit Calendar(Day t) : today(t) {
        const std::chrono::year_month_day ymd(t);
        const int y = static_cast<int>(ymd.year());
        const bool autumn = static_cast<unsigned>(ymd.month()) >= 9;
        first_year = autumn ? y : y - 1;
        year_start = std::chrono::year{first_year} / 9 / 1;
        semester_start = autumn ? year_start : Day(std::chrono::year{y} / 1 / 1);
        semester = std::to_string(first_year) + "/" + std::to_string(first_year + 1) +
                   (autumn ? "-1" : "-2");
    }
    // `days` after `from`, but never after today.
    Day clamp(Day from, int days) const { return std::min(from + std::chrono::days(days), today); }
};

}  // namespace

TEST_CASE("seed the browser tests' programme", "[seed]") {
    const std::string data = env("MENTORSYNC_SEED_DATA");
    const std::string url = env("MENTORSYNC_SEED_URL");
    const std::string out_path = env("MENTORSYNC_SEED_OUT");
    const Calendar cal(std::chrono::floor<std::chrono::days>(std::chrono::system_clock::now()));
    mstest::TempDir tablets;

    const std::string rezekne =
        admin(data, {"add-municipality", "--name", "Rēzeknes novads"})["municipality_id"];
    const std::string valmiera =
        admin(data, {"add-municipality", "--name", "Valmieras novads"})["municipality_id"];
    const std::string school =
        admin(data, {"add-institution", "--name", "Rēzeknes Valsts ģimnāzija", "--municipality",
                     rezekne, "--kind", "school"})["institution_id"];
    const std::string centre =
        admin(data, {"add-institution", "--name", "Jauniešu centrs “Ābele”", "--municipality",
                     rezekne, "--kind", "youth_centre"})["institution_id"];
    const std::string other_school =
        admin(data, {"add-institution", "--name", "Valmieras skola", "--municipality", valmiera,
                     "--kind", "school"})["institution_id"];
    const std::string mentor_a = admin(data, {"add-user", "--role", "mentor", "--name",
                                              "Līga Mentore", "--institution", centre})["user_id"];
    const std::string mentor_b = admin(data, {"add-user", "--role", "mentor", "--name",
                                              "Jānis Mentors", "--institution", centre})["user_id"];

    auto learner = [&](const std::string& name, const std::string& in_school,
                       const std::string& municipality) -> std::string {
        return admin(data, {"add-learner", "--name", name, "--birth-year", "2011", "--school",
                            in_school, "--municipality", municipality, "--grade", "8",
                            "--education", "general"})["learner_id"];
    };
    const std::string anna = learner("Anna Bērziņa", school, rezekne);
    const std::string peteris = learner("Pēteris Ozoliņš", school, rezekne);
    const std::string markup =
        learner("<img src=x onerror=\"window.__xss=1\">Laura Kalniņa", school, rezekne);
    const std::string outsider = learner("Ērika Ārpusniece", other_school, valmiera);
    const std::string start = iso(cal.year_start);
    for (const std::string& l : {anna, peteris, markup, outsider}) {
        admin(data, {"assign", "--learner", l, "--mentor", mentor_a, "--centre", centre,
                     "--start-date", start});
    }
    admin(data, {"assign", "--learner", peteris, "--mentor", mentor_b, "--centre", centre,
                 "--start-date", start, "--shared"});

    mstest::Tablet a(tablets.file("a.db"), url);
    mstest::Tablet b(tablets.file("b.db"), url);
    a.enroll(admin(data, {"enroll-code", "--user", mentor_a})["code"], "A");
    b.enroll(admin(data, {"enroll-code", "--user", mentor_b})["code"], "B");
    a.sync_ok();

    // Expected figures for the Rēzekne coordinator, counted here as they are written.
    std::map<std::string, int> contacts_by_month, unjustified_by_month;

    // A contact with each in-scope learner every week since the school year began (so the
    // records browser has more than one page of contacts), and one with the outsider.
    for (Day d = cal.year_start + std::chrono::days(2); d <= cal.today; d += std::chrono::days(7)) {
        for (const std::string& l : {anna, peteris, markup}) {
            Fields c = {{"learner_id", l},
                        {"mentor_id", mentor_a},
                        {"starts_at", iso(d) + "T14:00"},
                        {"duration_min", 45},
                        {"place", "youth_centre"},
                        {"form", "individual"},
                        {"topics", std::vector<Value>{Value("attendance"), Value("learning")}}};
            REQUIRE(a.replica().create("contacts", c).ok());
            ++contacts_by_month[month_of(d)];
        }
    }
    REQUIRE(a.replica()
                .create("contacts", {{"learner_id", outsider},
                                     {"mentor_id", mentor_a},
                                     {"starts_at", iso(cal.today) + "T09:00"},
                                     {"duration_min", 30},
                                     {"place", "school"},
                                     {"form", "individual"}})
                .ok());

    // Anna: 4 × 6 = 24 unjustified lessons this semester (over 20: escalated); Pēteris: 5,
    // plus justified ones that do not count. The outsider is over the threshold too, but in
    // another municipality: the Rēzekne coordinator must not see them.
    auto absence = [&](const std::string& l, Day d, int lessons, const char* status) {
        Fields f = {{"learner_id", l},
                    {"date", iso(d)},
                    {"lessons", lessons},
                    {"status", status},
                    {"source", "e_journal"}};
        if (std::string(status) == "justified") f["justification"] = Value("parent_note");
        REQUIRE(a.replica().create("absences", f).ok());
        if (l != outsider && std::string(status) == "unjustified") {
            unjustified_by_month[month_of(d)] += lessons;
        }
    };
    for (int i = 0; i < 4; ++i)
        absence(anna, cal.clamp(cal.semester_start, 14 * i), 6, "unjustified");
    absence(peteris, cal.clamp(cal.semester_start, 3), 5, "unjustified");
    absence(peteris, cal.clamp(cal.semester_start, 4), 4, "justified");
    for (int i = 0; i < 2; ++i)
        absence(outsider, cal.clamp(cal.semester_start, i), 11, "unjustified");

    // Risk assessments of this semester.
    auto assess = [&](const std::string& l, const char* learning, const char* family,
                      const char* overall) {
        REQUIRE(a.replica()
                    .create("risk_assessments", {{"learner_id", l},
                                                 {"semester", cal.semester},
                                                 {"assessed_on", iso(cal.today)},
                                                 {"assessor_id", mentor_a},
                                                 {"learning_level", learning},
                                                 {"social_health_level", "low"},
                                                 {"family_level", family},
                                                 {"economic_level", "none"},
                                                 {"overall_level", overall}})
                    .ok());
    };
    assess(anna, "high", "medium", "high");
    assess(peteris, "medium", "low", "medium");
    assess(markup, "low", "none", "low");

    // The shared learner's contact, edited on both tablets while offline: two conflicts.
    auto shared = a.replica().create("contacts", {{"learner_id", peteris},
                                                  {"mentor_id", mentor_a},
                                                  {"starts_at", iso(cal.today) + "T15:00"},
                                                  {"duration_min", 45},
                                                  {"place", "youth_centre"},
                                                  {"form", "individual"}});
    REQUIRE(shared.ok());
    ++contacts_by_month[month_of(cal.today)];
    a.sync_ok();
    b.sync_ok();
    REQUIRE(b.replica().get("contacts", *shared).ok());
    REQUIRE(
        a.replica().update("contacts", *shared, {{"duration_min", 60}, {"place", "home"}}).ok());
    REQUIRE(
        b.replica().update("contacts", *shared, {{"duration_min", 90}, {"place", "school"}}).ok());
    a.sync_ok();
    b.sync_ok();
    a.sync_ok();
    REQUIRE(a.replica().conflicts()->size() == 2);

    json out = {
        {"municipality_id", rezekne},
        {"other_municipality_id", valmiera},
        {"school_id", school},
        {"centre_id", centre},
        {"learners",
         {{"anna", anna}, {"peteris", peteris}, {"markup", markup}, {"outsider", outsider}}},
        {"shared_contact", shared->to_string()},
        {"semester", cal.semester},
        {"school_year", std::to_string(cal.first_year) + "/" + std::to_string(cal.first_year + 1)},
        {"supported_learners", 3},
        {"devices", 2},
        {"open_conflicts", 2},
        {"escalated", {{{"learner_id", anna}, {"name", "Anna Bērziņa"}, {"lessons", 24}}}},
        {"contacts_by_month", contacts_by_month},
        {"unjustified_by_month", unjustified_by_month}};
    std::ofstream f(out_path, std::ios::trunc);
    f << out.dump(2) << "\n";
    REQUIRE(f.good());
}
