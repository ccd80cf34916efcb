// Hybrid logical clock: monotonic through backward steps and bursts, skew detection.
#include <catch2/catch.hpp>

#include <memory>

#include "mentorsync/clock.h"

using namespace mentorsync;

namespace {
constexpr std::int64_t kNov2026 = 1'795'392'000'000;  // 2026-11-23T00:00:00Z in ms
}

TEST_CASE("stamps follow the wall clock when it moves forward", "[clock]") {
    auto wall = std::make_shared<ManualClock>(kNov2026);
    Hlc hlc(Uuid::random(), wall);
    Stamp a = hlc.now();
    CHECK(a.millis() == static_cast<std::uint64_t>(kNov2026));
    CHECK(a.counter() == 0);
    wall->advance(5);
    Stamp b = hlc.now();
    CHECK(b.millis() == static_cast<std::uint64_t>(kNov2026 + 5));
    CHECK(b.counter() == 0);
    CHECK(a < b);
}

TEST_CASE("stamps stay monotonic when the wall clock steps back", "[clock]") {
    auto wall = std::make_shared<ManualClock>(kNov2026);
    Hlc hlc(Uuid::random(), wall);
    Stamp before = hlc.now();
    wall->advance(-60 * 60 * 1000);  // an hour back (a user fixing the tablet's clock)
    Stamp after1 = hlc.now();
    Stamp after2 = hlc.now();
    CHECK(before < after1);
    CHECK(after1 < after2);
    CHECK(after1.millis() == before.millis());  // logical time holds until wall time catches up
    wall->advance(2 * 60 * 60 * 1000);
    Stamp later = hlc.now();
    CHECK(later.millis() == static_cast<std::uint64_t>(kNov2026 + 60 * 60 * 1000));
    CHECK(after2 < later);
}

TEST_CASE("more than 65,536 stamps in one millisecond stay unique and ordered", "[clock]") {
    auto wall = std::make_shared<ManualClock>(kNov2026);
    Hlc hlc(Uuid::random(), wall);
    Stamp prev = hlc.now();
    const int n = 200'000;
    for (int i = 0; i < n; ++i) {
        Stamp s = hlc.now();
        REQUIRE(prev < s);
        prev = s;
    }
    // The counter carried into the millisecond part: 200,001 stamps need 4 milliseconds.
    CHECK(prev.millis() == static_cast<std::uint64_t>(kNov2026 + 3));
    // When the wall clock passes the borrowed time, physical time takes over again.
    wall->advance(10);
    Stamp s = hlc.now();
    CHECK(s.millis() == static_cast<std::uint64_t>(kNov2026 + 10));
    CHECK(s.counter() == 0);
}

TEST_CASE("observing a remote stamp keeps later local stamps above it", "[clock]") {
    auto wall = std::make_shared<ManualClock>(kNov2026);
    Hlc hlc(Uuid::random(), wall);
    Stamp remote{(static_cast<std::uint64_t>(kNov2026 + 60'000) << 16) | 7, Uuid::random()};
    REQUIRE(hlc.acceptable(remote));
    hlc.observe(remote);
    Stamp local = hlc.now();
    CHECK(remote.hlc < local.hlc);
}

TEST_CASE("a peer more than five minutes ahead is not acceptable", "[clock]") {
    auto wall = std::make_shared<ManualClock>(kNov2026);
    Hlc hlc(Uuid::random(), wall);
    auto at = [](std::int64_t ms) {
        return Stamp{static_cast<std::uint64_t>(ms) << 16, Uuid::random()};
    };
    CHECK(hlc.acceptable(at(kNov2026 + kMaxClockSkewMs)));
    CHECK_FALSE(hlc.acceptable(at(kNov2026 + kMaxClockSkewMs + 1)));
    const std::int64_t ten_years = std::int64_t{10} * 365 * 24 * 3600 * 1000;
    CHECK_FALSE(hlc.acceptable(at(kNov2026 + ten_years)));
    // Once our wall clock catches up, the same stamp becomes acceptable.
    wall->advance(ten_years);
    CHECK(hlc.acceptable(at(kNov2026 + ten_years)));
}

TEST_CASE("a clock restarted from a persisted value never reissues a stamp", "[clock]") {
    auto wall = std::make_shared<ManualClock>(kNov2026);
    Uuid node = Uuid::random();
    Hlc first(node, wall);
    Stamp last;
    for (int i = 0; i < 10; ++i)
        last = first.now();
    wall->advance(-1000);
    Hlc second(node, wall, first.last());
    CHECK(last < second.now());
}
