// Convergence of Replica's merge: replicas that have applied the same set of transactions, in any
// order and any number of times, hold identical records and conflicts.
//
// The property test runs a small network of replicas that edit the same few fields of the same
// few records, delete and restore them and resolve conflicts, while a simulated network hands
// their transactions on reordered, duplicated, dropped and retried, in small batches, and relays
// them through third replicas. A final exchange then delivers every transaction to every
// replica, after which all replicas must hold the same records and conflicts, and those must be
// what the transactions say: per-field last-writer-wins by stamp, and no concurrently written
// value dropped without a conflict.
//
// Every run is a function of its seed. A failure names its seed; replay it alone with
//   MENTORSYNC_SEED=<seed> ./engine_tests "<test case name>"
// and add MENTORSYNC_TRACE=1 to print every step. Runs are deterministic because record ids come
// from the seeded generator, clocks are manual, and the clock scheme (Simulation::tick) makes
// every hlc unique, so the random node ids never decide a winner.
#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>
#include <vector>

#include <catch2/catch.hpp>

#include "mentorsync/clock.h"
#include "mentorsync/replica.h"
#include "mentorsync/schema.h"
#include "mentorsync/transaction.h"
#include "mentorsync/types.h"
#include "test_support.h"

namespace ms = mentorsync;

namespace {

constexpr std::int64_t kStartMs = 1'764'000'000'000;  // November 2025, an even number

// ------------------------------------------------------------------------------------------
// Seeded randomness. Only the raw 64-bit output of mt19937_64 is used (it is specified by the
// standard), never std::uniform_int_distribution or std::shuffle (implementation-defined), so a
// seed replays the same run with any standard library.
class Rng {
  public:
    explicit Rng(std::uint64_t seed) : gen_(seed) {}

    std::size_t below(std::size_t n) { return static_cast<std::size_t>(gen_() % n); }
    std::int64_t between(std::int64_t lo, std::int64_t hi) {
        return lo + static_cast<std::int64_t>(gen_() % static_cast<std::uint64_t>(hi - lo + 1));
    }
    bool percent(unsigned p) { return below(100) < p; }

    template <typename T>
    const T& pick(const std::vector<T>& v) {
        return v[below(v.size())];
    }
    template <typename T>
    void shuffle(std::vector<T>& v) {
        for (std::size_t i = v.size(); i > 1; --i)
            std::swap(v[i - 1], v[below(i)]);
    }

    // A version-4 UUID from the seeded generator, so record ids replay too.
    ms::Uuid uuid() {
        ms::Uuid u;
        for (std::size_t i = 0; i < u.bytes.size(); i += 8) {
            std::uint64_t x = gen_();
            for (std::size_t j = 0; j < 8; ++j)
                u.bytes[i + j] = static_cast<std::uint8_t>(x >> (8 * j));
        }
        u.bytes[6] = static_cast<std::uint8_t>((u.bytes[6] & 0x0F) | 0x40);
        u.bytes[8] = static_cast<std::uint8_t>((u.bytes[8] & 0x3F) | 0x80);
        return u;
    }

  private:
    std::mt19937_64 gen_;
};

std::string two_digits(std::int64_t n) {
    return (n < 10 ? "0" : "") + std::to_string(n);
}

// A valid value for a field of the programme schema. Values come from small pools so that
// concurrent writers sometimes write equal values too.
ms::Value random_value(Rng& rng, const ms::FieldDef& f, unsigned null_percent = 12) {
    using ms::FieldType;
    if (!f.required && rng.percent(null_percent)) return ms::Value();
    switch (f.type) {
        case FieldType::uuid:
            return rng.uuid().to_string();
        case FieldType::string: {
            static const std::vector<std::string> names = {
                "Anna Bērziņa", "Jānis Ozols", "Līga Kalniņa", "Pēteris Liepa", "Marta Krūmiņa"};
            std::string s = rng.pick(names);
            if (rng.percent(50)) s += " " + std::to_string(rng.below(4));
            return s;
        }
        case FieldType::text: {
            static const std::vector<std::string> notes = {
                "met after class",
                "talked about attendance\nagreed to call on Friday",
                "skipped two lessons; parents informed",
                "🙂 good progress in maths",
                "visited at home, family situation discussed",
                "x"};
            std::string s = rng.pick(notes);
            if (rng.percent(40)) s += " (" + std::to_string(rng.below(5)) + ")";
            return s;
        }
        case FieldType::integer: {
            // Half the time from the bottom of the range, so equal values come up.
            std::int64_t hi = rng.percent(50) ? std::min(f.max, f.min + 2) : f.max;
            return ms::Value(rng.between(f.min, hi));
        }
        case FieldType::boolean:
            return rng.percent(50);
        case FieldType::date:
            return "2026-" + two_digits(rng.between(1, 12)) + "-" + two_digits(rng.between(1, 28));
        case FieldType::datetime:
            return "2026-" + two_digits(rng.between(1, 12)) + "-" + two_digits(rng.between(1, 28)) +
                   "T" + two_digits(rng.between(7, 19)) + ":" + two_digits(15 * rng.between(0, 3));
        case FieldType::enumeration:
            return rng.pick(f.allowed);
        case FieldType::enum_list: {
            std::vector<std::string> all = f.allowed;
            rng.shuffle(all);
            std::size_t n = (f.required ? 1 : 0) + rng.below(3);
            ms::Value::List items;
            for (std::size_t i = 0; i < n && i < all.size(); ++i)
                items.emplace_back(all[i]);
            return ms::Value(std::move(items));
        }
        case FieldType::semester:
            return rng.percent(50) ? "2025/2026-" + std::to_string(rng.between(1, 2))
                                   : "2026/2027-" + std::to_string(rng.between(1, 2));
        case FieldType::school_year:
            return rng.percent(50) ? "2025/2026" : "2026/2027";
    }
    return ms::Value();
}

const ms::CollectionDef& collection_def(std::string_view name) {
    const ms::CollectionDef* c = ms::Schema::programme().collection(name);
    REQUIRE(c != nullptr);
    return *c;
}

// Fields of a new record: every required field, some optional ones.
ms::Fields random_record(Rng& rng, const ms::CollectionDef& c, const ms::Uuid* learner) {
    ms::Fields fields;
    for (const auto& f : c.fields) {
        if (!c.learner_field.empty() && f.name == c.learner_field) continue;
        if (f.required || rng.percent(50)) {
            ms::Value v = random_value(rng, f, 0);
            fields[f.name] = std::move(v);
        }
    }
    if (learner) fields[c.learner_field] = learner->to_string();
    return fields;
}

// ------------------------------------------------------------------------------------------
// Snapshots of a replica's state, and their comparison.

using RecordKey = std::pair<std::string, ms::Uuid>;  // collection, id

struct RecordState {
    ms::Fields fields;
    std::map<std::string, ms::Stamp, std::less<>> stamps;
    bool deleted = false;
    ms::Stamp updated;
    bool operator==(const RecordState&) const = default;
};

struct ConflictState {
    std::string collection;
    ms::Uuid row;
    std::string field;
    ms::Value winner_value;
    ms::Stamp winner;
    ms::Value loser_value;
    ms::Stamp loser;
    bool operator==(const ConflictState&) const = default;
};

bool conflict_less(const ConflictState& a, const ConflictState& b) {
    return std::tie(a.collection, a.row, a.field, a.loser, a.winner) <
           std::tie(b.collection, b.row, b.field, b.loser, b.winner);
}

struct State {
    std::map<RecordKey, RecordState> records;
    std::vector<ConflictState> conflicts;  // sorted by conflict_less
};

std::string describe(const RecordKey& key, const RecordState& s) {
    std::ostringstream o;
    o << key.first << "/" << key.second.to_string() << (s.deleted ? " (deleted)" : "")
      << " updated " << s.updated.to_string() << " {";
    for (const auto& [name, value] : s.fields)
        o << " " << name << "=" << value.to_display();
    o << " } stamps {";
    for (const auto& [name, stamp] : s.stamps)
        o << " " << name << "@" << stamp.to_string();
    o << " }";
    return o.str();
}

std::string describe(const ConflictState& c) {
    std::ostringstream o;
    o << c.collection << "/" << c.row.to_string() << "." << c.field
      << " winner=" << c.winner_value.to_display() << "@" << c.winner.to_string()
      << " loser=" << c.loser_value.to_display() << "@" << c.loser.to_string();
    return o.str();
}

State snapshot(const ms::Replica& replica) {
    State s;
    for (const auto& c : ms::Schema::programme().collections()) {
        ms::Query q;
        q.collection = c.name;
        q.include_deleted = true;
        auto records = replica.query(q);
        INFO("query " << c.name << ": " << records.status().to_string());
        REQUIRE(records.ok());
        for (const auto& r : *records) {
            INFO("a record of " << c.name << " reports collection " << r.collection);
            REQUIRE(r.collection == c.name);
            bool inserted = s.records
                                .emplace(RecordKey{r.collection, r.id},
                                         RecordState{r.fields, r.stamps, r.deleted, r.updated})
                                .second;
            INFO("query returned " << c.name << "/" << r.id.to_string() << " twice");
            REQUIRE(inserted);
        }
    }
    auto conflicts = replica.conflicts();
    INFO("conflicts: " << conflicts.status().to_string());
    REQUIRE(conflicts.ok());
    for (const auto& c : *conflicts)
        s.conflicts.push_back(
            {c.collection, c.row, c.field, c.winner_value, c.winner, c.loser_value, c.loser});
    std::sort(s.conflicts.begin(), s.conflicts.end(), conflict_less);
    return s;
}

// Human-readable differences between two snapshots; empty when they are identical.
std::string diff_states(const State& a, const State& b) {
    constexpr std::size_t kMaxShown = 8;
    std::ostringstream out;
    std::size_t found = 0;
    auto note = [&](const std::string& line) {
        if (found++ < kMaxShown) out << line << "\n";
    };
    for (const auto& [key, state] : a.records) {
        auto it = b.records.find(key);
        if (it == b.records.end())
            note("record only in the first: " + describe(key, state));
        else if (!(it->second == state))
            note("record differs:\n  first:  " + describe(key, state) +
                 "\n  second: " + describe(key, it->second));
    }
    for (const auto& [key, state] : b.records)
        if (!a.records.count(key)) note("record only in the second: " + describe(key, state));
    for (const auto& c : a.conflicts)
        if (std::find(b.conflicts.begin(), b.conflicts.end(), c) == b.conflicts.end())
            note("conflict only in the first: " + describe(c));
    for (const auto& c : b.conflicts)
        if (std::find(a.conflicts.begin(), a.conflicts.end(), c) == a.conflicts.end())
            note("conflict only in the second: " + describe(c));
    if (found == 0 && a.conflicts != b.conflicts) note("the same conflicts, listed differently");
    if (found > kMaxShown) out << "... and " << (found - kMaxShown) << " more differences\n";
    return out.str();
}

// ------------------------------------------------------------------------------------------
// What the transactions themselves say the converged state must be.

using FieldKey = std::tuple<std::string, ms::Uuid, std::string>;  // collection, row, field

struct Write {
    ms::Stamp stamp;
    const ms::Change* change;
};

// Checks a converged state against the full set of transactions:
//  - each record's fields, deletion and stamps are the per-field last writer by stamp;
//  - each conflict's winner is the field's current value and its loser a value that was written;
//  - nothing is dropped silently: every value that no later write replaced on purpose (a `prev`
//    or `resolves` naming it) and that is not the winner is kept as a conflict, unless it equals
//    the winner's value.
// Returns a description of the problems found; empty when there are none.
std::string check_against_transactions(const State& state,
                                       const std::vector<ms::Transaction>& txns) {
    std::map<FieldKey, std::vector<Write>> history;
    std::map<FieldKey, std::set<ms::Stamp>> replaced;
    for (const auto& t : txns) {
        for (const auto& c : t.changes) {
            FieldKey key{c.collection, c.row, c.field};
            history[key].push_back({t.stamp, &c});
            if (!c.prev.is_zero()) replaced[key].insert(c.prev);
            replaced[key].insert(c.resolves.begin(), c.resolves.end());
        }
    }

    constexpr std::size_t kMaxShown = 8;
    std::ostringstream out;
    std::size_t found = 0;
    auto note = [&](const std::string& line) {
        if (found++ < kMaxShown) out << line << "\n";
    };
    auto field_name = [](const FieldKey& k) {
        return std::get<0>(k) + "/" + std::get<1>(k).to_string() + "." + std::get<2>(k);
    };

    // The winner of each field, and the records they make.
    std::map<FieldKey, const Write*> winners;
    std::map<RecordKey, RecordState> expected;
    for (const auto& [key, writes] : history) {
        const Write* w = &writes.front();
        std::set<ms::Stamp> stamps;
        for (const auto& x : writes) {
            if (!stamps.insert(x.stamp).second)
                note("transaction " + x.stamp.to_string() + " changes " + field_name(key) +
                     " twice");
            if (w->stamp < x.stamp) w = &x;
        }
        winners[key] = w;
        RecordState& r = expected[{std::get<0>(key), std::get<1>(key)}];
        const std::string& field = std::get<2>(key);
        const ms::Value& v = w->change->value;
        r.stamps[field] = w->stamp;
        if (field == ms::kDeletedField)
            r.deleted = v.is_bool() && v.as_bool();
        else if (!v.is_null())
            r.fields[field] = v;
    }

    for (const auto& [key, want] : expected) {
        auto it = state.records.find(key);
        std::string name = key.first + "/" + key.second.to_string();
        if (it == state.records.end()) {
            note("record missing: " + name);
            continue;
        }
        const RecordState& got = it->second;
        if (got.deleted != want.deleted)
            note(name + ": deleted is " + (got.deleted ? "true" : "false") +
                 ", the last write says " + (want.deleted ? "true" : "false"));
        if (got.fields != want.fields) {
            RecordState shown = want;
            shown.updated = got.updated;
            note(name + ": fields are not the last writes:\n  held:     " + describe(key, got) +
                 "\n  expected: " + describe(key, shown));
        }
        for (const auto& [field, stamp] : got.stamps) {
            auto w = want.stamps.find(field);
            if (w == want.stamps.end())
                note(name + ": a stamp for " + field + ", which no transaction wrote");
            else if (w->second != stamp)
                note(name + "." + field + ": stamp " + stamp.to_string() + ", the last write is " +
                     w->second.to_string());
        }
        for (const auto& [field, value] : want.fields)
            if (!got.stamps.count(field)) note(name + "." + field + ": no stamp");
    }
    for (const auto& [key, got] : state.records)
        if (!expected.count(key)) note("a record no transaction wrote: " + describe(key, got));

    // Conflicts agree with the history.
    std::set<std::pair<FieldKey, ms::Stamp>> open;
    for (const auto& c : state.conflicts) {
        FieldKey key{c.collection, c.row, c.field};
        open.insert({key, c.loser});
        auto h = history.find(key);
        if (h == history.end()) {
            note("a conflict on a field no transaction wrote: " + describe(c));
            continue;
        }
        const Write* w = winners[key];
        if (c.winner != w->stamp || !(c.winner_value == w->change->value))
            note("conflict winner is not the current value " + w->change->value.to_display() + "@" +
                 w->stamp.to_string() + ": " + describe(c));
        auto loser = std::find_if(h->second.begin(), h->second.end(),
                                  [&](const Write& x) { return x.stamp == c.loser; });
        if (loser == h->second.end())
            note("conflict loser was never written to that field: " + describe(c));
        else if (!(loser->change->value == c.loser_value))
            note("conflict loser value differs from the write " +
                 loser->change->value.to_display() + ": " + describe(c));
        if (!(c.loser < c.winner))
            note("conflict loser is not older than its winner: " + describe(c));
    }
    for (const auto& [key, writes] : history) {
        const Write* w = winners[key];
        const auto& gone = replaced[key];
        for (const auto& x : writes) {
            if (x.stamp == w->stamp || gone.count(x.stamp)) continue;
            if (x.change->value == w->change->value) continue;
            if (!open.count({key, x.stamp}))
                note(field_name(key) + ": the concurrent value " + x.change->value.to_display() +
                     "@" + x.stamp.to_string() + " lost to " + w->change->value.to_display() + "@" +
                     w->stamp.to_string() + " without a conflict");
        }
    }
    if (found > kMaxShown) out << "... and " << (found - kMaxShown) << " more problems\n";
    return out.str();
}

// ------------------------------------------------------------------------------------------
// Small helpers for the deterministic tests.

// Local transactions not yet handed on, acknowledged as sent.
std::vector<ms::Transaction> take_pending(ms::Replica& r) {
    auto pending = r.pending(1u << 20);
    REQUIRE(pending.ok());
    std::vector<ms::Stamp> stamps;
    for (const auto& t : *pending)
        stamps.push_back(t.stamp);
    REQUIRE(r.acknowledge(stamps).ok());
    return std::move(pending).value();
}

ms::ApplyReport apply_all(ms::Replica& r, const std::vector<ms::Transaction>& txns) {
    auto report = r.apply_remote(txns);
    INFO("apply_remote: " << report.status().to_string());
    REQUIRE(report.ok());
    for (const auto& rejection : report->rejected)
        FAIL_CHECK("rejected " << rejection.stamp.to_string() << ": "
                               << rejection.reason.to_string());
    REQUIRE(report->rejected.empty());
    REQUIRE(report->quarantined == 0);
    REQUIRE(report->applied + report->duplicates == txns.size());
    return std::move(report).value();
}

void require_same(const State& a, const State& b) {
    std::string diff = diff_states(a, b);
    INFO(diff);
    REQUIRE(diff.empty());
}

// Checks the replica's queries against a snapshot of it: without include_deleted a query returns
// exactly the live records, and a query by learner (the plaintext learner index) exactly the
// records that name that learner. Returns a description of the problems; empty when none.
std::string check_queries(const ms::Replica& replica, const State& state) {
    std::ostringstream out;
    std::map<std::string, std::set<ms::Uuid>> live;
    std::map<std::pair<std::string, std::string>, std::set<ms::Uuid>> by_learner;
    for (const auto& [key, rec] : state.records) {
        if (!rec.deleted) live[key.first].insert(key.second);
        const ms::CollectionDef& c = collection_def(key.first);
        if (c.learner_field.empty()) continue;
        auto it = rec.fields.find(c.learner_field);
        if (it != rec.fields.end() && it->second.is_string())
            by_learner[{key.first, it->second.as_string()}].insert(key.second);
    }
    auto ids = [&](const ms::Query& q) {
        std::set<ms::Uuid> found;
        auto records = replica.query(q);
        if (!records.ok()) {
            out << "query " << q.collection << ": " << records.status().to_string() << "\n";
            return found;
        }
        for (const auto& r : *records)
            found.insert(r.id);
        return found;
    };
    for (const auto& c : ms::Schema::programme().collections()) {
        ms::Query q;
        q.collection = c.name;
        if (ids(q) != live[c.name])
            out << "the live records of " << c.name << " are not those the snapshot shows\n";
    }
    for (const auto& [key, want] : by_learner) {
        ms::Query q;
        q.collection = key.first;
        q.ref = ms::Uuid::parse(key.second);
        q.include_deleted = true;
        if (ids(q) != want)
            out << "a query of " << key.first << " by learner " << key.second
                << " does not find exactly the records naming that learner\n";
    }
    return out.str();
}

void require_ok(const ms::Status& status, const char* what) {
    INFO(what << ": " << status.to_string());
    REQUIRE(status.ok());
}

// ------------------------------------------------------------------------------------------
// The randomised network.

struct Profile {
    std::size_t replicas;
    int min_writes;
    int max_writes;
    // Replica 1's clock runs far ahead now and then (an hour to ten years), then is set right
    // again; a push then meets the server's rule: a transaction stamped more than five minutes
    // ahead is refused and re-dated (Replica::restamp_refused) before it is sent.
    bool fast_episodes = false;
};

constexpr Profile kQuick{5, 60, 130};
constexpr Profile kLong{6, 100, 280};
constexpr Profile kFastQuick{5, 60, 130, true};
constexpr Profile kFastLong{6, 100, 280, true};

struct Totals {
    std::size_t seeds = 0;
    std::size_t writes = 0;
    std::size_t transactions = 0;
    std::size_t deliveries = 0;
    std::size_t duplicates = 0;
    std::size_t conflicts_opened = 0;
    std::size_t resolutions = 0;
    std::size_t removes = 0;
    std::size_t restores = 0;
    std::size_t final_conflicts = 0;
    std::size_t redated = 0;  // transactions re-dated after their clock ran ahead
};

struct Row {
    std::string collection;
    ms::Uuid id;
};

class Simulation {
  public:
    Simulation(std::uint64_t seed, const Profile& profile, Totals& totals)
        : rng_(seed),
          totals_(totals),
          clock_(std::make_shared<ms::ManualClock>(kStartMs)),
          slow_clock_(std::make_shared<ms::ManualClock>(kStartMs)),
          fast_clock_(std::make_shared<ms::ManualClock>(kStartMs)),
          fast_episodes_(profile.fast_episodes),
          trace_(std::getenv("MENTORSYNC_TRACE") != nullptr) {
        // Replica 0 runs slow by an odd number of milliseconds, up to four minutes: honest
        // (well within the five-minute quarantine limit) but far enough behind that its stamps
        // come from folding in remote stamps as often as from its wall clock.
        switch (rng_.below(3)) {
            case 0:
                slow_by_ = 1 + 2 * static_cast<std::int64_t>(rng_.below(5));
                break;
            case 1:
                slow_by_ = 1 + 2 * static_cast<std::int64_t>(rng_.below(1000));
                break;
            default:
                slow_by_ = 1 + 2 * static_cast<std::int64_t>(rng_.below(120'000));
                break;
        }
        slow_clock_->set(clock_->now_ms() - slow_by_);
        for (std::size_t i = 0; i < profile.replicas; ++i)
            replicas_.push_back(
                mstest::open_replica(path(i), "correct horse battery", clock_of(i)));
        has_.resize(profile.replicas);
        held_.resize(profile.replicas);
        inbox_.resize(profile.replicas);
        committed_.resize(profile.replicas);
        target_writes_ = static_cast<int>(rng_.between(profile.min_writes, profile.max_writes));
        trace("seed " + std::to_string(seed) + ": " + std::to_string(profile.replicas) +
              " replicas, " + std::to_string(target_writes_) + " writes, replica 0 slow by " +
              std::to_string(slow_by_) + " ms");
    }

    void run() {
        int writes = 0;
        for (int step = 0; writes < target_writes_ && step < 8 * target_writes_; ++step) {
            tick();
            if (fast_episodes_ && rng_.percent(3)) toggle_fast();
            const std::size_t r = rng_.below(replicas_.size());
            const std::size_t roll = rng_.below(100);
            if (roll < 55) {
                if (write(r)) ++writes;
            } else if (roll < 71) {
                push(r);
            } else if (roll < 92) {
                deliver(r);
            } else if (roll < 97) {
                relay(r);
            } else if (roll < 99) {
                lose(r);
            } else {
                reopen(r);
            }
        }
        totals_.writes += static_cast<std::size_t>(writes);
        final_exchange();
        check_converged();
        ++totals_.seeds;
    }

  private:
    // The shared wall clock moves 2, 4 or 6 ms per step and is always even; replica 0's clock
    // trails it by an odd amount. So the other replicas stamp every transaction from their wall
    // clock, each with an hlc no other transaction has; replica 0 stamps either from its odd
    // wall clock or, when behind, with a counter above a remote stamp's (which, coming from the
    // other replicas, always have counter 0). No two replicas ever issue the same hlc, so no
    // winner ever depends on the random node ids and a seed replays exactly.
    void tick() {
        clock_->advance(2 * rng_.between(1, 3));
        slow_clock_->set(clock_->now_ms() - slow_by_);
        fast_clock_->set(clock_->now_ms() + fast_by_);
    }

    std::shared_ptr<const ms::WallClock> clock_of(std::size_t r) const {
        if (r == 0) return slow_clock_;
        if (r == 1 && fast_episodes_) return fast_clock_;
        return clock_;
    }

    // Replica 1's clock jumps an even number of milliseconds ahead (so its stamps stay unique
    // as the tick scheme needs), from an hour to ten years, or is set right again.
    void toggle_fast() {
        if (fast_by_ == 0) {
            const std::int64_t hours = rng_.percent(50) ? 1 + rng_.between(0, 48) : 87'600;
            fast_by_ = hours * 3'600'000;
        } else {
            fast_by_ = 0;
        }
        fast_clock_->set(clock_->now_ms() + fast_by_);
        trace("r1's clock is now " + std::to_string(fast_by_) + " ms ahead");
    }

    // What a push meets at the server: transactions stamped more than five minutes ahead of its
    // clock (the shared clock) are refused and re-dated at once, as SyncSession does. Returns
    // false while r's own clock is that far ahead: then every request is refused.
    bool redate_refused(std::size_t r) {
        const std::int64_t now = clock_->now_ms();
        if (r == 1 && fast_by_ > ms::kMaxClockSkewMs) return false;
        auto pending = replicas_[r]->pending(1u << 20);
        REQUIRE(pending.ok());
        std::vector<ms::Stamp> refused;
        for (const auto& t : *pending)
            if (static_cast<std::int64_t>(t.stamp.millis()) > now + ms::kMaxClockSkewMs)
                refused.push_back(t.stamp);
        if (refused.empty()) return true;
        auto rep = replicas_[r]->restamp_refused(refused, now);
        INFO("restamp_refused on replica " << r << ": " << rep.status().to_string());
        REQUIRE(rep.ok());
        for (const auto& [old_stamp, new_stamp] : rep->moved)
            for (auto& c : committed_[r])
                if (c == old_stamp) c = new_stamp;
        totals_.redated += rep->moved.size();
        trace("r" + std::to_string(r) + " re-dated " + std::to_string(rep->moved.size()) +
              ", kept " + std::to_string(rep->kept.size()));
        return true;
    }

    void trace(const std::string& line) {
        if (trace_) std::cerr << "[" << clock_->now_ms() - kStartMs << "] " << line << "\n";
    }
    static std::string name(const Row& row) { return row.collection + "/" + row.id.to_string(); }

    // --- local writes (each commits at most one transaction) -------------------------------

    bool write(std::size_t r) {
        if (rows_by_collection_["learners"].empty()) return create(r, "learners");
        const std::size_t roll = rng_.below(100);
        if (roll < 7) return create(r, "learners");
        if (roll < 16) return create(r, "contacts");
        if (roll < 24) return create(r, "absences");
        if (roll < 26) return create(r, rng_.pick(other_collections_));
        if (roll < 62) return edit(r, true);
        if (roll < 70) return edit(r, false);
        if (roll < 75) return batch(r);
        if (roll < 82) return remove(r);
        if (roll < 88) return restore(r);
        return resolve(r);
    }

    std::optional<ms::Record> held(std::size_t r, const Row& row) {
        auto rec = replicas_[r]->get(row.collection, row.id);
        if (rec.ok()) {
            INFO("get " << name(row) << " returned a record of " << rec->collection);
            REQUIRE(rec->collection == row.collection);
            REQUIRE(rec->id == row.id);
            return std::move(rec).value();
        }
        INFO("get " << name(row) << ": " << rec.status().to_string());
        REQUIRE(rec.status().code() == ms::Code::not_found);
        return std::nullopt;
    }

    // A row replica r holds, in the given deletion state. Hot rows are the first three of the
    // learners, contacts and absences: most edits go there, so concurrent edits are common.
    std::optional<std::pair<Row, ms::Record>> pick_row(std::size_t r, bool hot, bool deleted) {
        for (int attempt = 0; attempt < 6; ++attempt) {
            std::size_t index = 0;
            if (hot) {
                const auto& list = rows_by_collection_[rng_.pick(hot_collections_)];
                if (list.empty()) continue;
                index = list[rng_.below(std::min<std::size_t>(3, list.size()))];
            } else {
                index = rng_.below(rows_.size());
            }
            const Row& row = rows_[index];
            if (auto rec = held(r, row); rec && rec->deleted == deleted)
                return std::make_pair(row, *rec);
        }
        return std::nullopt;
    }

    // Replica r holds a live learner to hang a new record off.
    std::optional<ms::Uuid> pick_learner(std::size_t r) {
        const auto& learners = rows_by_collection_["learners"];
        for (int attempt = 0; attempt < 4 && !learners.empty(); ++attempt) {
            std::size_t i = rng_.percent(50) ? rng_.below(std::min<std::size_t>(3, learners.size()))
                                             : rng_.below(learners.size());
            const Row& row = rows_[learners[i]];
            if (auto rec = held(r, row); rec && !rec->deleted) return row.id;
        }
        return std::nullopt;
    }

    void add_row(const std::string& collection, const ms::Uuid& id) {
        rows_by_collection_[collection].push_back(rows_.size());
        rows_.push_back({collection, id});
    }

    ms::Stamp commit(std::size_t r, const ms::WriteBatch& batch) {
        auto result = replicas_[r]->commit(batch);
        INFO("commit on replica " << r << ": " << result.status().to_string());
        REQUIRE(result.ok());
        committed_[r].push_back(result->stamp);
        return result->stamp;
    }

    // Read-your-writes: a local commit's values are current right after it.
    void expect_written(std::size_t r, const Row& row, const ms::Fields& changes,
                        std::optional<ms::Stamp> stamp) {
        auto rec = held(r, row);
        INFO("replica " << r << " lost its own write to " << name(row));
        REQUIRE(rec.has_value());
        std::string lost;
        for (const auto& [field, value] : changes) {
            auto it = rec->fields.find(field);
            auto s = rec->stamps.find(field);
            std::string held_value = it == rec->fields.end() ? "nothing" : it->second.to_display();
            std::string held_stamp = s == rec->stamps.end() ? "no stamp" : s->second.to_string();
            bool ok = value.is_null()
                          ? it == rec->fields.end()
                          : it != rec->fields.end() && it->second == value &&
                                (!stamp || (s != rec->stamps.end() && s->second == *stamp));
            if (!ok)
                lost += "  " + field + " written as " + value.to_display() +
                        (stamp ? "@" + stamp->to_string() : "") + ", holds " + held_value + "@" +
                        held_stamp + "\n";
        }
        INFO("right after commit:\n" << lost);
        REQUIRE(lost.empty());
    }

    bool create(std::size_t r, const std::string& collection) {
        const ms::CollectionDef& c = collection_def(collection);
        std::optional<ms::Uuid> learner;
        if (!c.learner_field.empty()) {
            learner = pick_learner(r);
            if (!learner) return false;
        }
        Row row{collection, rng_.uuid()};
        ms::Fields fields = random_record(rng_, c, learner ? &*learner : nullptr);
        ms::WriteBatch batch;
        batch.create_with_id(collection, row.id, fields);
        ms::Stamp stamp = commit(r, batch);
        add_row(collection, row.id);
        trace("r" + std::to_string(r) + " create " + name(row) + " @" + stamp.to_string());
        expect_written(r, row, fields, stamp);
        return true;
    }

    ms::Fields random_changes(const Row& row, bool hot) {
        const ms::CollectionDef& c = collection_def(row.collection);
        std::vector<const ms::FieldDef*> editable;
        if (hot) {
            for (const auto& field : hot_fields_.at(row.collection))
                editable.push_back(c.field(field));
        } else {
            for (const auto& f : c.fields)
                if (f.name != c.learner_field) editable.push_back(&f);
        }
        rng_.shuffle(editable);
        std::size_t n = hot ? (rng_.percent(75) ? 1 : 2) : 1 + rng_.below(3);
        ms::Fields changes;
        for (std::size_t i = 0; i < n && i < editable.size(); ++i)
            changes[editable[i]->name] = random_value(rng_, *editable[i]);
        return changes;
    }

    bool edit(std::size_t r, bool hot) {
        auto picked = pick_row(r, hot, false);
        if (!picked) return hot && rng_.percent(50) ? restore(r) : false;
        const Row& row = picked->first;
        ms::Fields changes = random_changes(row, hot);
        std::optional<ms::Stamp> stamp;
        if (rng_.percent(50)) {
            require_ok(replicas_[r]->update(row.collection, row.id, changes), "update");
            committed_[r].push_back({});  // stamp unknown; counted for the final check
        } else {
            ms::WriteBatch batch;
            batch.update(row.collection, row.id, changes);
            stamp = commit(r, batch);
        }
        std::string what;
        for (const auto& [field, value] : changes)
            what += " " + field + "=" + value.to_display();
        trace("r" + std::to_string(r) + " edit " + name(row) + what);
        expect_written(r, row, changes, stamp);
        return true;
    }

    // Several ops in one transaction: a learner and an absence of it, or edits of two rows, or an
    // edit of one row and the removal of another.
    bool batch(std::size_t r) {
        ms::WriteBatch batch;
        std::vector<std::pair<Row, ms::Fields>> written;
        std::optional<Row> removed;
        const std::size_t kind = rng_.below(3);
        if (kind == 0) {
            Row learner{"learners", rng_.uuid()};
            Row absence{"absences", rng_.uuid()};
            ms::Fields lf = random_record(rng_, collection_def("learners"), nullptr);
            ms::Fields af = random_record(rng_, collection_def("absences"), &learner.id);
            batch.create_with_id(learner.collection, learner.id, lf);
            batch.create_with_id(absence.collection, absence.id, af);
            ms::Stamp stamp = commit(r, batch);
            add_row(learner.collection, learner.id);
            add_row(absence.collection, absence.id);
            trace("r" + std::to_string(r) + " batch create " + name(learner) + " + " +
                  name(absence));
            expect_written(r, learner, lf, stamp);
            expect_written(r, absence, af, stamp);
            return true;
        }
        auto first = pick_row(r, true, false);
        auto second = pick_row(r, rng_.percent(50), false);
        if (!first || !second || first->first.id == second->first.id) return false;
        ms::Fields changes = random_changes(first->first, true);
        batch.update(first->first.collection, first->first.id, changes);
        written.push_back({first->first, changes});
        if (kind == 1) {
            ms::Fields more = random_changes(second->first, false);
            batch.update(second->first.collection, second->first.id, more);
            written.push_back({second->first, more});
        } else {
            batch.remove(second->first.collection, second->first.id);
            removed = second->first;
        }
        ms::Stamp stamp = commit(r, batch);
        trace("r" + std::to_string(r) + " batch " + (kind == 1 ? "edit " : "edit+remove ") +
              name(first->first) + ", " + name(second->first));
        for (const auto& [row, fields] : written)
            expect_written(r, row, fields, stamp);
        if (removed) {
            auto rec = held(r, *removed);
            REQUIRE(rec.has_value());
            REQUIRE(rec->deleted);
            ++totals_.removes;
        }
        return true;
    }

    bool remove(std::size_t r) {
        auto picked = pick_row(r, rng_.percent(70), false);
        if (!picked) return false;
        const Row& row = picked->first;
        if (rng_.percent(50)) {
            require_ok(replicas_[r]->remove(row.collection, row.id), "remove");
            committed_[r].push_back({});
        } else {
            ms::WriteBatch batch;
            batch.remove(row.collection, row.id);
            commit(r, batch);
        }
        trace("r" + std::to_string(r) + " remove " + name(row));
        auto rec = held(r, row);
        REQUIRE(rec.has_value());
        REQUIRE(rec->deleted);
        ++totals_.removes;
        return true;
    }

    bool restore(std::size_t r) {
        auto picked = pick_row(r, rng_.percent(70), true);
        if (!picked) return false;
        const Row& row = picked->first;
        if (rng_.percent(50)) {
            require_ok(replicas_[r]->restore(row.collection, row.id), "restore");
            committed_[r].push_back({});
        } else {
            ms::WriteBatch batch;
            batch.restore(row.collection, row.id);
            commit(r, batch);
        }
        trace("r" + std::to_string(r) + " restore " + name(row));
        auto rec = held(r, row);
        REQUIRE(rec.has_value());
        REQUIRE_FALSE(rec->deleted);
        ++totals_.restores;
        return true;
    }

    bool resolve(std::size_t r) {
        auto conflicts = replicas_[r]->conflicts();
        INFO("conflicts: " << conflicts.status().to_string());
        REQUIRE(conflicts.ok());
        if (conflicts->empty()) return false;
        const ms::Conflict c = rng_.pick(*conflicts);
        auto how = static_cast<ms::Resolution>(rng_.below(3));
        ms::Value custom;
        if (how == ms::Resolution::custom) {
            const ms::FieldDef* f = collection_def(c.collection).field(c.field);
            if (f)
                custom = random_value(rng_, *f);
            else
                how = ms::Resolution::take_loser;  // `_deleted` takes no custom value
        }
        static const char* const kHow[] = {"keep_winner", "take_loser", "custom"};
        trace("r" + std::to_string(r) + " resolve " + c.collection + "/" + c.row.to_string() + "." +
              c.field + " loser " + c.loser.to_string() + " " + kHow[static_cast<int>(how)] +
              (how == ms::Resolution::custom ? " " + custom.to_display() : ""));
        auto stamp = replicas_[r]->resolve_conflict(c.row, c.field, c.loser, how, custom);
        INFO("resolve_conflict " << c.collection << "/" << c.row.to_string() << "." << c.field
                                 << " as " << kHow[static_cast<int>(how)] << ": "
                                 << stamp.status().to_string());
        REQUIRE(stamp.ok());
        committed_[r].push_back(*stamp);
        ++totals_.resolutions;

        // The chosen value is current and that conflict is closed.
        const ms::Value& chosen = how == ms::Resolution::keep_winner  ? c.winner_value
                                  : how == ms::Resolution::take_loser ? c.loser_value
                                                                      : custom;
        Row row{c.collection, c.row};
        if (c.field == ms::kDeletedField) {
            auto rec = held(r, row);
            REQUIRE(rec.has_value());
            REQUIRE(rec->deleted == (chosen.is_bool() && chosen.as_bool()));
        } else {
            expect_written(r, row, ms::Fields{{c.field, chosen}}, *stamp);
        }
        auto after = replicas_[r]->conflicts(c.row);
        REQUIRE(after.ok());
        for (const auto& left : *after) {
            INFO("the resolved conflict is still open");
            REQUIRE_FALSE((left.field == c.field && left.loser == c.loser));
        }
        return true;
    }

    // --- the network -----------------------------------------------------------------------

    // Records a transaction seen leaving its replica; returns its index.
    std::size_t register_txn(const ms::Transaction& txn, std::size_t origin) {
        auto it = index_.find(txn.stamp);
        if (it != index_.end()) {
            INFO("a re-sent transaction " << txn.stamp.to_string() << " changed");
            REQUIRE(txns_[it->second] == txn);
            REQUIRE(origin_[it->second] == origin);
            return it->second;
        }
        std::size_t t = txns_.size();
        txns_.push_back(txn);
        origin_.push_back(origin);
        index_.emplace(txn.stamp, t);
        for (auto& h : has_)
            h.push_back(0);
        has_[origin][t] = 1;
        held_[origin].push_back(t);
        ++totals_.transactions;
        return t;
    }

    // Takes a few of replica r's unacknowledged transactions and sends each to every other
    // replica, sometimes twice, sometimes not at all; then acknowledges all, some or none of them
    // (the rest come out of pending() again later: retries).
    void push(std::size_t r) {
        if (fast_episodes_ && !redate_refused(r)) return;
        auto pending = replicas_[r]->pending(1 + rng_.below(8));
        INFO("pending: " << pending.status().to_string());
        REQUIRE(pending.ok());
        std::vector<ms::Stamp> ack;
        for (std::size_t i = 0; i < pending->size(); ++i) {
            const ms::Transaction& txn = (*pending)[i];
            // Still too far ahead after re-dating: it waits (it and everything after it).
            if (fast_episodes_ && static_cast<std::int64_t>(txn.stamp.millis()) >
                                      clock_->now_ms() + ms::kMaxClockSkewMs)
                break;
            INFO("replica " << r << " lists a transaction of another node as pending");
            REQUIRE(txn.stamp.node == replicas_[r]->node());
            if (i > 0) REQUIRE((*pending)[i - 1].stamp < txn.stamp);
            std::size_t t = register_txn(txn, r);
            for (std::size_t d = 0; d < replicas_.size(); ++d) {
                if (d == r) continue;
                std::size_t roll = rng_.below(100);
                if (roll < 10) continue;  // lost on the way
                inbox_[d].push_back(t);
                if (roll < 20) inbox_[d].push_back(t);  // duplicated
            }
            std::size_t roll = rng_.below(100);
            if (roll < 85 && (roll < 70 || rng_.percent(50))) ack.push_back(txn.stamp);
        }
        if (!pending->empty())
            trace("r" + std::to_string(r) + " push " + std::to_string(pending->size()) + ", ack " +
                  std::to_string(ack.size()));
        if (!ack.empty()) require_ok(replicas_[r]->acknowledge(ack), "acknowledge");
    }

    // Hands a few transactions to replica r: for each transaction, whether it is new to r
    // decides whether the report must count it as applied or as a duplicate.
    void apply_batch(std::size_t r, const std::vector<std::size_t>& batch) {
        std::vector<ms::Transaction> txns;
        std::size_t fresh = 0;
        for (std::size_t t : batch) {
            txns.push_back(txns_[t]);
            if (!has_[r][t]) {
                has_[r][t] = 1;
                held_[r].push_back(t);
                ++fresh;
            }
        }
        auto report = replicas_[r]->apply_remote(txns);
        INFO("apply_remote on replica " << r << ": " << report.status().to_string());
        REQUIRE(report.ok());
        std::string rejected;
        for (const auto& x : report->rejected)
            rejected += x.stamp.to_string() + ": " + x.reason.to_string() + "\n";
        INFO("rejected:\n" << rejected);
        REQUIRE(report->rejected.empty());
        REQUIRE(report->quarantined == 0);
        INFO("a batch of " << batch.size() << " transactions, " << fresh << " new to replica "
                           << r);
        REQUIRE(report->applied == fresh);
        REQUIRE(report->duplicates == batch.size() - fresh);
        totals_.deliveries += batch.size();
        totals_.duplicates += report->duplicates;
        totals_.conflicts_opened += report->conflicts_opened;
    }

    // Delivers a small batch of r's inbox, picked at random (reordering); sometimes the batch is
    // lost instead.
    void deliver(std::size_t r) {
        auto& inbox = inbox_[r];
        if (inbox.empty()) return;
        std::size_t n = std::min<std::size_t>(inbox.size(), 1 + rng_.below(6));
        std::vector<std::size_t> batch;
        for (std::size_t i = 0; i < n; ++i) {
            std::size_t at = rng_.below(inbox.size());
            batch.push_back(inbox[at]);
            inbox[at] = inbox.back();
            inbox.pop_back();
        }
        if (rng_.percent(5)) {
            trace("r" + std::to_string(r) + " lost a batch of " + std::to_string(n));
            return;
        }
        trace("r" + std::to_string(r) + " apply " + std::to_string(n));
        apply_batch(r, batch);
    }

    // Replica r forwards a few transactions it holds (its own or received) to another replica.
    void relay(std::size_t r) {
        if (held_[r].empty() || replicas_.size() < 2) return;
        std::size_t d = rng_.below(replicas_.size() - 1);
        if (d >= r) ++d;
        std::size_t n = 1 + rng_.below(4);
        for (std::size_t i = 0; i < n; ++i)
            inbox_[d].push_back(rng_.pick(held_[r]));
        trace("r" + std::to_string(r) + " relays " + std::to_string(n) + " to r" +
              std::to_string(d));
    }

    // A queued message disappears.
    void lose(std::size_t r) {
        auto& inbox = inbox_[r];
        if (inbox.empty()) return;
        std::size_t at = rng_.below(inbox.size());
        inbox[at] = inbox.back();
        inbox.pop_back();
    }

    // The app restarts: the replica is closed and opened again from its file.
    void reopen(std::size_t r) {
        trace("r" + std::to_string(r) + " reopens");
        replicas_[r].reset();
        replicas_[r] = mstest::open_replica(path(r), "correct horse battery", clock_of(r));
    }

    std::string path(std::size_t r) const { return dir_.file("replica-" + std::to_string(r)); }

    // Every transaction ever made reaches every replica, in a random order and random batches
    // (those a replica already holds arrive again as duplicates).
    void final_exchange() {
        if (fast_episodes_) {
            // Every clock is right at the end; what was stamped ahead is re-dated and sent.
            fast_by_ = 0;
            fast_clock_->set(clock_->now_ms());
            for (std::size_t r = 0; r < replicas_.size(); ++r)
                REQUIRE(redate_refused(r));
        }
        for (std::size_t r = 0; r < replicas_.size(); ++r) {
            auto pending = replicas_[r]->pending(1u << 20);
            REQUIRE(pending.ok());
            for (const auto& txn : *pending) {
                INFO("replica " << r << " still holds " << txn.stamp.to_string()
                                << ", stamped more than five minutes ahead, after re-dating");
                REQUIRE(static_cast<std::int64_t>(txn.stamp.millis()) <=
                        clock_->now_ms() + ms::kMaxClockSkewMs);
                register_txn(txn, r);
            }
        }
        // Every commit left its replica as a transaction.
        for (std::size_t r = 0; r < replicas_.size(); ++r) {
            std::size_t produced = 0;
            for (std::size_t t = 0; t < txns_.size(); ++t)
                if (origin_[t] == r) ++produced;
            INFO("replica " << r << " committed " << committed_[r].size()
                            << " transactions; pending() and acknowledge() handed on " << produced);
            REQUIRE(produced == committed_[r].size());
            for (const auto& stamp : committed_[r]) {
                if (stamp.is_zero()) continue;
                INFO("commit " << stamp.to_string() << " never came out of pending()");
                REQUIRE(index_.count(stamp) == 1);
            }
        }
        std::vector<std::size_t> order(replicas_.size());
        for (std::size_t r = 0; r < order.size(); ++r)
            order[r] = r;
        rng_.shuffle(order);
        for (std::size_t r : order) {
            std::vector<std::size_t> all(txns_.size());
            for (std::size_t t = 0; t < all.size(); ++t)
                all[t] = t;
            rng_.shuffle(all);
            for (std::size_t at = 0; at < all.size();) {
                std::size_t n = std::min<std::size_t>(all.size() - at, 1 + rng_.below(24));
                apply_batch(
                    r, std::vector<std::size_t>(all.begin() + static_cast<std::ptrdiff_t>(at),
                                                all.begin() + static_cast<std::ptrdiff_t>(at + n)));
                at += n;
            }
        }
    }

    void check_converged() {
        std::vector<State> states;
        for (const auto& replica : replicas_)
            states.push_back(snapshot(*replica));
        for (std::size_t r = 1; r < states.size(); ++r) {
            std::string diff = diff_states(states[0], states[r]);
            INFO("replica 0 and replica " << r << " differ after the final exchange:\n" << diff);
            REQUIRE(diff.empty());
        }
        std::string problems = check_against_transactions(states[0], txns_);
        INFO("the converged state does not match the transactions:\n" << problems);
        REQUIRE(problems.empty());
        for (std::size_t r = 0; r < replicas_.size(); ++r) {
            auto status = replicas_[r]->status();
            REQUIRE(status.ok());
            INFO("replica " << r);
            REQUIRE(status->quarantined == 0);
            REQUIRE(status->open_conflicts == states[r].conflicts.size());
            auto quarantined = replicas_[r]->quarantined();
            REQUIRE(quarantined.ok());
            REQUIRE(quarantined->empty());
            std::string wrong = check_queries(*replicas_[r], states[r]);
            INFO(wrong);
            REQUIRE(wrong.empty());
        }
        totals_.final_conflicts += states[0].conflicts.size();
        trace("converged: " + std::to_string(states[0].records.size()) + " records, " +
              std::to_string(states[0].conflicts.size()) + " conflicts, " +
              std::to_string(txns_.size()) + " transactions");
    }

    Rng rng_;
    Totals& totals_;
    mstest::TempDir dir_;
    std::shared_ptr<ms::ManualClock> clock_;       // the wall clock of replicas 1..n-1
    std::shared_ptr<ms::ManualClock> slow_clock_;  // replica 0's, slow_by_ behind
    std::int64_t slow_by_ = 0;
    std::shared_ptr<ms::ManualClock> fast_clock_;  // replica 1's with fast episodes
    std::int64_t fast_by_ = 0;
    bool fast_episodes_ = false;
    bool trace_;
    int target_writes_ = 0;
    std::vector<std::unique_ptr<ms::Replica>> replicas_;

    const std::vector<std::string> hot_collections_ = {"learners", "contacts", "absences"};
    const std::vector<std::string> other_collections_ = {
        "assignments", "risk_assessments", "support_plans", "consents", "referrals", "outcomes"};
    // The fields concurrent edits concentrate on.
    const std::map<std::string, std::vector<std::string>> hot_fields_ = {
        {"learners", {"name", "grade", "viis_link"}},
        {"contacts", {"notes", "duration_min", "risk_flag"}},
        {"absences", {"status", "lessons", "justification"}}};

    std::vector<Row> rows_;  // every row created, in creation order
    std::map<std::string, std::vector<std::size_t>> rows_by_collection_;

    std::vector<ms::Transaction> txns_;  // every transaction that left its replica
    std::vector<std::size_t> origin_;    // the replica that wrote txns_[t]
    std::map<ms::Stamp, std::size_t> index_;
    std::vector<std::vector<char>> has_;             // has_[r][t]: replica r holds txns_[t]
    std::vector<std::vector<std::size_t>> held_;     // the t with has_[r][t], for relaying
    std::vector<std::vector<std::size_t>> inbox_;    // messages in flight to each replica
    std::vector<std::vector<ms::Stamp>> committed_;  // local commits (zero: stamp not returned)
};

// The seeds to run: MENTORSYNC_SEED alone when set, else `count` seeds from `first`.
std::vector<std::uint64_t> seeds(std::uint64_t first, std::size_t count) {
    if (const char* env = std::getenv("MENTORSYNC_SEED"); env && *env) {
        char* end = nullptr;
        std::uint64_t seed = std::strtoull(env, &end, 10);
        INFO("MENTORSYNC_SEED must be a decimal number, not '" << env << "'");
        REQUIRE(*end == '\0');
        return {seed};
    }
    std::vector<std::uint64_t> out;
    for (std::size_t i = 0; i < count; ++i)
        out.push_back(first + i);
    return out;
}

Totals run_seeds(const std::vector<std::uint64_t>& list, const Profile& profile) {
    Totals totals;
    const std::string test = Catch::getResultCapture().getCurrentTestName();
    for (std::uint64_t seed : list) {
        INFO("seed " << seed << "; replay it alone with MENTORSYNC_SEED=" << seed
                     << " engine_tests \"" << test << "\" (MENTORSYNC_TRACE=1 prints each step)");
        Simulation(seed, profile, totals).run();
    }
    if (std::getenv("MENTORSYNC_TRACE") || std::getenv("MENTORSYNC_SEED"))
        std::cerr << totals.seeds << " seeds: " << totals.writes << " writes, "
                  << totals.transactions << " transactions, " << totals.deliveries
                  << " deliveries (" << totals.duplicates << " duplicates), "
                  << totals.conflicts_opened << " conflicts opened, " << totals.resolutions
                  << " resolved, " << totals.removes << " removes, " << totals.restores
                  << " restores, " << totals.final_conflicts << " conflicts at the end, "
                  << totals.redated << " re-dated\n";
    return totals;
}

}  // namespace

// ------------------------------------------------------------------------------------------

TEST_CASE("replicas converge when deliveries are reordered or duplicated or dropped",
          "[engine][convergence]") {
    auto list = seeds(1, 50);
    Totals totals = run_seeds(list, kQuick);
    if (list.size() > 1) {
        // The runs exercised what they are meant to.
        CHECK(totals.conflicts_opened > 0);
        CHECK(totals.resolutions > 0);
        CHECK(totals.removes > 0);
        CHECK(totals.restores > 0);
        CHECK(totals.duplicates > 0);
    }
}

TEST_CASE(
    "replicas converge when one replica's clock runs far ahead for a while and its "
    "refused transactions are re-dated",
    "[engine][convergence][restamp]") {
    auto list = seeds(501, 25);
    Totals totals = run_seeds(list, kFastQuick);
    if (list.size() > 1) {
        CHECK(totals.redated > 0);
        CHECK(totals.conflicts_opened > 0);
        CHECK(totals.resolutions > 0);
    }
}

TEST_CASE("replicas converge when one replica's clock runs far ahead for a while over 300 seeds",
          "[engine][convergence][restamp][long]") {
    run_seeds(seeds(2001, 300), kFastLong);
}

TEST_CASE(
    "replicas converge when deliveries are reordered or duplicated or dropped over 1000 seeds",
    "[engine][convergence][long]") {
    run_seeds(seeds(1001, 1000), kLong);
}

TEST_CASE("two replicas that edit one field concurrently agree on the winner and keep one conflict",
          "[engine][convergence]") {
    mstest::TempDir dir;
    auto clock = std::make_shared<ms::ManualClock>(kStartMs);
    auto a = mstest::open_replica(dir.file("a"), "correct horse battery", clock);
    auto b = mstest::open_replica(dir.file("b"), "correct horse battery", clock);

    auto learner = a->create("learners", mstest::learner_fields("Anna Testa"));
    REQUIRE(learner.ok());
    apply_all(*b, take_pending(*a));

    clock->advance(10);
    REQUIRE(a->update("learners", *learner, {{"name", "Anna from A"}}).ok());
    clock->advance(10);
    REQUIRE(b->update("learners", *learner, {{"name", "Anna from B"}}).ok());
    auto from_a = take_pending(*a);
    auto from_b = take_pending(*b);
    REQUIRE(from_a.size() == 1);
    REQUIRE(from_b.size() == 1);
    const ms::Stamp loser = from_a[0].stamp;
    const ms::Stamp winner = from_b[0].stamp;
    REQUIRE(loser < winner);

    CHECK(apply_all(*a, from_b).conflicts_opened == 1);
    CHECK(apply_all(*b, from_a).conflicts_opened == 1);
    // Delivering again changes nothing.
    CHECK(apply_all(*a, from_b).duplicates == 1);
    CHECK(apply_all(*b, from_a).duplicates == 1);

    for (ms::Replica* r : {a.get(), b.get()}) {
        auto rec = r->get("learners", *learner);
        REQUIRE(rec.ok());
        CHECK(rec->fields.at("name") == ms::Value("Anna from B"));
        CHECK(rec->stamps.at("name") == winner);
        auto conflicts = r->conflicts();
        REQUIRE(conflicts.ok());
        REQUIRE(conflicts->size() == 1);
        const ms::Conflict& c = conflicts->front();
        CHECK(c.collection == "learners");
        CHECK(c.row == *learner);
        CHECK(c.field == "name");
        CHECK(c.winner == winner);
        CHECK(c.winner_value == ms::Value("Anna from B"));
        CHECK(c.loser == loser);
        CHECK(c.loser_value == ms::Value("Anna from A"));
    }
    require_same(snapshot(*a), snapshot(*b));
}

TEST_CASE("edits stamped in the same millisecond are ordered by node id", "[engine][convergence]") {
    mstest::TempDir dir;
    auto clock = std::make_shared<ms::ManualClock>(kStartMs);
    auto a = mstest::open_replica(dir.file("a"), "correct horse battery", clock);
    auto b = mstest::open_replica(dir.file("b"), "correct horse battery", clock);

    auto absence = a->create("absences", mstest::absence_fields(ms::Uuid::random()));
    REQUIRE(absence.ok());
    apply_all(*b, take_pending(*a));

    clock->advance(10);  // both write at exactly this reading
    REQUIRE(a->update("absences", *absence, {{"status", "justified"}}).ok());
    REQUIRE(b->update("absences", *absence, {{"status", "unjustified"}, {"lessons", 5}}).ok());
    auto from_a = take_pending(*a);
    auto from_b = take_pending(*b);
    REQUIRE(from_a.size() == 1);
    REQUIRE(from_b.size() == 1);
    REQUIRE(from_a[0].stamp.hlc == from_b[0].stamp.hlc);
    const bool a_wins = b->node() < a->node();
    const ms::Stamp winner = a_wins ? from_a[0].stamp : from_b[0].stamp;
    const ms::Value status = a_wins ? ms::Value("justified") : ms::Value("unjustified");

    apply_all(*a, from_b);
    apply_all(*b, from_a);
    for (ms::Replica* r : {a.get(), b.get()}) {
        auto rec = r->get("absences", *absence);
        REQUIRE(rec.ok());
        CHECK(rec->fields.at("status") == status);
        CHECK(rec->stamps.at("status") == winner);
        CHECK(rec->fields.at("lessons") == ms::Value(5));  // no one else wrote it
        auto conflicts = r->conflicts();
        REQUIRE(conflicts.ok());
        REQUIRE(conflicts->size() == 1);
        CHECK(conflicts->front().field == "status");
        CHECK(conflicts->front().winner == winner);
        CHECK(conflicts->front().loser_value ==
              (a_wins ? ms::Value("unjustified") : ms::Value("justified")));
    }
    require_same(snapshot(*a), snapshot(*b));
}

TEST_CASE("applying the same transactions in different orders gives identical state",
          "[engine][convergence]") {
    mstest::TempDir dir;
    auto clock = std::make_shared<ms::ManualClock>(kStartMs);
    auto a = mstest::open_replica(dir.file("a"), "correct horse battery", clock);
    auto b = mstest::open_replica(dir.file("b"), "correct horse battery", clock);
    auto c = mstest::open_replica(dir.file("c"), "correct horse battery", clock);
    std::vector<ms::Transaction> all;
    auto share = [&](ms::Replica& from) {
        auto txns = take_pending(from);
        for (ms::Replica* to : {a.get(), b.get(), c.get()})
            if (to != &from) apply_all(*to, txns);
        all.insert(all.end(), txns.begin(), txns.end());
    };
    auto step = [&] { clock->advance(7); };

    // A learner with a contact and an absence, known to all three writers.
    auto learner = a->create("learners", mstest::learner_fields("Līga Testa"));
    REQUIRE(learner.ok());
    step();
    auto contact = a->create("contacts", mstest::contact_fields(*learner));
    REQUIRE(contact.ok());
    step();
    auto absence = a->create("absences", mstest::absence_fields(*learner));
    REQUIRE(absence.ok());
    share(*a);

    // Concurrent edits of the same fields, a delete against an edit, and a clear.
    step();
    REQUIRE(a->update("learners", *learner, {{"name", "Līga A"}, {"grade", 9}}).ok());
    step();
    REQUIRE(b->update("learners", *learner, {{"name", "Līga B"}}).ok());
    step();
    REQUIRE(c->update("learners", *learner, {{"grade", 10}, {"viis_link", "VIIS-1"}}).ok());
    step();
    REQUIRE(a->update("contacts", *contact, {{"notes", "notes by A"}, {"duration_min", 30}}).ok());
    step();
    REQUIRE(b->remove("contacts", *contact).ok());
    step();
    REQUIRE(c->update("contacts", *contact, {{"notes", ms::Value()}}).ok());
    step();
    REQUIRE(b->update("absences", *absence, {{"status", "justified"}}).ok());
    step();
    REQUIRE(c->update("absences", *absence, {{"status", "unknown"}, {"lessons", 2}}).ok());
    share(*a);
    share(*b);
    share(*c);

    // After seeing each other: a restore, a resolution, and one more concurrent pair.
    step();
    REQUIRE(a->restore("contacts", *contact).ok());
    step();
    auto open = b->conflicts(*learner);
    REQUIRE(open.ok());
    REQUIRE_FALSE(open->empty());
    REQUIRE(b->resolve_conflict(*learner, open->front().field, open->front().loser,
                                ms::Resolution::take_loser)
                .ok());
    step();
    REQUIRE(c->update("absences", *absence, {{"lessons", 4}}).ok());
    step();
    REQUIRE(a->update("absences", *absence, {{"lessons", 6}}).ok());
    share(*a);
    share(*b);
    share(*c);
    REQUIRE(all.size() == 15);

    // Fresh replicas take the same transactions in order, in reverse (changes to records they
    // have not seen created yet), and interleaved with every transaction twice.
    auto forward = mstest::open_replica(dir.file("forward"), "correct horse battery", clock);
    auto backward = mstest::open_replica(dir.file("backward"), "correct horse battery", clock);
    auto mixed = mstest::open_replica(dir.file("mixed"), "correct horse battery", clock);
    for (const auto& t : all)
        apply_all(*forward, {t});
    std::vector<ms::Transaction> reversed(all.rbegin(), all.rend());
    CHECK(apply_all(*backward, reversed).applied == all.size());
    std::vector<ms::Transaction> interleaved;
    for (std::size_t i = 0; i < all.size(); i += 2)
        interleaved.push_back(all[all.size() - 1 - i]);
    for (std::size_t i = 1; i < all.size(); i += 2)
        interleaved.push_back(all[i]);
    interleaved.insert(interleaved.end(), all.begin(), all.end());
    for (std::size_t i = 0; i < interleaved.size(); i += 3) {
        std::size_t end = std::min(interleaved.size(), i + 3);
        apply_all(*mixed, std::vector<ms::Transaction>(
                              interleaved.begin() + static_cast<std::ptrdiff_t>(i),
                              interleaved.begin() + static_cast<std::ptrdiff_t>(end)));
    }

    State reference = snapshot(*forward);
    CHECK_FALSE(reference.conflicts.empty());
    CHECK(reference.records.size() == 3);
    for (ms::Replica* r : {backward.get(), mixed.get(), a.get(), b.get(), c.get()})
        require_same(reference, snapshot(*r));
    std::string problems = check_against_transactions(reference, all);
    INFO(problems);
    CHECK(problems.empty());
}
