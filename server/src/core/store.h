// ServerStore: everything the sync server keeps, behind an interface so that a PostgreSQL store
// can follow the embedded SQLite one (SqliteStore, `open_sqlite_store`).
//
// What is kept:
//   - full history: every accepted transaction with a global arrival sequence number (`seq`,
//     1, 2, 3 ... with no gaps), the device it came from (none for the server's own
//     transactions), when it arrived, its stamp and the learner(s) it concerns; the body sealed
//     with the server key, bound to its seq and stamp;
//   - the indexes scopes need: each row's collection and learner, each field's winning stamp,
//     the assignment state of each assignments row, and access intervals (who could read which
//     learner from which seq to which seq);
//   - organisation data: municipalities, institutions, users (names sealed), devices (labels
//     sealed), enrollment codes (keyed hashes only), nonces seen, push batches.
//
// Record values are never indexed here: the merged view of every record (winning values and
// conflicts) is the engine replica state.db, kept beside server.db by MergedState
// (merged_state.h) and rebuilt from this history whenever it is missing or behind.
//
// Atomicity: `transact` runs a function inside one database transaction; every method called
// from it on the same thread joins that transaction, and nothing the function wrote survives
// if it returns an error. Writes outside `transact` are atomic one by one. Durability: when
// `transact` (or a write outside it) returns ok, the write is on disk; `transact_unsynced`
// leaves that to a later sync_log().
// Thread-safety: every method may be called from any thread; calls are serialised (a
// `transact` holds the store for its whole duration).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "core/log.h"
#include "core/roles.h"
#include "core/server_key.h"
#include "core/service.h"
#include "mentorsync/clock.h"
#include "mentorsync/status.h"
#include "mentorsync/transaction.h"
#include "mentorsync/types.h"

namespace mentorsync::server {

struct Municipality {
    Uuid id;
    std::string name;  // organisational, not personal: stored in plaintext
};

enum class InstitutionKind { school, youth_centre };
std::string_view institution_kind_name(InstitutionKind kind) noexcept;
std::optional<InstitutionKind> parse_institution_kind(std::string_view text) noexcept;

struct Institution {
    Uuid id;
    Uuid municipality;
    InstitutionKind kind = InstitutionKind::school;
    std::string name;
};

struct User {
    Uuid id;
    Role role = Role::mentor;
    std::optional<Uuid> institution;  // required for mentors and centre staff
    std::string display_name;         // personal data: sealed at rest
    std::int64_t created_ms = 0;
};

// A device's own last report of its data-quality counts (protocol §8, wire::DeviceReport).
// Counts only; a device can only report for itself (the pull is signed by it).
struct DeviceReportRow {
    std::int64_t pending = 0;
    std::int64_t quarantined = 0;
    std::int64_t rejected = 0;
    std::int64_t reported_ms = 0;  // when the server received it
};

struct Device {
    Uuid id;
    Uuid user;
    Uuid node;
    std::array<std::uint8_t, 32> public_key{};
    std::string label;  // may hold a person's name: sealed at rest
    bool revoked = false;
    std::int64_t enrolled_ms = 0;
    std::optional<std::int64_t> last_seen_ms;
    std::optional<DeviceReportRow> report;  // none: the device never reported
    std::int64_t rejected_total = 0;        // transactions the server rejected on its pushes
};

struct EnrollmentCode {
    std::string hash;  // keyed hash of the normalised code; the code itself is never stored
    Uuid user;
    std::int64_t issued_ms = 0;
    std::int64_t expires_ms = 0;
    std::optional<std::int64_t> used_ms;
};

struct StoredBatch {
    std::string body_hash;
    std::string response;  // the encoded PushResponse given the first time
};

// One transaction of the history.
struct StoredTxn {
    std::int64_t seq = 0;
    std::optional<Uuid> device;  // none: written by the server itself (admin API)
    std::int64_t received_ms = 0;
    std::vector<Uuid> learners;  // the learner(s) it concerns, sorted, at least one
    Transaction txn;
};

// The winning stamp of each field of a row, by field name.
using FieldStamps = std::map<std::string, Stamp, std::less<>>;

// What the server knows about a row from the transaction that created it.
struct RowInfo {
    std::string collection;
    Uuid learner;
};

// One row of a learner, from the rows index (ids and a collection name: no personal data).
struct LearnerRow {
    Uuid row;
    std::string collection;
};

// The merged state of one assignments row, kept in plaintext (ids and a status: no personal
// data) because scopes are computed from it.
struct AssignmentState {
    Uuid row;
    Uuid learner;
    Uuid mentor;  // nil until set
    Uuid centre;  // nil until set
    std::string status;
    bool deleted = false;
    // Whether this assignment gives its mentor and centre access to the learner.
    bool grants_access() const { return !deleted && (status == "open" || status == "paused"); }
};

// Who may read a learner: a mentor (by user id) or a centre (by institution id).
struct Subject {
    enum class Kind : std::int64_t { mentor = 0, centre = 1 } kind = Kind::mentor;
    Uuid id;
    auto operator<=>(const Subject&) const = default;
};

class ServerStore {
  public:
    virtual ~ServerStore() = default;

    virtual Status transact(const std::function<Status()>& body) = 0;
    // As transact, but the commit is written to the log without waiting for the disk. It
    // survives a crash of the process at once, and a power cut once the log is synced: by
    // sync_log() or by any later transact(). With `acknowledged`, the caller promises to call
    // sync_log() before it acknowledges the write (a push's response), so that concurrent
    // requests share one sync (group commit); without, the write is bookkeeping whose loss in
    // a power cut is harmless (a request's nonce, a last-seen time). Inside an enclosing
    // transaction it simply joins it.
    virtual Status transact_unsynced(const std::function<Status()>& body, bool acknowledged) = 0;
    // Returns once every acknowledged unsynced commit made before the call is on disk: at
    // once when another thread's sync already covered them. Code::io if the sync fails.
    virtual Status sync_log() = 0;

    // The server's own replica node id, created with the store: the node of transactions the
    // admin API writes.
    virtual const Uuid& server_node() const = 0;
    virtual const ServerKey& key() const = 0;

    // --- organisation ---------------------------------------------------------------------
    virtual Status add_municipality(const Municipality& m) = 0;
    virtual Result<std::optional<Municipality>> find_municipality(const Uuid& id) = 0;
    virtual Result<std::vector<Municipality>> list_municipalities() = 0;
    virtual Status add_institution(const Institution& i) = 0;
    virtual Result<std::optional<Institution>> find_institution(const Uuid& id) = 0;
    virtual Result<std::vector<Institution>> list_institutions() = 0;
    virtual Status add_user(const User& u) = 0;
    virtual Result<std::optional<User>> find_user(const Uuid& id) = 0;
    virtual Result<std::vector<User>> list_users() = 0;

    // --- enrollment and devices -----------------------------------------------------------
    virtual Status add_enrollment_code(const EnrollmentCode& code) = 0;
    virtual Result<std::optional<EnrollmentCode>> find_enrollment_code(const std::string& hash) = 0;
    virtual Status mark_enrollment_code_used(const std::string& hash, std::int64_t now_ms) = 0;
    virtual Status add_device(const Device& d) = 0;
    virtual Result<std::optional<Device>> find_device(const Uuid& id) = 0;
    virtual Result<std::optional<Device>> find_device_by_node(const Uuid& node) = 0;
    virtual Result<std::vector<Device>> list_devices() = 0;
    // not_found if there is no such device.
    virtual Status revoke_device(const Uuid& id) = 0;
    virtual Status touch_device(const Uuid& id, std::int64_t now_ms) = 0;
    // Replaces the device's last report (a report older than the stored one is ignored, as
    // last_seen_ms does). Meant to join the transaction that records the request's nonce.
    virtual Status set_device_report(const Uuid& id, const DeviceReportRow& report) = 0;
    // Adds `count` to the device's rejected_total; meant to join the transaction that stores
    // the push batch whose answer holds those rejections, so a replayed batch adds nothing.
    virtual Status add_device_rejections(const Uuid& id, std::int64_t count) = 0;

    // Records the nonce unless this device used it at or after `since_ms`; returns whether it
    // was fresh. Nonces older than `since_ms` are pruned on the way.
    virtual Result<bool> use_nonce(const Uuid& device, const std::string& nonce,
                                   std::int64_t now_ms, std::int64_t since_ms) = 0;

    virtual Result<std::optional<StoredBatch>> find_batch(const Uuid& device,
                                                          const Uuid& batch) = 0;
    virtual Status add_batch(const Uuid& device, const Uuid& batch, const StoredBatch& b,
                             std::int64_t now_ms) = 0;

    // --- history --------------------------------------------------------------------------
    virtual Result<bool> has_txn(const Stamp& stamp) = 0;
    // Appends with seq = head + 1 (the given seq is ignored) and returns that seq. `encoded`
    // is encode_transaction(t.txn) when the caller made it already (outside a transaction, to
    // keep the store's lock short); empty: encoded here.
    virtual Result<std::int64_t> append_txn(const StoredTxn& t, std::string_view encoded = {}) = 0;
    virtual Result<StoredTxn> load_txn(std::int64_t seq) = 0;
    // Device and learners of a transaction, without opening its body.
    virtual Result<StoredTxn> load_txn_meta(std::int64_t seq) = 0;
    virtual Result<std::int64_t> head_seq() = 0;
    virtual Result<std::uint64_t> max_hlc() = 0;
    virtual Result<std::int64_t> count_txns() = 0;

    // --- rows and fields ------------------------------------------------------------------
    virtual Result<std::optional<RowInfo>> find_row(const Uuid& row) = 0;
    // A new row, created by the transaction at `seq`, with the winning stamp of each field it
    // wrote.
    virtual Status add_row(const Uuid& row, const RowInfo& info, std::int64_t seq,
                           const FieldStamps& stamps) = 0;
    // Every row whose learner is `learner` (the learner record itself included), ordered by
    // collection, then id. Rows of collections this schema does not know are included.
    virtual Result<std::vector<LearnerRow>> rows_of(const Uuid& learner) = 0;
    // The winning stamp of a field (zero if never written, or no such row).
    virtual Result<Stamp> field_stamp(const Uuid& row, const std::string& field) = 0;
    // The winning stamp of every field of a row written so far (empty for no such row): one
    // read for a whole row.
    virtual Result<FieldStamps> field_stamps_of(const Uuid& row) = 0;
    // Replaces a known row's field stamps (Code::not_found if there is no such row).
    virtual Status set_field_stamps(const Uuid& row, const FieldStamps& stamps) = 0;

    // --- assignments and access -----------------------------------------------------------
    virtual Result<std::optional<AssignmentState>> find_assignment(const Uuid& row) = 0;
    virtual Status put_assignment(const AssignmentState& a) = 0;
    virtual Result<std::vector<AssignmentState>> assignments_of(const Uuid& learner) = 0;
    // Subjects with open access to a learner now.
    virtual Result<std::set<Subject>> subjects_of(const Uuid& learner) = 0;
    virtual Status grant(const Subject& s, const Uuid& learner, std::int64_t from_seq) = 0;
    virtual Status revoke(const Subject& s, const Uuid& learner, std::int64_t to_seq) = 0;
    // Learners the subject may read now.
    virtual Result<std::set<Uuid>> scope_now(const Subject& s) = 0;
    // Learners the subject could read at `seq` (from_seq <= seq < to_seq).
    virtual Result<std::set<Uuid>> scope_at(const Subject& s, std::int64_t seq) = 0;
    virtual Result<bool> has_access(const Subject& s, const Uuid& learner, std::int64_t seq) = 0;
    // Learners whose access for the subject starts exactly at `seq`.
    virtual Result<std::set<Uuid>> grants_at(const Subject& s, std::int64_t seq) = 0;
    // Learners whose access for the subject ended at a seq in (after, upto]: an interval
    // closed there (pull uses it to tell which learners a device may have purged).
    virtual Result<std::set<Uuid>> revoked_between(const Subject& s, std::int64_t after,
                                                   std::int64_t upto) = 0;
    // The latest seq <= upto at which the subject's access to the learner ended (0: none).
    virtual Result<std::int64_t> last_revoke(const Subject& s, const Uuid& learner,
                                             std::int64_t upto) = 0;
    // Up to `limit` seqs in (after, upto] of transactions about a learner the subject could
    // read at that seq, ascending.
    virtual Result<std::vector<std::int64_t>> readable_seqs(const Subject& s, std::int64_t after,
                                                            std::int64_t upto,
                                                            std::size_t limit) = 0;
    // Up to `limit` seqs in (after, before) of transactions about `learner`, ascending.
    virtual Result<std::vector<std::int64_t>> learner_seqs(const Uuid& learner, std::int64_t after,
                                                           std::int64_t before,
                                                           std::size_t limit) = 0;
};

struct StoreOptions {
    std::string data_dir;
    // Create the directory, server.key and server.db when missing. A server.db without its
    // server.key is always an error: the history could not be read.
    bool create_if_missing = true;
    std::shared_ptr<const WallClock> clock;  // null: the system clock
    // Receives the store's own JSON log lines (its checkpointer's; file names and SQLite codes
    // only). Null: stderr (core/log.h's default sink).
    LogSink log;
};

// Opens the SQLite store `server.db` (WAL, synchronous=NORMAL with the store syncing the log
// before it acknowledges a write; see sqlite_store.cpp "Group commit") in options.data_dir with
// the key `server.key` beside it.
Result<std::unique_ptr<ServerStore>> open_sqlite_store(const StoreOptions& options);

}  // namespace mentorsync::server
