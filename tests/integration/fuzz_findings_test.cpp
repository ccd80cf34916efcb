// What the fuzz targets (tests/fuzz/) found, each kept as a test against the real server binary
// over HTTP, so that the fix stays in the default suite: the inputs here are the fuzzers'
// reproducers, reduced and written out readably.
#include <stdlib.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <nlohmann/json.hpp>

#include "http_client.h"
#include "http_transport.h"
#include "mentorsync/wire.h"
#include "server_process.h"
#include "test_support.h"

using mstest::admin;
using nlohmann::json;

namespace {

// A server with one municipality, a school, and an API token of each coordinator role.
struct Server {
    mstest::TempDir dir;
    std::string data = dir.file("data");
    std::string admin_token, muni_token;
    std::unique_ptr<mstest::ServerProcess> process;

    Server() {
        admin(data, {"init"});
        const std::string muni =
            admin(data, {"add-municipality", "--name", "Ādažu novads"})["municipality_id"];
        admin(data, {"add-institution", "--name", "Ādažu skola", "--municipality", muni, "--kind",
                     "school"});
        // Passwords go through the environment, as documented (never argv).
        ::setenv("MENTORSYNC_COORD_PASSWORD", "synthetic password 1", 1);
        admin(data, {"coord-add-account", "--username", "admin", "--role", "admin"});
        admin(data, {"coord-add-account", "--username", "ada", "--role", "municipality",
                     "--municipality", muni});
        ::unsetenv("MENTORSYNC_COORD_PASSWORD");
        admin_token =
            admin(data, {"coord-issue-token", "--username", "admin", "--name", "t"})["token"];
        muni_token =
            admin(data, {"coord-issue-token", "--username", "ada", "--name", "t"})["token"];
        process = std::make_unique<mstest::ServerProcess>(data);
    }
    mstest::HttpResponse get(const std::string& target, const std::string& token) {
        mstest::HttpClient http(static_cast<std::uint16_t>(process->port()));
        return http.request("GET", target, "", "", {{"Authorization", "Bearer " + token}});
    }
};

std::string code_of(const mstest::HttpResponse& r) {
    auto j = json::parse(r.body, nullptr, false);
    return j.is_object() ? j.value("code", "") : "";
}

}  // namespace

// fuzz_coord_api: the filters of a records view or export went into the audit entry's JSON
// before they were checked, and nlohmann's dump() throws on bytes that are not UTF-8, so a
// query value like %FF (or such a byte in the path) was answered 500 instead of 400.
TEST_CASE("coordinator API: filters that are not UTF-8 are refused as bad parameters, not 500",
          "[integration][fuzz]") {
    Server s;
    for (const std::string target :
         {"/api/v1/records/contacts?to=2026-08-%FF1", "/api/v1/records/absences?from=%C3",
          "/api/v1/export/records/contacts?to=%FF%FE"}) {
        INFO(target);
        auto r = s.get(target, s.muni_token);
        CHECK(r.status == 400);
        CHECK(code_of(r) == "bad_parameter");
    }
    // A collection name that is not UTF-8 is no collection the API knows.
    for (const std::string target :
         {"/api/v1/records/contacts\xff", "/api/v1/export/records/\xc3"}) {
        INFO(target);
        auto r = s.get(target, s.admin_token);
        CHECK(r.status == 400);
        CHECK(code_of(r) == "bad_parameter");
    }
}

// fuzz_coord_api: the views took any four-digit year as a date, the replica's date query only
// the schema's (1900 to 2100), and its refusal surfaced as 500 "storage error".
TEST_CASE("coordinator API: a date filter outside the schema's years is a bad parameter, not 500",
          "[integration][fuzz]") {
    Server s;
    for (const std::string target :
         {"/api/v1/records/contacts?from=1012-09-01", "/api/v1/records/absences?to=2101-01-01",
          "/api/v1/export/records/contacts?from=0000-01-01&to=2026-08-31"}) {
        INFO(target);
        auto r = s.get(target, s.muni_token);
        CHECK(r.status == 400);
        CHECK(code_of(r) == "bad_parameter");
    }
    auto ok = s.get("/api/v1/records/contacts?from=1900-01-01&to=2100-12-31", s.muni_token);
    CHECK(ok.status == 200);
}

namespace {

std::int64_t now_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

// A device of `mentor` speaking the protocol by hand: signed requests through the transport.
struct RawDevice {
    mentorsync::client::HttpTransport transport;
    mentorsync::DeviceIdentity id;
    mentorsync::Uuid node = mentorsync::Uuid::random();

    RawDevice(const std::string& url, const std::string& code)
        : transport(*mentorsync::client::Endpoint::parse(url)) {
        id.keys = mentorsync::wire::DeviceKeys::generate();
        auto e = mentorsync::client::enroll(transport, code, id.keys, node, "raw device");
        INFO((e.ok() ? std::string() : e.status().to_string()));
        REQUIRE(e.ok());
        id.device_id = e->device_id;
    }
    mentorsync::HttpResponse post(const std::string& path, const std::string& body) {
        mentorsync::HttpRequest rq;
        rq.method = "POST";
        rq.path = path;
        rq.body = body;
        rq.headers = {{"Content-Type", "application/msgpack"},
                      {"Authorization", mentorsync::wire::authorization(
                                            id.keys, rq.method, rq.path, id.device_id, now_ms(),
                                            mentorsync::Uuid::random().raw(), rq.body)}};
        auto r = transport.send(rq);
        INFO((r.ok() ? std::string() : r.status().to_string()));
        REQUIRE(r.ok());
        return *r;
    }
};

}  // namespace

// fuzz_codec_value (the engine's side is in tests/engine/fuzz_findings_test.cpp): the server
// stored a pushed 1e19 as a uint64 that it could not read back, so every later pull of that
// history failed for every device of the learner; and 2.0 reached them as the integer 2.
TEST_CASE("a pushed float with no fraction is kept as a float, and the history stays readable",
          "[integration][fuzz]") {
    using namespace mentorsync;
    mstest::TempDir dir;
    const std::string data = dir.file("data");
    admin(data, {"init"});
    const std::string muni =
        admin(data, {"add-municipality", "--name", "Testa"})["municipality_id"];
    const std::string centre = admin(data, {"add-institution", "--name", "Centrs", "--municipality",
                                            muni, "--kind", "youth_centre"})["institution_id"];
    const std::string mentor = admin(data, {"add-user", "--role", "mentor", "--name", "Mentore",
                                            "--institution", centre})["user_id"];
    const std::string learner = admin(
        data, {"add-learner", "--name", "Skolniece", "--birth-year", "2011", "--school", centre,
               "--municipality", muni, "--grade", "8", "--education", "general"})["learner_id"];
    admin(data, {"assign", "--learner", learner, "--mentor", mentor});
    auto code = [&] { return admin(data, {"enroll-code", "--user", mentor})["code"]; };
    mstest::ServerProcess server(data);

    RawDevice writer(server.url(), code());
    Transaction t{{static_cast<std::uint64_t>(now_ms()) << 16, writer.node}, {}};
    const Uuid row = Uuid::random();
    for (auto [field, value] : std::vector<std::pair<std::string, Value>>{
             {"learner_id", learner},
             {"mentor_id", mentor},
             {"starts_at", "2025-10-06T14:30"},
             {"duration_min", 45},
             {"place", "school"},
             {"form", "individual"},
             {"future_hours", 2.0},  // a field of a later schema version
             {"future_big", 1.0e19}})
        t.changes.push_back({"contacts", row, field, value, {}, {}});
    const Schema& schema = Schema::programme();
    auto pushed =
        writer.post("/v1/sync/push", wire::encode_push_request(schema, Uuid::random(), {&t, 1}));
    REQUIRE(pushed.status == 200);
    auto results = wire::decode_push_response(pushed.body);
    REQUIRE(results.ok());
    REQUIRE(results->results.size() == 1);
    REQUIRE(results->results[0].kind == wire::PushResult::Kind::accepted);

    RawDevice reader(server.url(), code());
    auto page = reader.post("/v1/sync/pull", wire::encode_pull_request({"", 1000, std::nullopt}));
    INFO("pull answered " << page.status);
    REQUIRE(page.status == 200);
    auto pulled = wire::decode_pull_response(schema, page.body);
    INFO((pulled.ok() ? std::string() : pulled.status().to_string()));
    REQUIRE(pulled.ok());
    int seen = 0;
    for (const auto& txn : pulled->txns)
        for (const auto& c : txn.changes) {
            if (c.field == "future_hours") {
                CHECK(c.value == Value(2.0));
                ++seen;
            }
            if (c.field == "future_big") {
                CHECK(c.value == Value(1.0e19));
                ++seen;
            }
        }
    CHECK(seen == 2);
}
