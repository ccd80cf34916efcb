// Replica: one device's encrypted, offline-first copy of the records it may see.
//
// A Replica is one SQLite file (WAL mode) holding the current state of each record as one
// sealed blob, a change log of sealed transactions, conflicts kept for review, quarantined
// remote transactions and sync state. Local writes go through commit(), which validates against
// the schema, stamps the transaction with the replica's HLC and makes it durable before
// returning. Remote transactions come in through apply_remote(), which merges them per field
// (last writer wins by stamp) and keeps every concurrently overwritten value as a Conflict.
// The merge is commutative, associative and idempotent: replicas that have applied the same set
// of transactions, in any order and any number of times, hold identical records and conflicts.
//
// Thread-safety: every member function may be called from any thread; calls are serialised by an
// internal mutex. Observers run on the thread whose call committed, after the commit, with no
// lock held, so they may call back into the Replica.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "mentorsync/clock.h"
#include "mentorsync/export.h"
#include "mentorsync/schema.h"
#include "mentorsync/status.h"
#include "mentorsync/transaction.h"
#include "mentorsync/types.h"

namespace mentorsync {

// What unlocks a replica: a passphrase (stretched with Argon2id) or a raw 32-byte key that an
// app keeps in the platform keystore. The secret is wiped from memory when the key is destroyed.
class MENTORSYNC_API UnlockKey {
  public:
    enum class Kind { passphrase, raw };
    static UnlockKey passphrase(std::string_view text);
    // Must be exactly 32 bytes; anything else makes open/unlock fail with invalid_argument.
    static UnlockKey raw(std::span<const std::uint8_t> bytes);

    UnlockKey(const UnlockKey&) = delete;
    UnlockKey& operator=(const UnlockKey&) = delete;
    UnlockKey(UnlockKey&& other) noexcept;
    UnlockKey& operator=(UnlockKey&& other) noexcept;
    ~UnlockKey();

    Kind kind() const noexcept { return kind_; }
    std::span<const std::uint8_t> secret() const noexcept;

  private:
    UnlockKey(Kind kind, std::span<const std::uint8_t> bytes);
    Kind kind_;
    std::vector<std::uint8_t> secret_;
};

// Argon2id cost for passphrase keys, fixed when a replica is created and stored in its file.
struct MENTORSYNC_API KdfParams {
    std::uint64_t opslimit = 3;
    std::size_t memlimit = 64u << 20;
    // What new replicas use by default: 3 passes over 64 MiB (a few hundred ms on a tablet).
    static KdfParams production() { return {}; }
    // libsodium's minimum: only for tests, where thousands of replicas are created.
    static KdfParams insecure_fast_for_tests();
};

enum class Durability {
    full,    // synchronous=FULL: a committed transaction survives power loss (default)
    normal,  // synchronous=NORMAL: survives an app crash; the last commits may roll back on
             // power loss. Faster on slow flash.
};

struct MENTORSYNC_API OpenOptions {
    std::string path;               // the replica's SQLite file
    bool create_if_missing = true;  // otherwise a missing file is not_found
    Durability durability = Durability::full;
    KdfParams kdf = KdfParams::production();  // used only when the file is created
    std::shared_ptr<const WallClock> clock;   // null: the system clock
    const Schema* schema = nullptr;           // null: Schema::programme()
    // SQLite's automatic checkpoint: after a commit leaves the write-ahead log this many pages
    // long, that commit copies the log into the database file. 0 turns it off; the
    // application must then checkpoint the file from another connection (the sync server
    // does, from a thread of its own), or the -wal file grows without bound.
    int wal_autocheckpoint_pages = 1000;
};

// A record as the application sees it.
struct MENTORSYNC_API Record {
    std::string collection;
    Uuid id;
    Fields fields;  // present, non-null fields (unknown ones too)
    std::map<std::string, Stamp, std::less<>> stamps;  // the stamp of each field's value
    bool deleted = false;
    Stamp updated;  // the greatest stamp among its fields
};

// One group of changes committed atomically. Ops are validated together in commit().
class MENTORSYNC_API WriteBatch {
  public:
    // Adds a new record with a fresh random id, which is returned.
    Uuid create(std::string collection, Fields fields);
    // Adds a new record with a caller-chosen id (imports, tests). commit() fails if it exists.
    void create_with_id(std::string collection, Uuid id, Fields fields);
    // Sets the given fields; a null Value clears a field. Unmentioned fields stay as they are.
    void update(std::string collection, Uuid id, Fields changes);
    // Marks the record deleted (the `_deleted` field); it stays restorable and syncs as a change.
    void remove(std::string collection, Uuid id);
    // Undoes remove().
    void restore(std::string collection, Uuid id);

    bool empty() const noexcept { return ops_.empty(); }
    std::size_t size() const noexcept { return ops_.size(); }

    struct Op {
        enum class Kind { create, update, remove, restore } kind;
        std::string collection;
        Uuid id;
        Fields fields;
        bool fresh_id = false;  // the id was just generated by create(): no record can have it
    };
    const std::vector<Op>& ops() const noexcept { return ops_; }

  private:
    std::vector<Op> ops_;
};

struct MENTORSYNC_API CommitResult {
    Stamp stamp;             // the transaction's stamp
    std::vector<Uuid> rows;  // the rows it touched, in op order
};

// Records of one collection, optionally by a reference field and a date range.
struct MENTORSYNC_API Query {
    std::string collection;
    // Reference filter: records whose `ref_field` equals `ref`. An empty ref_field means the
    // collection's learner field. Filtering by the learner field uses the plaintext learner
    // index; any other field is filtered after decryption.
    std::string ref_field;
    std::optional<Uuid> ref;
    // Inclusive date range on the collection's date field, as "YYYY-MM-DD" (empty: open end).
    std::string from_date;
    std::string to_date;
    bool include_deleted = false;
    std::size_t limit = 0;  // 0: no limit
};

// A value that lost to a concurrent edit, kept until a person resolves it.
struct MENTORSYNC_API Conflict {
    std::string collection;
    Uuid row;
    std::string field;
    Value winner_value;  // the field's current value
    Stamp winner;
    Value loser_value;  // the concurrent value that lost
    Stamp loser;
};

enum class Resolution {
    keep_winner,  // keep the current value
    take_loser,   // make the losing value current
    custom,       // write a new value (a merge a person made)
};

struct MENTORSYNC_API ChangeEvent {
    std::string collection;
    Uuid row;
    Stamp stamp;
    bool remote = false;
    // The row was removed from this device by purge_learner() (it is gone, not deleted: get()
    // answers not_found). `stamp` is then the row's last stamp.
    bool purged = false;
};
using Observer = std::function<void(const std::vector<ChangeEvent>&)>;

struct MENTORSYNC_API Rejection {
    Stamp stamp;
    Status reason;
};

// What apply_remote() did with each transaction handed to it.
struct MENTORSYNC_API ApplyReport {
    std::size_t applied = 0;          // merged now
    std::size_t duplicates = 0;       // already held: ignored
    std::size_t quarantined = 0;      // stamped too far ahead: kept aside, not merged
    std::size_t changes_applied = 0;  // field changes in the applied transactions
    std::size_t conflicts_opened = 0;
    std::vector<Rejection> rejected;  // not valid for this schema: not stored
};

// What purge_learner() removed.
struct MENTORSYNC_API PurgeReport {
    std::size_t rows = 0;          // records of the learner (the learner record included)
    std::size_t conflicts = 0;     // open conflicts on those records
    std::size_t transactions = 0;  // change-log entries about them
    std::size_t quarantined = 0;   // quarantined transactions about them
};

// What restamp_refused() did.
struct MENTORSYNC_API RestampReport {
    // (old stamp, new stamp) of every transaction that was given an earlier stamp, in log order.
    std::vector<std::pair<Stamp, Stamp>> moved;
    // Refused transactions that kept their stamp: nothing allows an earlier one yet (see
    // restamp_refused()); they wait until the server's clock passes them.
    std::vector<Stamp> kept;
    std::size_t rows = 0;  // records whose state and conflicts were rebuilt
};

// Sync values to store in the same durable transaction as a re-stamp, computed from its report
// (key, value). SyncSession keeps its list of refused transactions in step this way. Called
// with the replica's lock held: it must not call back into the Replica.
using RestampSyncValues =
    std::function<std::vector<std::pair<std::string, std::string>>(const RestampReport&)>;

struct MENTORSYNC_API QuarantinedTransaction {
    Stamp stamp;
    std::int64_t received_ms = 0;
    std::int64_t ahead_ms = 0;  // how far ahead of our wall clock it was when received
    std::size_t changes = 0;
};

struct MENTORSYNC_API ReplicaStatus {
    Uuid node;
    std::uint32_t schema_version = 0;
    std::size_t pending_transactions = 0;  // local, not yet acknowledged by a server
    std::size_t quarantined = 0;
    std::size_t open_conflicts = 0;
    std::size_t records = 0;
};

class MENTORSYNC_API Replica {
  public:
    // Opens (or creates) the replica at options.path and unlocks it.
    // Errors: wrong_key (wrong passphrase or raw key, or a passphrase given for a raw-key
    // replica and vice versa), locked_out (five or more wrong keys in a row: retry_after_ms() is
    // how long to wait, which the message also says in whole seconds; the delay doubles with
    // each further failure and survives restarts),
    // corrupt (the file is not a replica or was tampered with), io, unsupported (newer format).
    static Result<std::unique_ptr<Replica>> open(const OpenOptions& options, const UnlockKey& key);

    // Whether the file at `path` is a replica (of any format version), judged without a key by
    // reading it with SQLite alone, read-only: an SQLite database whose meta table holds a
    // replica's format marker, node id, key mode and wrapped key. For callers about to destroy
    // a file (the SDK's ms_wipe), so that they destroy nothing else. The file is never written
    // and a symbolic link is not followed; -wal and -shm files that SQLite creates for the look
    // are removed again. Returns ok for a replica. Errors: not_found (no file at `path`),
    // invalid_argument (something else is there; the message says what: not a regular file, an
    // empty file, not an SQLite database, an SQLite database that is not a replica), io (SQLite
    // could not read it). A replica too damaged for SQLite to read its meta table is not
    // recognised. Thread-safe; safe beside replicas open in this process (SQLite's own locks).
    static Status recognise(const std::string& path);

    ~Replica();
    Replica(const Replica&) = delete;
    Replica& operator=(const Replica&) = delete;

    // Wipes the data key from memory; every data call fails with Code::closed until unlock().
    void lock();
    // Checks `key` with the same rules (and lockout) as open(), whether the replica is locked
    // or not, so that an app can re-check its user with it: a wrong key is wrong_key and counts
    // toward the lockout either way, a right one resets the count. Success leaves the replica
    // unlocked; every failure (wrong_key, locked_out, invalid_argument, io) leaves it LOCKED,
    // even if it was unlocked before. A key of the other kind (a passphrase for a raw-key
    // replica or vice versa) is wrong_key without counting: it tests no secret.
    Status unlock(const UnlockKey& key);
    bool is_locked() const;
    // Re-wraps the data key under `next` after checking `current`. Records are not re-encrypted.
    // Switching between passphrase and raw key is allowed.
    Status change_key(const UnlockKey& current, const UnlockKey& next);

    // --- local writes -----------------------------------------------------------------------
    // Validates every op, then writes them as one durable transaction. On any error nothing is
    // written. An empty batch is invalid_argument.
    Result<CommitResult> commit(const WriteBatch& batch);
    Result<Uuid> create(std::string_view collection, Fields fields);
    Status update(std::string_view collection, const Uuid& id, Fields changes);
    Status remove(std::string_view collection, const Uuid& id);
    Status restore(std::string_view collection, const Uuid& id);

    // --- reads ------------------------------------------------------------------------------
    // A record by id, deleted ones included (Record::deleted). not_found if absent or in
    // another collection.
    Result<Record> get(std::string_view collection, const Uuid& id) const;
    // Matching records ordered by the date field, then id.
    Result<std::vector<Record>> query(const Query& query) const;

    // --- conflicts --------------------------------------------------------------------------
    // Open conflicts, optionally of one row, ordered by row, field, loser stamp.
    Result<std::vector<Conflict>> conflicts(std::optional<Uuid> row = std::nullopt) const;
    // Resolves one conflict with a new local change that syncs like any other. `custom_value`
    // is used only with Resolution::custom. not_found if no such open conflict.
    Result<Stamp> resolve_conflict(const Uuid& row, std::string_view field, const Stamp& loser,
                                   Resolution how, const Value& custom_value = {});

    // --- observation ------------------------------------------------------------------------
    // Registers an observer of committed changes (local and remote); returns its id.
    std::uint64_t observe(Observer observer);
    void unobserve(std::uint64_t id);

    // --- sync -------------------------------------------------------------------------------
    // Local transactions not yet acknowledged, oldest first, at most `max` of them.
    Result<std::vector<Transaction>> pending(std::size_t max) const;
    // Marks local transactions acknowledged (a server stored them); unknown stamps are ignored.
    Status acknowledge(std::span<const Stamp> stamps);

    // Re-dates local transactions that a server refused as stamped in the future (push result
    // `future_stamp`, docs/protocol.md section 7), so that they can be sent again and stop
    // winning over other devices' edits. Why this is safe: the refusal proves the server does
    // not hold them, and only the server passes them on, so no one else has them.
    //
    // Every pending (unacknowledged) local transaction from the earliest refused one on is
    // re-dated, in log order, so that references between them stay valid. Each gets the
    // smallest stamp above every stamp logged before it (what its writer could have seen),
    // above every trusted time noted before it (note_trusted_time()), above every stamp of
    // this node that left the device (acknowledged, or the persisted floor) and above its own
    // `prev`/`resolves`: the earliest moment it can have been made, so that an edit made with
    // an honest clock never loses to it. It never gets a later stamp than before; one that
    // cannot move is reported in `kept`. Values are kept; `prev`/`resolves` naming another
    // re-dated transaction are rewritten. The records they touch are rebuilt from the change
    // log, conflicts included, so this replica holds what every other replica computes from
    // the same transactions, and observers get one ChangeEvent (remote = false) per record.
    // The clock then falls back to the greatest stamp still held.
    //
    // `server_time_ms` is the refusing server's clock, when known: a clock floor persisted by
    // an older version that is further ahead of it than kMaxClockSkewMs can only come from a
    // refused stamp and is lowered to that limit. `also_store`, if set, gives sync values to
    // write in the same durable transaction. Stamps that name no pending local transaction
    // (acknowledged, purged, another node's) are ignored; none at all is an empty report.
    // Errors: closed (locked), io, corrupt; on error nothing changes.
    Result<RestampReport> restamp_refused(std::span<const Stamp> refused,
                                          std::optional<std::int64_t> server_time_ms = {},
                                          const RestampSyncValues& also_store = {});

    // Notes that a trusted clock (the sync server's, from an answer) read `server_time_ms`: every
    // transaction committed after this call was made no earlier, which restamp_refused() uses as
    // a lower bound. The last 16 readings are kept (in meta, with the change log position).
    // Errors: invalid_argument for a time <= 0, closed, io.
    Status note_trusted_time(std::int64_t server_time_ms);
    // Merges remote transactions, each atomically; all in one durable commit.
    // Errors only for I/O or a locked replica; per-transaction problems are in the report.
    Result<ApplyReport> apply_remote(std::span<const Transaction> transactions);

    // Quarantined remote transactions (stamped more than 5 minutes ahead of our clock).
    Result<std::vector<QuarantinedTransaction>> quarantined() const;
    // Merges a quarantined transaction now that its clock question is resolved. It merges like
    // any other; the local clock only follows it if it is no longer too far ahead.
    Result<ApplyReport> release_quarantined(const Stamp& stamp);
    // Drops a quarantined transaction without merging it.
    Status discard_quarantined(const Stamp& stamp);

    // Removes everything this device holds about one learner, in one durable transaction:
    // every record whose learner is `learner` (in every collection; for `learners`, the record
    // itself), the open conflicts on them, the change-log entries about them (a transaction
    // that also touched another learner's records goes too, whole) and the quarantined
    // transactions that touch them. Observers get a ChangeEvent with purged = true per record.
    //
    // Why: when a learner leaves a device's scope (the case moved to another mentor or closed),
    // the server lists the learner in a pull's `purge` (docs/protocol.md, section 8) and the
    // device must stop holding that learner's personal data. This is not a deletion that syncs:
    // nothing is logged or pushed, and unacknowledged local edits of the learner are dropped
    // (the server would refuse them as out of scope). If the learner comes back into scope,
    // the server delivers the full history again and apply_remote() rebuilds the records.
    //
    // The clock stays monotonic: its last value is persisted before log entries are removed.
    // Purging a learner the device does not hold is not an error (all counts zero).
    Result<PurgeReport> purge_learner(const Uuid& learner);

    // Small values the sync session keeps (cursors, last sync time); stored unencrypted, so
    // never personal data.
    Result<std::optional<std::string>> sync_value(std::string_view key) const;
    Status set_sync_value(std::string_view key, std::string_view value);

    // Small secrets an embedding app keeps with the data (the client SDK keeps the device's
    // signing keys here), sealed with the data key and bound to `key` and this replica's node,
    // so they are readable only while unlocked and a blob moved to another key fails to open.
    // Errors: Code::closed when locked, Code::invalid_argument for an empty key, Code::corrupt
    // for a tampered value.
    Result<std::optional<std::string>> secret_value(std::string_view key) const;
    Status set_secret_value(std::string_view key, std::string_view value);

    Result<ReplicaStatus> status() const;
    const Schema& schema() const noexcept;
    const Uuid& node() const noexcept;

    class Impl;

  private:
    explicit Replica(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> impl_;
};

}  // namespace mentorsync
