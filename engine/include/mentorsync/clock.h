// Wall clocks and the hybrid logical clock (HLC).
//
// The HLC gives every local transaction a stamp that is greater than every stamp this replica
// has issued or accepted before, stays close to wall-clock time, and never goes backwards when
// the wall clock does. Remote stamps too far ahead of our wall clock are not folded into the
// clock: the replica quarantines their transactions instead (see Replica). The one way back:
// when a server refuses our own stamps as too far ahead, Replica::restamp_refused() re-dates
// those transactions (they never left the device) and the clock restarts from the greatest
// stamp still held.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>

#include "mentorsync/export.h"
#include "mentorsync/types.h"

namespace mentorsync {

// Source of wall-clock time in milliseconds since the Unix epoch. Injectable so tests can step
// time backwards, freeze it, or jump ten years. Implementations must be thread-safe.
class MENTORSYNC_API WallClock {
  public:
    virtual ~WallClock() = default;
    virtual std::int64_t now_ms() const = 0;
};

// The real clock (std::chrono::system_clock).
class MENTORSYNC_API SystemClock final : public WallClock {
  public:
    std::int64_t now_ms() const override;
    // A process-wide instance.
    static std::shared_ptr<const WallClock> shared();
};

// A clock tests set by hand. Thread-safe.
class MENTORSYNC_API ManualClock final : public WallClock {
  public:
    explicit ManualClock(std::int64_t start_ms) : now_(start_ms) {}
    std::int64_t now_ms() const override { return now_.load(); }
    void set(std::int64_t ms) { now_.store(ms); }
    void advance(std::int64_t delta_ms) { now_.fetch_add(delta_ms); }

  private:
    std::atomic<std::int64_t> now_;
};

// Remote stamps more than this far ahead of the local wall clock are quarantined.
inline constexpr std::int64_t kMaxClockSkewMs = 5 * 60 * 1000;

// The hybrid logical clock of one replica. Not thread-safe: the Replica guards it with its lock.
class MENTORSYNC_API Hlc {
  public:
    Hlc(Uuid node, std::shared_ptr<const WallClock> wall, std::uint64_t last = 0);

    // A new stamp for a local event, strictly greater than every stamp issued or observed.
    // When more than 65,535 stamps fall in one millisecond the counter carries into the
    // millisecond part (the clock runs slightly ahead of wall time until wall time catches up).
    Stamp now();

    // Whether a remote stamp is acceptable: not more than kMaxClockSkewMs ahead of wall time.
    bool acceptable(const Stamp& remote) const;

    // Folds an acceptable remote stamp into the clock so later local stamps exceed it.
    // Precondition: acceptable(remote).
    void observe(const Stamp& remote);

    // The greatest hlc value issued or observed (persisted by the replica across restarts).
    std::uint64_t last() const noexcept { return last_; }
    const Uuid& node() const noexcept { return node_; }

  private:
    Uuid node_;
    std::shared_ptr<const WallClock> wall_;
    std::uint64_t last_;
};

}  // namespace mentorsync
