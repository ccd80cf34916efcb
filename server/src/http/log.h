// JSON-lines event log of the server: one object per line on stderr (or a test's sink).
//
// What goes in: time, level, event name and a few scalar fields (route, status, duration,
// device id, error code). What never goes in: request or response bodies, raw request targets,
// header values other than the device id, client addresses, or any text a client sent — the
// server handles data about children, and logs are copied to places the database is not.
// Thread-safety: log() may be called from any thread; lines never interleave.
#pragma once

#include <cstdint>
#include <functional>
#include <initializer_list>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <variant>

namespace mentorsync::server::http {

class Logger {
  public:
    // Receives one complete line (no trailing newline). Called under the logger's mutex.
    using Sink = std::function<void(std::string_view line)>;

    struct Field {
        std::string_view key;
        std::variant<std::string_view, std::int64_t, double, bool> value;
    };

    // An empty sink writes to stderr.
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

  private:
    struct Shared;
    std::shared_ptr<Shared> shared_;  // copies of a Logger share one sink and one mutex
};

// Appends `text` to `out` as a JSON string literal (quotes included).
void append_json_string(std::string& out, std::string_view text);

}  // namespace mentorsync::server::http
