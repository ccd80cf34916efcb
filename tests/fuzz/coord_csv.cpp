// Fuzz target: the coordinators' CSV export (server/src/coord/csv.h), csv_cell and csv_document.
// The input is a table: cells separated by 0x1F, rows by 0x1E, the first row the header.
// Promises: the document starts with the UTF-8 BOM and reads back, with a strict RFC 4180
// reader written here, as exactly the table's rows and cells, each cell unchanged except for
// the apostrophe that guards a leading = + - @ tab or CR; no cell a spreadsheet reads starts
// with a formula character.
#include <optional>
#include <string>
#include <vector>

#include "coord/csv.h"
#include "csv_reader.h"
#include "fuzz_support.h"

using namespace mentorsync;
using mentorsync::server::coord::csv_cell;
using mentorsync::server::coord::csv_document;
using mentorsync::server::coord::kUtf8Bom;

namespace {

using Row = fuzz::CsvRow;

std::vector<std::string> split(std::string_view s, char sep) {
    std::vector<std::string> out;
    for (;;) {
        const auto at = s.find(sep);
        out.emplace_back(s.substr(0, at));
        if (at == std::string_view::npos) return out;
        s.remove_prefix(at + 1);
    }
}

std::string expected_cell(std::string_view v) {
    return fuzz::formula_start(v) ? "'" + std::string(v) : std::string(v);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::vector<Row> table;
    for (const std::string& line : split(fuzz::as_text(data, size), '\x1e'))
        table.push_back(split(line, '\x1f'));
    const Row header = table.front();
    const std::vector<Row> rows(table.begin() + 1, table.end());

    const std::string doc = csv_document(header, rows);
    MS_FUZZ_CHECK(doc.starts_with(kUtf8Bom), "the document does not start with the BOM");
    auto read = fuzz::read_csv(std::string_view(doc).substr(kUtf8Bom.size()));
    MS_FUZZ_CHECK(read.has_value(), "the document is not RFC 4180 CSV");
    MS_FUZZ_CHECK(read->size() == table.size(), "the document has a different number of rows");
    for (std::size_t r = 0; r < table.size(); ++r) {
        MS_FUZZ_CHECK((*read)[r].size() == table[r].size(),
                      "a row has a different number of cells");
        for (std::size_t c = 0; c < table[r].size(); ++c) {
            const std::string& got = (*read)[r][c];
            MS_FUZZ_CHECK(got == expected_cell(table[r][c]), "a cell changed");
            MS_FUZZ_CHECK(!fuzz::formula_start(got), "a cell a spreadsheet would run as a formula");
            // One cell alone reads back the same way.
            auto alone = fuzz::read_csv(csv_cell(table[r][c]) + "\r\n");
            MS_FUZZ_CHECK(alone && alone->size() == 1 && alone->front().size() == 1 &&
                              alone->front().front() == got,
                          "csv_cell alone reads back differently");
        }
    }
    return 0;
}
