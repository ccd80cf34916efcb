// Replica: local writes (WriteBatch commits, the one-op helpers) and conflict resolution.
// See mentorsync/replica.h for the contract.
#include "replica_impl.h"

namespace mentorsync {

Result<CommitResult> Replica::commit(const WriteBatch& batch) {
    std::vector<ChangeEvent> events;
    CommitResult out;
    {
        std::lock_guard g(impl_->mu);
        auto& m = *impl_;
        MS_RETURN_IF_ERROR(m.check_unlocked());
        if (batch.empty()) return Status::invalid_argument("the write batch is empty");
        Status s = m.in_write_txn([&]() -> Status {
            // Validate every op against the record as the batch has left it so far, folding
            // all ops on one record into one set of field values (later ops win).
            struct RowWrite {
                const std::string* collection;
                Uuid id;
                Impl::Cached* cached;
                bool created = false;
                Fields fields;
            };
            std::vector<RowWrite> writes;
            std::map<Uuid, std::size_t> index;
            out.rows.reserve(batch.size());
            for (std::size_t i = 0; i < batch.ops().size(); ++i) {
                const auto& op = batch.ops()[i];
                auto at = [&] {
                    return "op " + std::to_string(i + 1) + " (" + op.collection + "): record " +
                           op.id.to_string();
                };
                if (!m.schema->collection(op.collection))
                    return Status::validation("unknown collection '" + op.collection + "'");
                if (op.id.is_nil()) return Status::invalid_argument(at() + ": id is nil");
                auto [slot, first] = index.try_emplace(op.id, writes.size());
                if (first) {
                    Impl::Cached* cached = nullptr;
                    if (op.fresh_id) {  // a generated random id cannot exist yet: skip the read
                        cached = m.fresh(op.id);
                    } else {
                        auto loaded = m.load(op.id);
                        if (!loaded.ok()) return loaded.status();
                        cached = *loaded;
                    }
                    writes.push_back({&op.collection, op.id, cached, false, {}});
                }
                RowWrite& w = writes[slot->second];
                const bool stored = w.cached->exists;
                const bool exists = stored || w.created;
                const std::string& owner = stored ? w.cached->collection : *w.collection;
                if (exists && owner != op.collection)
                    return Status::invalid_argument(at() + " belongs to " + owner);
                auto deleted = [&] {
                    auto it = w.fields.find(kDeletedField);
                    if (it != w.fields.end()) return it->second == Value(true);
                    return stored && w.cached->state.deleted();
                };
                switch (op.kind) {
                    case WriteBatch::Op::Kind::create:
                        if (exists) return Status::invalid_argument(at() + " already exists");
                        MS_RETURN_IF_ERROR(m.schema->check_create(op.collection, op.fields));
                        w.created = true;
                        for (const auto& [name, v] : op.fields)
                            if (!v.is_null()) w.fields.emplace(name, v);
                        break;
                    case WriteBatch::Op::Kind::update: {
                        if (!exists) return Status::not_found(at() + " does not exist");
                        if (deleted())
                            return Status::invalid_argument(at() + " is deleted; restore it first");
                        if (op.fields.empty())
                            return Status::invalid_argument(at() + ": update names no fields");
                        Fields current;
                        if (stored)
                            for (const auto& [name, fs] : w.cached->state.fields)
                                current.emplace(name, fs.value);
                        for (const auto& [name, v] : w.fields)
                            current[name] = v;
                        MS_RETURN_IF_ERROR(
                            m.schema->check_update(op.collection, current, op.fields));
                        for (const auto& [name, v] : op.fields)
                            w.fields[name] = v;
                        break;
                    }
                    case WriteBatch::Op::Kind::remove:
                    case WriteBatch::Op::Kind::restore:
                        if (!exists) return Status::not_found(at() + " does not exist");
                        w.fields[std::string(kDeletedField)] =
                            Value(op.kind == WriteBatch::Op::Kind::remove);
                        break;
                }
                out.rows.push_back(op.id);
            }
            Transaction txn;
            txn.stamp = m.hlc->now();
            out.stamp = txn.stamp;
            for (auto& w : writes) {
                for (auto& [name, v] : w.fields) {
                    Stamp prev;
                    if (w.cached->exists) {
                        auto it = w.cached->state.fields.find(name);
                        if (it != w.cached->state.fields.end()) prev = it->second.stamp;
                    }
                    txn.changes.push_back({*w.collection, w.id, name, std::move(v), prev, {}});
                }
            }
            return m.merge_txn(txn, /*remote=*/false, nullptr);
        });
        if (!s.ok()) return s;
        events = std::move(m.events);
        m.events.clear();
    }
    impl_->notify(std::move(events));
    return out;
}

Result<Uuid> Replica::create(std::string_view collection, Fields fields) {
    WriteBatch b;
    Uuid id = b.create(std::string(collection), std::move(fields));
    auto r = commit(b);
    if (!r.ok()) return r.status();
    return id;
}

Status Replica::update(std::string_view collection, const Uuid& id, Fields changes) {
    WriteBatch b;
    b.update(std::string(collection), id, std::move(changes));
    return commit(b).status();
}

Status Replica::remove(std::string_view collection, const Uuid& id) {
    WriteBatch b;
    b.remove(std::string(collection), id);
    return commit(b).status();
}

Status Replica::restore(std::string_view collection, const Uuid& id) {
    WriteBatch b;
    b.restore(std::string(collection), id);
    return commit(b).status();
}

Result<Stamp> Replica::resolve_conflict(const Uuid& row, std::string_view field, const Stamp& loser,
                                        Resolution how, const Value& custom_value) {
    std::vector<ChangeEvent> events;
    Stamp stamp;
    {
        std::lock_guard g(impl_->mu);
        auto& m = *impl_;
        MS_RETURN_IF_ERROR(m.check_unlocked());
        auto stmt = m.db.prepare(
            "SELECT collection, body FROM conflicts WHERE row=?1 AND field=?2 AND hlc=?3 AND "
            "node=?4");
        if (!stmt.ok()) return stmt.status();
        stmt->bind_blob(1, row.raw())
            .bind_text(2, field)
            .bind(3, static_cast<std::int64_t>(loser.hlc));
        stmt->bind_blob(4, loser.node.raw());
        auto r = stmt->step();
        if (!r.ok()) return r.status();
        if (!*r)
            return Status::not_found("no open conflict on " + row.to_string() + "." +
                                     std::string(field) + " losing at " + loser.to_string());
        std::string collection(stmt->text(0));
        auto plain =
            crypto::open(m.data_key, ad_conflict(collection, row, field, loser), stmt->blob(1));
        if (!plain.ok()) return plain.status();
        auto loser_value = decode_value(*plain);
        if (!loser_value.ok()) return loser_value.status();
        stmt = sql::Stmt();

        Status s = m.in_write_txn([&]() -> Status {
            auto loaded = m.load(row);
            if (!loaded.ok()) return loaded.status();
            Impl::Cached& c = **loaded;
            auto it = c.state.fields.find(field);
            if (it == c.state.fields.end())
                return Status::internal("conflict without a field state");
            Value v;
            switch (how) {
                case Resolution::keep_winner:
                    v = it->second.value;
                    break;
                case Resolution::take_loser:
                    v = *loser_value;
                    break;
                case Resolution::custom:
                    v = custom_value;
                    break;
            }
            const CollectionDef* def = m.schema->collection(collection);
            const FieldDef* fdef = def ? def->field(field) : nullptr;
            if (fdef) {
                MS_RETURN_IF_ERROR(m.schema->check_value(*def, *fdef, v));
                if (fdef->required && v.is_null())
                    return Status::validation(collection + "." + std::string(field) +
                                              ": is required and cannot be cleared");
            } else if (field == kDeletedField && !v.is_bool() && !v.is_null()) {
                return Status::validation(collection + "._deleted: expected true or false");
            }
            Transaction txn;
            txn.stamp = m.hlc->now();
            txn.changes.push_back(
                {collection, row, std::string(field), v, it->second.stamp, {loser}});
            stamp = txn.stamp;
            return m.merge_txn(txn, false, nullptr);
        });
        if (!s.ok()) return s;
        events = std::move(m.events);
        m.events.clear();
    }
    impl_->notify(std::move(events));
    return stamp;
}

}  // namespace mentorsync
