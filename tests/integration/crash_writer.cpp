// crash_writer: the tablet process of the crash-loop test (crash_loop_test.cpp), which kills it
// with SIGKILL at random points. It opens an enrolled replica and, until killed, logs one
// contact per transaction, printing "committed <id> <notes>" after each commit returned (the
// moment an app would tell the mentor "saved"), and syncs after every fourth one with small
// push batches, so that kills land in writes and in syncs alike.
//
//   crash_writer REPLICA SERVER_URL LEARNER_ID MENTOR_ID RUN
//
// The device identity is read from the replica's secret values (crash_loop_test.cpp writes
// them at enrollment). Exit codes: 1 a local write failed, 2 usage; it never ends by itself
// before 1,000 writes.
#include <cstdio>
#include <string>

#include "http_transport.h"
#include "mentorsync/replica.h"
#include "mentorsync/sync_session.h"

using namespace mentorsync;

int main(int argc, char** argv) {
    if (argc != 6) {
        std::fprintf(stderr, "usage: crash_writer REPLICA SERVER_URL LEARNER_ID MENTOR_ID RUN\n");
        return 2;
    }
    const std::string path = argv[1], url = argv[2], learner = argv[3], mentor = argv[4],
                      run = argv[5];
    OpenOptions o;
    o.path = path;
    o.create_if_missing = false;
    auto replica = Replica::open(o, UnlockKey::passphrase("crash writer passphrase"));
    if (!replica.ok()) {
        std::fprintf(stderr, "open: %s\n", replica.status().to_string().c_str());
        return 1;
    }
    Replica& r = **replica;
    auto device = r.secret_value("crash_test.device_id");
    auto secret = r.secret_value("crash_test.secret_key");
    auto endpoint = client::Endpoint::parse(url);
    if (!device.ok() || !*device || !secret.ok() || !*secret || secret->value().size() != 64 ||
        !endpoint.ok()) {
        std::fprintf(stderr, "the replica is not enrolled, or the URL is wrong\n");
        return 2;
    }
    DeviceIdentity identity;
    identity.device_id = *Uuid::parse(**device);
    std::copy_n(reinterpret_cast<const std::uint8_t*>((*secret)->data()), 64,
                identity.keys.secret_key.begin());
    std::copy_n(identity.keys.secret_key.begin() + 32, 32, identity.keys.public_key.begin());
    SyncOptions so;
    so.push_batch = 3;
    SyncSession session(r, identity, so);
    client::HttpTransport transport(*endpoint);
    client::RunOptions ro;
    ro.max_attempts = 1;
    ro.sleep = [](std::int64_t) {};

    for (int n = 0; n < 1000; ++n) {
        const std::string notes = "run " + run + " write " + std::to_string(n);
        auto id = r.create("contacts", {{"learner_id", learner},
                                        {"mentor_id", mentor},
                                        {"starts_at", "2025-10-06T14:30"},
                                        {"duration_min", 30 + n % 60},
                                        {"place", "youth_centre"},
                                        {"form", "individual"},
                                        {"notes", notes}});
        if (!id.ok()) {
            std::fprintf(stderr, "write: %s\n", id.status().to_string().c_str());
            return 1;
        }
        std::printf("committed %s %s\n", id->to_string().c_str(), notes.c_str());
        std::fflush(stdout);
        if (n % 4 == 3) {
            auto synced = client::run_sync(session, transport, ro);
            std::printf("sync %s\n", synced.ok() ? "ok" : "failed");
            std::fflush(stdout);
        }
    }
    return 0;
}
