#include "core/log.h"

#include <chrono>
#include <cstdio>
#include <ctime>
#include <iostream>
#include <mutex>
#include <nlohmann/json.hpp>

namespace mentorsync::server {

std::string log_time_now() {
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                        std::chrono::system_clock::now().time_since_epoch())
                        .count();
    const std::time_t secs = static_cast<std::time_t>(ms / 1000);
    std::tm tm{};
    gmtime_r(&secs, &tm);
    char buf[64];
    std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                  tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                  static_cast<int>(ms % 1000));
    return buf;
}

void log_event(const LogSink& sink, std::string_view level, std::string_view event,
               std::initializer_list<LogField> fields) {
    nlohmann::ordered_json j;
    j["time"] = log_time_now();
    j["level"] = level;
    j["event"] = event;
    for (const LogField& f : fields) {
        if (const auto* s = std::get_if<std::string>(&f.value))
            j[std::string(f.key)] = *s;
        else
            j[std::string(f.key)] = std::get<std::int64_t>(f.value);
    }
    // Invalid UTF-8 cannot occur (ids, codes and numbers only), but a log line must never
    // throw: replace rather than fail.
    const std::string line = j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    if (sink) {
        sink(line);
    } else {
        static std::mutex mu;  // lines from several threads never interleave
        std::lock_guard lock(mu);
        std::cerr << line << '\n';
    }
}

}  // namespace mentorsync::server
