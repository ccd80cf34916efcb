#include "http/blocking_pool.h"

#include <algorithm>

#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace mentorsync::server::http {

BlockingPool::BlockingPool(unsigned threads, std::size_t queue, bool lower_priority)
    : capacity_(std::max(1u, threads) + queue), ioc_(static_cast<int>(std::max(1u, threads))) {
    keep_.emplace(ioc_.get_executor());
    for (unsigned i = 0; i < std::max(1u, threads); ++i) {
        threads_.emplace_back([this, lower_priority] {
            // Linux gives each thread its own nice value. Failing (a container that forbids
            // it) only costs the priority, never the sign-in.
            if (lower_priority)
                (void)setpriority(PRIO_PROCESS, static_cast<id_t>(::syscall(SYS_gettid)), 10);
            ioc_.run();
        });
    }
}

BlockingPool::~BlockingPool() {
    shutdown();
}

void BlockingPool::shutdown() {
    if (threads_.empty()) return;
    keep_.reset();
    ioc_.stop();
    for (auto& t : threads_)
        if (t.joinable()) t.join();
    threads_.clear();
}

bool BlockingPool::admit() noexcept {
    std::size_t n = pending_.load(std::memory_order_relaxed);
    do {
        if (n >= capacity_) return false;
    } while (!pending_.compare_exchange_weak(n, n + 1, std::memory_order_relaxed));
    return true;
}

}  // namespace mentorsync::server::http
