// Crash loops ([long], ctest label "long"): SIGKILL of the real server binary at random points
// of a push burst, and of a tablet process (crash_writer.cpp) while it writes and syncs. After
// each kill everything must open again; at the end every transaction a tablet saw acknowledged,
// or reported committed, is in the server's history exactly once, and nothing is duplicated.
//
// Seeded and replayable as far as timing allows: a failure prints its seed, and
// MENTORSYNC_SEED=<seed> replays the same kill points; MENTORSYNC_CRASH_KILLS sets the number
// of kills (default 50 each).
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <set>
#include <thread>

#include "http_transport.h"
#include "server_process.h"
#include "test_support.h"

using namespace mentorsync;
using mstest::admin;

namespace {

const std::string kPassphrase = "crash writer passphrase";

std::uint64_t seed_from_env() {
    if (const char* s = std::getenv("MENTORSYNC_SEED")) return std::strtoull(s, nullptr, 10);
    return std::random_device{}();
}

int kills_from_env() {
    if (const char* s = std::getenv("MENTORSYNC_CRASH_KILLS")) return std::atoi(s);
    return 50;
}

std::int64_t now_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

// A data directory with one municipality, a centre, a mentor and a learner assigned to them.
struct Programme {
    mstest::TempDir dir;
    std::string data = dir.file("server");
    std::string mentor, learner;

    Programme() {
        admin(data, {"init"});
        const std::string muni =
            admin(data, {"add-municipality", "--name", "Testa novads"})["municipality_id"];
        const std::string centre =
            admin(data, {"add-institution", "--name", "Jauniešu centrs", "--municipality", muni,
                         "--kind", "youth_centre"})["institution_id"];
        mentor = admin(data, {"add-user", "--role", "mentor", "--name", "Mentore K",
                              "--institution", centre})["user_id"];
        learner = admin(data, {"add-learner", "--name", "Skolniece K", "--birth-year", "2011",
                               "--school", centre, "--municipality", muni, "--grade", "8",
                               "--education", "general"})["learner_id"];
        admin(data, {"assign", "--learner", learner, "--mentor", mentor});
    }
    std::string code() { return admin(data, {"enroll-code", "--user", mentor})["code"]; }
};

client::HttpTransport transport_for(const std::string& url) {
    return client::HttpTransport(*client::Endpoint::parse(url));
}

DeviceIdentity enroll(const std::string& url, const std::string& code, const Uuid& node) {
    auto transport = transport_for(url);
    DeviceIdentity id;
    id.keys = wire::DeviceKeys::generate();
    auto e = client::enroll(transport, code, id.keys, node, "crash test");
    INFO((e.ok() ? std::string() : e.status().to_string()));
    REQUIRE(e.ok());
    id.device_id = e->device_id;
    return id;
}

// The whole history a device of the mentor may read, by raw pulls (so that a duplicate in the
// history shows, which applying to a replica would hide): how many times each stamp appears.
std::map<Stamp, int> history(const std::string& url, const DeviceIdentity& device) {
    auto transport = transport_for(url);
    std::map<Stamp, int> seen;
    std::string cursor;
    for (int page = 0; page < 10'000; ++page) {
        HttpRequest rq;
        rq.method = "POST";
        rq.path = "/v1/sync/pull";
        rq.body = wire::encode_pull_request({cursor, 1000, std::nullopt});
        rq.headers = {
            {"Content-Type", "application/msgpack"},
            {"Authorization", wire::authorization(device.keys, rq.method, rq.path, device.device_id,
                                                  now_ms(), Uuid::random().raw(), rq.body)}};
        auto r = transport.send(rq);
        INFO((r.ok() ? std::string() : r.status().to_string()));
        REQUIRE(r.ok());
        REQUIRE(r->status == 200);
        auto body = wire::decode_pull_response(Schema::programme(), r->body);
        INFO((body.ok() ? std::string() : body.status().to_string()));
        REQUIRE(body.ok());
        for (const auto& t : body->txns)
            ++seen[t.stamp];
        cursor = body->cursor;
        if (!body->more) return seen;
    }
    FAIL("the history did not end");
    return seen;
}

std::set<Stamp> pending_stamps(Replica& r) {
    auto p = r.pending(100'000);
    REQUIRE(p.ok());
    std::set<Stamp> out;
    for (const auto& t : *p)
        out.insert(t.stamp);
    return out;
}

// Answers the tablets' sessions have handled in this round, so that the test can kill the
// server after a chosen number of them (a condition to wait for, not a guess of time).
struct Answers {
    std::mutex mu;
    std::condition_variable cv;
    int count = 0;
    int finished = 0;  // syncs of this round that returned
    void add(int& field) {
        std::lock_guard lock(mu);
        ++field;
        cv.notify_all();
    }
};

// A tablet kept in this process: its replica and session outlive the server's restarts; each
// sync gets a transport to wherever the server listens now.
struct Tablet {
    std::unique_ptr<Replica> replica;
    std::unique_ptr<SyncSession> session;

    Tablet(const std::string& path, const std::string& url, const std::string& code,
           Answers& answers) {
        replica = mstest::open_replica(path);
        SyncOptions so;
        so.push_batch = 2;  // many pushes per burst: more points to be killed at
        so.on_progress = [&answers](const SyncProgress&) { answers.add(answers.count); };
        session = std::make_unique<SyncSession>(*replica, enroll(url, code, replica->node()), so);
    }
    Result<SyncProgress> sync(const std::string& url, int attempts) {
        auto transport = transport_for(url);
        client::RunOptions o;
        o.max_attempts = attempts;
        o.sleep = [](std::int64_t) {};
        return client::run_sync(*session, transport, o);
    }
};

Fields contact(const Programme& p, const std::string& notes) {
    return {{"learner_id", p.learner}, {"mentor_id", p.mentor}, {"starts_at", "2025-10-06T14:30"},
            {"duration_min", 45},      {"place", "school"},     {"form", "individual"},
            {"notes", notes}};
}

}  // namespace

TEST_CASE("the server killed at random points of a push burst loses and duplicates nothing",
          "[integration][long][crash]") {
    const std::uint64_t seed = seed_from_env();
    const int kills = kills_from_env();
    INFO("MENTORSYNC_SEED=" << seed << " MENTORSYNC_CRASH_KILLS=" << kills);
    std::mt19937_64 rng(seed);
    Programme p;

    auto server = std::make_unique<mstest::ServerProcess>(p.data);
    const std::string url = server->url();
    const std::vector<std::string> same_port = {"--listen",
                                                "127.0.0.1:" + std::to_string(server->port())};
    Answers answers;
    std::vector<std::unique_ptr<Tablet>> tablets;
    for (int i = 0; i < 3; ++i) {
        tablets.push_back(std::make_unique<Tablet>(p.dir.file("tablet" + std::to_string(i) + ".db"),
                                                   url, p.code(), answers));
        REQUIRE(tablets.back()->sync(url, 1).ok());  // the learner and the case
    }

    std::set<Stamp> written, acknowledged;
    int mid_burst = 0;  // kills after some of the round's pushes were answered, before all were
    for (int kill = 0; kill < kills; ++kill) {
        std::vector<std::set<Stamp>> before;
        for (std::size_t t = 0; t < tablets.size(); ++t) {
            for (int i = 0; i < 20; ++i) {
                auto id = tablets[t]->replica->create(
                    "contacts", contact(p, "kill " + std::to_string(kill) + " tablet " +
                                               std::to_string(t) + " write " + std::to_string(i)));
                REQUIRE(id.ok());
            }
            before.push_back(pending_stamps(*tablets[t]->replica));
            written.insert(before.back().begin(), before.back().end());
        }
        {
            std::lock_guard lock(answers.mu);
            answers.count = answers.finished = 0;
        }
        std::vector<std::thread> bursts;
        for (auto& t : tablets)
            bursts.emplace_back([&t, &url, &answers] {
                (void)t->sync(url, 2);
                answers.add(answers.finished);
            });
        // The kill point: after the k-th answer of the round (each tablet gets 10 push answers
        // and a pull answer or two), then up to 5 ms into whatever comes next.
        const int k = std::uniform_int_distribution<int>(0, 30)(rng);
        const int jitter_ms = std::uniform_int_distribution<int>(0, 5)(rng);
        {
            std::unique_lock lock(answers.mu);
            answers.cv.wait_for(lock, std::chrono::seconds(60), [&] {
                return answers.count >= k || answers.finished == static_cast<int>(tablets.size());
            });
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(jitter_ms));
        server->kill_now();
        for (auto& b : bursts)
            b.join();
        std::size_t acked_now = 0, left = 0;
        for (std::size_t t = 0; t < tablets.size(); ++t) {
            const std::set<Stamp> after = pending_stamps(*tablets[t]->replica);
            left += after.size();
            for (const Stamp& s : before[t])
                if (!after.count(s)) acknowledged.insert(s), ++acked_now;
        }
        if (acked_now > 0 && left > 0) ++mid_burst;
        // Opens again after every kill (the constructor waits for "listening").
        server = std::make_unique<mstest::ServerProcess>(p.data, same_port);
    }

    // Everyone finishes syncing; nothing may be left pending or rejected.
    for (int round = 0; round < 2; ++round)
        for (auto& t : tablets) {
            auto r = t->sync(url, 3);
            INFO((r.ok() ? std::string() : r.status().to_string()));
            REQUIRE(r.ok());
            CHECK(r->rejected == 0);
        }
    for (auto& t : tablets)
        CHECK(pending_stamps(*t->replica).empty());

    // The history, as a fresh device of the mentor reads it.
    const DeviceIdentity fresh = enroll(url, p.code(), Uuid::random());
    const std::map<Stamp, int> seen = history(url, fresh);
    int lost_acknowledged = 0, lost = 0, duplicated = 0;
    for (const Stamp& s : acknowledged)
        if (!seen.count(s)) ++lost_acknowledged;
    for (const Stamp& s : written)
        if (!seen.count(s)) ++lost;
    for (const auto& [s, n] : seen)
        if (n != 1) ++duplicated;
    INFO(written.size() << " written, " << acknowledged.size() << " acknowledged during the kills, "
                        << seen.size() << " transactions in the history");
    CHECK(lost_acknowledged == 0);
    CHECK(lost == 0);
    CHECK(duplicated == 0);
    WARN(kills << " kills, " << mid_burst << " of them in the middle of a burst; " << written.size()
               << " transactions written, " << acknowledged.size()
               << " acknowledged before a kill");
    // By construction most kills land between answers of a burst; a quarter is a floor that
    // holds however slow the machine is.
    CHECK(mid_burst * 4 >= kills);

    // And the replicas agree on every record.
    const auto reference = mstest::all_records(*tablets[0]->replica);
    std::size_t contacts = 0;
    for (const auto& r : reference)
        contacts += r.collection == "contacts";
    CHECK(contacts == written.size());
    for (std::size_t t = 1; t < tablets.size(); ++t) {
        const auto other = mstest::all_records(*tablets[t]->replica);
        REQUIRE(other.size() == reference.size());
        for (std::size_t i = 0; i < other.size(); ++i) {
            CHECK(other[i].id == reference[i].id);
            CHECK(other[i].fields == reference[i].fields);
        }
    }
}

TEST_CASE("a tablet killed at random points while writing keeps every reported write",
          "[integration][long][crash]") {
    const std::uint64_t seed = seed_from_env();
    const int kills = kills_from_env();
    INFO("MENTORSYNC_SEED=" << seed << " MENTORSYNC_CRASH_KILLS=" << kills);
    std::mt19937_64 rng(seed);
    Programme p;
    mstest::ServerProcess server(p.data);
    const std::string path = p.dir.file("writer.db");

    // Enroll the writer's replica and store its identity where crash_writer reads it.
    {
        OpenOptions o;
        o.path = path;
        o.kdf = KdfParams::insecure_fast_for_tests();
        auto r = Replica::open(o, UnlockKey::passphrase(kPassphrase));
        REQUIRE(r.ok());
        const DeviceIdentity id = enroll(server.url(), p.code(), (*r)->node());
        REQUIRE((*r)->set_secret_value("crash_test.device_id", id.device_id.to_string()).ok());
        REQUIRE((*r)->set_secret_value(
                        "crash_test.secret_key",
                        std::string(reinterpret_cast<const char*>(id.keys.secret_key.data()),
                                    id.keys.secret_key.size()))
                    .ok());
    }

    std::map<std::string, std::string> reported;  // record id -> notes
    for (int kill = 0; kill < kills; ++kill) {
        int out[2];
        REQUIRE(pipe(out) == 0);
        const pid_t pid = fork();
        REQUIRE(pid >= 0);
        if (pid == 0) {
            dup2(out[1], 1);
            close(out[0]);
            close(out[1]);
            const std::string run = std::to_string(kill);
            execl(MENTORSYNC_CRASH_WRITER_BINARY, MENTORSYNC_CRASH_WRITER_BINARY, path.c_str(),
                  server.url().c_str(), p.learner.c_str(), p.mentor.c_str(), run.c_str(),
                  static_cast<char*>(nullptr));
            _exit(127);
        }
        close(out[1]);
        // Killed as soon as its n-th "committed" line is read: the next write (or a sync) is
        // then in flight, at a point of it that timing decides. Lines read in the same chunk
        // count as reported too.
        const int n = std::uniform_int_distribution<int>(1, 12)(rng);
        int committed = 0;
        std::string pending;
        char buf[4096];
        while (committed < n) {
            const ssize_t got = read(out[0], buf, sizeof buf);
            if (got <= 0) break;
            pending.append(buf, static_cast<std::size_t>(got));
            for (auto nl = pending.find('\n'); nl != std::string::npos; nl = pending.find('\n')) {
                const std::string line = pending.substr(0, nl);
                pending.erase(0, nl + 1);
                if (line.rfind("committed ", 0) == 0) {
                    reported[line.substr(10, 36)] = line.substr(47);
                    ++committed;
                }
            }
        }
        ::kill(pid, SIGKILL);
        int status = 0;
        waitpid(pid, &status, 0);
        close(out[0]);
        INFO("writer run " << kill);
        REQUIRE(committed >= n);  // it did not stop by itself

        // It opens again, with every write it reported, and at most one it did not report.
        auto opened = Replica::open(
            [&] {
                OpenOptions o;
                o.path = path;
                o.create_if_missing = false;
                return o;
            }(),
            UnlockKey::passphrase(kPassphrase));
        INFO((opened.ok() ? std::string() : opened.status().to_string()));
        REQUIRE(opened.ok());
        std::size_t contacts = 0;
        for (const auto& r : mstest::all_records(**opened))
            contacts += r.collection == "contacts";
        for (const auto& [id, notes] : reported) {
            auto rec = (*opened)->get("contacts", *Uuid::parse(id));
            REQUIRE(rec.ok());
            CHECK(rec->fields.at("notes") == Value(notes));
        }
        CHECK(contacts >= reported.size());
        CHECK(contacts <= reported.size() + 1 + static_cast<std::size_t>(kill));
    }

    // The last writes go out; then a fresh device of the mentor sees each exactly once.
    auto final_replica = [&] {
        OpenOptions o;
        o.path = path;
        o.create_if_missing = false;
        auto r = Replica::open(o, UnlockKey::passphrase(kPassphrase));
        REQUIRE(r.ok());
        return std::move(r).value();
    }();
    DeviceIdentity id;
    id.device_id = *Uuid::parse(**final_replica->secret_value("crash_test.device_id"));
    const std::string sk = **final_replica->secret_value("crash_test.secret_key");
    std::copy_n(reinterpret_cast<const std::uint8_t*>(sk.data()), 64, id.keys.secret_key.begin());
    std::copy_n(id.keys.secret_key.begin() + 32, 32, id.keys.public_key.begin());
    {
        SyncSession session(*final_replica, id);
        auto transport = transport_for(server.url());
        auto r = client::run_sync(session, transport);
        INFO((r.ok() ? std::string() : r.status().to_string()));
        REQUIRE(r.ok());
        CHECK(r->rejected == 0);
    }
    CHECK(pending_stamps(*final_replica).empty());

    std::map<std::string, std::string> local;  // every contact the writer's replica holds
    for (const auto& r : mstest::all_records(*final_replica))
        if (r.collection == "contacts") local[r.id.to_string()] = r.fields.at("notes").as_string();
    for (const auto& [rid, notes] : reported)
        CHECK(local.count(rid) == 1);

    mstest::Tablet fresh(p.dir.file("fresh.db"), server.url());
    fresh.enroll(p.code(), "fresh tablet");
    fresh.sync_ok();
    std::map<std::string, std::string> on_fresh;
    std::set<std::string> notes_seen;
    int duplicated_notes = 0;
    for (const auto& r : mstest::all_records(fresh.replica())) {
        if (r.collection != "contacts") continue;
        on_fresh[r.id.to_string()] = r.fields.at("notes").as_string();
        if (!notes_seen.insert(r.fields.at("notes").as_string()).second) ++duplicated_notes;
    }
    CHECK(on_fresh == local);
    CHECK(duplicated_notes == 0);

    const DeviceIdentity reader = enroll(server.url(), p.code(), Uuid::random());
    int duplicated = 0;
    for (const auto& [s, n] : history(server.url(), reader))
        if (n != 1) ++duplicated;
    CHECK(duplicated == 0);
}
