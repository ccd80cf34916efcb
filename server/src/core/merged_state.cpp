#include "core/merged_state.h"

#include <algorithm>
#include <charconv>
#include <chrono>
#include <filesystem>
#include <map>

namespace mentorsync::server {

namespace {

namespace fs = std::filesystem;

// Codes that mean "this file is not a state.db we can use": the replica holds nothing the
// history cannot rebuild, so the message tells the administrator how to get a fresh one.
bool unusable_file(Code c) {
    return c == Code::wrong_key || c == Code::corrupt || c == Code::locked_out ||
           c == Code::unsupported;
}

}  // namespace

MergedState::MergedState(std::shared_ptr<ServerStore> store, MergedStateOptions options)
    : store_(std::move(store)), options_(std::move(options)) {
    if (!options_.clock) options_.clock = SystemClock::shared();
    path_ = (fs::path(options_.data_dir) / "state.db").string();
}

MergedState::~MergedState() {
    if (!applier_.joinable()) return;
    {
        std::lock_guard lock(pending_mu_);
        stopping_ = true;
    }
    work_cv_.notify_all();
    applier_.join();  // it applies what was handed in before it returns
}

Result<std::shared_ptr<MergedState>> MergedState::open(std::shared_ptr<ServerStore> store,
                                                       MergedStateOptions options) {
    if (!store) return Status::invalid_argument("no store given");
    if (options.data_dir.empty()) return Status::invalid_argument("no data directory given");
    std::shared_ptr<MergedState> self(new MergedState(std::move(store), std::move(options)));
    // Before state.db is touched: one owner at a time (data_dir_lock.h).
    auto lock = DataDirLock::acquire(self->options_.data_dir);
    if (!lock.ok()) return lock.status();
    self->lock_ = std::move(lock).value();
    MS_RETURN_IF_ERROR(self->open_replica());
    MS_RETURN_IF_ERROR(self->check_belongs());
    auto replayed = self->catch_up();
    if (!replayed.ok()) return replayed.status();
    self->start_applier();
    if (*replayed > 0) {
        // Normal operation applies each transaction soon after its commit (and a stop drains
        // the applier); a replay at open means the state was new, deleted or behind (a crash
        // between the history commit and the apply).
        auto applied = self->applied_seq();
        log_event(self->options_.log, "info", "state_replayed",
                  {{"transactions", *replayed}, {"applied_seq", applied.ok() ? *applied : -1}});
    }
    return self;
}

Result<std::shared_ptr<MergedState>> MergedState::replay(std::shared_ptr<ServerStore> store,
                                                         MergedStateOptions options,
                                                         std::optional<Uuid> learner) {
    if (!store) return Status::invalid_argument("no store given");
    std::shared_ptr<MergedState> self(new MergedState(std::move(store), std::move(options)));
    self->in_memory_ = true;
    self->only_learner_ = learner;
    self->path_ = ":memory:";
    MS_RETURN_IF_ERROR(self->open_replica());
    auto replayed = self->catch_up();
    if (!replayed.ok()) return replayed.status();
    return self;
}

Status MergedState::open_replica() {
    OpenOptions o;
    o.path = path_;
    o.create_if_missing = true;
    // NORMAL, not FULL: a power loss may roll back the last applies, together with the applied
    // seq recorded after them (one WAL file, commits lost only as a suffix), and the next
    // catch-up re-applies them from the history. The history itself is synchronous=FULL.
    o.durability = Durability::normal;
    o.clock = options_.clock;
    o.schema = options_.schema;
    o.wal_autocheckpoint_pages = 0;  // checkpointer_ does it, outside the applier's commits
    auto r = Replica::open(o, store_->key().state_unlock_key());
    if (!r.ok()) {
        if (unusable_file(r.status().code()))
            return Status(r.status().code(),
                          "state.db: " + r.status().message() +
                              ". It holds only what server.db's history rebuilds: move it (and "
                              "state.db-wal, state.db-shm) out of the data directory and start "
                              "again to rebuild it");
        return Status(r.status().code(), "state.db: " + r.status().message());
    }
    replica_ = std::move(r).value();
    if (in_memory_) return {};
    auto cp = WalCheckpointer::start({.path = path_, .name = "state.db", .log = options_.log});
    if (!cp.ok()) return cp.status();
    checkpointer_ = std::move(cp).value();
    return {};
}

// A state.db must have been built from this server.db's history: the same server node, and no
// seq beyond the history's head. Anything else (another installation's file, or server.db
// restored from a backup older than state.db) is rebuilt from the history.
Status MergedState::check_belongs() {
    const std::string mine = store_->server_node().to_string();
    auto node = replica_->sync_value(kServerNodeKey);
    if (!node.ok()) return node.status();
    if (*node && **node != mine) return rebuild("state.db belongs to another server node");
    // Read the state's seq before the history's head: the history is committed first, so the
    // head read second is never below an applied seq written by another process meanwhile.
    auto applied = stored_applied_seq();
    if (!applied.ok()) return applied.status();
    auto head = store_->head_seq();
    if (!head.ok()) return head.status();
    if (*applied > *head)
        return rebuild(
            "state.db has applied seqs beyond the history's head (was server.db "
            "restored from a backup?)");
    if (!*node) return replica_->set_sync_value(kServerNodeKey, mine);
    return {};
}

Status MergedState::rebuild(std::string_view reason) {
    log_event(options_.log, "warn", "state_rebuild", {{"reason", std::string(reason)}});
    checkpointer_.reset();
    replica_.reset();
    std::error_code ec;
    for (const char* suffix : {"", "-wal", "-shm"}) {
        fs::remove(path_ + suffix, ec);
        if (ec) return Status::io("cannot remove " + path_ + suffix + ": " + ec.message());
    }
    MS_RETURN_IF_ERROR(open_replica());
    return replica_->set_sync_value(kServerNodeKey, store_->server_node().to_string());
}

Result<std::int64_t> MergedState::stored_applied_seq() const {
    auto v = replica_->sync_value(kAppliedSeqKey);
    if (!v.ok()) return v.status();
    if (!*v) return std::int64_t{0};
    std::int64_t seq = 0;
    const std::string& text = **v;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), seq);
    if (ec != std::errc() || end != text.data() + text.size() || seq < 0)
        return Status::corrupt(
            "state.db: the applied seq is not a number; move state.db away "
            "to rebuild it from the history");
    return seq;
}

Result<std::int64_t> MergedState::applied_seq() const {
    return stored_applied_seq();
}

Result<std::int64_t> MergedState::catch_up() {
    std::lock_guard lock(catch_up_mu_);
    return catch_up_locked();
}

void MergedState::catch_up_after_commit(std::string_view what) {
    auto r = catch_up();
    if (!r.ok())
        log_event(options_.log, "error", "state_apply_failed",
                  {{"after", std::string(what)},
                   {"code", std::string(code_name(r.status().code()))},
                   {"error", r.status().message()}});
}

void MergedState::hand_in(std::vector<StoredTxn> committed) {
    if (committed.empty()) return;
    std::unique_lock lock(pending_mu_);
    // Failing: the history has them, and the applier's retry reads them from there.
    if (failing_ || stopping_ || !applier_.joinable()) return;
    for (StoredTxn& t : committed) {
        if (t.seq <= applied_) continue;  // a catch-up already read it from the history
        handed_max_ = std::max(handed_max_, t.seq);
        const std::int64_t seq = t.seq;
        pending_.insert_or_assign(seq, std::move(t));
    }
    work_cv_.notify_one();
    if (handed_max_ - applied_ > kMaxLag)
        progress_cv_.wait(
            lock, [&] { return failing_ || stopping_ || handed_max_ - applied_ <= kMaxLag / 2; });
}

void MergedState::drain() {
    std::unique_lock lock(pending_mu_);
    const std::int64_t target = handed_max_;
    progress_cv_.wait(lock, [&] {
        return applied_ >= target || (failing_ && !applier_busy_) || !applier_.joinable();
    });
}

std::int64_t MergedState::lag() const {
    std::lock_guard lock(pending_mu_);
    return std::max<std::int64_t>(0, handed_max_ - applied_);
}

void MergedState::start_applier() {
    {
        std::lock_guard lock(pending_mu_);
        handed_max_ = applied_;
    }
    applier_ = std::thread([this] { run_applier(); });
}

void MergedState::run_applier() {
    // A hole in the handed-in seqs is a push that committed and has not handed in yet, an admin
    // write of this process (which catches up itself) or history another process wrote (found
    // by the poll below): it gets this long before the applier reads the hole from the history.
    constexpr auto kHoleWait = std::chrono::milliseconds(50);
    constexpr auto kRetryAfterFailure = std::chrono::seconds(5);
    std::optional<std::chrono::steady_clock::time_point> hole_since;
    std::unique_lock lock(pending_mu_);
    for (;;) {
        std::optional<std::int64_t> upto;  // none: the history's head (retry after a failure)
        if (failing_) {
            // Stopping while failing leaves the rest to the next open's catch-up.
            if (work_cv_.wait_for(lock, kRetryAfterFailure, [&] { return stopping_; })) return;
        } else {
            // Idle: look at the history's head now and then, for transactions nobody handed
            // in (another process's: the admin command line writes the history only).
            if (!work_cv_.wait_for(lock, kHistoryPoll,
                                   [&] { return stopping_ || handed_max_ > applied_; })) {
                lock.unlock();
                auto head = store_->head_seq();
                lock.lock();
                // The hole logic below reads what nobody handed in. A failed read is left to
                // the next poll or view, which log it.
                if (head.ok() && *head > applied_ && !failing_ && !stopping_)
                    handed_max_ = std::max(handed_max_, *head);
                continue;
            }
            if (handed_max_ <= applied_) return;  // stopping, and everything is applied
            std::int64_t end = applied_;
            for (auto it = pending_.upper_bound(applied_);
                 it != pending_.end() && it->first == end + 1; ++it)
                end = it->first;
            if (end == applied_) {
                const auto now = std::chrono::steady_clock::now();
                if (!hole_since) hole_since = now;
                if (now - *hole_since < kHoleWait && !stopping_) {
                    work_cv_.wait_for(lock, std::chrono::milliseconds(2));
                    continue;
                }
                end = handed_max_;
            }
            hole_since.reset();
            upto = end;
        }
        applier_busy_ = true;
        lock.unlock();
        Status s;
        {
            std::lock_guard apply_lock(catch_up_mu_);
            auto r = catch_up_locked(upto);
            if (!r.ok()) s = r.status();
        }
        if (!s.ok())
            log_event(options_.log, "error", "state_apply_failed",
                      {{"after", std::string("push")},
                       {"code", std::string(code_name(s.code()))},
                       {"error", s.message()}});
        lock.lock();
        applier_busy_ = false;
        if (!s.ok()) {
            failing_ = true;
            pending_.clear();
        } else if (!upto) {
            failing_ = false;  // caught up with the history's head: handed-in work resumes
            log_event(options_.log, "info", "state_apply_recovered");
        }
        progress_cv_.notify_all();
    }
}

Result<std::int64_t> MergedState::catch_up_learner_locked() {
    auto applied = stored_applied_seq();
    if (!applied.ok()) return applied.status();
    auto head = store_->head_seq();
    if (!head.ok()) return head.status();
    std::int64_t from = *applied, done = 0;
    for (;;) {
        auto seqs = store_->learner_seqs(*only_learner_, from, *head + 1,
                                         static_cast<std::size_t>(kCatchUpBatch));
        if (!seqs.ok()) return seqs.status();
        if (seqs->empty()) break;
        std::vector<StoredTxn> batch;
        std::vector<Transaction> txns;
        for (std::int64_t seq : *seqs) {
            auto t = store_->load_txn(seq);
            if (!t.ok()) return t.status();
            txns.push_back(t->txn);
            batch.push_back(std::move(t).value());
        }
        auto report = replica_->apply_remote(txns);
        if (!report.ok()) return report.status();
        MS_RETURN_IF_ERROR(handle_report(*report, batch));
        from = seqs->back();
        done += static_cast<std::int64_t>(seqs->size());
    }
    // Every transaction of the learner up to the head is applied.
    if (*head > *applied)
        MS_RETURN_IF_ERROR(replica_->set_sync_value(kAppliedSeqKey, std::to_string(*head)));
    return done;
}

Status MergedState::check_view(std::optional<Uuid> learner) const {
    if (only_learner_ && learner != only_learner_)
        return Status::invalid_argument(
            "this merged state replays one learner's history only: it has no view of " +
            (learner ? "learner " + learner->to_string() : std::string("all learners")));
    return {};
}

Result<std::int64_t> MergedState::catch_up_locked(std::optional<std::int64_t> upto) {
    if (only_learner_) return catch_up_learner_locked();
    auto applied = stored_applied_seq();
    if (!applied.ok()) return applied.status();
    auto head = store_->head_seq();
    if (!head.ok()) return head.status();
    if (*applied > *head)
        return Status::corrupt("state.db has applied seq " + std::to_string(*applied) +
                               " beyond the history's head " + std::to_string(*head) +
                               "; reopen the data directory to rebuild it");
    // Handed-in transactions at or below the applied seq were applied from the history
    // already (a catch-up got there first): drop them so pending_ stays small.
    auto take_pending = [&](std::int64_t from, std::int64_t to) {
        std::map<std::int64_t, StoredTxn> out;
        std::lock_guard lock(pending_mu_);
        pending_.erase(pending_.begin(), pending_.lower_bound(from));
        auto end = pending_.upper_bound(to);
        for (auto it = pending_.begin(); it != end;)
            out.insert(pending_.extract(it++));
        return out;
    };
    auto note_applied = [&](std::int64_t seq) {
        {
            std::lock_guard lock(pending_mu_);
            applied_ = std::max(applied_, seq);
        }
        progress_cv_.notify_all();
    };
    const std::int64_t last = upto ? std::min(*upto, *head) : *head;
    if (last <= *applied) {
        take_pending(*applied + 1, *applied);
        note_applied(*applied);
        return std::int64_t{0};
    }
    std::int64_t done = 0;
    for (std::int64_t from = *applied + 1; from <= last;) {
        const std::int64_t to = std::min(last, from + kCatchUpBatch - 1);
        auto handed = take_pending(from, to);
        std::vector<StoredTxn> batch;
        std::vector<Transaction> txns;
        for (std::int64_t seq = from; seq <= to; ++seq) {
            if (auto it = handed.find(seq); it != handed.end()) {
                // Moved, not copied: handle_report needs only the seq and stamp.
                StoredTxn meta;
                meta.seq = seq;
                meta.txn.stamp = it->second.txn.stamp;
                txns.push_back(std::move(it->second.txn));
                batch.push_back(std::move(meta));
                continue;
            }
            auto t = store_->load_txn(seq);
            if (!t.ok()) return t.status();
            txns.push_back(t->txn);
            batch.push_back(std::move(t).value());
        }
        auto report = replica_->apply_remote(txns);
        if (!report.ok()) return report.status();
        MS_RETURN_IF_ERROR(handle_report(*report, batch));
        // Recorded after the apply is durable: a crash in between re-applies this batch (as
        // duplicates) instead of skipping it. Never moved backwards, in case another process
        // got further meanwhile.
        auto current = stored_applied_seq();
        if (!current.ok()) return current.status();
        if (*current < to)
            MS_RETURN_IF_ERROR(replica_->set_sync_value(kAppliedSeqKey, std::to_string(to)));
        note_applied(to);
        done += to - from + 1;
        from = to + 1;
    }
    return done;
}

// The history accepted every transaction it holds, so the replica should merge each one. A
// rejection means the engine's schema check disagrees with the ledger's (a bug, or a schema
// mismatch between builds): logged by seq, stamp and code — never the message, which may quote
// a value — and skipped, since the history cannot be changed.
//
// Quarantine: the server accepts stamps up to 300 s ahead of its clock and the replica
// quarantines those more than 5 minutes ahead of the same clock, so only a server clock stepped
// back between acceptance and apply (or before a replay) lands here. The history is the truth
// and tablets receive these transactions, so they are released into the merge at once, with
// a warning that the server's clock moved.
Status MergedState::handle_report(const ApplyReport& report, const std::vector<StoredTxn>& batch) {
    if (!report.rejected.empty()) {
        std::map<Stamp, std::int64_t> seq_of;
        for (const StoredTxn& t : batch)
            seq_of.emplace(t.txn.stamp, t.seq);
        for (const Rejection& r : report.rejected) {
            auto it = seq_of.find(r.stamp);
            log_event(options_.log, "warn", "state_rejected",
                      {{"seq", it == seq_of.end() ? std::int64_t{-1} : it->second},
                       {"stamp", r.stamp.to_string()},
                       {"code", std::string(code_name(r.reason.code()))}});
        }
    }
    if (report.quarantined == 0) return {};
    auto held = replica_->quarantined();
    if (!held.ok()) return held.status();
    for (const QuarantinedTransaction& q : *held) {
        log_event(options_.log, "warn", "state_quarantined",
                  {{"stamp", q.stamp.to_string()}, {"ahead_ms", q.ahead_ms}});
        auto released = replica_->release_quarantined(q.stamp);
        if (!released.ok()) return released.status();
        for (const Rejection& r : released->rejected)
            log_event(options_.log, "warn", "state_rejected",
                      {{"stamp", r.stamp.to_string()},
                       {"code", std::string(code_name(r.reason.code()))}});
    }
    return {};
}

Result<std::vector<Record>> MergedState::learner_records(const Uuid& learner) {
    MS_RETURN_IF_ERROR(check_view(learner));
    auto caught = catch_up();
    if (!caught.ok()) return caught.status();
    auto self = store_->find_row(learner);
    if (!self.ok()) return self.status();
    if (!*self || (*self)->collection != "learners")
        return Status::not_found("no learner " + learner.to_string());
    auto rows = store_->rows_of(learner);
    if (!rows.ok()) return rows.status();
    std::vector<Record> out;
    for (const LearnerRow& r : *rows) {
        auto rec = replica_->get(r.collection, r.row);
        // A row committed after the catch-up above is not applied yet: left for the next view.
        if (!rec.ok() && rec.status().code() == Code::not_found) continue;
        if (!rec.ok()) return rec.status();
        out.push_back(std::move(rec).value());
    }
    return out;
}

Result<std::vector<Conflict>> MergedState::conflicts(std::optional<Uuid> learner) {
    MS_RETURN_IF_ERROR(check_view(learner));
    auto caught = catch_up();
    if (!caught.ok()) return caught.status();
    if (!learner) return replica_->conflicts();
    auto self = store_->find_row(*learner);
    if (!self.ok()) return self.status();
    if (!*self || (*self)->collection != "learners")
        return Status::not_found("no learner " + learner->to_string());
    auto rows = store_->rows_of(*learner);
    if (!rows.ok()) return rows.status();
    // The engine orders conflicts by row; per-row queries in row order keep that order.
    std::vector<Uuid> ids;
    for (const LearnerRow& r : *rows)
        ids.push_back(r.row);
    std::sort(ids.begin(), ids.end());
    std::vector<Conflict> out;
    for (const Uuid& id : ids) {
        auto c = replica_->conflicts(id);
        if (!c.ok()) return c.status();
        out.insert(out.end(), c->begin(), c->end());
    }
    return out;
}

}  // namespace mentorsync::server
