// Internals shared by the C ABI's translation units (c_api.cpp: store, records, observers,
// status, wipe; c_api_sync.cpp: enrollment and sync). Not installed; nothing here is exported.
//
// Lifetime and locking model:
// - An ms_store owns a shared_ptr<StoreState>. Sync sessions hold the same shared_ptr, so the
//   state outlives the handle; the Replica inside it does not: ms_close destroys it.
// - StoreState::life is a shared mutex: every call that uses the Replica holds it shared for
//   its whole duration (a sync holds it while it runs); ms_close takes it exclusively, so it
//   waits for running calls and no call ever sees a half-destroyed Replica.
// - Callbacks (observers, progress) run inside calls that hold `life` shared. A thread-local
//   stack records which stores' callbacks the thread is inside, so re-entrant calls from a
//   callback do not take `life` again (no recursive shared locking) and ms_close/ms_wipe from a
//   callback is refused instead of deadlocking.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <shared_mutex>
#include <string>
#include <string_view>

#include "mentorsync/mentorsync.h"
#include "mentorsync/replica.h"
#include "mentorsync/sync_session.h"

namespace mentorsync::capi {

// Errors: the SDK's internals return Status like the engine. A failure found by the SDK itself
// carries a Reason {c_abi, ms_error_code} (see error()); an engine Status passes through as it
// is. write_error() is the one place a Status becomes the app's ms_error.

inline Status ok() {
    return {};
}
// A failure with this ms_error_code (as a Reason {c_abi, code}) and an engine Code close to it.
Status error(ms_error_code code, std::string message);
// The ms_error_code an engine Code is reported as (Code::closed, which the engine uses for a
// locked replica, becomes MS_ERR_LOCKED).
ms_error_code abi_code_of(Code code) noexcept;
// Whether `s` carries this ms_error_code as its C ABI reason.
bool has_abi_code(const Status& s, ms_error_code code) noexcept;
// Writes `s` into the app's struct (if any), truncating the message on a UTF-8 boundary:
// - domain SERVER with code = the HTTP status when `s` has a Remote, else domain MENTORSYNC with
//   the code of its c_abi reason, or for an engine Status abi_code_of(its Code);
// - transient as `s` says, else from the code (NETWORK, OUT_OF_MEMORY, LOCKED_OUT, PROTOCOL);
// - retry_after_ms as `s` carries it; for an engine Status only with Code::locked_out;
// - server_code from its Remote.
void write_error(ms_error* out, const Status& s) noexcept;

// Runs `body` (returning Status) with every exception turned into an error; writes the error
// only on failure. The one wrapper every bool-returning entry point uses.
template <typename F>
bool guarded(ms_error* out, F&& body) noexcept {
    try {
        Status s = body();
        if (s.ok()) return true;
        write_error(out, s);
    } catch (const std::bad_alloc&) {
        write_error(out, error(MS_ERR_OUT_OF_MEMORY, "out of memory"));
    } catch (const std::exception& ex) {
        write_error(out, error(MS_ERR_INTERNAL, std::string("unexpected failure: ") + ex.what()));
    } catch (...) {
        write_error(out, error(MS_ERR_INTERNAL, "unexpected failure"));
    }
    return false;
}

// Reads a pointer + length argument. NULL with length 0 is the empty string.
std::optional<std::string_view> text_arg(const char* p, std::size_t n);
#define MS_TEXT_ARG(var, ptr, len, what)                                                \
    auto var##_opt = ::mentorsync::capi::text_arg((ptr), (len));                        \
    if (!var##_opt)                                                                     \
        return ::mentorsync::capi::error(MS_ERR_INVALID_ARGUMENT,                       \
                                         std::string(what) + " is NULL with a length"); \
    std::string_view var = *var##_opt

Result<Uuid> parse_id(std::string_view text, std::string_view what);
Result<Stamp> parse_stamp(std::string_view text);
// Copies a NUL-terminated string into a fixed-size char array (truncating, always terminated).
void copy_fixed(char* dst, std::size_t size, std::string_view src) noexcept;
// Allocates an ms_buffer holding `text` (plus a NUL).
Status fill_buffer(ms_buffer* out, std::string_view text);
void wipe_string(std::string& s) noexcept;

struct CObserver {
    ms_change_callback callback = nullptr;
    void* context = nullptr;
    bool active = true;  // guarded by StoreState::obs_mu
    int in_flight = 0;   // guarded by StoreState::obs_mu
};

struct StoreState;

// Keys of the values the SDK keeps in the replica.
inline constexpr std::string_view kDeviceSecret = "sdk.device";  // secret: id + key pair
inline constexpr std::string_view kServerUrlKey = "sdk.server_url";
inline constexpr std::string_view kCaFileKey = "sdk.ca_file";
inline constexpr std::string_view kDeviceIdKey = "sdk.device_id";
inline constexpr std::string_view kLastSyncKey = "sdk.last_sync_ms";
inline constexpr std::string_view kSkewKey = "sdk.clock_skew_ms";

struct StoreState {
    std::shared_mutex life;
    std::unique_ptr<Replica> replica;  // null once closed
    std::string registry_path;         // the open-file registry's key

    std::mutex sessions_mu;
    std::set<ms_sync*> sessions;  // alive sans-I/O sessions: closed with the store

    std::mutex obs_mu;
    std::condition_variable obs_cv;
    std::map<std::uint64_t, std::shared_ptr<CObserver>> observers;
    std::uint64_t next_observer = 1;

    void dispatch(const std::vector<ChangeEvent>& events) noexcept;

  private:
    void dispatch_to_observers(const std::vector<ChangeEvent>& events);
};

// Whether this thread is inside a callback of `s` (observer or progress).
bool in_callback_of(const StoreState* s) noexcept;
// Marks this thread as inside a callback of `s` while it lives.
class CallbackScope {
  public:
    explicit CallbackScope(const StoreState* s);
    ~CallbackScope();
    CallbackScope(const CallbackScope&) = delete;
    CallbackScope& operator=(const CallbackScope&) = delete;
};

// Shared access to a store's Replica for one call: takes `life` shared unless this thread is in
// one of the store's callbacks (the outer call holds it then).
class Access {
  public:
    explicit Access(StoreState& s);
    Access(const Access&) = delete;
    Access& operator=(const Access&) = delete;
    // The replica, or null if the store was closed.
    Replica* replica() const noexcept { return state_.replica.get(); }

  private:
    StoreState& state_;
    std::shared_lock<std::shared_mutex> lock_;
};

// The device identity kept by ms_enroll, or NOT_ENROLLED / LOCKED.
Status load_identity(Replica& r, DeviceIdentity& out);
// Records the end of a sync in the replica's sync values (best effort for the skew).
void record_sync_outcome(Replica& r, const SyncSession& session, bool completed);
// Turns a failed SyncStep into the Status reported to the app. `http_status` is the answered status
// (0: no answer), `transport_failed` whether the request got no complete answer.
Status from_step(const SyncStep& step, int http_status, bool transport_failed,
                 std::string message_override = {});
void fill_progress(ms_sync_progress* out, const SyncProgress& p) noexcept;
// Called by ms_close (holding the store's `life` exclusively): destroys the session's
// SyncSession so that it never touches the closed Replica; its later calls answer CLOSED.
void detach_session(ms_sync* session) noexcept;

}  // namespace mentorsync::capi

struct ms_store {
    std::shared_ptr<mentorsync::capi::StoreState> state;
};

struct ms_cancel {
    std::atomic<bool> requested{false};
};
