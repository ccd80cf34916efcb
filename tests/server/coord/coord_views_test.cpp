// CoordViews over a synthetic programme: each role sees exactly its part, indicators match
// values this test derives from its own data table (never from the indicator code), small
// counts are suppressed for the national role, and a resolution syncs back to the tablets.
#include <catch2/catch.hpp>

#include <map>
#include <set>

#include "coord/coord_views.h"
#include "programme_fixture.h"

using namespace mstest;
using namespace mentorsync::server::coord;
using nlohmann::json;

TEST_CASE("indicators match values derived independently from the synthetic data", "[server]") {
    Programme p;
    const json all = p.views->indicators(p.admin_acc, "2026/2027", std::nullopt);
    const json a = p.views->indicators(p.muni_a, "2026/2027", std::nullopt);
    CHECK(all["suppressed"] == false);
    CHECK(all["supported_learners"]["value"] == p.supported(std::nullopt));
    CHECK(all["supported_learners"]["value"] == 8);  // the table by eye: all but Jānis
    CHECK(all["supported_learners"]["target"] == 2500);
    CHECK(a["supported_learners"]["value"] == p.supported(false));
    CHECK(all["active_municipalities"]["value"] == 2);
    CHECK(a["active_municipalities"]["value"] == 1);
    CHECK(all["active_institutions"]["value"] == 2);
    CHECK(all["active_municipalities"]["target"] == 42);
    CHECK(all["active_institutions"]["target"] == 688);
    CHECK(a["municipality_id"] == p.municipality.to_string());

    // Mentors: with cases active in the year, active by contacts, pairs per mentor.
    std::set<Uuid> with_cases, active;
    std::set<std::pair<Uuid, Uuid>> pairs;
    for (std::size_t i = 0; i < p.cases.size(); ++i)
        if (Programme::overlaps(p.cases[i], "2026-09-01", "2027-08-31")) {
            with_cases.insert(p.learner_mentor[i]);
            pairs.emplace(p.learner_mentor[i], p.learners[i]);
        }
    for (const ContactRow& c : p.contacts)
        if (c.starts_at >= "2026-09-01") active.insert(p.learner_mentor[c.learner]);
    CHECK(all["mentors"]["with_cases"] == with_cases.size());
    CHECK(all["mentors"]["active"] == active.size());
    CHECK(all["mentors"]["mentees_per_mentor"].get<double>() ==
          Approx(static_cast<double>(pairs.size()) / with_cases.size()).margin(0.005));

    // Contacts and hours per month, with mentees = learners whose case overlaps the month.
    const json& months = all["contacts_by_month"];
    REQUIRE(months.size() == 12);
    CHECK(months[0]["month"] == "2026-09");
    CHECK(months[11]["month"] == "2027-08");
    const std::vector<std::pair<std::string, std::string>> bounds = {
        {"2026-09-01", "2026-09-30"}, {"2026-10-01", "2026-10-31"}, {"2026-11-01", "2026-11-30"},
        {"2026-12-01", "2026-12-31"}, {"2027-01-01", "2027-01-31"}, {"2027-02-01", "2027-02-28"}};
    for (std::size_t m = 0; m < bounds.size(); ++m) {
        const std::string month = bounds[m].first.substr(0, 7);
        std::int64_t n = 0, minutes = 0, mentees = 0, unjustified = 0;
        for (const ContactRow& c : p.contacts)
            if (c.starts_at.substr(0, 7) == month) ++n, minutes += c.minutes;
        for (const CaseRow& c : p.cases)
            if (Programme::overlaps(c, bounds[m].first, bounds[m].second)) ++mentees;
        for (const AbsenceRow& ab : p.absences)
            if (ab.date.substr(0, 7) == month && ab.status == "unjustified")
                unjustified += ab.lessons;
        INFO("month " << month);
        CHECK(months[m]["month"] == month);
        CHECK(months[m]["contacts"] == n);
        CHECK(months[m]["mentees"] == mentees);
        CHECK(months[m]["hours"].get<double>() == Approx(minutes / 60.0).margin(0.005));
        CHECK(months[m]["unjustified_lessons"] == unjustified);
        if (mentees > 0)
            CHECK(months[m]["contacts_per_mentee"].get<double>() ==
                  Approx(static_cast<double>(n) / mentees).margin(0.005));
    }

    // Risk: semester 1 has learners 0 (latest: family low) and 2 (family high).
    const json& s1 = all["risk_by_semester"][0];
    CHECK(s1["semester"] == "2026/2027-1");
    CHECK(s1["assessed_learners"] == 2);
    CHECK(s1["groups"]["family"]["low"] == 1);
    CHECK(s1["groups"]["family"]["high"] == 1);
    CHECK(s1["groups"]["family"]["medium"] == 0);
    CHECK(s1["groups"]["learning"]["medium"] == 2);
    CHECK(s1["groups"]["overall"]["medium"] == 2);
    CHECK(all["risk_by_semester"][1]["assessed_learners"] == 0);

    // Escalations in semester 1 (today, 2026-11-23 on the fixture's wall clock, or later:
    // the test only relies on the named semester below).
    const json esc = p.views->escalations(p.admin_acc, "2026/2027-1", std::nullopt);
    std::map<int, std::int64_t> sums;
    for (const AbsenceRow& ab : p.absences)
        if (ab.status == "unjustified" && ab.date >= "2026-09-01" && ab.date <= "2026-12-31")
            sums[ab.learner] += ab.lessons;
    std::set<std::string> expected;
    for (const auto& [l, n] : sums)
        if (n > 20) expected.insert(p.learners[l].to_string());
    std::set<std::string> got;
    for (const json& e : esc["items"])
        got.insert(e["learner_id"]);
    CHECK(got == expected);
    CHECK(expected.size() == 2);
    CHECK(esc["items"][0]["unjustified_lessons"] == 24);
    CHECK(esc["items"][0]["name"] == "Learner One");
    // Municipality A sees only its own escalation.
    const json esc_a = p.views->escalations(p.muni_a, "2026/2027-1", std::nullopt);
    REQUIRE(esc_a["items"].size() == 1);
    CHECK(esc_a["items"][0]["learner_id"] == p.learners[0].to_string());
    // Semester 2: learner 1's 32 lessons.
    const json esc2 = p.views->escalations(p.admin_acc, "2026/2027-2", std::nullopt);
    REQUIRE(esc2["items"].size() == 1);
    CHECK(esc2["items"][0]["learner_id"] == p.learners[1].to_string());

    // Data quality: three enrolled devices; this fixture pushes without the signed-request
    // path that records a device's last sync, so all three have "never" synced (the
    // integration test covers days since a real sync). No conflicts yet.
    CHECK(all["data_quality"]["devices"] == 3);
    CHECK(all["data_quality"]["devices_by_days_since_sync"]["never"] == 3);
    CHECK(all["data_quality"]["open_conflicts"] == 0);
    CHECK(all["data_quality"]["pending_on_devices"].is_null());  // no device reported yet
    CHECK(a["data_quality"]["devices"] == 2);

    // Bad parameters are named.
    CHECK(p.view_status([&] { p.views->indicators(p.admin_acc, "2026/2028", std::nullopt); }) ==
          400);
    CHECK(p.view_status([&] { p.views->escalations(p.admin_acc, "2026/2027-3", std::nullopt); }) ==
          400);

    // The CSV table of the indicators carries the same numbers.
    const Table t = p.views->indicators_table(all);
    bool found = false;
    for (const auto& row : t.rows)
        if (row[0] == "supported_learners") found = row[3] == "8" && row[4] == "2500";
    CHECK(found);
}

TEST_CASE("data quality sums the devices' own reports and the server's rejections",
          "[server][report]") {
    Programme p;
    auto dq = [&](const Account& who, std::optional<Uuid> muni = std::nullopt) {
        return p.views->indicators(who, "2026/2027", muni)["data_quality"];
    };
    auto csv_value = [&](const json& ind, const std::string& key) {
        for (const auto& row : p.views->indicators_table(ind).rows)
            if (row[0] == key) return row[3];
        FAIL("no CSV row " << key);
        return std::string();
    };

    // The fixture's three tablets pushed without ever sending a report: unknown, not 0.
    const json before = p.views->indicators(p.admin_acc, "2026/2027", std::nullopt);
    CHECK(before["data_quality"]["devices_not_reporting"] == 3);
    CHECK(before["data_quality"]["pending_on_devices"].is_null());
    CHECK(before["data_quality"]["quarantined_on_devices"].is_null());
    CHECK(before["data_quality"]["rejected_on_devices"].is_null());
    CHECK(before["data_quality"]["rejected_on_server"] == 0);
    CHECK(csv_value(before, "data_quality_pending_on_devices") == "not reported");
    CHECK(csv_value(before, "data_quality_rejected_on_server") == "0");

    // Two new tablets, one per municipality, each pushes one transaction about a learner of
    // the other municipality (out of scope: rejected) and reports its own counts.
    Tablet ta = p.tablet(p.mentor1);  // municipality A
    Tablet tb = p.tablet(p.mentor3);  // municipality B
    auto write_about = [&](Tablet& t, int learner, const Uuid& mentor) {
        REQUIRE(t.replica
                    ->create("contacts", {{"learner_id", p.learners[learner].to_string()},
                                          {"mentor_id", mentor.to_string()},
                                          {"starts_at", "2026-11-20T10:00"},
                                          {"duration_min", 30},
                                          {"place", "school"},
                                          {"form", "individual"}})
                    .ok());
        const wire::PushResponse r = p.push_pending(t);
        REQUIRE(r.results.size() == 1);
        CHECK(r.results[0].code == "out_of_scope");
    };
    write_about(ta, 7, p.mentor1);  // learner 7 is in B
    write_about(tb, 0, p.mentor3);  // learner 0 is in A
    p.signed_pull(ta, wire::DeviceReport{2, 1, 1});
    p.signed_pull(tb, wire::DeviceReport{5, 0, 1});

    const json all = dq(p.admin_acc);
    CHECK(all["devices"] == 5);
    CHECK(all["devices_not_reporting"] == 3);
    CHECK(all["pending_on_devices"] == 2 + 5);
    CHECK(all["quarantined_on_devices"] == 1);
    CHECK(all["rejected_on_devices"] == 1 + 1);
    CHECK(all["rejected_on_server"] == 2);
    const json a = dq(p.muni_a);  // mentor1's, mentor2's and ta
    CHECK(a["devices"] == 3);
    CHECK(a["devices_not_reporting"] == 2);
    CHECK(a["pending_on_devices"] == 2);
    CHECK(a["quarantined_on_devices"] == 1);
    CHECK(a["rejected_on_server"] == 1);
    const json b = dq(p.muni_b_acc);  // mentor3's and tb
    CHECK(b["devices"] == 2);
    CHECK(b["devices_not_reporting"] == 1);
    CHECK(b["pending_on_devices"] == 5);
    CHECK(b["quarantined_on_devices"] == 0);
    CHECK(b["rejected_on_server"] == 1);

    // National: the same figures with counts 1-4 suppressed; 0 and 5+ shown.
    const json n = p.views->indicators(p.national, "2026/2027", std::nullopt);
    CHECK(n["suppressed"] == true);
    CHECK(n["data_quality"]["devices"] == 5);
    CHECK(n["data_quality"]["devices_not_reporting"].is_null());  // 3
    CHECK(n["data_quality"]["pending_on_devices"] == 7);
    CHECK(n["data_quality"]["quarantined_on_devices"].is_null());  // 1
    CHECK(n["data_quality"]["rejected_on_server"].is_null());      // 2
    CHECK(csv_value(n, "data_quality_rejected_on_server") == "<5");
    CHECK(csv_value(n, "data_quality_pending_on_devices") == "7");

    // Per device: the report as sent and when, and the server's own count.
    const json devices = p.views->devices(p.admin_acc, std::nullopt)["items"];
    REQUIRE(devices.size() == 5);
    std::size_t never = 0;
    for (const json& d : devices) {
        INFO(d.dump());
        if (d["id"] == ta.who.device_id.to_string()) {
            CHECK(d["pending_on_device"] == 2);
            CHECK(d["quarantined_on_device"] == 1);
            CHECK(d["rejected_on_device"] == 1);
            CHECK(d["rejected_by_server"] == 1);
            CHECK(d["reported_at"] == d["last_sync_at"]);  // the same signed pull
            CHECK(d["reported_at"].is_string());
        } else if (d["id"] == tb.who.device_id.to_string()) {
            CHECK(d["pending_on_device"] == 5);
            CHECK(d["rejected_by_server"] == 1);
        } else {
            ++never;
            CHECK(d["reported_at"].is_null());
            CHECK(d["pending_on_device"].is_null());
            CHECK(d["quarantined_on_device"].is_null());
            CHECK(d["rejected_on_device"].is_null());
            CHECK(d["rejected_by_server"] == 0);
        }
    }
    CHECK(never == 3);

    // A revoked device leaves the figures: B is back to no report at all (null, not 0).
    REQUIRE(p.shared_admin->revoke_device(tb.who.device_id).ok());
    const json b2 = dq(p.muni_b_acc);
    CHECK(b2["devices"] == 1);
    CHECK(b2["devices_not_reporting"] == 1);
    CHECK(b2["pending_on_devices"].is_null());
    CHECK(b2["rejected_on_server"] == 0);
    CHECK(csv_value(p.views->indicators(p.muni_b_acc, "2026/2027", std::nullopt),
                    "data_quality_pending_on_devices") == "not reported");
}

TEST_CASE("national role: aggregates only, counts below 5 suppressed", "[server]") {
    Programme p;
    const json n = p.views->indicators(p.national, "2026/2027", std::nullopt);
    CHECK(n["suppressed"] == true);
    CHECK(n["supported_learners"]["value"] == 8);          // 8 >= 5: shown
    CHECK(n["active_municipalities"]["value"].is_null());  // 2: suppressed
    CHECK(n["active_institutions"]["value"].is_null());
    CHECK(n["mentors"]["with_cases"].is_null());  // 3
    CHECK(n["mentors"]["mentees_per_mentor"].is_null());
    CHECK(n["supported_learners"]["target"] == 2500);
    CHECK(n["data_quality"]["devices"].is_null());  // 3
    for (const json& m : n["contacts_by_month"]) {
        INFO(m.dump());
        for (const char* k : {"contacts", "mentees", "unjustified_lessons"})
            CHECK((m[k].is_null() || m[k] == 0 || m[k].get<std::int64_t>() >= 5));
        if (m["mentees"].is_null() || m["mentees"] == 0) {
            CHECK(m["hours"].is_null());
            CHECK(m["contacts_per_mentee"].is_null());
        }
    }
    // September: 4 mentees (suppressed, with everything derived from them); October: 5.
    CHECK(n["contacts_by_month"][0]["mentees"].is_null());
    CHECK(n["contacts_by_month"][0]["hours_per_mentee"].is_null());
    CHECK(n["contacts_by_month"][1]["mentees"] == 5);
    // October has 2 contacts: hidden, and so is every figure that would give them back
    // (2 / 5 mentees = 0.4 contacts per mentee).
    CHECK(n["contacts_by_month"][1]["contacts"].is_null());
    CHECK(n["contacts_by_month"][1]["contacts_per_mentee"].is_null());
    CHECK(n["contacts_by_month"][1]["hours"].is_null());
    // Risk: 2 learners assessed; every non-zero cell hidden, zeros shown.
    const json& s1 = n["risk_by_semester"][0];
    CHECK(s1["assessed_learners"].is_null());
    CHECK(s1["groups"]["family"]["low"].is_null());
    CHECK(s1["groups"]["family"]["medium"] == 0);
    // A one-municipality view for the national role is suppressed too.
    const json nb = p.views->indicators(p.national, "2026/2027", p.muni_b);
    CHECK(nb["supported_learners"]["value"].is_null());  // 2

    // Learner-level views are forbidden, whatever the parameters.
    RecordFilter f;
    f.collection = "learners";
    CHECK(p.view_status([&] { p.views->records(p.national, f); }) == 403);
    CHECK(p.view_status([&] { p.views->learner_file(p.national, p.learners[0]); }) == 403);
    CHECK(p.view_status([&] { p.views->escalations(p.national, "", std::nullopt); }) == 403);
    CHECK(p.view_status([&] { p.views->conflicts(p.national, {}, {}, 10, ""); }) == 403);
    CHECK(p.view_status([&] { p.views->devices(p.national, std::nullopt); }) == 403);
    // The CSV shows suppressed cells as <5.
    bool found = false;
    for (const auto& row : p.views->indicators_table(n).rows)
        if (row[0] == "active_municipalities") found = row[3] == "<5";
    CHECK(found);
    auto cell = [&](const json& ind, const std::string& key, const std::string& period) {
        for (const auto& row : p.views->indicators_table(ind).rows)
            if (row[0] == key && row[1] == period) return row[3];
        FAIL("no CSV row " << key << " " << period);
        return std::string();
    };
    // A month with no mentees, in the shape indicators() gives it: 1-4 contacts logged outside
    // any active case and 1-4 lessons missed before mentoring began are suppressed counts (<5);
    // only what is divided by the mentees is empty.
    json edge = n;
    json& month = edge["contacts_by_month"][0];
    const std::string period = month["month"];
    month["mentees"] = 0;
    for (const char* k :
         {"contacts", "hours", "contacts_per_mentee", "hours_per_mentee", "unjustified_lessons"})
        month[k] = nullptr;
    CHECK(cell(edge, "contacts", period) == "<5");
    CHECK(cell(edge, "unjustified_lessons", period) == "<5");
    CHECK(cell(edge, "mentees", period) == "0");
    CHECK(cell(edge, "hours", period).empty());
    CHECK(cell(edge, "contacts_per_mentee", period).empty());
    CHECK(cell(edge, "hours_per_mentee", period).empty());
}

TEST_CASE("municipality scope: own records only, S9 and notes withheld, others not found",
          "[server]") {
    Programme p;
    RecordFilter f;
    f.collection = "learners";
    const json l = p.views->records(p.muni_a, f);
    std::set<std::string> ids;
    for (const json& r : l["items"]) {
        ids.insert(r["id"]);
        CHECK(r["fields"]["municipality_id"] == p.municipality.to_string());
    }
    std::set<std::string> expected;
    for (std::size_t i = 0; i < p.cases.size(); ++i)
        if (!p.learner_in_b[i]) expected.insert(p.learners[i].to_string());
    CHECK(ids == expected);

    // Contacts: notes (S9) and next steps never leave the server for this role.
    f.collection = "contacts";
    const json c = p.views->records(p.muni_a, f);
    REQUIRE_FALSE(c["items"].empty());
    for (const json& r : c["items"]) {
        CHECK_FALSE(r["fields"].contains("notes"));
        CHECK_FALSE(r["fields"].contains("next_steps"));
        CHECK(r["redacted"].dump().find("notes") != std::string::npos);
        CHECK(r["fields"].contains("duration_min"));
    }
    // Admins see them.
    const json c_admin = p.views->records(p.admin_acc, f);
    CHECK(c_admin["items"][0]["fields"]["notes"] == "=slepena piezīme");
    CHECK(c_admin["items"].size() == p.contacts.size());
    // Risk assessments: the family level (S9) is withheld, the learning level shown.
    f.collection = "risk_assessments";
    const json risks = p.views->records(p.muni_a, f);
    REQUIRE(risks["items"].size() == 3);
    for (const json& r : risks["items"]) {
        CHECK_FALSE(r["fields"].contains("family_level"));
        CHECK(r["fields"].contains("learning_level"));
    }

    // Another municipality's learner answers exactly like a learner that does not exist.
    f.collection = "contacts";
    f.learner = p.learners[7];
    CHECK(p.view_status([&] { p.views->records(p.muni_a, f); }) == 404);
    f.learner = Uuid::random();
    CHECK(p.view_status([&] { p.views->records(p.muni_a, f); }) == 404);
    CHECK(p.view_status([&] { p.views->learner_file(p.muni_a, p.learners[7]); }) == 404);
    CHECK(p.view_status([&] { p.views->learner_file(p.muni_a, Uuid::random()); }) == 404);
    f.learner.reset();
    f.municipality = p.muni_b;
    CHECK(p.view_status([&] { p.views->records(p.muni_a, f); }) == 404);
    CHECK(p.view_status([&] { p.views->indicators(p.muni_a, "", p.muni_b); }) == 404);
    f.municipality.reset();
    f.centre = p.centre_b;
    CHECK(p.view_status([&] { p.views->records(p.muni_a, f); }) == 404);
    f.centre.reset();

    // The learner's file: every record of the learner, redacted the same way.
    const json file = p.views->learner_file(p.muni_a, p.learners[0]);
    CHECK(file["learner"]["fields"]["name"] == "Learner One");
    CHECK(file["records"]["contacts"].size() == 4);
    CHECK(file["records"]["absences"].size() == 3);
    CHECK(file.dump().find("slepena") == std::string::npos);

    // Filters: a learner, a date range (inclusive), a centre.
    f.learner = p.learners[0];
    f.from = "2026-09-17";
    f.to = "2026-10-01";
    CHECK(p.views->records(p.muni_a, f)["items"].size() == 2);
    f.learner.reset();
    f.from = f.to = "";
    f.centre = p.other_centre;  // mentor2's centre: learner 1 (index 1) only
    const json oc = p.views->records(p.muni_a, f);
    REQUIRE(oc["items"].size() == 1);
    CHECK(oc["items"][0]["learner_id"] == p.learners[1].to_string());
    f.centre.reset();

    // Paging: pages of 2 give every record exactly once, in order.
    f.limit = 2;
    std::vector<std::string> paged;
    std::string cursor;
    for (int i = 0; i < 20; ++i) {
        f.cursor = cursor;
        const json page = p.views->records(p.admin_acc, f);
        for (const json& r : page["items"])
            paged.push_back(r["id"]);
        if (page["next_cursor"].is_null()) break;
        cursor = page["next_cursor"];
    }
    CHECK(paged.size() == p.contacts.size());
    CHECK(std::set<std::string>(paged.begin(), paged.end()).size() == paged.size());

    // Bad parameters.
    f.cursor = "not-a-cursor";
    CHECK(p.view_status([&] { p.views->records(p.admin_acc, f); }) == 400);
    f.cursor.clear();
    f.from = "2026-02-30";
    CHECK(p.view_status([&] { p.views->records(p.admin_acc, f); }) == 400);
    f.from = "";
    f.collection = "consents";
    CHECK(p.view_status([&] { p.views->records(p.admin_acc, f); }) == 400);
    f.collection = "learners";
    f.from = "2026-01-01";
    CHECK(p.view_status([&] { p.views->records(p.admin_acc, f); }) == 400);

    // Export table: no notes column for the municipality.
    RecordFilter e;
    e.collection = "contacts";
    e.limit = 0;
    const Table t = p.views->records_table(p.muni_a, e);
    CHECK(std::find(t.header.begin(), t.header.end(), "notes") == t.header.end());
    CHECK(std::find(t.header.begin(), t.header.end(), "duration_min") != t.header.end());
}

TEST_CASE("conflict review: both writers shown, resolution becomes a change tablets pull",
          "[server]") {
    Programme p;
    // Two tablets of mentor1 edit the same contact offline.
    Tablet t1 = p.tablet(p.mentor1, "first");
    Tablet t2 = p.tablet(p.mentor1, "second");
    p.pull_all(t1);
    p.pull_all(t2);
    Query q;
    q.collection = "contacts";
    q.ref = p.learners[0];
    auto rows = p.ok(t1.replica->query(q));
    REQUIRE_FALSE(rows.empty());
    const Uuid contact = rows[0].id;
    REQUIRE(t1.replica->update("contacts", contact, {{"duration_min", 50}, {"notes", "a"}}).ok());
    p.clock->advance(10);
    REQUIRE(t2.replica->update("contacts", contact, {{"duration_min", 70}, {"notes", "b"}}).ok());
    p.push_pending(t1);
    p.push_pending(t2);

    const json q_admin = p.views->conflicts(p.admin_acc, {}, {}, 100, "");
    REQUIRE(q_admin["items"].size() == 2);
    const json q_a = p.views->conflicts(p.muni_a, {}, {}, 100, "");
    REQUIRE(q_a["items"].size() == 2);
    CHECK(p.views->conflicts(p.muni_b_acc, {}, {}, 100, "")["items"].empty());
    json duration, notes;
    for (const json& c : q_a["items"])
        (c["field"] == "duration_min" ? duration : notes) = c;
    CHECK(duration["values_redacted"] == false);
    CHECK(duration["winner"]["value"] == 70);
    CHECK(duration["loser"]["value"] == 50);
    CHECK(duration["loser"]["device_id"] == t1.who.device_id.to_string());
    CHECK(duration["winner"]["device_id"] == t2.who.device_id.to_string());
    CHECK(duration["winner"]["role"] == "mentor");
    CHECK(duration["learner_id"] == p.learners[0].to_string());
    CHECK(notes["values_redacted"] == true);
    CHECK(notes["winner"]["value"].is_null());

    // Refusals: another municipality gets 404, an S9 field 403 for the municipality.
    CHECK(p.view_status([&] {
        p.views->resolve(p.muni_b_acc, duration["id"], "take_loser", nullptr);
    }) == 404);
    CHECK(p.view_status([&] { p.views->resolve(p.muni_a, notes["id"], "keep_winner", nullptr); }) ==
          403);
    CHECK(p.view_status([&] { p.views->resolve(p.muni_a, "garbage", "keep_winner", nullptr); }) ==
          400);
    CHECK(p.view_status([&] { p.views->resolve(p.muni_a, duration["id"], "merge", nullptr); }) ==
          400);
    CHECK(p.view_status([&] { p.views->resolve(p.muni_a, duration["id"], "custom", 9999); }) ==
          400);  // outside 1..720

    const json r = p.views->resolve(p.muni_a, duration["id"], "take_loser", nullptr);
    CHECK(r["ok"] == true);
    CHECK(r["seq"].get<std::int64_t>() > 0);
    // Gone from the queue, and resolving it again is "not found".
    CHECK(p.views->conflicts(p.muni_a, {}, {}, 100, "")["items"].size() == 1);
    CHECK(p.view_status(
              [&] { p.views->resolve(p.muni_a, duration["id"], "take_loser", nullptr); }) == 404);
    // The admin resolves the notes conflict with a value of their own.
    p.views->resolve(p.admin_acc, notes["id"], "custom", "apvienots");

    // Both tablets pull the resolutions: same value, no open conflict on the contact.
    for (Tablet* t : {&t1, &t2}) {
        p.pull_all(*t);
        auto rec = p.ok(t->replica->get("contacts", contact));
        CHECK(rec.fields.at("duration_min") == Value(50));
        CHECK(rec.fields.at("notes") == Value("apvienots"));
        CHECK(p.ok(t->replica->conflicts(contact)).empty());
    }
    CHECK(p.views->conflicts(p.admin_acc, {}, {}, 100, "")["items"].empty());
}
