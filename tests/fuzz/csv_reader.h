// A strict RFC 4180 reader for the fuzz targets' checks of CSV exports: CRLF line ends, every
// record ended by CRLF, quotes only around whole fields. nullopt for anything else.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace mentorsync::fuzz {

using CsvRow = std::vector<std::string>;

inline std::optional<std::vector<CsvRow>> read_csv(std::string_view doc) {
    std::vector<CsvRow> rows;
    std::size_t i = 0;
    while (i < doc.size()) {
        CsvRow row;
        for (;;) {
            std::string cell;
            if (i < doc.size() && doc[i] == '"') {
                for (++i;; ++i) {
                    if (i >= doc.size()) return std::nullopt;  // unterminated quote
                    if (doc[i] == '"') {
                        if (i + 1 < doc.size() && doc[i + 1] == '"') {
                            cell.push_back('"');
                            ++i;
                            continue;
                        }
                        ++i;
                        break;
                    }
                    cell.push_back(doc[i]);
                }
            } else {
                while (i < doc.size() && doc[i] != ',' && doc[i] != '\r') {
                    if (doc[i] == '"' || doc[i] == '\n') return std::nullopt;  // needed quoting
                    cell.push_back(doc[i++]);
                }
            }
            row.push_back(std::move(cell));
            if (i < doc.size() && doc[i] == ',') {
                ++i;
                continue;
            }
            if (doc.substr(i, 2) != "\r\n") return std::nullopt;
            i += 2;
            break;
        }
        rows.push_back(std::move(row));
    }
    return rows;
}

// A cell a spreadsheet would run as a formula (the export guards these with an apostrophe).
inline bool formula_start(std::string_view v) {
    return !v.empty() && (v[0] == '=' || v[0] == '+' || v[0] == '-' || v[0] == '@' ||
                          v[0] == '\t' || v[0] == '\r');
}

}  // namespace mentorsync::fuzz
