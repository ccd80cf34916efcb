// docs/schema.md is generated from the schema itself, so it can never drift: this test renders
// the schema and compares. To regenerate after changing engine/src/schema.cpp:
//   MENTORSYNC_UPDATE_DOCS=1 ./build/tests/engine_tests "[docs]"
#include <catch2/catch.hpp>

#include <cstdlib>
#include <fstream>
#include <iterator>
#include <sstream>

#include "mentorsync/schema.h"

using namespace mentorsync;

namespace {

std::string render(const Schema& schema) {
    std::ostringstream out;
    out << "# Schema (version " << schema.version() << ")\n\n"
        << "Generated from `engine/src/schema.cpp` by the `[docs]` test; do not edit by hand.\n"
        << "Sensitivity: **S** personal data, **S9** special-category data (health, family).\n"
        << "Every record also has the reserved field `_deleted` (boolean), set by remove() and\n"
        << "restore(). Fields unknown to this version, written by a newer app, are kept and\n"
        << "passed on untouched.\n";
    for (const auto& c : schema.collections()) {
        out << "\n## " << c.name << "\n\n" << c.description << ".\n\n";
        if (c.learner_field.empty())
            out << "Scope: the record's own id is the learner. ";
        else
            out << "Scope: `" << c.learner_field << "` (cannot change after creation). ";
        if (!c.date_field.empty()) out << "Date-range queries use `" << c.date_field << "`.";
        out << "\n\n| field | type | required | sensitivity | allowed | meaning |\n"
            << "| --- | --- | --- | --- | --- | --- |\n";
        for (const auto& f : c.fields) {
            std::string allowed;
            switch (f.type) {
                case FieldType::integer:
                    allowed = std::to_string(f.min) + " to " + std::to_string(f.max);
                    break;
                case FieldType::string:
                case FieldType::text:
                    allowed = "up to " + std::to_string(f.max_length) + " characters";
                    break;
                case FieldType::enumeration:
                case FieldType::enum_list:
                    for (const auto& a : f.allowed)
                        allowed += (allowed.empty() ? "" : ", ") + a;
                    break;
                case FieldType::uuid:
                    allowed = "id of " + f.references;
                    break;
                case FieldType::date:
                    allowed = "YYYY-MM-DD";
                    break;
                case FieldType::datetime:
                    allowed = "YYYY-MM-DDTHH:MM (local time)";
                    break;
                case FieldType::semester:
                    allowed = "YYYY/YYYY-1 or -2";
                    break;
                case FieldType::school_year:
                    allowed = "YYYY/YYYY";
                    break;
                case FieldType::boolean:
                    allowed = "true, false";
                    break;
            }
            std::string sens = f.sensitivity == Sensitivity::none
                                   ? ""
                                   : std::string(sensitivity_name(f.sensitivity));
            out << "| `" << f.name << "` | " << field_type_name(f.type) << " | "
                << (f.required ? "yes" : "") << " | " << sens << " | " << allowed << " | "
                << f.description << " |\n";
        }
    }
    return out.str();
}

}  // namespace

TEST_CASE("docs/schema.md matches the schema the engine enforces", "[schema][docs]") {
    const std::string path = std::string(MENTORSYNC_SOURCE_DIR) + "/docs/schema.md";
    const std::string expected = render(Schema::programme());
    if (const char* u = std::getenv("MENTORSYNC_UPDATE_DOCS"); u && std::string(u) == "1") {
        std::ofstream(path, std::ios::binary) << expected;
    }
    std::ifstream f(path, std::ios::binary);
    std::string actual((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    INFO("regenerate with MENTORSYNC_UPDATE_DOCS=1 ./build/tests/engine_tests \"[docs]\"");
    CHECK(actual == expected);
}
