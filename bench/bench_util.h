// Shared by the benchmark programs: the output format of docs/benchmarks.md (one JSON object
// per figure per line on stdout), the small statistics they report, and the seeded generator
// behind their synthetic data.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "mentorsync/types.h"

namespace bench {

double median(std::vector<double> v) {
    if (v.empty()) return std::nan("");
    std::sort(v.begin(), v.end());
    std::size_t n = v.size();
    return n % 2 == 1 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2.0;
}

std::string json_string(std::string_view s) {
    std::string out = "\"";
    for (char ch : s) {
        switch (ch) {
            case '"':
                out += "\\\"";
                break;
            case '\\':
                out += "\\\\";
                break;
            case '\n':
                out += "\\n";
                break;
            default:
                if (static_cast<unsigned char>(ch) < 0x20) {
                    char buf[8];
                    std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned>(ch));
                    out += buf;
                } else {
                    out += ch;
                }
        }
    }
    return out + "\"";
}

std::string json_number(double d) {
    if (!std::isfinite(d)) return "null";
    char buf[64];
    if (std::fabs(d) >= 1000.0)
        std::snprintf(buf, sizeof buf, "%.0f", d);
    else
        std::snprintf(buf, sizeof buf, "%.4g", d);
    return buf;
}

std::string json_numbers(const std::vector<double>& v) {
    std::string out = "[";
    for (std::size_t i = 0; i < v.size(); ++i) {
        if (i) out += ",";
        out += json_number(v[i]);
    }
    return out + "]";
}

// One output line. Extra keys hold already-rendered JSON values.
class Figure {
  public:
    Figure(std::string name, double value, std::string unit)
        : name_(std::move(name)), value_(value), unit_(std::move(unit)) {}
    Figure& num(std::string key, double v) { return raw(std::move(key), json_number(v)); }
    Figure& str(std::string key, std::string_view v) { return raw(std::move(key), json_string(v)); }
    Figure& flag(std::string key, bool v) { return raw(std::move(key), v ? "true" : "false"); }
    Figure& samples(const std::vector<double>& v) { return raw("samples", json_numbers(v)); }
    Figure& raw(std::string key, std::string rendered) {
        extra_.emplace_back(std::move(key), std::move(rendered));
        return *this;
    }
    void print() const {
        std::string line = "{\"name\": " + json_string(name_) +
                           ", \"value\": " + json_number(value_) +
                           ", \"unit\": " + json_string(unit_);
        for (const auto& [k, v] : extra_)
            line += ", " + json_string(k) + ": " + v;
        line += "}\n";
        std::fwrite(line.data(), 1, line.size(), stdout);
        std::fflush(stdout);
    }

  private:
    std::string name_;
    double value_;
    std::string unit_;
    std::vector<std::pair<std::string, std::string>> extra_;
};

// splitmix64: tiny, fast and fully specified, so a seed gives the same data everywhere.
class Rng {
  public:
    explicit Rng(std::uint64_t seed) : state_(seed) {}
    std::uint64_t next() {
        std::uint64_t z = (state_ += 0x9E3779B97F4A7C15ull);
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
        return z ^ (z >> 31);
    }
    // In [0, n); the modulo bias is irrelevant for synthetic data.
    std::size_t below(std::size_t n) { return static_cast<std::size_t>(next() % n); }
    int between(int lo, int hi) {
        return lo + static_cast<int>(below(static_cast<std::size_t>(hi - lo + 1)));
    }
    bool percent(int p) { return below(100) < static_cast<std::size_t>(p); }
    template <typename T>
    const T& pick(const std::vector<T>& v) {
        return v[below(v.size())];
    }
    mentorsync::Uuid uuid() {
        mentorsync::Uuid u;
        for (std::size_t i = 0; i < 16; i += 8) {
            std::uint64_t x = next();
            for (std::size_t j = 0; j < 8; ++j)
                u.bytes[i + j] = static_cast<std::uint8_t>(x >> (8 * j));
        }
        u.bytes[6] = static_cast<std::uint8_t>((u.bytes[6] & 0x0F) | 0x40);  // version 4
        u.bytes[8] = static_cast<std::uint8_t>((u.bytes[8] & 0x3F) | 0x80);  // RFC 4122 variant
        return u;
    }

  private:
    std::uint64_t state_;
};

// ---- synthetic programme data (invented words and codes only) ----

inline std::string two(int v) {
    char buf[4];
    std::snprintf(buf, sizeof buf, "%02d", v);
    return buf;
}

inline std::string date_2026(Rng& rng) {
    return "2026-" + two(rng.between(1, 12)) + "-" + two(rng.between(1, 28));
}

inline const std::vector<std::string> kWords = {
    "learner", "attended", "talked",  "about", "maths", "homework", "mother", "called",   "school",
    "plan",    "next",     "week",    "felt",  "tired", "better",   "class",  "teacher",  "agreed",
    "goal",    "football", "evening", "late",  "bus",   "morning",  "grades", "improved", "calm"};
inline const std::vector<std::string> kPlaces = {"school",   "youth_centre", "home",
                                                 "outdoors", "online",       "phone"};
inline const std::vector<std::string> kTopics = {"learning",  "attendance", "family", "health",
                                                 "friends",   "leisure",    "career", "behaviour",
                                                 "wellbeing", "other"};
inline const std::vector<std::string> kStatuses = {"unknown", "justified", "unjustified"};
inline const std::vector<std::string> kJustifications = {"parent_note", "doctor", "school_event",
                                                         "other"};
inline const std::vector<std::string> kSources = {"e_journal", "school", "mentor"};

// Exactly `bytes` bytes of plausible (synthetic, ASCII) note text.
inline std::string note_text(Rng& rng, std::size_t bytes) {
    std::string s;
    while (s.size() < bytes) {
        if (!s.empty()) s += ' ';
        s += rng.pick(kWords);
    }
    s.resize(bytes);
    if (s.back() == ' ') s.back() = '.';
    return s;
}

}  // namespace bench
