#include "http/limits.h"

#include <algorithm>
#include <cmath>
#include <utility>

#include <arpa/inet.h>

namespace mentorsync::server::http {

std::string client_key(std::string_view address) {
    const std::string text(address);
    in6_addr v6{};
    if (inet_pton(AF_INET6, text.c_str(), &v6) != 1) return text;  // IPv4 (or not an address)
    const unsigned char* b = v6.s6_addr;
    static constexpr unsigned char kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (std::equal(b, b + 12, kMapped)) {
        return std::to_string(b[12]) + "." + std::to_string(b[13]) + "." + std::to_string(b[14]) +
               "." + std::to_string(b[15]);
    }
    in6_addr prefix{};
    std::copy(b, b + 8, prefix.s6_addr);
    char out[INET6_ADDRSTRLEN];
    if (inet_ntop(AF_INET6, &prefix, out, sizeof out) == nullptr) return text;
    return std::string(out) + "/64";
}

// --- RateLimiter --------------------------------------------------------------------------

RateLimiter::RateLimiter(double burst, double per_second, std::size_t max_keys)
    : burst_(std::max(1.0, burst)), per_second_(per_second), max_keys_(max_keys) {}

RateLimiter::Bucket* RateLimiter::refill(const std::string& key, Clock::time_point now) {
    auto it = buckets_.find(key);
    if (it == buckets_.end()) {
        if (buckets_.size() >= max_keys_) {
            // Forget every key whose bucket has filled up again: it would start full anyway.
            // At most one sweep a second: a flood of new keys must not buy a full scan each.
            if (now - last_sweep_ < std::chrono::seconds(1)) return nullptr;
            last_sweep_ = now;
            std::erase_if(buckets_, [&](const auto& kv) {
                const double secs = std::chrono::duration<double>(now - kv.second.at).count();
                return kv.second.tokens + secs * per_second_ >= burst_;
            });
            if (buckets_.size() >= max_keys_) return nullptr;
        }
        it = buckets_.emplace(key, Bucket{burst_, now}).first;
        return &it->second;
    }
    Bucket& b = it->second;
    if (now > b.at) {
        const double secs = std::chrono::duration<double>(now - b.at).count();
        b.tokens = std::min(burst_, b.tokens + secs * per_second_);
        b.at = now;
    }
    return &b;
}

std::int64_t RateLimiter::wait_locked(const Bucket* b) const {
    if (b == nullptr) return 1;  // the table is full of active keys: try again shortly
    if (b->tokens >= 1.0) return 0;
    return std::max<std::int64_t>(
        1, static_cast<std::int64_t>(std::ceil((1.0 - b->tokens) / per_second_)));
}

std::int64_t RateLimiter::wait_s(const std::string& key, Clock::time_point now) {
    if (!enabled()) return 0;
    std::lock_guard lock(mu_);
    return wait_locked(refill(key, now));
}

void RateLimiter::charge(const std::string& key, Clock::time_point now) {
    if (!enabled()) return;
    std::lock_guard lock(mu_);
    if (Bucket* b = refill(key, now)) b->tokens -= 1.0;
}

std::int64_t RateLimiter::take(const std::string& key, Clock::time_point now) {
    if (!enabled()) return 0;
    std::lock_guard lock(mu_);
    Bucket* b = refill(key, now);
    const std::int64_t wait = wait_locked(b);
    if (wait == 0) b->tokens -= 1.0;
    return wait;
}

std::size_t RateLimiter::keys() const {
    std::lock_guard lock(mu_);
    return buckets_.size();
}

// --- BodyBudget ---------------------------------------------------------------------------

BodyBudget::Lease::Lease(BodyBudget* budget, std::string key, std::size_t bytes)
    : budget_(budget), key_(std::move(key)), bytes_(bytes) {}

BodyBudget::Lease::Lease(Lease&& other) noexcept
    : budget_(std::exchange(other.budget_, nullptr)),
      key_(std::move(other.key_)),
      bytes_(std::exchange(other.bytes_, 0)) {}

BodyBudget::Lease& BodyBudget::Lease::operator=(Lease&& other) noexcept {
    if (this != &other) {
        release();
        budget_ = std::exchange(other.budget_, nullptr);
        key_ = std::move(other.key_);
        bytes_ = std::exchange(other.bytes_, 0);
    }
    return *this;
}

BodyBudget::Lease::~Lease() {
    release();
}

void BodyBudget::Lease::release() noexcept {
    if (budget_ != nullptr && bytes_ > 0) budget_->release(key_, bytes_);
    budget_ = nullptr;
    bytes_ = 0;
}

BodyBudget::BodyBudget(std::size_t capacity, std::size_t largest_body)
    : capacity_(capacity), per_key_(std::max(capacity / 4, largest_body)) {}

bool BodyBudget::reserve(const std::string& key, std::size_t bytes, Lease& out) {
    out = Lease();
    if (capacity_ == 0 || bytes <= kSmallBody) return true;
    std::lock_guard lock(mu_);
    std::size_t& mine = by_key_[key];
    if (used_ + bytes > capacity_ || mine + bytes > per_key_) {
        if (mine == 0) by_key_.erase(key);
        return false;
    }
    used_ += bytes;
    mine += bytes;
    out = Lease(this, key, bytes);
    return true;
}

void BodyBudget::release(const std::string& key, std::size_t bytes) noexcept {
    std::lock_guard lock(mu_);
    used_ -= std::min(used_, bytes);
    auto it = by_key_.find(key);
    if (it == by_key_.end()) return;
    it->second -= std::min(it->second, bytes);
    if (it->second == 0) by_key_.erase(it);
}

std::size_t BodyBudget::in_flight() const {
    std::lock_guard lock(mu_);
    return used_;
}

}  // namespace mentorsync::server::http
