#include "core/checkpointer.h"

#include <sqlite3.h>

#include "common/sqlite.h"

namespace mentorsync::server {

WalCheckpointer::WalCheckpointer(WalCheckpointerOptions options)
    : options_(std::move(options)), db_(std::make_unique<common::sql::Db>()) {}

Result<std::unique_ptr<WalCheckpointer>> WalCheckpointer::start(WalCheckpointerOptions options) {
    std::unique_ptr<WalCheckpointer> self(new WalCheckpointer(std::move(options)));
    // No CREATE: the owner has created the file and put it in WAL mode already. Every open
    // failure reads "cannot open <name> to checkpoint it: <SQLite's reason>"; a missing file is
    // not_found, with the words SQLite gives for it.
    self->open_name_ = self->options_.name + " to checkpoint it";
    self->open_missing_ =
        "cannot open " + self->open_name_ + ": " + sqlite3_errstr(SQLITE_CANTOPEN);
    common::sql::Options o;
    o.create = false;
    // RESTART waits this long for writers and readers to finish with the log's end.
    o.busy_timeout_ms = 2'000;
    o.label = {self->open_missing_, self->open_name_, self->options_.name};
    MS_RETURN_IF_ERROR(self->db_->open(self->options_.path, o));
    // Never checkpoint on this connection's own close while the owner still writes: the
    // destructor does its last round explicitly.
    (void)self->db_->exec("PRAGMA wal_autocheckpoint=0");
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
    db_->close();
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
    const common::sql::Checkpoint first = db_->wal_checkpoint(mode);
    int rc = first.rc;
    if (rc == SQLITE_OK && mode == SQLITE_CHECKPOINT_PASSIVE &&
        first.log_frames >= options_.restart_pages)
        rc = db_->wal_checkpoint(SQLITE_CHECKPOINT_RESTART).rc;
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
