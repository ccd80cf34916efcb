// Calendar dates and UTC times as the protocol, the schema and the coordinator views write
// them: ISO 8601 dates "YYYY-MM-DD", school years "YYYY/YYYY", UTC times "…T…Z". Shape and
// the proleptic Gregorian calendar only: each caller keeps its own range of accepted years
// (the schema's dates 1900-2100, its school years 1990-2100, the coordinator views' own).
// Thread-safety: pure functions; rfc3339_ms_now() reads the system clock.
#pragma once

#include <compare>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace mentorsync::common {

struct CivilDate {
    int year = 1970;
    int month = 1;  // 1-12
    int day = 1;    // 1-days_in_month
    auto operator<=>(const CivilDate&) const = default;
};

bool is_leap_year(int year) noexcept;
// Days in `month` (1-12) of `year`; 0 for a month outside 1-12.
int days_in_month(int year, int month) noexcept;

// "YYYY-MM-DD" with four digits of year (0000-9999), a month 1-12 and a day that exists in
// that month; nullopt for anything else (signs, spaces, other lengths, 2025-02-29).
std::optional<CivilDate> parse_iso_date(std::string_view text) noexcept;
// "YYYY-MM-DD", zero-padded (a year outside 0-9999 is written as printf's %04d would).
std::string format_iso_date(const CivilDate& date);

// Days from 1970-01-01 to `date` (negative before it), and back.
std::int64_t days_from_civil(const CivilDate& date) noexcept;
CivilDate civil_from_days(std::int64_t days) noexcept;

// The first year of a school year "YYYY/YYYY" whose second year is the next one
// ("2025/2026" -> 2025); nullopt for any other shape.
std::optional<int> parse_school_year(std::string_view text) noexcept;

// The UTC calendar date of a Unix time in milliseconds (whole seconds, as gmtime sees them).
CivilDate utc_date_of_ms(std::int64_t unix_ms) noexcept;
// "YYYY-MM-DDTHH:MM:SSZ" (UTC, whole seconds) of a Unix time in milliseconds.
std::string iso_utc_seconds(std::int64_t unix_ms);
// "YYYY-MM-DDTHH:MM:SS.mmmZ" (RFC 3339, UTC, milliseconds) of a Unix time in milliseconds,
// and of now by the system clock (log lines are stamped with real time even when a test
// injects a manual clock).
std::string rfc3339_ms(std::int64_t unix_ms);
std::string rfc3339_ms_now();

}  // namespace mentorsync::common
