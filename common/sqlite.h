// The one RAII layer over the SQLite C API, for the replica file, server.db, state.db and
// coord.db. Failures are Status: Code::corrupt when SQLite says the file is damaged or not a
// database, Code::io for anything else, with SQLite's message; the words that name the file
// come from the caller's FileLabel, so each file keeps its own messages.
// Thread-safety: none. A Db and its statements belong to one thread at a time (the owner
// serialises access); the connection is opened NOMUTEX. sync_file() is the one exception.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>

#include "mentorsync/status.h"

namespace mentorsync::common::sql {

// How a Db names its file in messages.
struct FileLabel {
    std::string_view missing;   // the whole not_found message when the file is absent
    std::string_view name;      // "cannot open <name>: <SQLite's reason>"
    std::string_view not_ours;  // "<not_ours> or is damaged (<SQLite's reason>)"
};
inline constexpr FileLabel kReplicaFile{"no replica file at the given path", "the replica file",
                                        "the file is not a MentorSync replica"};
inline constexpr FileLabel kServerDb{"no server.db at the given path", "server.db",
                                     "server.db is not a MentorSync server database"};
inline constexpr FileLabel kStateDb{"no state.db at the given path", "state.db",
                                    "state.db is not a MentorSync state database"};
inline constexpr FileLabel kCoordDb{"no coord.db at the given path", "coord.db",
                                    "coord.db is not a MentorSync coordinator database"};

struct Options {
    // Create the file if it is missing. Without it, a missing file is Code::not_found with
    // label.missing.
    bool create = true;
    // Open read-only and refuse a symbolic link (SQLITE_OPEN_NOFOLLOW); every failure, a missing
    // file too, is then Code::io "cannot open <name>: ...". SQLite may still create -wal and
    // -shm files for a WAL-mode database.
    bool read_only = false;
    // How long a statement waits for another connection's lock before SQLITE_BUSY.
    int busy_timeout_ms = 5'000;
    FileLabel label = kReplicaFile;
};

// One prepared statement. An owning Stmt (Db::prepare_uncached) finalizes it when destroyed;
// a Stmt lent from Db's cache (Db::prepare) resets it, clears its bindings and hands it back,
// so the next user finds it as if freshly prepared. Text and blob views returned by a Stmt stay
// valid until its next step(), reset() or destruction.
class Stmt {
  public:
    Stmt() = default;
    Stmt(Stmt&& o) noexcept;
    Stmt& operator=(Stmt&& o) noexcept;
    Stmt(const Stmt&) = delete;
    Stmt& operator=(const Stmt&) = delete;
    ~Stmt();

    // Resets the statement and clears its bindings, for another run.
    Stmt& reset() noexcept;
    Stmt& bind(int i, std::int64_t v) noexcept;
    Stmt& bind_text(int i, std::string_view text) noexcept;   // TEXT
    Stmt& bind_blob(int i, std::string_view bytes) noexcept;  // BLOB, zero-length included
    Stmt& bind_null(int i) noexcept;

    // One step: true while a row is available, false when done. A failure resets the statement.
    Result<bool> step();
    // Runs a statement that returns no rows to completion, then resets it.
    Status run();

    std::int64_t int64(int col) const noexcept { return sqlite3_column_int64(stmt_, col); }
    bool is_null(int col) const noexcept { return sqlite3_column_type(stmt_, col) == SQLITE_NULL; }
    // The column's bytes ("" for NULL); see the class comment for how long the view lives.
    std::string_view text(int col) const noexcept;
    std::string_view blob(int col) const noexcept;

  private:
    friend class Db;
    Stmt(sqlite3* db, sqlite3_stmt* stmt, bool* in_use) noexcept
        : db_(db), stmt_(stmt), in_use_(in_use) {}
    void release() noexcept;

    sqlite3* db_ = nullptr;
    sqlite3_stmt* stmt_ = nullptr;
    bool* in_use_ = nullptr;  // non-null: lent from Db's cache
};

// A checkpoint's outcome (sqlite3_wal_checkpoint_v2): SQLite's result code (SQLITE_OK,
// SQLITE_BUSY, ...), the frames in the log and how many were copied into the database.
struct Checkpoint {
    int rc = SQLITE_OK;
    int log_frames = 0;
    int copied = 0;
};

// Flushes a file SQLite holds open to the disk (fdatasync, or fsync where the platform needs
// it), e.g. Db::wal_file(). Thread-safe in the sense that it only syncs the descriptor, as
// SQLite's own commits do; the caller keeps the Db open meanwhile.
Status sync_file(sqlite3_file* file);

// One connection.
class Db {
  public:
    Db() = default;
    ~Db();
    Db(const Db&) = delete;
    Db& operator=(const Db&) = delete;

    // Opens `path` (closing any earlier connection first). Errors: see Options and the file
    // comment; the message names the file by options.label.
    Status open(const std::string& path, const Options& options);
    // Finalizes the cached statements and closes the connection. Every Stmt must be gone.
    void close() noexcept;

    // Runs SQL text of one or more statements that return no rows.
    Status exec(std::string_view sql);
    // A statement for `sql`, prepared once per connection and lent out again on later calls
    // (preparing is a large part of a short statement's cost). The text is the cache key. A
    // statement already lent out (a nested use of the same text) is prepared afresh and
    // finalized after use, so nesting stays correct. The Stmt must not outlive the Db.
    Result<Stmt> prepare(std::string_view sql);
    // A statement of the caller's own, outside the cache (e.g. one kept for the connection's
    // life and reset() before each use).
    Result<Stmt> prepare_uncached(std::string_view sql);
    // Rows changed by the last INSERT, UPDATE or DELETE.
    std::int64_t changes() const noexcept { return sqlite3_changes64(db_); }
    // Rows changed by every INSERT, UPDATE and DELETE since the connection opened: a caller
    // compares two readings to tell whether a transaction wrote anything.
    std::int64_t total_changes() const noexcept { return sqlite3_total_changes64(db_); }

    // The open write-ahead log of the main database (WAL mode, after the first write). SQLite
    // keeps it open, at the same address, until the connection closes. Call with the owner's
    // lock held; sync_file() may then be called on it without.
    Result<sqlite3_file*> wal_file();
    // sqlite3_wal_checkpoint_v2 of the main database with `mode` (SQLITE_CHECKPOINT_PASSIVE,
    // _FULL, _RESTART or _TRUNCATE).
    Checkpoint wal_checkpoint(int mode) noexcept;

  private:
    struct Cached {
        sqlite3_stmt* stmt = nullptr;
        bool in_use = false;
    };
    Status failure(int rc, std::string_view what) const;

    sqlite3* db_ = nullptr;
    FileLabel label_ = kReplicaFile;
    // unique_ptr: lent Stmts point at `in_use`, which must not move when the map rehashes.
    std::unordered_map<std::string, std::unique_ptr<Cached>> cache_;
};

}  // namespace mentorsync::common::sql
