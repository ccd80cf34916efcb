// The admin API: organisation data, learners and cases, enrollment codes and devices.
//
// Learners and assignments are written as ordinary engine transactions stamped with the
// server's own node, through the same ledger as device pushes, so they reach tablets through
// pull like any other change, are part of the full history, and move scopes (an assignment
// gives its mentor and centre access to the learner). Like pushes, each write is applied to the
// merged state (merged_state.h) after its history commit; the views read it back.
//
// Cases and scope: a mentor's devices hold a learner while ANY of the mentor's cases of that
// learner is open or paused (and a centre's, while any case the centre owns is). assign() moves
// a case (other open cases are closed); assign() with `shared` adds a co-mentor and keeps them;
// close_case() ends one case without a successor.
//
// Thread-safety: like the store; each write is one store transaction.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/merged_state.h"
#include "core/store.h"
#include "mentorsync/clock.h"
#include "mentorsync/schema.h"

namespace mentorsync::server {

struct LearnerInput {
    std::string name;
    std::int64_t birth_year = 0;
    Uuid school_id;
    Uuid municipality_id;
    std::int64_t grade = 0;
    std::string education;  // general | vocational
    std::string viis_link;  // optional
};

struct AssignInput {
    Uuid learner;
    Uuid mentor;                 // a user with role mentor
    std::optional<Uuid> centre;  // default: the mentor's institution
    std::string start_date;      // YYYY-MM-DD; default: today (UTC)
    // Co-mentoring: other mentors' open or paused cases of the learner stay as they are, so
    // every one of those mentors keeps receiving (and may edit) the learner's records. Without
    // it, assign() is a move and closes them.
    bool shared = false;
};

struct AssignResult {
    Uuid assignment;           // the open assignment now
    std::vector<Uuid> closed;  // assignments closed by the move
    std::vector<Uuid> kept;    // other open or paused cases left as they were (shared)
    bool unchanged = false;    // the learner was already assigned so
};

struct CloseCaseInput {
    Uuid assignment;
    std::string reason = "other";  // an assignments.closing_reason value
    std::string end_date;          // YYYY-MM-DD; default: today (UTC)
};

struct CloseCaseResult {
    Uuid learner;
    Uuid mentor;
    // The mentor still has another open or paused case of the learner, so their devices keep
    // it; otherwise they purge it on their next pull.
    bool mentor_keeps_learner = false;
};

// A conflict resolved by a person on the server (the coordinator API): the resolution is a new
// server-stamped change of the field, naming the loser in `resolves` and the winner as `prev`,
// so every replica that merges it drops the conflict, like a tablet's own resolve_conflict().
struct ResolveConflictInput {
    Uuid row;
    std::string field;
    Stamp loser;   // the open conflict's losing stamp
    Stamp winner;  // the winning stamp the person saw; the write is refused if it moved on
    Value value;   // the value to write (the winner's, the loser's or a new one)
};

struct ResolveConflictResult {
    Stamp stamp;
    std::int64_t seq = 0;
    std::string collection;
    Uuid learner;
};

struct IssuedCode {
    std::string code;  // shown once: only its keyed hash is stored
    Uuid user;
    std::int64_t expires_ms = 0;
};

class Admin {
  public:
    // `state` receives every write after its history commit and serves the views: the owner's
    // MergedState (the running server's, in its process). Null for a process that does not
    // own state.db (the admin command line): writes then go to the history only, which the
    // owner's applier picks up, and each view replays the history in memory
    // (MergedState::replay), so that nothing but the owner ever opens state.db.
    Admin(std::shared_ptr<ServerStore> store, std::shared_ptr<MergedState> state,
          std::shared_ptr<const WallClock> clock = {}, const Schema* schema = nullptr);

    // Opens (creating if allowed) the data directory's store and, `with_state`, its merged
    // state as its owner (always created when missing: it is rebuilt from the history). The
    // owner holds state.lock: with_state fails (Code::io) while a server runs on the directory.
    // Without, the Admin writes the history only and replays it for views (see above).
    static Result<std::unique_ptr<Admin>> open(const std::string& data_dir, bool create,
                                               std::shared_ptr<const WallClock> clock = {},
                                               LogSink log = {}, bool with_state = true);

    Result<Uuid> add_municipality(const std::string& name);
    Result<Uuid> add_institution(const std::string& name, InstitutionKind kind,
                                 const Uuid& municipality);
    Result<Uuid> add_user(Role role, const std::optional<Uuid>& institution,
                          const std::string& display_name);
    Result<Uuid> add_learner(const LearnerInput& in);
    // Opens a case of the learner with the mentor. An open or paused case with another mentor
    // or centre is closed (reason "transferred") in the same transaction, so the old mentor
    // loses the learner at the very seq the new one gains it. With in.shared, only the mentor's
    // own case at another centre is closed; other mentors' cases stay (in `kept`).
    Result<AssignResult> assign(const AssignInput& in);
    // Closes one open or paused case without moving it. The mentor's devices purge the learner
    // unless another of the mentor's cases of it is still open or paused. Errors: not_found (no
    // such case), invalid_argument (already closed), validation (reason or date).
    Result<CloseCaseResult> close_case(const CloseCaseInput& in);

    // --- views of the merged state (values included: for the administrator, never logs) ----
    // Both include every transaction committed before the call. Without a merged state they
    // replay the history: one learner's (milliseconds), or for conflicts() of all learners the
    // whole history (as long as a rebuild of state.db).
    // Every record of the learner, deleted ones included. not_found for an unknown learner.
    Result<std::vector<Record>> learner_records(const Uuid& learner);
    // Open conflicts, of one learner's records or of all.
    Result<std::vector<Conflict>> conflicts(std::optional<Uuid> learner = std::nullopt);
    // Writes the resolution of one open conflict through the ledger (validated against the
    // schema) and applies it to the merged state. Errors: not_found (no such row or field),
    // invalid_argument (the field's winner is no longer `winner`: someone wrote since; look
    // again), validation (the value).
    Result<ResolveConflictResult> resolve_conflict(const ResolveConflictInput& in);
    Result<IssuedCode> issue_enrollment_code(const Uuid& user);
    Status revoke_device(const Uuid& device);
    Result<std::vector<Device>> list_devices();

    ServerStore& store() { return *store_; }
    MergedState* state() { return state_.get(); }

  private:
    // Stamps `changes` with the server's node and applies them through the ledger.
    Status write(std::vector<Change> changes, Stamp* stamp_out = nullptr,
                 std::int64_t* seq_out = nullptr);
    std::string today() const;
    void apply_to_state();
    // The merged state that serves a view: state_, or a replay of the history.
    Result<std::shared_ptr<MergedState>> view_state(std::optional<Uuid> learner);

    std::shared_ptr<ServerStore> store_;
    std::shared_ptr<MergedState> state_;
    std::shared_ptr<const WallClock> clock_;
    const Schema& schema_;
    LogSink log_;  // for replays' warnings; null: stderr
};

}  // namespace mentorsync::server
