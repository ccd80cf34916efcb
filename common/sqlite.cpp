#include "common/sqlite.h"

namespace mentorsync::common::sql {

namespace {

bool is_corrupt(int rc) noexcept {
    return rc == SQLITE_CORRUPT || rc == SQLITE_NOTADB;
}

}  // namespace

// ---- Stmt -------------------------------------------------------------------------------------

Stmt::Stmt(Stmt&& o) noexcept : db_(o.db_), stmt_(o.stmt_), in_use_(o.in_use_) {
    o.stmt_ = nullptr;
    o.in_use_ = nullptr;
}

Stmt& Stmt::operator=(Stmt&& o) noexcept {
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

Stmt::~Stmt() {
    release();
}

void Stmt::release() noexcept {
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

Stmt& Stmt::reset() noexcept {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
    return *this;
}

Stmt& Stmt::bind(int i, std::int64_t v) noexcept {
    sqlite3_bind_int64(stmt_, i, v);
    return *this;
}

Stmt& Stmt::bind_text(int i, std::string_view text) noexcept {
    sqlite3_bind_text(stmt_, i, text.data(), static_cast<int>(text.size()), SQLITE_TRANSIENT);
    return *this;
}

Stmt& Stmt::bind_blob(int i, std::string_view bytes) noexcept {
    // SQLite binds a null pointer as NULL: an empty value must still be a (zero-length) blob.
    static const char empty = 0;
    sqlite3_bind_blob(stmt_, i, bytes.empty() ? &empty : bytes.data(),
                      static_cast<int>(bytes.size()), SQLITE_TRANSIENT);
    return *this;
}

Stmt& Stmt::bind_null(int i) noexcept {
    sqlite3_bind_null(stmt_, i);
    return *this;
}

Result<bool> Stmt::step() {
    const int rc = sqlite3_step(stmt_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    std::string msg = std::string("SQLite: ") + sqlite3_errmsg(db_);
    sqlite3_reset(stmt_);
    if (is_corrupt(rc)) return Status::corrupt(std::move(msg));
    return Status::io(std::move(msg));
}

Status Stmt::run() {
    for (;;) {
        auto r = step();
        if (!r.ok()) return r.status();
        if (!*r) break;
    }
    sqlite3_reset(stmt_);
    return {};
}

std::string_view Stmt::text(int col) const noexcept {
    const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, col));
    return p ? std::string_view(p, static_cast<std::size_t>(sqlite3_column_bytes(stmt_, col)))
             : std::string_view();
}

std::string_view Stmt::blob(int col) const noexcept {
    const auto* p = static_cast<const char*>(sqlite3_column_blob(stmt_, col));
    return p ? std::string_view(p, static_cast<std::size_t>(sqlite3_column_bytes(stmt_, col)))
             : std::string_view();
}

// ---- Db ---------------------------------------------------------------------------------------

Status sync_file(sqlite3_file* file) {
    const int rc = file->pMethods->xSync(file, SQLITE_SYNC_NORMAL);
    if (rc != SQLITE_OK)
        return Status::io(std::string("SQLite: syncing the log: ") + sqlite3_errstr(rc));
    return {};
}

Db::~Db() {
    close();
}

Status Db::open(const std::string& path, const Options& options) {
    close();
    label_ = options.label;
    const int flags = options.read_only
                          ? SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_NOFOLLOW
                          : SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX |
                                (options.create ? SQLITE_OPEN_CREATE : 0);
    const int rc = sqlite3_open_v2(path.c_str(), &db_, flags, nullptr);
    if (rc != SQLITE_OK) {
        const std::string reason = db_ ? sqlite3_errmsg(db_) : sqlite3_errstr(rc);
        close();
        if (!options.read_only && !options.create && rc == SQLITE_CANTOPEN)
            return Status::not_found(std::string(label_.missing));
        std::string msg = "cannot open " + std::string(label_.name) + ": " + reason;
        if (!options.read_only && is_corrupt(rc)) return Status::corrupt(std::move(msg));
        return Status::io(std::move(msg));
    }
    sqlite3_extended_result_codes(db_, 0);
    sqlite3_busy_timeout(db_, options.busy_timeout_ms);
    return {};
}

void Db::close() noexcept {
    for (auto& [text, cached] : cache_)
        sqlite3_finalize(cached->stmt);
    cache_.clear();
    if (db_) {
        sqlite3_close_v2(db_);
        db_ = nullptr;
    }
}

Status Db::failure(int rc, std::string_view reason) const {
    if (is_corrupt(rc))
        return Status::corrupt(std::string(label_.not_ours) + " or is damaged (" +
                               std::string(reason) + ")");
    return Status::io("SQLite: " + std::string(reason));
}

Status Db::exec(std::string_view sql) {
    const std::string text(sql);  // sqlite3_exec wants a terminated string
    char* err = nullptr;
    const int rc = sqlite3_exec(db_, text.c_str(), nullptr, nullptr, &err);
    if (rc == SQLITE_OK) return {};
    const std::string reason = err ? err : sqlite3_errstr(rc);
    sqlite3_free(err);
    return failure(rc, reason);
}

Result<Stmt> Db::prepare(std::string_view sql) {
    auto it = cache_.find(std::string(sql));
    if (it == cache_.end()) {
        auto fresh = prepare_uncached(sql);
        if (!fresh.ok()) return fresh.status();
        auto entry = std::make_unique<Cached>();
        entry->stmt = fresh->stmt_;
        fresh->stmt_ = nullptr;  // the cache owns it now
        it = cache_.emplace(std::string(sql), std::move(entry)).first;
    }
    Cached& c = *it->second;
    if (c.in_use) return prepare_uncached(sql);
    c.in_use = true;
    return Stmt(db_, c.stmt, &c.in_use);
}

Result<Stmt> Db::prepare_uncached(std::string_view sql) {
    sqlite3_stmt* stmt = nullptr;
    const int rc = sqlite3_prepare_v3(db_, sql.data(), static_cast<int>(sql.size()),
                                      SQLITE_PREPARE_PERSISTENT, &stmt, nullptr);
    if (rc != SQLITE_OK) {
        if (is_corrupt(rc)) return failure(rc, sqlite3_errmsg(db_));
        return Status::io(std::string("SQLite prepare: ") + sqlite3_errmsg(db_));
    }
    return Stmt(db_, stmt, nullptr);
}

Result<sqlite3_file*> Db::wal_file() {
    sqlite3_file* f = nullptr;
    const int rc = sqlite3_file_control(db_, "main", SQLITE_FCNTL_JOURNAL_POINTER, &f);
    if (rc != SQLITE_OK)
        return Status::io(std::string("SQLite: finding the log: ") + sqlite3_errmsg(db_));
    if (!f || !f->pMethods)
        return Status::io("SQLite: " + std::string(label_.name) + " has no open log to sync");
    return f;
}

Checkpoint Db::wal_checkpoint(int mode) noexcept {
    Checkpoint c;
    c.rc = sqlite3_wal_checkpoint_v2(db_, nullptr, mode, &c.log_frames, &c.copied);
    return c;
}

}  // namespace mentorsync::common::sql
