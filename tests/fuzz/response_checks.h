// What every answer of the router and the coordinator API promises, whatever the request
// (docs/protocol.md §2, docs/api/openapi.yaml): checked by the HTTP and coordinator targets.
//   - a status from 200 to 599, and never 500: a 500 is an exception or a storage failure that
//     a request could provoke, which is a bug to find here;
//   - header names and values free of CR, LF and NUL (no header injection), a body only with
//     a content type;
//   - the route label (metrics, logs) a fixed template, never text from the request;
//   - an error answer whose body is the documented error: msgpack {code, message} for the
//     protocol, JSON {code, message} for the coordinator API (plain text only for the
//     dashboard's files), with the code the logs record;
//   - a CSV export that starts with the BOM, reads back as RFC 4180 and holds no cell that a
//     spreadsheet would run as a formula, under a Content-Disposition filename of plain
//     characters.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "csv_reader.h"
#include "fuzz_support.h"
#include "http/message.h"
#include "mentorsync/wire.h"

namespace mentorsync::fuzz {

inline bool header_safe(std::string_view s) {
    return s.find_first_of(std::string_view("\r\n\0", 3)) == std::string_view::npos;
}

inline bool route_template(std::string_view route) {
    if (route == "other") return true;
    if (!route.starts_with("/")) return false;
    for (std::size_t i = 1; i <= route.size();) {
        const std::size_t end = std::min(route.find('/', i), route.size());
        std::string_view seg = route.substr(i, end - i);
        if (seg.starts_with("{") && seg.ends_with("}")) seg = seg.substr(1, seg.size() - 2);
        const bool word = !seg.empty() && seg.find_first_not_of("abcdefghijklmnopqrstuvwxyz_-") ==
                                              std::string_view::npos;
        if (!word && seg != "v1") return false;
        i = end + 1;
    }
    return true;
}

inline bool plain_filename(std::string_view v) {
    constexpr std::string_view kPrefix = "attachment; filename=\"";
    if (!v.starts_with(kPrefix) || !v.ends_with(".csv\"")) return false;
    const std::string_view name = v.substr(kPrefix.size(), v.size() - kPrefix.size() - 1);
    return name.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789_.-") ==
           std::string_view::npos;
}

inline void check_response(const server::http::Response& r) {
    const std::string where = "status " + std::to_string(r.status) + " route " + r.route;
    // MENTORSYNC_FUZZ_TRACE=1: one line per answer, to see what seeds reach (run a target on
    // its corpus with -runs=0).
    static const bool trace = std::getenv("MENTORSYNC_FUZZ_TRACE") != nullptr;
    if (trace) {
        std::string results;
        if (r.route == "/v1/sync/push" && r.status == 200) {
            if (auto p = wire::decode_push_response(r.body); p.ok())
                for (const auto& one : p->results)
                    results +=
                        one.kind == wire::PushResult::Kind::rejected ? " " + one.code : " accepted";
        }
        std::fprintf(stderr, "answer: %s %s%s %.120s\n", where.c_str(), r.error_code.c_str(),
                     results.c_str(), r.status < 400 ? "" : r.body.c_str());
    }
    MS_FUZZ_CHECK(r.status >= 200 && r.status <= 599, where);
    MS_FUZZ_CHECK(r.status != 500, where + ": " + r.body.substr(0, 300));
    MS_FUZZ_CHECK(route_template(r.route), where);
    MS_FUZZ_CHECK(header_safe(r.content_type), where);
    MS_FUZZ_CHECK(r.body.empty() || !r.content_type.empty(), where + ": a body without a type");
    for (const auto& [name, value] : r.headers) {
        MS_FUZZ_CHECK(!name.empty() && header_safe(name) && header_safe(value),
                      where + ": " + name);
        if (name == "Content-Disposition")
            MS_FUZZ_CHECK(plain_filename(value), where + ": " + value);
    }
    const std::string_view type = r.content_type;
    if (r.status >= 400) {
        MS_FUZZ_CHECK(!r.error_code.empty(), where + ": an error without a code");
        if (type == "application/msgpack") {
            auto e = wire::decode_error(r.body);
            MS_FUZZ_CHECK(e.ok(), where + ": " + e.status().to_string());
            MS_FUZZ_CHECK(e->code == r.error_code && !e->message.empty(), where);
        } else if (type.starts_with("text/plain")) {
            // The dashboard's files answer 404 (route "other") and 405 (route "/dashboard")
            // as text (static_assets.h, router.cpp).
            MS_FUZZ_CHECK(r.route == "other" || r.route == "/dashboard",
                          where + ": a text error from an API route");
        } else {
            MS_FUZZ_CHECK(type.starts_with("application/json"), where + ": " + r.content_type);
            const auto j = nlohmann::json::parse(r.body, nullptr, false);
            MS_FUZZ_CHECK(j.is_object() && j.contains("code") && j["code"].is_string() &&
                              j.contains("message") && j["message"].is_string(),
                          where + ": " + r.body.substr(0, 300));
            MS_FUZZ_CHECK(j["code"].get<std::string>() == r.error_code, where);
        }
    } else if (type.starts_with("application/json")) {
        MS_FUZZ_CHECK(!nlohmann::json::parse(r.body, nullptr, false).is_discarded(), where);
    } else if (type.starts_with("text/csv")) {
        MS_FUZZ_CHECK(r.body.starts_with("\xEF\xBB\xBF"), where + ": a CSV without the BOM");
        auto rows = read_csv(std::string_view(r.body).substr(3));
        MS_FUZZ_CHECK(rows.has_value(), where + ": the CSV is not RFC 4180");
        for (const auto& row : *rows)
            for (const auto& cell : row)
                MS_FUZZ_CHECK(!formula_start(cell), where + ": a formula cell in the CSV");
    }
}

}  // namespace mentorsync::fuzz
