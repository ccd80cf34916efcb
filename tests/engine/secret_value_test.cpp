// Replica::secret_value / set_secret_value: small secrets (the client SDK's device keys) sealed
// with the data key inside the replica file.
#include <catch2/catch.hpp>

#include <fstream>
#include <iterator>

#include "mentorsync/replica.h"
#include "test_support.h"

using namespace mentorsync;

namespace {
std::string file_bytes(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}
}  // namespace

TEST_CASE("a secret value round-trips, survives reopening and a key change", "[replica][secret]") {
    mstest::TempDir dir;
    const std::string path = dir.file("r.db");
    const std::string secret = "device-signing-key-0123456789abcdef";
    {
        auto r = mstest::open_replica(path);
        auto none = r->secret_value("sdk.device");
        REQUIRE(none.ok());
        CHECK_FALSE(none->has_value());
        REQUIRE(r->set_secret_value("sdk.device", secret).ok());
        REQUIRE(r->set_secret_value("other", "x").ok());
        auto got = r->secret_value("sdk.device");
        REQUIRE(got.ok());
        CHECK(got->value() == secret);
        REQUIRE(r->change_key(UnlockKey::passphrase("correct horse battery"),
                              UnlockKey::passphrase("new passphrase"))
                    .ok());
    }
    auto r = mstest::open_replica(path, "new passphrase");
    auto got = r->secret_value("sdk.device");
    REQUIRE(got.ok());
    CHECK(got->value() == secret);
    CHECK(r->secret_value("other")->value() == "x");
    r.reset();
    // Sealed: the bytes never appear in the file (WAL included).
    CHECK(file_bytes(path).find(secret) == std::string::npos);
    CHECK(file_bytes(path + "-wal").find(secret) == std::string::npos);
}

TEST_CASE("secret values need an unlocked replica and a key", "[replica][secret]") {
    mstest::TempDir dir;
    auto r = mstest::open_replica(dir.file("r.db"));
    CHECK(r->set_secret_value("", "v").code() == Code::invalid_argument);
    CHECK(r->secret_value("").status().code() == Code::invalid_argument);
    REQUIRE(r->set_secret_value("k", "v").ok());
    r->lock();
    CHECK(r->secret_value("k").status().code() == Code::closed);
    CHECK(r->set_secret_value("k", "w").code() == Code::closed);
    REQUIRE(r->unlock(UnlockKey::passphrase("correct horse battery")).ok());
    CHECK(r->secret_value("k")->value() == "v");
}
