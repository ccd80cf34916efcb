#include "http/log.h"

#include <cstdio>
#include <mutex>

#include "core/log.h"

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

void Logger::log_fields(std::string_view level, std::string_view event,
                        std::span<const Field> fields) const {
    std::string line;
    line.reserve(160);
    line += "{\"time\":";
    append_json_string(line, log_time_now());  // RFC 3339 UTC, ms
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
