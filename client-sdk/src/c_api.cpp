// The C ABI (client-sdk/include/mentorsync/mentorsync.h), part 1: errors, buffers, opening and
// keys, records, queries, transactions, conflicts, observers, status, quarantine and wipe.
// Enrollment and sync are in c_api_sync.cpp. Every entry point is noexcept and funnels its
// body through capi::guarded(), which turns failures and exceptions into an ms_error.
#include <fcntl.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <vector>

#include "c_api_internal.h"
#include "mentorsync/value_json.h"

namespace mentorsync::capi {
namespace {

// Records cross the boundary as JSON; nesting is limited before parsing so hostile input cannot
// exhaust the stack of nlohmann's recursive parser.
constexpr std::size_t kMaxJsonDepth = 32;
constexpr std::size_t kMaxJsonBytes = 16u << 20;

using nlohmann::json;

}  // namespace

// ---- errors ---------------------------------------------------------------------------------

namespace {

// The engine Code an SDK failure is closest to, for code that inspects Code (the app sees the
// ms_error_code of the reason).
Code engine_code_of(ms_error_code code) noexcept {
    switch (code) {
        case MS_ERR_OK:
        case MS_ERR_INVALID_ARGUMENT:
        case MS_ERR_INVALID_STATE:
        case MS_ERR_NOT_ENROLLED:
            return Code::invalid_argument;
        case MS_ERR_VALIDATION:
            return Code::validation;
        case MS_ERR_NOT_FOUND:
            return Code::not_found;
        case MS_ERR_WRONG_KEY:
            return Code::wrong_key;
        case MS_ERR_LOCKED_OUT:
            return Code::locked_out;
        case MS_ERR_CORRUPT:
            return Code::corrupt;
        case MS_ERR_IO:
        case MS_ERR_NETWORK:
        case MS_ERR_PROTOCOL:
        case MS_ERR_CANCELLED:
            return Code::io;
        case MS_ERR_LOCKED:
        case MS_ERR_CLOSED:
            return Code::closed;
        case MS_ERR_UNSUPPORTED:
            return Code::unsupported;
        case MS_ERR_INTERNAL:
        case MS_ERR_OUT_OF_MEMORY:
            return Code::internal;
    }
    return Code::internal;
}

bool transient_code(std::int32_t code) noexcept {
    return code == MS_ERR_NETWORK || code == MS_ERR_OUT_OF_MEMORY || code == MS_ERR_LOCKED_OUT ||
           code == MS_ERR_PROTOCOL;
}

}  // namespace

Status error(ms_error_code code, std::string message) {
    return Status(engine_code_of(code), std::move(message))
        .with_reason(Reason{ReasonDomain::c_abi, static_cast<std::uint16_t>(code)});
}

bool has_abi_code(const Status& s, ms_error_code code) noexcept {
    return s.reason() == Reason{ReasonDomain::c_abi, static_cast<std::uint16_t>(code)};
}

ms_error_code abi_code_of(Code code) noexcept {
    switch (code) {
        case Code::ok:
            return MS_ERR_OK;
        case Code::invalid_argument:
            return MS_ERR_INVALID_ARGUMENT;
        case Code::validation:
            return MS_ERR_VALIDATION;
        case Code::not_found:
            return MS_ERR_NOT_FOUND;
        case Code::wrong_key:
            return MS_ERR_WRONG_KEY;
        case Code::locked_out:
            return MS_ERR_LOCKED_OUT;
        case Code::corrupt:
            return MS_ERR_CORRUPT;
        case Code::io:
            return MS_ERR_IO;
        case Code::closed:
            return MS_ERR_LOCKED;
        case Code::unsupported:
            return MS_ERR_UNSUPPORTED;
        case Code::internal:
            return MS_ERR_INTERNAL;
    }
    return MS_ERR_INTERNAL;
}

void copy_fixed(char* dst, std::size_t size, std::string_view src) noexcept {
    if (!dst || size == 0) return;
    std::size_t n = std::min(src.size(), size - 1);
    // Never cut a UTF-8 sequence: back up over continuation bytes.
    if (n < src.size())
        while (n > 0 && (static_cast<unsigned char>(src[n]) & 0xC0) == 0x80)
            --n;
    std::memcpy(dst, src.data(), n);
    dst[n] = '\0';
}

void write_error(ms_error* out, const Status& s) noexcept {
    if (!out) return;
    const Reason reason = s.reason();
    const bool server = s.remote().http_status != 0;
    const bool from_sdk = server || reason.domain == ReasonDomain::c_abi;
    std::int32_t code = 0;
    if (server)
        code = s.remote().http_status;
    else if (reason.domain == ReasonDomain::c_abi)
        code = reason.value;
    else
        code = abi_code_of(s.code());
    out->domain = server ? MS_ERROR_DOMAIN_SERVER : MS_ERROR_DOMAIN_MENTORSYNC;
    out->code = code;
    out->transient = s.transient().value_or(!server && transient_code(code)) ? 1 : 0;
    out->reserved = 0;
    // An engine Status's delay is the engine's figure for a lockout, not its message's.
    out->retry_after_ms = from_sdk || s.code() == Code::locked_out ? s.retry_after_ms() : 0;
    copy_fixed(out->server_code, sizeof out->server_code, s.remote().code);
    copy_fixed(out->message, sizeof out->message, s.message());
}

std::optional<std::string_view> text_arg(const char* p, std::size_t n) {
    if (!p) {
        if (n != 0) return std::nullopt;
        return std::string_view();
    }
    return std::string_view(p, n);
}

Result<Uuid> parse_id(std::string_view text, std::string_view what) {
    auto id = Uuid::parse(text);
    if (!id) {
        return Status::invalid_argument(std::string(what) + " is not a UUID (" +
                                        std::to_string(text.size()) +
                                        " bytes; expected the 36-character form)");
    }
    return *id;
}

Result<Stamp> parse_stamp(std::string_view text) {
    auto at = text.find('@');
    if (at == std::string_view::npos || at == 0 || at > 16)
        return Status::invalid_argument("a stamp must look like \"<hlc hex>@<node uuid>\"");
    Stamp s;
    auto [p, ec] = std::from_chars(text.data(), text.data() + at, s.hlc, 16);
    if (ec != std::errc() || p != text.data() + at)
        return Status::invalid_argument("the stamp's hlc is not hexadecimal");
    auto node = Uuid::parse(text.substr(at + 1));
    if (!node) return Status::invalid_argument("the stamp's node is not a UUID");
    s.node = *node;
    return s;
}

Status fill_buffer(ms_buffer* out, std::string_view text) {
    char* p = static_cast<char*>(std::malloc(text.size() + 1));
    if (!p) throw std::bad_alloc();
    if (!text.empty()) std::memcpy(p, text.data(), text.size());
    p[text.size()] = '\0';
    out->data = p;
    out->size = text.size();
    return ok();
}

void wipe_string(std::string& s) noexcept {
    if (!s.empty()) sodium_memzero(s.data(), s.size());
    s.clear();
}

namespace {

// ---- JSON <-> values -----------------------------------------------------------------------

// Deepest nesting of arrays/objects in `text`, stopping early past `limit` (strings skipped).
bool nesting_within(std::string_view text, std::size_t limit) {
    std::size_t depth = 0;
    bool in_string = false, escaped = false;
    for (char c : text) {
        if (in_string) {
            if (escaped)
                escaped = false;
            else if (c == '\\')
                escaped = true;
            else if (c == '"')
                in_string = false;
            continue;
        }
        if (c == '"') {
            in_string = true;
        } else if (c == '[' || c == '{') {
            if (++depth > limit) return false;
        } else if ((c == ']' || c == '}') && depth > 0) {
            --depth;
        }
    }
    return true;
}

Result<json> parse_json(std::string_view text, std::string_view what) {
    if (text.size() > kMaxJsonBytes)
        return Status::invalid_argument(std::string(what) + " is larger than 16 MiB");
    if (!nesting_within(text, kMaxJsonDepth))
        return Status::invalid_argument(std::string(what) + " is nested too deeply");
    json j = json::parse(text.begin(), text.end(), nullptr, false);
    if (j.is_discarded())
        return Status::invalid_argument(std::string(what) + " is not valid JSON (UTF-8)");
    return j;
}

Result<Value> value_from_json(const json& j, std::string_view field) {
    switch (j.type()) {
        case json::value_t::null:
            return Value();
        case json::value_t::boolean:
            return Value(j.get<bool>());
        case json::value_t::number_integer:
            return Value(j.get<std::int64_t>());
        case json::value_t::number_unsigned: {
            auto u = j.get<std::uint64_t>();
            if (u > static_cast<std::uint64_t>(INT64_MAX))
                return Status::invalid_argument(std::string(field) +
                                                ": integer out of the 64-bit range");
            return Value(static_cast<std::int64_t>(u));
        }
        case json::value_t::number_float:
            return Value(j.get<double>());
        case json::value_t::string:
            return Value(j.get<std::string>());
        case json::value_t::array: {
            Value::List list;
            list.reserve(j.size());
            for (const auto& item : j) {
                auto v = value_from_json(item, field);
                if (!v.ok()) return v.status();
                list.push_back(std::move(*v));
            }
            return Value(std::move(list));
        }
        default:
            return Status::invalid_argument(std::string(field) +
                                            ": a field value cannot be a JSON object");
    }
}

Result<Fields> fields_from_json(std::string_view text) {
    auto j = parse_json(text, "the fields JSON");
    if (!j.ok()) return j.status();
    if (!j->is_object())
        return Status::invalid_argument("the fields JSON must be an object of field: value");
    Fields out;
    for (auto it = j->begin(); it != j->end(); ++it) {
        auto v = value_from_json(it.value(), it.key());
        if (!v.ok()) return v.status();
        out.insert_or_assign(it.key(), std::move(*v));
    }
    return out;
}

std::string stamp_text(const Stamp& s) {
    return s.to_string();  // "<16 hex digits>@<uuid>", what parse_stamp() reads
}

json record_to_json(const Record& r) {
    json fields = json::object();
    for (const auto& [name, value] : r.fields)
        if (name != kDeletedField) fields[name] = value_to_json(value);
    return json{{"id", r.id.to_string()},
                {"collection", r.collection},
                {"deleted", r.deleted},
                {"updated", stamp_text(r.updated)},
                {"fields", std::move(fields)}};
}

// Serialises without throwing on strings that are not UTF-8 (replaced with U+FFFD).
std::string dump(const json& j) {
    return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

Status json_out(ms_buffer* out, const json& j) {
    std::string text = dump(j);
    Status e = fill_buffer(out, text);
    wipe_string(text);
    return e;
}

// ---- keys and the open-file registry --------------------------------------------------------

Result<UnlockKey> key_from(const ms_key* key, std::string_view what) {
    if (!key) return Status::invalid_argument(std::string(what) + " is NULL");
    if (!key->bytes && key->size != 0)
        return Status::invalid_argument(std::string(what) + " bytes are NULL with a size");
    std::span<const std::uint8_t> bytes(key->bytes, key->size);
    if (key->kind == MS_KEY_PASSPHRASE) {
        if (key->size == 0) return Status::invalid_argument(std::string(what) + " is empty");
        return UnlockKey::passphrase(
            std::string_view(reinterpret_cast<const char*>(key->bytes), key->size));
    }
    if (key->kind == MS_KEY_RAW) {
        if (key->size != 32)
            return Status::invalid_argument(std::string(what) + " is a raw key of " +
                                            std::to_string(key->size) +
                                            " bytes; it must be exactly 32");
        return UnlockKey::raw(bytes);
    }
    return Status::invalid_argument(std::string(what) + " has an unknown kind " +
                                    std::to_string(key->kind));
}

std::mutex& registry_mu() {
    static std::mutex mu;
    return mu;
}
std::set<std::string>& registry() {
    static std::set<std::string> open_paths;
    return open_paths;
}
std::string registry_key(std::string_view path) {
    std::error_code ec;
    auto p = std::filesystem::weakly_canonical(std::filesystem::path(std::string(path)), ec);
    if (ec) p = std::filesystem::absolute(std::filesystem::path(std::string(path)), ec);
    if (ec) return std::string(path);
    return p.lexically_normal().string();
}

thread_local std::vector<const StoreState*> t_callbacks;

// The store's replica for one call, or the error for a NULL/closed handle.
#define MS_ACCESS(var, store)                                                        \
    if (!(store)) return error(MS_ERR_INVALID_ARGUMENT, "the store handle is NULL"); \
    Access var(*(store)->state);                                                     \
    if (!var.replica()) return error(MS_ERR_CLOSED, "the store is closed")

Status check_version(std::uint32_t got, std::uint32_t want, std::string_view what) {
    if (got != want)
        return error(MS_ERR_INVALID_ARGUMENT, std::string(what) + " version " +
                                                  std::to_string(got) + " is not supported (" +
                                                  std::to_string(want) + " expected)");
    return ok();
}

}  // namespace

bool in_callback_of(const StoreState* s) noexcept {
    return std::find(t_callbacks.begin(), t_callbacks.end(), s) != t_callbacks.end();
}
CallbackScope::CallbackScope(const StoreState* s) {
    t_callbacks.push_back(s);
}
CallbackScope::~CallbackScope() {
    t_callbacks.pop_back();
}

Access::Access(StoreState& s) : state_(s) {
    if (!in_callback_of(&s)) lock_ = std::shared_lock(s.life);
}

// Runs inside the engine's commit, after the data is durable: it must not throw (that would
// turn a successful write into a reported failure), so an allocation failure here drops the
// notification rather than the write.
void StoreState::dispatch(const std::vector<ChangeEvent>& events) noexcept {
    try {
        dispatch_to_observers(events);
    } catch (...) {
    }
}

void StoreState::dispatch_to_observers(const std::vector<ChangeEvent>& events) {
    std::vector<std::shared_ptr<CObserver>> targets;
    {
        std::lock_guard g(obs_mu);
        for (auto& [id, o] : observers) {
            if (!o->active) continue;
            ++o->in_flight;
            targets.push_back(o);
        }
    }
    if (targets.empty()) return;
    std::vector<ms_change> changes(events.size());
    for (std::size_t i = 0; i < events.size(); ++i) {
        const auto& ev = events[i];
        changes[i].collection = ev.collection.c_str();
        changes[i].collection_size = ev.collection.size();
        copy_fixed(changes[i].id, sizeof changes[i].id, ev.row.to_string());
        copy_fixed(changes[i].stamp, sizeof changes[i].stamp, stamp_text(ev.stamp));
        changes[i].remote = ev.remote ? 1 : 0;
        changes[i].purged = ev.purged ? 1 : 0;
    }
    CallbackScope scope(this);
    for (auto& o : targets) {
        bool active;
        {
            std::lock_guard g(obs_mu);
            active = o->active;
        }
        if (active) {
            o->callback(o->context, changes.data(), changes.size());
        }
        std::lock_guard g(obs_mu);
        --o->in_flight;
        obs_cv.notify_all();
    }
}

}  // namespace mentorsync::capi

using namespace mentorsync;
using namespace mentorsync::capi;

struct ms_txn {
    std::shared_ptr<StoreState> state;
    std::mutex mu;
    WriteBatch batch;
    bool spent = false;
};

// Every entry point below is declared extern "C" in mentorsync.h, so it keeps C linkage.

// ---- version and errors --------------------------------------------------------------------

int32_t ms_abi_version(void) noexcept {
    return MS_ABI_VERSION;
}
const char* ms_version(void) noexcept {
    return MENTORSYNC_SDK_VERSION;
}

const char* ms_error_code_name(int32_t code) noexcept {
    switch (code) {
        case MS_ERR_OK:
            return "ok";
        case MS_ERR_INVALID_ARGUMENT:
            return "invalid_argument";
        case MS_ERR_VALIDATION:
            return "validation";
        case MS_ERR_NOT_FOUND:
            return "not_found";
        case MS_ERR_WRONG_KEY:
            return "wrong_key";
        case MS_ERR_LOCKED_OUT:
            return "locked_out";
        case MS_ERR_CORRUPT:
            return "corrupt";
        case MS_ERR_IO:
            return "io";
        case MS_ERR_LOCKED:
            return "locked";
        case MS_ERR_CLOSED:
            return "closed";
        case MS_ERR_UNSUPPORTED:
            return "unsupported";
        case MS_ERR_INTERNAL:
            return "internal";
        case MS_ERR_OUT_OF_MEMORY:
            return "out_of_memory";
        case MS_ERR_NETWORK:
            return "network";
        case MS_ERR_CANCELLED:
            return "cancelled";
        case MS_ERR_NOT_ENROLLED:
            return "not_enrolled";
        case MS_ERR_INVALID_STATE:
            return "invalid_state";
        case MS_ERR_PROTOCOL:
            return "protocol";
        default:
            return "unknown";
    }
}

const char* ms_error_domain_name(int32_t domain) noexcept {
    switch (domain) {
        case MS_ERROR_DOMAIN_NONE:
            return "none";
        case MS_ERROR_DOMAIN_MENTORSYNC:
            return "mentorsync";
        case MS_ERROR_DOMAIN_SERVER:
            return "server";
        default:
            return "unknown";
    }
}

void ms_buffer_free(ms_buffer* buffer) noexcept {
    if (!buffer || !buffer->data) return;
    sodium_memzero(buffer->data, buffer->size);
    std::free(buffer->data);
    buffer->data = nullptr;
    buffer->size = 0;
}

// ---- open, close, keys ---------------------------------------------------------------------

bool ms_open(const ms_open_options* options, const ms_key* key, ms_store** out_store,
             ms_error* err) noexcept {
    return guarded(err, [&]() -> Status {
        if (!options) return error(MS_ERR_INVALID_ARGUMENT, "the open options are NULL");
        if (!out_store) return error(MS_ERR_INVALID_ARGUMENT, "out_store is NULL");
        if (Status e = check_version(options->version, MS_OPEN_OPTIONS_VERSION, "ms_open_options");
            !e.ok())
            return e;
        MS_TEXT_ARG(path, options->path, options->path_size, "the path");
        if (path.empty()) return error(MS_ERR_INVALID_ARGUMENT, "the path is empty");
        if (path.find('\0') != std::string_view::npos)
            return error(MS_ERR_INVALID_ARGUMENT, "the path contains a NUL byte");
        if (options->durability != MS_DURABILITY_FULL &&
            options->durability != MS_DURABILITY_NORMAL)
            return error(MS_ERR_INVALID_ARGUMENT,
                         "durability must be MS_DURABILITY_FULL or "
                         "MS_DURABILITY_NORMAL");
        if (options->must_exist != 0 && options->must_exist != 1)
            return error(MS_ERR_INVALID_ARGUMENT, "must_exist must be 0 or 1");
        OpenOptions o;
        o.path = std::string(path);
        o.create_if_missing = options->must_exist == 0;
        o.durability =
            options->durability == MS_DURABILITY_NORMAL ? Durability::normal : Durability::full;
        if (options->kdf_ops_limit != 0) {
            if (options->kdf_ops_limit > 20)
                return error(MS_ERR_INVALID_ARGUMENT, "kdf_ops_limit must be 1 to 20");
            o.kdf.opslimit = options->kdf_ops_limit;
        }
        if (options->kdf_mem_limit != 0) {
            if (options->kdf_mem_limit < 8192 || options->kdf_mem_limit > (1ull << 30))
                return error(MS_ERR_INVALID_ARGUMENT, "kdf_mem_limit must be 8192 bytes to 1 GiB");
            o.kdf.memlimit = static_cast<std::size_t>(options->kdf_mem_limit);
        }
        auto k = key_from(key, "the key");
        if (!k.ok()) return k.status();

        auto state = std::make_shared<StoreState>();
        state->registry_path = registry_key(path);
        {
            std::lock_guard g(registry_mu());
            if (!registry().insert(state->registry_path).second)
                return error(MS_ERR_INVALID_STATE,
                             "this store file is already open in this process: use that handle");
        }
        auto release = [&] {
            std::lock_guard g(registry_mu());
            registry().erase(state->registry_path);
        };
        Result<std::unique_ptr<Replica>> r = Status::internal("not opened");
        try {
            r = Replica::open(o, *k);
        } catch (...) {
            release();
            throw;
        }
        if (!r.ok()) {
            release();
            if (r.status().code() == Code::not_found)
                return error(MS_ERR_NOT_FOUND, r.status().message());
            return r.status();
        }
        state->replica = std::move(*r);
        StoreState* raw = state.get();
        state->replica->observe(
            [raw](const std::vector<ChangeEvent>& events) { raw->dispatch(events); });
        *out_store = new ms_store{std::move(state)};
        return ok();
    });
}

bool ms_close(ms_store* store, ms_error* err) noexcept {
    if (!store) return true;
    return guarded(err, [&]() -> Status {
        StoreState& s = *store->state;
        if (in_callback_of(&s))
            return error(MS_ERR_INVALID_STATE,
                         "ms_close was called from a callback of the same store; close it "
                         "after the callback returns");
        {
            std::unique_lock lock(s.life);
            {
                std::lock_guard g(s.sessions_mu);
                for (ms_sync* session : s.sessions)
                    detach_session(session);
            }
            if (s.replica) {
                s.replica->lock();
                s.replica.reset();
            }
        }
        {
            std::lock_guard g(registry_mu());
            registry().erase(s.registry_path);
        }
        delete store;
        return ok();
    });
}

bool ms_lock(ms_store* store, ms_error* err) noexcept {
    return guarded(err, [&]() -> Status {
        MS_ACCESS(a, store);
        a.replica()->lock();
        return ok();
    });
}

bool ms_unlock(ms_store* store, const ms_key* key, ms_error* err) noexcept {
    return guarded(err, [&]() -> Status {
        MS_ACCESS(a, store);
        auto k = key_from(key, "the key");
        if (!k.ok()) return k.status();
        return a.replica()->unlock(*k);
    });
}

int32_t ms_is_locked(const ms_store* store) noexcept {
    if (!store) return -1;
    try {
        Access a(*store->state);
        if (!a.replica()) return -1;
        return a.replica()->is_locked() ? 1 : 0;
    } catch (...) {
        return -1;
    }
}

bool ms_change_key(ms_store* store, const ms_key* current, const ms_key* next,
                   ms_error* err) noexcept {
    return guarded(err, [&]() -> Status {
        MS_ACCESS(a, store);
        auto c = key_from(current, "the current key");
        if (!c.ok()) return c.status();
        auto n = key_from(next, "the next key");
        if (!n.ok()) return n.status();
        return a.replica()->change_key(*c, *n);
    });
}

// ---- records -------------------------------------------------------------------------------

namespace {
Status check_collection(const Replica& r, std::string_view collection) {
    if (!r.schema().collection(collection))
        return error(MS_ERR_INVALID_ARGUMENT,
                     "unknown collection '" + std::string(collection.substr(0, 64)) + "'");
    return ok();
}
}  // namespace

bool ms_record_create(ms_store* store, const char* collection, size_t collection_size,
                      const char* fields_json, size_t fields_json_size, char out_id[MS_ID_SIZE],
                      ms_error* err) noexcept {
    return guarded(err, [&]() -> Status {
        MS_ACCESS(a, store);
        MS_TEXT_ARG(coll, collection, collection_size, "the collection");
        MS_TEXT_ARG(text, fields_json, fields_json_size, "the fields JSON");
        if (!out_id) return error(MS_ERR_INVALID_ARGUMENT, "out_id is NULL");
        if (Status e = check_collection(*a.replica(), coll); !e.ok()) return e;
        auto fields = fields_from_json(text);
        if (!fields.ok()) return fields.status();
        auto id = a.replica()->create(coll, std::move(*fields));
        if (!id.ok()) return id.status();
        copy_fixed(out_id, MS_ID_SIZE, id->to_string());
        return ok();
    });
}

bool ms_record_update(ms_store* store, const char* collection, size_t collection_size,
                      const char* id, size_t id_size, const char* fields_json,
                      size_t fields_json_size, ms_error* err) noexcept {
    return guarded(err, [&]() -> Status {
        MS_ACCESS(a, store);
        MS_TEXT_ARG(coll, collection, collection_size, "the collection");
        MS_TEXT_ARG(id_text, id, id_size, "the id");
        MS_TEXT_ARG(text, fields_json, fields_json_size, "the fields JSON");
        if (Status e = check_collection(*a.replica(), coll); !e.ok()) return e;
        auto uuid = parse_id(id_text, "the id");
        if (!uuid.ok()) return uuid.status();
        auto fields = fields_from_json(text);
        if (!fields.ok()) return fields.status();
        return a.replica()->update(coll, *uuid, std::move(*fields));
    });
}

namespace {
template <typename F>
Status on_record(ms_store* store, const char* collection, size_t collection_size, const char* id,
                 size_t id_size, F&& op) {
    MS_ACCESS(a, store);
    MS_TEXT_ARG(coll, collection, collection_size, "the collection");
    MS_TEXT_ARG(id_text, id, id_size, "the id");
    if (Status e = check_collection(*a.replica(), coll); !e.ok()) return e;
    auto uuid = parse_id(id_text, "the id");
    if (!uuid.ok()) return uuid.status();
    return op(*a.replica(), coll, *uuid);
}
}  // namespace

bool ms_record_delete(ms_store* store, const char* collection, size_t collection_size,
                      const char* id, size_t id_size, ms_error* err) noexcept {
    return guarded(err, [&]() -> Status {
        return on_record(
            store, collection, collection_size, id, id_size,
            [](Replica& r, std::string_view c, const Uuid& u) { return r.remove(c, u); });
    });
}

bool ms_record_restore(ms_store* store, const char* collection, size_t collection_size,
                       const char* id, size_t id_size, ms_error* err) noexcept {
    return guarded(err, [&]() -> Status {
        return on_record(
            store, collection, collection_size, id, id_size,
            [](Replica& r, std::string_view c, const Uuid& u) { return r.restore(c, u); });
    });
}

bool ms_record_get(ms_store* store, const char* collection, size_t collection_size, const char* id,
                   size_t id_size, ms_buffer* out_json, ms_error* err) noexcept {
    return guarded(err, [&]() -> Status {
        if (!out_json) return error(MS_ERR_INVALID_ARGUMENT, "out_json is NULL");
        return on_record(store, collection, collection_size, id, id_size,
                         [&](Replica& r, std::string_view c, const Uuid& u) {
                             auto rec = r.get(c, u);
                             if (!rec.ok()) return rec.status();
                             return json_out(out_json, record_to_json(*rec));
                         });
    });
}

bool ms_query(ms_store* store, const ms_query_options* options, ms_buffer* out,
              ms_error* err) noexcept {
    return guarded(err, [&]() -> Status {
        MS_ACCESS(a, store);
        if (!options) return error(MS_ERR_INVALID_ARGUMENT, "the query options are NULL");
        if (!out) return error(MS_ERR_INVALID_ARGUMENT, "out_json is NULL");
        if (Status e =
                check_version(options->version, MS_QUERY_OPTIONS_VERSION, "ms_query_options");
            !e.ok())
            return e;
        MS_TEXT_ARG(coll, options->collection, options->collection_size, "the collection");
        MS_TEXT_ARG(ref_field, options->ref_field, options->ref_field_size, "ref_field");
        MS_TEXT_ARG(ref, options->ref, options->ref_size, "ref");
        MS_TEXT_ARG(from, options->from_date, options->from_date_size, "from_date");
        MS_TEXT_ARG(to, options->to_date, options->to_date_size, "to_date");
        if (Status e = check_collection(*a.replica(), coll); !e.ok()) return e;
        if (options->include_deleted != 0 && options->include_deleted != 1)
            return error(MS_ERR_INVALID_ARGUMENT, "include_deleted must be 0 or 1");
        Query q;
        q.collection = std::string(coll);
        if (!ref_field.empty()) {
            const FieldDef* f = a.replica()->schema().collection(coll)->field(ref_field);
            if (!f || f->type != FieldType::uuid)
                return error(MS_ERR_INVALID_ARGUMENT, std::string(coll) + "." +
                                                          std::string(ref_field.substr(0, 64)) +
                                                          " is not a reference field");
            if (ref.empty())
                return error(MS_ERR_INVALID_ARGUMENT, "ref_field is set but ref is empty");
        }
        q.ref_field = std::string(ref_field);
        if (!ref.empty()) {
            auto id = parse_id(ref, "ref");
            if (!id.ok()) return id.status();
            q.ref = *id;
        }
        q.from_date = std::string(from);
        q.to_date = std::string(to);
        q.include_deleted = options->include_deleted == 1;
        q.limit = options->limit;
        auto rows = a.replica()->query(q);
        if (!rows.ok()) return rows.status();
        json arr = json::array();
        for (const auto& r : *rows)
            arr.push_back(record_to_json(r));
        return json_out(out, arr);
    });
}

// ---- transactions --------------------------------------------------------------------------

bool ms_txn_begin(ms_store* store, ms_txn** out_txn, ms_error* err) noexcept {
    return guarded(err, [&]() -> Status {
        MS_ACCESS(a, store);
        if (!out_txn) return error(MS_ERR_INVALID_ARGUMENT, "out_txn is NULL");
        auto* t = new ms_txn;
        t->state = store->state;
        *out_txn = t;
        return ok();
    });
}

namespace {
// Runs `op` on an open transaction whose store is still open.
template <typename F>
Status on_txn(ms_txn* txn, F&& op) {
    if (!txn) return error(MS_ERR_INVALID_ARGUMENT, "the transaction handle is NULL");
    Access a(*txn->state);
    if (!a.replica()) return error(MS_ERR_CLOSED, "the store is closed");
    std::lock_guard g(txn->mu);
    if (txn->spent)
        return error(MS_ERR_INVALID_STATE,
                     "the transaction was already committed: begin a new one");
    return op(*a.replica());
}
}  // namespace

bool ms_txn_create(ms_txn* txn, const char* collection, size_t collection_size,
                   const char* fields_json, size_t fields_json_size, char out_id[MS_ID_SIZE],
                   ms_error* err) noexcept {
    return guarded(err, [&]() -> Status {
        return on_txn(txn, [&](Replica& r) -> Status {
            MS_TEXT_ARG(coll, collection, collection_size, "the collection");
            MS_TEXT_ARG(text, fields_json, fields_json_size, "the fields JSON");
            if (!out_id) return error(MS_ERR_INVALID_ARGUMENT, "out_id is NULL");
            if (Status e = check_collection(r, coll); !e.ok()) return e;
            auto fields = fields_from_json(text);
            if (!fields.ok()) return fields.status();
            Uuid id = txn->batch.create(std::string(coll), std::move(*fields));
            copy_fixed(out_id, MS_ID_SIZE, id.to_string());
            return ok();
        });
    });
}

bool ms_txn_update(ms_txn* txn, const char* collection, size_t collection_size, const char* id,
                   size_t id_size, const char* fields_json, size_t fields_json_size,
                   ms_error* err) noexcept {
    return guarded(err, [&]() -> Status {
        return on_txn(txn, [&](Replica& r) -> Status {
            MS_TEXT_ARG(coll, collection, collection_size, "the collection");
            MS_TEXT_ARG(id_text, id, id_size, "the id");
            MS_TEXT_ARG(text, fields_json, fields_json_size, "the fields JSON");
            if (Status e = check_collection(r, coll); !e.ok()) return e;
            auto uuid = parse_id(id_text, "the id");
            if (!uuid.ok()) return uuid.status();
            auto fields = fields_from_json(text);
            if (!fields.ok()) return fields.status();
            txn->batch.update(std::string(coll), *uuid, std::move(*fields));
            return ok();
        });
    });
}

bool ms_txn_delete(ms_txn* txn, const char* collection, size_t collection_size, const char* id,
                   size_t id_size, ms_error* err) noexcept {
    return guarded(err, [&]() -> Status {
        return on_txn(txn, [&](Replica& r) -> Status {
            MS_TEXT_ARG(coll, collection, collection_size, "the collection");
            MS_TEXT_ARG(id_text, id, id_size, "the id");
            if (Status e = check_collection(r, coll); !e.ok()) return e;
            auto uuid = parse_id(id_text, "the id");
            if (!uuid.ok()) return uuid.status();
            txn->batch.remove(std::string(coll), *uuid);
            return ok();
        });
    });
}

bool ms_txn_commit(ms_txn* txn, ms_error* err) noexcept {
    return guarded(err, [&]() -> Status {
        return on_txn(txn, [&](Replica& r) -> Status {
            txn->spent = true;
            auto res = r.commit(txn->batch);
            txn->batch = WriteBatch();
            if (!res.ok()) return res.status();
            return ok();
        });
    });
}

void ms_txn_free(ms_txn* txn) noexcept {
    delete txn;
}

// ---- conflicts -----------------------------------------------------------------------------

bool ms_conflicts(ms_store* store, const char* row_id, size_t row_id_size, ms_buffer* out,
                  ms_error* err) noexcept {
    return guarded(err, [&]() -> Status {
        MS_ACCESS(a, store);
        MS_TEXT_ARG(row_text, row_id, row_id_size, "the row id");
        if (!out) return error(MS_ERR_INVALID_ARGUMENT, "out_json is NULL");
        std::optional<Uuid> row;
        if (!row_text.empty()) {
            auto id = parse_id(row_text, "the row id");
            if (!id.ok()) return id.status();
            row = *id;
        }
        auto list = a.replica()->conflicts(row);
        if (!list.ok()) return list.status();
        json arr = json::array();
        for (const auto& c : *list)
            arr.push_back(json{{"collection", c.collection},
                               {"row", c.row.to_string()},
                               {"field", c.field},
                               {"winner_value", value_to_json(c.winner_value)},
                               {"winner_stamp", stamp_text(c.winner)},
                               {"loser_value", value_to_json(c.loser_value)},
                               {"loser_stamp", stamp_text(c.loser)}});
        return json_out(out, arr);
    });
}

bool ms_conflict_resolve(ms_store* store, const char* row_id, size_t row_id_size, const char* field,
                         size_t field_size, const char* loser_stamp, size_t loser_stamp_size,
                         int32_t how, const char* value_json, size_t value_json_size,
                         ms_error* err) noexcept {
    return guarded(err, [&]() -> Status {
        MS_ACCESS(a, store);
        MS_TEXT_ARG(row_text, row_id, row_id_size, "the row id");
        MS_TEXT_ARG(field_name, field, field_size, "the field");
        MS_TEXT_ARG(stamp_arg, loser_stamp, loser_stamp_size, "the loser stamp");
        MS_TEXT_ARG(value_text, value_json, value_json_size, "the value JSON");
        auto row = parse_id(row_text, "the row id");
        if (!row.ok()) return row.status();
        if (field_name.empty()) return error(MS_ERR_INVALID_ARGUMENT, "the field is empty");
        auto stamp = parse_stamp(stamp_arg);
        if (!stamp.ok()) return stamp.status();
        Resolution res;
        Value custom;
        switch (how) {
            case MS_RESOLVE_KEEP_WINNER:
                res = Resolution::keep_winner;
                break;
            case MS_RESOLVE_TAKE_LOSER:
                res = Resolution::take_loser;
                break;
            case MS_RESOLVE_CUSTOM: {
                res = Resolution::custom;
                if (value_text.empty())
                    return error(MS_ERR_INVALID_ARGUMENT, "MS_RESOLVE_CUSTOM needs a value (JSON)");
                auto j = parse_json(value_text, "the value JSON");
                if (!j.ok()) return j.status();
                auto v = value_from_json(*j, field_name);
                if (!v.ok()) return v.status();
                custom = std::move(*v);
                break;
            }
            default:
                return error(MS_ERR_INVALID_ARGUMENT,
                             "how must be MS_RESOLVE_KEEP_WINNER, _TAKE_LOSER or _CUSTOM");
        }
        auto r = a.replica()->resolve_conflict(*row, field_name, *stamp, res, custom);
        if (!r.ok()) return r.status();
        return ok();
    });
}

// ---- observers -----------------------------------------------------------------------------

bool ms_observe(ms_store* store, ms_change_callback callback, void* context, uint64_t* out_id,
                ms_error* err) noexcept {
    return guarded(err, [&]() -> Status {
        MS_ACCESS(a, store);
        if (!callback) return error(MS_ERR_INVALID_ARGUMENT, "the callback is NULL");
        if (!out_id) return error(MS_ERR_INVALID_ARGUMENT, "out_id is NULL");
        auto o = std::make_shared<CObserver>();
        o->callback = callback;
        o->context = context;
        StoreState& s = *store->state;
        std::lock_guard g(s.obs_mu);
        std::uint64_t id = s.next_observer++;
        s.observers.emplace(id, std::move(o));
        *out_id = id;
        return ok();
    });
}

bool ms_unobserve(ms_store* store, uint64_t id, ms_error* err) noexcept {
    return guarded(err, [&]() -> Status {
        MS_ACCESS(a, store);
        StoreState& s = *store->state;
        std::unique_lock g(s.obs_mu);
        auto it = s.observers.find(id);
        if (it == s.observers.end())
            return error(MS_ERR_NOT_FOUND, "no observer " + std::to_string(id));
        std::shared_ptr<CObserver> o = it->second;
        o->active = false;
        s.observers.erase(it);
        // Wait for calls running on other threads. From inside any callback of this store we do
        // not wait: two callbacks unobserving each other would wait forever.
        if (in_callback_of(&s)) return ok();
        s.obs_cv.wait(g, [&] { return o->in_flight == 0; });
        return ok();
    });
}

// ---- status and quarantine -----------------------------------------------------------------

bool ms_status(ms_store* store, ms_store_status* out, ms_error* err) noexcept {
    return guarded(err, [&]() -> Status {
        MS_ACCESS(a, store);
        if (!out) return error(MS_ERR_INVALID_ARGUMENT, "out_status is NULL");
        Replica& r = *a.replica();
        ms_store_status st{};
        copy_fixed(st.node_id, sizeof st.node_id, r.node().to_string());
        if (r.is_locked()) {
            st.locked = 1;
            *out = st;
            return ok();
        }
        auto rs = r.status();
        if (!rs.ok()) {
            if (rs.status().code() == Code::closed) {  // locked meanwhile
                st.locked = 1;
                *out = st;
                return ok();
            }
            return rs.status();
        }
        st.schema_version = rs->schema_version;
        st.pending_changes = rs->pending_transactions;
        st.open_conflicts = rs->open_conflicts;
        st.quarantined = rs->quarantined;
        st.records = rs->records;
        auto read_int = [&](std::string_view key, std::int64_t& v) -> Status {
            auto s = r.sync_value(key);
            if (!s.ok()) return s.status();
            if (!*s) return ok();
            const std::string& t = **s;
            auto [p, ec] = std::from_chars(t.data(), t.data() + t.size(), v);
            if (ec != std::errc() || p != t.data() + t.size())
                return error(MS_ERR_CORRUPT, "sync value '" + std::string(key) + "' is malformed");
            return ok();
        };
        if (Status e = read_int(kLastSyncKey, st.last_sync_ms); !e.ok()) return e;
        auto skew = r.sync_value(kSkewKey);
        if (!skew.ok()) return skew.status();
        if (*skew) {
            if (Status e = read_int(kSkewKey, st.clock_skew_ms); !e.ok()) return e;
            st.clock_skew_known = 1;
            st.clock_skew_warning = (st.clock_skew_ms >= MS_CLOCK_SKEW_WARNING_MS ||
                                     st.clock_skew_ms <= -MS_CLOCK_SKEW_WARNING_MS)
                                        ? 1
                                        : 0;
        }
        DeviceIdentity identity;
        Status id = load_identity(r, identity);
        if (id.ok()) {
            st.enrolled = 1;
            copy_fixed(st.device_id, sizeof st.device_id, identity.device_id.to_string());
            SyncSession session(r, identity);
            sodium_memzero(identity.keys.secret_key.data(), identity.keys.secret_key.size());
            auto rejected = session.rejected();
            if (!rejected.ok()) return rejected.status();
            st.rejected = rejected->size();
        } else if (!has_abi_code(id, MS_ERR_NOT_ENROLLED)) {
            return id;
        }
        *out = st;
        return ok();
    });
}

bool ms_quarantined(ms_store* store, ms_buffer* out, ms_error* err) noexcept {
    return guarded(err, [&]() -> Status {
        MS_ACCESS(a, store);
        if (!out) return error(MS_ERR_INVALID_ARGUMENT, "out_json is NULL");
        auto list = a.replica()->quarantined();
        if (!list.ok()) return list.status();
        json arr = json::array();
        for (const auto& q : *list)
            arr.push_back(json{{"stamp", stamp_text(q.stamp)},
                               {"received_ms", q.received_ms},
                               {"ahead_ms", q.ahead_ms},
                               {"changes", q.changes}});
        return json_out(out, arr);
    });
}

bool ms_quarantine_release(ms_store* store, const char* stamp, size_t stamp_size,
                           ms_error* err) noexcept {
    return guarded(err, [&]() -> Status {
        MS_ACCESS(a, store);
        MS_TEXT_ARG(text, stamp, stamp_size, "the stamp");
        auto s = parse_stamp(text);
        if (!s.ok()) return s.status();
        auto r = a.replica()->release_quarantined(*s);
        if (!r.ok()) return r.status();
        if (!r->rejected.empty())
            return error(MS_ERR_VALIDATION, "the released transaction is not valid here: " +
                                                r->rejected.front().reason.message());
        return ok();
    });
}

bool ms_quarantine_discard(ms_store* store, const char* stamp, size_t stamp_size,
                           ms_error* err) noexcept {
    return guarded(err, [&]() -> Status {
        MS_ACCESS(a, store);
        MS_TEXT_ARG(text, stamp, stamp_size, "the stamp");
        auto s = parse_stamp(text);
        if (!s.ok()) return s.status();
        return a.replica()->discard_quarantined(*s);
    });
}

// ---- wipe ----------------------------------------------------------------------------------

namespace {
// The companions SQLite keeps beside a store, wiped before the store file itself: a new store
// created at the path must never meet an old -wal (SQLite would replay it into the new file).
constexpr std::array<std::string_view, 3> kCompanions = {"-wal", "-shm", "-journal"};
// The mark of a wipe in progress: made once the file was recognised as a store and before
// anything is overwritten, removed last. A wipe cut short by a crash leaves it behind, and the
// next ms_wipe finishes the job without recognising the half-overwritten file again.
constexpr std::string_view kWipingSuffix = "-wiping";

enum class Entry { missing, regular, symlink, other };

// What is at `path`, without following a symbolic link (lstat: nothing is opened).
Result<Entry> entry_at(const std::string& path, struct stat& st) {
    if (::lstat(path.c_str(), &st) != 0) {
        if (errno == ENOENT) return Entry::missing;
        return Status::io("cannot inspect " + path + ": " + std::strerror(errno));
    }
    if (S_ISLNK(st.st_mode)) return Entry::symlink;
    return S_ISREG(st.st_mode) ? Entry::regular : Entry::other;
}

// Whether the file is open through an ms_store of this process, by name or by identity (a
// hard link or another spelling of the path). Overwriting it would destroy a live store, and
// closing our descriptor would drop SQLite's POSIX locks on it. Caller holds registry_mu().
bool open_in_this_process(const std::string& path, const struct stat& st) {
    if (registry().count(registry_key(path))) return true;
    for (const std::string& open_path : registry()) {
        struct stat other {};
        if (::stat(open_path.c_str(), &other) == 0 && other.st_dev == st.st_dev &&
            other.st_ino == st.st_ino)
            return true;
    }
    return false;
}

void flush_directory_of(const std::string& path) {
    std::filesystem::path dir = std::filesystem::path(path).parent_path();
    if (dir.empty()) dir = ".";
    int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        (void)::fsync(dfd);
        ::close(dfd);
    }
}

// Overwrites one file with zeros, flushes, truncates and unlinks it. A missing file is fine.
Status wipe_file(const std::string& path) {
    int fd = ::open(path.c_str(), O_WRONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT) return ok();
        if (errno == ELOOP) return error(MS_ERR_IO, path + " is a symbolic link: not wiped");
        return error(MS_ERR_IO, "cannot open " + path + " to wipe it: " + std::strerror(errno));
    }
    struct FdCloser {
        int fd;
        ~FdCloser() { ::close(fd); }
    } closer{fd};
    struct stat st {};
    if (::fstat(fd, &st) != 0)
        return error(MS_ERR_IO, "cannot stat " + path + ": " + std::strerror(errno));
    if (!S_ISREG(st.st_mode)) return error(MS_ERR_IO, path + " is not a regular file");
    std::vector<char> zeros(64 * 1024, 0);
    off_t left = st.st_size;
    while (left > 0) {
        std::size_t n = static_cast<std::size_t>(std::min<off_t>(left, 64 * 1024));
        ssize_t w = ::write(fd, zeros.data(), n);
        if (w < 0) {
            if (errno == EINTR) continue;
            return error(MS_ERR_IO, "overwriting " + path + " failed: " + std::strerror(errno));
        }
        left -= w;
    }
    if (::fsync(fd) != 0)
        return error(MS_ERR_IO, "flushing " + path + " failed: " + std::strerror(errno));
    if (::ftruncate(fd, 0) != 0)
        return error(MS_ERR_IO, "truncating " + path + " failed: " + std::strerror(errno));
    (void)::fsync(fd);
    if (::unlink(path.c_str()) != 0 && errno != ENOENT)
        return error(MS_ERR_IO, "removing " + path + " failed: " + std::strerror(errno));
    return ok();
}

// Leaves the mark of a wipe in progress, durably, before anything is overwritten.
Status mark_wiping(const std::string& path) {
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0)
        return error(MS_ERR_IO,
                     "cannot create " + path + " to start the wipe: " + std::strerror(errno));
    const bool flushed = ::fsync(fd) == 0;
    ::close(fd);
    if (!flushed) return error(MS_ERR_IO, "flushing " + path + " failed: " + std::strerror(errno));
    flush_directory_of(path);
    return ok();
}
}  // namespace

bool ms_wipe(const char* path, size_t path_size, ms_error* err) noexcept {
    return guarded(err, [&]() -> Status {
        MS_TEXT_ARG(p, path, path_size, "the path");
        if (p.empty()) return error(MS_ERR_INVALID_ARGUMENT, "the path is empty");
        if (p.find('\0') != std::string_view::npos)
            return error(MS_ERR_INVALID_ARGUMENT, "the path contains a NUL byte");
        const std::string base(p);
        const std::string marker = base + std::string(kWipingSuffix);
        std::lock_guard g(registry_mu());  // no open may start while we wipe

        // Everything is checked before anything is touched: a refusal leaves every file as it
        // was.
        struct stat st {};
        auto store = entry_at(base, st);
        if (!store.ok()) return store.status();
        if (*store == Entry::symlink)
            return error(MS_ERR_IO, base + " is a symbolic link: not wiped");
        if (*store == Entry::other)
            return error(
                MS_ERR_INVALID_ARGUMENT,
                base + " is not a MentorSync store (not a regular file): nothing was wiped");
        if (*store == Entry::regular ? open_in_this_process(base, st)
                                     : registry().count(registry_key(base)) != 0)
            return error(MS_ERR_INVALID_STATE, "the store is open in this process: close it first");
        bool resuming = false;
        for (std::string_view suffix :
             {kCompanions[0], kCompanions[1], kCompanions[2], kWipingSuffix}) {
            const std::string name = base + std::string(suffix);
            struct stat cst {};
            auto e = entry_at(name, cst);
            if (!e.ok()) return e.status();
            if (*e == Entry::symlink)
                return error(MS_ERR_IO, name + " is a symbolic link: not wiped");
            if (*e == Entry::other)
                return error(MS_ERR_IO, name + " is not a regular file: nothing was wiped");
            if (suffix == kWipingSuffix) resuming = *e == Entry::regular;
        }

        if (!resuming) {
            // No store file: nothing to wipe. Companions without their store cannot be told
            // from anyone else's and are left alone.
            if (*store == Entry::missing) return ok();
            Status s = Replica::recognise(base);
            if (s.code() == Code::not_found) return ok();  // removed meanwhile
            if (s.code() == Code::invalid_argument)
                return error(MS_ERR_INVALID_ARGUMENT, base + " is not a MentorSync store (" +
                                                          s.message() + "): nothing was wiped");
            if (!s.ok())
                return error(MS_ERR_IO, "cannot tell whether " + base + " is a MentorSync store (" +
                                            s.message() + "): nothing was wiped");
            if (Status e = mark_wiping(marker); !e.ok()) return e;
        }
        for (std::string_view suffix : kCompanions)
            if (Status e = wipe_file(base + std::string(suffix)); !e.ok()) return e;
        if (Status e = wipe_file(base); !e.ok()) return e;
        flush_directory_of(base);
        // The store is gone for good: only now may the mark go.
        if (::unlink(marker.c_str()) != 0 && errno != ENOENT)
            return error(MS_ERR_IO, "removing " + marker + " failed: " + std::strerror(errno));
        flush_directory_of(base);
        return ok();
    });
}

// ---- cancellation --------------------------------------------------------------------------

bool ms_cancel_new(ms_cancel** out_cancel, ms_error* err) noexcept {
    return guarded(err, [&]() -> Status {
        if (!out_cancel) return error(MS_ERR_INVALID_ARGUMENT, "out_cancel is NULL");
        *out_cancel = new ms_cancel;
        return ok();
    });
}
void ms_cancel_request(ms_cancel* cancel) noexcept {
    if (cancel) cancel->requested.store(true);
}
void ms_cancel_reset(ms_cancel* cancel) noexcept {
    if (cancel) cancel->requested.store(false);
}
int32_t ms_cancel_is_requested(const ms_cancel* cancel) noexcept {
    if (!cancel) return -1;
    return cancel->requested.load() ? 1 : 0;
}
void ms_cancel_free(ms_cancel* cancel) noexcept {
    delete cancel;
}
