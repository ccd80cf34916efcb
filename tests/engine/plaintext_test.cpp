// No plaintext at rest: distinctive names and notes written through the engine never appear in
// the replica's database file, its WAL or its shared-memory index, whether the replica is open
// (WAL full of fresh pages) or closed, and also after updates, deletions and conflicts.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <iterator>

#include "mentorsync/replica.h"
#include "test_support.h"

using namespace mentorsync;

namespace {

std::string slurp(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
}

// Every secret that shows up in any of the files, with the file it was found in.
std::vector<std::string> leaks(const std::string& db, const std::vector<std::string>& secrets) {
    std::vector<std::string> found;
    for (const char* suffix : {"", "-wal", "-shm", "-journal"}) {
        std::string path = db + suffix;
        if (!std::filesystem::exists(path)) continue;
        std::string bytes = slurp(path);
        for (const auto& s : secrets)
            if (bytes.find(s) != std::string::npos) found.push_back(s + " in " + path);
    }
    return found;
}

}  // namespace

TEST_CASE("names and notes never appear in the database, WAL or shm files",
          "[replica][security][plaintext]") {
    mstest::TempDir dir;
    const std::string path = dir.file("tablet.db");
    const std::vector<std::string> secrets = {
        "Zigfrīds Plaintextovskis", "Ermīne Kvadrātsakne",
        "Gaidis Ūdensrozīte",       "NOTE-ZEBRA-4411 tēvs strādā ārzemēs",
        "NEXT-STEP-PELIKĀNS-77",    "conflict-value-OKAPI-93",
        "loser-value-NARVALS-12",
    };
    // Whole values, and distinctive fragments of them (a page boundary could split a value).
    std::vector<std::string> needles = secrets;
    for (const char* fragment :
         {"Plaintextovskis", "Kvadr", "densroz", "ZEBRA-4411", "PELIK", "OKAPI-93", "NARVALS"})
        needles.emplace_back(fragment);
    {
        auto a = mstest::open_replica(path);
        auto b = mstest::open_replica(dir.file("peer.db"));
        std::vector<Uuid> learners;
        for (int i = 0; i < 3; ++i)
            learners.push_back(*a->create("learners", mstest::learner_fields(secrets[i])));
        Uuid contact = *a->create("contacts", mstest::contact_fields(learners[0], secrets[3]));
        REQUIRE(a->update("contacts", contact, {{"next_steps", secrets[4]}}).ok());
        // A conflict: its losing value is stored too.
        auto txns = *a->pending(100);
        REQUIRE(b->apply_remote(txns).ok());
        REQUIRE(a->update("contacts", contact, {{"next_steps", secrets[5]}}).ok());
        REQUIRE(b->update("contacts", contact, {{"next_steps", secrets[6]}}).ok());
        REQUIRE(a->apply_remote(*b->pending(100)).ok());
        REQUIRE(a->conflicts()->size() == 1);
        REQUIRE(a->remove("learners", learners[2]).ok());

        // While open: the WAL holds the newest pages.
        CHECK(std::filesystem::exists(path + "-wal"));
        CHECK(leaks(path, needles).empty());
    }
    // After closing (checkpointed into the main file).
    CHECK(leaks(path, needles).empty());
    // The secrets are really in there, readable with the key.
    auto a = mstest::open_replica(path);
    Query q;
    q.collection = "learners";
    q.include_deleted = true;
    CHECK(a->query(q)->size() == 3);
}
