// Replica: purging a learner who left this device's scope.
// See mentorsync/replica.h for the contract.
#include "replica_impl.h"

namespace mentorsync {

Result<PurgeReport> Replica::purge_learner(const Uuid& learner) {
    std::vector<ChangeEvent> events;
    PurgeReport report;
    {
        std::lock_guard g(impl_->mu);
        auto& m = *impl_;
        MS_RETURN_IF_ERROR(m.check_unlocked());
        if (learner.is_nil()) return Status::invalid_argument("the learner id to purge is nil");
        std::vector<ChangeEvent> purged;
        Status s = m.in_write_txn([&]() -> Status {
            // The log entries about to go may hold the clock's greatest stamp: keep it, so that
            // the next local stamp after a restart is still greater than every stamp issued.
            MS_RETURN_IF_ERROR(m.put_meta("hlc_floor", std::to_string(m.hlc->last())));

            std::set<Uuid> rows;
            {
                auto sel =
                    m.db.prepare("SELECT id, collection, hlc, node FROM rows WHERE learner=?1");
                if (!sel.ok()) return sel.status();
                sel->bind_blob(1, learner.raw());
                for (;;) {
                    auto r = sel->step();
                    if (!r.ok()) return r.status();
                    if (!*r) break;
                    auto id = Uuid::from_bytes(sel->blob(0));
                    if (!id) return Status::corrupt("a row id is malformed");
                    rows.insert(*id);
                    purged.push_back({std::string(sel->text(1)), *id,
                                      stamp_from(sel->int64(2), sel->blob(3)), true, true});
                }
            }
            {
                auto del_conflicts = m.db.prepare("DELETE FROM conflicts WHERE row=?1");
                auto del_row = m.db.prepare("DELETE FROM rows WHERE id=?1");
                if (!del_conflicts.ok()) return del_conflicts.status();
                if (!del_row.ok()) return del_row.status();
                for (const Uuid& id : rows) {
                    MS_RETURN_IF_ERROR(del_conflicts->reset().bind_blob(1, id.raw()).run());
                    report.conflicts += static_cast<std::size_t>(m.db.changes());
                    MS_RETURN_IF_ERROR(del_row->reset().bind_blob(1, id.raw()).run());
                    report.rows += static_cast<std::size_t>(m.db.changes());
                }
            }

            // Whether a transaction is about the learner: it writes one of the purged rows, the
            // learner record, or a record whose learner field names the learner (quarantined
            // transactions were never merged, so their rows may not exist here).
            auto touches = [&](const Transaction& t) {
                for (const Change& c : t.changes) {
                    if (rows.count(c.row)) return true;
                    if (c.collection == "learners") {
                        if (c.row == learner) return true;
                        continue;
                    }
                    const CollectionDef* def = m.schema->collection(c.collection);
                    std::string_view field =
                        def ? std::string_view(def->learner_field) : std::string_view("learner_id");
                    if (!field.empty() && c.field == field && c.value.is_string() &&
                        Uuid::parse(c.value.as_string()) == learner)
                        return true;
                }
                return false;
            };

            {
                auto del = m.db.prepare("DELETE FROM changes WHERE learner=?1");
                if (!del.ok()) return del.status();
                MS_RETURN_IF_ERROR(del->bind_blob(1, learner.raw()).run());
                report.transactions += static_cast<std::size_t>(m.db.changes());
            }
            {
                // Entries without a single learner (several learners, or rows whose learner was
                // not known yet) are decrypted to see whether they touch the learner.
                std::vector<std::int64_t> doomed;
                auto sel =
                    m.db.prepare("SELECT seq, hlc, node, body FROM changes WHERE learner IS NULL");
                if (!sel.ok()) return sel.status();
                for (;;) {
                    auto r = sel->step();
                    if (!r.ok()) return r.status();
                    if (!*r) break;
                    Stamp st = stamp_from(sel->int64(1), sel->blob(2));
                    auto plain = crypto::open(m.data_key, ad_txn(st), sel->blob(3));
                    if (!plain.ok())
                        return Status::corrupt("change log entry " + st.to_string() + ": " +
                                               plain.status().message());
                    auto txn = decode_stored_transaction(*plain);
                    if (!txn.ok()) return txn.status();
                    if (touches(*txn)) doomed.push_back(sel->int64(0));
                }
                auto del = m.db.prepare("DELETE FROM changes WHERE seq=?1");
                if (!del.ok()) return del.status();
                for (auto seq : doomed)
                    MS_RETURN_IF_ERROR(del->reset().bind(1, seq).run());
                report.transactions += doomed.size();
            }
            {
                std::vector<Stamp> doomed;
                auto sel = m.db.prepare("SELECT hlc, node, body FROM quarantine");
                if (!sel.ok()) return sel.status();
                for (;;) {
                    auto r = sel->step();
                    if (!r.ok()) return r.status();
                    if (!*r) break;
                    Stamp st = stamp_from(sel->int64(0), sel->blob(1));
                    auto plain = crypto::open(m.data_key, ad_quarantine(st), sel->blob(2));
                    if (!plain.ok())
                        return Status::corrupt("quarantined transaction " + st.to_string() + ": " +
                                               plain.status().message());
                    auto txn = decode_stored_transaction(*plain);
                    if (!txn.ok()) return txn.status();
                    if (touches(*txn)) doomed.push_back(st);
                }
                auto del = m.db.prepare("DELETE FROM quarantine WHERE hlc=?1 AND node=?2");
                if (!del.ok()) return del.status();
                for (const auto& st : doomed)
                    MS_RETURN_IF_ERROR(del->reset()
                                           .bind(1, static_cast<std::int64_t>(st.hlc))
                                           .bind_blob(2, st.node.raw())
                                           .run());
                report.quarantined += doomed.size();
            }
            return {};
        });
        if (!s.ok()) return s;
        events = std::move(purged);
    }
    impl_->notify(std::move(events));
    return report;
}

}  // namespace mentorsync
