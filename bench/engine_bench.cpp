// engine_bench: what the engine costs on a device, against plain SQLite doing the same writes.
//
// Writes the same synthetic programme records (contacts with ten fields including a 300-byte
// note, absences with six) into plain SQLite tables and through mentorsync::Replica, in one run,
// alternating the two sides round by round so that noise from other work on the machine hits
// both alike. Also measures merging remote transactions, opening a replica with the production
// Argon2id cost, and the process's memory after writing 100,000 records.
//
// stdout: one JSON object per figure and line, {"name", "value", "unit", ...}; nothing else.
// stderr: progress and errors. Exit status 0 on success, 1 on any failure, 2 on bad usage.
// docs/benchmarks.md says what each figure means and how to reproduce it.
#include <sqlite3.h>
#include <stdlib.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <optional>
#include <span>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "mentorsync/replica.h"

#include "bench_util.h"

namespace ms = mentorsync;
namespace fs = std::filesystem;

namespace {

using bench::date_2026;
using bench::Figure;
using bench::json_number;
using bench::json_string;
using bench::kJustifications;
using bench::kPlaces;
using bench::kSources;
using bench::kTopics;
using bench::median;
using bench::note_text;
using bench::Rng;
using bench::two;

// ------------------------------------------------------------------------------------------
// Errors and small helpers

struct BenchError : std::runtime_error {
    using std::runtime_error::runtime_error;
};

void check(const ms::Status& status, std::string_view what) {
    if (!status.ok()) throw BenchError(std::string(what) + ": " + status.to_string());
}

template <typename T>
T take(ms::Result<T> result, std::string_view what) {
    if (!result.ok()) throw BenchError(std::string(what) + ": " + result.status().to_string());
    return std::move(result).value();
}

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
    return std::chrono::duration<double>(Clock::now() - start).count();
}

// ------------------------------------------------------------------------------------------
// Synthetic programme data, deterministic from a seed

struct Contact {
    std::string learner_id, mentor_id, starts_at;
    int duration_min = 0;
    std::string place, form;
    std::vector<std::string> topics;
    std::string notes, follow_up;
    bool risk_flag = false;
};

struct Absence {
    std::string learner_id, date;
    int lessons = 0;
    std::string status, justification, source, parents_contacted;  // empty: not set
};

struct Learner {
    ms::Uuid id;
    std::string name;
    int birth_year = 0;
    std::string school_id, municipality_id;
    int grade = 0;
    std::string education;
};

// A record to write: its id (used by the SQLite side; the engine assigns its own) and content.
struct Rec {
    ms::Uuid id;
    std::variant<Contact, Absence> body;
    bool is_contact() const { return body.index() == 0; }
    const char* collection() const { return is_contact() ? "contacts" : "absences"; }
};

class DataGen {
  public:
    static constexpr std::size_t kLearners = 50;
    static constexpr std::size_t kMentors = 5;
    static constexpr std::size_t kNoteBytes = 300;

    explicit DataGen(std::uint64_t seed) : rng_(seed) {
        Rng fixed(seed ^ 0x5EED5EED5EED5EEDull);  // learners and mentors do not depend on use
        for (std::size_t i = 0; i < kMentors; ++i)
            mentors_.push_back(fixed.uuid().to_string());
        std::string school = fixed.uuid().to_string(), municipality = fixed.uuid().to_string();
        for (std::size_t i = 0; i < kLearners; ++i) {
            Learner l;
            l.id = fixed.uuid();
            l.name = "Learner " + std::to_string(i + 1);
            l.birth_year = fixed.between(2008, 2015);
            l.school_id = school;
            l.municipality_id = municipality;
            l.grade = fixed.between(1, 12);
            l.education = fixed.percent(80) ? "general" : "vocational";
            learners_.push_back(std::move(l));
        }
    }

    const std::vector<Learner>& learners() const { return learners_; }

    // Three contacts to one absence, as a mentor's log roughly has.
    Rec next() {
        Rec r;
        r.id = rng_.uuid();
        const std::string learner = learners_[rng_.below(kLearners)].id.to_string();
        if (count_++ % 4 != 3) {
            Contact c;
            c.learner_id = learner;
            c.mentor_id = rng_.pick(mentors_);
            c.starts_at = date_2026(rng_) + "T" + two(rng_.between(8, 18)) + ":" +
                          two(rng_.between(0, 3) * 15);
            c.duration_min = rng_.between(15, 120);
            c.place = rng_.pick(kPlaces);
            c.form = rng_.percent(85) ? "individual" : "group";
            std::size_t first = rng_.below(kTopics.size()), n = 1 + rng_.below(3);
            for (std::size_t i = 0; i < n; ++i)
                c.topics.push_back(kTopics[(first + i * 3) % kTopics.size()]);
            c.notes = note_text(rng_, kNoteBytes);
            c.follow_up = date_2026(rng_);
            c.risk_flag = rng_.percent(10);
            r.body = std::move(c);
        } else {
            Absence a;
            a.learner_id = learner;
            a.date = date_2026(rng_);
            a.lessons = rng_.between(1, 8);
            static const std::vector<std::string> statuses = {"unknown", "justified",
                                                              "unjustified"};
            a.status = rng_.pick(statuses);
            if (a.status == "justified")
                a.justification = rng_.pick(kJustifications);
            else
                a.parents_contacted = date_2026(rng_);  // keeps six fields either way
            a.source = rng_.pick(kSources);
            r.body = std::move(a);
        }
        return r;
    }

    // A small edit of an existing record, for remote-transaction streams.
    ms::Fields update_for(bool contact) {
        ms::Fields f;
        if (contact) {
            f["duration_min"] = ms::Value(rng_.between(15, 120));
            f["next_steps"] = ms::Value(note_text(rng_, 80));
        } else {
            f["lessons"] = ms::Value(rng_.between(1, 8));
            f["status"] = ms::Value("justified");
            f["justification"] = ms::Value(rng_.pick(kJustifications));
        }
        return f;
    }

  private:
    Rng rng_;
    std::size_t count_ = 0;
    std::vector<std::string> mentors_;
    std::vector<Learner> learners_;
};

ms::Fields to_fields(const Learner& l) {
    ms::Fields f;
    f["name"] = ms::Value(l.name);
    f["birth_year"] = ms::Value(l.birth_year);
    f["school_id"] = ms::Value(l.school_id);
    f["municipality_id"] = ms::Value(l.municipality_id);
    f["grade"] = ms::Value(l.grade);
    f["education"] = ms::Value(l.education);
    return f;
}

ms::Fields to_fields(const Rec& r) {
    ms::Fields f;
    if (const auto* c = std::get_if<Contact>(&r.body)) {
        f["learner_id"] = ms::Value(c->learner_id);
        f["mentor_id"] = ms::Value(c->mentor_id);
        f["starts_at"] = ms::Value(c->starts_at);
        f["duration_min"] = ms::Value(c->duration_min);
        f["place"] = ms::Value(c->place);
        f["form"] = ms::Value(c->form);
        ms::Value::List topics(c->topics.begin(), c->topics.end());
        f["topics"] = ms::Value(std::move(topics));
        f["notes"] = ms::Value(c->notes);
        f["follow_up"] = ms::Value(c->follow_up);
        f["risk_flag"] = ms::Value(c->risk_flag);
    } else {
        const auto& a = std::get<Absence>(r.body);
        f["learner_id"] = ms::Value(a.learner_id);
        f["date"] = ms::Value(a.date);
        f["lessons"] = ms::Value(a.lessons);
        f["status"] = ms::Value(a.status);
        if (!a.justification.empty()) f["justification"] = ms::Value(a.justification);
        f["source"] = ms::Value(a.source);
        if (!a.parents_contacted.empty()) f["parents_contacted"] = ms::Value(a.parents_contacted);
    }
    return f;
}

// ------------------------------------------------------------------------------------------
// The baseline: the same records as rows of plain SQLite tables, one column per field.

class SqliteBaseline {
  public:
    explicit SqliteBaseline(const std::string& path) {
        if (sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE,
                            nullptr) != SQLITE_OK)
            fail("open " + path);
        // The engine's default durability: WAL, fsync on every commit.
        exec("PRAGMA journal_mode=WAL");
        exec("PRAGMA synchronous=FULL");
        exec(R"sql(
CREATE TABLE learners(id BLOB PRIMARY KEY, name TEXT NOT NULL, birth_year INTEGER NOT NULL,
    school_id TEXT NOT NULL, municipality_id TEXT NOT NULL, grade INTEGER NOT NULL,
    education TEXT NOT NULL);
CREATE TABLE contacts(id BLOB PRIMARY KEY, learner_id TEXT NOT NULL, mentor_id TEXT NOT NULL,
    starts_at TEXT NOT NULL, duration_min INTEGER NOT NULL, place TEXT NOT NULL,
    form TEXT NOT NULL, topics TEXT, notes TEXT, follow_up TEXT, risk_flag INTEGER);
CREATE INDEX contacts_by_learner ON contacts(learner_id, starts_at);
CREATE TABLE absences(id BLOB PRIMARY KEY, learner_id TEXT NOT NULL, date TEXT NOT NULL,
    lessons INTEGER NOT NULL, status TEXT NOT NULL, justification TEXT, source TEXT NOT NULL,
    parents_contacted TEXT);
CREATE INDEX absences_by_learner ON absences(learner_id, date);
)sql");
        contact_ = prepare(
            "INSERT INTO contacts(id, learner_id, mentor_id, starts_at, duration_min, place, form, "
            "topics, notes, follow_up, risk_flag) VALUES(?,?,?,?,?,?,?,?,?,?,?)");
        absence_ = prepare(
            "INSERT INTO absences(id, learner_id, date, lessons, status, justification, source, "
            "parents_contacted) VALUES(?,?,?,?,?,?,?,?)");
        learner_ = prepare(
            "INSERT INTO learners(id, name, birth_year, school_id, municipality_id, grade, "
            "education) VALUES(?,?,?,?,?,?,?)");
        begin_ = prepare("BEGIN");
        commit_ = prepare("COMMIT");
    }
    ~SqliteBaseline() {
        for (sqlite3_stmt* s : {contact_, absence_, learner_, begin_, commit_})
            sqlite3_finalize(s);
        sqlite3_close_v2(db_);
    }
    SqliteBaseline(const SqliteBaseline&) = delete;
    SqliteBaseline& operator=(const SqliteBaseline&) = delete;

    void add_learners(const std::vector<Learner>& learners) {
        begin();
        for (const auto& l : learners) {
            bind_blob(learner_, 1, l.id);
            bind_text(learner_, 2, l.name);
            sqlite3_bind_int(learner_, 3, l.birth_year);
            bind_text(learner_, 4, l.school_id);
            bind_text(learner_, 5, l.municipality_id);
            sqlite3_bind_int(learner_, 6, l.grade);
            bind_text(learner_, 7, l.education);
            step(learner_);
        }
        commit();
    }

    void begin() { step(begin_); }
    void commit() { step(commit_); }

    // Outside begin()/commit() this is one autocommit (durable) transaction.
    void insert(const Rec& r) {
        if (const auto* c = std::get_if<Contact>(&r.body)) {
            sqlite3_stmt* s = contact_;
            bind_blob(s, 1, r.id);
            bind_text(s, 2, c->learner_id);
            bind_text(s, 3, c->mentor_id);
            bind_text(s, 4, c->starts_at);
            sqlite3_bind_int(s, 5, c->duration_min);
            bind_text(s, 6, c->place);
            bind_text(s, 7, c->form);
            std::string topics;
            for (const auto& t : c->topics)
                topics += (topics.empty() ? "" : ",") + t;
            sqlite3_bind_text(s, 8, topics.data(), static_cast<int>(topics.size()),
                              SQLITE_TRANSIENT);
            bind_text(s, 9, c->notes);
            bind_text(s, 10, c->follow_up);
            sqlite3_bind_int(s, 11, c->risk_flag ? 1 : 0);
            step(s);
        } else {
            const auto& a = std::get<Absence>(r.body);
            sqlite3_stmt* s = absence_;
            bind_blob(s, 1, r.id);
            bind_text(s, 2, a.learner_id);
            bind_text(s, 3, a.date);
            sqlite3_bind_int(s, 4, a.lessons);
            bind_text(s, 5, a.status);
            bind_optional_text(s, 6, a.justification);
            bind_text(s, 7, a.source);
            bind_optional_text(s, 8, a.parents_contacted);
            step(s);
        }
    }

  private:
    [[noreturn]] void fail(const std::string& what) {
        throw BenchError("sqlite baseline: " + what + ": " + (db_ ? sqlite3_errmsg(db_) : "?"));
    }
    void exec(const char* sql) {
        if (sqlite3_exec(db_, sql, nullptr, nullptr, nullptr) != SQLITE_OK) fail(sql);
    }
    sqlite3_stmt* prepare(const char* sql) {
        sqlite3_stmt* s = nullptr;
        if (sqlite3_prepare_v3(db_, sql, -1, SQLITE_PREPARE_PERSISTENT, &s, nullptr) != SQLITE_OK)
            fail(std::string("prepare ") + sql);
        return s;
    }
    void step(sqlite3_stmt* s) {
        if (sqlite3_step(s) != SQLITE_DONE) fail(std::string("step ") + sqlite3_sql(s));
        sqlite3_reset(s);
    }
    // The bound strings outlive the step that reads them, so SQLite need not copy them.
    static void bind_text(sqlite3_stmt* s, int i, const std::string& v) {
        sqlite3_bind_text(s, i, v.data(), static_cast<int>(v.size()), SQLITE_STATIC);
    }
    static void bind_optional_text(sqlite3_stmt* s, int i, const std::string& v) {
        if (v.empty())
            sqlite3_bind_null(s, i);
        else
            bind_text(s, i, v);
    }
    static void bind_blob(sqlite3_stmt* s, int i, const ms::Uuid& id) {
        sqlite3_bind_blob(s, i, id.bytes.data(), static_cast<int>(id.bytes.size()), SQLITE_STATIC);
    }

    sqlite3* db_ = nullptr;
    sqlite3_stmt* contact_ = nullptr;
    sqlite3_stmt* absence_ = nullptr;
    sqlite3_stmt* learner_ = nullptr;
    sqlite3_stmt* begin_ = nullptr;
    sqlite3_stmt* commit_ = nullptr;
};

// ------------------------------------------------------------------------------------------
// Engine side

constexpr std::string_view kPassphrase = "synthetic benchmark passphrase";

std::unique_ptr<ms::Replica> open_replica(const fs::path& path, const ms::KdfParams& kdf,
                                          ms::Durability durability = ms::Durability::full) {
    ms::OpenOptions o;
    o.path = path.string();
    o.durability = durability;
    o.kdf = kdf;
    return take(ms::Replica::open(o, ms::UnlockKey::passphrase(kPassphrase)),
                "open replica " + path.string());
}

void add_learners(ms::Replica& replica, const std::vector<Learner>& learners) {
    ms::WriteBatch batch;
    for (const auto& l : learners)
        batch.create_with_id("learners", l.id, to_fields(l));
    take(replica.commit(batch), "commit learners");
}

// ------------------------------------------------------------------------------------------
// /proc/self/status

struct Memory {
    double rss_mib = 0, hwm_mib = 0;
};

Memory read_memory() {
    std::ifstream in("/proc/self/status");
    if (!in) throw BenchError("cannot read /proc/self/status");
    Memory m;
    std::string line;
    while (std::getline(in, line)) {
        auto value = [&](std::string_view key) -> std::optional<double> {
            if (line.rfind(key, 0) != 0) return std::nullopt;
            return std::stod(line.substr(key.size())) / 1024.0;  // kB -> MiB
        };
        if (auto v = value("VmRSS:")) m.rss_mib = *v;
        if (auto v = value("VmHWM:")) m.hwm_mib = *v;
    }
    return m;
}

// Resets VmHWM to the current RSS (Linux >= 4.0). False where the kernel does not allow it.
bool reset_peak_rss() {
    std::ofstream out("/proc/self/clear_refs");
    out << "5";
    out.flush();
    return static_cast<bool>(out);
}

// ------------------------------------------------------------------------------------------
// Configuration

struct Config {
    std::size_t records = 10'000;       // write_batched records per side and round
    std::size_t single = 1'000;         // write_single records per side and round
    std::size_t remote = 10'000;        // remote transactions applied per round
    std::size_t rss_records = 100'000;  // records written before reading RSS
    std::size_t rounds = 5;
    std::size_t open_samples = 5;
    std::uint64_t seed = 42;
    fs::path dir;
    std::string only;  // run just this phase (profiling); empty: all
    bool quick = false;
    // Cost for the replicas the write and merge figures use (creating one is untimed).
    ms::KdfParams kdf = ms::KdfParams::production();
};

constexpr std::size_t kBatch = 100;       // records per transaction in write_batched
constexpr std::size_t kApplyBatch = 500;  // transactions per apply_remote call
constexpr std::size_t kSlices = 10;       // turns each side takes per write round

void usage(std::ostream& out) {
    out << "usage: engine_bench [--quick] [--records N] [--rounds N] [--dir PATH] [--seed N]\n"
           "                    [--only PHASE]\n"
           "\n"
           "Measures the engine against plain SQLite (WAL, synchronous=FULL) on the same\n"
           "synthetic records; prints one JSON object per figure on stdout\n"
           "(docs/benchmarks.md says what each means).\n"
           "\n"
           "  --quick      small counts and fast KDF for the write/merge replicas: a smoke run\n"
           "  --records N  records per side and round for write_batched (default 10000);\n"
           "               write_single uses N/10, apply_remote N transactions\n"
           "  --rounds N   alternating engine/SQLite rounds; medians are reported (default 5)\n"
           "  --dir PATH   parent directory for the scratch files (default: the temp directory)\n"
           "  --seed N     seed of the synthetic data (default 42)\n"
           "  --only PHASE run one phase (for profiling): rss, open, write_batched,\n"
           "               write_single or apply_remote\n"
           "  --help       this text\n";
}

std::size_t parse_count(std::string_view flag, const char* text) {
    char* end = nullptr;
    errno = 0;
    unsigned long long v = std::strtoull(text, &end, 10);
    if (errno != 0 || end == text || *end != '\0' || v == 0)
        throw std::invalid_argument(std::string(flag) + " needs a positive whole number, got '" +
                                    text + "'");
    return static_cast<std::size_t>(v);
}

Config parse_args(int argc, char** argv) {
    Config c;
    std::optional<std::size_t> records, rounds;
    for (int i = 1; i < argc; ++i) {
        std::string_view a = argv[i];
        auto operand = [&]() -> const char* {
            if (i + 1 >= argc) throw std::invalid_argument(std::string(a) + " needs a value");
            return argv[++i];
        };
        if (a == "--help" || a == "-h") {
            usage(std::cout);
            std::exit(0);
        } else if (a == "--quick") {
            c.quick = true;
        } else if (a == "--records") {
            records = parse_count(a, operand());
        } else if (a == "--rounds") {
            rounds = parse_count(a, operand());
        } else if (a == "--seed") {
            c.seed = parse_count(a, operand());
        } else if (a == "--dir") {
            c.dir = operand();
        } else if (a == "--only") {
            c.only = operand();
            static const std::vector<std::string_view> phases = {"rss", "open", "write_batched",
                                                                 "write_single", "apply_remote"};
            if (std::find(phases.begin(), phases.end(), c.only) == phases.end())
                throw std::invalid_argument("unknown phase '" + c.only + "'");
        } else {
            throw std::invalid_argument("unknown argument '" + std::string(a) + "'");
        }
    }
    if (c.quick) {
        c.records = 500;
        c.rounds = 2;
        c.rss_records = 2'000;
        c.open_samples = 1;
        c.kdf = ms::KdfParams::insecure_fast_for_tests();
    }
    if (records) c.records = *records;
    if (rounds) c.rounds = *rounds;
    c.single = std::max<std::size_t>(c.records / 10, 10);
    c.remote = c.records;
    if (!c.quick) c.open_samples = std::max<std::size_t>(c.rounds, 3);
    return c;
}

// A scratch directory made with mkdtemp, removed with everything in it on destruction.
class ScratchDir {
  public:
    explicit ScratchDir(fs::path parent) {
        if (parent.empty()) parent = fs::temp_directory_path();
        std::string templ = (parent / "engine_bench.XXXXXX").string();
        if (!mkdtemp(templ.data()))
            throw BenchError("cannot create a scratch directory in " + parent.string() + ": " +
                             std::strerror(errno));
        path_ = templ;
    }
    ~ScratchDir() {
        std::error_code ec;
        fs::remove_all(path_, ec);
    }
    ScratchDir(const ScratchDir&) = delete;
    ScratchDir& operator=(const ScratchDir&) = delete;

    // A fresh, empty subdirectory for one round.
    fs::path fresh(const std::string& name) const {
        fs::path p = path_ / name;
        fs::remove_all(p);
        fs::create_directory(p);
        return p;
    }
    void drop(const fs::path& p) const {
        std::error_code ec;
        fs::remove_all(p, ec);
    }
    const fs::path& path() const { return path_; }

  private:
    fs::path path_;
};

std::string kdf_label(const ms::KdfParams& k) {
    const bool mib = k.memlimit >= (1u << 20) && k.memlimit % (1u << 20) == 0;
    return "argon2id ops=" + std::to_string(k.opslimit) + " mem=" +
           (mib ? std::to_string(k.memlimit >> 20) + "MiB"
                : std::to_string(k.memlimit >> 10) + "KiB");
}

void progress(const std::string& line) {
    std::cerr << "engine_bench: " << line << std::endl;
}

std::string fmt(double v, int decimals = 2) {
    std::ostringstream o;
    o.setf(std::ios::fixed);
    o.precision(decimals);
    o << v;
    return o.str();
}

// ------------------------------------------------------------------------------------------
// Phases

// Memory first, in a fresh process, so no earlier phase's heap is counted.
void bench_rss(const Config& cfg, const ScratchDir& scratch) {
    progress("rss: writing " + std::to_string(cfg.rss_records) + " records");
    fs::path dir = scratch.fresh("rss");
    const Memory before = read_memory();
    DataGen gen(cfg.seed + 1);
    auto replica = open_replica(dir / "replica.db", cfg.kdf);
    add_learners(*replica, gen.learners());
    // Argon2id's 64 MiB during open would otherwise be the peak: measure the writing only.
    const bool peak_reset = reset_peak_rss();
    for (std::size_t done = 0; done < cfg.rss_records;) {
        ms::WriteBatch batch;
        for (std::size_t i = 0; i < kBatch && done < cfg.rss_records; ++i, ++done) {
            Rec r = gen.next();
            batch.create(r.collection(), to_fields(r));
        }
        take(replica->commit(batch), "commit");
    }
    const Memory after = read_memory();
    Figure("engine.rss_mb", after.rss_mib, "MiB")
        .num("records", static_cast<double>(cfg.rss_records))
        .num("before_open_mb", before.rss_mib)
        .str("note", "VmRSS with the replica open after writing the records")
        .print();
    Figure("engine.rss_peak_mb", after.hwm_mib, "MiB")
        .num("records", static_cast<double>(cfg.rss_records))
        .str("scope", peak_reset ? "while writing (VmHWM reset after open)"
                                 : "whole process (VmHWM reset not allowed; includes open)")
        .print();
    replica.reset();
    scratch.drop(dir);
}

void bench_open(const Config& cfg, const ScratchDir& scratch) {
    const ms::KdfParams kdf = ms::KdfParams::production();
    progress("open: " + std::to_string(cfg.open_samples) + " opens with " + kdf_label(kdf));
    fs::path dir = scratch.fresh("open");
    const fs::path path = dir / "replica.db";
    {
        DataGen gen(cfg.seed + 2);
        auto replica = open_replica(path, kdf);
        add_learners(*replica, gen.learners());
        ms::WriteBatch batch;
        for (std::size_t i = 0; i < 1'000; ++i) {
            Rec r = gen.next();
            batch.create(r.collection(), to_fields(r));
        }
        take(replica->commit(batch), "commit");
    }
    std::vector<double> ms_samples;
    for (std::size_t i = 0; i < cfg.open_samples; ++i) {
        auto start = Clock::now();
        auto replica = open_replica(path, kdf);
        ms_samples.push_back(seconds_since(start) * 1e3);
        if (replica->is_locked()) throw BenchError("replica still locked after open");
    }
    Figure("engine.open.ms", median(ms_samples), "ms")
        .str("kdf", kdf_label(kdf))
        .num("records_in_file", 1'050)
        .samples(ms_samples)
        .print();
    scratch.drop(dir);
}

// One round of either write figure. Both sides write `recs` into fresh files in the same
// directory, in transactions of `per_txn` records. The transactions are cut into kSlices slices
// that the two sides take in turn, the side that starts alternating from slice to slice, so both
// see the same disk and the same neighbouring load. Returns the seconds each side spent in its
// transactions (engine, sqlite).
std::pair<double, double> write_round(const ScratchDir& scratch, const std::string& name,
                                      const Config& cfg, const std::vector<Learner>& learners,
                                      const std::vector<Rec>& recs, std::size_t per_txn,
                                      bool engine_first) {
    fs::path dir = scratch.fresh(name);
    double engine_s = 0, sqlite_s = 0;
    {
        auto replica = open_replica(dir / "replica.db", cfg.kdf);
        add_learners(*replica, learners);
        SqliteBaseline db((dir / "plain.db").string());
        db.add_learners(learners);

        // The engine's input is built before any timer, as the SQLite side's statements are
        // prepared before: an app has its record in hand either way.
        const std::size_t txns = (recs.size() + per_txn - 1) / per_txn;
        std::vector<ms::WriteBatch> batches;  // per_txn > 1
        std::vector<ms::Fields> fields;       // per_txn == 1: Replica::create
        for (std::size_t t = 0; t < txns; ++t) {
            if (per_txn == 1) {
                fields.push_back(to_fields(recs[t]));
                continue;
            }
            ms::WriteBatch& b = batches.emplace_back();
            for (std::size_t j = t * per_txn; j < std::min(recs.size(), (t + 1) * per_txn); ++j)
                b.create(recs[j].collection(), to_fields(recs[j]));
        }
        auto engine_txn = [&](std::size_t t) {
            if (per_txn == 1)
                take(replica->create(recs[t].collection(), std::move(fields[t])), "create");
            else
                take(replica->commit(batches[t]), "commit");
        };
        auto sqlite_txn = [&](std::size_t t) {
            if (per_txn == 1) {
                db.insert(recs[t]);  // autocommit: one durable transaction
                return;
            }
            db.begin();
            for (std::size_t j = t * per_txn; j < std::min(recs.size(), (t + 1) * per_txn); ++j)
                db.insert(recs[j]);
            db.commit();
        };

        const std::size_t slices = std::min(kSlices, txns);
        for (std::size_t s = 0; s < slices; ++s) {
            const std::size_t from = txns * s / slices, to = txns * (s + 1) / slices;
            auto run_engine = [&] {
                auto start = Clock::now();
                for (std::size_t t = from; t < to; ++t)
                    engine_txn(t);
                engine_s += seconds_since(start);
            };
            auto run_sqlite = [&] {
                auto start = Clock::now();
                for (std::size_t t = from; t < to; ++t)
                    sqlite_txn(t);
                sqlite_s += seconds_since(start);
            };
            if ((s % 2 == 0) == engine_first) {
                run_engine();
                run_sqlite();
            } else {
                run_sqlite();
                run_engine();
            }
        }
    }
    scratch.drop(dir);
    return {engine_s, sqlite_s};
}

void bench_writes(const Config& cfg, const ScratchDir& scratch, bool run_batched, bool run_single) {
    DataGen gen(cfg.seed);
    std::vector<Rec> batched, single;
    batched.reserve(cfg.records);
    for (std::size_t i = 0; i < cfg.records; ++i)
        batched.push_back(gen.next());
    single.reserve(cfg.single);
    for (std::size_t i = 0; i < cfg.single; ++i)
        single.push_back(gen.next());

    std::vector<double> ratios;
    if (run_batched) {
        std::vector<double> engine_rate, sqlite_rate;
        for (std::size_t r = 0; r < cfg.rounds; ++r) {
            auto [e, s] = write_round(scratch, "batched" + std::to_string(r), cfg, gen.learners(),
                                      batched, kBatch, r % 2 == 0);
            ratios.push_back(e / s);
            engine_rate.push_back(static_cast<double>(batched.size()) / e);
            sqlite_rate.push_back(static_cast<double>(batched.size()) / s);
            progress("write_batched round " + std::to_string(r + 1) + "/" +
                     std::to_string(cfg.rounds) + ": engine " + fmt(e * 1e3, 1) + " ms, sqlite " +
                     fmt(s * 1e3, 1) + " ms, ratio " + fmt(e / s));
        }
        const double batched_ratio = median(ratios);
        Figure("engine.write_batched.ratio", batched_ratio, "x")
            .str("goal", "<= 2.0")
            .flag("goal_met", batched_ratio <= 2.0)
            .num("records", static_cast<double>(batched.size()))
            .num("records_per_txn", kBatch)
            .samples(ratios)
            .print();
        Figure("engine.write_batched.records_per_s", median(engine_rate), "records/s")
            .samples(engine_rate)
            .print();
        Figure("sqlite.write_batched.records_per_s", median(sqlite_rate), "records/s")
            .samples(sqlite_rate)
            .print();
    }
    if (!run_single) return;
    ratios.clear();
    std::vector<double> engine_ms, sqlite_ms;
    for (std::size_t r = 0; r < cfg.rounds; ++r) {
        auto [e, s] = write_round(scratch, "single" + std::to_string(r), cfg, gen.learners(),
                                  single, 1, r % 2 == 0);
        ratios.push_back(e / s);
        engine_ms.push_back(e * 1e3 / static_cast<double>(single.size()));
        sqlite_ms.push_back(s * 1e3 / static_cast<double>(single.size()));
        progress("write_single round " + std::to_string(r + 1) + "/" + std::to_string(cfg.rounds) +
                 ": engine " + fmt(engine_ms.back(), 3) + " ms/record, sqlite " +
                 fmt(sqlite_ms.back(), 3) + " ms/record, ratio " + fmt(e / s));
    }
    const double single_ratio = median(ratios);
    Figure("engine.write_single.ratio", single_ratio, "x")
        .str("goal", "<= 1.5")
        .flag("goal_met", single_ratio <= 1.5)
        .num("records", static_cast<double>(single.size()))
        .samples(ratios)
        .print();
    Figure("engine.write_single.ms", median(engine_ms), "ms/record").samples(engine_ms).print();
    Figure("sqlite.write_single.ms", median(sqlite_ms), "ms/record").samples(sqlite_ms).print();
}

void bench_apply_remote(const Config& cfg, const ScratchDir& scratch) {
    progress("apply_remote: generating " + std::to_string(cfg.remote) + " transactions");
    fs::path source_dir = scratch.fresh("apply_source");
    std::vector<ms::Transaction> txns;
    {
        // The writer's durability does not matter here: only what it produces is used.
        auto source = open_replica(source_dir / "source.db", cfg.kdf, ms::Durability::normal);
        DataGen gen(cfg.seed + 3);
        Rng pick(cfg.seed + 4);
        add_learners(*source, gen.learners());
        std::vector<std::pair<ms::Uuid, bool>> created;  // id, is_contact
        for (std::size_t i = 0; i < cfg.remote; ++i) {
            if (created.size() >= 10 && pick.percent(20)) {
                // An edit of an earlier record: two or three field changes.
                const auto& [id, contact] = created[pick.below(created.size())];
                check(
                    source->update(contact ? "contacts" : "absences", id, gen.update_for(contact)),
                    "update");
            } else {
                Rec r = gen.next();
                created.emplace_back(take(source->create(r.collection(), to_fields(r)), "create"),
                                     r.is_contact());
            }
        }
        for (;;) {
            auto page = take(source->pending(kApplyBatch), "pending");
            if (page.empty()) break;
            std::vector<ms::Stamp> stamps;
            for (auto& t : page) {
                stamps.push_back(t.stamp);
                txns.push_back(std::move(t));
            }
            check(source->acknowledge(stamps), "acknowledge");
        }
    }
    scratch.drop(source_dir);
    std::size_t changes = 0;
    for (const auto& t : txns)
        changes += t.changes.size();
    if (txns.size() != cfg.remote + 1)
        throw BenchError("pending() returned " + std::to_string(txns.size()) +
                         " transactions, expected " + std::to_string(cfg.remote + 1));

    std::vector<double> rates;
    std::size_t records = 0;
    for (std::size_t r = 0; r < cfg.rounds; ++r) {
        fs::path dir = scratch.fresh("apply" + std::to_string(r));
        auto target = open_replica(dir / "target.db", cfg.kdf);
        std::size_t applied_changes = 0;
        auto start = Clock::now();
        for (std::size_t i = 0; i < txns.size(); i += kApplyBatch) {
            std::size_t n = std::min(kApplyBatch, txns.size() - i);
            auto report =
                take(target->apply_remote(std::span<const ms::Transaction>(txns.data() + i, n)),
                     "apply_remote");
            if (report.applied != n || !report.rejected.empty() || report.quarantined != 0)
                throw BenchError(
                    "apply_remote merged " + std::to_string(report.applied) + " of " +
                    std::to_string(n) + " transactions (" + std::to_string(report.rejected.size()) +
                    " rejected, " + std::to_string(report.quarantined) + " quarantined)" +
                    (report.rejected.empty() ? std::string()
                                             : ": " + report.rejected.front().reason.to_string()));
            applied_changes += report.changes_applied;
        }
        const double secs = seconds_since(start);
        rates.push_back(static_cast<double>(changes) / secs);
        records = take(target->status(), "status").records;
        progress("apply_remote round " + std::to_string(r + 1) + "/" + std::to_string(cfg.rounds) +
                 ": " + std::to_string(changes) + " changes in " + fmt(secs * 1e3, 1) + " ms (" +
                 fmt(rates.back(), 0) + "/s; engine counted " + std::to_string(applied_changes) +
                 ")");
        target.reset();
        scratch.drop(dir);
    }
    const double rate = median(rates);
    Figure("engine.apply_remote.changes_per_s", rate, "changes/s")
        .str("goal", ">= 200000")
        .flag("goal_met", rate >= 200'000)
        .num("transactions", static_cast<double>(txns.size()))
        .num("changes", static_cast<double>(changes))
        .num("transactions_per_call", kApplyBatch)
        .num("records", static_cast<double>(records))
        .samples(rates)
        .print();
}

}  // namespace

int main(int argc, char** argv) {
    Config cfg;
    try {
        cfg = parse_args(argc, argv);
    } catch (const std::exception& e) {
        std::cerr << "engine_bench: " << e.what() << "\n";
        usage(std::cerr);
        return 2;
    }
    try {
        ScratchDir scratch(cfg.dir);
        progress("scratch directory " + scratch.path().string() + "; " +
                 std::to_string(cfg.rounds) + " rounds; write/merge replicas use " +
                 kdf_label(cfg.kdf) + (cfg.quick ? " (--quick)" : ""));
        auto run = [&](std::string_view phase) { return cfg.only.empty() || cfg.only == phase; };
        if (run("rss")) bench_rss(cfg, scratch);
        if (run("open")) bench_open(cfg, scratch);
        if (run("write_batched") || run("write_single"))
            bench_writes(cfg, scratch, run("write_batched"), run("write_single"));
        if (run("apply_remote")) bench_apply_remote(cfg, scratch);
    } catch (const std::exception& e) {
        std::cerr << "engine_bench: error: " << e.what() << "\n";
        return 1;
    }
    return 0;
}
