// DataDirLock: which process owns a data directory's merged state (state.db).
//
// state.db is an engine replica that one process writes: the running server (its background
// applier, its coordinator views), or, while no server runs, one in-process owner (a test, a
// benchmark's setup). Two owners would each apply, checkpoint and, when they judge state.db
// foreign, delete and rebuild it under the other. So the owner holds an exclusive advisory lock
// (flock(2)) on `state.lock` in the data directory for as long as it has state.db open, and
// nobody else opens state.db at all: the admin command line writes the history (server.db,
// whose SQLite locking serves several processes) and builds its views from the history in
// memory (MergedState::replay).
//
// The lock is on a file of its own, never on a SQLite file: flock locks belong to the open file
// description and survive other descriptors of the same file being closed, and SQLite's own
// POSIX locks are not touched. The file is never deleted (a deleted lock file would let a second
// owner lock a new one); it holds nothing. The kernel drops the lock when the owner exits, even
// by a crash, so a stale lock never needs clearing.
//
// Thread-safety: an instance is immutable; it releases the lock when destroyed.
#pragma once

#include <memory>
#include <string>

#include "mentorsync/status.h"

namespace mentorsync::server {

class DataDirLock {
  public:
    static constexpr const char* kFileName = "state.lock";

    // Takes the lock on data_dir/state.lock (created mode 0600 when missing) without waiting.
    // Errors: Code::io naming the reason; when another process (or another owner in this one)
    // holds it, the message says the data directory is in use by a running server.
    static Result<std::unique_ptr<DataDirLock>> acquire(const std::string& data_dir);

    ~DataDirLock();
    DataDirLock(const DataDirLock&) = delete;
    DataDirLock& operator=(const DataDirLock&) = delete;

  private:
    explicit DataDirLock(int fd) : fd_(fd) {}
    int fd_ = -1;
};

}  // namespace mentorsync::server
