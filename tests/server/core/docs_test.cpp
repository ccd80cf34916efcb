// The documentation names only real admin commands: every `mentorsync-server admin <command>`
// (and `admin <command>` in code spans) in docs/, its OpenAPI file and the README is a command
// the command line knows.
#include <catch2/catch.hpp>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>

#include "cli/admin_cli.h"
#include "core/admin.h"

namespace {

std::string read_file(const std::filesystem::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

}  // namespace

TEST_CASE("every admin command the documentation names exists", "[server][docs]") {
    namespace fs = std::filesystem;
    const fs::path root = MENTORSYNC_SOURCE_DIR;
    std::vector<fs::path> files = {root / "README.md", root / "docs" / "api" / "openapi.yaml"};
    for (const auto& e : fs::directory_iterator(root / "docs"))
        if (e.path().extension() == ".md") files.push_back(e.path());
    const auto known = mentorsync::server::admin_command_names();
    REQUIRE(std::find(known.begin(), known.end(), "coord-issue-token") != known.end());
    const std::regex named(R"((?:mentorsync-server admin|`admin) ([a-z][a-z0-9-]*))");
    std::size_t seen = 0;
    for (const fs::path& file : files) {
        const std::string text = read_file(file);
        REQUIRE_FALSE(text.empty());
        for (std::sregex_iterator it(text.begin(), text.end(), named), end; it != end; ++it) {
            const std::string command = (*it)[1];
            INFO(file.filename().string() << " names `admin " << command << "`");
            CHECK(std::find(known.begin(), known.end(), command) != known.end());
            ++seen;
        }
    }
    CHECK(seen > 20);  // the docs do show the commands
}
