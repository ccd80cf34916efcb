// What the fuzz targets (tests/fuzz/) found, each kept as a test against the real server binary
// over HTTP, so that the fix stays in the default suite: the inputs here are the fuzzers'
// reproducers, reduced and written out readably.
#include <stdlib.h>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "http_client.h"
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
