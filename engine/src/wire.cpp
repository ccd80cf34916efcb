// The sync protocol's wire encoding (docs/protocol.md sections 2 to 8) and request signing.
//
// Writers pack with msgpack-cxx straight into a std::string. Readers first unpack the whole body
// under the protocol's limits (size, nesting, string and container lengths), so no input can
// make them allocate without bound, then walk the object tree and turn anything unexpected into
// Code::invalid_argument with a message that names where it was ("txns.items[3].groups[0]: ...").
// Messages never echo string values from the input: they may be personal data.
#include "mentorsync/wire.h"

#include <sodium.h>

#include <msgpack.hpp>

#include "msgpack_util.h"

#include <algorithm>
#include <iterator>
#include <limits>
#include <map>
#include <set>

#include "common/digest.h"
#include "common/encoding.h"
#include "common/text.h"
#include "crypto.h"

namespace mentorsync::wire {
namespace {

// msgpack-cxx packs into any stream with write(); this one appends to a caller's string so that
// append_transactions() can add to a body being built without a copy.
struct StringSink {
    std::string* out;
    void write(const char* data, std::size_t size) { out->append(data, size); }
};
using Packer = msgpack::packer<StringSink>;

// Any array or map in a body: bounds what the unpacker allocates for a container header before
// its items are read (a 4 MiB body cannot make it reserve gigabytes).
constexpr std::size_t kMaxContainerItems = 65'536;

// The protocol's error table (docs/protocol.md, section 2), one row per wire::Error in the
// enum's order. `code` is what a Status made by wire::error() carries for programs that look
// only at Codes (logs, the engine's own callers); the HTTP answer comes from `http_status`.
struct ErrorRow {
    Error error;
    std::string_view name;
    int http_status;
    Code code;
};
constexpr ErrorRow kErrorTable[] = {
    {Error::bad_request, "bad_request", 400, Code::invalid_argument},
    {Error::too_deep, "too_deep", 400, Code::invalid_argument},
    {Error::string_too_long, "string_too_long", 400, Code::invalid_argument},
    {Error::unsigned_request, "unsigned", 401, Code::invalid_argument},
    {Error::unknown_device, "unknown_device", 401, Code::not_found},
    {Error::bad_signature, "bad_signature", 401, Code::invalid_argument},
    {Error::stale_timestamp, "stale_timestamp", 401, Code::invalid_argument},
    {Error::replayed_nonce, "replayed_nonce", 401, Code::invalid_argument},
    {Error::device_revoked, "device_revoked", 403, Code::closed},
    {Error::enrollment_invalid, "enrollment_invalid", 403, Code::invalid_argument},
    {Error::not_found, "not_found", 404, Code::not_found},
    {Error::method_not_allowed, "method_not_allowed", 405, Code::unsupported},
    {Error::node_in_use, "node_in_use", 409, Code::invalid_argument},
    {Error::batch_mismatch, "batch_mismatch", 409, Code::invalid_argument},
    {Error::body_too_large, "body_too_large", 413, Code::invalid_argument},
    {Error::too_many_transactions, "too_many_transactions", 413, Code::invalid_argument},
    {Error::unsupported_media_type, "unsupported_media_type", 415, Code::unsupported},
    {Error::rate_limited, "rate_limited", 429, Code::locked_out},
    {Error::headers_too_large, "headers_too_large", 431, Code::invalid_argument},
    {Error::internal, "internal", 500, Code::internal},
    {Error::unavailable, "unavailable", 503, Code::io},
};
constexpr std::size_t kErrorCount = std::size(kErrorTable);

constexpr bool table_in_enum_order() {
    for (std::size_t i = 0; i < kErrorCount; ++i)
        if (static_cast<std::size_t>(kErrorTable[i].error) != i + 1) return false;
    return true;
}
static_assert(table_in_enum_order(), "kErrorTable must list every wire::Error in enum order");
static_assert(kErrorCodeCount == kErrorCount, "kErrorTable must list every wire::Error");

const ErrorRow& row_of(Error e) noexcept {
    const auto i = static_cast<std::size_t>(e);
    return i >= 1 && i <= kErrorCount ? kErrorTable[i - 1] : kErrorTable[0];
}

constexpr auto make_error_list() {
    std::array<Error, kErrorCount> out{};
    for (std::size_t i = 0; i < kErrorCount; ++i)
        out[i] = kErrorTable[i].error;
    return out;
}
constexpr std::array<Error, kErrorCount> kErrorList = make_error_list();

std::string num(std::size_t n) {
    return std::to_string(n);
}

// ---- writing ----------------------------------------------------------------------------------

using mp::pack_bin;
using mp::pack_str;
using mp::pack_value;

std::optional<std::size_t> collection_number(const Schema& schema, std::string_view name) {
    const auto& cs = schema.collections();
    for (std::size_t i = 0; i < cs.size(); ++i)
        if (cs[i].name == name) return i;
    return std::nullopt;
}

std::optional<std::size_t> field_number(const CollectionDef& c, std::string_view name) {
    if (name == kDeletedField) return std::nullopt;  // always a string (section 6)
    for (std::size_t i = 0; i < c.fields.size(); ++i)
        if (c.fields[i].name == name) return i;
    return std::nullopt;
}

// The node table of one `txns` value: every transaction's node and every non-zero seen stamp's.
class NodeTable {
  public:
    std::uint32_t index(const Uuid& node) {
        auto [it, added] = index_.try_emplace(node, static_cast<std::uint32_t>(nodes_.size()));
        if (added) nodes_.push_back(node);
        return it->second;
    }
    const std::vector<Uuid>& nodes() const { return nodes_; }

  private:
    std::vector<Uuid> nodes_;
    std::map<Uuid, std::uint32_t> index_;
};

// ---- reading ----------------------------------------------------------------------------------

Status bad(std::string_view where, std::string_view what) {
    std::string m(where);
    m += ": ";
    m += what;
    return Status::invalid_argument(std::move(m));
}

std::string_view type_name(const msgpack::object& o) {
    switch (o.type) {
        case msgpack::type::NIL:
            return "nil";
        case msgpack::type::BOOLEAN:
            return "a boolean";
        case msgpack::type::POSITIVE_INTEGER:
            return "an unsigned integer";
        case msgpack::type::NEGATIVE_INTEGER:
            return "a negative integer";
        case msgpack::type::FLOAT32:
        case msgpack::type::FLOAT64:
            return "a float";
        case msgpack::type::STR:
            return "a string";
        case msgpack::type::BIN:
            return "binary";
        case msgpack::type::ARRAY:
            return "an array";
        case msgpack::type::MAP:
            return "a map";
        default:
            return "an extension type";
    }
}

Status wrong_type(std::string_view where, const msgpack::object& o, std::string_view expected) {
    return bad(where, "is " + std::string(type_name(o)) + ", expected " + std::string(expected));
}

// Unpacking gives every value a 24-byte msgpack::object (strings and binaries are copied once
// more), so a body of one-byte values would cost 24 times its size and more. A request body (what
// the server decodes, before it knows who sent it) may hold at most one value per kBytesPerValue
// bytes (plus a little for tiny bodies), which keeps the tree within about 13 times the body.
// Real requests stay far below it: a change costs its field code, a value and often a 16-byte id
// or a string, and every row 21 bytes for 3 values (docs/protocol.md §3).
// Answers (what a device decodes from the server it enrolled with) are not counted: a push
// answer is one byte per accepted transaction, so 200 accepted transactions already hold more
// than one value per 2 bytes. Their cost is bounded by the body limit and the container limits.
constexpr std::size_t kBytesPerValue = 2;
constexpr std::size_t kValueSlack = 16;

enum class Sender { client, server };

// Counts the values of a msgpack body without building anything (msgpack-cxx's parser with a
// visitor). Stops early past `max_values` or past the nesting limit, so that the parser's own
// stack stays small too; the unpack that follows reports the nesting error with its usual text.
class ValueCounter : public msgpack::null_visitor {
  public:
    explicit ValueCounter(std::size_t max_values) : max_(max_values) {}
    bool over() const { return over_; }
    std::size_t values() const { return values_; }

    bool visit_nil() { return count(); }
    bool visit_boolean(bool) { return count(); }
    bool visit_positive_integer(std::uint64_t) { return count(); }
    bool visit_negative_integer(std::int64_t) { return count(); }
    bool visit_float32(float) { return count(); }
    bool visit_float64(double) { return count(); }
    bool visit_str(const char*, std::uint32_t) { return count(); }
    bool visit_bin(const char*, std::uint32_t) { return count(); }
    bool visit_ext(const char*, std::uint32_t) { return count(); }
    bool start_array(std::uint32_t) { return nest() && count(); }
    bool end_array() { return unnest(); }
    bool start_map(std::uint32_t) { return nest() && count(); }
    bool end_map() { return unnest(); }

  private:
    bool count() {
        if (++values_ <= max_) return true;
        over_ = true;
        return false;
    }
    bool nest() { return ++depth_ <= kMaxDepth; }
    bool unnest() {
        --depth_;
        return true;
    }
    std::size_t max_;
    std::size_t values_ = 0;
    std::size_t depth_ = 0;
    bool over_ = false;
};

// Unpacks one msgpack value that must span the whole of `bytes`, under the protocol's limits
// (the value count only for what a client sent).
Status unpack_whole(std::string_view bytes, std::string_view what, msgpack::object_handle& out,
                    Sender from) {
    if (bytes.size() > kMaxBodyBytes)
        return bad(what, "is " + num(bytes.size()) + " bytes, more than the body limit of " +
                             num(kMaxBodyBytes))
            .with_reason(reason(Error::body_too_large));
    if (bytes.empty()) return bad(what, "is empty");
    if (from == Sender::client) {
        ValueCounter counter(bytes.size() / kBytesPerValue + kValueSlack);
        std::size_t scanned = 0;
        msgpack::parse(bytes.data(), bytes.size(), scanned, counter);
        if (counter.over())
            return bad(what, "holds more than " + num(bytes.size() / kBytesPerValue + kValueSlack) +
                                 " msgpack values, the limit for " + num(bytes.size()) +
                                 " bytes (one value per " + num(kBytesPerValue) + " bytes)");
    }
    try {
        std::size_t off = 0;
        // The ext limit of 0 refuses extension types (the protocol has none) while unpacking.
        msgpack::unpack_limit limit(kMaxContainerItems, kMaxContainerItems, kMaxStringBytes,
                                    kMaxStringBytes, 0, kMaxDepth);
        out = msgpack::unpack(bytes.data(), bytes.size(), off, nullptr, nullptr, limit);
        if (off != bytes.size())
            return bad(
                what, "has " + num(bytes.size() - off) + " trailing bytes after the msgpack value");
        return {};
    } catch (const msgpack::depth_size_overflow&) {
        return bad(what, "msgpack is nested deeper than " + num(kMaxDepth) + " levels")
            .with_reason(reason(Error::too_deep));
    } catch (const msgpack::str_size_overflow&) {
        return bad(what, "a string is longer than the limit of " + num(kMaxStringBytes) + " bytes")
            .with_reason(reason(Error::string_too_long));
    } catch (const msgpack::bin_size_overflow&) {
        return bad(what, "a binary is longer than the limit of " + num(kMaxStringBytes) + " bytes")
            .with_reason(reason(Error::string_too_long));
    } catch (const msgpack::array_size_overflow&) {
        return bad(what, "an array has more than " + num(kMaxContainerItems) + " items");
    } catch (const msgpack::map_size_overflow&) {
        return bad(what, "a map has more than " + num(kMaxContainerItems) + " entries");
    } catch (const msgpack::ext_size_overflow&) {
        return bad(what, "holds a msgpack extension type, which the protocol does not use");
    } catch (const msgpack::insufficient_bytes&) {
        return bad(what, "is truncated");
    } catch (const std::bad_alloc&) {
        return bad(what, "is too large to decode");
    } catch (const std::exception&) {
        return bad(what, "is not valid msgpack");
    }
}

Status read_array(const msgpack::object& o, std::string_view where, std::size_t min,
                  std::size_t max, const msgpack::object_array*& out) {
    if (o.type != msgpack::type::ARRAY) return wrong_type(where, o, "an array");
    const std::size_t n = o.via.array.size;
    if (n < min || n > max) {
        std::string expected = min == max        ? num(min)
                               : max == SIZE_MAX ? "at least " + num(min)
                                                 : num(min) + " to " + num(max);
        return bad(where, "has " + num(n) + " items, expected " + expected);
    }
    out = &o.via.array;
    return {};
}

Status read_uint(const msgpack::object& o, std::string_view where, std::uint64_t& out) {
    if (o.type != msgpack::type::POSITIVE_INTEGER)
        return wrong_type(where, o, "an unsigned integer");
    out = o.via.u64;
    return {};
}

Status read_time(const msgpack::object& o, std::string_view where, std::int64_t& out) {
    std::uint64_t v = 0;
    MS_RETURN_IF_ERROR(read_uint(o, where, v));
    if (v > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()))
        return bad(where, "is larger than 2^63-1");
    out = static_cast<std::int64_t>(v);
    return {};
}

Status read_bin(const msgpack::object& o, std::string_view where, std::size_t max,
                std::string& out) {
    if (o.type != msgpack::type::BIN) return wrong_type(where, o, "binary");
    if (o.via.bin.size > max)
        return bad(where, "is " + num(o.via.bin.size) + " bytes, more than " + num(max));
    out.assign(o.via.bin.ptr, o.via.bin.size);
    return {};
}

Status read_uuid(const msgpack::object& o, std::string_view where, Uuid& out) {
    if (o.type != msgpack::type::BIN) return wrong_type(where, o, "16 bytes of binary");
    if (o.via.bin.size != 16)
        return bad(where, "is " + num(o.via.bin.size) + " bytes of binary, expected 16");
    std::copy_n(reinterpret_cast<const std::uint8_t*>(o.via.bin.ptr), 16, out.bytes.begin());
    return {};
}

Status read_str(const msgpack::object& o, std::string_view where, std::string& out) {
    if (o.type != msgpack::type::STR) return wrong_type(where, o, "a string");
    out.assign(o.via.str.ptr, o.via.str.size);
    return {};
}

Status read_bool(const msgpack::object& o, std::string_view where, bool& out) {
    if (o.type != msgpack::type::BOOLEAN) return wrong_type(where, o, "a boolean");
    out = o.via.boolean;
    return {};
}

Status read_value(const msgpack::object& o, const std::string& where, Value& out) {
    switch (o.type) {
        case msgpack::type::NIL:
            out = Value();
            return {};
        case msgpack::type::BOOLEAN:
            out = Value(o.via.boolean);
            return {};
        case msgpack::type::POSITIVE_INTEGER:
            if (o.via.u64 > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()))
                return bad(where, "an integer value is larger than 2^63-1");
            out = Value(static_cast<std::int64_t>(o.via.u64));
            return {};
        case msgpack::type::NEGATIVE_INTEGER:
            out = Value(o.via.i64);
            return {};
        case msgpack::type::FLOAT32:
        case msgpack::type::FLOAT64:
            out = Value(o.via.f64);
            return {};
        case msgpack::type::STR:
            out = Value(std::string(o.via.str.ptr, o.via.str.size));
            return {};
        case msgpack::type::ARRAY: {
            Value::List list;
            list.reserve(o.via.array.size);
            for (std::uint32_t i = 0; i < o.via.array.size; ++i) {
                Value item;
                MS_RETURN_IF_ERROR(read_value(o.via.array.ptr[i], where, item));
                list.push_back(std::move(item));
            }
            out = Value(std::move(list));
            return {};
        }
        case msgpack::type::BIN:
            // A uuid field's value travels as its 36-character text, not as 16 bytes.
            return bad(where,
                       "a value is binary; values are nil, boolean, integer, float, string or "
                       "array, and a uuid value is its 36-character text");
        default:
            return bad(where, "a value is " + std::string(type_name(o)) +
                                  "; values are nil, boolean, integer, float, string or array");
    }
}

// A msgpack map read by key: string keys only, each at most once; unknown keys are ignored
// (section 1) so that newer peers can add optional keys.
class MapReader {
  public:
    static Status open(const msgpack::object& o, std::string what, MapReader& out) {
        if (o.type != msgpack::type::MAP) return wrong_type(what, o, "a map");
        out.what_ = std::move(what);
        out.entries_.clear();
        for (std::uint32_t i = 0; i < o.via.map.size; ++i) {
            const auto& kv = o.via.map.ptr[i];
            if (kv.key.type != msgpack::type::STR)
                return bad(out.what_,
                           "a key is " + std::string(type_name(kv.key)) + "; keys must be strings");
            std::string_view key(kv.key.via.str.ptr, kv.key.via.str.size);
            if (!out.entries_.emplace(key, &kv.val).second)
                return bad(out.what_, "key '" + common::safe_excerpt(key) + "' appears twice");
        }
        return {};
    }
    // The value of a required key.
    Status get(std::string_view key, const msgpack::object*& out) const {
        out = find(key);
        if (!out) return bad(what_, "required key '" + std::string(key) + "' is missing");
        return {};
    }
    const msgpack::object* find(std::string_view key) const {
        auto it = entries_.find(key);
        return it == entries_.end() ? nullptr : it->second;
    }
    // "push request.batch": where a key's value sits, for messages.
    std::string at(std::string_view key) const { return what_ + "." + std::string(key); }

  private:
    std::string what_;
    std::map<std::string_view, const msgpack::object*, std::less<>> entries_;
};

std::string item_at(std::string_view base, std::string_view name, std::size_t i) {
    return std::string(base) + "." + std::string(name) + "[" + num(i) + "]";
}

// The `txns` value of section 6. `where` prefixes every message.
Status read_txns(const Schema& schema, const msgpack::object& o, const std::string& where,
                 std::vector<Transaction>& out) {
    const msgpack::object_array* top = nullptr;
    if (o.type != msgpack::type::ARRAY) return wrong_type(where, o, "an array [nodes, items]");
    MS_RETURN_IF_ERROR(read_array(o, where, 2, 2, top));

    const msgpack::object_array* node_arr = nullptr;
    MS_RETURN_IF_ERROR(read_array(top->ptr[0], where + ".nodes", 0, SIZE_MAX, node_arr));
    std::vector<Uuid> nodes(node_arr->size);
    for (std::uint32_t i = 0; i < node_arr->size; ++i)
        MS_RETURN_IF_ERROR(read_uuid(node_arr->ptr[i], item_at(where, "nodes", i), nodes[i]));

    const msgpack::object_array* items = nullptr;
    if (top->ptr[1].type == msgpack::type::ARRAY &&
        top->ptr[1].via.array.size > kMaxTransactionsPerPush)
        return bad(where + ".items", "has " + num(top->ptr[1].via.array.size) +
                                         " transactions, more than the limit of " +
                                         num(kMaxTransactionsPerPush))
            .with_reason(reason(Error::too_many_transactions));
    MS_RETURN_IF_ERROR(read_array(top->ptr[1], where + ".items", 0, SIZE_MAX, items));

    auto node_at = [&](std::uint64_t idx, const std::string& at, Uuid& node) -> Status {
        if (idx >= nodes.size())
            return bad(at, "node index " + std::to_string(idx) +
                               " is out of range (the node table has " + num(nodes.size()) +
                               " entries)");
        node = nodes[idx];
        return {};
    };

    const auto& collections = schema.collections();
    std::vector<Transaction> txns;
    txns.reserve(items->size);
    for (std::uint32_t t = 0; t < items->size; ++t) {
        const std::string tw = item_at(where, "items", t);
        const msgpack::object_array* txn_arr = nullptr;
        // A transaction without groups, or with groups whose changes array is empty, decodes
        // as one with no changes: the receiver rejects that transaction alone (`invalid`),
        // not the whole body.
        MS_RETURN_IF_ERROR(read_array(items->ptr[t], tw, 2, SIZE_MAX, txn_arr));
        if ((txn_arr->size - 2) % 3 != 0)
            return bad(tw, "has " + num(txn_arr->size) +
                               " items, not hlc, node and whole (collection, row, changes) "
                               "groups");
        Transaction txn;
        std::uint64_t node_idx = 0;
        MS_RETURN_IF_ERROR(read_uint(txn_arr->ptr[0], tw + ".hlc", txn.stamp.hlc));
        MS_RETURN_IF_ERROR(read_uint(txn_arr->ptr[1], tw + ".node", node_idx));
        MS_RETURN_IF_ERROR(node_at(node_idx, tw + ".node", txn.stamp.node));

        for (std::uint32_t g = 0; 2 + 3 * g < txn_arr->size; ++g) {
            const std::string gw = item_at(tw, "groups", g);
            const msgpack::object* group = txn_arr->ptr + 2 + 3 * g;

            // Collection: a schema number, or a name this schema may not know (kept as is).
            std::string collection;
            const CollectionDef* def = nullptr;
            const msgpack::object& co = group[0];
            if (co.type == msgpack::type::POSITIVE_INTEGER) {
                if (co.via.u64 >= collections.size())
                    return bad(gw, "collection number " + std::to_string(co.via.u64) +
                                       " is out of range (schema version " +
                                       std::to_string(schema.version()) + " has " +
                                       num(collections.size()) + " collections)");
                def = &collections[co.via.u64];
                collection = def->name;
            } else if (co.type == msgpack::type::STR) {
                collection.assign(co.via.str.ptr, co.via.str.size);
                if (collection.empty()) return bad(gw, "collection name is empty");
                def = schema.collection(collection);
            } else {
                return wrong_type(gw + ".collection", co, "a collection number or name");
            }
            Uuid row;
            MS_RETURN_IF_ERROR(read_uuid(group[1], gw + ".row", row));

            // Entries: field value, or field value seen (see the file comment on write).
            const msgpack::object_array* flat = nullptr;
            MS_RETURN_IF_ERROR(read_array(group[2], gw + ".changes", 0, SIZE_MAX, flat));
            for (std::uint32_t k = 0, n = 0; k < flat->size; ++n) {
                const std::string cw = gw + ".changes[" + num(n) + "]";
                if (txn.changes.size() >= kMaxChangesPerTransaction)
                    return bad(tw, "has more than " + num(kMaxChangesPerTransaction) + " changes");
                Change ch;
                ch.collection = collection;
                ch.row = row;
                bool has_seen = true;
                const msgpack::object& fo = flat->ptr[k];
                if (fo.type == msgpack::type::POSITIVE_INTEGER) {
                    const std::uint64_t number = fo.via.u64 >> 1;
                    has_seen = (fo.via.u64 & 1) != 0;
                    if (!def)
                        return bad(cw, "field number " + std::to_string(number) +
                                           " given for a collection this schema does not know");
                    if (number >= def->fields.size())
                        return bad(cw, "field number " + std::to_string(number) +
                                           " is out of range (" + def->name + " has " +
                                           num(def->fields.size()) + " fields)");
                    ch.field = def->fields[number].name;
                } else if (fo.type == msgpack::type::STR) {
                    ch.field.assign(fo.via.str.ptr, fo.via.str.size);
                    if (ch.field.empty()) return bad(cw, "field name is empty");
                } else {
                    return wrong_type(cw + ".field", fo, "a field code or name");
                }
                const std::uint32_t need = has_seen ? 3 : 2;
                if (flat->size - k < need)
                    return bad(gw + ".changes", "ends inside change " + num(n) +
                                                    " (expected its value" +
                                                    (has_seen ? " and seen)" : ")"));
                MS_RETURN_IF_ERROR(read_value(flat->ptr[k + 1], cw + ".value", ch.value));

                // seen: 0 (a first write) or (node, hlc) pairs, prev first then resolves.
                if (has_seen) {
                    const msgpack::object& so = flat->ptr[k + 2];
                    if (so.type == msgpack::type::POSITIVE_INTEGER) {
                        if (so.via.u64 != 0)
                            return bad(cw + ".seen", "is the number " + std::to_string(so.via.u64) +
                                                         "; the only number allowed is 0");
                    } else if (so.type == msgpack::type::ARRAY) {
                        const auto& pairs = so.via.array;
                        if (pairs.size == 0 || pairs.size % 2 != 0)
                            return bad(cw + ".seen", "has " + num(pairs.size) +
                                                         " items; expected a positive even "
                                                         "number (node, hlc pairs)");
                        for (std::uint32_t p = 0; p < pairs.size; p += 2) {
                            const std::string pw = cw + ".seen[" + num(p / 2) + "]";
                            std::uint64_t idx = 0;
                            Stamp s;
                            MS_RETURN_IF_ERROR(read_uint(pairs.ptr[p], pw + ".node", idx));
                            MS_RETURN_IF_ERROR(read_uint(pairs.ptr[p + 1], pw + ".hlc", s.hlc));
                            // hlc 0 is "none": its node index carries nothing (writers send 0).
                            if (s.hlc != 0) MS_RETURN_IF_ERROR(node_at(idx, pw + ".node", s.node));
                            if (p == 0)
                                ch.prev = s;
                            else
                                ch.resolves.push_back(s);
                        }
                    } else {
                        return wrong_type(cw + ".seen", so, "0 or an array of (node, hlc) pairs");
                    }
                }
                k += need;
                txn.changes.push_back(std::move(ch));
            }
        }
        txns.push_back(std::move(txn));
    }
    out = std::move(txns);
    return {};
}

}  // namespace

// ---- transactions -----------------------------------------------------------------------------

void append_transactions(std::string& out, const Schema& schema,
                         std::span<const Transaction> transactions) {
    NodeTable table;
    for (const auto& txn : transactions) {
        table.index(txn.stamp.node);
        for (const auto& ch : txn.changes) {
            if (ch.prev.hlc != 0) table.index(ch.prev.node);
            for (const auto& r : ch.resolves)
                if (r.hlc != 0) table.index(r.node);
        }
    }
    StringSink sink{&out};
    Packer pk(sink);
    pk.pack_array(2);
    pk.pack_array(static_cast<std::uint32_t>(table.nodes().size()));
    for (const auto& n : table.nodes())
        pack_bin(pk, n.raw());
    pk.pack_array(static_cast<std::uint32_t>(transactions.size()));
    auto pack_seen_stamp = [&](const Stamp& s) {
        if (s.hlc == 0) {
            pk.pack_uint32(0);  // "none": the node index is not read
            pk.pack_uint32(0);
        } else {
            pk.pack_uint32(table.index(s.node));
            pk.pack_uint64(s.hlc);
        }
    };
    for (const auto& txn : transactions) {
        // Groups: runs of consecutive changes to the same (collection, row).
        std::vector<std::pair<std::size_t, std::size_t>> groups;
        for (std::size_t i = 0; i < txn.changes.size(); ++i) {
            if (!groups.empty()) {
                const Change& first = txn.changes[groups.back().first];
                if (first.collection == txn.changes[i].collection &&
                    first.row == txn.changes[i].row) {
                    ++groups.back().second;
                    continue;
                }
            }
            groups.emplace_back(i, 1);
        }
        pk.pack_array(static_cast<std::uint32_t>(2 + 3 * groups.size()));
        pk.pack_uint64(txn.stamp.hlc);
        pk.pack_uint32(table.index(txn.stamp.node));
        for (auto [start, count] : groups) {
            const Change& head = txn.changes[start];
            auto cnum = collection_number(schema, head.collection);
            const CollectionDef* def = cnum ? &schema.collections()[*cnum] : nullptr;
            if (cnum)
                pk.pack_uint32(static_cast<std::uint32_t>(*cnum));
            else
                pack_str(pk, head.collection);
            pack_bin(pk, head.row.raw());
            std::uint32_t items = 0;
            for (std::size_t i = start; i < start + count; ++i) {
                const Change& c = txn.changes[i];
                const bool first_write = c.prev.is_zero() && c.resolves.empty();
                const bool numbered = def && field_number(*def, c.field);
                items += (first_write && numbered) ? 2 : 3;
            }
            pk.pack_array(items);
            for (std::size_t i = start; i < start + count; ++i) {
                const Change& c = txn.changes[i];
                const bool first_write = c.prev.is_zero() && c.resolves.empty();
                auto fnum = def ? field_number(*def, c.field) : std::nullopt;
                // A numbered field carries the "seen follows" flag in its lowest bit; a named
                // field is always followed by its seen.
                if (fnum)
                    pk.pack_uint32(static_cast<std::uint32_t>(2 * *fnum + (first_write ? 0 : 1)));
                else
                    pack_str(pk, c.field);
                pack_value(pk, c.value);
                if (fnum && first_write) continue;
                if (first_write) {
                    pk.pack_uint32(0);
                } else {
                    pk.pack_array(static_cast<std::uint32_t>(2 * (1 + c.resolves.size())));
                    pack_seen_stamp(c.prev);
                    for (const auto& r : c.resolves)
                        pack_seen_stamp(r);
                }
            }
        }
    }
}

std::string encode_transactions(const Schema& schema, std::span<const Transaction> transactions) {
    std::string out;
    append_transactions(out, schema, transactions);
    return out;
}

Result<std::vector<Transaction>> decode_transactions(const Schema& schema, std::string_view bytes) {
    msgpack::object_handle oh;
    MS_RETURN_IF_ERROR(unpack_whole(bytes, "txns", oh, Sender::client));
    std::vector<Transaction> out;
    MS_RETURN_IF_ERROR(read_txns(schema, oh.get(), "txns", out));
    return out;
}

Status check_transaction(const Schema& schema, const Transaction& txn) {
    if (txn.stamp.hlc == 0 || txn.stamp.node.is_nil())
        return Status::invalid_argument("transaction stamp is zero");
    if (txn.changes.empty()) return Status::invalid_argument("transaction has no changes");
    std::set<std::pair<Uuid, std::string_view>> seen;
    for (const Change& ch : txn.changes) {
        auto where = [&] { return ch.collection + "." + ch.field; };
        if (ch.collection.empty() || ch.field.empty())
            return Status::invalid_argument("a change has an empty collection or field name");
        if (ch.row.is_nil()) return Status::invalid_argument(where() + ": row id is nil");
        if (!seen.emplace(ch.row, ch.field).second)
            return Status::invalid_argument(where() +
                                            ": the same field appears twice in one transaction");
        if (!(ch.prev < txn.stamp))
            return Status::invalid_argument(where() +
                                            ": prev stamp is not before the transaction's own "
                                            "stamp");
        for (const Stamp& r : ch.resolves)
            if (r.is_zero() || !(r < txn.stamp))
                return Status::invalid_argument(where() +
                                                ": a resolved stamp is not before the "
                                                "transaction's own stamp");
        if (ch.field == kDeletedField) {
            if (!ch.value.is_bool() && !ch.value.is_null())
                return Status::validation(where() + ": expected true or false");
            continue;
        }
        const CollectionDef* c = schema.collection(ch.collection);
        if (!c) continue;  // a newer peer's collection: kept and passed on
        const FieldDef* f = c->field(ch.field);
        if (!f) continue;  // a newer peer's field: kept and passed on
        MS_RETURN_IF_ERROR(schema.check_value(*c, *f, ch.value));
    }
    // Records as wholes: a created record has every required field.
    return schema.check_received(txn);
}

// ---- signing ----------------------------------------------------------------------------------

std::string sha256_hex(std::string_view bytes) {
    return common::sha256_hex(bytes);
}

std::string signing_string(std::string_view method, std::string_view path,
                           std::string_view timestamp, std::string_view nonce,
                           std::string_view device_id, std::string_view body) {
    std::string s = "MS1-SIG\n";
    for (std::string_view part : {method, path, timestamp, nonce, device_id}) {
        s.append(part);
        s.push_back('\n');
    }
    s += sha256_hex(body);
    return s;
}

DeviceKeys DeviceKeys::generate() {
    (void)crypto::init();
    DeviceKeys k;
    crypto_sign_keypair(k.public_key.data(), k.secret_key.data());
    return k;
}

std::string base64url(std::string_view bytes) {
    return common::base64url_encode(bytes);
}

std::optional<std::string> from_base64url(std::string_view text, std::size_t bytes) {
    return common::base64url_decode_exact(text, bytes);
}

std::string sign(const DeviceKeys& keys, std::string_view message) {
    (void)crypto::init();
    std::uint8_t sig[crypto_sign_BYTES];
    crypto_sign_detached(sig, nullptr, reinterpret_cast<const unsigned char*>(message.data()),
                         message.size(), keys.secret_key.data());
    return base64url({reinterpret_cast<const char*>(sig), sizeof sig});
}

bool verify(std::span<const std::uint8_t, 32> public_key, std::string_view message,
            std::string_view signature) {
    auto sig = from_base64url(signature, crypto_sign_BYTES);
    if (!sig) return false;
    return crypto_sign_verify_detached(reinterpret_cast<const unsigned char*>(sig->data()),
                                       reinterpret_cast<const unsigned char*>(message.data()),
                                       message.size(), public_key.data()) == 0;
}

std::string authorization(const DeviceKeys& keys, std::string_view method, std::string_view path,
                          const Uuid& device, std::int64_t timestamp_ms, std::string_view nonce,
                          std::string_view body) {
    Credentials c;
    c.device = base64url(device.raw());
    c.timestamp = std::to_string(timestamp_ms);
    c.nonce = base64url(nonce);
    c.signature = sign(keys, signing_string(method, path, c.timestamp, c.nonce, c.device, body));
    std::string out(kAuthScheme);
    out.push_back(' ');
    for (const std::string* part : {&c.device, &c.timestamp, &c.nonce}) {
        out += *part;
        out.push_back('.');
    }
    out += c.signature;
    return out;
}

Result<Credentials> parse_authorization(std::string_view header) {
    const std::string prefix = std::string(kAuthScheme) + " ";
    if (header.substr(0, prefix.size()) != prefix)
        return Status::invalid_argument("Authorization: missing or not of the MS1 scheme");
    std::string_view rest = header.substr(prefix.size());
    std::string_view parts[4];
    for (int i = 0; i < 4; ++i) {
        const std::size_t dot = i < 3 ? rest.find('.') : rest.size();
        if (dot == std::string_view::npos)
            return Status::invalid_argument(
                "Authorization: expected four parts separated by '.' "
                "(device.timestamp.nonce.signature)");
        parts[i] = rest.substr(0, dot);
        rest = i < 3 ? rest.substr(dot + 1) : std::string_view{};
    }
    Credentials c;
    c.device.assign(parts[0]);
    c.timestamp.assign(parts[1]);
    c.nonce.assign(parts[2]);
    c.signature.assign(parts[3]);
    if (!from_base64url(c.device, 16))
        return Status::invalid_argument(
            "Authorization: the device id is not 22 base64url characters");
    if (c.timestamp.empty() || c.timestamp.size() > 18 ||
        !std::all_of(c.timestamp.begin(), c.timestamp.end(),
                     [](char ch) { return ch >= '0' && ch <= '9'; }))
        return Status::invalid_argument("Authorization: the timestamp is not decimal milliseconds");
    if (!from_base64url(c.nonce, 16))
        return Status::invalid_argument("Authorization: the nonce is not 22 base64url characters");
    if (c.signature.size() != base64url_length(crypto_sign_BYTES))
        return Status::invalid_argument(
            "Authorization: the signature is not 86 base64url characters");
    return c;
}

// ---- message bodies ---------------------------------------------------------------------------

std::string encode_error(const ErrorBody& error) {
    std::string out;
    StringSink sink{&out};
    Packer pk(sink);
    pk.pack_map(error.server_time_ms ? 3 : 2);
    pack_str(pk, "code");
    pack_str(pk, error.code);
    pack_str(pk, "message");
    pack_str(pk, error.message);
    if (error.server_time_ms) {
        pack_str(pk, "server_time_ms");
        pk.pack_uint64(
            static_cast<std::uint64_t>(std::max<std::int64_t>(0, *error.server_time_ms)));
    }
    return out;
}

Result<ErrorBody> decode_error(std::string_view body) {
    msgpack::object_handle oh;
    MS_RETURN_IF_ERROR(unpack_whole(body, "error", oh, Sender::server));
    MapReader m;
    MS_RETURN_IF_ERROR(MapReader::open(oh.get(), "error", m));
    ErrorBody e;
    const msgpack::object* o = nullptr;
    MS_RETURN_IF_ERROR(m.get("code", o));
    MS_RETURN_IF_ERROR(read_str(*o, m.at("code"), e.code));
    MS_RETURN_IF_ERROR(m.get("message", o));
    MS_RETURN_IF_ERROR(read_str(*o, m.at("message"), e.message));
    if ((o = m.find("server_time_ms"))) {
        std::int64_t t = 0;
        MS_RETURN_IF_ERROR(read_time(*o, m.at("server_time_ms"), t));
        e.server_time_ms = t;
    }
    return e;
}

std::span<const Error> all_errors() noexcept {
    return kErrorList;
}

std::string_view error_name(Error e) noexcept {
    return row_of(e).name;
}

std::optional<Error> parse_error_name(std::string_view name) noexcept {
    for (const ErrorRow& row : kErrorTable)
        if (row.name == name) return row.error;
    return std::nullopt;
}

int http_status(Error e) noexcept {
    return row_of(e).http_status;
}

Status error(Error e, std::string message) {
    return Status(row_of(e).code, std::move(message)).with_reason(reason(e));
}

std::optional<Error> error_of(const Status& status) noexcept {
    const Reason r = status.reason();
    if (r.domain != ReasonDomain::wire || r.value < 1 || r.value > kErrorCount) return std::nullopt;
    return static_cast<Error>(r.value);
}

ErrorReply error_reply_for(const Status& status) {
    const Error e = error_of(status).value_or(Error::bad_request);
    ErrorReply r;
    r.http_status = http_status(e);
    r.body.code = std::string(error_name(e));
    r.body.message = status.message();
    return r;
}

std::string encode_enroll_request(const EnrollRequest& request) {
    std::string out;
    StringSink sink{&out};
    Packer pk(sink);
    pk.pack_map(4);
    pack_str(pk, "code");
    pack_str(pk, request.code);
    pack_str(pk, "public_key");
    pack_bin(pk,
             {reinterpret_cast<const char*>(request.public_key.data()), request.public_key.size()});
    pack_str(pk, "node");
    pack_bin(pk, request.node.raw());
    pack_str(pk, "label");
    pack_str(pk, request.label);
    return out;
}

Result<EnrollRequest> decode_enroll_request(std::string_view body) {
    msgpack::object_handle oh;
    MS_RETURN_IF_ERROR(unpack_whole(body, "enroll request", oh, Sender::client));
    MapReader m;
    MS_RETURN_IF_ERROR(MapReader::open(oh.get(), "enroll request", m));
    EnrollRequest r;
    const msgpack::object* o = nullptr;
    MS_RETURN_IF_ERROR(m.get("code", o));
    MS_RETURN_IF_ERROR(read_str(*o, m.at("code"), r.code));
    MS_RETURN_IF_ERROR(m.get("public_key", o));
    std::string key;
    MS_RETURN_IF_ERROR(read_bin(*o, m.at("public_key"), 32, key));
    if (key.size() != 32)
        return bad(m.at("public_key"), "is " + num(key.size()) + " bytes, expected 32");
    std::copy_n(reinterpret_cast<const std::uint8_t*>(key.data()), 32, r.public_key.begin());
    MS_RETURN_IF_ERROR(m.get("node", o));
    MS_RETURN_IF_ERROR(read_uuid(*o, m.at("node"), r.node));
    MS_RETURN_IF_ERROR(m.get("label", o));
    MS_RETURN_IF_ERROR(read_str(*o, m.at("label"), r.label));
    auto chars = common::utf8_length(r.label);
    if (!chars) return bad(m.at("label"), "is not valid UTF-8");
    if (*chars > kMaxLabelChars)
        return bad(m.at("label"),
                   "has " + num(*chars) + " characters, more than " + num(kMaxLabelChars));
    return r;
}

std::string encode_enroll_response(const EnrollResponse& response) {
    std::string out;
    StringSink sink{&out};
    Packer pk(sink);
    pk.pack_map(4);
    pack_str(pk, "device_id");
    pack_bin(pk, response.device_id.raw());
    pack_str(pk, "user_id");
    pack_bin(pk, response.user_id.raw());
    pack_str(pk, "role");
    pack_str(pk, response.role);
    pack_str(pk, "server_time_ms");
    pk.pack_uint64(static_cast<std::uint64_t>(std::max<std::int64_t>(0, response.server_time_ms)));
    return out;
}

Result<EnrollResponse> decode_enroll_response(std::string_view body) {
    msgpack::object_handle oh;
    MS_RETURN_IF_ERROR(unpack_whole(body, "enroll response", oh, Sender::server));
    MapReader m;
    MS_RETURN_IF_ERROR(MapReader::open(oh.get(), "enroll response", m));
    EnrollResponse r;
    const msgpack::object* o = nullptr;
    MS_RETURN_IF_ERROR(m.get("device_id", o));
    MS_RETURN_IF_ERROR(read_uuid(*o, m.at("device_id"), r.device_id));
    MS_RETURN_IF_ERROR(m.get("user_id", o));
    MS_RETURN_IF_ERROR(read_uuid(*o, m.at("user_id"), r.user_id));
    MS_RETURN_IF_ERROR(m.get("role", o));
    MS_RETURN_IF_ERROR(read_str(*o, m.at("role"), r.role));
    MS_RETURN_IF_ERROR(m.get("server_time_ms", o));
    MS_RETURN_IF_ERROR(read_time(*o, m.at("server_time_ms"), r.server_time_ms));
    return r;
}

std::string encode_push_request(const Schema& schema, const Uuid& batch,
                                std::span<const Transaction> transactions) {
    std::string out;
    {
        StringSink sink{&out};
        Packer pk(sink);
        pk.pack_map(2);
        pack_str(pk, "batch");
        pack_bin(pk, batch.raw());
        pack_str(pk, "txns");
    }
    append_transactions(out, schema, transactions);
    return out;
}

Result<PushRequest> decode_push_request(const Schema& schema, std::string_view body) {
    msgpack::object_handle oh;
    MS_RETURN_IF_ERROR(unpack_whole(body, "push request", oh, Sender::client));
    MapReader m;
    MS_RETURN_IF_ERROR(MapReader::open(oh.get(), "push request", m));
    PushRequest r;
    const msgpack::object* o = nullptr;
    MS_RETURN_IF_ERROR(m.get("batch", o));
    MS_RETURN_IF_ERROR(read_uuid(*o, m.at("batch"), r.batch));
    MS_RETURN_IF_ERROR(m.get("txns", o));
    MS_RETURN_IF_ERROR(read_txns(schema, *o, m.at("txns"), r.txns));
    return r;
}

std::string encode_push_response(const PushResponse& response) {
    std::string out;
    StringSink sink{&out};
    Packer pk(sink);
    pk.pack_map(2);
    pack_str(pk, "results");
    pk.pack_array(static_cast<std::uint32_t>(response.results.size()));
    for (const auto& r : response.results) {
        if (r.kind == PushResult::Kind::rejected) {
            pk.pack_array(3);
            pk.pack_uint32(2);
            pack_str(pk, r.code);
            pack_str(pk, r.message);
        } else {
            pk.pack_uint32(static_cast<std::uint32_t>(r.kind));
        }
    }
    pack_str(pk, "server_time_ms");
    pk.pack_uint64(static_cast<std::uint64_t>(std::max<std::int64_t>(0, response.server_time_ms)));
    return out;
}

Result<PushResponse> decode_push_response(std::string_view body) {
    msgpack::object_handle oh;
    MS_RETURN_IF_ERROR(unpack_whole(body, "push response", oh, Sender::server));
    MapReader m;
    MS_RETURN_IF_ERROR(MapReader::open(oh.get(), "push response", m));
    PushResponse r;
    const msgpack::object* o = nullptr;
    MS_RETURN_IF_ERROR(m.get("results", o));
    const msgpack::object_array* results = nullptr;
    MS_RETURN_IF_ERROR(read_array(*o, m.at("results"), 0, kMaxTransactionsPerPush, results));
    for (std::uint32_t i = 0; i < results->size; ++i) {
        const std::string w = item_at("push response", "results", i);
        PushResult pr;
        const msgpack::object& ro = results->ptr[i];
        if (ro.type == msgpack::type::POSITIVE_INTEGER) {
            if (ro.via.u64 > 1)
                return bad(w, "result " + std::to_string(ro.via.u64) +
                                  " is not 0 or 1 (a rejection is an array)");
            pr.kind = static_cast<PushResult::Kind>(ro.via.u64);
        } else if (ro.type == msgpack::type::ARRAY) {
            const msgpack::object_array* a = nullptr;
            MS_RETURN_IF_ERROR(read_array(ro, w, 3, 3, a));
            std::uint64_t kind = 0;
            MS_RETURN_IF_ERROR(read_uint(a->ptr[0], w + ".kind", kind));
            if (kind != 2) return bad(w, "rejection kind " + std::to_string(kind) + " is not 2");
            pr.kind = PushResult::Kind::rejected;
            MS_RETURN_IF_ERROR(read_str(a->ptr[1], w + ".code", pr.code));
            MS_RETURN_IF_ERROR(read_str(a->ptr[2], w + ".message", pr.message));
        } else {
            return wrong_type(w, ro, "0, 1 or an array [2, code, message]");
        }
        r.results.push_back(std::move(pr));
    }
    MS_RETURN_IF_ERROR(m.get("server_time_ms", o));
    MS_RETURN_IF_ERROR(read_time(*o, m.at("server_time_ms"), r.server_time_ms));
    return r;
}

std::string encode_pull_request(const PullRequest& request) {
    std::string out;
    StringSink sink{&out};
    Packer pk(sink);
    pk.pack_map(1 + (request.limit ? 1 : 0) + (request.report ? 1 : 0));
    pack_str(pk, "cursor");
    pack_bin(pk, request.cursor);
    if (request.limit) {
        pack_str(pk, "limit");
        pk.pack_uint64(*request.limit);
    }
    if (request.report) {
        pack_str(pk, "report");
        pk.pack_array(3);
        for (std::uint64_t n :
             {request.report->pending, request.report->quarantined, request.report->rejected})
            pk.pack_uint64(n);
    }
    return out;
}

Result<PullRequest> decode_pull_request(std::string_view body) {
    msgpack::object_handle oh;
    MS_RETURN_IF_ERROR(unpack_whole(body, "pull request", oh, Sender::client));
    MapReader m;
    MS_RETURN_IF_ERROR(MapReader::open(oh.get(), "pull request", m));
    PullRequest r;
    const msgpack::object* o = nullptr;
    MS_RETURN_IF_ERROR(m.get("cursor", o));
    MS_RETURN_IF_ERROR(read_bin(*o, m.at("cursor"), kMaxCursorBytes, r.cursor));
    if ((o = m.find("limit"))) {
        std::uint64_t limit = 0;
        MS_RETURN_IF_ERROR(read_uint(*o, m.at("limit"), limit));
        r.limit = limit;
    }
    if ((o = m.find("report"))) {
        const std::string w = m.at("report");
        const msgpack::object_array* a = nullptr;
        if (o->type != msgpack::type::ARRAY)
            return wrong_type(w, *o, "an array [pending, quarantined, rejected]");
        MS_RETURN_IF_ERROR(read_array(*o, w, 3, 3, a));
        DeviceReport report;
        const std::pair<const char*, std::uint64_t*> counts[] = {
            {".pending", &report.pending},
            {".quarantined", &report.quarantined},
            {".rejected", &report.rejected}};
        for (std::uint32_t i = 0; i < 3; ++i) {
            const std::string where = w + counts[i].first;
            MS_RETURN_IF_ERROR(read_uint(a->ptr[i], where, *counts[i].second));
            if (*counts[i].second > kMaxReportedCount)
                return bad(where, "is more than the limit of " + num(kMaxReportedCount));
        }
        r.report = report;
    }
    return r;
}

std::string encode_pull_response(const Schema& schema, const PullResponse& response) {
    std::string out;
    StringSink sink{&out};
    Packer pk(sink);
    pk.pack_map(5);
    pack_str(pk, "txns");
    append_transactions(out, schema, response.txns);
    pack_str(pk, "purge");
    pk.pack_array(static_cast<std::uint32_t>(response.purge.size()));
    for (const auto& l : response.purge)
        pack_bin(pk, l.raw());
    pack_str(pk, "cursor");
    pack_bin(pk, response.cursor);
    pack_str(pk, "more");
    response.more ? pk.pack_true() : pk.pack_false();
    pack_str(pk, "server_time_ms");
    pk.pack_uint64(static_cast<std::uint64_t>(std::max<std::int64_t>(0, response.server_time_ms)));
    return out;
}

Result<PullResponse> decode_pull_response(const Schema& schema, std::string_view body) {
    msgpack::object_handle oh;
    MS_RETURN_IF_ERROR(unpack_whole(body, "pull response", oh, Sender::server));
    MapReader m;
    MS_RETURN_IF_ERROR(MapReader::open(oh.get(), "pull response", m));
    PullResponse r;
    const msgpack::object* o = nullptr;
    MS_RETURN_IF_ERROR(m.get("txns", o));
    MS_RETURN_IF_ERROR(read_txns(schema, *o, m.at("txns"), r.txns));
    MS_RETURN_IF_ERROR(m.get("purge", o));
    const msgpack::object_array* purge = nullptr;
    MS_RETURN_IF_ERROR(read_array(*o, m.at("purge"), 0, SIZE_MAX, purge));
    r.purge.resize(purge->size);
    for (std::uint32_t i = 0; i < purge->size; ++i)
        MS_RETURN_IF_ERROR(
            read_uuid(purge->ptr[i], item_at("pull response", "purge", i), r.purge[i]));
    MS_RETURN_IF_ERROR(m.get("cursor", o));
    MS_RETURN_IF_ERROR(read_bin(*o, m.at("cursor"), kMaxCursorBytes, r.cursor));
    MS_RETURN_IF_ERROR(m.get("more", o));
    MS_RETURN_IF_ERROR(read_bool(*o, m.at("more"), r.more));
    MS_RETURN_IF_ERROR(m.get("server_time_ms", o));
    MS_RETURN_IF_ERROR(read_time(*o, m.at("server_time_ms"), r.server_time_ms));
    return r;
}

}  // namespace mentorsync::wire
