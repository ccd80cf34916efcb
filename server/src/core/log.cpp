#include "core/log.h"

#include <cstdio>
#include <iostream>
#include <mutex>

#include "common/calendar.h"
#include "common/text.h"

namespace mentorsync::server {

namespace {

// The default sink: std::cerr, one line at a time for the whole process.
void write_stderr(std::string_view line) {
    static std::mutex mu;
    std::lock_guard lock(mu);
    std::cerr << line << '\n';
    std::cerr.flush();
}

using Value = std::variant<std::string_view, std::int64_t, double, bool>;

void append_value(std::string& line, const Value& value) {
    if (const auto* s = std::get_if<std::string_view>(&value)) {
        common::append_json_string(line, *s);
    } else if (const auto* i = std::get_if<std::int64_t>(&value)) {
        line += std::to_string(*i);
    } else if (const auto* d = std::get_if<double>(&value)) {
        char buf[32];
        std::snprintf(buf, sizeof buf, "%.3f", *d);
        line += buf;
    } else {
        line += std::get<bool>(value) ? "true" : "false";
    }
}

// {"time":…,"level":…,"event":… without the closing brace.
std::string line_head(std::string_view level, std::string_view event) {
    std::string line;
    line.reserve(160);
    line += "{\"time\":";
    common::append_json_string(line, log_time_now());
    line += ",\"level\":";
    common::append_json_string(line, level);
    line += ",\"event\":";
    common::append_json_string(line, event);
    return line;
}

void append_key(std::string& line, std::string_view key) {
    line.push_back(',');
    common::append_json_string(line, key);
    line.push_back(':');
}

}  // namespace

std::string log_time_now() {
    return common::rfc3339_ms_now();
}

struct Logger::Shared {
    std::mutex mutex;  // guards calls of sink, so lines from several threads never interleave
    Sink sink;
};

Logger::Logger(Sink sink) : shared_(std::make_shared<Shared>()) {
    shared_->sink = sink ? std::move(sink) : Sink(&write_stderr);
}

void Logger::log_fields(std::string_view level, std::string_view event,
                        std::span<const Field> fields) const {
    std::string line = line_head(level, event);
    for (const Field& f : fields) {
        append_key(line, f.key);
        append_value(line, f.value);
    }
    line.push_back('}');
    std::lock_guard lock(shared_->mutex);
    shared_->sink(line);
}

LogSink Logger::sink() const {
    return [shared = shared_](std::string_view line) {
        std::lock_guard lock(shared->mutex);
        shared->sink(line);
    };
}

void log_event(const LogSink& sink, std::string_view level, std::string_view event,
               std::initializer_list<LogField> fields) {
    std::string line = line_head(level, event);
    for (const LogField& f : fields) {
        append_key(line, f.key);
        if (const auto* s = std::get_if<std::string>(&f.value))
            common::append_json_string(line, *s);
        else
            line += std::to_string(std::get<std::int64_t>(f.value));
    }
    line.push_back('}');
    if (sink)
        sink(line);
    else
        write_stderr(line);
}

}  // namespace mentorsync::server
