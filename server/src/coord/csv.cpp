#include "coord/csv.h"

namespace mentorsync::server::coord {

std::string csv_cell(std::string_view value) {
    std::string v;
    if (!value.empty() && (value[0] == '=' || value[0] == '+' || value[0] == '-' ||
                           value[0] == '@' || value[0] == '\t' || value[0] == '\r'))
        v.push_back('\'');
    v.append(value);
    if (v.find_first_of(",\"\r\n") == std::string::npos) return v;
    std::string out = "\"";
    for (char c : v) {
        if (c == '"') out.push_back('"');
        out.push_back(c);
    }
    out.push_back('"');
    return out;
}

std::string csv_document(const std::vector<std::string>& header,
                         const std::vector<std::vector<std::string>>& rows) {
    std::string out(kUtf8Bom);
    auto line = [&](const std::vector<std::string>& cells) {
        for (std::size_t i = 0; i < cells.size(); ++i) {
            if (i > 0) out.push_back(',');
            out += csv_cell(cells[i]);
        }
        out += "\r\n";
    };
    line(header);
    for (const auto& r : rows)
        line(r);
    return out;
}

}  // namespace mentorsync::server::coord
