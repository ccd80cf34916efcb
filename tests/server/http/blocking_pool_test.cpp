// BlockingPool (http/blocking_pool.h): where sign-ins verify passwords. A job runs on a pool
// thread while the io thread that awaits it serves other work, the awaiting coroutine resumes
// on its own executor, and beyond threads + queue a job is refused at once.
#include <atomic>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <thread>
#include <utility>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <catch2/catch.hpp>

#include "http/blocking_pool.h"
#include "wait.h"

namespace asio = boost::asio;
using mentorsync::server::http::BlockingPool;

namespace {

// A latch the test opens by hand, so that a job blocks until the test says so.
struct Gate {
    std::mutex m;
    std::condition_variable cv;
    bool open = false;
    int waiting = 0;
    void wait() {
        std::unique_lock lock(m);
        ++waiting;
        cv.notify_all();
        cv.wait(lock, [this] { return open; });
    }
    bool wait_for_waiters(int n) {
        std::unique_lock lock(m);
        return cv.wait_for(lock, std::chrono::seconds(5), [&] { return waiting >= n; });
    }
    void release() {
        {
            std::lock_guard lock(m);
            open = true;
        }
        cv.notify_all();
    }
};

}  // namespace

TEST_CASE("a pool job runs off the io thread, which keeps serving, and resumes its coroutine",
          "[http][limits]") {
    // The io_context outlives the pool, as in the server (the pool's threads end first): a pool
    // thread may still hold a copy of the waiter's executor just after the waiter resumed.
    asio::io_context ioc(1);
    BlockingPool pool(1, 0);
    auto strand = asio::make_strand(ioc);
    Gate gate;
    std::thread::id io_thread, job_thread, resumed_on;
    std::atomic<bool> other_work_ran{false};
    std::optional<int> result;

    asio::co_spawn(
        strand,
        [&]() -> asio::awaitable<void> {
            io_thread = std::this_thread::get_id();
            auto op = pool.try_run(
                [&] {
                    job_thread = std::this_thread::get_id();
                    gate.wait();
                    return 42;
                },
                asio::use_awaitable);
            if (!op) co_return;  // checked below: `result` stays empty
            result = co_await std::move(*op);
            resumed_on = std::this_thread::get_id();
        },
        asio::detached);
    // While the job blocks, the io_context (one thread) runs other handlers.
    std::thread runner([&] { ioc.run(); });
    REQUIRE(gate.wait_for_waiters(1));
    asio::post(ioc, [&] { other_work_ran = true; });
    mstest::wait_until([&] { return other_work_ran.load(); }, std::chrono::seconds(5));
    CHECK(other_work_ran);
    CHECK_FALSE(result.has_value());
    gate.release();
    runner.join();  // returns once the coroutine finished: the pool held the io_context's work
    REQUIRE(result.has_value());
    CHECK(*result == 42);
    CHECK(job_thread != io_thread);
    CHECK(resumed_on == io_thread);
    CHECK(pool.pending() == 0);
}

TEST_CASE("a full pool refuses a job at once and takes one again when a place frees",
          "[http][limits]") {
    asio::io_context ioc(1);  // outlives the pool, as above
    BlockingPool pool(1, 1);  // one running, one waiting
    REQUIRE(pool.capacity() == 2);
    Gate gate;
    std::atomic<int> done{0};
    std::atomic<int> refused{0};
    auto submit = [&] {
        asio::co_spawn(
            ioc,
            [&]() -> asio::awaitable<void> {
                auto op = pool.try_run(
                    [&] {
                        gate.wait();
                        return 1;
                    },
                    asio::use_awaitable);
                if (!op) {
                    ++refused;
                    co_return;
                }
                done += co_await std::move(*op);
            },
            asio::detached);
    };
    for (int i = 0; i < 4; ++i)
        submit();
    std::thread runner([&] { ioc.run(); });
    REQUIRE(gate.wait_for_waiters(1));
    mstest::wait_until([&] { return refused >= 2; }, std::chrono::seconds(5));
    CHECK(refused == 2);
    CHECK(pool.pending() == 2);
    gate.release();
    runner.join();
    CHECK(done == 2);
    CHECK(pool.pending() == 0);
}
