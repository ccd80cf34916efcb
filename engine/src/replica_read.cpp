// Replica: reads (get, query, conflicts), observers and status.
// See mentorsync/replica.h for the contract.
#include "replica_impl.h"

namespace mentorsync {

Result<Record> Replica::get(std::string_view collection, const Uuid& id) const {
    std::lock_guard g(impl_->mu);
    auto& m = *impl_;
    MS_RETURN_IF_ERROR(m.check_unlocked());
    m.cache.clear();
    auto loaded = m.load(id);
    if (!loaded.ok()) return loaded.status();
    Impl::Cached c = std::move(**loaded);
    m.cache.clear();
    if (!c.exists || c.collection != collection)
        return Status::not_found("no " + std::string(collection) + " record " + id.to_string());
    return to_record(c.collection, id, c.state);
}

Result<std::vector<Record>> Replica::query(const Query& q) const {
    std::lock_guard g(impl_->mu);
    auto& m = *impl_;
    MS_RETURN_IF_ERROR(m.check_unlocked());
    const CollectionDef* def = m.schema->collection(q.collection);
    if (!def) return Status::invalid_argument("unknown collection '" + q.collection + "'");
    std::string ref_field = q.ref_field.empty() ? def->learner_field : q.ref_field;
    if (q.ref && ref_field.empty() && q.collection != "learners")
        return Status::invalid_argument(q.collection + " has no learner field to filter on");
    if (q.ref && !ref_field.empty()) {
        const FieldDef* f = def->field(ref_field);
        if (!f || f->type != FieldType::uuid)
            return Status::invalid_argument(q.collection + "." + ref_field +
                                            " is not a reference field");
    }
    if ((!q.from_date.empty() || !q.to_date.empty()) && def->date_field.empty())
        return Status::invalid_argument(q.collection + " has no date field to filter on");
    if (!q.from_date.empty() && !Schema::is_valid_date(q.from_date))
        return Status::invalid_argument("from_date is not a date in the form YYYY-MM-DD");
    if (!q.to_date.empty() && !Schema::is_valid_date(q.to_date))
        return Status::invalid_argument("to_date is not a date in the form YYYY-MM-DD");

    const bool by_index = q.ref && (ref_field == def->learner_field || ref_field.empty());
    auto stmt =
        m.db.prepare(by_index ? "SELECT id, hlc, node, state FROM rows WHERE collection=?1 "
                                "AND learner=?2"
                              : "SELECT id, hlc, node, state FROM rows WHERE collection=?1");
    if (!stmt.ok()) return stmt.status();
    stmt->bind_text(1, q.collection);
    if (by_index) stmt->bind_blob(2, q.ref->raw());
    std::vector<std::pair<std::string, Record>> found;
    for (;;) {
        auto r = stmt->step();
        if (!r.ok()) return r.status();
        if (!*r) break;
        auto id = Uuid::from_bytes(stmt->blob(0));
        if (!id) return Status::corrupt("a row id is malformed");
        Stamp rs = stamp_from(stmt->int64(1), stmt->blob(2));
        auto plain = crypto::open(m.data_key, ad_row(q.collection, *id, rs), stmt->blob(3));
        if (!plain.ok())
            return Status::corrupt("record " + id->to_string() + ": " + plain.status().message());
        auto state = decode_row_state(*plain);
        if (!state.ok()) return state.status();
        Record rec = to_record(q.collection, *id, *state);
        if (rec.deleted && !q.include_deleted) continue;
        if (q.ref && !by_index) {
            auto it = rec.fields.find(ref_field);
            if (it == rec.fields.end() || !it->second.is_string() ||
                Uuid::parse(it->second.as_string()) != q.ref)
                continue;
        }
        std::string day;
        if (!def->date_field.empty()) {
            auto it = rec.fields.find(def->date_field);
            if (it != rec.fields.end() && it->second.is_string()) day = it->second.as_string();
        }
        if (!q.from_date.empty() && day.substr(0, 10) < q.from_date) continue;
        if (!q.to_date.empty() && (day.empty() || day.substr(0, 10) > q.to_date)) continue;
        found.emplace_back(std::move(day), std::move(rec));
    }
    std::sort(found.begin(), found.end(), [](const auto& a, const auto& b) {
        return a.first != b.first ? a.first < b.first : a.second.id < b.second.id;
    });
    std::vector<Record> out;
    for (auto& [day, rec] : found) {
        if (q.limit && out.size() >= q.limit) break;
        out.push_back(std::move(rec));
    }
    return out;
}

Result<std::vector<Conflict>> Replica::conflicts(std::optional<Uuid> row) const {
    std::lock_guard g(impl_->mu);
    auto& m = *impl_;
    MS_RETURN_IF_ERROR(m.check_unlocked());
    auto stmt = m.db.prepare(row ? "SELECT row, field, hlc, node, collection, body FROM conflicts "
                                   "WHERE row=?1 ORDER BY row, field, hlc, node"
                                 : "SELECT row, field, hlc, node, collection, body FROM conflicts "
                                   "ORDER BY row, field, hlc, node");
    if (!stmt.ok()) return stmt.status();
    if (row) stmt->bind_blob(1, row->raw());
    std::vector<Conflict> out;
    m.cache.clear();
    for (;;) {
        auto r = stmt->step();
        if (!r.ok()) return r.status();
        if (!*r) break;
        Conflict c;
        auto id = Uuid::from_bytes(stmt->blob(0));
        if (!id) return Status::corrupt("a conflict's row id is malformed");
        c.row = *id;
        c.field = std::string(stmt->text(1));
        c.loser = stamp_from(stmt->int64(2), stmt->blob(3));
        c.collection = std::string(stmt->text(4));
        auto plain = crypto::open(m.data_key, ad_conflict(c.collection, c.row, c.field, c.loser),
                                  stmt->blob(5));
        if (!plain.ok())
            return Status::corrupt("conflict on record " + c.row.to_string() + ": " +
                                   plain.status().message());
        auto v = decode_value(*plain);
        if (!v.ok()) return v.status();
        c.loser_value = std::move(v).value();
        auto loaded = m.load(c.row);
        if (!loaded.ok()) return loaded.status();
        auto it = (*loaded)->state.fields.find(c.field);
        if (it != (*loaded)->state.fields.end()) {
            c.winner = it->second.stamp;
            c.winner_value = it->second.value;
        }
        out.push_back(std::move(c));
    }
    m.cache.clear();
    return out;
}

std::uint64_t Replica::observe(Observer observer) {
    std::lock_guard g(impl_->obs_mu);
    std::uint64_t id = impl_->next_observer++;
    impl_->observers.emplace(id, std::make_shared<Observer>(std::move(observer)));
    return id;
}

void Replica::unobserve(std::uint64_t id) {
    std::lock_guard g(impl_->obs_mu);
    impl_->observers.erase(id);
}

Result<ReplicaStatus> Replica::status() const {
    std::lock_guard g(impl_->mu);
    auto& m = *impl_;
    MS_RETURN_IF_ERROR(m.check_unlocked());
    ReplicaStatus st;
    st.node = m.node;
    st.schema_version = m.schema->version();
    auto count = [&](const char* q) -> Result<std::size_t> {
        auto stmt = m.db.prepare(q);
        if (!stmt.ok()) return stmt.status();
        auto r = stmt->step();
        if (!r.ok()) return r.status();
        return static_cast<std::size_t>(stmt->int64(0));
    };
    auto p = count("SELECT count(*) FROM changes WHERE acked=0 AND origin=0");
    auto q = count("SELECT count(*) FROM quarantine");
    auto c = count("SELECT count(*) FROM conflicts");
    auto n = count("SELECT count(*) FROM rows");
    for (auto* r : {&p, &q, &c, &n})
        if (!r->ok()) return r->status();
    st.pending_transactions = *p;
    st.quarantined = *q;
    st.open_conflicts = *c;
    st.records = *n;
    return st;
}

}  // namespace mentorsync
