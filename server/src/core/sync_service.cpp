#include "core/sync_service.h"

#include <sodium.h>

#include <algorithm>
#include <cctype>
#include <limits>
#include <map>

#include "common/encoding.h"
#include "common/text.h"
#include "core/ledger.h"
#include "core/stored_answer.h"
#include "mentorsync/transaction.h"
#include "mentorsync/wire.h"

namespace mentorsync::server {

namespace {

using wire::Error;

// A store fault, or a refusal passed through. Store messages name tables and SQLite errors, never
// personal data. A Status that already stands for a protocol error (a refusal returned from
// inside a transaction, which rolled back what little it wrote) is answered as it is.
Status internal(const Status& s) {
    if (wire::error_of(s)) return s;
    return wire::error(Error::internal, "server fault, nothing was stored: " + s.to_string());
}

// --- cursors (§8) ---------------------------------------------------------------------------
// A cursor says how far a device has come through the history as its scope sees it, and which
// learners it holds. Layout (integers big-endian), version 2 as issued now:
//
//   offset size  field
//   0      1     version, 0x02
//   1      8     pos: every transaction with seq <= pos has been dealt with for this device
//   9      1     flags: bit 0 = a backfill for learners granted at seq pos+1 is under way;
//                bit 1 (with bit 0) = that learner's backfill is partial: the device holds its
//                older history; bit 2 = the purged list below overflowed (see the pull)
//   10     16    [bit 0] the learner being backfilled (learners granted at the same seq are
//                backfilled in byte order; those before it are complete)
//   26     8     [bit 0] after: its transactions with seq <= after have been delivered
//   +0     1     np, then np x 16 bytes: "purged" learners, which the device could read at pos
//                (or whose backfill at pos+1 is complete) but no longer holds: it was told to
//                purge them before the walk passed their revoking seq
//   +1     1     nk, then nk x 16 bytes: "kept" learners, which the device cannot read at pos
//                but still holds: they left its scope and were back before it was told to purge
//                them (at most kMaxListed each, sorted)
//   end-16 16    MAC: keyed BLAKE2b-128 (server key) over "ms-cursor" || device id || the
//                bytes before it, so a cursor is only accepted from the device it was issued to
//                and cannot be forged to reach other positions
//
// So the learners the device holds are (readable at pos, minus purged) plus kept, exactly, and a
// backfill sends a learner's whole history only to a device that does not hold it. Version 1
// (earlier builds, still accepted) has neither list: read as "purged unknown" (bit 2) and no
// kept learner, which costs at most re-sending some history. The empty cursor means pos 0.
// Everything the next page contains is a function of the cursor and the history, so pulls are
// stateless and a repeated pull returns the same page (or more).
struct Cursor {
    std::int64_t pos = 0;
    std::optional<Uuid> learner;
    std::int64_t after = 0;
    bool holds_learner = false;      // bit 1
    bool purged_unknown = false;     // bit 2: treat every learner that may be purged as purged
    std::vector<Uuid> purged, kept;  // sorted, at most kMaxListed each
};

constexpr std::uint8_t kCursorVersion = 2;
constexpr std::uint8_t kCursorVersion1 = 1;
constexpr std::size_t kMacBytes = 16;
constexpr std::uint8_t kFlagBackfill = 1;
constexpr std::uint8_t kFlagHolds = 2;
constexpr std::uint8_t kFlagPurgedUnknown = 4;
// Learners per list: a cursor stays well below its 1,024-byte limit (at most 10 + 24 + 2 +
// 2 x 16 x 16 + 16 = 564 bytes). Beyond it the pull falls back to what is safe (see the pull).
constexpr std::size_t kMaxListed = 16;

void put_int64(std::string& out, std::int64_t v) {
    common::append_be64(out, static_cast<std::uint64_t>(v));
}
// The caller has checked that 8 bytes are there.
std::int64_t get_int64(std::string_view in) {
    return static_cast<std::int64_t>(common::read_be64(in).value_or(0));
}
std::string cursor_mac(const ServerKey& key, const Uuid& device, std::string_view body) {
    std::string data = "ms-cursor";
    data.append(device.raw());
    data.append(body);
    return key.mac(data);
}

std::string encode_cursor(const ServerKey& key, const Uuid& device, const Cursor& c) {
    std::string out(1, static_cast<char>(kCursorVersion));
    put_int64(out, c.pos);
    std::uint8_t flags = c.purged_unknown ? kFlagPurgedUnknown : 0;
    if (c.learner) flags |= kFlagBackfill | (c.holds_learner ? kFlagHolds : 0);
    out.push_back(static_cast<char>(flags));
    if (c.learner) {
        out.append(c.learner->raw());
        put_int64(out, c.after);
    }
    for (const std::vector<Uuid>* list : {&c.purged, &c.kept}) {
        out.push_back(static_cast<char>(list->size()));
        for (const Uuid& l : *list)
            out.append(l.raw());
    }
    out += cursor_mac(key, device, out);
    return out;
}

std::optional<Cursor> decode_cursor(const ServerKey& key, const Uuid& device,
                                    std::string_view bytes) {
    if (bytes.empty()) return Cursor{};
    if (bytes.size() < 10 + kMacBytes) return std::nullopt;
    std::string_view body = bytes.substr(0, bytes.size() - kMacBytes);
    std::string mac = cursor_mac(key, device, body);
    if (sodium_memcmp(mac.data(), bytes.data() + body.size(), kMacBytes) != 0) return std::nullopt;
    const auto version = static_cast<std::uint8_t>(body[0]);
    if (version != kCursorVersion && version != kCursorVersion1) return std::nullopt;
    Cursor c;
    c.pos = get_int64(body.substr(1));
    if (c.pos < 0) return std::nullopt;
    const auto flags = static_cast<std::uint8_t>(body[9]);
    const std::uint8_t allowed = version == kCursorVersion
                                     ? (kFlagBackfill | kFlagHolds | kFlagPurgedUnknown)
                                     : kFlagBackfill;
    if ((flags & ~allowed) != 0 || ((flags & kFlagHolds) && !(flags & kFlagBackfill)))
        return std::nullopt;
    std::string_view rest = body.substr(10);
    if (flags & kFlagBackfill) {
        if (rest.size() < 24) return std::nullopt;
        c.learner = Uuid::from_bytes(rest.substr(0, 16));
        c.after = get_int64(rest.substr(16));
        c.holds_learner = (flags & kFlagHolds) != 0;
        rest.remove_prefix(24);
    }
    if (version == kCursorVersion1) {
        if (!rest.empty()) return std::nullopt;
        c.purged_unknown = true;  // it did not say: assume the worst, re-send rather than miss
        return c;
    }
    c.purged_unknown = (flags & kFlagPurgedUnknown) != 0;
    for (std::vector<Uuid>* list : {&c.purged, &c.kept}) {
        if (rest.empty()) return std::nullopt;
        const auto n = static_cast<std::size_t>(static_cast<unsigned char>(rest[0]));
        rest.remove_prefix(1);
        if (n > kMaxListed || rest.size() < 16 * n) return std::nullopt;
        for (std::size_t i = 0; i < n; ++i)
            list->push_back(*Uuid::from_bytes(rest.substr(16 * i, 16)));
        rest.remove_prefix(16 * n);
    }
    if (!rest.empty()) return std::nullopt;
    return c;
}

// The device report of a signed pull request (§8), or none: another endpoint, no report, or a
// request the pull handler will refuse (a body that does not decode, a cursor this server did
// not issue to this device), so that a refused pull keeps nothing of its report. Only called
// once the signature verified, so the counts are the device's own word. The pull body is small
// (a cursor of at most 1 KiB), so decoding it here and again in the pull handler costs next to
// nothing.
std::optional<DeviceReportRow> pull_report(const SignedRequest& rq, std::int64_t now_ms,
                                           const ServerKey& key, const Uuid& device) {
    if (rq.path.substr(0, rq.path.find('?')) != "/v1/sync/pull") return std::nullopt;
    auto pull = wire::decode_pull_request(rq.body);
    if (!pull.ok() || !pull->report) return std::nullopt;
    if (pull->cursor.size() > wire::kMaxCursorBytes || !decode_cursor(key, device, pull->cursor))
        return std::nullopt;
    return DeviceReportRow{static_cast<std::int64_t>(pull->report->pending),
                           static_cast<std::int64_t>(pull->report->quarantined),
                           static_cast<std::int64_t>(pull->report->rejected), now_ms};
}

}  // namespace

std::string normalize_enrollment_code(std::string_view code) {
    std::string out;
    for (char c : code) {
        if (c == '-' || c == ' ') continue;
        out.push_back(static_cast<char>(std::toupper(static_cast<unsigned char>(c))));
    }
    return out;
}

std::string enrollment_code_hash(const ServerKey& key, std::string_view normalized_code) {
    return key.hash("ms-enroll" + std::string(normalized_code));
}

SyncServiceImpl::SyncServiceImpl(std::shared_ptr<ServerStore> store,
                                 std::shared_ptr<MergedState> state,
                                 std::shared_ptr<const WallClock> clock, const Schema* schema)
    : store_(std::move(store)),
      state_(std::move(state)),
      clock_(clock ? std::move(clock) : SystemClock::shared()),
      schema_(schema ? *schema : Schema::programme()) {}

// --- §4 enrollment --------------------------------------------------------------------------
Result<wire::EnrollResponse> SyncServiceImpl::enroll(const wire::EnrollRequest& request) {
    const auto label_chars = common::utf8_length(request.label);
    if (!label_chars) return wire::error(Error::bad_request, "label: not valid UTF-8");
    if (*label_chars > wire::kMaxLabelChars)
        return wire::error(Error::bad_request, "label: longer than 100 characters");
    if (request.node.is_nil()) return wire::error(Error::bad_request, "node: nil id");
    if (crypto_core_ed25519_is_valid_point(request.public_key.data()) != 1)
        return wire::error(Error::bad_request, "public_key: not a valid Ed25519 public key");
    const std::int64_t t = now();
    const std::string hash =
        enrollment_code_hash(store_->key(), normalize_enrollment_code(request.code));
    wire::EnrollResponse out;
    // A refusal returns its Status from inside the transaction: nothing was written by then, and
    // the rollback leaves the code unused (a rejected request stores nothing).
    Status s = store_->transact([&]() -> Status {
        auto code = store_->find_enrollment_code(hash);
        if (!code.ok()) return code.status();
        std::optional<User> user;
        if (*code) {
            auto u = store_->find_user((*code)->user);
            if (!u.ok()) return u.status();
            user = *u;
        }
        // Unknown, used, expired, or for a user who may not hold devices: one answer for all,
        // so the endpoint is no oracle for which codes exist.
        if (!*code || (*code)->used_ms || t >= (*code)->expires_ms || !user ||
            (user->role != Role::mentor && user->role != Role::centre_staff)) {
            return wire::error(Error::enrollment_invalid,
                               "the enrollment code is unknown, used or expired");
        }
        auto bound = store_->find_device_by_node(request.node);
        if (!bound.ok()) return bound.status();
        if (*bound) {
            // Checked after the code so that nothing about devices leaks to a caller without
            // a valid code.
            return wire::error(Error::node_in_use,
                               "this replica's node id is already bound to another device; "
                               "a new replica is needed");
        }
        Device d;
        d.id = Uuid::random();
        d.user = user->id;
        d.node = request.node;
        d.public_key = request.public_key;
        d.label = request.label;
        d.enrolled_ms = t;
        MS_RETURN_IF_ERROR(store_->add_device(d));
        MS_RETURN_IF_ERROR(store_->mark_enrollment_code_used(hash, t));
        out = wire::EnrollResponse{d.id, user->id, std::string(role_name(user->role)), t};
        return {};
    });
    if (!s.ok()) return internal(s);
    return out;
}

// --- §5 signed requests ---------------------------------------------------------------------

// Steps 1-3 of §5 on the Authorization header alone, shared by authenticate() and precheck():
// the header present and well formed, the device known, not revoked.
Result<SyncServiceImpl::SignedHeader> SyncServiceImpl::check_header(
    std::string_view authorization) {
    // 1. Header present and well formed.
    auto cred = wire::parse_authorization(authorization);
    if (!cred.ok()) return wire::error(Error::unsigned_request, cred.status().message());
    const auto device_id = Uuid::from_bytes(*wire::from_base64url(cred->device, 16));
    if (!device_id)
        return wire::error(Error::unsigned_request, "Authorization: the device id is malformed");
    // 2. Known device; 3. not revoked.
    auto device = store_->find_device(*device_id);
    if (!device.ok()) return internal(device.status());
    if (!*device) return wire::error(Error::unknown_device, "this device is not enrolled");
    if ((*device)->revoked)
        return wire::error(Error::device_revoked, "this device was revoked by an administrator");
    return SignedHeader{std::move(cred).value(), *device_id, std::move(**device)};
}

// Step 5 of §5: the timestamp within the window around the server's time `t`.
Status SyncServiceImpl::check_window(const wire::Credentials& cred, std::int64_t t) {
    const std::int64_t client_ms = std::stoll(cred.timestamp);
    if (client_ms > t + wire::kSignatureWindowMs || client_ms < t - wire::kSignatureWindowMs)
        return wire::error(Error::stale_timestamp,
                           "the request timestamp is more than 300 s from the server's clock");
    return {};
}

Result<Principal> SyncServiceImpl::authenticate(const SignedRequest& rq) {
    const std::int64_t t = now();
    MS_ASSIGN_OR_RETURN(SignedHeader header, check_header(rq.authorization));
    const wire::Credentials& cred = header.credentials;
    const Uuid& device_id = header.device_id;
    // 4. Signature.
    const std::string message =
        wire::signing_string(rq.method, rq.path, cred.timestamp, cred.nonce, cred.device, rq.body);
    if (!wire::verify(header.device.public_key, message, cred.signature))
        return wire::error(Error::bad_signature, "the request signature does not verify");
    // 5. Timestamp within the window.
    MS_RETURN_IF_ERROR(check_window(cred, t));
    auto user = store_->find_user(header.device.user);
    if (!user.ok()) return internal(user.status());
    if (!*user) return internal(Status::corrupt("a device's user is missing"));
    // 6. Nonce unused within the memory window (recording it is part of the check), and the
    // last-seen time: one commit, not synced on its own. A power cut may forget the last
    // requests' nonces, and only until the next push commit syncs the log; a replay in that
    // window finds a push's batch or transactions already held, and a pull answer it cannot
    // read without the device's TLS session.
    // They are recorded here, before the body is read, so they stay recorded when the body is
    // then refused (400, 409, 413): the nonce is used up either way (protocol §5), or a replay of
    // a refused request would go unnoticed; a retry must be signed afresh.
    // A pull's device report (§8) rides along in the same commit, but only from a pull that
    // will be answered: a body that does not decode or a cursor the pull refuses carries none.
    const std::optional<DeviceReportRow> report = pull_report(rq, t, store_->key(), device_id);
    bool fresh = false;
    Status s = store_->transact_unsynced(
        [&]() -> Status {
            auto used = store_->use_nonce(device_id, *wire::from_base64url(cred.nonce, 16), t,
                                          t - kNonceMemoryMs);
            if (!used.ok()) return used.status();
            fresh = *used;
            if (!fresh) return {};
            MS_RETURN_IF_ERROR(store_->touch_device(device_id, t));
            if (report) return store_->set_device_report(device_id, *report);
            return {};
        },
        false);
    if (!s.ok()) return internal(s);
    if (!fresh) return wire::error(Error::replayed_nonce, "this nonce was already used");
    return Principal{device_id, (*user)->id, header.device.node, (*user)->role};
}

// Steps 1-3 and 5 of authenticate() on the header alone, for the HTTP layer to run before it
// reads the body: the same checks, in the same order, with the same errors.
Result<Uuid> SyncServiceImpl::precheck(std::string_view authorization) {
    const std::int64_t t = now();
    MS_ASSIGN_OR_RETURN(SignedHeader header, check_header(authorization));
    MS_RETURN_IF_ERROR(check_window(header.credentials, t));
    return header.device_id;
}

// --- §7 push --------------------------------------------------------------------------------
Result<wire::PushResponse> SyncServiceImpl::push(const Principal& who, const Uuid& batch_id,
                                                 std::string_view body_hash,
                                                 std::vector<Transaction> txns) {
    using Kind = wire::PushResult::Kind;
    if (txns.size() > wire::kMaxTransactionsPerPush)
        return wire::error(Error::too_many_transactions, "more than 1000 transactions in one push");
    const std::int64_t t = now();
    wire::PushResponse out;
    out.server_time_ms = t;
    // Index into txns and seq of each accepted transaction, for the merged state.
    std::vector<std::pair<std::size_t, std::int64_t>> accepted;
    Ledger ledger(*store_, schema_);
    // The work that needs no database — the schema check and the history encoding of each
    // transaction — is done before the transaction, so the store's lock (which every push and
    // pull shares) is held only for reads and writes.
    std::vector<Status> validity(txns.size());
    std::vector<std::string> encoded(txns.size());
    for (std::size_t i = 0; i < txns.size(); ++i) {
        if (txns[i].stamp.node != who.node) continue;  // refused below, unencoded
        validity[i] = ledger.validate(txns[i]);
        if (validity[i].ok()) encoded[i] = encode_transaction(txns[i]);
    }
    // Group commit: the push commits without a sync and syncs the log below, before its answer;
    // pushes committed meanwhile by other threads share that sync.
    Status s = store_->transact_unsynced(
        [&]() -> Status {
            auto batch = store_->find_batch(who.device_id, batch_id);
            if (!batch.ok()) return batch.status();
            if (*batch) {
                // A refusal: nothing was written yet, so the rollback loses nothing.
                if ((*batch)->body_hash != body_hash)
                    return wire::error(Error::batch_mismatch,
                                       "this batch id was used before with different content");
                auto stored = decode_stored_answer((*batch)->response);
                if (!stored.ok()) return stored.status();
                out = std::move(stored).value();
                return {};
            }
            auto user = store_->find_user(who.user_id);
            if (!user.ok()) return user.status();
            std::set<Uuid> scope;
            if (*user) {
                if (auto subject = subject_for(**user)) {
                    auto sc = store_->scope_now(*subject);
                    if (!sc.ok()) return sc.status();
                    scope = std::move(sc).value();
                }
            }
            auto reject = [&](std::string code, std::string message) {
                out.results.push_back({Kind::rejected, std::move(code), std::move(message)});
            };
            for (std::size_t i = 0; i < txns.size(); ++i) {
                const Transaction& txn = txns[i];
                if (txn.stamp.node != who.node) {
                    reject("foreign_node", "the transaction's node is not this device's node");
                    continue;
                }
                auto held = store_->has_txn(txn.stamp);
                if (!held.ok()) return held.status();
                if (*held) {
                    out.results.push_back({Kind::held, {}, {}});
                    continue;
                }
                if (static_cast<std::int64_t>(txn.stamp.millis()) > t + wire::kSignatureWindowMs) {
                    reject("future_stamp", "stamped more than 300 s ahead of the server's clock");
                    continue;
                }
                if (const Status& v = validity[i]; !v.ok()) {
                    reject("invalid", v.message());
                    continue;
                }
                auto rows = ledger.plan(txn);
                if (!rows.ok()) {
                    if (rows.status().code() == Code::invalid_argument ||
                        rows.status().code() == Code::validation) {
                        reject("invalid", rows.status().message());
                        continue;
                    }
                    return rows.status();
                }
                std::optional<std::string> scope_error;
                for (const RowPlan& p : *rows) {
                    // Learners and assignments are the administrators' (admin API): a device may
                    // update a learner in its scope but never create one, nor touch a case.
                    if (p.collection == "assignments")
                        scope_error = "assignments are written by administrators only";
                    else if (p.collection == "learners" && p.is_new)
                        scope_error = "learners are created by administrators only";
                    else if (!scope.count(p.learner))
                        scope_error = "row " + p.row.to_string() +
                                      " concerns a learner outside this user's scope";
                    if (scope_error) break;
                }
                if (scope_error) {
                    reject("out_of_scope", *scope_error);
                    continue;
                }
                auto seq = ledger.apply(txn, *rows, who.device_id, t, encoded[i]);
                if (!seq.ok()) return seq.status();
                out.results.push_back({Kind::accepted, {}, {}});
                accepted.emplace_back(i, *seq);
            }
            // Counted with the batch that answers them: a replayed batch returned above and
            // adds nothing. One extra write, and only when something was rejected.
            const auto rejected =
                std::count_if(out.results.begin(), out.results.end(),
                              [](const wire::PushResult& r) { return r.kind == Kind::rejected; });
            if (rejected > 0)
                MS_RETURN_IF_ERROR(store_->add_device_rejections(who.device_id, rejected));
            return store_->add_batch(who.device_id, batch_id,
                                     StoredBatch{std::string(body_hash), encode_stored_answer(out)},
                                     t);
        },
        true);
    if (!s.ok()) return internal(s);
    // After the commit: the accepted transactions are in the history whatever happens to the
    // merged state, and a failure there is healed by the next catch-up. They are handed to its
    // background applier as decoded here, so the state need not read and decrypt them back
    // from the history, and the push does not wait for the merge.
    if (state_ && !accepted.empty()) {
        std::vector<StoredTxn> committed;
        committed.reserve(accepted.size());
        for (const auto& [index, seq] : accepted) {
            StoredTxn done;
            done.seq = seq;
            done.device = who.device_id;
            done.received_ms = t;
            done.txn = std::move(txns[index]);
            committed.push_back(std::move(done));
        }
        state_->hand_in(std::move(committed));
    }
    // Durable before acknowledged (§7). After handing in, so that concurrent pushes have had
    // time to commit and share this sync. A stored answer (a retried batch) waits too: its
    // first commit may still be unsynced.
    if (Status d = store_->sync_log(); !d.ok()) return internal(d);
    return out;
}

// --- §8 pull --------------------------------------------------------------------------------
//
// The device walks the history in seq order, seeing only transactions about learners its
// subject could read at that seq and can still read now. Where its access to a learner starts
// (a grant at seq g), it first receives the learner's history before g (backfill), then
// carries on. A learner it may hold but cannot read now is purged; that repeats until a cursor
// past the revoking seq comes back.
//
// A page never holds a transaction twice, and a device is sent a transaction again only after
// it was told to purge its learner (protocol §8). So the walk tracks what the device holds:
// the learners it could read at its cursor, minus those the cursor lists as purged, plus those
// it lists as kept (out of scope at the cursor's position, but never purged: they came back
// before a pull could tell the device to drop them). A backfill is whole (the learner's history
// before g, own pushes included) only for a learner the device does not hold; for one it holds,
// it sends only what the device missed: the learner's transactions since the device's copy
// ends, minus this page's and the device's own pushes. A learner the device purged but that is
// back in scope waits for the whole backfill at its next grant: the steady walk holds its
// transactions back until then, so they are sent once. The cursor the page ends with records
// the purged and kept learners again, for the next pull.
//
// Own pushes are skipped in the steady walk (the device has them) and in partial backfills,
// but included in whole ones: the device purged them with the learner.
Result<wire::PullResponse> SyncServiceImpl::pull(const Principal& who, std::string_view cursor,
                                                 std::size_t limit) {
    if (cursor.size() > wire::kMaxCursorBytes)
        return wire::error(Error::bad_request, "cursor: longer than 1024 bytes");
    auto start = decode_cursor(store_->key(), who.device_id, cursor);
    if (!start)
        return wire::error(Error::bad_request,
                           "cursor: not a cursor this server issued to this device");
    if (limit == 0) limit = wire::kDefaultPullLimit;
    limit = std::min(limit, wire::kMaxPullLimit);

    wire::PullResponse out;
    out.server_time_ms = now();
    std::vector<std::int64_t> page;
    std::set<std::int64_t> in_page;  // page's seqs: a backfill never repeats what the walk sent
    Cursor next;
    Status s = store_->transact([&]() -> Status {
        auto head = store_->head_seq();
        if (!head.ok()) return head.status();
        auto user = store_->find_user(who.user_id);
        if (!user.ok()) return user.status();
        std::optional<Subject> subject = *user ? subject_for(**user) : std::nullopt;
        next.pos = *head;
        if (!subject) return {};  // no device scope: nothing to read

        auto now_scope = store_->scope_now(*subject);
        if (!now_scope.ok()) return now_scope.status();
        const std::set<Uuid>& scope = *now_scope;

        // The learners the position itself says the device holds: readable at pos, and those
        // whose backfill at pos+1 completed (before the one being backfilled, in byte order).
        auto positional = [&](const Cursor& c) -> Result<std::set<Uuid>> {
            auto at = store_->scope_at(*subject, c.pos);
            if (!at.ok()) return at.status();
            if (c.learner) {
                auto partial = store_->grants_at(*subject, c.pos + 1);
                if (!partial.ok()) return partial.status();
                for (const Uuid& l : *partial)
                    if (l < *c.learner) at->insert(l);
            }
            return at;
        };
        auto start_positional = positional(*start);
        if (!start_positional.ok()) return start_positional.status();

        // Purge: every learner the device may hold and may not read now (listing one it
        // already dropped is harmless: purging is idempotent).
        std::set<Uuid> may_hold = *start_positional;
        if (start->learner) may_hold.insert(*start->learner);
        may_hold.insert(start->kept.begin(), start->kept.end());
        for (const Uuid& l : may_hold)
            if (!scope.count(l)) out.purge.push_back(l);

        // What the device holds of each learner in scope: learner -> its history up to this
        // seq is held (and later transactions the steady walk sent). Learners it purged and
        // that are back in scope wait for their whole backfill (`awaiting`).
        std::map<Uuid, std::int64_t> holds;
        std::set<Uuid> awaiting;
        std::set<Uuid> purged(start->purged.begin(), start->purged.end());
        if (start->purged_unknown) {
            // Not known which: every learner readable at pos whose access ended since may have
            // been purged (a superset: the worst it costs is re-sending a history).
            auto maybe = store_->revoked_between(*subject, start->pos, *head);
            if (!maybe.ok()) return maybe.status();
            purged.insert(maybe->begin(), maybe->end());
        }
        for (const Uuid& l : *start_positional) {
            if (!scope.count(l)) continue;
            if (purged.count(l))
                awaiting.insert(l);
            else
                holds.emplace(l, start->pos);
        }
        for (const Uuid& l : start->kept) {
            if (!scope.count(l) || (start->learner && l == *start->learner)) continue;
            // Kept through a gap in its access: its copy ends where the last access ended.
            auto ended = store_->last_revoke(*subject, l, start->pos);
            if (!ended.ok()) return ended.status();
            holds.emplace(l, std::max<std::int64_t>(0, *ended - 1));
        }

        auto all_in_scope = [&](const StoredTxn& m) {
            return std::all_of(m.learners.begin(), m.learners.end(),
                               [&](const Uuid& l) { return scope.count(l) > 0; });
        };
        auto deliver = [&](std::int64_t seq) {
            if (in_page.insert(seq).second) page.push_back(seq);
        };
        // A transaction the steady walk delivers at seq s.
        auto steady_ok = [&](std::int64_t seq) -> Result<bool> {
            if (in_page.count(seq)) return false;
            auto m = store_->load_txn_meta(seq);
            if (!m.ok()) return m.status();
            if (m->device == who.device_id || !all_in_scope(*m)) return false;
            for (const Uuid& l : m->learners)
                if (awaiting.count(l)) return false;  // sent with the learner's whole backfill
            if (m->learners.size() > 1)               // readable_seqs vouched for one learner only
                for (const Uuid& l : m->learners) {
                    auto a = store_->has_access(*subject, l, seq);
                    if (!a.ok()) return a.status();
                    if (!*a) return false;
                }
            return true;
        };
        const auto full = [&] { return page.size() >= limit; };
        // Backfills the learners granted at g, from `from` (a resumed backfill) on. Returns
        // whether the page filled up, with `next` set to resume there.
        auto backfill = [&](std::int64_t g, std::optional<Uuid> from, std::int64_t from_after,
                            bool from_holds) -> Result<bool> {
            auto granted = store_->grants_at(*subject, g);
            if (!granted.ok()) return granted.status();
            for (const Uuid& l : *granted) {
                if (!scope.count(l) || (from && l < *from)) continue;
                const bool resumed = from && l == *from;
                const auto held_it = holds.find(l);
                const bool partial = resumed ? from_holds : held_it != holds.end();
                std::int64_t after =
                    resumed ? from_after : (held_it != holds.end() ? held_it->second : 0);
                for (;;) {
                    auto seqs = store_->learner_seqs(l, after, g, limit);
                    if (!seqs.ok()) return seqs.status();
                    if (seqs->empty()) break;
                    for (std::int64_t seq : *seqs) {
                        after = seq;
                        if (in_page.count(seq)) continue;
                        auto m = store_->load_txn_meta(seq);
                        if (!m.ok()) return m.status();
                        if (partial && m->device == who.device_id) continue;
                        if (!all_in_scope(*m)) continue;
                        deliver(seq);
                        if (full()) {
                            next.pos = g - 1;
                            next.learner = l;
                            next.after = after;
                            next.holds_learner = partial;
                            return true;
                        }
                    }
                }
                // The device now holds the learner's history before g (sent in this page or
                // earlier ones, or held already), and the steady walk sends the rest: a later
                // grant in this walk backfills only from here.
                holds[l] = g - 1;
                awaiting.erase(l);
            }
            return false;
        };

        Status walked = [&]() -> Status {
            std::int64_t pos = start->pos;
            if (start->learner && pos < *head) {
                auto filled = backfill(pos + 1, start->learner, start->after, start->holds_learner);
                if (!filled.ok()) return filled.status();
                if (*filled) return {};
                auto ok = steady_ok(pos + 1);
                if (!ok.ok()) return ok.status();
                if (*ok) deliver(pos + 1);
                pos += 1;
                if (full() && pos < *head) {
                    next.pos = pos;
                    return {};
                }
            }
            for (;;) {
                auto seqs = store_->readable_seqs(*subject, pos, *head, limit);
                if (!seqs.ok()) return seqs.status();
                if (seqs->empty()) break;
                for (std::int64_t seq : *seqs) {
                    auto filled = backfill(seq, std::nullopt, 0, false);
                    if (!filled.ok()) return filled.status();
                    if (*filled) return {};
                    auto ok = steady_ok(seq);
                    if (!ok.ok()) return ok.status();
                    if (*ok) deliver(seq);
                    pos = seq;
                    if (full()) {
                        next.pos = pos;
                        return {};
                    }
                }
            }
            next.pos = *head;
            return {};
        }();
        MS_RETURN_IF_ERROR(walked);

        // Where the position alone misstates what the device holds, the cursor says so.
        auto end_positional = positional(next);
        if (!end_positional.ok()) return end_positional.status();
        for (const Uuid& l : *end_positional)
            if (!holds.count(l)) next.purged.push_back(l);
        for (const auto& [l, base] : holds)
            if (!end_positional->count(l) && !(next.learner && l == *next.learner))
                next.kept.push_back(l);
        if (next.purged.size() > kMaxListed) {
            next.purged.clear();
            next.purged_unknown = true;  // safe: such learners count as purged next time
        }
        // Beyond the limit, kept learners are dropped: the device then receives their history
        // again at their next grant (a re-send, never a loss).
        if (next.kept.size() > kMaxListed) next.kept.resize(kMaxListed);
        return {};
    });
    if (!s.ok()) return internal(s);
    // The page may have ended exactly at the last readable transaction; then the next pull is
    // simply empty. Good enough for "pull again straight away".
    out.more = page.size() >= limit;
    for (std::int64_t seq : page) {
        auto t = store_->load_txn(seq);
        if (!t.ok()) return internal(t.status());
        out.txns.push_back(std::move(t->txn));
    }
    out.cursor = encode_cursor(store_->key(), who.device_id, next);
    // Never deliver a transaction a power cut could still take back: its seq would be reused
    // and the cursor would skip the transaction that got it.
    if (Status d = store_->sync_log(); !d.ok()) return internal(d);
    return out;
}

Result<ServerCore> open_server_core(const ServiceOptions& options) {
    StoreOptions so;
    so.data_dir = options.data_dir;
    so.create_if_missing = options.create_if_missing;
    so.clock = options.clock;
    so.log = options.log;
    auto store = open_sqlite_store(so);
    if (!store.ok()) return store.status();
    ServerCore core;
    core.store = std::move(store).value();
    MergedStateOptions mo;
    mo.data_dir = options.data_dir;
    mo.clock = options.clock;
    mo.log = options.log;
    // Opening takes state.lock (one server per data directory) and catches the merged state up
    // with the history: a crash between a history commit and its state apply heals here, before
    // the first request.
    auto state = MergedState::open(core.store, std::move(mo));
    if (!state.ok()) return state.status();
    core.state = std::move(state).value();
    core.service = std::make_unique<SyncServiceImpl>(core.store, core.state, options.clock);
    return core;
}

Result<std::unique_ptr<SyncService>> open_sync_service(const ServiceOptions& options) {
    auto core = open_server_core(options);
    if (!core.ok()) return core.status();
    return std::unique_ptr<SyncService>(std::move(core->service));
}

}  // namespace mentorsync::server
