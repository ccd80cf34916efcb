// Replica: transactions quarantined as stamped too far ahead (list, release, discard).
// See mentorsync/replica.h for the contract.
#include "replica_impl.h"

namespace mentorsync {

Result<std::vector<QuarantinedTransaction>> Replica::quarantined() const {
    std::lock_guard g(impl_->mu);
    auto& m = *impl_;
    MS_RETURN_IF_ERROR(m.check_unlocked());
    auto stmt =
        m.db.prepare("SELECT hlc, node, received_ms, changes FROM quarantine ORDER BY hlc, node");
    if (!stmt.ok()) return stmt.status();
    std::vector<QuarantinedTransaction> out;
    for (;;) {
        auto r = stmt->step();
        if (!r.ok()) return r.status();
        if (!*r) break;
        QuarantinedTransaction q;
        q.stamp = stamp_from(stmt->int64(0), stmt->blob(1));
        q.received_ms = stmt->int64(2);
        q.ahead_ms = static_cast<std::int64_t>(q.stamp.millis()) - q.received_ms;
        q.changes = static_cast<std::size_t>(stmt->int64(3));
        out.push_back(q);
    }
    return out;
}

Result<ApplyReport> Replica::release_quarantined(const Stamp& stamp) {
    std::vector<ChangeEvent> events;
    ApplyReport report;
    {
        std::lock_guard g(impl_->mu);
        auto& m = *impl_;
        MS_RETURN_IF_ERROR(m.check_unlocked());
        auto stmt = m.db.prepare("SELECT body FROM quarantine WHERE hlc=?1 AND node=?2");
        if (!stmt.ok()) return stmt.status();
        stmt->bind(1, static_cast<std::int64_t>(stamp.hlc)).bind_blob(2, stamp.node.raw());
        auto r = stmt->step();
        if (!r.ok()) return r.status();
        if (!*r) return Status::not_found("no quarantined transaction " + stamp.to_string());
        auto plain = crypto::open(m.data_key, ad_quarantine(stamp), stmt->blob(0));
        if (!plain.ok()) return plain.status();
        auto txn = decode_stored_transaction(*plain);
        if (!txn.ok()) return txn.status();
        stmt = sql::Stmt();
        const std::uint64_t clock_before = m.hlc->last();
        Status s = m.in_write_txn([&]() -> Status {
            auto del = m.db.prepare("DELETE FROM quarantine WHERE hlc=?1 AND node=?2");
            if (!del.ok()) return del.status();
            MS_RETURN_IF_ERROR(del->bind(1, static_cast<std::int64_t>(stamp.hlc))
                                   .bind_blob(2, stamp.node.raw())
                                   .run());
            auto exists = m.txn_exists(stamp);
            if (!exists.ok()) return exists.status();
            if (*exists) {
                ++report.duplicates;
                return {};
            }
            // The clock follows only stamps that are no longer too far ahead: a released
            // transaction must not drag every later local stamp into the future.
            if (m.hlc->acceptable(txn->stamp)) m.hlc->observe(txn->stamp);
            MS_RETURN_IF_ERROR(m.merge_txn(*txn, true, &report.conflicts_opened));
            ++report.applied;
            report.changes_applied += txn->changes.size();
            return {};
        });
        if (!s.ok()) {
            m.hlc = std::make_unique<Hlc>(m.node, m.clock, clock_before);
            return s;
        }
        events = std::move(m.events);
        m.events.clear();
    }
    impl_->notify(std::move(events));
    return report;
}

Status Replica::discard_quarantined(const Stamp& stamp) {
    std::lock_guard g(impl_->mu);
    auto& m = *impl_;
    MS_RETURN_IF_ERROR(m.check_unlocked());
    return m.in_write_txn([&]() -> Status {
        auto del = m.db.prepare("DELETE FROM quarantine WHERE hlc=?1 AND node=?2");
        if (!del.ok()) return del.status();
        MS_RETURN_IF_ERROR(del->bind(1, static_cast<std::int64_t>(stamp.hlc))
                               .bind_blob(2, stamp.node.raw())
                               .run());
        if (m.db.changes() == 0)
            return Status::not_found("no quarantined transaction " + stamp.to_string());
        return {};
    });
}

}  // namespace mentorsync
