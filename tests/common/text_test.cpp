// common/text.h: UTF-8 length, ASCII case, trimming and JSON string literals. The JSON writer
// is checked against nlohmann::json's dump(), the format the server's core log lines have
// always had.
#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include <string>

#include "common/text.h"

using namespace mentorsync;
using namespace std::string_literals;

TEST_CASE("utf8_length counts code points of valid UTF-8 and refuses everything else",
          "[common][text]") {
    CHECK(common::utf8_length("") == 0u);
    CHECK(common::utf8_length("abc") == 3u);
    CHECK(common::utf8_length("\xC4\x81\xC5\xBE") == 2u);  // ā ž
    CHECK(common::utf8_length("\xE2\x82\xAC") == 1u);      // €
    CHECK(common::utf8_length("\xF0\x9F\x98\x80") == 1u);  // U+1F600
    CHECK(common::utf8_length("\xF4\x8F\xBF\xBF") == 1u);  // U+10FFFF, the last
    CHECK_FALSE(common::utf8_length("\xF4\x90\x80\x80"));  // above U+10FFFF
    CHECK_FALSE(common::utf8_length("\xC0\xAF"));          // overlong '/'
    CHECK_FALSE(common::utf8_length("\xE0\x80\xAF"));      // overlong, three bytes
    CHECK_FALSE(common::utf8_length("\xED\xA0\x80"));      // a surrogate (U+D800)
    CHECK_FALSE(common::utf8_length("\x80"));              // a lone continuation byte
    CHECK_FALSE(common::utf8_length("\xC4"));              // truncated
    CHECK_FALSE(common::utf8_length("ab\xE2\x82"));        // truncated at the end
    CHECK_FALSE(common::utf8_length("\xFF"));              // never in UTF-8
    CHECK(common::utf8_length("a\0b"s) == 3u);             // NUL is a code point
}

TEST_CASE("is_blank is true only for spaces, tabs and line breaks", "[common][text]") {
    CHECK(common::is_blank(""));
    CHECK(common::is_blank(" \t\r\n"));
    CHECK_FALSE(common::is_blank(" x "));
}

TEST_CASE("safe_excerpt keeps at most 40 printable ASCII characters", "[common][text]") {
    CHECK(common::safe_excerpt("plain") == "plain");
    CHECK(common::safe_excerpt("a\nb\xC4\x81") == "a?b??");
    CHECK(common::safe_excerpt(std::string(100, 'x')).size() <= 43u);
}

TEST_CASE("iequals_ascii compares ASCII letters without case and every other byte exactly",
          "[common][text]") {
    CHECK(common::iequals_ascii("Content-Type", "content-type"));
    CHECK(common::iequals_ascii("", ""));
    CHECK_FALSE(common::iequals_ascii("Bearer", "Bearer "));
    CHECK_FALSE(common::iequals_ascii("a", "b"));
    CHECK_FALSE(common::iequals_ascii("[", "{"));                // not letters: no folding
    CHECK_FALSE(common::iequals_ascii("\xC4\x80", "\xC4\x81"));  // Ā ā: ASCII only
    CHECK(common::to_lower_ascii("MsGpack-\xC4\x80") == "msgpack-\xC4\x80");
}

TEST_CASE("trim removes the given characters from both ends only", "[common][text]") {
    CHECK(common::trim("  application/msgpack\t") == "application/msgpack");
    CHECK(common::trim(" a b ") == "a b");
    CHECK(common::trim(" \t ") == "");
    CHECK(common::trim("") == "");
    CHECK(common::trim("\nname\n") == "\nname\n");  // the default set is HTTP's space and tab
    CHECK(common::trim("\v\f name\r\n", common::kAsciiWhitespace) == "name");
    CHECK(common::trim("xxaxx", "x") == "a");
}

TEST_CASE("append_json_string writes what nlohmann::json's dump writes, invalid UTF-8 included",
          "[common][text]") {
    const std::string samples[] = {
        "",
        "plain",
        "quote \" and backslash \\",
        "\b\f\n\r\t",
        "\x01\x1f\x7f"s,
        "nul \0 inside"s,
        "R\xC4\x93zekne \xE2\x82\xAC \xF0\x9F\x98\x80",
        "bad \xC4 lead",
        "lone \x80\x80 continuations",
        "overlong \xC0\xAF and \xE0\x80\xAF",
        "surrogate \xED\xA0\x80",
        "above \xF4\x90\x80\x80 max",
        "truncated \xF0\x9F\x98",
        "\xFF\xFE",
    };
    for (const std::string& s : samples) {
        std::string mine = "prefix:";
        common::append_json_string(mine, s);
        const std::string theirs =
            "prefix:" +
            nlohmann::json(s).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
        INFO("sample " << nlohmann::json(s).dump(-1, ' ', true,
                                                 nlohmann::json::error_handler_t::replace));
        CHECK(mine == theirs);
    }
}
