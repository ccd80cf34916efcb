// The programme schema: every collection defined once, validation messages that name the
// collection, field and reason.
#include <catch2/catch.hpp>

#include "mentorsync/schema.h"
#include "test_support.h"

using namespace mentorsync;

namespace {
const Schema& schema() {
    return Schema::programme();
}

std::string create_error(const std::string& collection, const Fields& f) {
    return schema().check_create(collection, f).message();
}
}  // namespace

TEST_CASE("the programme schema defines the domain's nine collections", "[schema]") {
    std::vector<std::string> names;
    for (const auto& c : schema().collections())
        names.push_back(c.name);
    CHECK(names == std::vector<std::string>{"learners", "assignments", "contacts", "absences",
                                            "risk_assessments", "support_plans", "consents",
                                            "referrals", "outcomes"});
    CHECK(schema().version() == 1);
    for (const auto& c : schema().collections()) {
        INFO(c.name);
        if (c.name != "learners") {
            REQUIRE(c.field(c.learner_field) != nullptr);
            CHECK(c.field(c.learner_field)->type == FieldType::uuid);
            REQUIRE(c.field(c.date_field) != nullptr);
        }
        for (const auto& f : c.fields) {
            INFO(f.name);
            CHECK_FALSE(f.description.empty());
            if (f.type == FieldType::enumeration || f.type == FieldType::enum_list)
                CHECK_FALSE(f.allowed.empty());
            if (f.type == FieldType::string || f.type == FieldType::text) CHECK(f.max_length > 0);
            if (f.type == FieldType::integer) CHECK(f.min <= f.max);
        }
    }
}

TEST_CASE("sensitive fields are marked as in the domain description", "[schema]") {
    auto sens = [](const char* c, const char* f) {
        return Schema::programme().collection(c)->field(f)->sensitivity;
    };
    CHECK(sens("learners", "name") == Sensitivity::personal);
    CHECK(sens("learners", "birth_year") == Sensitivity::personal);
    CHECK(sens("contacts", "notes") == Sensitivity::special);
    CHECK(sens("absences", "justification") == Sensitivity::special);
    CHECK(sens("risk_assessments", "family_level") == Sensitivity::special);
    CHECK(sens("risk_assessments", "economic_level") == Sensitivity::personal);
    CHECK(sens("referrals", "reason") == Sensitivity::special);
    CHECK(sens("consents", "given_on") == Sensitivity::personal);
    CHECK(sens("contacts", "starts_at") == Sensitivity::none);
}

TEST_CASE("a valid record passes validation", "[schema]") {
    Uuid learner = Uuid::random();
    CHECK(schema().check_create("learners", mstest::learner_fields()).ok());
    CHECK(schema().check_create("contacts", mstest::contact_fields(learner)).ok());
    CHECK(schema().check_create("absences", mstest::absence_fields(learner)).ok());
}

TEST_CASE("validation errors name the collection, the field and the reason", "[schema]") {
    Uuid learner = Uuid::random();
    auto contact = mstest::contact_fields(learner);

    auto with = [&](const std::string& field, Value v) {
        Fields f = contact;
        f[field] = std::move(v);
        return create_error("contacts", f);
    };
    CHECK(with("duration_min", 900) == "contacts.duration_min: 900 is above the maximum 720");
    CHECK(with("duration_min", 0) == "contacts.duration_min: 0 is below the minimum 1");
    CHECK(with("duration_min", "45") == "contacts.duration_min: expected an integer, got a string");
    CHECK(with("place", "cafe") ==
          "contacts.place: 'cafe' is not one of: school, youth_centre, home, outdoors, online, "
          "phone");
    CHECK(with("starts_at", "2026-02-30T10:00") ==
          "contacts.starts_at: not a date and time in the form YYYY-MM-DDTHH:MM");
    CHECK(with("starts_at", "2026-11-23 10:00") ==
          "contacts.starts_at: not a date and time in the form YYYY-MM-DDTHH:MM");
    CHECK(with("learner_id", "not-a-uuid").rfind("contacts.learner_id: not a UUID", 0) == 0);
    CHECK(with("topics", Value(Value::List{"family", "family"})) ==
          "contacts.topics: 'family' appears twice");
    CHECK(with("topics", Value(Value::List{"gossip"})).rfind("contacts.topics: list item", 0) == 0);
    CHECK(with("notes", std::string(10001, 'x')) ==
          "contacts.notes: is 10001 characters, longer than the maximum 10000");
    CHECK(with("notes", std::string("\xC3\x28")) == "contacts.notes: not valid UTF-8");
    CHECK(with("risk_flag", 1) == "contacts.risk_flag: expected true or false, got an integer");
    CHECK(with("colour", "blue") == "contacts.colour: unknown field in schema version 1");
    CHECK(with("_deleted", true) ==
          "contacts._deleted: set by remove() and restore(), not directly");

    Fields missing = contact;
    missing.erase("place");
    CHECK(create_error("contacts", missing) == "contacts.place: is required");
    CHECK(create_error("meetings", contact) == "unknown collection 'meetings'");
}

TEST_CASE("sensitive values never appear in validation messages", "[schema]") {
    Fields f = mstest::learner_fields();
    f["birth_year"] = 1850;
    CHECK(create_error("learners", f) ==
          "learners.birth_year: the value is below the minimum 1990");
}

TEST_CASE("dates are real calendar dates", "[schema]") {
    Uuid learner = Uuid::random();
    auto date_error = [&](const char* d) {
        return create_error("absences", mstest::absence_fields(learner, d));
    };
    CHECK(date_error("2028-02-29").empty());
    CHECK_FALSE(date_error("2027-02-29").empty());
    CHECK_FALSE(date_error("2026-13-01").empty());
    CHECK_FALSE(date_error("2026-1-01").empty());
    CHECK_FALSE(date_error("").empty());
}

TEST_CASE("semesters and school years follow their formats", "[schema]") {
    Uuid learner = Uuid::random();
    Fields ra = {{"learner_id", learner.to_string()},
                 {"semester", "2026/2027-1"},
                 {"assessed_on", "2026-10-01"},
                 {"assessor_id", Uuid::random().to_string()},
                 {"learning_level", "medium"},
                 {"social_health_level", "low"},
                 {"family_level", "high"},
                 {"economic_level", "none"},
                 {"overall_level", "medium"}};
    CHECK(schema().check_create("risk_assessments", ra).ok());
    ra["semester"] = "2026/2028-1";
    CHECK(create_error("risk_assessments", ra) ==
          "risk_assessments.semester: not a semester in the form YYYY/YYYY-N, e.g. 2025/2026-1");
    ra["semester"] = "2026/2027-3";
    CHECK_FALSE(schema().check_create("risk_assessments", ra).ok());
}

TEST_CASE("updates may not clear required fields or move a record to another learner", "[schema]") {
    Uuid learner = Uuid::random();
    Fields current = mstest::contact_fields(learner);
    CHECK(schema().check_update("contacts", current, {{"notes", nullptr}}).ok());
    CHECK(schema().check_update("contacts", current, {{"place", nullptr}}).message() ==
          "contacts.place: is required and cannot be cleared");
    CHECK(schema()
              .check_update("contacts", current, {{"learner_id", Uuid::random().to_string()}})
              .message() ==
          "contacts.learner_id: cannot change after creation (create a new record)");
}

TEST_CASE("a date is YYYY-MM-DD, a real calendar day, from 1900 to 2100", "[schema]") {
    CHECK(Schema::is_valid_date("2026-11-02"));
    CHECK(Schema::is_valid_date("2024-02-29"));  // a leap day
    CHECK(Schema::is_valid_date("1900-01-01"));
    CHECK(Schema::is_valid_date("2100-12-31"));
    CHECK_FALSE(Schema::is_valid_date("2025-02-29"));
    CHECK_FALSE(Schema::is_valid_date("2100-02-29"));  // not a leap year
    CHECK_FALSE(Schema::is_valid_date("1899-12-31"));
    CHECK_FALSE(Schema::is_valid_date("2101-01-01"));
    CHECK_FALSE(Schema::is_valid_date("2026-11-2"));
    CHECK_FALSE(Schema::is_valid_date("2026/11/02"));
    CHECK_FALSE(Schema::is_valid_date("2026-13-01"));
    CHECK_FALSE(Schema::is_valid_date(""));
    // The same rule as a date field's.
    const Schema& p = Schema::programme();
    const CollectionDef* absences = p.collection("absences");
    REQUIRE(absences);
    for (const char* d : {"2026-11-02", "2025-02-29", "1899-12-31", "2026-11-2"})
        CHECK(p.check_value(*absences, *absences->field("date"), Value(std::string(d))).ok() ==
              Schema::is_valid_date(d));
}
