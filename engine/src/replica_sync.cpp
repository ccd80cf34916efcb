// Replica: what sync needs (pending, acknowledge, re-dating, trusted time, apply_remote) and the
// sync and secret values. See mentorsync/replica.h for the contract.
#include "replica_impl.h"

namespace mentorsync {

Result<std::vector<Transaction>> Replica::pending(std::size_t max) const {
    std::lock_guard g(impl_->mu);
    auto& m = *impl_;
    MS_RETURN_IF_ERROR(m.check_unlocked());
    auto stmt = m.db.prepare(
        "SELECT hlc, node, body FROM changes WHERE acked=0 AND origin=0 ORDER BY seq LIMIT ?1");
    if (!stmt.ok()) return stmt.status();
    stmt->bind(1, static_cast<std::int64_t>(std::min<std::size_t>(max, INT64_MAX)));
    std::vector<Transaction> out;
    for (;;) {
        auto r = stmt->step();
        if (!r.ok()) return r.status();
        if (!*r) break;
        Stamp s = stamp_from(stmt->int64(0), stmt->blob(1));
        auto plain = crypto::open(m.data_key, ad_txn(s), stmt->blob(2));
        if (!plain.ok())
            return Status::corrupt("change log entry " + s.to_string() + ": " +
                                   plain.status().message());
        auto txn = decode_stored_transaction(*plain);
        if (!txn.ok()) return txn.status();
        if (txn->stamp != s)
            return Status::corrupt("change log entry " + s.to_string() + " holds another stamp");
        out.push_back(std::move(txn).value());
    }
    return out;
}

Status Replica::acknowledge(std::span<const Stamp> stamps) {
    std::lock_guard g(impl_->mu);
    auto& m = *impl_;
    MS_RETURN_IF_ERROR(m.check_unlocked());
    if (stamps.empty()) return {};
    return m.in_write_txn([&]() -> Status {
        auto stmt =
            m.db.prepare("UPDATE changes SET acked=1 WHERE hlc=?1 AND node=?2 AND origin=0");
        if (!stmt.ok()) return stmt.status();
        for (const auto& s : stamps)
            MS_RETURN_IF_ERROR(stmt->reset()
                                   .bind(1, static_cast<std::int64_t>(s.hlc))
                                   .bind_blob(2, s.node.raw())
                                   .run());
        return {};
    });
}

Result<RestampReport> Replica::restamp_refused(std::span<const Stamp> refused,
                                               std::optional<std::int64_t> server_time_ms,
                                               const RestampSyncValues& also_store) {
    std::vector<ChangeEvent> events;
    RestampReport report;
    {
        std::lock_guard g(impl_->mu);
        auto& m = *impl_;
        MS_RETURN_IF_ERROR(m.check_unlocked());
        const std::uint64_t clock_before = m.hlc->last();
        Status s = m.in_write_txn(
            [&]() -> Status { return m.restamp(refused, server_time_ms, also_store, report); });
        if (!s.ok()) {
            // Nothing was committed: the clock and the report go back to what they were.
            m.hlc = std::make_unique<Hlc>(m.node, m.clock, clock_before);
            return s;
        }
        events = std::move(m.events);
        m.events.clear();
    }
    impl_->notify(std::move(events));
    return report;
}

Status Replica::note_trusted_time(std::int64_t server_time_ms) {
    std::lock_guard g(impl_->mu);
    auto& m = *impl_;
    MS_RETURN_IF_ERROR(m.check_unlocked());
    if (server_time_ms <= 0)
        return Status::invalid_argument("a trusted time must be after 1970-01-01");
    return m.in_write_txn([&]() -> Status {
        auto q = m.db.prepare("SELECT coalesce(max(seq), 0) FROM changes");
        if (!q.ok()) return q.status();
        auto r = q->step();
        if (!r.ok()) return r.status();
        const std::int64_t seq = q->int64(0);
        auto marks = m.time_marks();
        if (!marks.ok()) return marks.status();
        // One reading per log position is enough: a later one at the same position is tighter.
        if (!marks->empty() && marks->back().first == seq)
            marks->back().second = std::max(marks->back().second, server_time_ms);
        else
            marks->emplace_back(seq, server_time_ms);
        if (marks->size() > Impl::kMaxTimeMarks)
            marks->erase(marks->begin(), marks->begin() + static_cast<std::ptrdiff_t>(
                                                              marks->size() - Impl::kMaxTimeMarks));
        return m.put_time_marks(*marks);
    });
}

Result<ApplyReport> Replica::apply_remote(std::span<const Transaction> transactions) {
    std::vector<ChangeEvent> events;
    ApplyReport report;
    {
        std::lock_guard g(impl_->mu);
        auto& m = *impl_;
        MS_RETURN_IF_ERROR(m.check_unlocked());
        if (transactions.empty()) return report;
        const std::uint64_t clock_before = m.hlc->last();
        Status s = m.in_write_txn([&]() -> Status {
            std::set<Stamp> in_batch;
            // Most of the time nothing is quarantined: then one query spares one per transaction.
            auto probe = m.db.prepare("SELECT 1 FROM quarantine LIMIT 1");
            if (!probe.ok()) return probe.status();
            auto any = probe->step();
            if (!any.ok()) return any.status();
            const bool any_quarantined = *any;
            for (const Transaction& txn : transactions) {
                Status v = m.validate_remote(txn);
                if (v.ok()) v = m.check_collections(txn);
                if (v.code() == Code::io || v.code() == Code::corrupt) return v;
                if (!v.ok()) {
                    report.rejected.push_back({txn.stamp, v});
                    continue;
                }
                if (!in_batch.insert(txn.stamp).second) {
                    ++report.duplicates;
                    continue;
                }
                auto exists = m.txn_exists(txn.stamp);
                if (!exists.ok()) return exists.status();
                bool held = false;
                if (any_quarantined) {
                    auto& fq = m.st.find_quarantine.reset()
                                   .bind(1, static_cast<std::int64_t>(txn.stamp.hlc))
                                   .bind_blob(2, txn.stamp.node.raw());
                    auto r = fq.step();
                    m.st.find_quarantine.reset();
                    if (!r.ok()) return r.status();
                    held = *r;
                }
                if (*exists || held) {
                    ++report.duplicates;
                    continue;
                }
                if (!m.hlc->acceptable(txn.stamp)) {
                    std::string body =
                        crypto::seal(m.data_key, ad_quarantine(txn.stamp), encode_transaction(txn));
                    MS_RETURN_IF_ERROR(m.st.put_quarantine.reset()
                                           .bind(1, static_cast<std::int64_t>(txn.stamp.hlc))
                                           .bind_blob(2, txn.stamp.node.raw())
                                           .bind(3, m.clock->now_ms())
                                           .bind(4, static_cast<std::int64_t>(txn.changes.size()))
                                           .bind_blob(5, body)
                                           .run());
                    ++report.quarantined;
                    continue;
                }
                m.hlc->observe(txn.stamp);
                MS_RETURN_IF_ERROR(m.merge_txn(txn, true, &report.conflicts_opened));
                ++report.applied;
                report.changes_applied += txn.changes.size();
            }
            return {};
        });
        if (!s.ok()) {
            // Nothing was committed: the clock must not keep what it observed.
            m.hlc = std::make_unique<Hlc>(m.node, m.clock, clock_before);
            return s;
        }
        events = std::move(m.events);
        m.events.clear();
    }
    impl_->notify(std::move(events));
    return report;
}

Result<std::optional<std::string>> Replica::sync_value(std::string_view key) const {
    std::lock_guard g(impl_->mu);
    auto& m = *impl_;
    MS_RETURN_IF_ERROR(m.check_unlocked());
    auto stmt = m.db.prepare("SELECT value FROM sync_state WHERE key=?1");
    if (!stmt.ok()) return stmt.status();
    stmt->bind_text(1, key);
    auto r = stmt->step();
    if (!r.ok()) return r.status();
    if (!*r) return std::optional<std::string>();
    return std::optional<std::string>(std::string(stmt->blob(0)));
}

Status Replica::set_sync_value(std::string_view key, std::string_view value) {
    std::lock_guard g(impl_->mu);
    auto& m = *impl_;
    MS_RETURN_IF_ERROR(m.check_unlocked());
    if (key.empty()) return Status::invalid_argument("sync value key is empty");
    return m.in_write_txn([&]() -> Status {
        auto stmt = m.db.prepare("INSERT OR REPLACE INTO sync_state(key, value) VALUES(?1, ?2)");
        if (!stmt.ok()) return stmt.status();
        return stmt->bind_text(1, key).bind_blob(2, value).run();
    });
}

// Secret values live in the meta table under "secret:<key>", sealed with the data key.
Result<std::optional<std::string>> Replica::secret_value(std::string_view key) const {
    std::lock_guard g(impl_->mu);
    auto& m = *impl_;
    MS_RETURN_IF_ERROR(m.check_unlocked());
    if (key.empty()) return Status::invalid_argument("secret value key is empty");
    auto blob = m.meta("secret:" + std::string(key));
    if (!blob.ok()) return blob.status();
    if (!*blob) return std::optional<std::string>();
    auto plain = crypto::open(m.data_key, ad_secret(m.node, key), **blob);
    if (!plain.ok()) return plain.status();
    return std::optional<std::string>(std::move(*plain));
}

Status Replica::set_secret_value(std::string_view key, std::string_view value) {
    std::lock_guard g(impl_->mu);
    auto& m = *impl_;
    MS_RETURN_IF_ERROR(m.check_unlocked());
    if (key.empty()) return Status::invalid_argument("secret value key is empty");
    return m.in_write_txn([&]() -> Status {
        return m.put_meta("secret:" + std::string(key),
                          crypto::seal(m.data_key, ad_secret(m.node, key), value));
    });
}

}  // namespace mentorsync
