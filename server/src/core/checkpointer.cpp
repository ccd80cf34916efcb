#include "core/checkpointer.h"

#include <sqlite3.h>

namespace mentorsync::server {

WalCheckpointer::WalCheckpointer(WalCheckpointerOptions options) : options_(std::move(options)) {}

Result<std::unique_ptr<WalCheckpointer>> WalCheckpointer::start(WalCheckpointerOptions options) {
    std::unique_ptr<WalCheckpointer> self(new WalCheckpointer(std::move(options)));
    // No CREATE: the owner has created the file and put it in WAL mode already.
    const int rc = sqlite3_open_v2(self->options_.path.c_str(), &self->db_,
                                   SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, nullptr);
    if (rc != SQLITE_OK)
        return Status::io("cannot open " + self->options_.name +
                          " to checkpoint it: " + sqlite3_errstr(rc));
    // RESTART waits this long for writers and readers to finish with the log's end.
    sqlite3_busy_timeout(self->db_, 2'000);
    // Never checkpoint on this connection's own close while the owner still writes: the
    // destructor does its last round explicitly.
    sqlite3_exec(self->db_, "PRAGMA wal_autocheckpoint=0", nullptr, nullptr, nullptr);
    self->thread_ = std::thread([p = self.get()] { p->run(); });
    return self;
}

WalCheckpointer::~WalCheckpointer() {
    if (thread_.joinable()) {
        {
            std::lock_guard lock(mu_);
            stopping_ = true;
        }
        cv_.notify_all();
        thread_.join();
    }
    if (db_) sqlite3_close_v2(db_);
}

void WalCheckpointer::run() {
    std::unique_lock lock(mu_);
    for (;;) {
        const bool stop = cv_.wait_for(lock, options_.interval, [&] { return stopping_; });
        lock.unlock();
        checkpoint(SQLITE_CHECKPOINT_PASSIVE);
        lock.lock();
        if (stop) return;
    }
}

void WalCheckpointer::checkpoint(int mode) {
    int log_frames = 0, copied = 0;
    int rc = sqlite3_wal_checkpoint_v2(db_, nullptr, mode, &log_frames, &copied);
    if (rc == SQLITE_OK && mode == SQLITE_CHECKPOINT_PASSIVE &&
        log_frames >= options_.restart_pages)
        rc = sqlite3_wal_checkpoint_v2(db_, nullptr, SQLITE_CHECKPOINT_RESTART, &log_frames,
                                       &copied);
    if (rc == SQLITE_OK || rc == SQLITE_BUSY || rc == SQLITE_LOCKED) {
        if (rc == SQLITE_OK && last_failure_ != 0) {
            log_event(options_.log, "info", "checkpoint_recovered", {{"file", options_.name}});
            last_failure_ = 0;
        }
        return;  // busy: somebody else's checkpoint or a long reader; the next round retries
    }
    if (rc != last_failure_)
        log_event(options_.log, "error", "checkpoint_failed",
                  {{"file", options_.name},
                   {"sqlite_code", std::int64_t{rc}},
                   {"error", std::string(sqlite3_errstr(rc))}});
    last_failure_ = rc;
}

}  // namespace mentorsync::server
