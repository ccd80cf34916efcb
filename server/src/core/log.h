// The server's one JSON-lines log: one object per line, {"time","level","event",<fields>}, on
// stderr (or a test's sink). The HTTP layer, the merged state, the checkpointers, the
// coordinator API and the admin API all write through it, so one log shipper configuration
// reads every line.
//
// What goes in: time, level, event name and a few scalar fields (route, status, duration,
// device id, error code, counts). What never goes in: request or response bodies, raw request
// targets, header values other than the device id, client addresses, or any text a client sent
// — the server handles data about children, and logs are copied to places the database is not.
// The caller vouches that no field holds personal data.
// Thread-safety: Logger::log() and log_event() may be called from any thread; lines written to
// one sink never interleave.
#pragma once

#include <cstdint>
#include <functional>
#include <initializer_list>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <variant>

namespace mentorsync::server {

// Receives one complete JSON log line (no trailing newline).
using LogSink = std::function<void(std::string_view line)>;

// Now as RFC 3339 UTC with milliseconds ("2026-11-23T10:48:00.123Z"), the "time" of every log
// line. Real time even when a test injects a manual clock.
std::string log_time_now();

class Logger {
  public:
    using Sink = LogSink;

    struct Field {
        std::string_view key;
        std::variant<std::string_view, std::int64_t, double, bool> value;  // double: "%.3f"
    };

    // An empty sink writes each line and a newline to std::cerr, under one process-wide mutex,
    // and flushes (tests redirect std::cerr's buffer to read what the server logged).
    explicit Logger(Sink sink = {});

    void log(std::string_view level, std::string_view event,
             std::initializer_list<Field> fields = {}) const {
        log_fields(level, event, {fields.begin(), fields.size()});
    }
    void log_fields(std::string_view level, std::string_view event,
                    std::span<const Field> fields) const;
    void info(std::string_view event, std::initializer_list<Field> fields = {}) const {
        log("info", event, fields);
    }
    void warn(std::string_view event, std::initializer_list<Field> fields = {}) const {
        log("warn", event, fields);
    }
    void error(std::string_view event, std::initializer_list<Field> fields = {}) const {
        log("error", event, fields);
    }

    // A sink that writes finished lines through this logger (its sink, under its mutex), for
    // the parts that take a LogSink (ServiceOptions::log, StoreOptions::log, CoordApi::open).
    // It keeps the logger's sink alive.
    LogSink sink() const;

  private:
    struct Shared;
    std::shared_ptr<Shared> shared_;  // copies of a Logger share one sink and one mutex
};

// One field of a log_event line: a key and a text or whole-number value.
struct LogField {
    std::string_view key;
    std::variant<std::string, std::int64_t> value;
};

// Writes one line {"time","level","event",<fields>} to `sink` (stderr as Logger's default
// sink does, when empty), formatted as Logger formats it.
void log_event(const LogSink& sink, std::string_view level, std::string_view event,
               std::initializer_list<LogField> fields = {});

}  // namespace mentorsync::server
