// Replica::Impl: what one open replica holds (which mutex guards what, the row cache, the
// prepared statements) and the helpers every part of the replica uses (the associated
// data of docs/storage-format.md, stamps and records from rows). Internal to
// engine/src/replica*.cpp; see mentorsync/replica.h for the contract.
#pragma once

#include "mentorsync/replica.h"

#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <mutex>
#include <set>
#include <unordered_map>

#include "codec.h"
#include "common/encoding.h"
#include "common/sqlite.h"
#include "crypto.h"
#include "mentorsync/wire.h"
#include "merge.h"

namespace mentorsync {
namespace sql = common::sql;
// Internal helpers of the replica files (inline: each file uses some of them).
namespace replica_detail {

inline constexpr std::int64_t kFileFormat = 1;
inline constexpr int kFreeAttempts = 5;
inline constexpr std::int64_t kFirstDelayMs = 30'000;
inline constexpr std::int64_t kMaxDelayMs = 60 * 60 * 1000;

inline constexpr const char* kSchemaSql = R"sql(
CREATE TABLE meta(key TEXT PRIMARY KEY, value BLOB NOT NULL) WITHOUT ROWID;
CREATE TABLE rows(
  rid INTEGER PRIMARY KEY, id BLOB NOT NULL UNIQUE, collection TEXT NOT NULL, learner BLOB,
  hlc INTEGER NOT NULL, node BLOB NOT NULL, state BLOB NOT NULL);
CREATE INDEX rows_by_learner ON rows(collection, learner);
CREATE TABLE changes(
  seq INTEGER PRIMARY KEY, hlc INTEGER NOT NULL, node BLOB NOT NULL,
  origin INTEGER NOT NULL, acked INTEGER NOT NULL, learner BLOB, body BLOB NOT NULL,
  UNIQUE(hlc, node));
CREATE INDEX changes_pending ON changes(acked) WHERE acked = 0;
CREATE TABLE conflicts(
  row BLOB NOT NULL, field TEXT NOT NULL, hlc INTEGER NOT NULL, node BLOB NOT NULL,
  collection TEXT NOT NULL, body BLOB NOT NULL,
  PRIMARY KEY(row, field, hlc, node)) WITHOUT ROWID;
CREATE TABLE quarantine(
  hlc INTEGER NOT NULL, node BLOB NOT NULL, received_ms INTEGER NOT NULL,
  changes INTEGER NOT NULL, body BLOB NOT NULL, PRIMARY KEY(hlc, node)) WITHOUT ROWID;
CREATE TABLE sync_state(key TEXT PRIMARY KEY, value BLOB NOT NULL) WITHOUT ROWID;
)sql";

inline std::string be64(std::uint64_t v) {
    std::string s;
    common::append_be64(s, v);
    return s;
}

// Associated data: binds each sealed blob to where it sits.
inline std::string ad_row(std::string_view collection, const Uuid& id, const Stamp& s) {
    std::string ad = "ms1:row:";
    ad.append(collection).push_back('\0');
    ad.append(id.raw()).append(be64(s.hlc)).append(s.node.raw());
    return ad;
}
inline std::string ad_txn(const Stamp& s) {
    return "ms1:txn:" + be64(s.hlc) + std::string(s.node.raw());
}
inline std::string ad_quarantine(const Stamp& s) {
    return "ms1:quarantine:" + be64(s.hlc) + std::string(s.node.raw());
}
inline std::string ad_conflict(std::string_view collection, const Uuid& row, std::string_view field,
                               const Stamp& s) {
    std::string ad = "ms1:conflict:";
    ad.append(collection).push_back('\0');
    ad.append(row.raw()).append(field).push_back('\0');
    ad.append(be64(s.hlc)).append(s.node.raw());
    return ad;
}
inline std::string ad_secret(const Uuid& node, std::string_view key) {
    return "ms1:secret:" + std::string(node.raw()) + std::string(key);
}
inline std::string ad_key(const Uuid& node, std::string_view mode) {
    return "ms1:key:" + std::string(node.raw()) + std::string(mode);
}

inline std::string_view key_mode_name(UnlockKey::Kind k) {
    return k == UnlockKey::Kind::raw ? "raw" : "passphrase";
}

inline Stamp stamp_from(std::int64_t hlc, std::string_view node) {
    Stamp s;
    s.hlc = static_cast<std::uint64_t>(hlc);
    if (auto u = Uuid::from_bytes(node)) s.node = *u;
    return s;
}

// The learner a row hangs off, from its current state.
inline std::optional<Uuid> learner_of(const CollectionDef* def, std::string_view collection,
                                      const Uuid& id, const RowState& state) {
    if (collection == "learners") return id;
    std::string_view field = def ? std::string_view(def->learner_field) : "learner_id";
    if (field.empty()) return std::nullopt;
    auto it = state.fields.find(field);
    if (it == state.fields.end() || !it->second.value.is_string()) return std::nullopt;
    return Uuid::parse(it->second.value.as_string());
}

inline Record to_record(std::string collection, const Uuid& id, const RowState& state) {
    Record r;
    r.collection = std::move(collection);
    r.id = id;
    r.deleted = state.deleted();
    for (const auto& [name, fs] : state.fields) {
        r.updated = std::max(r.updated, fs.stamp);
        if (name == kDeletedField) continue;
        r.stamps.emplace(name, fs.stamp);
        if (!fs.value.is_null()) r.fields.emplace(name, fs.value);
    }
    return r;
}

}  // namespace replica_detail
using namespace replica_detail;  // only replica*.cpp include this header

// ---- Impl -----------------------------------------------------------------------------------

class Replica::Impl {
  public:
    OpenOptions opts;
    const Schema* schema = nullptr;
    std::shared_ptr<const WallClock> clock;
    mutable std::mutex mu;  // guards everything below except observers
    sql::Db db;
    crypto::SecretKey data_key;
    Uuid node;
    std::unique_ptr<Hlc> hlc;

    std::mutex obs_mu;  // guards observers
    std::map<std::uint64_t, std::shared_ptr<Observer>> observers;
    std::uint64_t next_observer = 1;

    // Prepared statements, created once.
    struct Stmts {
        sql::Stmt get_row, put_row, find_txn, put_txn, is_conflict, del_conflict, put_conflict,
            find_quarantine, put_quarantine, meta_get, meta_put;
    } st;

    // A row loaded (or created) during one write transaction.
    struct Cached {
        std::string collection;
        RowState state;
        bool exists = false;
        bool dirty = false;
    };
    struct UuidHash {
        std::size_t operator()(const Uuid& u) const noexcept {
            std::uint64_t h;
            std::memcpy(&h, u.bytes.data(), sizeof h);  // random ids: any 8 bytes hash well
            return static_cast<std::size_t>(h);
        }
    };
    std::unordered_map<Uuid, Cached, UuidHash> cache;
    std::vector<ChangeEvent> events;

    Status check_unlocked() const {
        if (!data_key.present()) return Status::closed("the replica is locked: unlock it first");
        return {};
    }

    // --- meta -------------------------------------------------------------------------------
    Result<std::optional<std::string>> meta(std::string_view key) {
        auto& s = st.meta_get.reset().bind_text(1, key);
        auto r = s.step();
        if (!r.ok()) return r.status();
        if (!*r) return std::optional<std::string>();
        std::string v(s.blob(0));
        st.meta_get.reset();
        return std::optional<std::string>(std::move(v));
    }
    Status put_meta(std::string_view key, std::string_view value) {
        return st.meta_put.reset().bind_text(1, key).bind_blob(2, value).run();
    }
    Result<std::string> require_meta(std::string_view key) {
        auto r = meta(key);
        if (!r.ok()) return r.status();
        if (!r->has_value())
            return Status::corrupt("replica metadata '" + std::string(key) + "' is missing");
        return std::move(**r);
    }
    Result<std::int64_t> meta_int(std::string_view key, std::int64_t def) {
        auto r = meta(key);
        if (!r.ok()) return r.status();
        if (!r->has_value()) return def;
        try {
            return std::stoll(**r);
        } catch (...) {
            return Status::corrupt("replica metadata '" + std::string(key) + "' is not a number");
        }
    }

    Status prepare_all() {
        auto prep = [&](sql::Stmt& out, std::string_view q) -> Status {
            auto r = db.prepare_uncached(q);
            if (!r.ok()) return r.status();
            out = std::move(r).value();
            return {};
        };
        MS_RETURN_IF_ERROR(prep(st.meta_get, "SELECT value FROM meta WHERE key=?1"));
        MS_RETURN_IF_ERROR(
            prep(st.meta_put, "INSERT OR REPLACE INTO meta(key,value) VALUES(?1,?2)"));
        MS_RETURN_IF_ERROR(
            prep(st.get_row, "SELECT collection, hlc, node, state FROM rows WHERE id=?1"));
        MS_RETURN_IF_ERROR(prep(st.put_row,
                                "INSERT INTO rows(id,collection,learner,hlc,node,state) "
                                "VALUES(?1,?2,?3,?4,?5,?6) ON CONFLICT(id) DO UPDATE SET "
                                "collection=excluded.collection, learner=excluded.learner, "
                                "hlc=excluded.hlc, node=excluded.node, state=excluded.state"));
        MS_RETURN_IF_ERROR(prep(st.find_txn, "SELECT 1 FROM changes WHERE hlc=?1 AND node=?2"));
        MS_RETURN_IF_ERROR(prep(st.put_txn,
                                "INSERT INTO changes(hlc,node,origin,acked,learner,body) "
                                "VALUES(?1,?2,?3,?4,?5,?6)"));
        MS_RETURN_IF_ERROR(prep(st.is_conflict,
                                "SELECT 1 FROM conflicts WHERE row=?1 AND field=?2 AND hlc=?3 AND "
                                "node=?4"));
        MS_RETURN_IF_ERROR(prep(st.del_conflict,
                                "DELETE FROM conflicts WHERE row=?1 AND field=?2 AND hlc=?3 AND "
                                "node=?4"));
        MS_RETURN_IF_ERROR(
            prep(st.put_conflict,
                 "INSERT OR REPLACE INTO conflicts(row,field,hlc,node,collection,body)"
                 " VALUES(?1,?2,?3,?4,?5,?6)"));
        MS_RETURN_IF_ERROR(
            prep(st.find_quarantine, "SELECT 1 FROM quarantine WHERE hlc=?1 AND node=?2"));
        MS_RETURN_IF_ERROR(
            prep(st.put_quarantine,
                 "INSERT OR IGNORE INTO quarantine(hlc,node,received_ms,changes,body)"
                 " VALUES(?1,?2,?3,?4,?5)"));
        return {};
    }

    // --- opening and keys ---------------------------------------------------------------------
    Status open_file() {
        // Before anything touches the disk: a bad option leaves no file behind.
        if (opts.wal_autocheckpoint_pages < 0)
            return Status::invalid_argument("OpenOptions::wal_autocheckpoint_pages is " +
                                            std::to_string(opts.wal_autocheckpoint_pages) +
                                            ": it must be 0 (off) or a page count");
        // stat(2), not fopen: it opens no descriptor. Closing any descriptor of a database file
        // drops every POSIX lock this process holds on it, including those of SQLite
        // connections already open on it (in this or another Replica), after which another
        // process may think itself the last user, checkpoint and delete the WAL.
        struct stat info {};
        const bool existed = ::stat(opts.path.c_str(), &info) == 0;
        if (!existed && !opts.create_if_missing)
            return Status::not_found("no replica at " + opts.path);
        MS_RETURN_IF_ERROR(db.open(opts.path, {.create = opts.create_if_missing,
                                               .busy_timeout_ms = 5'000,
                                               .label = sql::kReplicaFile}));
        // secure_delete before anything is written: freed pages are zeroed, not left behind.
        MS_RETURN_IF_ERROR(db.exec("PRAGMA secure_delete=ON; PRAGMA temp_store=MEMORY;"));
        MS_RETURN_IF_ERROR(db.exec("PRAGMA journal_mode=WAL;"));
        MS_RETURN_IF_ERROR(db.exec(opts.durability == Durability::full
                                       ? "PRAGMA synchronous=FULL;"
                                       : "PRAGMA synchronous=NORMAL;"));
        MS_RETURN_IF_ERROR(db.exec(
            "PRAGMA wal_autocheckpoint=" + std::to_string(opts.wal_autocheckpoint_pages) + ";"));
        auto q =
            db.prepare("SELECT count(*), sum(name='meta') FROM sqlite_master WHERE type='table'");
        if (!q.ok()) return q.status();
        auto row = q->step();
        if (!row.ok()) return row.status();
        std::int64_t tables = q->int64(0), has_meta = q->int64(1);
        if (tables == 0) return {};  // a new file; initialise() follows
        if (has_meta == 0)
            return Status::corrupt("the file is an SQLite database but not a replica");
        return {};
    }

    Result<bool> is_new() {
        auto q = db.prepare("SELECT count(*) FROM sqlite_master WHERE type='table'");
        if (!q.ok()) return q.status();
        auto r = q->step();
        if (!r.ok()) return r.status();
        return q->int64(0) == 0;
    }

    Status derive_kek(const UnlockKey& key, crypto::SecretKey& kek) {
        if (!kek.allocated()) return Status::internal("out of secure memory");
        if (key.kind() == UnlockKey::Kind::raw) {
            if (key.secret().size() != crypto::kKeyBytes)
                return Status::invalid_argument("a raw key must be exactly 32 bytes, got " +
                                                std::to_string(key.secret().size()));
            kek.set(key.secret());
            return {};
        }
        if (key.secret().empty()) return Status::invalid_argument("the passphrase is empty");
        auto salt = require_meta("kdf_salt");
        if (!salt.ok()) return salt.status();
        auto ops = meta_int("kdf_ops", 0);
        auto mem = meta_int("kdf_mem", 0);
        if (!ops.ok()) return ops.status();
        if (!mem.ok()) return mem.status();
        return crypto::derive_key(key.secret(), *salt, static_cast<std::uint64_t>(*ops),
                                  static_cast<std::size_t>(*mem), kek);
    }

    // Writes a new salt (for passphrases) and the data key wrapped under `key`.
    Status wrap_data_key(const UnlockKey& key) {
        MS_RETURN_IF_ERROR(put_meta("key_mode", key_mode_name(key.kind())));
        if (key.kind() == UnlockKey::Kind::passphrase) {
            MS_RETURN_IF_ERROR(put_meta("kdf_salt", crypto::random_bytes(crypto::kSaltBytes)));
            MS_RETURN_IF_ERROR(put_meta("kdf_ops", std::to_string(opts.kdf.opslimit)));
            MS_RETURN_IF_ERROR(put_meta("kdf_mem", std::to_string(opts.kdf.memlimit)));
        }
        crypto::SecretKey kek;
        MS_RETURN_IF_ERROR(derive_kek(key, kek));
        std::string_view dk(reinterpret_cast<const char*>(data_key.data()), crypto::kKeyBytes);
        return put_meta("wrapped_key",
                        crypto::seal(kek, ad_key(node, key_mode_name(key.kind())), dk));
    }

    Status initialise(const UnlockKey& key) {
        if (key.kind() == UnlockKey::Kind::raw && key.secret().size() != crypto::kKeyBytes)
            return Status::invalid_argument("a raw key must be exactly 32 bytes, got " +
                                            std::to_string(key.secret().size()));
        if (key.kind() == UnlockKey::Kind::passphrase && key.secret().empty())
            return Status::invalid_argument("the passphrase is empty");
        MS_RETURN_IF_ERROR(db.exec("BEGIN IMMEDIATE"));
        Status s = [&]() -> Status {
            MS_RETURN_IF_ERROR(db.exec(kSchemaSql));
            MS_RETURN_IF_ERROR(prepare_all());
            node = Uuid::random();
            data_key.randomize();
            MS_RETURN_IF_ERROR(put_meta("format", std::to_string(kFileFormat)));
            MS_RETURN_IF_ERROR(put_meta("node", node.raw()));
            MS_RETURN_IF_ERROR(put_meta("schema_version", std::to_string(schema->version())));
            return wrap_data_key(key);
        }();
        if (!s.ok()) {
            (void)db.exec("ROLLBACK");
            data_key.clear();
            return s;
        }
        return db.exec("COMMIT");
    }

    Status load_meta() {
        MS_RETURN_IF_ERROR(prepare_all());
        auto format = meta_int("format", -1);
        if (!format.ok()) return format.status();
        if (*format == -1) return Status::corrupt("the file is not a replica (no format marker)");
        if (*format != kFileFormat)
            return Status::unsupported("replica file format " + std::to_string(*format) +
                                       " is newer than this build reads (" +
                                       std::to_string(kFileFormat) + ")");
        auto n = require_meta("node");
        if (!n.ok()) return n.status();
        auto u = Uuid::from_bytes(*n);
        if (!u) return Status::corrupt("replica node id is malformed");
        node = *u;
        return {};
    }

    // Checks the key against the wrapped data key, with the persistent lockout.
    Status unlock(const UnlockKey& key) {
        auto mode = require_meta("key_mode");
        if (!mode.ok()) return mode.status();
        if (*mode != key_mode_name(key.kind()))
            return Status::wrong_key("this replica is unlocked with a " + *mode + ", not a " +
                                     std::string(key_mode_name(key.kind())));
        auto failures = meta_int("failed_attempts", 0);
        auto last = meta_int("last_failure_ms", 0);
        if (!failures.ok()) return failures.status();
        if (!last.ok()) return last.status();
        const std::int64_t now = clock->now_ms();
        if (*failures >= kFreeAttempts) {
            std::int64_t delay = kFirstDelayMs;
            for (std::int64_t i = kFreeAttempts; i < *failures && delay < kMaxDelayMs; ++i)
                delay *= 2;
            delay = std::min(delay, kMaxDelayMs);
            // A last failure "in the future" (the clock was set back, or the stored time is
            // nonsense) is moved to now, durably: the wait is then one delay from now, so a
            // tablet whose clock fell back to 1970 is not locked out for decades. Comparing
            // against now - delay keeps the arithmetic clear of overflow whatever the file holds.
            std::int64_t last_ms = *last;
            if (last_ms > now) {
                MS_RETURN_IF_ERROR(put_meta("last_failure_ms", std::to_string(now)));
                last_ms = now;
            }
            if (last_ms > now - delay) {
                const std::int64_t wait_ms = last_ms - (now - delay);
                return Status::locked_out(std::to_string(*failures) +
                                          " wrong keys in a row: try again in " +
                                          std::to_string((wait_ms + 999) / 1000) + " s")
                    .with_retry_after(wait_ms);
            }
        }
        crypto::SecretKey kek;
        MS_RETURN_IF_ERROR(derive_kek(key, kek));
        auto wrapped = require_meta("wrapped_key");
        if (!wrapped.ok()) return wrapped.status();
        auto dk = crypto::open(kek, ad_key(node, *mode), *wrapped);
        if (!dk.ok() || dk->size() != crypto::kKeyBytes) {
            MS_RETURN_IF_ERROR(put_meta("failed_attempts", std::to_string(*failures + 1)));
            MS_RETURN_IF_ERROR(put_meta("last_failure_ms", std::to_string(now)));
            return Status::wrong_key(key.kind() == UnlockKey::Kind::raw
                                         ? "the raw key does not unlock this replica"
                                         : "wrong passphrase");
        }
        data_key.set({reinterpret_cast<const std::uint8_t*>(dk->data()), crypto::kKeyBytes});
        sodium_memzero(dk->data(), dk->size());
        if (*failures != 0) MS_RETURN_IF_ERROR(put_meta("failed_attempts", "0"));
        return {};
    }

    // The floor purge_learner() persisted before removing log entries (which may have held the
    // greatest stamp); 0 when there is none.
    Result<std::uint64_t> hlc_floor() {
        auto floor = meta("hlc_floor");
        if (!floor.ok()) return floor.status();
        if (!floor->has_value()) return std::uint64_t{0};
        std::uint64_t v = 0;
        const std::string& text = **floor;
        auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
        if (ec != std::errc() || end != text.data() + text.size())
            return Status::corrupt("replica metadata 'hlc_floor' is not a number");
        return v;
    }

    // Where the clock resumes: the greatest stamp in the change log, or the floor. Every stamp
    // still held counts, so a local stamp always exceeds whatever a local edit may name as
    // `prev`; a refused future stamp stops counting once restamp_refused() replaced it.
    Result<std::uint64_t> clock_start() {
        auto q = db.prepare("SELECT coalesce(max(hlc), 0) FROM changes");
        if (!q.ok()) return q.status();
        auto r = q->step();
        if (!r.ok()) return r.status();
        const auto last = static_cast<std::uint64_t>(q->int64(0));
        auto floor = hlc_floor();
        if (!floor.ok()) return floor.status();
        return std::max(last, *floor);
    }

    Status start_clock() {
        auto last = clock_start();
        if (!last.ok()) return last.status();
        hlc = std::make_unique<Hlc>(node, clock, *last);
        return {};
    }

    // Trusted clock readings (note_trusted_time): (change log position, server ms), oldest
    // first, stored in meta as "seq:ms" items joined by ','.
    static constexpr std::size_t kMaxTimeMarks = 16;
    using TimeMarks = std::vector<std::pair<std::int64_t, std::int64_t>>;
    Result<TimeMarks> time_marks() {
        auto v = meta("time_marks");
        if (!v.ok()) return v.status();
        TimeMarks out;
        if (!v->has_value() || (*v)->empty()) return out;
        const std::string& text = **v;
        auto bad = [] { return Status::corrupt("replica metadata 'time_marks' is malformed"); };
        std::size_t at = 0;
        while (at <= text.size()) {
            std::size_t end = text.find(',', at);
            if (end == std::string::npos) end = text.size();
            const std::string_view item(text.data() + at, end - at);
            const std::size_t colon = item.find(':');
            if (colon == std::string_view::npos) return bad();
            std::int64_t seq = 0, ms = 0;
            auto a = std::from_chars(item.data(), item.data() + colon, seq);
            auto b = std::from_chars(item.data() + colon + 1, item.data() + item.size(), ms);
            if (a.ec != std::errc() || a.ptr != item.data() + colon || b.ec != std::errc() ||
                b.ptr != item.data() + item.size())
                return bad();
            out.emplace_back(seq, ms);
            at = end + 1;
        }
        return out;
    }
    Status put_time_marks(const TimeMarks& marks) {
        std::string text;
        for (const auto& [seq, ms] : marks) {
            if (!text.empty()) text += ',';
            text += std::to_string(seq) + ":" + std::to_string(ms);
        }
        return put_meta("time_marks", text);
    }

    // Rebuilds the state and conflicts of `rows` from the change log (after restamp_refused()
    // rewrote some entries). Each row's transactions are merged in stamp order into an empty
    // state; `received` answers as the incremental merge would have at that point (a stamp of
    // the log that touches the row counts once merged, any other stamp of the log at once), so
    // the result is what merging the same set in any order gives (merge.h).
    Status rebuild_rows(const std::set<Uuid>& rows) {
        std::set<Stamp> logged;
        std::vector<Transaction> touching;
        {
            auto sel = db.prepare("SELECT hlc, node, body FROM changes");
            if (!sel.ok()) return sel.status();
            for (;;) {
                auto r = sel->step();
                if (!r.ok()) return r.status();
                if (!*r) break;
                const Stamp s = stamp_from(sel->int64(0), sel->blob(1));
                logged.insert(s);
                auto plain = crypto::open(data_key, ad_txn(s), sel->blob(2));
                if (!plain.ok())
                    return Status::corrupt("change log entry " + s.to_string() + ": " +
                                           plain.status().message());
                auto txn = decode_stored_transaction(*plain);
                if (!txn.ok()) return txn.status();
                if (std::any_of(txn->changes.begin(), txn->changes.end(),
                                [&](const Change& c) { return rows.count(c.row) != 0; }))
                    touching.push_back(std::move(txn).value());
            }
        }
        std::sort(touching.begin(), touching.end(),
                  [](const Transaction& a, const Transaction& b) { return a.stamp < b.stamp; });
        auto del_conflicts = db.prepare("DELETE FROM conflicts WHERE row=?1");
        if (!del_conflicts.ok()) return del_conflicts.status();
        for (const Uuid& id : rows) {
            auto loaded = load(id);
            if (!loaded.ok()) return loaded.status();
            Cached& c = **loaded;
            std::set<Stamp> of_row, merged;
            for (const Transaction& t : touching)
                for (const Change& ch : t.changes)
                    if (ch.row == id) of_row.insert(t.stamp);
            RowState state;
            std::map<std::pair<std::string, Stamp>, Value> open;
            MergeContext ctx;
            ctx.is_conflict = [&](const std::string& field, const Stamp& loser) {
                return open.count({field, loser}) != 0;
            };
            ctx.received = [&](const Stamp& s) {
                return logged.count(s) != 0 && (of_row.count(s) == 0 || merged.count(s) != 0);
            };
            for (const Transaction& t : touching) {
                if (!of_row.count(t.stamp)) continue;
                for (const Change& ch : t.changes) {
                    if (ch.row != id) continue;
                    if (c.collection.empty()) c.collection = ch.collection;
                    MergeEffects fx;
                    merge_write(state, ch.field, ch.value, t.stamp, ch.prev, ch.resolves, ctx, fx);
                    for (const auto& closed : fx.closed)
                        open.erase(closed);
                    for (auto& o : fx.opened)
                        open[{o.field, o.loser}] = std::move(o.loser_value);
                }
                merged.insert(t.stamp);
            }
            if (state.fields.empty()) continue;  // nothing logged touches it (cannot happen)
            c.state = std::move(state);
            c.exists = true;
            c.dirty = true;
            MS_RETURN_IF_ERROR(del_conflicts->reset().bind_blob(1, id.raw()).run());
            for (const auto& [key, value] : open) {
                const auto& [field, loser] = key;
                std::string body = crypto::seal(
                    data_key, ad_conflict(c.collection, id, field, loser), encode_value(value));
                MS_RETURN_IF_ERROR(st.put_conflict.reset()
                                       .bind_blob(1, id.raw())
                                       .bind_text(2, field)
                                       .bind(3, static_cast<std::int64_t>(loser.hlc))
                                       .bind_blob(4, loser.node.raw())
                                       .bind_text(5, c.collection)
                                       .bind_blob(6, body)
                                       .run());
            }
            events.push_back({c.collection, id, c.state.max_stamp(), false, false});
        }
        return {};
    }

    // --- rows -----------------------------------------------------------------------------------
    // A row no record can already have (an id create() just generated): no read needed.
    Cached* fresh(const Uuid& id) { return &cache[id]; }

    Result<Cached*> load(const Uuid& id) {
        auto it = cache.find(id);
        if (it != cache.end()) return &it->second;
        Cached c;
        auto& s = st.get_row.reset().bind_blob(1, id.raw());
        auto r = s.step();
        if (!r.ok()) return r.status();
        if (*r) {
            c.exists = true;
            c.collection = std::string(s.text(0));
            Stamp rs = stamp_from(s.int64(1), s.blob(2));
            auto plain = crypto::open(data_key, ad_row(c.collection, id, rs), s.blob(3));
            if (!plain.ok())
                return Status::corrupt("record " + id.to_string() + ": " +
                                       plain.status().message());
            auto state = decode_row_state(*plain);
            if (!state.ok()) return state.status();
            c.state = std::move(state).value();
        }
        st.get_row.reset();
        return &cache.emplace(id, std::move(c)).first->second;
    }

    Status flush_rows() {
        for (auto& [id, c] : cache) {
            if (!c.dirty) continue;
            Stamp ms = c.state.max_stamp();
            std::string blob =
                crypto::seal(data_key, ad_row(c.collection, id, ms), encode_row_state(c.state));
            auto& s = st.put_row.reset().bind_blob(1, id.raw()).bind_text(2, c.collection);
            auto learner = learner_of(schema->collection(c.collection), c.collection, id, c.state);
            if (learner)
                s.bind_blob(3, learner->raw());
            else
                s.bind_null(3);
            s.bind(4, static_cast<std::int64_t>(ms.hlc))
                .bind_blob(5, ms.node.raw())
                .bind_blob(6, blob);
            MS_RETURN_IF_ERROR(s.run());
        }
        cache.clear();
        return {};
    }

    Result<bool> txn_exists(const Stamp& s) {
        auto& q = st.find_txn.reset()
                      .bind(1, static_cast<std::int64_t>(s.hlc))
                      .bind_blob(2, s.node.raw());
        auto r = q.step();
        st.find_txn.reset();
        return r;
    }

    Status log_txn(const Transaction& txn, bool remote, const std::optional<Uuid>& learner) {
        std::string body = crypto::seal(data_key, ad_txn(txn.stamp), encode_transaction(txn));
        auto& s = st.put_txn.reset()
                      .bind(1, static_cast<std::int64_t>(txn.stamp.hlc))
                      .bind_blob(2, txn.stamp.node.raw())
                      .bind(3, remote ? 1 : 0)
                      .bind(4, remote ? 1 : 0);
        if (learner)
            s.bind_blob(5, learner->raw());
        else
            s.bind_null(5);
        s.bind_blob(6, body);
        return s.run();
    }

    // Merges every change of a transaction (already validated) and logs it.
    Status merge_txn(const Transaction& txn, bool remote, std::size_t* conflicts_opened) {
        std::optional<Uuid> learner;
        bool single_learner = true;
        Status failure;
        Uuid row;
        MergeContext ctx;
        ctx.is_conflict = [&](const std::string& field, const Stamp& loser) {
            auto& q = st.is_conflict.reset()
                          .bind_blob(1, row.raw())
                          .bind_text(2, field)
                          .bind(3, static_cast<std::int64_t>(loser.hlc))
                          .bind_blob(4, loser.node.raw());
            auto r = q.step();
            st.is_conflict.reset();
            if (!r.ok()) failure = r.status();
            return r.ok() && *r;
        };
        ctx.received = [&](const Stamp& s) {
            auto r = txn_exists(s);
            if (!r.ok()) failure = r.status();
            return r.ok() && *r;
        };
        for (const Change& ch : txn.changes) {
            auto loaded = load(ch.row);
            if (!loaded.ok()) return loaded.status();
            Cached& c = **loaded;
            if (!c.exists && c.collection.empty()) c.collection = ch.collection;
            if (c.collection != ch.collection)
                return Status::internal("row collection mismatch after validation");
            row = ch.row;
            MergeEffects fx;
            merge_write(c.state, ch.field, ch.value, txn.stamp, ch.prev, ch.resolves, ctx, fx);
            MS_RETURN_IF_ERROR(failure);
            if (fx.state_changed) {
                c.dirty = true;
                c.exists = true;
            }
            for (const auto& [field, loser] : fx.closed) {
                MS_RETURN_IF_ERROR(st.del_conflict.reset()
                                       .bind_blob(1, row.raw())
                                       .bind_text(2, field)
                                       .bind(3, static_cast<std::int64_t>(loser.hlc))
                                       .bind_blob(4, loser.node.raw())
                                       .run());
            }
            for (const auto& o : fx.opened) {
                std::string body =
                    crypto::seal(data_key, ad_conflict(c.collection, row, o.field, o.loser),
                                 encode_value(o.loser_value));
                MS_RETURN_IF_ERROR(st.put_conflict.reset()
                                       .bind_blob(1, row.raw())
                                       .bind_text(2, o.field)
                                       .bind(3, static_cast<std::int64_t>(o.loser.hlc))
                                       .bind_blob(4, o.loser.node.raw())
                                       .bind_text(5, c.collection)
                                       .bind_blob(6, body)
                                       .run());
                if (conflicts_opened) ++*conflicts_opened;
            }
            const bool new_row =
                events.empty() || events.back().row != row || events.back().stamp != txn.stamp;
            if (new_row) events.push_back({c.collection, row, txn.stamp, remote, false});
        }
        // The learner(s) the transaction concerns, from the rows' merged state.
        for (auto it = events.rbegin(); it != events.rend() && it->stamp == txn.stamp; ++it) {
            const Cached& c = cache.at(it->row);
            auto l = learner_of(schema->collection(c.collection), c.collection, it->row, c.state);
            if (!l || (learner && *learner != *l)) single_learner = false;
            if (l && !learner) learner = l;
        }
        return log_txn(txn, remote, single_learner ? learner : std::nullopt);
    }

    // The body of restamp_refused(), inside its write transaction (see replica.h).
    Status restamp(std::span<const Stamp> refused, std::optional<std::int64_t> server_time_ms,
                   const RestampSyncValues& also_store, RestampReport& report) {
        struct Entry {
            std::int64_t seq;
            Stamp stamp;
            bool own_pending;  // a local transaction not acknowledged
            bool own_left;     // a stamp of this node that left the device
        };
        std::vector<Entry> log;
        {
            auto sel = db.prepare("SELECT seq, hlc, node, origin, acked FROM changes ORDER BY seq");
            if (!sel.ok()) return sel.status();
            for (;;) {
                auto r = sel->step();
                if (!r.ok()) return r.status();
                if (!*r) break;
                Entry e{sel->int64(0), stamp_from(sel->int64(1), sel->blob(2)), false, false};
                const bool own = e.stamp.node == node;
                e.own_pending = own && sel->int64(3) == 0 && sel->int64(4) == 0;
                e.own_left = own && !e.own_pending;
                log.push_back(e);
            }
        }
        std::set<Stamp> pending;
        for (const Entry& e : log)
            if (e.own_pending) pending.insert(e.stamp);
        std::optional<Stamp> first;
        std::set<Stamp> refused_set;
        for (const Stamp& s : refused) {
            if (!pending.count(s)) continue;  // acknowledged, purged or not ours: nothing to do
            refused_set.insert(s);
            if (!first || s < *first) first = s;
        }

        if (first) {
            // A floor further ahead of the refusing server than it accepts can hold no stamp
            // that left the device (the server refused all such) or came from an honest peer;
            // only a refused one, which an older version folded in when it purged a learner.
            auto floor = hlc_floor();
            if (!floor.ok()) return floor.status();
            std::uint64_t own_left = *floor;
            if (server_time_ms) {
                const std::int64_t limit_ms = *server_time_ms + kMaxClockSkewMs;
                const std::uint64_t limit =
                    limit_ms <= 0
                        ? 0
                        : (static_cast<std::uint64_t>(limit_ms) << Stamp::kCounterBits) | 0xFFFF;
                if (*floor > limit) {
                    MS_RETURN_IF_ERROR(put_meta("hlc_floor", std::to_string(limit)));
                    own_left = limit;
                }
            }
            for (const Entry& e : log)
                if (e.own_left) own_left = std::max(own_left, e.stamp.hlc);
            auto marks = time_marks();
            if (!marks.ok()) return marks.status();
            // A reading applies to the entries logged after it: those with a greater position
            // (a position can be reused after a purge, which only ever weakens the bound).
            std::sort(marks->begin(), marks->end());

            std::map<Stamp, Stamp> renamed;
            auto remap = [&](Stamp& s) {
                auto it = renamed.find(s);
                if (it == renamed.end()) return false;
                s = it->second;
                return true;
            };
            auto get = db.prepare("SELECT body FROM changes WHERE seq=?1");
            auto put = db.prepare("UPDATE changes SET hlc=?1, body=?2 WHERE seq=?3");
            if (!get.ok()) return get.status();
            if (!put.ok()) return put.status();
            std::set<Uuid> rows;
            std::uint64_t seen = 0;      // greatest stamp logged so far outside the re-dated set
            std::uint64_t previous = 0;  // the re-dated set's last new stamp
            std::size_t next_mark = 0;
            std::int64_t trusted_ms = 0;  // greatest trusted reading noted before this entry
            for (const Entry& e : log) {
                while (next_mark < marks->size() && (*marks)[next_mark].first < e.seq)
                    trusted_ms = std::max(trusted_ms, (*marks)[next_mark++].second);
                const bool redate = e.own_pending && !(e.stamp < *first);
                if (!redate) {
                    seen = std::max(seen, e.stamp.hlc);
                    continue;
                }
                auto& g = get->reset().bind(1, e.seq);
                auto r = g.step();
                if (!r.ok()) return r.status();
                if (!*r) return Status::internal("a change log entry vanished while re-dating");
                auto plain = crypto::open(data_key, ad_txn(e.stamp), g.blob(0));
                if (!plain.ok())
                    return Status::corrupt("change log entry " + e.stamp.to_string() + ": " +
                                           plain.status().message());
                auto txn = decode_stored_transaction(*plain);
                if (!txn.ok()) return txn.status();
                get->reset();
                bool refs_changed = false;
                // The next value above x; at the very top there is none, and the entry keeps
                // its stamp (a released quarantined stamp may be anything).
                const auto above = [](std::uint64_t x) { return x == UINT64_MAX ? x : x + 1; };
                std::uint64_t lowest = above(std::max({seen, own_left, previous}));
                if (trusted_ms > 0)
                    lowest = std::max(lowest, static_cast<std::uint64_t>(trusted_ms)
                                                  << Stamp::kCounterBits);
                for (Change& ch : txn->changes) {
                    refs_changed |= remap(ch.prev);
                    lowest = std::max(lowest, above(ch.prev.hlc));
                    for (Stamp& x : ch.resolves) {
                        refs_changed |= remap(x);
                        lowest = std::max(lowest, above(x.hlc));
                    }
                }
                // Stamps are unique per node: step over one held by an entry kept as it was.
                for (;;) {
                    if (lowest >= e.stamp.hlc) break;
                    auto taken = txn_exists({lowest, node});
                    if (!taken.ok()) return taken.status();
                    if (!*taken) break;
                    ++lowest;
                }
                const Stamp now{std::min(lowest, e.stamp.hlc), node};
                previous = now.hlc;
                if (now != e.stamp) {
                    renamed.emplace(e.stamp, now);
                    report.moved.emplace_back(e.stamp, now);
                } else if (refused_set.count(e.stamp)) {
                    report.kept.push_back(e.stamp);
                }
                if (now == e.stamp && !refs_changed) continue;
                txn->stamp = now;
                for (const Change& ch : txn->changes)
                    rows.insert(ch.row);
                std::string body = crypto::seal(data_key, ad_txn(now), encode_transaction(*txn));
                MS_RETURN_IF_ERROR(put->reset()
                                       .bind(1, static_cast<std::int64_t>(now.hlc))
                                       .bind_blob(2, body)
                                       .bind(3, e.seq)
                                       .run());
            }
            if (!rows.empty()) {
                MS_RETURN_IF_ERROR(rebuild_rows(rows));
                report.rows = rows.size();
            }
            auto last = clock_start();
            if (!last.ok()) return last.status();
            hlc = std::make_unique<Hlc>(node, clock, *last);
        }
        if (also_store) {
            auto put = db.prepare("INSERT OR REPLACE INTO sync_state(key, value) VALUES(?1, ?2)");
            if (!put.ok()) return put.status();
            for (const auto& [key, value] : also_store(report)) {
                if (key.empty()) return Status::invalid_argument("sync value key is empty");
                MS_RETURN_IF_ERROR(put->reset().bind_text(1, key).bind_blob(2, value).run());
            }
        }
        return {};
    }

    // Structural and schema checks of a remote transaction (protocol section 6); nothing is
    // read or written.
    Status validate_remote(const Transaction& txn) { return wire::check_transaction(*schema, txn); }

    // A remote transaction's rows must not already belong to another collection.
    Status check_collections(const Transaction& txn) {
        for (const Change& ch : txn.changes) {
            auto loaded = load(ch.row);
            if (!loaded.ok()) return loaded.status();
            const Cached& c = **loaded;
            if (c.exists && c.collection != ch.collection)
                return Status::invalid_argument("row " + ch.row.to_string() + " is a " +
                                                c.collection + " record, not " + ch.collection);
        }
        return {};
    }

    // --- write transactions -------------------------------------------------------------------
    template <typename F>
    Status in_write_txn(F&& body) {
        MS_RETURN_IF_ERROR(db.exec("BEGIN IMMEDIATE"));
        cache.clear();
        events.clear();
        Status s = body();
        if (s.ok()) s = flush_rows();
        if (s.ok()) s = db.exec("COMMIT");
        if (!s.ok()) {
            (void)db.exec("ROLLBACK");
            cache.clear();
            events.clear();
        }
        return s;
    }

    void notify(std::vector<ChangeEvent> evs) {
        if (evs.empty()) return;
        std::vector<std::shared_ptr<Observer>> list;
        {
            std::lock_guard g(obs_mu);
            for (auto& [id, o] : observers)
                list.push_back(o);
        }
        for (auto& o : list) {
            try {
                (*o)(evs);
            } catch (...) {
                // An observer's exception must not undo a committed write or escape the engine.
            }
        }
    }
};

}  // namespace mentorsync
