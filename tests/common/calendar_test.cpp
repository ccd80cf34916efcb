// common/calendar.h: dates by shape and calendar (each caller keeps its own year range),
// day numbers, school years and UTC times. The table holds what the schema's date rule
// (1900-2100) and the coordinator views' is_date accepted before they moved here.
#include <catch2/catch.hpp>

#include <string>

#include "common/calendar.h"
#include "mentorsync/schema.h"

using namespace mentorsync;

TEST_CASE("parse_iso_date accepts YYYY-MM-DD dates that exist and nothing else",
          "[common][calendar]") {
    struct Row {
        const char* text;
        bool valid;
    };
    const Row rows[] = {
        {"2025-10-15", true},        {"2024-02-29", true},
        {"2000-02-29", true},        {"1900-02-28", true},
        {"2100-12-31", true},        {"1900-01-01", true},
        {"2025-02-29", false},       {"1900-02-29", false},
        {"2100-02-29", false},       {"2025-04-31", false},
        {"2025-13-01", false},       {"2025-00-10", false},
        {"2025-01-00", false},       {"2025-1-01", false},
        {"2025-01-1", false},        {"20250101", false},
        {"2025/01/01", false},       {" 2025-01-01", false},
        {"2025-01-01 ", false},      {"+025-01-01", false},
        {"2025-0a-01", false},       {"", false},
        {"2025-01-01T00:00", false},
    };
    // The schema's date rule (engine/src/schema.cpp) is this shape and calendar plus its own
    // years, 1900-2100: the two agree on every row and on the years at and beyond its range.
    const Schema& schema = Schema::programme();
    const CollectionDef* absences = schema.collection("absences");
    REQUIRE(absences);
    const FieldDef* date = absences->field("date");
    REQUIRE(date);
    auto schema_accepts = [&](const std::string& text) {
        return schema.check_value(*absences, *date, Value(text)).ok();
    };
    for (const Row& r : rows) {
        INFO(r.text);
        CHECK(common::parse_iso_date(r.text).has_value() == r.valid);
        CHECK(schema_accepts(r.text) == r.valid);
    }
    for (const char* text : {"1899-12-31", "2101-01-01", "0001-01-01", "9999-12-31"}) {
        INFO(text);
        CHECK(common::parse_iso_date(text));
        CHECK_FALSE(schema_accepts(text));
    }
    const auto d = common::parse_iso_date("2026-03-07");
    REQUIRE(d);
    CHECK(*d == common::CivilDate{2026, 3, 7});
    // The years are the callers' business: shape and calendar only.
    CHECK(common::parse_iso_date("0001-01-01"));
    CHECK(common::parse_iso_date("9999-12-31"));
}

TEST_CASE("days_in_month follows the Gregorian leap years", "[common][calendar]") {
    CHECK(common::days_in_month(2025, 1) == 31);
    CHECK(common::days_in_month(2025, 2) == 28);
    CHECK(common::days_in_month(2024, 2) == 29);
    CHECK(common::days_in_month(1900, 2) == 28);
    CHECK(common::days_in_month(2000, 2) == 29);
    CHECK(common::days_in_month(2025, 4) == 30);
    CHECK(common::days_in_month(2025, 0) == 0);
    CHECK(common::days_in_month(2025, 13) == 0);
}

TEST_CASE("days_from_civil counts days from 1970-01-01 and civil_from_days inverts it",
          "[common][calendar]") {
    CHECK(common::days_from_civil({1970, 1, 1}) == 0);
    CHECK(common::days_from_civil({1970, 1, 2}) == 1);
    CHECK(common::days_from_civil({1969, 12, 31}) == -1);
    CHECK(common::days_from_civil({2000, 3, 1}) == 11017);
    CHECK(common::days_from_civil({1900, 1, 1}) == -25567);
    CHECK(common::days_from_civil({2025, 10, 15}) - common::days_from_civil({2025, 9, 1}) == 44);
    for (std::int64_t n = -40000; n <= 60000; n += 97) {
        const common::CivilDate d = common::civil_from_days(n);
        CHECK(common::days_from_civil(d) == n);
        CHECK(common::parse_iso_date(common::format_iso_date(d)) == d);
    }
    CHECK(common::format_iso_date({2025, 9, 1}) == "2025-09-01");
}

TEST_CASE("parse_school_year reads YYYY/YYYY of consecutive years", "[common][calendar]") {
    CHECK(common::parse_school_year("2025/2026") == 2025);
    CHECK(common::parse_school_year("1999/2000") == 1999);
    CHECK_FALSE(common::parse_school_year("2025/2027"));
    CHECK_FALSE(common::parse_school_year("2025-2026"));
    CHECK_FALSE(common::parse_school_year("2025/26"));
    CHECK_FALSE(common::parse_school_year("20x5/2026"));
}

TEST_CASE("UTC times are written from Unix milliseconds, whole seconds or with milliseconds",
          "[common][calendar]") {
    // 2025-10-15T08:30:05.123Z
    const std::int64_t ms = 1760517005123;
    CHECK(common::utc_date_of_ms(ms) == common::CivilDate{2025, 10, 15});
    CHECK(common::iso_utc_seconds(ms) == "2025-10-15T08:30:05Z");
    CHECK(common::rfc3339_ms(ms) == "2025-10-15T08:30:05.123Z");
    CHECK(common::iso_utc_seconds(0) == "1970-01-01T00:00:00Z");
    CHECK(common::rfc3339_ms(0) == "1970-01-01T00:00:00.000Z");
    const std::string now = common::rfc3339_ms_now();
    CHECK(now.size() == 24u);
    CHECK(now.back() == 'Z');
}
