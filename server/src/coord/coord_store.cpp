#include "coord/coord_store.h"

#include <sodium.h>

#include <algorithm>
#include <cctype>
#include <cstring>
#include <semaphore>

#include "common/encoding.h"
#include "common/text.h"

namespace mentorsync::server::coord {

namespace sql = common::sql;

namespace {

// At most this many Argon2id computations at once: each takes 64 MiB.
std::counting_semaphore<4> g_pwhash_slots(4);

struct PwhashSlot {
    PwhashSlot() { g_pwhash_slots.acquire(); }
    ~PwhashSlot() { g_pwhash_slots.release(); }
};

std::string blake(std::string_view data, std::string_view key = {}) {
    unsigned char out[32];
    crypto_generichash(out, sizeof out, reinterpret_cast<const unsigned char*>(data.data()),
                       data.size(), reinterpret_cast<const unsigned char*>(key.data()), key.size());
    return std::string(reinterpret_cast<const char*>(out), sizeof out);
}

std::string random_bytes(std::size_t n) {
    std::string s(n, '\0');
    randombytes_buf(s.data(), n);
    return s;
}

Result<std::string> hash_password(std::string_view password) {
    char out[crypto_pwhash_STRBYTES];
    PwhashSlot slot;
    if (crypto_pwhash_str(out, password.data(), password.size(), crypto_pwhash_OPSLIMIT_INTERACTIVE,
                          crypto_pwhash_MEMLIMIT_INTERACTIVE) != 0)
        return Status::internal("password hashing ran out of memory");
    return std::string(out);
}

bool verify_password(const std::string& stored, std::string_view password) {
    PwhashSlot slot;
    return crypto_pwhash_str_verify(stored.c_str(), password.data(), password.size()) == 0;
}

std::string normalize_username(std::string_view u) {
    u = common::trim(u, " \t\n\v\f\r");  // what std::isspace calls space in the C locale
    std::string out(u.substr(0, 100));
    for (char& c : out)
        c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return out;
}

Status check_username(const std::string& u) {
    if (u.size() < 3 || u.size() > 64)
        return Status::invalid_argument("username: 3 to 64 characters");
    for (char c : u)
        if (!(std::islower(static_cast<unsigned char>(c)) ||
              std::isdigit(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-'))
            return Status::invalid_argument(
                "username: only lower-case letters a-z, digits, '.', '_' and '-'");
    return {};
}

Status check_password(std::string_view p) {
    const auto chars = common::utf8_length(p);
    if (!chars) return Status::invalid_argument("password: not valid UTF-8");
    if (*chars < CoordStore::kMinPasswordChars)
        return Status::invalid_argument("password: at least 12 characters");
    if (p.size() > CoordStore::kMaxPasswordBytes)
        return Status::invalid_argument("password: at most 1024 bytes");
    return {};
}

std::optional<std::int64_t> opt_int(const sql::Stmt& s, int col) {
    if (s.is_null(col)) return std::nullopt;
    return s.int64(col);
}

void put_len(std::string& out, std::string_view s) {
    const std::uint64_t n = s.size();
    for (int i = 0; i < 8; ++i)
        out.push_back(static_cast<char>((n >> (8 * i)) & 0xFF));
    out.append(s);
}

// One audit row selected as "seq, at_ms, account, username, event, outcome, detail, hash".
AuditEntry read_audit_entry(const sql::Stmt& st) {
    AuditEntry e;
    e.seq = st.int64(0);
    e.at_ms = st.int64(1);
    e.account = st.text(2);
    e.username = st.text(3);
    e.event = st.text(4);
    e.outcome = st.text(5);
    e.detail = st.text(6);
    e.hash = st.blob(7);
    return e;
}

}  // namespace

std::string_view coord_role_name(CoordRole r) noexcept {
    switch (r) {
        case CoordRole::municipality:
            return "municipality";
        case CoordRole::national:
            return "national";
        case CoordRole::admin:
            return "admin";
    }
    return "?";
}

std::optional<CoordRole> parse_coord_role(std::string_view text) noexcept {
    if (text == "municipality") return CoordRole::municipality;
    if (text == "national") return CoordRole::national;
    if (text == "admin") return CoordRole::admin;
    return std::nullopt;
}

CoordStore::CoordStore(CoordStoreOptions options, std::unique_ptr<ServerKey> key)
    : options_(std::move(options)),
      clock_(options_.clock ? options_.clock : SystemClock::shared()),
      key_(std::move(key)) {
    audit_key_ = key_->hash("mentorsync.coord.audit-chain.v1");
    csrf_key_ = key_->hash("mentorsync.coord.csrf.v1");
}

CoordStore::~CoordStore() = default;

Result<std::unique_ptr<CoordStore>> CoordStore::open(const CoordStoreOptions& options) {
    if (sodium_init() < 0) return Status::internal("libsodium failed to initialise");
    auto key = ServerKey::load(options.data_dir + "/server.key", false);
    if (!key.ok()) return key.status();
    std::unique_ptr<CoordStore> s(new CoordStore(options, std::move(key).value()));
    sql::Options db_options;
    db_options.label = sql::kCoordDb;
    // The admin command line may write while the server runs: wait for its lock.
    db_options.busy_timeout_ms = 10'000;
    MS_RETURN_IF_ERROR(s->db_.open(options.data_dir + "/coord.db", db_options));
    MS_RETURN_IF_ERROR(s->init_schema());
    // A hash of 32 random bytes: verifying any password against it fails, at full cost.
    auto dummy = hash_password(random_bytes(32));
    if (!dummy.ok()) return dummy.status();
    s->dummy_hash_ = std::move(dummy).value();
    return s;
}

Status CoordStore::init_schema() {
    MS_RETURN_IF_ERROR(db_.exec("PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"));
    return db_.exec(R"(
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
INSERT OR IGNORE INTO meta(key, value) VALUES('format', '1');
CREATE TABLE IF NOT EXISTS accounts(
  id BLOB PRIMARY KEY, username TEXT NOT NULL UNIQUE, role TEXT NOT NULL, municipality BLOB,
  password_hash TEXT NOT NULL, created_ms INTEGER NOT NULL, disabled INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS lockout(
  username TEXT PRIMARY KEY, failures INTEGER NOT NULL, locked_until_ms INTEGER NOT NULL,
  last_failure_ms INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS sessions(
  id_hash BLOB PRIMARY KEY, account BLOB NOT NULL, created_ms INTEGER NOT NULL,
  last_seen_ms INTEGER NOT NULL, expires_ms INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS sessions_by_account ON sessions(account);
CREATE TABLE IF NOT EXISTS tokens(
  id TEXT PRIMARY KEY, account BLOB NOT NULL, name TEXT NOT NULL, secret_hash BLOB NOT NULL,
  created_ms INTEGER NOT NULL, expires_ms INTEGER, revoked_ms INTEGER, last_used_ms INTEGER);
CREATE TABLE IF NOT EXISTS audit(
  seq INTEGER PRIMARY KEY, at_ms INTEGER NOT NULL, account TEXT NOT NULL, username TEXT NOT NULL,
  event TEXT NOT NULL, outcome TEXT NOT NULL, detail TEXT NOT NULL, hash BLOB NOT NULL);
)");
}

// --- accounts -------------------------------------------------------------------------------

Result<std::optional<Account>> CoordStore::find_account_locked(std::string_view username) {
    auto st = db_.prepare(
        "SELECT id, username, role, municipality, created_ms, disabled FROM accounts WHERE "
        "username=?1");
    if (!st.ok()) return st.status();
    st->bind_text(1, username);
    auto row = st->step();
    if (!row.ok()) return row.status();
    if (!*row) return std::optional<Account>();
    Account a;
    a.id = *Uuid::from_bytes(st->blob(0));
    a.username = st->text(1);
    auto role = parse_coord_role(st->text(2));
    if (!role) return Status::corrupt("coord.db: unknown role of account " + a.username);
    a.role = *role;
    if (!st->is_null(3)) a.municipality = Uuid::from_bytes(st->blob(3));
    a.created_ms = st->int64(4);
    a.disabled = st->int64(5) != 0;
    return std::optional<Account>(std::move(a));
}

Result<std::optional<Account>> CoordStore::account_by_id_locked(const Uuid& id) {
    auto st = db_.prepare("SELECT username FROM accounts WHERE id=?1");
    if (!st.ok()) return st.status();
    st->bind_blob(1, id.raw());
    auto row = st->step();
    if (!row.ok()) return row.status();
    if (!*row) return std::optional<Account>();
    const std::string name(st->text(0));
    st = sql::Stmt();
    return find_account_locked(name);
}

Result<std::optional<Account>> CoordStore::find_account(std::string_view username) {
    std::lock_guard g(mu_);
    return find_account_locked(normalize_username(username));
}

Result<Account> CoordStore::add_account(std::string_view username, CoordRole role,
                                        std::optional<Uuid> municipality,
                                        std::string_view password) {
    Account a;
    a.username = normalize_username(username);
    MS_RETURN_IF_ERROR(check_username(a.username));
    MS_RETURN_IF_ERROR(check_password(password));
    if (role == CoordRole::municipality && !municipality)
        return Status::invalid_argument("municipality: required for the municipality role");
    if (role != CoordRole::municipality && municipality)
        return Status::invalid_argument("municipality: only for the municipality role");
    auto hash = hash_password(password);
    if (!hash.ok()) return hash.status();
    a.id = Uuid::random();
    a.role = role;
    a.municipality = municipality;
    a.created_ms = now_ms();
    std::lock_guard g(mu_);
    auto existing = find_account_locked(a.username);
    if (!existing.ok()) return existing.status();
    if (*existing) return Status::invalid_argument("username: taken: " + a.username);
    auto st = db_.prepare(
        "INSERT INTO accounts(id, username, role, municipality, password_hash, created_ms) "
        "VALUES(?1,?2,?3,?4,?5,?6)");
    if (!st.ok()) return st.status();
    st->bind_blob(1, a.id.raw()).bind_text(2, a.username).bind_text(3, coord_role_name(role));
    if (municipality)
        st->bind_blob(4, municipality->raw());
    else
        st->bind_null(4);
    st->bind_text(5, *hash).bind(6, a.created_ms);
    MS_RETURN_IF_ERROR(st->run());
    return a;
}

Status CoordStore::set_password(std::string_view username, std::string_view password) {
    MS_RETURN_IF_ERROR(check_password(password));
    auto hash = hash_password(password);
    if (!hash.ok()) return hash.status();
    std::lock_guard g(mu_);
    const std::string u = normalize_username(username);
    auto st = db_.prepare("UPDATE accounts SET password_hash=?2 WHERE username=?1");
    if (!st.ok()) return st.status();
    st->bind_text(1, u).bind_text(2, *hash);
    MS_RETURN_IF_ERROR(st->run());
    if (db_.changes() == 0) return Status::not_found("no account " + u);
    // A new password ends every session of the account and clears its lockout.
    auto acc = find_account_locked(u);
    if (!acc.ok()) return acc.status();
    auto del = db_.prepare("DELETE FROM sessions WHERE account=?1");
    if (!del.ok()) return del.status();
    del->bind_blob(1, (*acc)->id.raw());
    MS_RETURN_IF_ERROR(del->run());
    auto unlock = db_.prepare("DELETE FROM lockout WHERE username=?1");
    if (!unlock.ok()) return unlock.status();
    unlock->bind_text(1, u);
    return unlock->run();
}

Status CoordStore::set_disabled(std::string_view username, bool disabled) {
    std::lock_guard g(mu_);
    const std::string u = normalize_username(username);
    auto acc = find_account_locked(u);
    if (!acc.ok()) return acc.status();
    if (!*acc) return Status::not_found("no account " + u);
    auto st = db_.prepare("UPDATE accounts SET disabled=?2 WHERE username=?1");
    if (!st.ok()) return st.status();
    st->bind_text(1, u).bind(2, disabled ? 1 : 0);
    MS_RETURN_IF_ERROR(st->run());
    if (!disabled) return {};
    auto del = db_.prepare("DELETE FROM sessions WHERE account=?1");
    if (!del.ok()) return del.status();
    del->bind_blob(1, (*acc)->id.raw());
    return del->run();
}

Result<std::vector<Account>> CoordStore::list_accounts() {
    std::lock_guard g(mu_);
    std::vector<std::string> names;
    {
        auto st = db_.prepare("SELECT username FROM accounts ORDER BY username");
        if (!st.ok()) return st.status();
        for (;;) {
            auto row = st->step();
            if (!row.ok()) return row.status();
            if (!*row) break;
            names.emplace_back(st->text(0));
        }
    }
    std::vector<Account> out;
    for (const auto& n : names) {
        auto a = find_account_locked(n);
        if (!a.ok()) return a.status();
        if (*a) out.push_back(**a);
    }
    return out;
}

// --- sign-in and sessions -------------------------------------------------------------------

Result<SignInResult> CoordStore::sign_in(std::string_view username_in, std::string_view password) {
    const std::string username = normalize_username(username_in);
    SignInResult out;
    std::string stored_hash;
    std::optional<Account> account;
    {
        std::lock_guard g(mu_);
        const std::int64_t now = now_ms();
        auto lk = db_.prepare("SELECT failures, locked_until_ms FROM lockout WHERE username=?1");
        if (!lk.ok()) return lk.status();
        lk->bind_text(1, username);
        auto row = lk->step();
        if (!row.ok()) return row.status();
        if (*row) {
            out.failures = static_cast<int>(lk->int64(0));
            const std::int64_t until = lk->int64(1);
            if (until > now) {
                lk = sql::Stmt();
                out.kind = SignInResult::Kind::locked_out;
                out.retry_after_s = (until - now + 999) / 1000;
                MS_RETURN_IF_ERROR(audit_locked("", username, "sign_in", "locked", "{}"));
                return out;
            }
        }
        lk = sql::Stmt();
        auto acc = find_account_locked(username);
        if (!acc.ok()) return acc.status();
        if (*acc && !(*acc)->disabled) {
            account = **acc;
            auto h = db_.prepare("SELECT password_hash FROM accounts WHERE id=?1");
            if (!h.ok()) return h.status();
            h->bind_blob(1, account->id.raw());
            auto r = h->step();
            if (!r.ok()) return r.status();
            if (*r) stored_hash = h->text(0);
        }
    }
    // Unknown or disabled accounts cost the same as known ones.
    const bool ok = password.size() <= kMaxPasswordBytes && !stored_hash.empty()
                        ? verify_password(stored_hash, password)
                        : (verify_password(dummy_hash_, password), false);

    std::lock_guard g(mu_);
    const std::int64_t now = now_ms();
    if (!ok) {
        out.kind = SignInResult::Kind::bad_credentials;
        out.failures += 1;
        std::int64_t until = 0;
        if (out.failures >= kLockoutThreshold) {
            const int doublings = std::min(out.failures - kLockoutThreshold, 20);
            until = now + std::min(kLockoutBaseMs << doublings, kLockoutMaxMs);
        }
        auto st = db_.prepare(
            "INSERT INTO lockout(username, failures, locked_until_ms, last_failure_ms) "
            "VALUES(?1,?2,?3,?4) ON CONFLICT(username) DO UPDATE SET failures=excluded.failures, "
            "locked_until_ms=excluded.locked_until_ms, last_failure_ms=excluded.last_failure_ms");
        if (!st.ok()) return st.status();
        st->bind_text(1, username).bind(2, out.failures).bind(3, until).bind(4, now);
        MS_RETURN_IF_ERROR(st->run());
        MS_RETURN_IF_ERROR(audit_locked(account ? account->id.to_string() : "", username, "sign_in",
                                        "failed",
                                        "{\"failures\":" + std::to_string(out.failures) + "}"));
        return out;
    }
    auto del = db_.prepare("DELETE FROM lockout WHERE username=?1");
    if (!del.ok()) return del.status();
    del->bind_text(1, username);
    MS_RETURN_IF_ERROR(del->run());
    del = sql::Stmt();

    out.kind = SignInResult::Kind::ok;
    out.failures = 0;
    out.account = account;
    out.session_id = common::base64url_encode(random_bytes(32));
    out.csrf_token = csrf_token(out.session_id);
    out.expires_ms = now + kSessionMaxMs;
    // Expired sessions of anyone are dropped on the way: the table stays small.
    auto prune = db_.prepare("DELETE FROM sessions WHERE expires_ms<=?1 OR last_seen_ms<=?2");
    if (!prune.ok()) return prune.status();
    prune->bind(1, now).bind(2, now - kSessionIdleMs);
    MS_RETURN_IF_ERROR(prune->run());
    prune = sql::Stmt();
    auto st = db_.prepare(
        "INSERT INTO sessions(id_hash, account, created_ms, last_seen_ms, expires_ms) "
        "VALUES(?1,?2,?3,?3,?4)");
    if (!st.ok()) return st.status();
    st->bind_blob(1, blake(out.session_id))
        .bind_blob(2, account->id.raw())
        .bind(3, now)
        .bind(4, out.expires_ms);
    MS_RETURN_IF_ERROR(st->run());
    st = sql::Stmt();
    MS_RETURN_IF_ERROR(audit_locked(account->id.to_string(), account->username, "sign_in", "ok",
                                    "{\"via\":\"password\"}"));
    return out;
}

Result<std::optional<Caller>> CoordStore::session_caller(std::string_view session_id) {
    if (session_id.empty() || session_id.size() > 100) return std::optional<Caller>();
    std::lock_guard g(mu_);
    const std::int64_t now = now_ms();
    const std::string h = blake(session_id);
    auto st =
        db_.prepare("SELECT account, last_seen_ms, expires_ms FROM sessions WHERE id_hash=?1");
    if (!st.ok()) return st.status();
    st->bind_blob(1, h);
    auto row = st->step();
    if (!row.ok()) return row.status();
    if (!*row) return std::optional<Caller>();
    const auto account_id = Uuid::from_bytes(st->blob(0));
    const std::int64_t last_seen = st->int64(1), expires = st->int64(2);
    st = sql::Stmt();
    if (!account_id || expires <= now || last_seen + kSessionIdleMs <= now) {
        auto del = db_.prepare("DELETE FROM sessions WHERE id_hash=?1");
        if (!del.ok()) return del.status();
        del->bind_blob(1, h);
        MS_RETURN_IF_ERROR(del->run());
        return std::optional<Caller>();
    }
    auto acc = account_by_id_locked(*account_id);
    if (!acc.ok()) return acc.status();
    if (!*acc || (*acc)->disabled) return std::optional<Caller>();
    // Slide the idle expiry, at most once every 10 s per session (fewer writes).
    if (now - last_seen >= 10'000) {
        auto up = db_.prepare("UPDATE sessions SET last_seen_ms=?2 WHERE id_hash=?1");
        if (!up.ok()) return up.status();
        up->bind_blob(1, h).bind(2, now);
        MS_RETURN_IF_ERROR(up->run());
    }
    Caller c;
    c.account = **acc;
    c.via = Caller::Via::session;
    c.session_id = std::string(session_id);
    return std::optional<Caller>(std::move(c));
}

Status CoordStore::end_session(std::string_view session_id) {
    std::lock_guard g(mu_);
    auto del = db_.prepare("DELETE FROM sessions WHERE id_hash=?1");
    if (!del.ok()) return del.status();
    del->bind_blob(1, blake(session_id));
    return del->run();
}

std::string CoordStore::csrf_token(std::string_view session_id) const {
    return common::base64url_encode(blake(session_id, csrf_key_));
}

bool CoordStore::check_csrf(std::string_view session_id, std::string_view presented) const {
    const std::string expected = csrf_token(session_id);
    if (presented.size() != expected.size()) return false;
    return sodium_memcmp(expected.data(), presented.data(), expected.size()) == 0;
}

// --- tokens ---------------------------------------------------------------------------------

Result<IssuedToken> CoordStore::issue_token(std::string_view username, std::string_view name,
                                            std::int64_t days) {
    if (name.empty() || name.size() > 100)
        return Status::invalid_argument("name: 1 to 100 characters, says what the token is for");
    if (days < 0 || days > 3650) return Status::invalid_argument("days: 0 to 3650");
    std::lock_guard g(mu_);
    auto acc = find_account_locked(normalize_username(username));
    if (!acc.ok()) return acc.status();
    if (!*acc) return Status::not_found("no account " + normalize_username(username));
    IssuedToken out;
    out.info.id = common::hex_lower(random_bytes(8));
    out.info.account = (*acc)->id;
    out.info.name = std::string(name);
    out.info.created_ms = now_ms();
    if (days > 0) out.info.expires_ms = out.info.created_ms + days * 86'400'000LL;
    const std::string secret = common::base64url_encode(random_bytes(32));
    out.token = "mst_" + out.info.id + "_" + secret;
    auto st = db_.prepare(
        "INSERT INTO tokens(id, account, name, secret_hash, created_ms, expires_ms) "
        "VALUES(?1,?2,?3,?4,?5,?6)");
    if (!st.ok()) return st.status();
    st->bind_text(1, out.info.id)
        .bind_blob(2, out.info.account.raw())
        .bind_text(3, out.info.name)
        .bind_blob(4, blake(secret))
        .bind(5, out.info.created_ms);
    if (out.info.expires_ms)
        st->bind(6, *out.info.expires_ms);
    else
        st->bind_null(6);
    MS_RETURN_IF_ERROR(st->run());
    return out;
}

Status CoordStore::revoke_token(std::string_view token_id) {
    std::lock_guard g(mu_);
    auto st = db_.prepare("UPDATE tokens SET revoked_ms=?2 WHERE id=?1 AND revoked_ms IS NULL");
    if (!st.ok()) return st.status();
    st->bind_text(1, token_id).bind(2, now_ms());
    MS_RETURN_IF_ERROR(st->run());
    if (db_.changes() == 0) return Status::not_found("no unrevoked token " + std::string(token_id));
    return {};
}

Result<std::vector<TokenInfo>> CoordStore::list_tokens() {
    std::lock_guard g(mu_);
    auto st = db_.prepare(
        "SELECT id, account, name, created_ms, expires_ms, revoked_ms, last_used_ms FROM tokens "
        "ORDER BY created_ms, id");
    if (!st.ok()) return st.status();
    std::vector<TokenInfo> out;
    for (;;) {
        auto row = st->step();
        if (!row.ok()) return row.status();
        if (!*row) break;
        TokenInfo t;
        t.id = st->text(0);
        t.account = Uuid::from_bytes(st->blob(1)).value_or(Uuid{});
        t.name = st->text(2);
        t.created_ms = st->int64(3);
        t.expires_ms = opt_int(*st, 4);
        t.revoked_ms = opt_int(*st, 5);
        t.last_used_ms = opt_int(*st, 6);
        out.push_back(std::move(t));
    }
    return out;
}

Result<std::optional<Caller>> CoordStore::token_caller(std::string_view token) {
    // mst_ + 16 hex + _ + 43 base64url
    if (token.size() != 4 + 16 + 1 + 43 || token.substr(0, 4) != "mst_" || token[20] != '_')
        return std::optional<Caller>();
    const std::string id(token.substr(4, 16));
    const std::string secret(token.substr(21));
    std::lock_guard g(mu_);
    const std::int64_t now = now_ms();
    auto st = db_.prepare(
        "SELECT account, secret_hash, expires_ms, revoked_ms, last_used_ms FROM tokens WHERE "
        "id=?1");
    if (!st.ok()) return st.status();
    st->bind_text(1, id);
    auto row = st->step();
    if (!row.ok()) return row.status();
    if (!*row) return std::optional<Caller>();
    const auto account_id = Uuid::from_bytes(st->blob(0));
    const std::string stored(st->blob(1));
    const auto expires = opt_int(*st, 2);
    const bool revoked = !st->is_null(3);
    const auto last_used = opt_int(*st, 4);
    st = sql::Stmt();
    const std::string presented = blake(secret);
    if (stored.size() != presented.size() ||
        sodium_memcmp(stored.data(), presented.data(), stored.size()) != 0)
        return std::optional<Caller>();
    if (revoked || (expires && *expires <= now) || !account_id) return std::optional<Caller>();
    auto acc = account_by_id_locked(*account_id);
    if (!acc.ok()) return acc.status();
    if (!*acc || (*acc)->disabled) return std::optional<Caller>();
    if (!last_used || now - *last_used >= 60'000) {
        auto up = db_.prepare("UPDATE tokens SET last_used_ms=?2 WHERE id=?1");
        if (!up.ok()) return up.status();
        up->bind_text(1, id).bind(2, now);
        MS_RETURN_IF_ERROR(up->run());
    }
    Caller c;
    c.account = **acc;
    c.via = Caller::Via::token;
    c.token_id = id;
    return std::optional<Caller>(std::move(c));
}

// --- audit ----------------------------------------------------------------------------------

std::string CoordStore::chain_hash(const std::string& prev, const AuditEntry& e) const {
    std::string msg;
    put_len(msg, prev);
    put_len(msg, std::to_string(e.seq));
    put_len(msg, std::to_string(e.at_ms));
    put_len(msg, e.account);
    put_len(msg, e.username);
    put_len(msg, e.event);
    put_len(msg, e.outcome);
    put_len(msg, e.detail);
    return blake(msg, audit_key_);
}

Status CoordStore::audit(const std::optional<Account>& who, std::string_view username,
                         std::string_view event, std::string_view outcome,
                         std::string_view detail) {
    std::lock_guard g(mu_);
    return audit_locked(who ? who->id.to_string() : "", who ? who->username : username, event,
                        outcome, detail);
}

Status CoordStore::audit_locked(const std::string& account, std::string_view username,
                                std::string_view event, std::string_view outcome,
                                std::string_view detail) {
    MS_RETURN_IF_ERROR(db_.exec("BEGIN IMMEDIATE"));
    auto body = [&]() -> Result<AuditEntry> {
        AuditEntry e;
        std::string prev(32, '\0');
        {
            auto st = db_.prepare("SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1");
            if (!st.ok()) return st.status();
            auto row = st->step();
            if (!row.ok()) return row.status();
            if (*row) {
                e.seq = st->int64(0);
                prev = st->blob(1);
            }
        }
        e.seq += 1;
        e.at_ms = now_ms();
        e.account = account;
        e.username = std::string(username);
        e.event = std::string(event);
        e.outcome = std::string(outcome);
        e.detail = std::string(detail);
        e.hash = chain_hash(prev, e);
        auto st = db_.prepare(
            "INSERT INTO audit(seq, at_ms, account, username, event, outcome, detail, hash) "
            "VALUES(?1,?2,?3,?4,?5,?6,?7,?8)");
        if (!st.ok()) return st.status();
        st->bind(1, e.seq)
            .bind(2, e.at_ms)
            .bind_text(3, e.account)
            .bind_text(4, e.username)
            .bind_text(5, e.event)
            .bind_text(6, e.outcome)
            .bind_text(7, e.detail)
            .bind_blob(8, e.hash);
        MS_RETURN_IF_ERROR(st->run());
        return e;
    };
    auto e = body();
    if (!e.ok()) {
        (void)db_.exec("ROLLBACK");
        return e.status();
    }
    MS_RETURN_IF_ERROR(db_.exec("COMMIT"));
    // The head goes to the server log too: a copy outside coord.db, so that cutting off the
    // newest entries can be detected against it. Ids, events and hashes only.
    log_event(options_.log, "info", "audit",
              {{"seq", e->seq}, {"audit_event", e->event}, {"hash", common::hex_lower(e->hash)}});
    return {};
}

Result<std::vector<AuditEntry>> CoordStore::audit_entries(std::int64_t before_seq,
                                                          std::size_t limit) {
    std::lock_guard g(mu_);
    auto st = db_.prepare(
        "SELECT seq, at_ms, account, username, event, outcome, detail, hash FROM audit WHERE "
        "seq < ?1 ORDER BY seq DESC LIMIT ?2");
    if (!st.ok()) return st.status();
    st->bind(1, before_seq > 0 ? before_seq : INT64_MAX).bind(2, static_cast<std::int64_t>(limit));
    std::vector<AuditEntry> out;
    for (;;) {
        auto row = st->step();
        if (!row.ok()) return row.status();
        if (!*row) break;
        AuditEntry e = read_audit_entry(*st);
        out.push_back(std::move(e));
    }
    return out;
}

Result<AuditVerdict> CoordStore::verify_audit() {
    std::lock_guard g(mu_);
    auto st = db_.prepare(
        "SELECT seq, at_ms, account, username, event, outcome, detail, hash FROM audit ORDER BY "
        "seq");
    if (!st.ok()) return st.status();
    AuditVerdict v;
    std::string prev(32, '\0');
    std::int64_t expected_seq = 1;
    for (;;) {
        auto row = st->step();
        if (!row.ok()) return row.status();
        if (!*row) break;
        AuditEntry e = read_audit_entry(*st);
        ++v.entries;
        if (v.ok && e.seq != expected_seq) {
            v.ok = false;
            v.first_bad_seq = expected_seq;
            v.problem = "entry " + std::to_string(expected_seq) + " is missing";
        }
        if (v.ok && chain_hash(prev, e) != e.hash) {
            v.ok = false;
            v.first_bad_seq = e.seq;
            v.problem = "entry " + std::to_string(e.seq) +
                        " does not match its hash: it was edited, or an entry before it was "
                        "removed or edited";
        }
        expected_seq = e.seq + 1;
        prev = e.hash;
    }
    if (v.entries > 0) v.head_hash = common::hex_lower(prev);
    return v;
}

}  // namespace mentorsync::server::coord
