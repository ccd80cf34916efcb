// The server's log lines: the HTTP layer's and the core's, written to one sink, have one shape
// (docs/operations.md, "Logs"): {"time","level","event",<fields in order>} on one line.
#include <catch2/catch.hpp>

#include <iostream>
#include <mutex>
#include <regex>
#include <sstream>
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

TEST_CASE("without a sink, the HTTP layer's and the core's lines go to std::cerr, whole lines",
          "[http][log]") {
    // One default sink for both (std::cerr under one process-wide lock), so tests and
    // operators redirecting std::cerr see every line of the server.
    std::ostringstream captured;
    std::streambuf* old = std::cerr.rdbuf(captured.rdbuf());
    http::Logger logger;
    logger.info("listening", {{"port", std::int64_t{8443}}});
    log_event({}, "info", "checkpoint", {{"frames", std::int64_t{3}}});
    std::cerr.rdbuf(old);
    const std::string out = captured.str();
    CHECK(out.find("\"event\":\"listening\",\"port\":8443}\n") != std::string::npos);
    CHECK(out.find("\"event\":\"checkpoint\",\"frames\":3}\n") != std::string::npos);
}

TEST_CASE("a logger's sink hands the core's lines to the logger's own sink", "[http][log]") {
    std::vector<std::string> lines;
    http::Logger logger([&](std::string_view line) { lines.emplace_back(line); });
    const LogSink core = logger.sink();
    log_event(core, "warn", "state_apply_failed", {{"seq", std::int64_t{7}}});
    logger.info("request", {{"status", std::int64_t{200}}});
    REQUIRE(lines.size() == 2);
    CHECK(without_time(lines[0]) ==
          R"({"time":"T","level":"warn","event":"state_apply_failed","seq":7})");
    CHECK(without_time(lines[1]) ==
          R"({"time":"T","level":"info","event":"request","status":200})");
}
