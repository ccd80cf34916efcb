// SyncSession: the device side of docs/protocol.md as a state machine over plain data.
// See mentorsync/sync_session.h for the contract.
#include "mentorsync/sync_session.h"

#include <sodium.h>

#include <msgpack.hpp>

#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <map>
#include <set>

#include "common/text.h"
#include "crypto.h"

namespace mentorsync {
namespace {

constexpr std::string_view kPushPath = "/v1/sync/push";
constexpr std::string_view kPullPath = "/v1/sync/pull";
constexpr std::string_view kEnrollPath = "/v1/enroll";
constexpr std::string_view kMsgpack = "application/msgpack";

// Sync values kept in the replica (plaintext there: never personal data).
constexpr std::string_view kCursorKey = "pull.cursor";
constexpr std::string_view kRejectedKey = "push.rejected";
constexpr std::string_view kRedatedKey = "push.redated";

// The push result code of a transaction stamped too far ahead (protocol section 7).
constexpr std::string_view kFutureStamp = "future_stamp";

// Backoff of section 2: 1 s doubling, capped at 5 minutes, then ±20 % jitter so that devices
// that failed together (a server restart) do not come back together.
constexpr std::int64_t kFirstRetryMs = 1'000;
constexpr std::int64_t kMaxRetryMs = 5 * 60 * 1'000;
// An answer's Retry-After is honoured up to an hour: beyond that it is more likely a
// misconfigured proxy than a plan, and the tablet keeps trying once an hour.
constexpr std::int64_t kMaxRetryAfterMs = 60 * 60 * 1'000;

// The wait a Retry-After asks for, in ms, within kMaxRetryAfterMs; 0 when there is none.
std::int64_t suggested_wait_ms(const std::optional<std::int64_t>& retry_after_s) {
    if (!retry_after_s || *retry_after_s <= 0) return 0;
    return std::min(*retry_after_s, kMaxRetryAfterMs / 1'000) * 1'000;
}

// Server messages are for people and carry no personal data (section 2), but they are
// untrusted bytes: keep them short and printable before they reach a log or a screen.
constexpr std::size_t kMaxServerMessage = 300;

std::string printable(std::string_view s) {
    std::string out;
    out.reserve(std::min(s.size(), kMaxServerMessage));
    for (char c : s) {
        if (out.size() >= kMaxServerMessage) {
            out += "...";
            break;
        }
        const auto u = static_cast<unsigned char>(c);
        out += (u < 0x20 || u == 0x7F) ? ' ' : c;  // UTF-8 continuation bytes pass through
    }
    return out;
}

// Rejections are stored as msgpack: array of [hlc, node bin(16), code, message].
std::string encode_rejections(const std::vector<PushRejection>& list) {
    msgpack::sbuffer buf;
    msgpack::packer<msgpack::sbuffer> pk(buf);
    pk.pack_array(static_cast<std::uint32_t>(list.size()));
    for (const auto& r : list) {
        pk.pack_array(4);
        pk.pack_uint64(r.stamp.hlc);
        pk.pack_bin(16);
        pk.pack_bin_body(reinterpret_cast<const char*>(r.stamp.node.bytes.data()), 16);
        pk.pack(r.code);
        pk.pack(r.message);
    }
    return std::string(buf.data(), buf.size());
}

Result<std::vector<PushRejection>> decode_rejections(std::string_view bytes) {
    auto corrupt = [] {
        return Status::corrupt("sync value '" + std::string(kRejectedKey) + "' is malformed");
    };
    try {
        auto oh = msgpack::unpack(bytes.data(), bytes.size());
        const msgpack::object& o = oh.get();
        if (o.type != msgpack::type::ARRAY) return corrupt();
        std::vector<PushRejection> out;
        for (std::uint32_t i = 0; i < o.via.array.size; ++i) {
            const msgpack::object& e = o.via.array.ptr[i];
            if (e.type != msgpack::type::ARRAY || e.via.array.size != 4) return corrupt();
            const msgpack::object* f = e.via.array.ptr;
            if (f[0].type != msgpack::type::POSITIVE_INTEGER || f[1].type != msgpack::type::BIN ||
                f[1].via.bin.size != 16 || f[2].type != msgpack::type::STR ||
                f[3].type != msgpack::type::STR)
                return corrupt();
            PushRejection r;
            r.stamp.hlc = f[0].via.u64;
            std::copy_n(reinterpret_cast<const std::uint8_t*>(f[1].via.bin.ptr), 16,
                        r.stamp.node.bytes.begin());
            r.code.assign(f[2].via.str.ptr, f[2].via.str.size);
            r.message.assign(f[3].via.str.ptr, f[3].via.str.size);
            out.push_back(std::move(r));
        }
        return out;
    } catch (const std::exception&) {
        return corrupt();
    }
}

// The re-date notice is stored as decimal text "redated:ahead_ms:last_ms".
std::string encode_notice(const RedateNotice& n) {
    return std::to_string(n.redated) + ":" + std::to_string(n.ahead_ms) + ":" +
           std::to_string(n.last_ms);
}

Result<RedateNotice> decode_notice(std::string_view text) {
    RedateNotice n;
    const char* p = text.data();
    const char* end = text.data() + text.size();
    auto field = [&](auto& out, bool last) {
        auto [q, ec] = std::from_chars(p, end, out);
        if (ec != std::errc() || (last ? q != end : (q == end || *q != ':'))) return false;
        p = last ? q : q + 1;
        return true;
    };
    if (!field(n.redated, false) || !field(n.ahead_ms, false) || !field(n.last_ms, true))
        return Status::corrupt("sync value '" + std::string(kRedatedKey) + "' is malformed");
    return n;
}

}  // namespace

std::string describe_clock_offset(std::int64_t skew_ms) {
    if (skew_ms == 0) return "in step with the server's";
    // The magnitude without overflow for INT64_MIN, then rounded to the nearest unit.
    const std::uint64_t ms = skew_ms < 0 ? std::uint64_t{0} - static_cast<std::uint64_t>(skew_ms)
                                         : static_cast<std::uint64_t>(skew_ms);
    const auto in = [ms](std::uint64_t unit) { return ms / unit + (ms % unit >= unit / 2); };
    constexpr std::uint64_t kDay = 86'400'000;
    std::string amount;
    if (in(1000) == 0) return "in step with the server's";
    if (in(1000) < 120)
        amount = std::to_string(in(1000)) + " s";
    else if (in(60'000) < 120)
        amount = std::to_string(in(60'000)) + " min";
    else if (in(3'600'000) < 48)
        amount = std::to_string(in(3'600'000)) + " h";
    else if (in(kDay) < 730)
        amount = std::to_string(in(kDay)) + " days";
    else
        amount = std::to_string(in(365 * kDay)) + " years";
    return amount + (skew_ms < 0 ? " ahead of the server's" : " behind the server's");
}

std::optional<std::int64_t> parse_retry_after(std::string_view value) noexcept {
    value = common::trim(value);
    // Nine digits (about 31 years) is far beyond any sensible wait and cannot overflow.
    if (value.empty() || value.size() > 9) return std::nullopt;
    std::int64_t seconds = 0;
    for (char c : value) {
        if (c < '0' || c > '9') return std::nullopt;
        seconds = seconds * 10 + (c - '0');
    }
    return seconds;
}

std::optional<std::string> HttpRequest::header(std::string_view name) const {
    for (const auto& h : headers)
        if (common::iequals_ascii(h.name, name)) return h.value;
    return std::nullopt;
}

class SyncSession::Impl {
  public:
    Impl(Replica& r, DeviceIdentity identity, SyncOptions options)
        : replica(r), id(std::move(identity)), opts(std::move(options)) {
        clock = opts.clock ? opts.clock : SystemClock::shared();
        opts.push_batch =
            std::clamp<std::size_t>(opts.push_batch, 1, wire::kMaxTransactionsPerPush);
        opts.pull_limit = std::clamp<std::size_t>(opts.pull_limit, 1, wire::kMaxPullLimit);
        batch_limit = opts.push_batch;
    }

    enum class Phase { idle, push, pull, done, failed };
    enum class Sent { none, push, pull };

    // A push batch in flight: its id and body are kept until the server answers it, so that a
    // retry after a lost response is the same request (section 7's idempotency by batch id).
    struct Batch {
        Uuid id;
        std::vector<Stamp> stamps;
        std::string body;
    };

    Replica& replica;
    DeviceIdentity id;
    SyncOptions opts;
    std::shared_ptr<const WallClock> clock;
    Phase phase = Phase::idle;
    Sent sent = Sent::none;
    std::optional<Batch> batch;
    std::size_t batch_limit = 200;  // halved after a 413 so that the next sync fits
    std::string sent_cursor;        // the cursor of the pull in flight
    int failures = 0;               // consecutive transient failures, for the backoff
    SyncProgress progress;
    std::optional<std::int64_t> skew;
    std::optional<std::int64_t> server_time;  // of the last answer of this sync that carried one
    // Re-dating, per sync: whether the future_stamp refusals left by an earlier sync were
    // re-dated yet, and the stamps a refusal must not re-date again in this sync (made by a
    // re-dating, or kept by one): refused again, they wait for the next sync, so a sync never
    // sends the same transaction twice for nothing.
    bool leftovers_redated = false;
    std::set<Stamp> redated_now;

    // --- rejections --------------------------------------------------------------------------
    Result<std::vector<PushRejection>> load_rejections() const {
        auto v = replica.sync_value(kRejectedKey);
        if (!v.ok()) return v.status();
        if (!v->has_value()) return std::vector<PushRejection>();
        return decode_rejections(**v);
    }
    Status save_rejections(const std::vector<PushRejection>& list) {
        return replica.set_sync_value(kRejectedKey, encode_rejections(list));
    }
    Status add_rejections(const std::vector<PushRejection>& more) {
        if (more.empty()) return {};
        auto list = load_rejections();
        if (!list.ok()) return list.status();
        std::set<Stamp> known;
        for (const auto& r : *list)
            known.insert(r.stamp);
        for (const auto& r : more)  // a retried answer may repeat rejections already recorded
            if (known.insert(r.stamp).second) list->push_back(r);
        return save_rejections(*list);
    }
    Result<RedateNotice> load_notice() const {
        auto v = replica.sync_value(kRedatedKey);
        if (!v.ok()) return v.status();
        if (!v->has_value()) return RedateNotice{};
        return decode_notice(**v);
    }

    // Re-dates refused transactions (Replica::restamp_refused) and, in the same durable
    // transaction, drops their future_stamp rejections (they go again now with their new
    // stamps), moves other rejections of re-dated transactions to the new stamps, and adds
    // them to the notice. `refused_at` is the refusing answer's server time, when there is one.
    Status redate(const std::vector<Stamp>& refused, std::optional<std::int64_t> refused_at) {
        auto list = load_rejections();
        if (!list.ok()) return list.status();
        auto notice = load_notice();
        if (!notice.ok()) return notice.status();
        const std::int64_t now = clock->now_ms();
        const std::int64_t reference = refused_at.value_or(now);
        auto report = replica.restamp_refused(
            refused, refused_at,
            [&](const RestampReport& r) -> std::vector<std::pair<std::string, std::string>> {
                std::map<Stamp, Stamp> moved(r.moved.begin(), r.moved.end());
                std::vector<PushRejection> kept;
                for (PushRejection& e : *list) {
                    auto it = moved.find(e.stamp);
                    if (it != moved.end()) {
                        if (e.code == kFutureStamp) continue;
                        e.stamp = it->second;
                    }
                    kept.push_back(std::move(e));
                }
                RedateNotice n = *notice;
                if (!r.moved.empty()) {
                    n.redated += r.moved.size();
                    n.last_ms = now;
                    for (const auto& [old_stamp, new_stamp] : r.moved)
                        n.ahead_ms = std::max(
                            n.ahead_ms, static_cast<std::int64_t>(old_stamp.millis()) - reference);
                }
                return {{std::string(kRejectedKey), encode_rejections(kept)},
                        {std::string(kRedatedKey), encode_notice(n)}};
            });
        if (!report.ok()) return report.status();
        for (const auto& [old_stamp, new_stamp] : report->moved)
            redated_now.insert(new_stamp);
        // Kept ones wait: refused again later in this sync they are not re-dated again. Without
        // a server time (leftovers of an earlier sync) they are sent once more, as time passed.
        if (refused_at) redated_now.insert(report->kept.begin(), report->kept.end());
        progress.redated += report->moved.size();
        return {};
    }

    // After a purge, rejections of transactions no longer in the log would only confuse.
    Status prune_rejections() {
        auto list = load_rejections();
        if (!list.ok()) return list.status();
        if (list->empty()) return {};
        auto pending = replica.pending(SIZE_MAX);
        if (!pending.ok()) return pending.status();
        std::set<Stamp> present;
        for (const auto& t : *pending)
            present.insert(t.stamp);
        std::erase_if(*list, [&](const PushRejection& r) { return !present.count(r.stamp); });
        return save_rejections(*list);
    }

    // The device report of a pull request (protocol section 8), as of now: pulls follow the
    // pushes, so it shows what this sync left behind. The replica's pending count includes the
    // rejected transactions (they stay unacknowledged in the log); the report keeps the three
    // figures apart. Each is clamped to the protocol's bound.
    Result<wire::DeviceReport> device_report() const {
        auto st = replica.status();
        if (!st.ok()) return st.status();
        auto rejected = load_rejections();
        if (!rejected.ok()) return rejected.status();
        const auto clamp = [](std::size_t n) {
            return std::min<std::uint64_t>(n, wire::kMaxReportedCount);
        };
        const std::size_t held = rejected->size();
        wire::DeviceReport r;
        r.pending = clamp(st->pending_transactions > held ? st->pending_transactions - held : 0);
        r.quarantined = clamp(st->quarantined);
        r.rejected = clamp(held);
        return r;
    }

    // --- requests ----------------------------------------------------------------------------
    HttpRequest signed_post(std::string_view path, std::string body) const {
        HttpRequest r;
        r.method = "POST";
        r.path = std::string(path);
        r.body = std::move(body);
        // A fresh timestamp and nonce per request, retries included.
        r.headers = {{"Content-Type", std::string(kMsgpack)},
                     {"Accept", std::string(kMsgpack)},
                     {"Authorization",
                      wire::authorization(id.keys, r.method, r.path, id.device_id, clock->now_ms(),
                                          crypto::random_bytes(16), r.body)}};
        return r;
    }

    // Takes the next batch out of the pending log, or leaves `batch` empty when nothing is left
    // to send. Transactions the protocol would refuse whatever happens (too many changes, too
    // large for one body) are recorded as rejected here instead of blocking every later push.
    Status build_batch() {
        if (!leftovers_redated) {
            // future_stamp refusals an earlier sync left (it was interrupted, or they could
            // not be re-dated far enough then): re-date what can be now, send the rest again.
            leftovers_redated = true;
            auto rejected = load_rejections();
            if (!rejected.ok()) return rejected.status();
            std::vector<Stamp> future;
            for (const auto& r : *rejected)
                if (r.code == kFutureStamp) future.push_back(r.stamp);
            if (!future.empty()) MS_RETURN_IF_ERROR(redate(future, std::nullopt));
        }
        for (;;) {
            auto rejected = load_rejections();
            if (!rejected.ok()) return rejected.status();
            std::set<Stamp> skip;
            for (const auto& r : *rejected)
                if (r.code != kFutureStamp || redated_now.count(r.stamp)) skip.insert(r.stamp);
            auto pending = replica.pending(batch_limit + skip.size());
            if (!pending.ok()) return pending.status();
            std::vector<Transaction> txns;
            std::vector<PushRejection> local;
            for (auto& t : *pending) {
                if (skip.count(t.stamp) || txns.size() >= batch_limit) continue;
                if (t.changes.size() > wire::kMaxChangesPerTransaction) {
                    local.push_back({t.stamp, "invalid",
                                     "not sent: " + std::to_string(t.changes.size()) +
                                         " changes, more than the protocol's " +
                                         std::to_string(wire::kMaxChangesPerTransaction) +
                                         " per transaction"});
                    continue;
                }
                txns.push_back(std::move(t));
            }
            const Uuid batch_id = Uuid::random();
            std::size_t count = txns.size();
            std::string body;
            while (count > 0) {
                body = wire::encode_push_request(replica.schema(), batch_id,
                                                 std::span(txns.data(), count));
                if (body.size() <= wire::kMaxBodyBytes) break;
                if (count == 1) {
                    local.push_back({txns[0].stamp, "body_too_large",
                                     "not sent: the transaction alone is " +
                                         std::to_string(body.size()) +
                                         " bytes, more than the protocol's body limit"});
                    count = 0;
                    break;
                }
                count /= 2;  // the rest goes in the next batch
            }
            MS_RETURN_IF_ERROR(add_rejections(local));
            progress.rejected += local.size();
            if (count > 0) {
                Batch b;
                b.id = batch_id;
                b.body = std::move(body);
                for (std::size_t i = 0; i < count; ++i)
                    b.stamps.push_back(txns[i].stamp);
                batch = std::move(b);
                return {};
            }
            if (local.empty()) return {};  // nothing (more) to push
            // Only locally rejected ones this round: look again past them.
        }
    }

    Result<HttpRequest> next_request() {
        if (phase != Phase::push && phase != Phase::pull)
            return Status::invalid_argument("no sync is running: call start() first");
        if (phase == Phase::push && !batch) {
            MS_RETURN_IF_ERROR(build_batch());
            if (!batch) phase = Phase::pull;
        }
        if (phase == Phase::push) {
            sent = Sent::push;
            return signed_post(kPushPath, batch->body);
        }
        auto cursor = replica.sync_value(kCursorKey);
        if (!cursor.ok()) return cursor.status();
        sent_cursor = cursor->value_or(std::string());
        wire::PullRequest pr;
        pr.cursor = sent_cursor;
        pr.limit = opts.pull_limit;
        auto report = device_report();
        if (!report.ok()) return report.status();
        pr.report = *report;
        sent = Sent::pull;
        return signed_post(kPullPath, wire::encode_pull_request(pr));
    }

    // --- outcomes ----------------------------------------------------------------------------
    void note_server_time(std::int64_t server_time_ms) {
        skew = server_time_ms - clock->now_ms();
        server_time = server_time_ms;
    }

    std::int64_t backoff_ms() {
        ++failures;
        std::int64_t base = kFirstRetryMs;
        for (int i = 1; i < failures && base < kMaxRetryMs; ++i)
            base *= 2;
        base = std::min(base, kMaxRetryMs);
        const std::int64_t percent = 80 + static_cast<std::int64_t>(randombytes_uniform(41));
        return base * percent / 100;
    }

    // `at_least_ms`: the answer's Retry-After (section 2: wait at least that long), which
    // replaces the backoff's delay when it is longer. The backoff still grows meanwhile.
    SyncStep transient(Status why, std::string server_code = {}, std::int64_t at_least_ms = 0) {
        SyncStep s;
        s.kind = SyncStep::Kind::failed;
        s.status = std::move(why);
        s.transient = true;
        s.retry_after_ms = std::max(backoff_ms(), at_least_ms);
        s.server_code = std::move(server_code);
        return s;  // phase and batch stay: the next request repeats this one
    }

    SyncStep permanent(Status why, std::string server_code = {}) {
        phase = Phase::failed;
        batch.reset();  // the next sync starts a new batch (and a new batch id)
        SyncStep s;
        s.kind = SyncStep::Kind::failed;
        s.status = std::move(why);
        s.server_code = std::move(server_code);
        return s;
    }

    // A local failure while handling a good response: the replica is locked or its storage
    // failed. Nothing the server can fix; the answered batch is kept so that the next sync sends
    // it again under the same id and gets the stored answer.
    SyncStep local_failure(const Status& why) {
        phase = Phase::failed;
        SyncStep s;
        s.kind = SyncStep::Kind::failed;
        s.status = why;
        return s;
    }

    // A call out of order: the session's state is unchanged.
    static SyncStep misuse(std::string message) {
        SyncStep s;
        s.kind = SyncStep::Kind::failed;
        s.status = Status::invalid_argument(std::move(message));
        return s;
    }

    SyncStep next() {
        failures = 0;
        return SyncStep{};
    }

    SyncStep on_push_ok(const std::string& body) {
        auto resp = wire::decode_push_response(body);
        // A 200 that is not the protocol's answer is most likely a proxy or captive portal in
        // the way (hotel or school Wi-Fi), not our server: try again later.
        if (!resp.ok())
            return transient(Status::io("the push answer is not a protocol response: " +
                                        resp.status().message()));
        note_server_time(resp->server_time_ms);
        if (resp->results.size() != batch->stamps.size())
            return permanent(Status::invalid_argument(
                "the server answered " + std::to_string(resp->results.size()) + " results for " +
                std::to_string(batch->stamps.size()) + " transactions"));
        std::vector<Stamp> acks;
        std::vector<PushRejection> rejections;
        std::vector<Stamp> to_redate;
        for (std::size_t i = 0; i < resp->results.size(); ++i) {
            const auto& r = resp->results[i];
            if (r.kind != wire::PushResult::Kind::rejected) {
                acks.push_back(batch->stamps[i]);
                continue;
            }
            rejections.push_back({batch->stamps[i], printable(r.code), printable(r.message)});
            // Stamped ahead of the server's clock: the refusal proves the server does not hold
            // it, so it can be re-dated; unless this sync re-dated it already (then it waits).
            if (r.code == kFutureStamp && !redated_now.count(batch->stamps[i]))
                to_redate.push_back(batch->stamps[i]);
        }
        // Rejections first: if acknowledging then fails, a retry gets the same stored answer
        // and records them again harmlessly rather than resending them. A future_stamp
        // refusal recorded here and not re-dated (the app was killed) is re-dated by the next
        // sync.
        Status s = add_rejections(rejections);
        if (s.ok()) s = replica.acknowledge(acks);
        if (s.ok() && !to_redate.empty()) s = redate(to_redate, resp->server_time_ms);
        if (!s.ok()) return local_failure(s);
        progress.pushed += batch->stamps.size();
        progress.acked += acks.size();
        // Refusals that were re-dated are not counted: they go again with their new stamps.
        std::size_t still_refused = rejections.size();
        if (!to_redate.empty()) {
            auto left = load_rejections();
            if (!left.ok()) return local_failure(left.status());
            std::set<Stamp> held;
            for (const auto& r : *left)
                held.insert(r.stamp);
            still_refused = static_cast<std::size_t>(
                std::count_if(rejections.begin(), rejections.end(),
                              [&](const PushRejection& r) { return held.count(r.stamp) != 0; }));
        }
        progress.rejected += still_refused;
        batch.reset();
        return next();
    }

    SyncStep on_pull_ok(const std::string& body) {
        auto resp = wire::decode_pull_response(replica.schema(), body);
        if (!resp.ok())
            return transient(Status::io("the pull answer is not a protocol response: " +
                                        resp.status().message()));
        note_server_time(resp->server_time_ms);
        // Purge first (section 8): this page's transactions may bring a learner back.
        for (const Uuid& learner : resp->purge) {
            auto r = replica.purge_learner(learner);
            if (!r.ok()) return local_failure(r.status());
            ++progress.learners_purged;
        }
        if (!resp->purge.empty()) {
            Status s = prune_rejections();
            if (!s.ok()) return local_failure(s);
        }
        auto applied = replica.apply_remote(resp->txns);
        if (!applied.ok()) return local_failure(applied.status());
        // Only now, with the page durable, may the cursor move past it.
        Status s = replica.set_sync_value(kCursorKey, resp->cursor);
        if (!s.ok()) return local_failure(s);
        progress.pulled += resp->txns.size();
        progress.applied += applied->applied;
        progress.quarantined += applied->quarantined;
        progress.remote_invalid += applied->rejected.size();
        if (!resp->more) {
            // The server's clock bounds how early anything written from now on can have been
            // made (restamp_refused uses it, should this device's clock run ahead later).
            if (server_time) {
                Status noted = replica.note_trusted_time(*server_time);
                if (!noted.ok()) return local_failure(noted);
            }
            phase = Phase::done;
            failures = 0;
            SyncStep d;
            d.kind = SyncStep::Kind::done;
            return d;
        }
        // "More" with nothing new and the same cursor would loop for ever.
        if (resp->txns.empty() && resp->purge.empty() && resp->cursor == sent_cursor)
            return permanent(Status::invalid_argument(
                "the server said more transactions remain but sent none and kept the cursor"));
        return next();
    }

    SyncStep on_error(const HttpResponse& response, Sent what) {
        const int status = response.status;
        std::string code;
        std::string message;
        auto err = wire::decode_error(response.body);
        if (err.ok()) {
            code = printable(err->code);
            message = printable(err->message);
            if (err->server_time_ms) {
                note_server_time(*err->server_time_ms);
                // Best effort: the answer's own failure is what the caller needs to see.
                (void)replica.note_trusted_time(*err->server_time_ms);
            }
        } else {
            message = "no protocol error body";
        }
        const bool retry =
            status >= 500 || status == 408 || status == 429 ||
            (status == 401 && (code == "stale_timestamp" || code == "replayed_nonce"));
        std::string text = std::string(what == Sent::push ? "push" : "pull") + " refused (" +
                           std::to_string(status) + (code.empty() ? "" : " " + code) +
                           "): " + message;
        if (code == "stale_timestamp" && skew)
            text += "; this device's clock is " + describe_clock_offset(*skew) +
                    ": correct it (changes made meanwhile wait on this device)";
        if (retry)
            return transient(Status::io(std::move(text)), code,
                             suggested_wait_ms(response.retry_after_s));
        if (status == 413 && what == Sent::push && batch)
            batch_limit = std::max<std::size_t>(1, batch->stamps.size() / 2);
        return permanent(Status::invalid_argument(std::move(text)), code);
    }

    SyncStep handle_response(const HttpResponse& response) {
        ++progress.requests;
        const Sent what = sent;
        sent = Sent::none;
        if (what == Sent::none || (phase != Phase::push && phase != Phase::pull))
            return misuse(
                "a response arrived with no request outstanding: call "
                "next_request() first");
        if (response.status == 200)
            return what == Sent::push ? on_push_ok(response.body) : on_pull_ok(response.body);
        if (response.status >= 200 && response.status < 300)
            return permanent(Status::invalid_argument("the server answered HTTP " +
                                                      std::to_string(response.status) +
                                                      " where the protocol has 200"));
        return on_error(response, what);
    }
};

SyncSession::SyncSession(Replica& replica, DeviceIdentity identity, SyncOptions options)
    : impl_(std::make_unique<Impl>(replica, std::move(identity), std::move(options))) {}

SyncSession::~SyncSession() = default;

void SyncSession::start() {
    impl_->phase = Impl::Phase::push;
    impl_->sent = Impl::Sent::none;
    impl_->failures = 0;
    impl_->progress = {};
    impl_->server_time.reset();
    impl_->leftovers_redated = false;
    impl_->redated_now.clear();
}

Result<HttpRequest> SyncSession::next_request() {
    try {
        return impl_->next_request();
    } catch (const std::exception&) {
        return Status::internal("out of memory while building a sync request");
    }
}

SyncStep SyncSession::handle_response(const HttpResponse& response) {
    SyncStep step;
    try {
        step = impl_->handle_response(response);
    } catch (const std::exception&) {
        step = impl_->local_failure(Status::internal("out of memory while handling a response"));
    }
    if (impl_->opts.on_progress) impl_->opts.on_progress(impl_->progress);
    return step;
}

SyncStep SyncSession::handle_transport_error(std::string_view what) {
    impl_->sent = Impl::Sent::none;
    if (!running()) return Impl::misuse("no sync is running: call start() first");
    SyncStep step = impl_->transient(Status::io("the transport failed: " + printable(what)));
    if (impl_->opts.on_progress) impl_->opts.on_progress(impl_->progress);
    return step;
}

bool SyncSession::running() const noexcept {
    return impl_->phase == Impl::Phase::push || impl_->phase == Impl::Phase::pull;
}

const SyncProgress& SyncSession::progress() const noexcept {
    return impl_->progress;
}

std::optional<std::int64_t> SyncSession::clock_skew_ms() const noexcept {
    return impl_->skew;
}

Result<std::vector<PushRejection>> SyncSession::rejected() const {
    return impl_->load_rejections();
}

Status SyncSession::retry_rejected() {
    return impl_->save_rejections({});
}

Result<RedateNotice> SyncSession::redate_notice() const {
    return impl_->load_notice();
}

Status SyncSession::clear_redate_notice() {
    return impl_->replica.set_sync_value(kRedatedKey, encode_notice({}));
}

// ---- enrollment ------------------------------------------------------------------------------

Result<HttpRequest> enrollment_request(std::string_view code, const wire::DeviceKeys& keys,
                                       const Uuid& node, std::string_view label) {
    if (code.empty()) return Status::invalid_argument("the enrollment code is empty");
    if (code.size() > wire::kMaxStringBytes)
        return Status::invalid_argument("the enrollment code is too long");
    auto chars = common::utf8_length(label);
    if (!chars) return Status::invalid_argument("the device label is not valid UTF-8");
    if (*chars > wire::kMaxLabelChars)
        return Status::invalid_argument("the device label has " + std::to_string(*chars) +
                                        " characters, more than " +
                                        std::to_string(wire::kMaxLabelChars));
    if (node.is_nil()) return Status::invalid_argument("the replica node id is nil");
    wire::EnrollRequest er;
    er.code = std::string(code);
    er.public_key = keys.public_key;
    er.node = node;
    er.label = std::string(label);
    HttpRequest r;
    r.method = "POST";
    r.path = std::string(kEnrollPath);
    r.headers = {{"Content-Type", std::string(kMsgpack)}, {"Accept", std::string(kMsgpack)}};
    r.body = wire::encode_enroll_request(er);
    return r;
}

Result<Enrollment> parse_enrollment_response(const HttpResponse& response) {
    if (response.status != 200) {
        std::string text = "enrollment refused (" + std::to_string(response.status);
        auto err = wire::decode_error(response.body);
        if (err.ok())
            text += " " + printable(err->code) + "): " + printable(err->message);
        else
            text += "): no protocol error body";
        // Worth trying again later: the server's trouble, a timeout, or the per-address rate
        // limit (429), after the answer's Retry-After when it gave one.
        if (response.status >= 500 || response.status == 429 || response.status == 408)
            return Status::io(std::move(text))
                .with_retry_after(suggested_wait_ms(response.retry_after_s));
        return Status::invalid_argument(std::move(text));
    }
    auto r = wire::decode_enroll_response(response.body);
    if (!r.ok()) return r.status();
    return Enrollment{r->device_id, r->user_id, r->role, r->server_time_ms};
}

}  // namespace mentorsync
