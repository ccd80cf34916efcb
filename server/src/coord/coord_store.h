// CoordStore: the coordinator side's own data, `coord.db` in the data directory — accounts,
// browser sessions, API tokens, sign-in lockout and the hash-chained audit log.
//
// Kept apart from server.db so that coordinator traffic (sign-ins, audit appends) never takes
// the write lock device ingest needs, and so that the coordinator tables can be backed up and
// inspected on their own. Secrets are never stored: passwords as Argon2id strings
// (libsodium crypto_pwhash_str), session ids and token secrets as BLAKE2b-256 hashes. The CSRF
// token of a session is not stored either: it is a keyed hash of the session id, so it can be
// handed out again (GET /api/v1/me) and checked without a lookup.
//
// Keys: the audit chain and the CSRF tokens are keyed with keys derived from server.key
// (ServerKey::hash over a fixed label), so someone who can edit coord.db but not read
// server.key can neither forge an audit entry nor mint a CSRF token.
//
// Audit chain: entry n's hash = keyed BLAKE2b-256 over (hash of entry n-1, or 32 zero bytes
// for the first) and entry n's fields, each length-prefixed. seq runs 1, 2, 3 … without gaps,
// so editing any entry breaks its hash, and deleting one breaks the next entry's link or the
// numbering. Cutting off the newest entries is detectable only against a head hash kept
// elsewhere: every append also logs {"event":"audit","seq","hash"} to the server log.
//
// Thread-safety: every member may be called from any thread; calls are serialised by a mutex
// (one SQLite connection). Password hashing runs outside the mutex, at most 4 at a time.
// sign_in() blocks for an Argon2id verification (64 MiB, tens of milliseconds): the HTTP
// server calls it only from its sign-in pool (http/blocking_pool.h), never on an io thread.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/sqlite.h"
#include "core/log.h"
#include "core/server_key.h"
#include "mentorsync/clock.h"
#include "mentorsync/status.h"
#include "mentorsync/types.h"

namespace mentorsync::server::coord {

enum class CoordRole { municipality, national, admin };
std::string_view coord_role_name(CoordRole r) noexcept;
std::optional<CoordRole> parse_coord_role(std::string_view text) noexcept;

struct Account {
    Uuid id;
    std::string username;  // lower case, [a-z0-9._-], 3 to 64 characters
    CoordRole role = CoordRole::municipality;
    std::optional<Uuid> municipality;  // set exactly for the municipality role
    std::int64_t created_ms = 0;
    bool disabled = false;
};

struct TokenInfo {
    std::string id;  // 16 hex characters, public (shown in lists, used to revoke)
    Uuid account;
    std::string name;
    std::int64_t created_ms = 0;
    std::optional<std::int64_t> expires_ms;
    std::optional<std::int64_t> revoked_ms;
    std::optional<std::int64_t> last_used_ms;
};

struct IssuedToken {
    TokenInfo info;
    std::string token;  // "mst_<id>_<secret>": shown once, never stored
};

// The outcome of a sign-in attempt.
struct SignInResult {
    enum class Kind { ok, bad_credentials, locked_out } kind = Kind::bad_credentials;
    std::optional<Account> account;  // ok
    std::string session_id;          // ok: the cookie value (shown once)
    std::string csrf_token;          // ok
    std::int64_t expires_ms = 0;     // ok: absolute end of the session
    std::int64_t retry_after_s = 0;  // locked_out
    int failures = 0;                // consecutive failures after this attempt
};

// Who a request is from, once its cookie or token checked out.
struct Caller {
    Account account;
    enum class Via { session, token } via = Via::session;
    std::string session_id;  // session: the cookie value, for the CSRF check
    std::string token_id;    // token
};

struct AuditEntry {
    std::int64_t seq = 0;
    std::int64_t at_ms = 0;
    std::string account;   // account id, or "" (a failed sign-in of an unknown username)
    std::string username;  // as typed (sign-in) or the account's
    std::string event;     // sign_in, sign_out, view_records, ...
    std::string outcome;   // ok, failed, locked
    std::string detail;    // compact JSON: ids, filters and counts only
    std::string hash;      // 32 raw bytes
};

struct AuditVerdict {
    bool ok = true;
    std::int64_t entries = 0;
    std::string head_hash;  // hex, "" when empty
    std::optional<std::int64_t> first_bad_seq;
    std::string problem;
};

struct CoordStoreOptions {
    std::string data_dir;                    // coord.db goes beside server.db and server.key
    std::shared_ptr<const WallClock> clock;  // null: the system clock
    LogSink log;                             // null: stderr JSON lines
};

class CoordStore {
  public:
    // Lockout: from this many consecutive failures on, a username is locked...
    static constexpr int kLockoutThreshold = 5;
    // ...for kLockoutBaseMs * 2^(failures - threshold), at most kLockoutMaxMs.
    static constexpr std::int64_t kLockoutBaseMs = 30'000;
    static constexpr std::int64_t kLockoutMaxMs = 3'600'000;
    static constexpr std::int64_t kSessionIdleMs = 30LL * 60 * 1000;
    static constexpr std::int64_t kSessionMaxMs = 8LL * 3600 * 1000;
    static constexpr std::size_t kMinPasswordChars = 12;
    static constexpr std::size_t kMaxPasswordBytes = 1024;

    // Opens (creating when missing) DIR/coord.db. server.key must exist (`admin init`).
    static Result<std::unique_ptr<CoordStore>> open(const CoordStoreOptions& options);
    ~CoordStore();

    // --- accounts (the admin command line) ----------------------------------------------
    // invalid_argument: bad username, password shorter than 12 characters or over 1024 bytes,
    // municipality missing for the municipality role or given for another; the username
    // being taken is invalid_argument too.
    Result<Account> add_account(std::string_view username, CoordRole role,
                                std::optional<Uuid> municipality, std::string_view password);
    Status set_password(std::string_view username, std::string_view password);
    // Disabling ends the account's sessions and makes its tokens useless.
    Status set_disabled(std::string_view username, bool disabled);
    Result<std::vector<Account>> list_accounts();
    Result<std::optional<Account>> find_account(std::string_view username);

    // --- browser sign-in and sessions ---------------------------------------------------
    // Checks lockout, then the password (a dummy hash is verified for unknown usernames, so
    // timing does not tell them apart), counts the failure or resets the counter, creates the
    // session, and appends the audit entry. Errors only for I/O.
    Result<SignInResult> sign_in(std::string_view username, std::string_view password);
    // The caller of a session cookie value: nullopt when unknown, expired (idle or absolute)
    // or the account disabled. Slides the idle expiry.
    Result<std::optional<Caller>> session_caller(std::string_view session_id);
    Status end_session(std::string_view session_id);
    // The session's CSRF token (a keyed hash of the id; base64url).
    std::string csrf_token(std::string_view session_id) const;
    // Constant-time comparison of a presented token with the session's.
    bool check_csrf(std::string_view session_id, std::string_view presented) const;

    // --- API tokens ---------------------------------------------------------------------
    // `days`: 0 for no expiry.
    Result<IssuedToken> issue_token(std::string_view username, std::string_view name,
                                    std::int64_t days);
    Status revoke_token(std::string_view token_id);
    Result<std::vector<TokenInfo>> list_tokens();
    // The caller of an "mst_<id>_<secret>" token: nullopt when malformed, unknown, revoked,
    // expired or its account disabled.
    Result<std::optional<Caller>> token_caller(std::string_view token);

    // --- audit --------------------------------------------------------------------------
    Status audit(const std::optional<Account>& who, std::string_view username,
                 std::string_view event, std::string_view outcome, std::string_view detail);
    // Newest first; `before_seq` 0 means from the newest.
    Result<std::vector<AuditEntry>> audit_entries(std::int64_t before_seq, std::size_t limit);
    Result<AuditVerdict> verify_audit();

    std::int64_t now_ms() const { return clock_->now_ms(); }

  private:
    CoordStore(CoordStoreOptions options, std::unique_ptr<ServerKey> key);
    Status init_schema();
    Result<std::optional<Account>> find_account_locked(std::string_view username);
    Result<std::optional<Account>> account_by_id_locked(const Uuid& id);
    Status audit_locked(const std::string& account, std::string_view username,
                        std::string_view event, std::string_view outcome, std::string_view detail);
    std::string chain_hash(const std::string& prev, const AuditEntry& e) const;

    CoordStoreOptions options_;
    std::shared_ptr<const WallClock> clock_;
    std::unique_ptr<ServerKey> key_;
    std::string audit_key_;   // 32 bytes, derived from server.key
    std::string csrf_key_;    // 32 bytes, derived from server.key
    std::string dummy_hash_;  // an Argon2id string no password matches, for unknown usernames
    mutable std::mutex mu_;
    common::sql::Db db_;
};

}  // namespace mentorsync::server::coord
