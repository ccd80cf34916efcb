#include "http/log.h"

#include <chrono>
#include <cstdio>
#include <ctime>
#include <mutex>

namespace mentorsync::server::http {

struct Logger::Shared {
    std::mutex mutex;  // guards calls of sink, so lines from io threads never interleave
    Sink sink;
};

Logger::Logger(Sink sink) : shared_(std::make_shared<Shared>()) {
    if (!sink) {
        sink = [](std::string_view line) {
            std::fwrite(line.data(), 1, line.size(), stderr);
            std::fputc('\n', stderr);
            std::fflush(stderr);
        };
    }
    shared_->sink = std::move(sink);
}

void append_json_string(std::string& out, std::string_view text) {
    static constexpr char kHex[] = "0123456789abcdef";
    out.push_back('"');
    for (char c : text) {
        const auto u = static_cast<unsigned char>(c);
        switch (c) {
            case '"':
                out += "\\\"";
                break;
            case '\\':
                out += "\\\\";
                break;
            case '\n':
                out += "\\n";
                break;
            case '\r':
                out += "\\r";
                break;
            case '\t':
                out += "\\t";
                break;
            default:
                if (u < 0x20) {
                    out += "\\u00";
                    out.push_back(kHex[u >> 4]);
                    out.push_back(kHex[u & 0xF]);
                } else {
                    out.push_back(c);
                }
        }
    }
    out.push_back('"');
}

namespace {

// RFC 3339 UTC with milliseconds: what log shippers parse without configuration.
std::string now_rfc3339() {
    const auto now = std::chrono::system_clock::now();
    const auto ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count();
    const std::time_t secs = static_cast<std::time_t>(ms / 1000);
    std::tm tm{};
    gmtime_r(&secs, &tm);
    char buf[64];
    std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                  tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                  static_cast<int>(ms % 1000));
    return buf;
}

}  // namespace

void Logger::log_fields(std::string_view level, std::string_view event,
                        std::span<const Field> fields) const {
    std::string line;
    line.reserve(160);
    line += "{\"time\":";
    append_json_string(line, now_rfc3339());
    line += ",\"level\":";
    append_json_string(line, level);
    line += ",\"event\":";
    append_json_string(line, event);
    for (const Field& f : fields) {
        line.push_back(',');
        append_json_string(line, f.key);
        line.push_back(':');
        if (const auto* s = std::get_if<std::string_view>(&f.value)) {
            append_json_string(line, *s);
        } else if (const auto* i = std::get_if<std::int64_t>(&f.value)) {
            line += std::to_string(*i);
        } else if (const auto* d = std::get_if<double>(&f.value)) {
            char buf[32];
            std::snprintf(buf, sizeof buf, "%.3f", *d);
            line += buf;
        } else {
            line += std::get<bool>(f.value) ? "true" : "false";
        }
    }
    line.push_back('}');
    std::lock_guard lock(shared_->mutex);
    shared_->sink(line);
}

}  // namespace mentorsync::server::http
