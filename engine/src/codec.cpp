#include "codec.h"

#include "msgpack_util.h"

#include <msgpack.hpp>

#include <algorithm>
#include <limits>

namespace mentorsync {
namespace {

using Packer = msgpack::packer<msgpack::sbuffer>;
constexpr std::uint32_t kFormat = 1;

void pack_uuid(Packer& pk, const Uuid& u) {
    pk.pack_bin(16);
    pk.pack_bin_body(reinterpret_cast<const char*>(u.bytes.data()), 16);
}

void pack_string(Packer& pk, std::string_view s) {
    mp::pack_str(pk, s);
}
void pack_value(Packer& pk, const Value& v) {
    mp::pack_value(pk, v);
}

void pack_stamp(Packer& pk, const Stamp& s) {
    pk.pack_array(2);
    pk.pack_uint64(s.hlc);
    pack_uuid(pk, s.node);
}

// Reading helpers. `Err` makes the Status: invalid_argument for outside bytes, corrupt for ours.
struct Reader {
    Code code;
    const DecodeLimits& limits;
    std::string what;

    Status fail(const std::string& msg) const { return Status(code, what + ": " + msg); }

    Status array(const msgpack::object& o, std::size_t min, std::size_t max, const char* name,
                 const msgpack::object_array*& out) const {
        if (o.type != msgpack::type::ARRAY) return fail(std::string(name) + " is not an array");
        if (o.via.array.size < min || o.via.array.size > max)
            return fail(std::string(name) + " has " + std::to_string(o.via.array.size) +
                        " items, expected " + std::to_string(min) +
                        (min == max ? "" : " to " + std::to_string(max)));
        out = &o.via.array;
        return {};
    }
    Status uint(const msgpack::object& o, const char* name, std::uint64_t& out) const {
        if (o.type != msgpack::type::POSITIVE_INTEGER)
            return fail(std::string(name) + " is not an unsigned integer");
        out = o.via.u64;
        return {};
    }
    Status uuid(const msgpack::object& o, const char* name, Uuid& out) const {
        if (o.type != msgpack::type::BIN || o.via.bin.size != 16)
            return fail(std::string(name) + " is not 16 bytes of binary");
        std::copy_n(reinterpret_cast<const std::uint8_t*>(o.via.bin.ptr), 16, out.bytes.begin());
        return {};
    }
    Status str(const msgpack::object& o, const char* name, std::string& out) const {
        if (o.type != msgpack::type::STR) return fail(std::string(name) + " is not a string");
        if (o.via.str.size > limits.max_string)
            return fail(std::string(name) + " is longer than " + std::to_string(limits.max_string) +
                        " bytes");
        out.assign(o.via.str.ptr, o.via.str.size);
        return {};
    }
    Status stamp(const msgpack::object& o, const char* name, Stamp& out) const {
        const msgpack::object_array* a;
        MS_RETURN_IF_ERROR(array(o, 2, 2, name, a));
        MS_RETURN_IF_ERROR(uint(a->ptr[0], name, out.hlc));
        return uuid(a->ptr[1], name, out.node);
    }
    Status value(const msgpack::object& o, std::size_t depth, Value& out) const {
        switch (o.type) {
            case msgpack::type::NIL:
                out = Value();
                return {};
            case msgpack::type::BOOLEAN:
                out = Value(o.via.boolean);
                return {};
            case msgpack::type::POSITIVE_INTEGER:
                if (o.via.u64 >
                    static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()))
                    return fail("an integer value is larger than 2^63-1");
                out = Value(static_cast<std::int64_t>(o.via.u64));
                return {};
            case msgpack::type::NEGATIVE_INTEGER:
                out = Value(o.via.i64);
                return {};
            case msgpack::type::FLOAT32:
            case msgpack::type::FLOAT64:
                out = Value(o.via.f64);
                return {};
            case msgpack::type::STR: {
                std::string s;
                MS_RETURN_IF_ERROR(str(o, "a string value", s));
                out = Value(std::move(s));
                return {};
            }
            case msgpack::type::ARRAY: {
                if (depth >= limits.max_depth) return fail("a list value is nested too deeply");
                if (o.via.array.size > limits.max_list)
                    return fail("a list value has more than " + std::to_string(limits.max_list) +
                                " items");
                Value::List list;
                list.reserve(o.via.array.size);
                for (std::uint32_t i = 0; i < o.via.array.size; ++i) {
                    Value item;
                    MS_RETURN_IF_ERROR(value(o.via.array.ptr[i], depth + 1, item));
                    list.push_back(std::move(item));
                }
                out = Value(std::move(list));
                return {};
            }
            case msgpack::type::MAP:
                return fail("a value is a map; values are scalars or lists");
            case msgpack::type::BIN:
                return fail("a value is binary; strings must be UTF-8 str");
            default:
                return fail("a value has an unsupported msgpack type");
        }
    }
};

// Unpacks one msgpack object that must span the whole input.
Status unpack_whole(std::string_view bytes, const Reader& r, msgpack::object_handle& out) {
    if (bytes.size() > r.limits.max_bytes)
        return r.fail("is " + std::to_string(bytes.size()) + " bytes, more than the limit of " +
                      std::to_string(r.limits.max_bytes));
    try {
        std::size_t off = 0;
        const std::size_t lim = std::max<std::size_t>(r.limits.max_changes, r.limits.max_list);
        msgpack::unpack_limit limit(lim, 0, r.limits.max_string, 64, 0, r.limits.max_depth);
        out = msgpack::unpack(bytes.data(), bytes.size(), off, nullptr, nullptr, limit);
        if (off != bytes.size()) return r.fail("has trailing bytes after the msgpack value");
        return {};
    } catch (const msgpack::depth_size_overflow&) {
        return r.fail("is nested deeper than " + std::to_string(r.limits.max_depth) + " levels");
    } catch (const msgpack::size_overflow&) {
        return r.fail("has an array, string or binary longer than the limits allow");
    } catch (const msgpack::insufficient_bytes&) {
        return r.fail("is truncated");
    } catch (const std::exception&) {
        return r.fail("is not valid msgpack");
    }
}

}  // namespace

bool RowState::deleted() const {
    auto it = fields.find(kDeletedField);
    return it != fields.end() && it->second.value.is_bool() && it->second.value.as_bool();
}

Stamp RowState::max_stamp() const {
    Stamp m;
    for (const auto& [name, fs] : fields)
        m = std::max(m, fs.stamp);
    return m;
}

std::string encode_transaction(const Transaction& txn) {
    msgpack::sbuffer buf(256);
    Packer pk(buf);
    // Distinct non-zero prev/resolve stamps go into one table; changes refer to them by
    // 1-based index (0 = none), so a record's creation costs one byte of prev per field.
    std::vector<Stamp> table;
    auto index_of = [&table](const Stamp& s) -> std::uint32_t {
        if (s.is_zero()) return 0;
        auto it = std::find(table.begin(), table.end(), s);
        if (it != table.end()) return static_cast<std::uint32_t>(it - table.begin()) + 1;
        table.push_back(s);
        return static_cast<std::uint32_t>(table.size());
    };
    // Groups: runs of consecutive changes to the same (collection, row).
    std::vector<std::pair<std::size_t, std::size_t>> groups;
    for (std::size_t i = 0; i < txn.changes.size(); ++i) {
        if (!groups.empty()) {
            const Change& prev = txn.changes[groups.back().first];
            if (prev.collection == txn.changes[i].collection && prev.row == txn.changes[i].row) {
                ++groups.back().second;
                continue;
            }
        }
        groups.emplace_back(i, 1);
    }
    pk.pack_array(5);
    pk.pack_uint32(kFormat);
    pk.pack_uint64(txn.stamp.hlc);
    pack_uuid(pk, txn.stamp.node);
    pk.pack_array(static_cast<std::uint32_t>(groups.size()));
    for (auto [start, count] : groups) {
        pk.pack_array(3);
        pack_string(pk, txn.changes[start].collection);
        pack_uuid(pk, txn.changes[start].row);
        pk.pack_array(static_cast<std::uint32_t>(count));
        for (std::size_t i = start; i < start + count; ++i) {
            const Change& c = txn.changes[i];
            pk.pack_array(c.resolves.empty() ? 3 : 4);
            pack_string(pk, c.field);
            pack_value(pk, c.value);
            pk.pack_uint32(index_of(c.prev));
            if (!c.resolves.empty()) {
                pk.pack_array(static_cast<std::uint32_t>(c.resolves.size()));
                for (const auto& s : c.resolves)
                    pk.pack_uint32(index_of(s));
            }
        }
    }
    pk.pack_array(static_cast<std::uint32_t>(table.size()));
    for (const auto& s : table)
        pack_stamp(pk, s);
    return std::string(buf.data(), buf.size());
}

namespace {

Result<Transaction> decode_transaction_as(std::string_view bytes, const DecodeLimits& limits,
                                          Code code) {
    Reader r{code, limits, "transaction"};
    msgpack::object_handle oh;
    MS_RETURN_IF_ERROR(unpack_whole(bytes, r, oh));
    const msgpack::object_array* top;
    MS_RETURN_IF_ERROR(r.array(oh.get(), 5, 5, "transaction", top));
    std::uint64_t format = 0;
    MS_RETURN_IF_ERROR(r.uint(top->ptr[0], "format", format));
    if (format != kFormat)
        return Status::unsupported("transaction format " + std::to_string(format) +
                                   " is not supported by this build (it reads format 1)");
    Transaction txn;
    MS_RETURN_IF_ERROR(r.uint(top->ptr[1], "stamp", txn.stamp.hlc));
    MS_RETURN_IF_ERROR(r.uuid(top->ptr[2], "node", txn.stamp.node));
    if (txn.stamp.hlc == 0) return r.fail("stamp is zero");

    const msgpack::object_array* table_arr;
    MS_RETURN_IF_ERROR(r.array(top->ptr[4], 0, limits.max_changes * 2, "stamp table", table_arr));
    std::vector<Stamp> table(table_arr->size);
    for (std::uint32_t i = 0; i < table_arr->size; ++i)
        MS_RETURN_IF_ERROR(r.stamp(table_arr->ptr[i], "stamp table entry", table[i]));
    auto lookup = [&](const msgpack::object& o, Stamp& out) -> Status {
        std::uint64_t idx = 0;
        MS_RETURN_IF_ERROR(r.uint(o, "stamp index", idx));
        if (idx > table.size())
            return r.fail("stamp index " + std::to_string(idx) + " is out of range");
        out = idx == 0 ? Stamp{} : table[idx - 1];
        return {};
    };

    const msgpack::object_array* groups;
    MS_RETURN_IF_ERROR(r.array(top->ptr[3], 1, limits.max_changes, "row groups", groups));
    for (std::uint32_t g = 0; g < groups->size; ++g) {
        const msgpack::object_array* group;
        MS_RETURN_IF_ERROR(r.array(groups->ptr[g], 3, 3, "row group", group));
        std::string collection;
        Uuid row;
        MS_RETURN_IF_ERROR(r.str(group->ptr[0], "collection", collection));
        if (collection.empty()) return r.fail("collection is empty");
        MS_RETURN_IF_ERROR(r.uuid(group->ptr[1], "row id", row));
        const msgpack::object_array* changes;
        MS_RETURN_IF_ERROR(r.array(group->ptr[2], 1, limits.max_changes, "changes", changes));
        if (txn.changes.size() + changes->size > limits.max_changes)
            return r.fail("has more than " + std::to_string(limits.max_changes) + " changes");
        for (std::uint32_t i = 0; i < changes->size; ++i) {
            const msgpack::object_array* ch;
            MS_RETURN_IF_ERROR(r.array(changes->ptr[i], 3, 4, "change", ch));
            Change c;
            c.collection = collection;
            c.row = row;
            MS_RETURN_IF_ERROR(r.str(ch->ptr[0], "field name", c.field));
            if (c.field.empty()) return r.fail("a field name is empty");
            MS_RETURN_IF_ERROR(r.value(ch->ptr[1], 2, c.value));
            MS_RETURN_IF_ERROR(lookup(ch->ptr[2], c.prev));
            if (ch->size == 4) {
                const msgpack::object_array* res;
                MS_RETURN_IF_ERROR(r.array(ch->ptr[3], 1, limits.max_list, "resolves", res));
                for (std::uint32_t k = 0; k < res->size; ++k) {
                    Stamp s;
                    MS_RETURN_IF_ERROR(lookup(res->ptr[k], s));
                    c.resolves.push_back(s);
                }
            }
            txn.changes.push_back(std::move(c));
        }
    }
    return txn;
}

}  // namespace

Result<Transaction> decode_transaction(std::string_view bytes, const DecodeLimits& limits) {
    return decode_transaction_as(bytes, limits, Code::invalid_argument);
}

std::string encode_row_state(const RowState& state) {
    msgpack::sbuffer buf(256);
    Packer pk(buf);
    std::vector<Stamp> table;
    std::vector<std::uint32_t> idx;
    idx.reserve(state.fields.size());
    for (const auto& [name, fs] : state.fields) {
        auto it = std::find(table.begin(), table.end(), fs.stamp);
        if (it == table.end()) {
            table.push_back(fs.stamp);
            idx.push_back(static_cast<std::uint32_t>(table.size() - 1));
        } else {
            idx.push_back(static_cast<std::uint32_t>(it - table.begin()));
        }
    }
    pk.pack_array(4);
    pk.pack_uint32(kFormat);
    pk.pack_array(static_cast<std::uint32_t>(table.size()));
    for (const auto& s : table)
        pack_stamp(pk, s);
    pk.pack_array(static_cast<std::uint32_t>(state.fields.size()));
    std::size_t i = 0;
    for (const auto& [name, fs] : state.fields) {
        pk.pack_array(3);
        pack_string(pk, name);
        pack_value(pk, fs.value);
        pk.pack_uint32(idx[i++]);
    }
    pk.pack_array(static_cast<std::uint32_t>(state.seen_early.size()));
    for (const auto& [field, stamp] : state.seen_early) {
        pk.pack_array(2);
        pack_string(pk, field);
        pack_stamp(pk, stamp);
    }
    return std::string(buf.data(), buf.size());
}

Result<RowState> decode_row_state(std::string_view bytes) {
    static const DecodeLimits limits{64u << 20, 100'000, 1u << 20, 100'000, 8};
    Reader r{Code::corrupt, limits, "row state"};
    msgpack::object_handle oh;
    MS_RETURN_IF_ERROR(unpack_whole(bytes, r, oh));
    const msgpack::object_array* top;
    MS_RETURN_IF_ERROR(r.array(oh.get(), 4, 4, "row state", top));
    std::uint64_t format = 0;
    MS_RETURN_IF_ERROR(r.uint(top->ptr[0], "format", format));
    if (format != kFormat) return Status::unsupported("row state format " + std::to_string(format));
    const msgpack::object_array* table_arr;
    MS_RETURN_IF_ERROR(r.array(top->ptr[1], 0, limits.max_changes, "stamps", table_arr));
    std::vector<Stamp> table(table_arr->size);
    for (std::uint32_t i = 0; i < table_arr->size; ++i)
        MS_RETURN_IF_ERROR(r.stamp(table_arr->ptr[i], "stamp", table[i]));
    const msgpack::object_array* fields;
    MS_RETURN_IF_ERROR(r.array(top->ptr[2], 0, limits.max_changes, "fields", fields));
    RowState state;
    for (std::uint32_t i = 0; i < fields->size; ++i) {
        const msgpack::object_array* f;
        MS_RETURN_IF_ERROR(r.array(fields->ptr[i], 3, 3, "field", f));
        std::string name;
        FieldState fs;
        std::uint64_t si = 0;
        MS_RETURN_IF_ERROR(r.str(f->ptr[0], "field name", name));
        MS_RETURN_IF_ERROR(r.value(f->ptr[1], 2, fs.value));
        MS_RETURN_IF_ERROR(r.uint(f->ptr[2], "stamp index", si));
        if (si >= table.size()) return r.fail("stamp index out of range");
        fs.stamp = table[si];
        state.fields.emplace(std::move(name), std::move(fs));
    }
    const msgpack::object_array* early;
    MS_RETURN_IF_ERROR(r.array(top->ptr[3], 0, limits.max_changes, "seen-early stamps", early));
    for (std::uint32_t i = 0; i < early->size; ++i) {
        const msgpack::object_array* e;
        MS_RETURN_IF_ERROR(r.array(early->ptr[i], 2, 2, "seen-early entry", e));
        std::string field;
        Stamp s;
        MS_RETURN_IF_ERROR(r.str(e->ptr[0], "field name", field));
        MS_RETURN_IF_ERROR(r.stamp(e->ptr[1], "stamp", s));
        state.seen_early.emplace_back(std::move(field), s);
    }
    return state;
}

std::string encode_value(const Value& value) {
    msgpack::sbuffer buf(64);
    Packer pk(buf);
    pack_value(pk, value);
    return std::string(buf.data(), buf.size());
}

Result<Value> decode_value(std::string_view bytes) {
    static const DecodeLimits limits{64u << 20, 100'000, 1u << 20, 100'000, 8};
    Reader r{Code::corrupt, limits, "stored value"};
    msgpack::object_handle oh;
    MS_RETURN_IF_ERROR(unpack_whole(bytes, r, oh));
    Value v;
    MS_RETURN_IF_ERROR(r.value(oh.get(), 0, v));
    return v;
}

// Transactions read back from our own change log: damage there is corruption, not bad input.
Result<Transaction> decode_stored_transaction(std::string_view bytes) {
    static const DecodeLimits limits{64u << 20, 100'000, 1u << 20, 100'000, 8};
    return decode_transaction_as(bytes, limits, Code::corrupt);
}

}  // namespace mentorsync
