// JSON-lines logging for the server core: the same line format as the HTTP layer's Logger,
// for the parts that have no HTTP (the merged state, the checkpointers, the admin API).
// Thread-safety: log_event may be called from any thread.
#pragma once

#include <cstdint>
#include <functional>
#include <initializer_list>
#include <string>
#include <string_view>
#include <variant>

namespace mentorsync::server {

// Receives one complete JSON log line (no trailing newline).
using LogSink = std::function<void(std::string_view line)>;

// One field of a log line: a key and a text or whole-number value.
struct LogField {
    std::string_view key;
    std::variant<std::string, std::int64_t> value;
};

// Now as RFC 3339 UTC with milliseconds ("2026-11-23T10:48:00.123Z"), the "time" of every log
// line, core and HTTP alike, so one log shipper configuration reads both. Real time even when a
// test injects a manual clock.
std::string log_time_now();

// Writes one JSON line {"time","level","event",<fields>} to `sink` (stderr when empty), in the
// HTTP layer's format. The caller vouches that no field holds personal data.
void log_event(const LogSink& sink, std::string_view level, std::string_view event,
               std::initializer_list<LogField> fields = {});

}  // namespace mentorsync::server
