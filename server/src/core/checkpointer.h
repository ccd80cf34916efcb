// WalCheckpointer: copies a WAL-mode SQLite file's log back into the database file from a
// thread and connection of its own.
//
// SQLite's automatic checkpoint runs inside the commit that crosses its threshold, on the
// committing connection: that commit then copies megabytes and syncs the database file while
// it still holds the caller's locks (the store's connection mutex, the merged state's apply).
// The server turns automatic checkpoints off on server.db and state.db and runs one of these
// for each instead: every `interval` it checkpoints PASSIVE (never waits for, never blocks a
// writer); once the log is over `restart_pages` long it checkpoints RESTART, which waits
// (briefly: the passive rounds have already copied nearly everything) until the next writer
// can start the log from its beginning again, so the -wal file stops growing.
//
// Durability is unchanged: a commit is made durable by the log (synchronous=FULL commits or
// the store's sync_log); a checkpoint syncs the log before it copies, and the database file
// after. Errors are logged (JSON line, the file's name and SQLite's code, nothing else) and
// retried at the next round; a checkpoint that finds the file busy is simply tried again.
// Thread-safety: start() and the destructor from one thread; the work is the object's own.
#pragma once

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "core/log.h"
#include "mentorsync/status.h"

namespace mentorsync::common::sql {
class Db;
}

namespace mentorsync::server {

struct WalCheckpointerOptions {
    std::string path;  // the database file (its -wal beside it)
    std::string name;  // for log lines, e.g. "server.db"
    std::chrono::milliseconds interval{200};
    int restart_pages = 16'384;  // 64 MiB of 4 KiB pages
    LogSink log;                 // null: stderr
};

class WalCheckpointer {
  public:
    // Opens its connection and starts the thread. Errors: the file cannot be opened.
    static Result<std::unique_ptr<WalCheckpointer>> start(WalCheckpointerOptions options);
    // Stops the thread after a last PASSIVE checkpoint; closes the connection.
    ~WalCheckpointer();
    WalCheckpointer(const WalCheckpointer&) = delete;
    WalCheckpointer& operator=(const WalCheckpointer&) = delete;

  private:
    explicit WalCheckpointer(WalCheckpointerOptions options);
    void run();
    void checkpoint(int mode);

    WalCheckpointerOptions options_;
    // How the connection names the file in messages (its FileLabel points at these).
    std::string open_name_;                // "<name> to checkpoint it"
    std::string open_missing_;             // the whole message for a missing file
    std::unique_ptr<common::sql::Db> db_;  // common/sqlite.h stays out of this header
    std::mutex mu_;
    std::condition_variable cv_;
    bool stopping_ = false;
    int last_failure_ = 0;  // SQLite code last logged, so a persistent failure logs once
    std::thread thread_;
};

}  // namespace mentorsync::server
