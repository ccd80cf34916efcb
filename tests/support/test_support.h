// Shared helpers for the engine tests: temporary directories, fast-KDF replicas, synthetic data.
#pragma once

#include <filesystem>
#include <memory>
#include <random>
#include <string>

#include <catch2/catch.hpp>

#include "mentorsync/replica.h"

namespace mstest {

// A fresh directory under the system temp dir, removed (with its files) on destruction.
class TempDir {
  public:
    TempDir() {
        std::random_device rd;
        auto base = std::filesystem::temp_directory_path();
        for (;;) {
            path_ = base / ("mentorsync-test-" + std::to_string(rd()) + std::to_string(rd()));
            if (std::filesystem::create_directory(path_)) break;
        }
    }
    ~TempDir() {
        std::error_code ec;
        std::filesystem::remove_all(path_, ec);
    }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
    const std::filesystem::path& path() const { return path_; }
    std::string file(const std::string& name) const { return (path_ / name).string(); }

  private:
    std::filesystem::path path_;
};

// Options for a test replica: libsodium's minimum Argon2id cost, normal durability (tests do
// not need power-loss safety and run faster), optional injected clock.
inline mentorsync::OpenOptions test_options(
    const std::string& path, std::shared_ptr<const mentorsync::WallClock> clock = {}) {
    mentorsync::OpenOptions o;
    o.path = path;
    o.kdf = mentorsync::KdfParams::insecure_fast_for_tests();
    o.durability = mentorsync::Durability::normal;
    o.clock = std::move(clock);
    return o;
}

// Opens a replica or fails the current test with the error text.
inline std::unique_ptr<mentorsync::Replica> open_replica(
    const std::string& path, const std::string& passphrase = "correct horse battery",
    std::shared_ptr<const mentorsync::WallClock> clock = {}) {
    auto r = mentorsync::Replica::open(test_options(path, std::move(clock)),
                                       mentorsync::UnlockKey::passphrase(passphrase));
    INFO((r.ok() ? std::string() : r.status().to_string()));
    REQUIRE(r.ok());
    return std::move(r).value();
}

// A valid learner's fields (synthetic).
inline mentorsync::Fields learner_fields(const std::string& name = "Anna Testa") {
    return {{"name", name},
            {"birth_year", 2010},
            {"school_id", mentorsync::Uuid::random().to_string()},
            {"municipality_id", mentorsync::Uuid::random().to_string()},
            {"grade", 8},
            {"education", "general"}};
}

// A valid contact of `learner` (synthetic).
inline mentorsync::Fields contact_fields(const mentorsync::Uuid& learner,
                                         const std::string& notes = "met after class",
                                         const std::string& when = "2026-11-23T10:30") {
    return {{"learner_id", learner.to_string()},
            {"mentor_id", mentorsync::Uuid::random().to_string()},
            {"starts_at", when},
            {"duration_min", 45},
            {"place", "school"},
            {"form", "individual"},
            {"notes", notes}};
}

// A valid absence of `learner` (synthetic).
inline mentorsync::Fields absence_fields(const mentorsync::Uuid& learner,
                                         const std::string& date = "2026-11-23", int lessons = 3) {
    return {{"learner_id", learner.to_string()},
            {"date", date},
            {"lessons", lessons},
            {"status", "unjustified"},
            {"source", "mentor"}};
}

}  // namespace mstest
