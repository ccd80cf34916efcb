#include "common/calendar.h"

#include <chrono>
#include <cstdio>
#include <ctime>

namespace mentorsync::common {

namespace {

// The value of `n` decimal digits at text[at], or -1 unless all are digits.
int digits(std::string_view text, std::size_t at, std::size_t n) noexcept {
    int v = 0;
    for (std::size_t i = at; i < at + n; ++i) {
        if (text[i] < '0' || text[i] > '9') return -1;
        v = v * 10 + (text[i] - '0');
    }
    return v;
}

// gmtime of a Unix time in milliseconds, truncated to whole seconds toward zero as the
// server has always done (ms / 1000).
std::tm utc_tm(std::int64_t unix_ms) noexcept {
    const auto secs = static_cast<std::time_t>(unix_ms / 1000);
    std::tm tm{};
    gmtime_r(&secs, &tm);
    return tm;
}

}  // namespace

bool is_leap_year(int year) noexcept {
    return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
}

int days_in_month(int year, int month) noexcept {
    static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (month < 1 || month > 12) return 0;
    return kDays[month - 1] + (month == 2 && is_leap_year(year) ? 1 : 0);
}

std::optional<CivilDate> parse_iso_date(std::string_view text) noexcept {
    if (text.size() != 10 || text[4] != '-' || text[7] != '-') return std::nullopt;
    const CivilDate d{digits(text, 0, 4), digits(text, 5, 2), digits(text, 8, 2)};
    if (d.year < 0 || d.month < 1 || d.day < 1 || d.day > days_in_month(d.year, d.month))
        return std::nullopt;
    return d;
}

std::string format_iso_date(const CivilDate& date) {
    char buf[40];
    std::snprintf(buf, sizeof buf, "%04d-%02d-%02d", date.year, date.month, date.day);
    return buf;
}

// Howard Hinnant's days_from_civil and civil_from_days (public domain algorithms,
// http://howardhinnant.github.io/date_algorithms.html), on 400-year eras.
std::int64_t days_from_civil(const CivilDate& date) noexcept {
    const std::int64_t y = static_cast<std::int64_t>(date.year) - (date.month <= 2 ? 1 : 0);
    const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
    const std::int64_t yoe = y - era * 400;
    const std::int64_t m = date.month;
    const std::int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + date.day - 1;
    const std::int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

CivilDate civil_from_days(std::int64_t days) noexcept {
    const std::int64_t z = days + 719468;
    const std::int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    const std::int64_t doe = z - era * 146097;
    const std::int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    const std::int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    const std::int64_t mp = (5 * doy + 2) / 153;
    const std::int64_t d = doy - (153 * mp + 2) / 5 + 1;
    const std::int64_t m = mp < 10 ? mp + 3 : mp - 9;
    const std::int64_t y = yoe + era * 400 + (m <= 2 ? 1 : 0);
    return CivilDate{static_cast<int>(y), static_cast<int>(m), static_cast<int>(d)};
}

std::optional<int> parse_school_year(std::string_view text) noexcept {
    if (text.size() != 9 || text[4] != '/') return std::nullopt;
    const int first = digits(text, 0, 4), second = digits(text, 5, 4);
    if (first < 0 || second < 0 || second != first + 1) return std::nullopt;
    return first;
}

CivilDate utc_date_of_ms(std::int64_t unix_ms) noexcept {
    const std::tm tm = utc_tm(unix_ms);
    return CivilDate{tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday};
}

std::string iso_utc_seconds(std::int64_t unix_ms) {
    const std::tm tm = utc_tm(unix_ms);
    char buf[64];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buf;
}

std::string rfc3339_ms(std::int64_t unix_ms) {
    const std::tm tm = utc_tm(unix_ms);
    char buf[64];
    std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                  tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                  static_cast<int>(unix_ms % 1000));
    return buf;
}

std::string rfc3339_ms_now() {
    return rfc3339_ms(std::chrono::duration_cast<std::chrono::milliseconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count());
}

}  // namespace mentorsync::common
