// A small RAII layer over the SQLite C API for the server store, reporting failures as the
// engine's Status (Code::io with SQLite's message, Code::corrupt for a damaged file). The
// engine has its own copy in engine/src; it is private to the engine, and the server must not
// reach into engine internals. Not thread-safe: the owner serialises access.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>

#include "mentorsync/status.h"

namespace mentorsync::server::sql {

inline Status sqlite_status(sqlite3* db, int rc, std::string_view what) {
    std::string msg = std::string(what) + ": " + (db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
    if (rc == SQLITE_CORRUPT || rc == SQLITE_NOTADB) return Status::corrupt(msg);
    return Status::io(msg);
}

// A statement handle. An owning Stmt finalizes its statement; a Stmt lent from Db's cache
// (`in_use` set) resets it, clears its bindings and hands it back instead, so the next user
// finds it as if freshly prepared.
class Stmt {
  public:
    Stmt() = default;
    Stmt(sqlite3* db, sqlite3_stmt* stmt, bool* in_use = nullptr)
        : db_(db), stmt_(stmt), in_use_(in_use) {}
    Stmt(Stmt&& o) noexcept : db_(o.db_), stmt_(o.stmt_), in_use_(o.in_use_) {
        o.stmt_ = nullptr;
        o.in_use_ = nullptr;
    }
    Stmt& operator=(Stmt&& o) noexcept {
        if (this != &o) {
            release();
            db_ = o.db_;
            stmt_ = o.stmt_;
            in_use_ = o.in_use_;
            o.stmt_ = nullptr;
            o.in_use_ = nullptr;
        }
        return *this;
    }
    Stmt(const Stmt&) = delete;
    Stmt& operator=(const Stmt&) = delete;
    ~Stmt() { release(); }

    Stmt& bind(int i, std::int64_t v) {
        sqlite3_bind_int64(stmt_, i, v);
        return *this;
    }
    Stmt& bind_text(int i, std::string_view text) {
        sqlite3_bind_text(stmt_, i, text.data(), static_cast<int>(text.size()), SQLITE_TRANSIENT);
        return *this;
    }
    Stmt& bind_blob(int i, std::string_view bytes) {
        // A zero-length blob must still be a blob, not NULL: pass a non-null pointer.
        static const char empty = 0;
        sqlite3_bind_blob(stmt_, i, bytes.empty() ? &empty : bytes.data(),
                          static_cast<int>(bytes.size()), SQLITE_TRANSIENT);
        return *this;
    }
    Stmt& bind_null(int i) {
        sqlite3_bind_null(stmt_, i);
        return *this;
    }

    // One step: true while a row is available, false when done.
    Result<bool> step() {
        int rc = sqlite3_step(stmt_);
        if (rc == SQLITE_ROW) return true;
        if (rc == SQLITE_DONE) return false;
        Status s = sqlite_status(db_, rc, "SQLite");
        sqlite3_reset(stmt_);
        return s;
    }
    // Runs a statement that returns no rows to completion.
    Status run() {
        for (;;) {
            auto r = step();
            if (!r.ok()) return r.status();
            if (!*r) return {};
        }
    }

    // Gives up ownership of an owning statement (for Db's cache).
    sqlite3_stmt* detach() {
        sqlite3_stmt* s = stmt_;
        stmt_ = nullptr;
        return s;
    }

    std::int64_t int64(int col) const { return sqlite3_column_int64(stmt_, col); }
    bool is_null(int col) const { return sqlite3_column_type(stmt_, col) == SQLITE_NULL; }
    std::string text(int col) const {
        const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, col));
        return p ? std::string(p, static_cast<std::size_t>(sqlite3_column_bytes(stmt_, col)))
                 : std::string();
    }
    std::string blob(int col) const {
        const auto* p = static_cast<const char*>(sqlite3_column_blob(stmt_, col));
        return p ? std::string(p, static_cast<std::size_t>(sqlite3_column_bytes(stmt_, col)))
                 : std::string();
    }

  private:
    void release() {
        if (!stmt_) return;
        if (in_use_) {
            // Reset also ends a read the caller stopped early, so no lock outlives the call.
            sqlite3_reset(stmt_);
            sqlite3_clear_bindings(stmt_);
            *in_use_ = false;
        } else {
            sqlite3_finalize(stmt_);
        }
        stmt_ = nullptr;
        in_use_ = nullptr;
    }

    sqlite3* db_ = nullptr;
    sqlite3_stmt* stmt_ = nullptr;
    bool* in_use_ = nullptr;  // non-null: lent from Db's cache
};

// Flushes a file SQLite holds open to the disk (fdatasync, or fsync where the platform needs
// it). Thread-safe: it only syncs the descriptor, as SQLite's own commits do.
inline Status sync_file(sqlite3_file* f) {
    int rc = f->pMethods->xSync(f, SQLITE_SYNC_NORMAL);
    if (rc != SQLITE_OK)
        return Status::io(std::string("SQLite: syncing the log: ") + sqlite3_errstr(rc));
    return {};
}

class Db {
  public:
    Db() = default;
    ~Db() { close(); }
    Db(const Db&) = delete;
    Db& operator=(const Db&) = delete;

    Status open(const std::string& path) {
        close();
        int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
        int rc = sqlite3_open_v2(path.c_str(), &db_, flags, nullptr);
        if (rc != SQLITE_OK) {
            Status s = sqlite_status(db_, rc, "cannot open server.db");
            close();
            return s;
        }
        // The admin command line may write while the server runs: wait for its lock.
        sqlite3_busy_timeout(db_, 10'000);
        return {};
    }
    void close() {
        // Every lent Stmt must be gone by now (they live no longer than one store call).
        for (auto& [text, cached] : cache_)
            sqlite3_finalize(cached->stmt);
        cache_.clear();
        if (db_) {
            sqlite3_close_v2(db_);
            db_ = nullptr;
        }
    }

    Status exec(const std::string& sql) {
        char* err = nullptr;
        int rc = sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &err);
        if (rc != SQLITE_OK) {
            std::string msg = err ? err : sqlite3_errstr(rc);
            sqlite3_free(err);
            if (rc == SQLITE_CORRUPT || rc == SQLITE_NOTADB)
                return Status::corrupt(
                    "server.db is not a MentorSync server database or is "
                    "damaged (" +
                    msg + ")");
            return Status::io("SQLite: " + msg);
        }
        return {};
    }
    // A statement for `sql`, prepared once per connection and lent out again on later calls:
    // preparing is a large part of a short statement's cost. The text is the cache key, so
    // callers that build SQL from a fixed set of fragments get one entry per variant. A
    // statement already lent out (a nested use of the same text) is prepared afresh and
    // finalized after use, so nesting stays correct.
    Result<Stmt> prepare(std::string_view sql) {
        auto it = cache_.find(std::string(sql));
        if (it == cache_.end()) {
            auto fresh = prepare_uncached(sql);
            if (!fresh.ok()) return fresh.status();
            auto entry = std::make_unique<Cached>();
            entry->stmt = fresh->detach();
            it = cache_.emplace(std::string(sql), std::move(entry)).first;
        }
        Cached& c = *it->second;
        if (c.in_use) return prepare_uncached(sql);
        c.in_use = true;
        return Stmt(db_, c.stmt, &c.in_use);
    }
    Result<Stmt> prepare_uncached(std::string_view sql) {
        sqlite3_stmt* stmt = nullptr;
        int rc = sqlite3_prepare_v2(db_, sql.data(), static_cast<int>(sql.size()), &stmt, nullptr);
        if (rc != SQLITE_OK) return sqlite_status(db_, rc, "SQLite prepare");
        return Stmt(db_, stmt);
    }
    std::int64_t changes() const { return sqlite3_changes64(db_); }

    // The open write-ahead log of the main database (WAL mode, after the first write). SQLite
    // keeps it open, at the same address, until the connection closes. Call with the
    // connection's lock held; sync_file() may then be called on it without.
    Result<sqlite3_file*> log_file() {
        sqlite3_file* f = nullptr;
        int rc = sqlite3_file_control(db_, "main", SQLITE_FCNTL_JOURNAL_POINTER, &f);
        if (rc != SQLITE_OK) return sqlite_status(db_, rc, "SQLite: finding the log");
        if (!f || !f->pMethods) return Status::io("SQLite: server.db has no open log to sync");
        return f;
    }

  private:
    struct Cached {
        sqlite3_stmt* stmt = nullptr;
        bool in_use = false;
    };
    sqlite3* db_ = nullptr;
    // unique_ptr: lent Stmts point at `in_use`, which must not move when the map rehashes.
    std::unordered_map<std::string, std::unique_ptr<Cached>> cache_;
};

}  // namespace mentorsync::server::sql
