// The coordinator API's error table (coord/api_error.h) against its contract,
// docs/api/openapi.yaml's Error schema: the same codes, each with the status the contract gives.
#include <catch2/catch.hpp>
#include <cctype>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "coord/api_error.h"

using namespace mentorsync;
using namespace mentorsync::server;

namespace {

// The text of openapi.yaml's components.schemas.Error block (up to the next schema).
std::string error_schema() {
    std::ifstream f(MENTORSYNC_SOURCE_DIR "/docs/api/openapi.yaml");
    REQUIRE(f.good());
    std::stringstream all;
    all << f.rdbuf();
    const std::string text = all.str();
    const auto start = text.find("\n    Error:\n");
    REQUIRE(start != std::string::npos);
    const auto end = text.find("\n    LockedOut:\n", start);
    REQUIRE(end != std::string::npos);
    return text.substr(start, end - start);
}

// The items of the block's `enum: [a, b, ...]` line.
std::vector<std::string> enum_of(const std::string& block) {
    const auto at = block.find("enum: [");
    REQUIRE(at != std::string::npos);
    const auto close = block.find(']', at);
    std::stringstream items(block.substr(at + 7, close - at - 7));
    std::vector<std::string> out;
    for (std::string item; std::getline(items, item, ',');) {
        item.erase(0, item.find_first_not_of(' '));
        out.push_back(item);
    }
    return out;
}

}  // namespace

TEST_CASE("the coordinator API's error codes are openapi.yaml's, with its statuses", "[coord]") {
    const std::string block = error_schema();
    std::vector<std::string> table;
    for (const coord::Error e : coord::all_errors()) {
        const std::string name(coord::error_name(e));
        table.push_back(name);
        // The description names each code after its status: "... 404 not_found; ...".
        INFO(name);
        const auto named = block.find(" " + name);
        REQUIRE(named != std::string::npos);
        const auto status = block.rfind(std::to_string(coord::http_status(e)), named);
        REQUIRE(status != std::string::npos);
        // No other status between the status and the name.
        const std::string between = block.substr(status, named - status);
        int digits_runs = 0;
        for (std::size_t i = 0; i < between.size(); ++i)
            if (std::isdigit(static_cast<unsigned char>(between[i])) &&
                (i == 0 || !std::isdigit(static_cast<unsigned char>(between[i - 1]))))
                ++digits_runs;
        CHECK(digits_runs == 1);
        // A failed Status built from the table stands for that code and nothing else.
        const Status st = coord::error(e, "x");
        CHECK_FALSE(st.ok());
        CHECK(coord::error_of(st) == e);
    }
    CHECK(table == enum_of(block));
    CHECK(table.size() == 16);
    CHECK_FALSE(coord::error_of(Status::internal("no reason")).has_value());
}
