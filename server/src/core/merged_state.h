// MergedState: the server's merged view of every record, `state.db` in the data directory.
//
// server.db keeps the full history (every accepted transaction) but no record values: pulls
// only ever replay history. The administrators, tests and demos also need to see what the
// tablets see — the winning value of each field and the open conflicts — so the server keeps
// an engine Replica that has applied every accepted transaction with apply_remote(). The
// engine's merge is deterministic (commutative, associative, idempotent), so this replica holds
// exactly the records and conflicts of any tablet that applied the same transactions.
//
// One owner: state.db belongs to the process that opened it with open(), which holds the data
// directory's state.lock (data_dir_lock.h) until the MergedState is destroyed; a second open()
// on the same directory fails, in this process or another. The running server is that owner
// (its pushes and its coordinator API share one MergedState). Nobody else opens state.db: the
// admin command line writes only the history, which the owner's applier picks up, and builds
// its views with replay(), an in-memory replica of the history that touches no file.
//
// The history stays the source of truth. The replica records, as a sync value, the seq of the
// last history transaction it applied; catch_up() applies everything after it. It runs after
// in-process admin writes, before every view (learner_records, conflicts, the coordinators'
// API), when the state is opened, and from the applier about once a second, so a crash between
// the history commit and the state apply, a deleted state.db, or history written by another
// process (the admin command line next to a running server) all heal soon, and views never
// show them missing.
//
// Pushes do not apply their transactions themselves: they hand them to a background applier
// thread (hand_in) and answer without waiting for it, so the push path never waits on the
// merged state's merge and commits. The applier merges whatever has been handed in, in seq
// order and in batches of up to kCatchUpBatch, so under load one state.db commit covers many
// pushes. It may lag the history by at most kMaxLag transactions: a push that finds it further
// behind waits until it has caught up to half of that (backpressure, so the lag — and the
// memory holding handed-in transactions — stays bounded). Views never see the lag: they catch
// up first. If applying fails (state.db unwritable), the applier logs it, stops holding handed
// in transactions (the history has them) and retries from the history every few seconds;
// pushes are never held up by a broken state.db. Re-applying a transaction is harmless: the engine
// recognises it by stamp. A state.db that cannot belong to this history (another server's node, or
// a seq beyond the history's head, e.g. after server.db was restored from a backup) is rebuilt;
// only the owner ever deletes it.
//
// state.db is encrypted by the engine under a raw key derived from server.key (subkey "state",
// server_key.h); the server key itself is never handed to the engine.
//
// Logs: JSON lines with ids, seqs, stamps and counts only, never a record value.
// Thread-safety: every member may be called from any thread. catch_up() calls (and the
// applier's batches) are serialised.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <variant>
#include <vector>

#include "core/checkpointer.h"
#include "core/data_dir_lock.h"
#include "core/log.h"
#include "core/store.h"
#include "mentorsync/clock.h"
#include "mentorsync/replica.h"
#include "mentorsync/schema.h"

namespace mentorsync::server {

struct MergedStateOptions {
    std::string data_dir;                    // state.db goes beside server.db
    std::shared_ptr<const WallClock> clock;  // null: the system clock
    const Schema* schema = nullptr;          // null: Schema::programme()
    LogSink log;                             // null: JSON lines on stderr
};

class MergedState {
  public:
    // The sync values the state keeps in its replica (plain ids and numbers).
    static constexpr std::string_view kAppliedSeqKey = "server.applied_seq";
    static constexpr std::string_view kServerNodeKey = "server.node";
    // History transactions handed to one apply_remote() call while catching up.
    static constexpr std::int64_t kCatchUpBatch = 500;
    // How many handed-in transactions the background applier may be behind before hand_in()
    // waits (about 90,000 field changes, a second of full ingest; tens of MiB at most).
    static constexpr std::int64_t kMaxLag = 10'000;

    // How often the applier looks for history it was not handed (written by another process,
    // the admin command line), so that state.db follows it without waiting for a view.
    static constexpr auto kHistoryPoll = std::chrono::seconds(1);

    // Takes the data directory's state.lock, opens data_dir/state.db (creating it when
    // missing), rebuilds it if it belongs to another history, and catches up. The lock is held
    // until the MergedState is destroyed. Errors: Code::io when another owner holds the lock (a
    // running server: the message says so); the replica's (wrong_key or corrupt: the message
    // says to move state.db away, it is rebuilt from the history), the store's, I/O.
    static Result<std::shared_ptr<MergedState>> open(std::shared_ptr<ServerStore> store,
                                                     MergedStateOptions options);

    // A merged state of the history alone, built in memory (no file, no lock, no applier): for
    // a process that does not own state.db, the admin command line's views. With `learner`,
    // only that learner's transactions are applied, which is all learner_records(learner) and
    // conflicts(learner) read; without, the whole history (conflicts()). Each view catches up
    // with the history first, as with open(). The result equals state.db's view of the same
    // history (the merge is deterministic). Costs the time and memory of applying what it
    // replays. Errors: the store's, the replica's.
    static Result<std::shared_ptr<MergedState>> replay(std::shared_ptr<ServerStore> store,
                                                       MergedStateOptions options,
                                                       std::optional<Uuid> learner = std::nullopt);

    ~MergedState();
    MergedState(const MergedState&) = delete;
    MergedState& operator=(const MergedState&) = delete;

    // Applies every history transaction after the last applied one. Returns how many history
    // transactions it handed to the replica. Logs and continues past transactions the replica
    // rejects; releases any it quarantined (see the .cpp for why).
    Result<std::int64_t> catch_up();

    // catch_up() for callers whose own work is already durable (a push, an admin write): a
    // failure is logged, not returned, because the history already holds the transaction and
    // the next catch-up applies it.
    void catch_up_after_commit(std::string_view what);

    // For a push whose transactions are committed (with their seqs, in seq order; durable or
    // about to be): hands them to the background applier, which applies them as they are
    // instead of reading them back and decrypting them from the history. Returns at once,
    // unless the applier is more than kMaxLag transactions behind (then waits until it is
    // within kMaxLag / 2). Failures are the applier's and are logged, never returned: the
    // history already holds the transactions and the next catch-up applies them.
    void hand_in(std::vector<StoredTxn> committed);

    // Waits until everything handed in so far is applied (or the applier gave up on it after
    // a failure). For tests; views call catch_up() instead, the destructor drains the applier
    // itself, and /metrics shows the lag (mentorsync_state_lag_transactions).
    void drain();

    // Transactions handed in and not applied yet (0 when caught up).
    std::int64_t lag() const;

    // The seq of the last history transaction the state applied (0: none).
    Result<std::int64_t> applied_seq() const;

    // Every record of a learner (deleted ones included), in the rows index's order: collection,
    // then id. Catches up first, so the view includes every committed transaction. A replay()
    // of another learner answers Code::invalid_argument.
    Result<std::vector<Record>> learner_records(const Uuid& learner);
    // Open conflicts, of one learner's records or of all, in the engine's order (row, field,
    // loser stamp). Catches up first. A replay() of one learner answers only for that learner
    // (Code::invalid_argument otherwise).
    Result<std::vector<Conflict>> conflicts(std::optional<Uuid> learner = std::nullopt);

    // The replica itself, for reads the views above do not cover.
    Replica& replica() { return *replica_; }

  private:
    MergedState(std::shared_ptr<ServerStore> store, MergedStateOptions options);
    Status open_replica();
    Status check_view(std::optional<Uuid> learner) const;
    // replay() of one learner: applies that learner's history after the applied seq.
    Result<std::int64_t> catch_up_learner_locked();
    Status check_belongs();
    Status rebuild(std::string_view reason);
    // Applies history transactions after the applied seq up to `upto` (the history's head when
    // absent), taking each from pending_ when a request handed it in.
    Result<std::int64_t> catch_up_locked(std::optional<std::int64_t> upto = std::nullopt);
    Result<std::int64_t> stored_applied_seq() const;
    Status handle_report(const ApplyReport& report, const std::vector<StoredTxn>& batch);
    void start_applier();
    void run_applier();

    std::unique_ptr<DataDirLock> lock_;  // first: released after everything below is closed
    std::shared_ptr<ServerStore> store_;
    MergedStateOptions options_;
    std::string path_;
    bool in_memory_ = false;            // replay(): no file, no checkpointer, no applier
    std::optional<Uuid> only_learner_;  // replay() of one learner
    std::unique_ptr<Replica> replica_;
    std::unique_ptr<WalCheckpointer> checkpointer_;  // state.db's; after replica_, stopped first
    std::mutex catch_up_mu_;
    // Committed transactions handed in by hand_in() and not applied yet, by seq, and the
    // applier's state. Guarded by pending_mu_ (not catch_up_mu_: handing in must not wait for
    // an apply).
    mutable std::mutex pending_mu_;
    std::map<std::int64_t, StoredTxn> pending_;
    std::int64_t applied_ = 0;     // the last seq the state is known to have applied
    std::int64_t handed_max_ = 0;  // the greatest seq handed in
    bool applier_busy_ = false;    // the applier is between taking work and reporting back
    bool failing_ = false;         // the last apply failed: nothing is held until one succeeds
    bool stopping_ = false;
    std::condition_variable work_cv_;      // the applier waits here for work
    std::condition_variable progress_cv_;  // hand_in() and drain() wait here for the applier
    std::thread applier_;
};

}  // namespace mentorsync::server
