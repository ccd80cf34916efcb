// BlockingPool: a few threads of their own for work that must not run on the io threads
// (Argon2id password verification: about 64 MiB and tens of milliseconds of CPU each), with a
// bounded queue. A coroutine on an io thread hands a job over and awaits its result; the io
// thread serves other connections meanwhile, so a flood of sign-ins queues here instead of
// occupying every io thread (which is how 128 concurrent sign-ins used to hold device pulls
// for seconds).
//
// Admission is decided at submission: when `threads + queue` jobs are already running or
// waiting, try_run() refuses at once and the caller answers 503. The threads run at a lower
// scheduling priority (nice +10) where the system allows it, so that on a busy machine the
// sync traffic on the io threads gets the CPU first.
//
// Thread-safety: try_run() may be called from any thread. shutdown() (also run by the
// destructor) must not race with try_run(); the owner calls it after the io threads stopped.
// Lifetime: shut the pool down (or destroy it) before destroying any io_context whose
// coroutines awaited it: a pool thread still holds a copy of the waiter's executor for a moment
// after posting the result back.
#pragma once

#include <atomic>
#include <cstddef>
#include <optional>
#include <thread>
#include <utility>
#include <vector>

#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>

namespace mentorsync::server::http {

class BlockingPool {
  public:
    // `threads` >= 1; `queue`: jobs that may wait beyond the running ones. `lower_priority`:
    // the threads run at nice +10 (the sign-in pool); the store pool runs at normal priority,
    // since the sync traffic itself waits for it.
    BlockingPool(unsigned threads, std::size_t queue, bool lower_priority = true);
    ~BlockingPool();
    BlockingPool(const BlockingPool&) = delete;
    BlockingPool& operator=(const BlockingPool&) = delete;

    // Stops the threads after the running jobs; queued jobs are dropped (their waiters are
    // destroyed without being resumed). Idempotent.
    void shutdown();

    // Jobs running or waiting right now.
    std::size_t pending() const noexcept { return pending_.load(std::memory_order_relaxed); }
    std::size_t capacity() const noexcept { return capacity_; }

    // Runs `job()` (returning R, which must not throw) on a pool thread and completes `token`
    // with its result on the token's own executor (a coroutine resumes where it was). Returns
    // nullopt at once, without running anything, when the pool is full; otherwise the
    // initiation's result (with asio::use_awaitable: an awaitable<R>, which the caller must
    // co_await at once: its place in the pool is taken here).
    template <typename Job, typename Token>
    auto try_run(Job job, Token&& token) {
        using R = decltype(job());
        using Initiated = decltype(boost::asio::async_initiate<Token, void(R)>(
            std::declval<Initiation<Job>>(), token));
        std::optional<Initiated> out;
        if (!admit()) return out;
        out.emplace(boost::asio::async_initiate<Token, void(R)>(
            Initiation<Job>{this, std::move(job)}, token));
        return out;
    }

  private:
    template <typename Job>
    struct Initiation {
        BlockingPool* pool;
        Job job;
        template <typename Handler>
        void operator()(Handler&& handler) {
            auto home = boost::asio::get_associated_executor(handler);
            // The waiter's io_context must not run out of work while the job runs here.
            auto work = boost::asio::make_work_guard(home);
            boost::asio::post(pool->ioc_, [pool = pool, job = std::move(job),
                                           handler = std::forward<Handler>(handler),
                                           work = std::move(work)]() mutable {
                auto result = job();
                pool->pending_.fetch_sub(1, std::memory_order_relaxed);
                auto back = work.get_executor();
                boost::asio::post(
                    back, [handler = std::move(handler), result = std::move(result)]() mutable {
                        std::move(handler)(std::move(result));
                    });
                work.reset();
            });
        }
    };

    bool admit() noexcept;

    const std::size_t capacity_;
    std::atomic<std::size_t> pending_{0};
    boost::asio::io_context ioc_;
    std::optional<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> keep_;
    std::vector<std::thread> threads_;
};

}  // namespace mentorsync::server::http
