// What unauthenticated and over-eager clients may cost the server: rate limits (token buckets
// per device and per client address) and the budget of request-body bytes in flight. Plain
// values and mutexes; no Asio or Beast, so that tests drive them with an injected clock.
//
// The numbers and their reasons are in docs/security.md ("Floods and memory"); the answers a
// client sees (429 rate_limited, 503 unavailable, both with Retry-After) in docs/protocol.md §2.
// Thread-safety: every member may be called from any thread; each class has one mutex.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

namespace mentorsync::server::http {

// The key under which a client address is limited: the IPv4 address as text, or for IPv6 the
// /64 prefix (one subscriber's whole network: a client that owns a /64 must not get 2^64
// budgets). An IPv4-mapped IPv6 address counts as its IPv4 address. `address` is what
// asio::ip::address::to_string() gives; anything unparsable is returned unchanged.
std::string client_key(std::string_view address);

// Token buckets by key: each key may spend `burst` requests at once and gets `per_second`
// back over time. Idle keys are forgotten once their bucket is full again, and at most
// `max_keys` keys are held: beyond that a new key is refused (treated as empty) until idle
// ones are swept (at most once a second), so a flood of addresses can neither grow the table
// without bound nor make every request scan it.
class RateLimiter {
  public:
    using Clock = std::chrono::steady_clock;

    // `per_second` 0 disables the limiter: every call allows.
    RateLimiter(double burst, double per_second, std::size_t max_keys = 100'000);

    bool enabled() const noexcept { return per_second_ > 0; }

    // Whole seconds to wait before `key` may make a request, 0 when one is allowed now. Takes
    // nothing: for a check before the request is known to be genuine (a device's signature is
    // verified only after its body arrives).
    std::int64_t wait_s(const std::string& key, Clock::time_point now = Clock::now());
    // Spends one token for a request that is known to be genuine, even into debt: a few
    // concurrent requests that all passed wait_s() are served, and the debt delays the next.
    void charge(const std::string& key, Clock::time_point now = Clock::now());
    // wait_s() and, when it is 0, charge(): for requests whose sender cannot be verified
    // anyway (enrollment, sign-in), limited by address.
    std::int64_t take(const std::string& key, Clock::time_point now = Clock::now());

    std::size_t keys() const;

  private:
    struct Bucket {
        double tokens;
        Clock::time_point at;
    };
    // The bucket of `key` refilled up to `now`; null when the table is full. mu_ held.
    Bucket* refill(const std::string& key, Clock::time_point now);
    std::int64_t wait_locked(const Bucket* b) const;

    const double burst_;
    const double per_second_;
    const std::size_t max_keys_;
    mutable std::mutex mu_;
    std::unordered_map<std::string, Bucket> buckets_;  // guarded by mu_
    Clock::time_point last_sweep_{};                   // guarded by mu_
};

// The server-wide budget of request-body bytes being received or handled. Bodies up to
// kSmallBody are not counted: every request that fits one of the protocol's small bodies
// (pulls, enrollment, coordinator API calls) is always admitted, and they are bounded by the
// connection limit instead. Larger bodies reserve their declared length before the first byte
// is read; one client address may hold at most a quarter of the budget (but always one largest
// body), so one address cannot take it all.
class BodyBudget {
  public:
    static constexpr std::size_t kSmallBody = 64 * 1024;

    // A reservation; releases its bytes when destroyed. Movable, not copyable.
    class Lease {
      public:
        Lease() = default;
        Lease(Lease&& other) noexcept;
        Lease& operator=(Lease&& other) noexcept;
        ~Lease();
        Lease(const Lease&) = delete;
        Lease& operator=(const Lease&) = delete;

      private:
        friend class BodyBudget;
        Lease(BodyBudget* budget, std::string key, std::size_t bytes);
        void release() noexcept;
        BodyBudget* budget_ = nullptr;
        std::string key_;
        std::size_t bytes_ = 0;
    };

    // `capacity` 0: no budget (every body admitted). One address's share is a quarter of the
    // capacity, but never less than `largest_body`, so that every address can always send one
    // body of the largest size the server accepts.
    BodyBudget(std::size_t capacity, std::size_t largest_body);

    // Reserves `bytes` for a body from `key` (client_key()). False when the budget or the
    // address's share would be exceeded: the caller answers 503 without reading the body.
    bool reserve(const std::string& key, std::size_t bytes, Lease& out);

    std::size_t in_flight() const;
    std::size_t capacity() const noexcept { return capacity_; }

  private:
    void release(const std::string& key, std::size_t bytes) noexcept;

    const std::size_t capacity_;
    const std::size_t per_key_;
    mutable std::mutex mu_;
    std::size_t used_ = 0;                                 // guarded by mu_
    std::unordered_map<std::string, std::size_t> by_key_;  // guarded by mu_
};

}  // namespace mentorsync::server::http
