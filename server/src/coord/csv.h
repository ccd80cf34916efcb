// CSV for coordinators' exports, made to open intact in spreadsheet programs:
//   - UTF-8 with a byte-order mark (without it Excel reads UTF-8 as the local code page and
//     breaks Latvian letters such as ā č ē ģ ī ķ ļ ņ š ū ž);
//   - RFC 4180: fields separated by commas, records ended by CRLF, a field holding a comma,
//     a double quote, CR or LF is enclosed in double quotes with inner quotes doubled;
//   - formula injection guard: a cell starting with = + - @, tab or CR gets a leading
//     apostrophe, so a spreadsheet shows it as text instead of running it (OWASP's advice).
// Thread-safety: pure functions.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace mentorsync::server::coord {

inline constexpr std::string_view kUtf8Bom = "\xEF\xBB\xBF";

// One cell, guarded and quoted as needed.
std::string csv_cell(std::string_view value);
// The whole file: BOM, header line, rows.
std::string csv_document(const std::vector<std::string>& header,
                         const std::vector<std::vector<std::string>>& rows);

}  // namespace mentorsync::server::coord
