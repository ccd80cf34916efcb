#include "mentorsync/clock.h"

#include <algorithm>
#include <chrono>

namespace mentorsync {
namespace {

constexpr std::int64_t kMaxMillis = (std::int64_t{1} << 48) - 1;

std::uint64_t physical(std::int64_t wall_ms) {
    return static_cast<std::uint64_t>(std::clamp<std::int64_t>(wall_ms, 0, kMaxMillis))
           << Stamp::kCounterBits;
}

}  // namespace

std::int64_t SystemClock::now_ms() const {
    using namespace std::chrono;
    return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

std::shared_ptr<const WallClock> SystemClock::shared() {
    static const auto clock = std::make_shared<const SystemClock>();
    return clock;
}

Hlc::Hlc(Uuid node, std::shared_ptr<const WallClock> wall, std::uint64_t last)
    : node_(node), wall_(wall ? std::move(wall) : SystemClock::shared()), last_(last) {}

Stamp Hlc::now() {
    // Physical time wins when it has moved past everything seen; otherwise the packed value is
    // bumped by one, so a full 16-bit counter carries into the millisecond part and the clock
    // stays strictly monotonic through bursts and backward wall-clock steps alike.
    const std::uint64_t phys = physical(wall_->now_ms());
    last_ = phys > last_ ? phys : last_ + 1;
    return {last_, node_};
}

bool Hlc::acceptable(const Stamp& remote) const {
    return static_cast<std::int64_t>(remote.millis()) <= wall_->now_ms() + kMaxClockSkewMs;
}

void Hlc::observe(const Stamp& remote) {
    last_ = std::max(last_, remote.hlc);
}

}  // namespace mentorsync
