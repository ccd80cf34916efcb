// Waiting for a condition in tests, instead of sleeping a fixed time and hoping.
#pragma once

#include <chrono>
#include <thread>

namespace mstest {

// Returns true as soon as `pred()` holds, false if it still does not after `timeout`. For
// conditions nothing notifies about (a port that stops accepting, a file that appears): it
// re-checks at a short, growing interval (1 ms doubling up to 20 ms), so a test takes as long
// as the condition does, not a guessed constant. Prefer a condition variable where the code
// under test can signal one.
template <typename Pred>
bool wait_until(Pred&& pred, std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    auto pause = std::chrono::milliseconds(1);
    for (;;) {
        if (pred()) return true;
        if (std::chrono::steady_clock::now() >= deadline) return pred();
        std::this_thread::sleep_for(pause);
        if (pause < std::chrono::milliseconds(20)) pause *= 2;
    }
}

}  // namespace mstest
