// The server's log lines: the HTTP layer's and the core's, written to one sink, have one shape
// (docs/operations.md, "Logs"): {"time","level","event",<fields in order>} on one line.
#include <catch2/catch.hpp>

#include <mutex>
#include <regex>
#include <string>
#include <vector>

#include "core/log.h"
#include "http/log.h"

using namespace mentorsync::server;

namespace {

// The line with its "time" value replaced by T, after checking that value's form.
std::string without_time(const std::string& line) {
    static const std::regex time(R"(^\{"time":"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z",)");
    std::smatch m;
    REQUIRE(std::regex_search(line, m, time));
    return "{\"time\":\"T\"," + line.substr(static_cast<std::size_t>(m.length(0)));
}

}  // namespace

TEST_CASE("a core line and an HTTP line sent to one sink have the same shape", "[http][log]") {
    std::mutex mu;
    std::vector<std::string> lines;
    auto sink = [&](std::string_view line) {
        std::lock_guard lock(mu);
        lines.emplace_back(line);
    };
    http::Logger logger(sink);
    logger.info("request", {{"route", std::string_view("/v1/sync/push")},
                            {"status", std::int64_t{200}},
                            {"duration_ms", 1.5},
                            {"keep_alive", true}});
    log_event(sink, "warn", "state_apply_failed",
              {{"seq", std::int64_t{42}}, {"error", std::string("corrupt: \"x\"\n")}});
    REQUIRE(lines.size() == 2);
    for (const std::string& l : lines)
        CHECK(l.find('\n') == std::string::npos);
    CHECK(without_time(lines[0]) ==
          R"({"time":"T","level":"info","event":"request","route":"/v1/sync/push",)"
          R"("status":200,"duration_ms":1.500,"keep_alive":true})");
    CHECK(without_time(lines[1]) ==
          R"({"time":"T","level":"warn","event":"state_apply_failed","seq":42,)"
          R"("error":"corrupt: \"x\"\n"})");
}

TEST_CASE("log fields escape control characters and quotes as JSON", "[http][log]") {
    std::vector<std::string> lines;
    http::Logger logger([&](std::string_view line) { lines.emplace_back(line); });
    logger.warn("odd", {{"code", std::string_view("a\tb\x01\\")}});
    REQUIRE(lines.size() == 1);
    CHECK(without_time(lines[0]) ==
          R"({"time":"T","level":"warn","event":"odd","code":"a\tb\u0001\\"})");
}
