// SqliteStore: the embedded ServerStore, one SQLite file `server.db` (WAL, synchronous=NORMAL,
// with the log synced by the store itself before a write is acknowledged: see "Group commit").
//
// Tables (ids are 16-byte blobs; seq is the global arrival order of transactions):
//   meta(key, value)                       format version, server node, key check
//   municipalities(id, name, created_ms)
//   institutions(id, municipality, kind, name, created_ms)
//   users(id, role, institution, name_sealed, created_ms)
//   devices(id, user_id, node UNIQUE, public_key, label_sealed, revoked, enrolled_ms,
//           last_seen_ms, report_pending, report_quarantined, report_rejected, report_ms,
//           rejected_total)    report_* NULL until the device first reports (format 3)
//   enrollment_codes(hash, user_id, issued_ms, expires_ms, used_ms)
//   nonces(device, nonce, seen_ms)         pruned after 10 minutes
//   batches(device, batch, body_hash, response, received_ms)
//   txns(seq, hlc, node, device, received_ms, learner, body_sealed)   UNIQUE(hlc, node);
//        learner is NULL when a transaction concerns several learners (see txn_learners)
//   txn_learners(learner, seq)             every learner of every transaction
//   rows(id, collection, learner, first_seq, stamps)   indexed by learner; stamps holds each
//        field's winning stamp (no values), layout at encode_stamps()
//   assignments(row, learner, mentor, centre, status, deleted)
//   access(kind, subject, learner, from_seq, to_seq)   to_seq NULL while open
//
// Sealed values and their associated data (so a blob cannot be moved to another row):
//   txns.body         "ms-txn" || seq (8, big-endian) || hlc (8, big-endian) || node (16)
//   users.name        "ms-user-name" || user id
//   devices.label     "ms-device-label" || device id
//   meta key_check    "ms-key-check"
#include <sys/stat.h>

#include <algorithm>
#include <filesystem>
#include <mutex>
#include <optional>

#include "common/encoding.h"
#include "common/sqlite.h"
#include "core/checkpointer.h"
#include "core/store.h"

namespace mentorsync::server {

std::string_view institution_kind_name(InstitutionKind kind) noexcept {
    return kind == InstitutionKind::school ? "school" : "youth_centre";
}

std::optional<InstitutionKind> parse_institution_kind(std::string_view text) noexcept {
    if (text == "school") return InstitutionKind::school;
    if (text == "youth_centre") return InstitutionKind::youth_centre;
    return std::nullopt;
}

namespace {

namespace fs = std::filesystem;
using common::sql::Db;
using common::sql::Stmt;

// 2: field stamps moved from a field_stamps table (one row per field) into rows.stamps.
// 3: devices gained the device report and rejected_total columns (kFormat3Sql upgrades a
//    format 2 file in place on open).
constexpr std::int64_t kFormatVersion = 3;

const char* kSchemaSql = R"sql(
CREATE TABLE meta(key TEXT PRIMARY KEY, value BLOB NOT NULL);
CREATE TABLE municipalities(id BLOB PRIMARY KEY, name TEXT NOT NULL UNIQUE,
  created_ms INTEGER NOT NULL);
CREATE TABLE institutions(id BLOB PRIMARY KEY, municipality BLOB NOT NULL
  REFERENCES municipalities(id), kind TEXT NOT NULL, name TEXT NOT NULL,
  created_ms INTEGER NOT NULL);
CREATE TABLE users(id BLOB PRIMARY KEY, role TEXT NOT NULL,
  institution BLOB REFERENCES institutions(id), name_sealed BLOB NOT NULL,
  created_ms INTEGER NOT NULL);
CREATE TABLE devices(id BLOB PRIMARY KEY, user_id BLOB NOT NULL REFERENCES users(id),
  node BLOB NOT NULL UNIQUE, public_key BLOB NOT NULL, label_sealed BLOB NOT NULL,
  revoked INTEGER NOT NULL DEFAULT 0, enrolled_ms INTEGER NOT NULL, last_seen_ms INTEGER,
  report_pending INTEGER, report_quarantined INTEGER, report_rejected INTEGER, report_ms INTEGER,
  rejected_total INTEGER NOT NULL DEFAULT 0);
CREATE TABLE enrollment_codes(hash BLOB PRIMARY KEY, user_id BLOB NOT NULL REFERENCES users(id),
  issued_ms INTEGER NOT NULL, expires_ms INTEGER NOT NULL, used_ms INTEGER);
CREATE TABLE nonces(device BLOB NOT NULL, nonce BLOB NOT NULL, seen_ms INTEGER NOT NULL,
  PRIMARY KEY(device, nonce)) WITHOUT ROWID;
CREATE INDEX nonces_by_time ON nonces(seen_ms);
CREATE TABLE batches(device BLOB NOT NULL, batch BLOB NOT NULL, body_hash BLOB NOT NULL,
  response BLOB NOT NULL, received_ms INTEGER NOT NULL, PRIMARY KEY(device, batch)) WITHOUT ROWID;
CREATE TABLE txns(seq INTEGER PRIMARY KEY, hlc INTEGER NOT NULL, node BLOB NOT NULL,
  device BLOB, received_ms INTEGER NOT NULL, learner BLOB, body BLOB NOT NULL,
  UNIQUE(hlc, node));
CREATE TABLE txn_learners(learner BLOB NOT NULL, seq INTEGER NOT NULL,
  PRIMARY KEY(learner, seq)) WITHOUT ROWID;
CREATE INDEX txn_learners_by_seq ON txn_learners(seq);
CREATE TABLE rows(id BLOB PRIMARY KEY, collection TEXT NOT NULL, learner BLOB NOT NULL,
  first_seq INTEGER NOT NULL, stamps BLOB NOT NULL) WITHOUT ROWID;
CREATE TABLE assignments(row BLOB PRIMARY KEY, learner BLOB NOT NULL, mentor BLOB NOT NULL,
  centre BLOB NOT NULL, status TEXT NOT NULL, deleted INTEGER NOT NULL) WITHOUT ROWID;
CREATE INDEX assignments_by_learner ON assignments(learner);
CREATE TABLE access(kind INTEGER NOT NULL, subject BLOB NOT NULL, learner BLOB NOT NULL,
  from_seq INTEGER NOT NULL, to_seq INTEGER,
  PRIMARY KEY(kind, subject, learner, from_seq)) WITHOUT ROWID;
CREATE INDEX access_by_learner ON access(learner, to_seq);
)sql";

// Format 2 to 3: the columns format 3 added to devices, with the values a device that has not
// reported yet has (NULL report, nothing rejected: format 2 did not count rejections).
const char* kFormat3Sql = R"sql(
ALTER TABLE devices ADD COLUMN report_pending INTEGER;
ALTER TABLE devices ADD COLUMN report_quarantined INTEGER;
ALTER TABLE devices ADD COLUMN report_rejected INTEGER;
ALTER TABLE devices ADD COLUMN report_ms INTEGER;
ALTER TABLE devices ADD COLUMN rejected_total INTEGER NOT NULL DEFAULT 0;
UPDATE meta SET value='3' WHERE key='format';
)sql";

// Indexes that do not change the format (IF NOT EXISTS: also run on every open).
//   rows_by_learner: the admin views list a learner's records (ServerStore::rows_of).
const char* kIndexesSql = R"sql(
CREATE INDEX IF NOT EXISTS rows_by_learner ON rows(learner, collection);
)sql";

std::string txn_ad(std::int64_t seq, const Stamp& stamp) {
    std::string ad = "ms-txn";
    common::append_be64(ad, static_cast<std::uint64_t>(seq));
    common::append_be64(ad, stamp.hlc);
    ad.append(stamp.node.raw());
    return ad;
}
std::string user_ad(const Uuid& id) {
    return "ms-user-name" + std::string(id.raw());
}
std::string label_ad(const Uuid& id) {
    return "ms-device-label" + std::string(id.raw());
}
constexpr std::string_view kKeyCheckAd = "ms-key-check";
constexpr std::string_view kKeyCheckText = "MentorSync server key check v1";

// rows.stamps: the distinct stamps, then the fields in name order, each naming its stamp by
// index (a row's fields mostly share the stamp of the transaction that created the row):
//   varint n; n x (hlc: 8 bytes big-endian, node: 16 bytes);
//   varint m; m x (varint name length, name bytes, varint stamp index)
void put_varint(std::string& out, std::uint64_t v) {
    while (v >= 0x80) {
        out.push_back(static_cast<char>((v & 0x7F) | 0x80));
        v >>= 7;
    }
    out.push_back(static_cast<char>(v));
}
bool get_varint(std::string_view& in, std::uint64_t& v) {
    v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
        if (in.empty()) return false;
        const auto b = static_cast<unsigned char>(in.front());
        in.remove_prefix(1);
        v |= static_cast<std::uint64_t>(b & 0x7F) << shift;
        if ((b & 0x80) == 0) return true;
    }
    return false;
}

std::string encode_stamps(const FieldStamps& stamps) {
    std::vector<Stamp> distinct;
    std::string fields;
    for (const auto& [name, stamp] : stamps) {
        auto it = std::find(distinct.begin(), distinct.end(), stamp);
        if (it == distinct.end()) it = distinct.insert(distinct.end(), stamp);
        put_varint(fields, name.size());
        fields += name;
        put_varint(fields, static_cast<std::uint64_t>(it - distinct.begin()));
    }
    std::string out;
    put_varint(out, distinct.size());
    for (const Stamp& s : distinct) {
        common::append_be64(out, s.hlc);
        out.append(s.node.raw());
    }
    put_varint(out, stamps.size());
    return out + fields;
}

std::optional<FieldStamps> decode_stamps(std::string_view in) {
    std::uint64_t n = 0;
    if (!get_varint(in, n) || n > in.size() / 24) return std::nullopt;
    std::vector<Stamp> distinct(n);
    for (Stamp& s : distinct) {
        s.hlc = *common::read_be64(in);  // n <= size / 24: each stamp has its 24 bytes
        auto node = Uuid::from_bytes(in.substr(8, 16));
        if (!node) return std::nullopt;
        s.node = *node;
        in.remove_prefix(24);
    }
    std::uint64_t m = 0;
    if (!get_varint(in, m)) return std::nullopt;
    FieldStamps out;
    for (std::uint64_t i = 0; i < m; ++i) {
        std::uint64_t len = 0, index = 0;
        if (!get_varint(in, len) || len > in.size()) return std::nullopt;
        std::string name(in.substr(0, len));
        in.remove_prefix(len);
        if (!get_varint(in, index) || index >= distinct.size()) return std::nullopt;
        out.emplace(std::move(name), distinct[index]);
    }
    if (!in.empty()) return std::nullopt;
    return out;
}

Uuid uuid_of(std::string_view raw) {
    return Uuid::from_bytes(raw).value_or(Uuid{});
}

class SqliteStore final : public ServerStore {
  public:
    SqliteStore(std::unique_ptr<ServerKey> key, std::shared_ptr<const WallClock> clock, LogSink log)
        : key_(std::move(key)), clock_(std::move(clock)), log_(std::move(log)) {}

    Status open(const std::string& path, bool fresh) {
        // The admin command line may write while the server runs: wait for its lock.
        MS_RETURN_IF_ERROR(db_.open(
            path, {.create = true, .busy_timeout_ms = 10'000, .label = common::sql::kServerDb}));
        // WAL: readers never block the writer. NORMAL, for good: a commit appends to the log
        // without syncing it, and the store syncs the log itself (sync_log) before any write
        // is acknowledged, so an accepted push still survives power loss (protocol §7).
        MS_RETURN_IF_ERROR(db_.exec("PRAGMA journal_mode=WAL"));
        MS_RETURN_IF_ERROR(db_.exec("PRAGMA synchronous=NORMAL"));
        MS_RETURN_IF_ERROR(db_.exec("PRAGMA foreign_keys=ON"));
        MS_RETURN_IF_ERROR(db_.exec("PRAGMA secure_delete=ON"));
        MS_RETURN_IF_ERROR(db_.exec("PRAGMA temp_store=MEMORY"));
        // A page cache large enough for the indexes a push touches (SQLite's default is 2 MiB;
        // this is a ceiling, filled only as pages are read). No automatic checkpoints: they
        // would run inside a commit, under mu_; a WalCheckpointer does them from its own
        // thread (started below, once the file exists).
        MS_RETURN_IF_ERROR(db_.exec("PRAGMA cache_size=-65536"));
        MS_RETURN_IF_ERROR(db_.exec("PRAGMA wal_autocheckpoint=0"));
        MS_RETURN_IF_ERROR(open_tables(fresh));
        // One sync of the log now, whatever the counters say, while no other thread can use
        // the store: SQLite's first sync of a log file also syncs its directory and clears a
        // flag in the file object (see "Group commit"); after this, syncs only read it.
        {
            auto log = db_.wal_file();
            if (!log.ok()) return log.status();
            MS_RETURN_IF_ERROR(common::sql::sync_file(*log));
        }
        auto cp = WalCheckpointer::start({.path = path, .name = "server.db", .log = log_});
        if (!cp.ok()) return cp.status();
        checkpointer_ = std::move(cp).value();
        return {};
    }

    Status open_tables(bool fresh) {
        if (fresh) {
            return transact([&]() -> Status {
                MS_RETURN_IF_ERROR(db_.exec(kSchemaSql));
                MS_RETURN_IF_ERROR(db_.exec(kIndexesSql));
                node_ = Uuid::random();
                MS_RETURN_IF_ERROR(put_meta("format", std::to_string(kFormatVersion)));
                MS_RETURN_IF_ERROR(put_meta("server_node", std::string(node_.raw())));
                return put_meta("key_check", key_->seal(kKeyCheckAd, kKeyCheckText));
            });
        }
        auto format = get_meta("format");
        if (!format.ok()) return format.status();
        if (!*format) return Status::corrupt("server.db has no format version");
        if (**format == "2") {
            // Additive upgrade in one transaction: a crash leaves format 2 or format 3 whole.
            MS_RETURN_IF_ERROR(transact([&]() -> Status { return db_.exec(kFormat3Sql); }));
            format = get_meta("format");
            if (!format.ok()) return format.status();
        }
        if (**format != std::to_string(kFormatVersion))
            return Status::unsupported("server.db has format " + **format + ", this build reads " +
                                       std::to_string(kFormatVersion));
        auto check = get_meta("key_check");
        if (!check.ok()) return check.status();
        if (!*check || !key_->open(kKeyCheckAd, **check).ok())
            return Status::wrong_key("server.key does not belong to this server.db");
        auto node = get_meta("server_node");
        if (!node.ok()) return node.status();
        if (!*node || !Uuid::from_bytes(**node)) return Status::corrupt("server.db has no node");
        node_ = *Uuid::from_bytes(**node);
        // Indexes added after format 1 was first written: created on the first open by a
        // build that uses them. Additive, so older builds still read the file.
        return db_.exec(kIndexesSql);
    }

    // Group commit. The connection runs at synchronous=NORMAL, so a commit writes its frames
    // to the log without syncing it. transact() commits and then syncs the log (sync_log), so
    // it is as durable as a FULL commit when it returns; transact_unsynced() leaves the sync to
    // the caller, which calls sync_log() before it answers, and concurrent callers share one
    // sync: sync_log() takes the log's file handle under mu_ (SQLITE_FCNTL_JOURNAL_POINTER)
    // and calls its xSync outside mu_, so other requests commit meanwhile.
    //
    // Why calling xSync outside mu_ is safe, although the connection is NOMUTEX and SQLite may
    // sync the same file object under mu_ at the same moment (checked against SQLite's
    // os_unix.c unixSync and wal.c walFrames; re-check when the SQLite version changes):
    //   - At synchronous=NORMAL, SQLite's only sync of this connection's log is the log header
    //     sync in walFrames, when a commit starts the log again after a RESTART checkpoint
    //     (`if( pWal->syncHeader ) sqlite3OsSync(...)`); commits do not sync
    //     (WAL_SYNC_FLAGS is 0 at NORMAL). Autocheckpoints are off; the checkpointer and the
    //     admin process use connections, and file objects, of their own.
    //   - unixSync calls fdatasync on the descriptor (concurrent fsyncs of one descriptor are
    //     safe) and otherwise only reads the file object, except: it clears UNIXFILE_DIRSYNC
    //     in ctrlFlags after its first call (that first call happens in open(), before any
    //     concurrency), and it stores errno in lastErrno when the sync fails (sync_log then
    //     fails too; the value is only used for SQLite's own error text).
    //   - sync_mu_ serialises the store's own out-of-lock syncs; the log stays open at the
    //     same address until the connection closes (after every caller is gone).
    // An fsync covers every write completed before it starts: `target` is read under mu_, so
    // every commit it counts has finished writing its frames.
    Status transact(const std::function<Status()>& body) override {
        bool wrote = false;
        {
            std::lock_guard lock(mu_);
            if (depth_ > 0) {  // joins the outer transaction
                ++depth_;
                Status s = body();
                --depth_;
                return s;
            }
            const std::int64_t before = db_.total_changes();
            MS_RETURN_IF_ERROR(commit(body));
            wrote = db_.total_changes() != before;
            if (wrote) ++unsynced_commits_;
        }
        // Outside mu_: sync_log takes sync_mu_, then mu_. A transaction that wrote nothing (a
        // read, such as a pull's) has nothing to sync.
        return wrote ? sync_log() : Status{};
    }

    Status transact_unsynced(const std::function<Status()>& body, bool acknowledged) override {
        std::lock_guard lock(mu_);
        if (depth_ > 0) return transact(body);
        MS_RETURN_IF_ERROR(commit(body));
        if (acknowledged) ++unsynced_commits_;
        return {};
    }

    Status sync_log() override {
        std::uint64_t target = 0;
        {
            std::lock_guard lock(mu_);
            target = unsynced_commits_;
        }
        // One thread syncs at a time; those that waited find their commits covered.
        std::lock_guard sync_lock(sync_mu_);
        if (synced_commits_ >= target) return {};
        sqlite3_file* log = nullptr;
        {
            std::lock_guard lock(mu_);
            target = unsynced_commits_;  // everything committed so far goes in this sync
            auto f = db_.wal_file();
            if (!f.ok()) return f.status();
            log = *f;
        }
        MS_RETURN_IF_ERROR(common::sql::sync_file(log));
        synced_commits_ = target;
        return {};
    }

    const Uuid& server_node() const override { return node_; }
    const ServerKey& key() const override { return *key_; }

    // --- organisation ---------------------------------------------------------------------
    Status add_municipality(const Municipality& m) override {
        return write(
            "INSERT INTO municipalities(id,name,created_ms) VALUES(?1,?2,?3)",
            [&](Stmt& s) { s.bind_blob(1, m.id.raw()).bind_text(2, m.name).bind(3, now()); });
    }
    Result<std::optional<Municipality>> find_municipality(const Uuid& id) override {
        auto all = municipalities("WHERE id=?1", id);
        if (!all.ok()) return all.status();
        if (all->empty()) return std::optional<Municipality>();
        return std::optional<Municipality>(all->front());
    }
    Result<std::vector<Municipality>> list_municipalities() override {
        return municipalities("ORDER BY name", std::nullopt);
    }

    Status add_institution(const Institution& i) override {
        return write(
            "INSERT INTO institutions(id,municipality,kind,name,created_ms) "
            "VALUES(?1,?2,?3,?4,?5)",
            [&](Stmt& s) {
                s.bind_blob(1, i.id.raw())
                    .bind_blob(2, i.municipality.raw())
                    .bind_text(3, institution_kind_name(i.kind))
                    .bind_text(4, i.name)
                    .bind(5, now());
            });
    }
    Result<std::optional<Institution>> find_institution(const Uuid& id) override {
        auto all = institutions("WHERE id=?1", id);
        if (!all.ok()) return all.status();
        if (all->empty()) return std::optional<Institution>();
        return std::optional<Institution>(all->front());
    }
    Result<std::vector<Institution>> list_institutions() override {
        return institutions("ORDER BY name", std::nullopt);
    }

    Status add_user(const User& u) override {
        return write(
            "INSERT INTO users(id,role,institution,name_sealed,created_ms) VALUES(?1,?2,?3,?4,?5)",
            [&](Stmt& s) {
                s.bind_blob(1, u.id.raw()).bind_text(2, role_name(u.role));
                if (u.institution)
                    s.bind_blob(3, u.institution->raw());
                else
                    s.bind_null(3);
                s.bind_blob(4, key_->seal(user_ad(u.id), u.display_name)).bind(5, now());
            });
    }
    Result<std::optional<User>> find_user(const Uuid& id) override {
        auto all = users("WHERE id=?1", id);
        if (!all.ok()) return all.status();
        if (all->empty()) return std::optional<User>();
        return std::optional<User>(all->front());
    }
    Result<std::vector<User>> list_users() override { return users("ORDER BY created_ms", {}); }

    // --- enrollment and devices -----------------------------------------------------------
    Status add_enrollment_code(const EnrollmentCode& c) override {
        return write(
            "INSERT INTO enrollment_codes(hash,user_id,issued_ms,expires_ms) VALUES(?1,?2,?3,?4)",
            [&](Stmt& s) {
                s.bind_blob(1, c.hash)
                    .bind_blob(2, c.user.raw())
                    .bind(3, c.issued_ms)
                    .bind(4, c.expires_ms);
            });
    }
    Result<std::optional<EnrollmentCode>> find_enrollment_code(const std::string& hash) override {
        std::lock_guard lock(mu_);
        auto st = db_.prepare(
            "SELECT user_id,issued_ms,expires_ms,used_ms FROM enrollment_codes WHERE hash=?1");
        if (!st.ok()) return st.status();
        st->bind_blob(1, hash);
        auto row = st->step();
        if (!row.ok()) return row.status();
        if (!*row) return std::optional<EnrollmentCode>();
        EnrollmentCode c;
        c.hash = hash;
        c.user = uuid_of(st->blob(0));
        c.issued_ms = st->int64(1);
        c.expires_ms = st->int64(2);
        if (!st->is_null(3)) c.used_ms = st->int64(3);
        return std::optional<EnrollmentCode>(c);
    }
    Status mark_enrollment_code_used(const std::string& hash, std::int64_t now_ms) override {
        return write("UPDATE enrollment_codes SET used_ms=?2 WHERE hash=?1",
                     [&](Stmt& s) { s.bind_blob(1, hash).bind(2, now_ms); });
    }

    Status add_device(const Device& d) override {
        std::string pk(reinterpret_cast<const char*>(d.public_key.data()), d.public_key.size());
        return write(
            "INSERT INTO devices(id,user_id,node,public_key,label_sealed,revoked,enrolled_ms) "
            "VALUES(?1,?2,?3,?4,?5,?6,?7)",
            [&](Stmt& s) {
                s.bind_blob(1, d.id.raw())
                    .bind_blob(2, d.user.raw())
                    .bind_blob(3, d.node.raw())
                    .bind_blob(4, pk)
                    .bind_blob(5, key_->seal(label_ad(d.id), d.label))
                    .bind(6, d.revoked ? 1 : 0)
                    .bind(7, d.enrolled_ms);
            });
    }
    Result<std::optional<Device>> find_device(const Uuid& id) override {
        auto all = devices("WHERE id=?1", id);
        if (!all.ok()) return all.status();
        if (all->empty()) return std::optional<Device>();
        return std::optional<Device>(all->front());
    }
    Result<std::optional<Device>> find_device_by_node(const Uuid& node) override {
        auto all = devices("WHERE node=?1", node);
        if (!all.ok()) return all.status();
        if (all->empty()) return std::optional<Device>();
        return std::optional<Device>(all->front());
    }
    Result<std::vector<Device>> list_devices() override {
        return devices("ORDER BY enrolled_ms", std::nullopt);
    }
    Status revoke_device(const Uuid& id) override {
        return transact([&]() -> Status {
            MS_RETURN_IF_ERROR(write("UPDATE devices SET revoked=1 WHERE id=?1",
                                     [&](Stmt& s) { s.bind_blob(1, id.raw()); }));
            if (db_.changes() == 0) return Status::not_found("no device " + id.to_string());
            return {};
        });
    }
    Status touch_device(const Uuid& id, std::int64_t now_ms) override {
        return write(
            "UPDATE devices SET last_seen_ms=?2 WHERE id=?1 AND "
            "(last_seen_ms IS NULL OR last_seen_ms<?2)",
            [&](Stmt& s) { s.bind_blob(1, id.raw()).bind(2, now_ms); });
    }

    Status set_device_report(const Uuid& id, const DeviceReportRow& r) override {
        return write(
            "UPDATE devices SET report_pending=?2,report_quarantined=?3,report_rejected=?4,"
            "report_ms=?5 WHERE id=?1 AND (report_ms IS NULL OR report_ms<=?5)",
            [&](Stmt& s) {
                s.bind_blob(1, id.raw())
                    .bind(2, r.pending)
                    .bind(3, r.quarantined)
                    .bind(4, r.rejected)
                    .bind(5, r.reported_ms);
            });
    }
    Status add_device_rejections(const Uuid& id, std::int64_t count) override {
        return write("UPDATE devices SET rejected_total=rejected_total+?2 WHERE id=?1",
                     [&](Stmt& s) { s.bind_blob(1, id.raw()).bind(2, count); });
    }

    Result<bool> use_nonce(const Uuid& device, const std::string& nonce, std::int64_t now_ms,
                           std::int64_t since_ms) override {
        bool fresh = false;
        Status s = transact([&]() -> Status {
            MS_RETURN_IF_ERROR(write("DELETE FROM nonces WHERE seen_ms<?1",
                                     [&](Stmt& st) { st.bind(1, since_ms); }));
            MS_RETURN_IF_ERROR(
                write("INSERT OR IGNORE INTO nonces(device,nonce,seen_ms) "
                      "VALUES(?1,?2,?3)",
                      [&](Stmt& st) {
                          st.bind_blob(1, device.raw()).bind_blob(2, nonce).bind(3, now_ms);
                      }));
            fresh = db_.changes() == 1;
            return {};
        });
        if (!s.ok()) return s;
        return fresh;
    }

    Result<std::optional<StoredBatch>> find_batch(const Uuid& device, const Uuid& batch) override {
        std::lock_guard lock(mu_);
        auto st =
            db_.prepare("SELECT body_hash,response FROM batches WHERE device=?1 AND batch=?2");
        if (!st.ok()) return st.status();
        st->bind_blob(1, device.raw()).bind_blob(2, batch.raw());
        auto row = st->step();
        if (!row.ok()) return row.status();
        if (!*row) return std::optional<StoredBatch>();
        return std::optional<StoredBatch>(
            StoredBatch{std::string(st->blob(0)), std::string(st->blob(1))});
    }
    Status add_batch(const Uuid& device, const Uuid& batch, const StoredBatch& b,
                     std::int64_t now_ms) override {
        return write(
            "INSERT INTO batches(device,batch,body_hash,response,received_ms) "
            "VALUES(?1,?2,?3,?4,?5)",
            [&](Stmt& s) {
                s.bind_blob(1, device.raw())
                    .bind_blob(2, batch.raw())
                    .bind_blob(3, b.body_hash)
                    .bind_blob(4, b.response)
                    .bind(5, now_ms);
            });
    }

    // --- history --------------------------------------------------------------------------
    Result<bool> has_txn(const Stamp& stamp) override {
        std::lock_guard lock(mu_);
        auto st = db_.prepare("SELECT 1 FROM txns WHERE hlc=?1 AND node=?2");
        if (!st.ok()) return st.status();
        st->bind(1, static_cast<std::int64_t>(stamp.hlc)).bind_blob(2, stamp.node.raw());
        return st->step();
    }

    Result<std::int64_t> append_txn(const StoredTxn& t, std::string_view encoded) override {
        if (t.learners.empty()) return Status::internal("a transaction must concern a learner");
        std::int64_t seq = 0;
        Status s = transact([&]() -> Status {
            auto head = head_seq();
            if (!head.ok()) return head.status();
            seq = *head + 1;
            std::string own;
            if (encoded.empty()) encoded = own = encode_transaction(t.txn);
            std::string body = key_->seal(txn_ad(seq, t.txn.stamp), encoded);
            MS_RETURN_IF_ERROR(
                write("INSERT INTO txns(seq,hlc,node,device,received_ms,learner,body) "
                      "VALUES(?1,?2,?3,?4,?5,?6,?7)",
                      [&](Stmt& st) {
                          st.bind(1, seq)
                              .bind(2, static_cast<std::int64_t>(t.txn.stamp.hlc))
                              .bind_blob(3, t.txn.stamp.node.raw());
                          if (t.device)
                              st.bind_blob(4, t.device->raw());
                          else
                              st.bind_null(4);
                          st.bind(5, t.received_ms);
                          if (t.learners.size() == 1)
                              st.bind_blob(6, t.learners.front().raw());
                          else
                              st.bind_null(6);
                          st.bind_blob(7, body);
                      }));
            for (const Uuid& l : t.learners)
                MS_RETURN_IF_ERROR(
                    write("INSERT OR IGNORE INTO txn_learners(learner,seq) VALUES(?1,?2)",
                          [&](Stmt& st) { st.bind_blob(1, l.raw()).bind(2, seq); }));
            return {};
        });
        if (!s.ok()) return s;
        return seq;
    }

    Result<StoredTxn> load_txn(std::int64_t seq) override {
        std::lock_guard lock(mu_);
        auto meta = load_txn_meta(seq);
        if (!meta.ok()) return meta.status();
        auto st = db_.prepare("SELECT body FROM txns WHERE seq=?1");
        if (!st.ok()) return st.status();
        st->bind(1, seq);
        auto row = st->step();
        if (!row.ok()) return row.status();
        if (!*row) return Status::not_found("no transaction " + std::to_string(seq));
        auto plain = key_->open(txn_ad(seq, meta->txn.stamp), st->blob(0));
        if (!plain.ok()) return plain.status();
        auto txn = decode_transaction(*plain);
        if (!txn.ok())
            return Status::corrupt("stored transaction " + std::to_string(seq) +
                                   " does not decode");
        if (txn->stamp != meta->txn.stamp)
            return Status::corrupt("stored transaction " + std::to_string(seq) +
                                   " has another stamp");
        StoredTxn out = std::move(meta).value();
        out.txn = std::move(txn).value();
        return out;
    }

    Result<StoredTxn> load_txn_meta(std::int64_t seq) override {
        std::lock_guard lock(mu_);
        auto st = db_.prepare("SELECT hlc,node,device,received_ms FROM txns WHERE seq=?1");
        if (!st.ok()) return st.status();
        st->bind(1, seq);
        auto row = st->step();
        if (!row.ok()) return row.status();
        if (!*row) return Status::not_found("no transaction " + std::to_string(seq));
        StoredTxn t;
        t.seq = seq;
        t.txn.stamp.hlc = static_cast<std::uint64_t>(st->int64(0));
        t.txn.stamp.node = uuid_of(st->blob(1));
        if (!st->is_null(2)) t.device = uuid_of(st->blob(2));
        t.received_ms = st->int64(3);
        auto ls = db_.prepare("SELECT learner FROM txn_learners WHERE seq=?1 ORDER BY learner");
        if (!ls.ok()) return ls.status();
        ls->bind(1, seq);
        for (;;) {
            auto r = ls->step();
            if (!r.ok()) return r.status();
            if (!*r) break;
            t.learners.push_back(uuid_of(ls->blob(0)));
        }
        return t;
    }

    Result<std::int64_t> head_seq() override { return scalar("SELECT MAX(seq) FROM txns"); }
    Result<std::uint64_t> max_hlc() override {
        auto v = scalar("SELECT MAX(hlc) FROM txns");
        if (!v.ok()) return v.status();
        return static_cast<std::uint64_t>(*v);
    }
    Result<std::int64_t> count_txns() override { return scalar("SELECT COUNT(*) FROM txns"); }

    // --- rows and fields ------------------------------------------------------------------
    Result<std::optional<RowInfo>> find_row(const Uuid& row) override {
        std::lock_guard lock(mu_);
        auto st = db_.prepare("SELECT collection,learner FROM rows WHERE id=?1");
        if (!st.ok()) return st.status();
        st->bind_blob(1, row.raw());
        auto r = st->step();
        if (!r.ok()) return r.status();
        if (!*r) return std::optional<RowInfo>();
        return std::optional<RowInfo>(RowInfo{std::string(st->text(0)), uuid_of(st->blob(1))});
    }
    Result<std::vector<LearnerRow>> rows_of(const Uuid& learner) override {
        std::lock_guard lock(mu_);
        auto st =
            db_.prepare("SELECT id,collection FROM rows WHERE learner=?1 ORDER BY collection,id");
        if (!st.ok()) return st.status();
        st->bind_blob(1, learner.raw());
        std::vector<LearnerRow> out;
        for (;;) {
            auto r = st->step();
            if (!r.ok()) return r.status();
            if (!*r) return out;
            out.push_back({uuid_of(st->blob(0)), std::string(st->text(1))});
        }
    }
    Status add_row(const Uuid& row, const RowInfo& info, std::int64_t seq,
                   const FieldStamps& stamps) override {
        return write(
            "INSERT INTO rows(id,collection,learner,first_seq,stamps) VALUES(?1,?2,?3,?4,?5)",
            [&](Stmt& s) {
                s.bind_blob(1, row.raw())
                    .bind_text(2, info.collection)
                    .bind_blob(3, info.learner.raw())
                    .bind(4, seq)
                    .bind_blob(5, encode_stamps(stamps));
            });
    }
    Result<Stamp> field_stamp(const Uuid& row, const std::string& field) override {
        auto all = field_stamps_of(row);
        if (!all.ok()) return all.status();
        auto it = all->find(field);
        return it == all->end() ? Stamp{} : it->second;
    }
    Result<FieldStamps> field_stamps_of(const Uuid& row) override {
        std::lock_guard lock(mu_);
        auto st = db_.prepare("SELECT stamps FROM rows WHERE id=?1");
        if (!st.ok()) return st.status();
        st->bind_blob(1, row.raw());
        auto r = st->step();
        if (!r.ok()) return r.status();
        if (!*r) return FieldStamps{};
        auto stamps = decode_stamps(st->blob(0));
        if (!stamps)
            return Status::corrupt("the field stamps of row " + row.to_string() + " do not decode");
        return std::move(*stamps);
    }
    Status set_field_stamps(const Uuid& row, const FieldStamps& stamps) override {
        return transact([&]() -> Status {
            MS_RETURN_IF_ERROR(write("UPDATE rows SET stamps=?2 WHERE id=?1", [&](Stmt& s) {
                s.bind_blob(1, row.raw()).bind_blob(2, encode_stamps(stamps));
            }));
            if (db_.changes() == 0) return Status::not_found("no row " + row.to_string());
            return {};
        });
    }

    // --- assignments and access -----------------------------------------------------------
    Result<std::optional<AssignmentState>> find_assignment(const Uuid& row) override {
        auto all = assignments("WHERE row=?1", row);
        if (!all.ok()) return all.status();
        if (all->empty()) return std::optional<AssignmentState>();
        return std::optional<AssignmentState>(all->front());
    }
    Status put_assignment(const AssignmentState& a) override {
        return write(
            "INSERT INTO assignments(row,learner,mentor,centre,status,deleted) "
            "VALUES(?1,?2,?3,?4,?5,?6) ON CONFLICT(row) DO UPDATE SET mentor=excluded.mentor, "
            "centre=excluded.centre, status=excluded.status, deleted=excluded.deleted",
            [&](Stmt& s) {
                s.bind_blob(1, a.row.raw())
                    .bind_blob(2, a.learner.raw())
                    .bind_blob(3, a.mentor.raw())
                    .bind_blob(4, a.centre.raw())
                    .bind_text(5, a.status)
                    .bind(6, a.deleted ? 1 : 0);
            });
    }
    Result<std::vector<AssignmentState>> assignments_of(const Uuid& learner) override {
        return assignments("WHERE learner=?1 ORDER BY row", learner);
    }

    Result<std::set<Subject>> subjects_of(const Uuid& learner) override {
        std::lock_guard lock(mu_);
        auto st =
            db_.prepare("SELECT kind,subject FROM access WHERE learner=?1 AND to_seq IS NULL");
        if (!st.ok()) return st.status();
        st->bind_blob(1, learner.raw());
        std::set<Subject> out;
        for (;;) {
            auto r = st->step();
            if (!r.ok()) return r.status();
            if (!*r) break;
            out.insert(Subject{static_cast<Subject::Kind>(st->int64(0)), uuid_of(st->blob(1))});
        }
        return out;
    }
    Status grant(const Subject& s, const Uuid& learner, std::int64_t from_seq) override {
        return write(
            "INSERT INTO access(kind,subject,learner,from_seq,to_seq) VALUES(?1,?2,?3,?4,NULL)",
            [&](Stmt& st) {
                st.bind(1, static_cast<std::int64_t>(s.kind))
                    .bind_blob(2, s.id.raw())
                    .bind_blob(3, learner.raw())
                    .bind(4, from_seq);
            });
    }
    Status revoke(const Subject& s, const Uuid& learner, std::int64_t to_seq) override {
        return write(
            "UPDATE access SET to_seq=?4 WHERE kind=?1 AND subject=?2 AND learner=?3 AND "
            "to_seq IS NULL",
            [&](Stmt& st) {
                st.bind(1, static_cast<std::int64_t>(s.kind))
                    .bind_blob(2, s.id.raw())
                    .bind_blob(3, learner.raw())
                    .bind(4, to_seq);
            });
    }
    Result<std::set<Uuid>> scope_now(const Subject& s) override {
        return learner_set(
            "SELECT learner FROM access WHERE kind=?1 AND subject=?2 AND to_seq IS NULL", s,
            std::nullopt);
    }
    Result<std::set<Uuid>> scope_at(const Subject& s, std::int64_t seq) override {
        return learner_set(
            "SELECT learner FROM access WHERE kind=?1 AND subject=?2 AND from_seq<=?3 AND "
            "(to_seq IS NULL OR to_seq>?3)",
            s, seq);
    }
    Result<bool> has_access(const Subject& s, const Uuid& learner, std::int64_t seq) override {
        std::lock_guard lock(mu_);
        auto st = db_.prepare(
            "SELECT 1 FROM access WHERE kind=?1 AND subject=?2 AND learner=?3 AND from_seq<=?4 "
            "AND (to_seq IS NULL OR to_seq>?4)");
        if (!st.ok()) return st.status();
        st->bind(1, static_cast<std::int64_t>(s.kind))
            .bind_blob(2, s.id.raw())
            .bind_blob(3, learner.raw())
            .bind(4, seq);
        return st->step();
    }
    Result<std::set<Uuid>> grants_at(const Subject& s, std::int64_t seq) override {
        return learner_set(
            "SELECT learner FROM access WHERE kind=?1 AND subject=?2 AND from_seq=?3", s, seq);
    }
    Result<std::set<Uuid>> revoked_between(const Subject& s, std::int64_t after,
                                           std::int64_t upto) override {
        std::lock_guard lock(mu_);
        auto st = db_.prepare(
            "SELECT DISTINCT learner FROM access WHERE kind=?1 AND subject=?2 AND to_seq>?3 AND "
            "to_seq<=?4");
        if (!st.ok()) return st.status();
        st->bind(1, static_cast<std::int64_t>(s.kind))
            .bind_blob(2, s.id.raw())
            .bind(3, after)
            .bind(4, upto);
        std::set<Uuid> out;
        for (;;) {
            auto r = st->step();
            if (!r.ok()) return r.status();
            if (!*r) return out;
            out.insert(uuid_of(st->blob(0)));
        }
    }
    Result<std::int64_t> last_revoke(const Subject& s, const Uuid& learner,
                                     std::int64_t upto) override {
        std::lock_guard lock(mu_);
        auto st = db_.prepare(
            "SELECT coalesce(max(to_seq), 0) FROM access WHERE kind=?1 AND subject=?2 AND "
            "learner=?3 AND to_seq<=?4");
        if (!st.ok()) return st.status();
        st->bind(1, static_cast<std::int64_t>(s.kind))
            .bind_blob(2, s.id.raw())
            .bind_blob(3, learner.raw())
            .bind(4, upto);
        auto r = st->step();
        if (!r.ok()) return r.status();
        return *r ? st->int64(0) : 0;
    }
    Result<std::vector<std::int64_t>> readable_seqs(const Subject& s, std::int64_t after,
                                                    std::int64_t upto, std::size_t limit) override {
        std::lock_guard lock(mu_);
        auto st = db_.prepare(
            "SELECT DISTINCT tl.seq FROM access a JOIN txn_learners tl ON tl.learner=a.learner "
            "WHERE a.kind=?1 AND a.subject=?2 AND tl.seq>?3 AND tl.seq<=?4 "
            "AND tl.seq>=a.from_seq AND (a.to_seq IS NULL OR tl.seq<a.to_seq) "
            "ORDER BY tl.seq LIMIT ?5");
        if (!st.ok()) return st.status();
        st->bind(1, static_cast<std::int64_t>(s.kind))
            .bind_blob(2, s.id.raw())
            .bind(3, after)
            .bind(4, upto)
            .bind(5, static_cast<std::int64_t>(limit));
        return seqs(*st);
    }
    Result<std::vector<std::int64_t>> learner_seqs(const Uuid& learner, std::int64_t after,
                                                   std::int64_t before,
                                                   std::size_t limit) override {
        std::lock_guard lock(mu_);
        auto st = db_.prepare(
            "SELECT seq FROM txn_learners WHERE learner=?1 AND seq>?2 AND seq<?3 ORDER BY seq "
            "LIMIT ?4");
        if (!st.ok()) return st.status();
        st->bind_blob(1, learner.raw())
            .bind(2, after)
            .bind(3, before)
            .bind(4, static_cast<std::int64_t>(limit));
        return seqs(*st);
    }

  private:
    std::int64_t now() const { return clock_->now_ms(); }

    // BEGIN IMMEDIATE, the body, COMMIT (ROLLBACK if the body fails or throws), without a sync
    // of the log. Call with mu_ held and no transaction open.
    Status commit(const std::function<Status()>& body) {
        MS_RETURN_IF_ERROR(db_.exec("BEGIN IMMEDIATE"));
        depth_ = 1;
        Status s;
        try {
            s = body();
        } catch (const std::exception& e) {
            s = Status::internal(std::string("unexpected exception: ") + e.what());
        }
        depth_ = 0;
        if (s.ok()) s = db_.exec("COMMIT");
        if (!s.ok()) (void)db_.exec("ROLLBACK");
        return s;
    }

    // Prepares, binds and runs one statement that returns no rows. Outside a transaction it
    // runs as a transaction of its own, so it is on disk when it returns (as each write was
    // when every commit was synchronous=FULL). Never call it at depth 0 with mu_ held: the
    // sync that follows takes sync_mu_, then mu_.
    template <typename Bind>
    Status write(std::string_view sql, Bind&& bind) {
        std::unique_lock lock(mu_);
        if (depth_ == 0) {
            lock.unlock();
            return transact([&]() -> Status { return write(sql, bind); });
        }
        auto st = db_.prepare(sql);
        if (!st.ok()) return st.status();
        bind(*st);
        return st->run();
    }

    Result<std::int64_t> scalar(std::string_view sql) {
        std::lock_guard lock(mu_);
        auto st = db_.prepare(sql);
        if (!st.ok()) return st.status();
        auto r = st->step();
        if (!r.ok()) return r.status();
        return *r ? st->int64(0) : 0;
    }

    Result<std::vector<std::int64_t>> seqs(Stmt& st) {
        std::vector<std::int64_t> out;
        for (;;) {
            auto r = st.step();
            if (!r.ok()) return r.status();
            if (!*r) return out;
            out.push_back(st.int64(0));
        }
    }

    // Runs `sql`, which binds the subject as ?1 (kind) and ?2 (id) and, when `seq` is given,
    // that seq as ?3; returns the learners in its first column.
    Result<std::set<Uuid>> learner_set(std::string_view sql, const Subject& s,
                                       std::optional<std::int64_t> seq) {
        std::lock_guard lock(mu_);
        auto st = db_.prepare(sql);
        if (!st.ok()) return st.status();
        st->bind(1, static_cast<std::int64_t>(s.kind)).bind_blob(2, s.id.raw());
        if (seq) st->bind(3, *seq);
        std::set<Uuid> out;
        for (;;) {
            auto r = st->step();
            if (!r.ok()) return r.status();
            if (!*r) return out;
            out.insert(uuid_of(st->blob(0)));
        }
    }

    Status put_meta(const std::string& k, const std::string& v) {
        return write("INSERT OR REPLACE INTO meta(key,value) VALUES(?1,?2)",
                     [&](Stmt& s) { s.bind_text(1, k).bind_blob(2, v); });
    }
    Result<std::optional<std::string>> get_meta(const std::string& k) {
        std::lock_guard lock(mu_);
        auto st = db_.prepare("SELECT value FROM meta WHERE key=?1");
        if (!st.ok()) return st.status();
        st->bind_text(1, k);
        auto r = st->step();
        if (!r.ok()) return r.status();
        if (!*r) return std::optional<std::string>();
        return std::optional<std::string>(std::string(st->blob(0)));
    }

    Result<std::vector<Municipality>> municipalities(const std::string& where,
                                                     std::optional<Uuid> id) {
        std::lock_guard lock(mu_);
        auto st = db_.prepare("SELECT id,name FROM municipalities " + where);
        if (!st.ok()) return st.status();
        if (id) st->bind_blob(1, id->raw());
        std::vector<Municipality> out;
        for (;;) {
            auto r = st->step();
            if (!r.ok()) return r.status();
            if (!*r) return out;
            out.push_back({uuid_of(st->blob(0)), std::string(st->text(1))});
        }
    }
    Result<std::vector<Institution>> institutions(const std::string& where,
                                                  std::optional<Uuid> id) {
        std::lock_guard lock(mu_);
        auto st = db_.prepare("SELECT id,municipality,kind,name FROM institutions " + where);
        if (!st.ok()) return st.status();
        if (id) st->bind_blob(1, id->raw());
        std::vector<Institution> out;
        for (;;) {
            auto r = st->step();
            if (!r.ok()) return r.status();
            if (!*r) return out;
            out.push_back({uuid_of(st->blob(0)), uuid_of(st->blob(1)),
                           parse_institution_kind(st->text(2)).value_or(InstitutionKind::school),
                           std::string(st->text(3))});
        }
    }
    Result<std::vector<User>> users(const std::string& where, std::optional<Uuid> id) {
        std::lock_guard lock(mu_);
        auto st =
            db_.prepare("SELECT id,role,institution,name_sealed,created_ms FROM users " + where);
        if (!st.ok()) return st.status();
        if (id) st->bind_blob(1, id->raw());
        std::vector<User> out;
        for (;;) {
            auto r = st->step();
            if (!r.ok()) return r.status();
            if (!*r) return out;
            User u;
            u.id = uuid_of(st->blob(0));
            auto role = parse_role(st->text(1));
            if (!role) return Status::corrupt("a user has an unknown role");
            u.role = *role;
            if (!st->is_null(2)) u.institution = uuid_of(st->blob(2));
            auto name = key_->open(user_ad(u.id), st->blob(3));
            if (!name.ok()) return name.status();
            u.display_name = std::move(name).value();
            u.created_ms = st->int64(4);
            out.push_back(std::move(u));
        }
    }
    Result<std::vector<Device>> devices(const std::string& where, std::optional<Uuid> id) {
        std::lock_guard lock(mu_);
        auto st = db_.prepare(
            "SELECT id,user_id,node,public_key,label_sealed,revoked,enrolled_ms,last_seen_ms,"
            "report_pending,report_quarantined,report_rejected,report_ms,rejected_total "
            "FROM devices " +
            where);
        if (!st.ok()) return st.status();
        if (id) st->bind_blob(1, id->raw());
        std::vector<Device> out;
        for (;;) {
            auto r = st->step();
            if (!r.ok()) return r.status();
            if (!*r) return out;
            Device d;
            d.id = uuid_of(st->blob(0));
            d.user = uuid_of(st->blob(1));
            d.node = uuid_of(st->blob(2));
            const std::string_view pk = st->blob(3);
            if (pk.size() != d.public_key.size())
                return Status::corrupt("a device has a malformed public key");
            std::copy(pk.begin(), pk.end(), reinterpret_cast<char*>(d.public_key.data()));
            auto label = key_->open(label_ad(d.id), st->blob(4));
            if (!label.ok()) return label.status();
            d.label = std::move(label).value();
            d.revoked = st->int64(5) != 0;
            d.enrolled_ms = st->int64(6);
            if (!st->is_null(7)) d.last_seen_ms = st->int64(7);
            if (!st->is_null(11))
                d.report =
                    DeviceReportRow{st->int64(8), st->int64(9), st->int64(10), st->int64(11)};
            d.rejected_total = st->int64(12);
            out.push_back(std::move(d));
        }
    }
    Result<std::vector<AssignmentState>> assignments(const std::string& where, const Uuid& id) {
        std::lock_guard lock(mu_);
        auto st = db_.prepare("SELECT row,learner,mentor,centre,status,deleted FROM assignments " +
                              where);
        if (!st.ok()) return st.status();
        st->bind_blob(1, id.raw());
        std::vector<AssignmentState> out;
        for (;;) {
            auto r = st->step();
            if (!r.ok()) return r.status();
            if (!*r) return out;
            out.push_back({uuid_of(st->blob(0)), uuid_of(st->blob(1)), uuid_of(st->blob(2)),
                           uuid_of(st->blob(3)), std::string(st->text(4)), st->int64(5) != 0});
        }
    }

    std::recursive_mutex mu_;
    std::uint64_t unsynced_commits_ = 0;  // acknowledged unsynced commits so far (under mu_)
    std::mutex sync_mu_;
    std::uint64_t synced_commits_ = 0;  // of those, how many sync_log() has synced (sync_mu_)
    int depth_ = 0;
    Db db_;
    std::unique_ptr<WalCheckpointer> checkpointer_;  // after db_: stopped before it closes
    std::unique_ptr<ServerKey> key_;
    std::shared_ptr<const WallClock> clock_;
    LogSink log_;
    Uuid node_;
};

}  // namespace

Result<std::unique_ptr<ServerStore>> open_sqlite_store(const StoreOptions& options) {
    if (options.data_dir.empty()) return Status::invalid_argument("no data directory given");
    const fs::path dir(options.data_dir);
    std::error_code ec;
    if (!fs::exists(dir, ec)) {
        if (!options.create_if_missing)
            return Status::not_found("data directory " + dir.string() + " does not exist");
        if (!fs::create_directories(dir, ec))
            return Status::io("cannot create data directory " + dir.string() + ": " + ec.message());
        // Only the server's own account needs to enter it.
        fs::permissions(dir, fs::perms::owner_all, ec);
    } else if (!fs::is_directory(dir, ec)) {
        return Status::invalid_argument(dir.string() + " is not a directory");
    }
    const std::string db_path = (dir / "server.db").string();
    const std::string key_path = (dir / "server.key").string();
    const bool db_exists = fs::exists(db_path, ec);
    const bool key_exists = fs::exists(fs::symlink_status(key_path, ec));
    if (db_exists && !key_exists)
        return Status::not_found(
            "server.key is missing but server.db exists: restore server.key from its backup "
            "(without it the history cannot be read)");
    if (!db_exists && !options.create_if_missing)
        return Status::not_found("no server.db in " + dir.string() +
                                 " (run `mentorsync-server admin init`)");
    auto key = ServerKey::load(key_path, options.create_if_missing && !db_exists);
    if (!key.ok()) return key.status();
    auto clock = options.clock ? options.clock : SystemClock::shared();
    auto store =
        std::make_unique<SqliteStore>(std::move(key).value(), std::move(clock), options.log);
    MS_RETURN_IF_ERROR(store->open(db_path, !db_exists));
    return std::unique_ptr<ServerStore>(std::move(store));
}

}  // namespace mentorsync::server
