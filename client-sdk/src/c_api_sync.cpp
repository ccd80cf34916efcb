// The C ABI (client-sdk/include/mentorsync/mentorsync.h), part 2: enrollment, sync through the
// built-in transport, the sans-I/O session for apps with their own HTTP stack, and rejected
// pushes. Beast stays in http_transport.cpp; this file only sees its plain interface.
#include <sodium.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <climits>
#include <cstring>
#include <type_traits>

#include <nlohmann/json.hpp>

#include "c_api_internal.h"
#include "common/text.h"
#include "http_transport.h"

namespace mentorsync::capi {

namespace {
constexpr std::size_t kIdentityBytes = 16 + 32 + 64;

std::string encode_identity(const DeviceIdentity& id) {
    std::string out(id.device_id.raw());
    out.append(reinterpret_cast<const char*>(id.keys.public_key.data()), 32);
    out.append(reinterpret_cast<const char*>(id.keys.secret_key.data()), 64);
    return out;
}

std::int64_t now_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

// The store's enrolled server, as a parsed endpoint.
Result<client::Endpoint> enrolled_endpoint(Replica& r, std::string* ca_file) {
    auto url = r.sync_value(kServerUrlKey);
    if (!url.ok()) return url.status();
    if (!*url) return Status::not_found("not enrolled");
    if (ca_file) {
        auto ca = r.sync_value(kCaFileKey);
        if (!ca.ok()) return ca.status();
        *ca_file = ca->value_or("");
    }
    return client::Endpoint::parse(**url);
}

Status check_sync_options(const ms_sync_options* o) {
    if (!o) return ok();
    if (o->version != MS_SYNC_OPTIONS_VERSION)
        return error(MS_ERR_INVALID_ARGUMENT, "ms_sync_options version " +
                                                  std::to_string(o->version) +
                                                  " is not supported (1 expected)");
    if (o->push_batch > wire::kMaxTransactionsPerPush)
        return error(MS_ERR_INVALID_ARGUMENT, "push_batch must be 1 to 1000 (0: default)");
    if (o->pull_limit > wire::kMaxPullLimit)
        return error(MS_ERR_INVALID_ARGUMENT, "pull_limit must be 1 to 1000 (0: default)");
    if (o->progress_context && !o->on_progress)
        return error(MS_ERR_INVALID_ARGUMENT, "progress_context is set without on_progress");
    return ok();
}

SyncOptions session_options(const ms_sync_options* o, StoreState* state) {
    SyncOptions so;
    if (!o) return so;
    if (o->push_batch) so.push_batch = o->push_batch;
    if (o->pull_limit) so.pull_limit = o->pull_limit;
    if (o->on_progress) {
        ms_progress_callback cb = o->on_progress;
        void* ctx = o->progress_context;
        so.on_progress = [cb, ctx, state](const SyncProgress& p) {
            ms_sync_progress c;
            fill_progress(&c, p);
            CallbackScope scope(state);
            cb(ctx, &c);
        };
    }
    return so;
}

// Decodes an error body's code for a SERVER-domain error (best effort).
std::string server_code_of(std::string_view body) {
    auto e = wire::decode_error(body);
    if (!e.ok()) return {};
    std::string code;
    for (char c : e->code)  // printable ASCII only: it lands in a C string
        if (c > 0x20 && c < 0x7F) code.push_back(c);
    return code;
}

}  // namespace

Status load_identity(Replica& r, DeviceIdentity& out) {
    auto v = r.secret_value(kDeviceSecret);
    if (!v.ok()) return v.status();
    if (!*v) return error(MS_ERR_NOT_ENROLLED, "this store is not enrolled: call ms_enroll");
    std::string& bytes = **v;
    if (bytes.size() != kIdentityBytes) {
        wipe_string(bytes);
        return error(MS_ERR_CORRUPT, "the stored device identity is malformed");
    }
    out.device_id = *Uuid::from_bytes(std::string_view(bytes).substr(0, 16));
    std::memcpy(out.keys.public_key.data(), bytes.data() + 16, 32);
    std::memcpy(out.keys.secret_key.data(), bytes.data() + 48, 64);
    wipe_string(bytes);
    return ok();
}

void record_sync_outcome(Replica& r, const SyncSession& session, bool completed) {
    if (auto skew = session.clock_skew_ms())
        (void)r.set_sync_value(kSkewKey, std::to_string(*skew));
    if (completed) (void)r.set_sync_value(kLastSyncKey, std::to_string(now_ms()));
}

Status from_step(const SyncStep& step, int http_status, bool transport_failed,
                 std::string message_override) {
    std::string message =
        message_override.empty() ? step.status.message() : std::move(message_override);
    Status e;
    if (transport_failed) {
        e = error(MS_ERR_NETWORK, std::move(message));
    } else if (http_status != 0 && (http_status < 200 || http_status >= 300)) {
        e = Status(step.status.code(), std::move(message))
                .with_remote(Remote{http_status, step.server_code});
    } else if (step.transient || step.status.code() == Code::invalid_argument) {
        // A 2xx answer the session could not use: not the protocol (a proxy, a wrong URL).
        e = error(MS_ERR_PROTOCOL, std::move(message));
    } else {
        e = error(abi_code_of(step.status.code()), std::move(message));
    }
    return std::move(e)
        .with_transient(step.transient)
        .with_retry_after(step.transient ? step.retry_after_ms : 0);
}

void fill_progress(ms_sync_progress* out, const SyncProgress& p) noexcept {
    if (!out) return;
    out->pushed = p.pushed;
    out->acked = p.acked;
    out->rejected = p.rejected;
    out->pulled = p.pulled;
    out->applied = p.applied;
    out->quarantined = p.quarantined;
    out->remote_invalid = p.remote_invalid;
    out->learners_purged = p.learners_purged;
    out->requests = p.requests;
}

}  // namespace mentorsync::capi

using namespace mentorsync;
using namespace mentorsync::capi;

struct ms_sync {
    std::shared_ptr<StoreState> state;
    std::mutex mu;
    std::unique_ptr<SyncSession> session;  // null once the store closed
    enum class Phase { running, done, failed } phase = Phase::running;
    bool outstanding = false;  // a request was handed out and not yet answered
    std::string origin;        // "https://host:port"
    std::string base_path;     // the server URL's path prefix
};

namespace mentorsync::capi {
void detach_session(ms_sync* session) noexcept {
    session->session.reset();
}
}  // namespace mentorsync::capi

#define MS_STORE_ACCESS(var, store)                                                  \
    if (!(store)) return error(MS_ERR_INVALID_ARGUMENT, "the store handle is NULL"); \
    Access var(*(store)->state);                                                     \
    if (!var.replica()) return error(MS_ERR_CLOSED, "the store is closed")

// ---- enrollment ----------------------------------------------------------------------------

bool ms_enroll(ms_store* store, const ms_enroll_options* options, ms_enrollment* out,
               ms_error* err) noexcept {
    return guarded(err, [&]() -> Status {
        MS_STORE_ACCESS(a, store);
        Replica& r = *a.replica();
        if (!options) return error(MS_ERR_INVALID_ARGUMENT, "the enroll options are NULL");
        if (options->version != MS_ENROLL_OPTIONS_VERSION)
            return error(MS_ERR_INVALID_ARGUMENT, "ms_enroll_options version " +
                                                      std::to_string(options->version) +
                                                      " is not supported (1 expected)");
        MS_TEXT_ARG(url, options->server_url, options->server_url_size, "server_url");
        MS_TEXT_ARG(code, options->code, options->code_size, "the enrollment code");
        MS_TEXT_ARG(label, options->label, options->label_size, "the label");
        MS_TEXT_ARG(ca_file, options->ca_file, options->ca_file_size, "ca_file");
        if (url.empty()) return error(MS_ERR_INVALID_ARGUMENT, "server_url is empty");
        if (ca_file.find('\0') != std::string_view::npos)
            return error(MS_ERR_INVALID_ARGUMENT, "ca_file contains a NUL byte");
        auto endpoint = client::Endpoint::parse(url);
        if (!endpoint.ok()) return endpoint.status();
        // Records are children's personal data: plain HTTP only to this machine (tests, a
        // server on the same device); anything else must be TLS.
        if (!endpoint->tls && !endpoint->is_loopback())
            return error(MS_ERR_INVALID_ARGUMENT,
                         "server_url must be https:// (plain http:// is allowed only to a "
                         "loopback address)");

        DeviceIdentity existing;
        Status enrolled = load_identity(r, existing);
        if (enrolled.ok())
            return error(MS_ERR_INVALID_STATE, "this store is already enrolled as device " +
                                                   existing.device_id.to_string() +
                                                   "; wipe it to enroll again");
        if (!has_abi_code(enrolled, MS_ERR_NOT_ENROLLED)) return enrolled;

        DeviceIdentity identity;
        identity.keys = wire::DeviceKeys::generate();
        auto request = enrollment_request(code, identity.keys, r.node(), label);
        if (!request.ok()) return request.status();

        client::TransportOptions topts;
        if (options->connect_timeout_ms)
            topts.connect_timeout = std::chrono::milliseconds(options->connect_timeout_ms);
        if (options->request_timeout_ms)
            topts.request_timeout = std::chrono::milliseconds(options->request_timeout_ms);
        topts.ca_file = std::string(ca_file);
        client::HttpTransport transport(*endpoint, topts);
        auto response = transport.send(*request);
        if (!response.ok()) return error(MS_ERR_NETWORK, response.status().message());
        auto enrollment = parse_enrollment_response(*response);
        if (!enrollment.ok()) {
            if (response->status == 200)
                return error(MS_ERR_PROTOCOL, enrollment.status().message());
            return Status(enrollment.status().code(), enrollment.status().message())
                .with_remote(Remote{response->status, server_code_of(response->body)})
                .with_transient(enrollment.status().code() == Code::io)
                .with_retry_after(enrollment.status().retry_after_ms());
        }
        identity.device_id = enrollment->device_id;
        // Where to sync first, then the identity (its presence means "enrolled"), so a crash in
        // between leaves an unenrolled store.
        if (Status s = r.set_sync_value(kServerUrlKey, url); !s.ok()) return s;
        if (Status s = r.set_sync_value(kCaFileKey, ca_file); !s.ok()) return s;
        if (Status s = r.set_sync_value(kDeviceIdKey, identity.device_id.to_string()); !s.ok())
            return s;
        std::string secret = encode_identity(identity);
        Status s = r.set_secret_value(kDeviceSecret, secret);
        wipe_string(secret);
        sodium_memzero(identity.keys.secret_key.data(), identity.keys.secret_key.size());
        if (!s.ok()) return s;
        if (out) {
            *out = ms_enrollment{};
            copy_fixed(out->device_id, sizeof out->device_id, enrollment->device_id.to_string());
            copy_fixed(out->user_id, sizeof out->user_id, enrollment->user_id.to_string());
            copy_fixed(out->role, sizeof out->role, enrollment->role);
            out->server_time_ms = enrollment->server_time_ms;
        }
        return ok();
    });
}

// ---- built-in transport --------------------------------------------------------------------

bool ms_sync_run(ms_store* store, const ms_sync_options* options, ms_sync_progress* out_progress,
                 ms_error* err) noexcept {
    return guarded(err, [&]() -> Status {
        MS_STORE_ACCESS(a, store);
        Replica& r = *a.replica();
        if (Status e = check_sync_options(options); !e.ok()) return e;
        DeviceIdentity identity;
        if (Status e = load_identity(r, identity); !e.ok()) return e;
        std::string ca_file;
        auto endpoint = enrolled_endpoint(r, &ca_file);
        if (!endpoint.ok()) {
            sodium_memzero(identity.keys.secret_key.data(), 64);
            if (endpoint.status().code() == Code::not_found)
                return error(MS_ERR_NOT_ENROLLED, "this store has no server URL: enroll it");
            return endpoint.status();
        }
        client::TransportOptions topts;
        topts.ca_file = ca_file;
        if (options && options->connect_timeout_ms)
            topts.connect_timeout = std::chrono::milliseconds(options->connect_timeout_ms);
        if (options && options->request_timeout_ms)
            topts.request_timeout = std::chrono::milliseconds(options->request_timeout_ms);
        client::HttpTransport transport(*endpoint, topts);

        SyncSession session(r, identity, session_options(options, store->state.get()));
        sodium_memzero(identity.keys.secret_key.data(), 64);
        client::RunReport report;
        client::RunOptions ro;
        ro.report = &report;
        ms_cancel* cancel = options ? options->cancel : nullptr;
        if (cancel) ro.cancelled = [cancel] { return cancel->requested.load(); };
        if (options && options->max_attempts)
            ro.max_attempts =
                static_cast<int>(std::min<std::uint32_t>(options->max_attempts, 1'000'000));
        auto result = client::run_sync(session, transport, ro);
        record_sync_outcome(r, session, result.ok());
        if (result.ok()) {
            fill_progress(out_progress, *result);
            return ok();
        }
        if (cancel && cancel->requested.load())
            return error(MS_ERR_CANCELLED, "the sync was cancelled; the next sync resumes");
        if (report.last_step.kind == SyncStep::Kind::failed &&
            report.last_step.status.code() == result.status().code())
            return from_step(report.last_step, report.last_http_status, report.transport_failed,
                             result.status().message());
        return result.status();  // a local failure before any answer
    });
}

// ---- sans I/O ------------------------------------------------------------------------------

bool ms_sync_begin(ms_store* store, const ms_sync_options* options, ms_sync** out_sync,
                   ms_error* err) noexcept {
    return guarded(err, [&]() -> Status {
        MS_STORE_ACCESS(a, store);
        Replica& r = *a.replica();
        if (!out_sync) return error(MS_ERR_INVALID_ARGUMENT, "out_sync is NULL");
        if (Status e = check_sync_options(options); !e.ok()) return e;
        if (options && options->cancel)
            return error(MS_ERR_INVALID_ARGUMENT,
                         "cancel is for ms_sync_run; a sans-I/O sync stops when the app stops "
                         "driving it (ms_sync_finish)");
        DeviceIdentity identity;
        if (Status e = load_identity(r, identity); !e.ok()) return e;
        auto endpoint = enrolled_endpoint(r, nullptr);
        if (!endpoint.ok()) {
            sodium_memzero(identity.keys.secret_key.data(), 64);
            if (endpoint.status().code() == Code::not_found)
                return error(MS_ERR_NOT_ENROLLED, "this store has no server URL: enroll it");
            return endpoint.status();
        }
        auto s = std::make_unique<ms_sync>();
        s->state = store->state;
        s->session = std::make_unique<SyncSession>(r, identity,
                                                   session_options(options, store->state.get()));
        sodium_memzero(identity.keys.secret_key.data(), 64);
        const bool v6 = endpoint->host.find(':') != std::string::npos;
        s->origin = std::string(endpoint->tls ? "https://" : "http://") + (v6 ? "[" : "") +
                    endpoint->host + (v6 ? "]" : "") + ":" + endpoint->port;
        s->base_path = endpoint->base_path;
        s->session->start();
        {
            std::lock_guard g(store->state->sessions_mu);
            store->state->sessions.insert(s.get());
        }
        *out_sync = s.release();
        return ok();
    });
}

namespace {
struct OwnedRequest;
// What the app's pointer points at: a standard-layout head, so the ms_http_request* handed out
// converts back to the head, which knows its owner.
struct RequestHead {
    ms_http_request view;
    OwnedRequest* owner;
};
struct OwnedRequest {
    RequestHead head{};
    std::string method, url, path, body;
    std::vector<std::pair<std::string, std::string>> header_text;
    std::vector<ms_http_header> headers;
};

// Session calls: the store's life lock first, then the session's mutex (ms_close takes life
// exclusively and then detaches sessions, so this order cannot deadlock).
// The session this thread is inside (its progress callback may run there): a call on the same
// session from that callback would wait for itself.
thread_local const ms_sync* t_in_session = nullptr;

template <typename F>
Status with_session(ms_sync* sync, F&& body) {
    if (t_in_session == sync)
        return error(MS_ERR_INVALID_STATE,
                     "a sync session was called from its own progress callback");
    Access a(*sync->state);
    std::lock_guard g(sync->mu);
    const ms_sync* outer = t_in_session;
    t_in_session = sync;
    struct Restore {
        const ms_sync* outer;
        ~Restore() { t_in_session = outer; }
    } restore{outer};
    return body(a);
}
}  // namespace

bool ms_sync_next_request(ms_sync* sync, ms_http_request** out_request, ms_error* err) noexcept {
    return guarded(err, [&]() -> Status {
        if (!sync) return error(MS_ERR_INVALID_ARGUMENT, "the sync handle is NULL");
        if (!out_request) return error(MS_ERR_INVALID_ARGUMENT, "out_request is NULL");
        return with_session(sync, [&](Access& a) -> Status {
            if (!a.replica() || !sync->session)
                return error(MS_ERR_CLOSED, "the store of this sync was closed");
            if (sync->phase != ms_sync::Phase::running)
                return error(MS_ERR_INVALID_STATE,
                             sync->phase == ms_sync::Phase::done
                                 ? "the sync is done: finish it and begin a new one"
                                 : "the sync failed: finish it and begin a new one");
            auto req = sync->session->next_request();
            if (!req.ok()) {
                if (req.status().code() == Code::invalid_argument)  // session not running
                    return error(MS_ERR_INVALID_STATE, req.status().message());
                return req.status();
            }
            auto o = std::make_unique<OwnedRequest>();
            o->method = std::move(req->method);
            o->path = sync->base_path + req->path;
            o->url = sync->origin + o->path;
            o->body = std::move(req->body);
            for (auto& h : req->headers)
                o->header_text.emplace_back(std::move(h.name), std::move(h.value));
            for (auto& [n, v] : o->header_text)
                o->headers.push_back({n.c_str(), n.size(), v.c_str(), v.size()});
            o->head.view.method = o->method.c_str();
            o->head.view.method_size = o->method.size();
            o->head.view.url = o->url.c_str();
            o->head.view.url_size = o->url.size();
            o->head.view.path = o->path.c_str();
            o->head.view.path_size = o->path.size();
            o->head.view.headers = o->headers.data();
            o->head.view.header_count = o->headers.size();
            o->head.view.body = reinterpret_cast<const uint8_t*>(o->body.data());
            o->head.view.body_size = o->body.size();
            sync->outstanding = true;
            o->head.owner = o.get();
            *out_request = &o.release()->head.view;
            return ok();
        });
    });
}

void ms_http_request_free(ms_http_request* request) noexcept {
    if (!request) return;
    static_assert(std::is_standard_layout_v<RequestHead>);
    OwnedRequest* o = reinterpret_cast<RequestHead*>(request)->owner;
    wipe_string(o->body);
    delete o;
}

namespace {
ms_sync_step finish_step(ms_sync* sync, Replica& r, const SyncStep& step, int http_status,
                         bool transport_failed, int64_t* out_retry, ms_error* err) {
    switch (step.kind) {
        case SyncStep::Kind::next:
            return MS_SYNC_STEP_NEXT;
        case SyncStep::Kind::done:
            sync->phase = ms_sync::Phase::done;
            record_sync_outcome(r, *sync->session, true);
            return MS_SYNC_STEP_DONE;
        case SyncStep::Kind::failed:
            break;
    }
    write_error(err, from_step(step, http_status, transport_failed));
    if (step.transient) {
        if (out_retry) *out_retry = step.retry_after_ms;
        return MS_SYNC_STEP_RETRY;
    }
    sync->phase = ms_sync::Phase::failed;
    record_sync_outcome(r, *sync->session, false);
    return MS_SYNC_STEP_FAILED;
}

}  // namespace

ms_sync_step ms_sync_handle_response(ms_sync* sync, int32_t http_status,
                                     const ms_http_header* headers, size_t header_count,
                                     const void* body, size_t body_size,
                                     int64_t* out_retry_after_ms, ms_error* err) noexcept {
    ms_sync_step result = MS_SYNC_STEP_FAILED;
    ms_error local{};
    bool called = guarded(&local, [&]() -> Status {
        if (!sync) return error(MS_ERR_INVALID_ARGUMENT, "the sync handle is NULL");
        return with_session(sync, [&](Access& a) -> Status {
            if (!a.replica() || !sync->session)
                return error(MS_ERR_CLOSED, "the store of this sync was closed");
            if (sync->phase != ms_sync::Phase::running || !sync->outstanding)
                return error(MS_ERR_INVALID_STATE,
                             "no request is outstanding: call ms_sync_next_request first");
            if (http_status < 100 || http_status > 599)
                return error(MS_ERR_INVALID_ARGUMENT,
                             "http_status " + std::to_string(http_status) + " is not 100 to 599");
            if (!headers && header_count != 0)
                return error(MS_ERR_INVALID_ARGUMENT, "headers is NULL with a count");
            for (size_t i = 0; i < header_count; ++i)
                if ((!headers[i].name && headers[i].name_size) ||
                    (!headers[i].value && headers[i].value_size))
                    return error(MS_ERR_INVALID_ARGUMENT,
                                 "header " + std::to_string(i) + " has a NULL with a size");
            if (!body && body_size != 0)
                return error(MS_ERR_INVALID_ARGUMENT, "body is NULL with a size");
            HttpResponse response;
            response.status = http_status;
            for (size_t i = 0; i < header_count; ++i)
                if (common::iequals_ascii(std::string_view(headers[i].name, headers[i].name_size),
                                          "Retry-After"))
                    response.retry_after_s = parse_retry_after(
                        std::string_view(headers[i].value, headers[i].value_size));
            if (body_size) response.body.assign(static_cast<const char*>(body), body_size);
            sync->outstanding = false;
            SyncStep step = sync->session->handle_response(response);
            wipe_string(response.body);
            result = finish_step(sync, *a.replica(), step, http_status, false, out_retry_after_ms,
                                 &local);
            return ok();
        });
    });
    if (!called || result == MS_SYNC_STEP_RETRY || result == MS_SYNC_STEP_FAILED)
        if (err) *err = local;
    return called ? result : MS_SYNC_STEP_FAILED;
}

ms_sync_step ms_sync_transport_error(ms_sync* sync, const char* what, size_t what_size,
                                     int64_t* out_retry_after_ms, ms_error* err) noexcept {
    ms_sync_step result = MS_SYNC_STEP_FAILED;
    ms_error local{};
    bool called = guarded(&local, [&]() -> Status {
        if (!sync) return error(MS_ERR_INVALID_ARGUMENT, "the sync handle is NULL");
        MS_TEXT_ARG(text, what, what_size, "what");
        return with_session(sync, [&](Access& a) -> Status {
            if (!a.replica() || !sync->session)
                return error(MS_ERR_CLOSED, "the store of this sync was closed");
            if (sync->phase != ms_sync::Phase::running || !sync->outstanding)
                return error(MS_ERR_INVALID_STATE,
                             "no request is outstanding: call ms_sync_next_request first");
            sync->outstanding = false;
            SyncStep step = sync->session->handle_transport_error(text);
            result = finish_step(sync, *a.replica(), step, 0, true, out_retry_after_ms, &local);
            return ok();
        });
    });
    if (!called || result == MS_SYNC_STEP_RETRY || result == MS_SYNC_STEP_FAILED)
        if (err) *err = local;
    return called ? result : MS_SYNC_STEP_FAILED;
}

bool ms_sync_get_progress(const ms_sync* sync, ms_sync_progress* out, ms_error* err) noexcept {
    return guarded(err, [&]() -> Status {
        if (!sync) return error(MS_ERR_INVALID_ARGUMENT, "the sync handle is NULL");
        if (!out) return error(MS_ERR_INVALID_ARGUMENT, "out_progress is NULL");
        auto* s = const_cast<ms_sync*>(sync);
        return with_session(s, [&](Access&) -> Status {
            if (!s->session) return error(MS_ERR_CLOSED, "the store of this sync was closed");
            fill_progress(out, s->session->progress());
            return ok();
        });
    });
}

void ms_sync_finish(ms_sync* sync) noexcept {
    if (!sync) return;
    try {
        Access a(*sync->state);
        {
            std::lock_guard g(sync->state->sessions_mu);
            sync->state->sessions.erase(sync);
        }
        std::lock_guard g(sync->mu);
        sync->session.reset();
    } catch (...) {
        // Locking failed (resource exhaustion): the session is still released below.
    }
    delete sync;
}

// ---- rejected pushes -----------------------------------------------------------------------

bool ms_sync_rejected(ms_store* store, ms_buffer* out_json, ms_error* err) noexcept {
    return guarded(err, [&]() -> Status {
        MS_STORE_ACCESS(a, store);
        if (!out_json) return error(MS_ERR_INVALID_ARGUMENT, "out_json is NULL");
        DeviceIdentity identity;
        if (Status e = load_identity(*a.replica(), identity); !e.ok()) return e;
        SyncSession session(*a.replica(), identity);
        sodium_memzero(identity.keys.secret_key.data(), 64);
        auto list = session.rejected();
        if (!list.ok()) return list.status();
        nlohmann::json arr = nlohmann::json::array();
        for (const auto& rj : *list)
            arr.push_back(
                {{"stamp", rj.stamp.to_string()}, {"code", rj.code}, {"message", rj.message}});
        std::string text = arr.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
        return fill_buffer(out_json, text);
    });
}

bool ms_sync_retry_rejected(ms_store* store, ms_error* err) noexcept {
    return guarded(err, [&]() -> Status {
        MS_STORE_ACCESS(a, store);
        DeviceIdentity identity;
        if (Status e = load_identity(*a.replica(), identity); !e.ok()) return e;
        SyncSession session(*a.replica(), identity);
        sodium_memzero(identity.keys.secret_key.data(), 64);
        return session.retry_rejected();
    });
}

// ---- clock ---------------------------------------------------------------------------------

bool ms_clock_report_get(ms_store* store, ms_clock_report* out, ms_error* err) noexcept {
    return guarded(err, [&]() -> Status {
        MS_STORE_ACCESS(a, store);
        if (!out) return error(MS_ERR_INVALID_ARGUMENT, "out_report is NULL");
        if (out->version != MS_CLOCK_REPORT_VERSION)
            return error(MS_ERR_INVALID_ARGUMENT, "ms_clock_report version " +
                                                      std::to_string(out->version) +
                                                      " is not supported (1 expected)");
        Replica& r = *a.replica();
        ms_clock_report rep{};
        rep.version = MS_CLOCK_REPORT_VERSION;
        auto skew = r.sync_value(kSkewKey);
        if (!skew.ok()) return skew.status();
        if (*skew) {
            std::int64_t v = 0;
            const std::string& t = **skew;
            auto [p, ec] = std::from_chars(t.data(), t.data() + t.size(), v);
            if (ec != std::errc() || p != t.data() + t.size() || v == INT64_MIN)
                return error(MS_ERR_CORRUPT,
                             "sync value '" + std::string(kSkewKey) + "' is malformed");
            rep.known = 1;
            rep.ahead = v < 0 ? 1 : 0;  // the server's clock minus ours
            rep.offset_ms = v < 0 ? -v : v;
            rep.warning = rep.offset_ms >= MS_CLOCK_SKEW_WARNING_MS ? 1 : 0;
        }
        DeviceIdentity identity;
        Status id = load_identity(r, identity);
        if (has_abi_code(id, MS_ERR_NOT_ENROLLED)) {  // nothing was ever pushed: nothing re-dated
            *out = rep;
            return ok();
        }
        if (!id.ok()) return id;
        SyncSession session(r, identity);
        sodium_memzero(identity.keys.secret_key.data(), 64);
        auto notice = session.redate_notice();
        if (!notice.ok()) return notice.status();
        rep.redated = notice->redated;
        rep.redated_ahead_ms = notice->ahead_ms;
        rep.redated_at_ms = notice->last_ms;
        auto rejected = session.rejected();
        if (!rejected.ok()) return rejected.status();
        rep.waiting = static_cast<std::uint64_t>(
            std::count_if(rejected->begin(), rejected->end(),
                          [](const PushRejection& x) { return x.code == "future_stamp"; }));
        *out = rep;
        return ok();
    });
}

bool ms_clock_report_clear(ms_store* store, ms_error* err) noexcept {
    return guarded(err, [&]() -> Status {
        MS_STORE_ACCESS(a, store);
        DeviceIdentity identity;
        if (Status e = load_identity(*a.replica(), identity); !e.ok()) return e;
        SyncSession session(*a.replica(), identity);
        sodium_memzero(identity.keys.secret_key.data(), 64);
        return session.clear_redate_notice();
    });
}
