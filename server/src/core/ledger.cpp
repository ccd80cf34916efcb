#include "core/ledger.h"

#include <algorithm>
#include <map>
#include <set>

#include "mentorsync/wire.h"

namespace mentorsync::server {

namespace {
constexpr std::string_view kLearners = "learners";
constexpr std::string_view kAssignments = "assignments";

Uuid uuid_value(const Value& v) {
    if (!v.is_string()) return Uuid{};
    return Uuid::parse(v.as_string()).value_or(Uuid{});
}
}  // namespace

std::optional<Subject> subject_for(const User& user) {
    switch (user.role) {
        case Role::mentor:
            return Subject{Subject::Kind::mentor, user.id};
        case Role::centre_staff:
            if (!user.institution) return std::nullopt;
            return Subject{Subject::Kind::centre, *user.institution};
        case Role::coordinator:
        case Role::admin:
            return std::nullopt;
    }
    return std::nullopt;
}

std::string learner_field_of(const Schema& schema, std::string_view collection) {
    if (collection == kLearners) return "";
    const CollectionDef* c = schema.collection(collection);
    return c ? c->learner_field : "learner_id";
}

Status Ledger::validate(const Transaction& txn) const {
    // The server's own bound, checked first so that an oversized transaction costs no more
    // work; the rest is the check every receiver makes (protocol §6), in the engine's words.
    if (txn.changes.size() > wire::kMaxChangesPerTransaction)
        return Status::invalid_argument("the transaction has more than 1000 changes");
    return wire::check_transaction(schema_, txn);
}

Result<std::vector<RowPlan>> Ledger::plan(const Transaction& txn) {
    // Rows in first-appearance order, with the changes of each.
    std::vector<RowPlan> rows;
    std::map<Uuid, std::size_t> index;
    for (const Change& ch : txn.changes) {
        auto [it, fresh] = index.emplace(ch.row, rows.size());
        if (fresh) rows.push_back(RowPlan{ch.row, ch.collection, Uuid{}, false});
        if (rows[it->second].collection != ch.collection)
            return Status::invalid_argument("row " + ch.row.to_string() +
                                            " appears in two collections");
    }
    for (RowPlan& p : rows) {
        const std::string field = learner_field_of(schema_, p.collection);
        const Change* learner_change = nullptr;
        if (!field.empty())
            for (const Change& ch : txn.changes)
                if (ch.row == p.row && ch.field == field) learner_change = &ch;
        auto known = store_.find_row(p.row);
        if (!known.ok()) return known.status();
        if (*known) {
            if ((*known)->collection != p.collection)
                return Status::invalid_argument("row " + p.row.to_string() + " is a " +
                                                (*known)->collection + " record, not " +
                                                p.collection);
            p.learner = (*known)->learner;
            // The learner field drives scopes: it cannot change after creation.
            if (learner_change && uuid_value(learner_change->value) != p.learner)
                return Status::invalid_argument(p.collection + "." + field +
                                                ": the learner of a record cannot change");
            continue;
        }
        p.is_new = true;
        if (p.collection == kLearners) {
            p.learner = p.row;
            continue;
        }
        if (!learner_change || uuid_value(learner_change->value).is_nil())
            return Status::invalid_argument(p.collection + "." + field +
                                            ": a new record must name its learner");
        p.learner = uuid_value(learner_change->value);
    }
    return rows;
}

Result<std::int64_t> Ledger::apply(const Transaction& txn, const std::vector<RowPlan>& rows,
                                   std::optional<Uuid> device, std::int64_t now_ms,
                                   std::string_view encoded) {
    StoredTxn t;
    t.device = device;
    t.received_ms = now_ms;
    t.txn = txn;
    for (const RowPlan& p : rows)
        t.learners.push_back(p.learner);
    std::sort(t.learners.begin(), t.learners.end());
    t.learners.erase(std::unique(t.learners.begin(), t.learners.end()), t.learners.end());
    auto seq = store_.append_txn(t, encoded);
    if (!seq.ok()) return seq.status();

    // Field stamps: last writer wins by stamp, as on every replica. Assignment fields that win
    // update the plaintext assignment index. The current stamps are read once per known row (a
    // row new with this transaction has none), updated in memory, and written once per row.
    std::map<Uuid, const RowPlan*> by_row;
    std::map<Uuid, FieldStamps> stamps;
    for (const RowPlan& p : rows) {
        by_row[p.row] = &p;
        if (p.is_new) {
            stamps[p.row];
            continue;
        }
        auto known = store_.field_stamps_of(p.row);
        if (!known.ok()) return known.status();
        stamps[p.row] = std::move(known).value();
    }
    std::set<Uuid> changed;
    std::map<Uuid, AssignmentState> assignments;
    for (const Change& ch : txn.changes) {
        auto& row_stamps = stamps.at(ch.row);
        auto stamp_it = row_stamps.find(ch.field);
        const Stamp current = stamp_it == row_stamps.end() ? Stamp{} : stamp_it->second;
        if (!(current < txn.stamp)) continue;  // an older write arriving late: it loses
        row_stamps[ch.field] = txn.stamp;
        changed.insert(ch.row);
        if (ch.collection != kAssignments) continue;
        auto it = assignments.find(ch.row);
        if (it == assignments.end()) {
            auto found = store_.find_assignment(ch.row);
            if (!found.ok()) return found.status();
            AssignmentState a;
            a.row = ch.row;
            a.learner = by_row.at(ch.row)->learner;
            it = assignments.emplace(ch.row, found->value_or(a)).first;
        }
        AssignmentState& a = it->second;
        if (ch.field == "mentor_id")
            a.mentor = uuid_value(ch.value);
        else if (ch.field == "centre_id")
            a.centre = uuid_value(ch.value);
        else if (ch.field == "status")
            a.status = ch.value.is_string() ? ch.value.as_string() : "";
        else if (ch.field == kDeletedField)
            a.deleted = ch.value.is_bool() && ch.value.as_bool();
    }
    for (const RowPlan& p : rows) {
        if (p.is_new)
            MS_RETURN_IF_ERROR(
                store_.add_row(p.row, {p.collection, p.learner}, *seq, stamps.at(p.row)));
        else if (changed.count(p.row))
            MS_RETURN_IF_ERROR(store_.set_field_stamps(p.row, stamps.at(p.row)));
    }
    std::set<Uuid> affected;
    for (const auto& [row, a] : assignments) {
        MS_RETURN_IF_ERROR(store_.put_assignment(a));
        affected.insert(a.learner);
    }
    for (const Uuid& learner : affected)
        MS_RETURN_IF_ERROR(update_access(learner, *seq));
    return *seq;
}

// Recomputes who may read `learner` from all its assignments and records the difference as
// intervals opening or closing at `seq`.
Status Ledger::update_access(const Uuid& learner, std::int64_t seq) {
    auto all = store_.assignments_of(learner);
    if (!all.ok()) return all.status();
    std::set<Subject> after;
    for (const AssignmentState& a : *all) {
        if (!a.grants_access()) continue;
        if (!a.mentor.is_nil()) after.insert({Subject::Kind::mentor, a.mentor});
        if (!a.centre.is_nil()) after.insert({Subject::Kind::centre, a.centre});
    }
    auto before = store_.subjects_of(learner);
    if (!before.ok()) return before.status();
    for (const Subject& s : *before)
        if (!after.count(s)) MS_RETURN_IF_ERROR(store_.revoke(s, learner, seq));
    for (const Subject& s : after)
        if (!before->count(s)) MS_RETURN_IF_ERROR(store_.grant(s, learner, seq));
    return {};
}

}  // namespace mentorsync::server
