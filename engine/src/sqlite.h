// A thin RAII layer over the SQLite C API that reports failures as Status (Code::io, with
// SQLite's message). Not thread-safe: the owner serialises access.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "mentorsync/status.h"

namespace mentorsync::sql {

class Stmt {
  public:
    Stmt() = default;
    Stmt(sqlite3* db, sqlite3_stmt* stmt) : db_(db), stmt_(stmt) {}
    Stmt(Stmt&& o) noexcept : db_(o.db_), stmt_(o.stmt_) { o.stmt_ = nullptr; }
    Stmt& operator=(Stmt&& o) noexcept;
    ~Stmt();

    // Resets the statement and clears bindings; call before reuse.
    Stmt& reset();
    Stmt& bind(int i, std::int64_t v);
    Stmt& bind(int i, std::string_view text);  // TEXT
    Stmt& bind_blob(int i, std::string_view bytes);
    Stmt& bind_null(int i);

    // Runs one step: true while a row is available, false when done. Errors become Code::io.
    Result<bool> step();
    // Runs to completion (for statements that return no rows).
    Status run();

    std::int64_t int64(int col) const { return sqlite3_column_int64(stmt_, col); }
    std::string_view text(int col) const;
    std::string_view blob(int col) const;
    bool is_null(int col) const { return sqlite3_column_type(stmt_, col) == SQLITE_NULL; }

  private:
    sqlite3* db_ = nullptr;
    sqlite3_stmt* stmt_ = nullptr;
};

class Db {
  public:
    Db() = default;
    ~Db();
    Db(const Db&) = delete;
    Db& operator=(const Db&) = delete;

    // Opens (creating if allowed) the file. Code::not_found if missing and !create.
    Status open(const std::string& path, bool create);
    // Opens an existing file read-only, not following a symbolic link; any failure (a missing
    // file too) is Code::io. SQLite may still create -wal and -shm files for a WAL-mode
    // database.
    Status open_read_only(const std::string& path);
    void close();
    bool is_open() const noexcept { return db_ != nullptr; }

    Status exec(std::string_view sql);
    Result<Stmt> prepare(std::string_view sql);
    std::int64_t changes() const { return sqlite3_changes64(db_); }
    sqlite3* handle() const noexcept { return db_; }

    Status error(std::string_view what) const;

  private:
    sqlite3* db_ = nullptr;
};

}  // namespace mentorsync::sql
