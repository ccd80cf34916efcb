// The ledger: what happens to an accepted transaction, whoever wrote it (a device's push or the
// admin API). It checks a transaction against protocol §6 and the schema, works out which
// learner each touched row hangs off, then appends it to the history and keeps the indexes that
// scopes are computed from: rows, winning field stamps, assignment state and access intervals.
//
// Access intervals: for each subject (a mentor, or a centre) and learner, the seqs during which
// the subject could read the learner: [from_seq, to_seq). An assignments transaction at seq s
// that gives a subject access opens an interval at s (so the assignment itself is readable to
// its new mentor); one that takes access away closes it at s (the old mentor does not receive
// the change that removed them). Pull (sync_service.cpp) walks these intervals.
//
// Not thread-safe on its own: callers run it inside ServerStore::transact.
#pragma once

#include <optional>
#include <vector>

#include "core/store.h"
#include "mentorsync/schema.h"
#include "mentorsync/transaction.h"

namespace mentorsync::server {

struct RowPlan {
    Uuid row;
    std::string collection;
    Uuid learner;
    bool is_new = false;
};

class Ledger {
  public:
    Ledger(ServerStore& store, const Schema& schema) : store_(store), schema_(schema) {}

    // Protocol §6: a non-zero stamp, 1 to 1,000 changes, no field twice for one row, every
    // seen stamp below the transaction's own, known fields valid for the schema, and a record
    // it creates holding every required field (Schema::check_received): the server's bound of
    // 1,000 changes, then wire::check_transaction, so a device reads the engine's own words.
    // Errors are Code::validation or Code::invalid_argument naming collection.field, never a
    // value.
    Status validate(const Transaction& txn) const;

    // The rows the transaction touches and the learner of each. A known row keeps the
    // collection and learner of the transaction that created it; a new row takes its learner
    // from its learner field (its own id for `learners`). Code::invalid_argument when a row
    // changes collection or learner, or a new row names no learner.
    Result<std::vector<RowPlan>> plan(const Transaction& txn);

    // Appends the transaction to the history and updates the indexes. Returns its seq.
    // `encoded`: encode_transaction(txn) if the caller made it already (ServerStore::append_txn).
    Result<std::int64_t> apply(const Transaction& txn, const std::vector<RowPlan>& rows,
                               std::optional<Uuid> device, std::int64_t now_ms,
                               std::string_view encoded = {});

  private:
    Status update_access(const Uuid& learner, std::int64_t seq);

    ServerStore& store_;
    const Schema& schema_;
};

// The subject whose scope a user's devices sync: mentors by user, centre staff by institution.
// None for roles without device scope (coordinators and admins use other APIs).
std::optional<Subject> subject_for(const User& user);

// The name of the field holding the learner of a collection ("" for learners itself). A
// collection this schema does not know (a newer app's) is assumed to use "learner_id".
std::string learner_field_of(const Schema& schema, std::string_view collection);

}  // namespace mentorsync::server
