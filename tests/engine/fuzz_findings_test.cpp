// What the fuzz targets (tests/fuzz/) found in the engine, kept as cases in the default suite.
#include <catch2/catch.hpp>

#include <cmath>
#include <string>

#include "codec.h"
#include "mentorsync/schema.h"
#include "mentorsync/transaction.h"
#include "mentorsync/wire.h"

using namespace mentorsync;

namespace {

// Doubles with no fraction, small and beyond int64 and uint64, and ones that have a fraction.
const double kFloats[] = {2.0, -3.0, 0.0, 1.0e19, 18446744073709551616.0, -9.3e18, 2.5, 1.0e300};

void check_same_float(const Value& got, double want) {
    INFO("sent " << want << ", got " << got.to_display());
    REQUIRE(got.is_real());
    CHECK(got.as_real() == want);
}

}  // namespace

// fuzz_codec_value: msgpack-cxx 4.1 packs a double with no fraction as an integer, so 2.0 came
// back as the integer 2, and 1e19 as a uint64 the decoder refuses: a stored row holding it
// became unreadable ("corrupt"), and a page of history holding it could not be read by anyone.
TEST_CASE("a float with no fraction stays a float through the storage codec and the wire",
          "[codec][wire][fuzz]") {
    for (double d : kFloats) {
        auto v = decode_value(encode_value(Value(d)));
        REQUIRE(v.ok());
        check_same_float(*v, d);

        RowState row;
        row.fields["future_number"] = {Value(Value::List{Value(d)}), {1, Uuid::random()}};
        auto state = decode_row_state(encode_row_state(row));
        REQUIRE(state.ok());
        check_same_float(state->fields.at("future_number").value.as_list().at(0), d);

        Transaction t{{std::uint64_t{1'795'392'000'000} << 16, Uuid::random()}, {}};
        t.changes.push_back({"contacts", Uuid::random(), "future_number", Value(d), {}, {}});
        auto stored = decode_stored_transaction(encode_transaction(t));
        REQUIRE(stored.ok());
        check_same_float(stored->changes.at(0).value, d);

        const Schema& schema = Schema::programme();
        auto sent = wire::decode_transactions(schema, wire::encode_transactions(schema, {&t, 1}));
        INFO((sent.ok() ? std::string() : sent.status().to_string()));
        REQUIRE(sent.ok());
        check_same_float(sent->at(0).changes.at(0).value, d);
    }
}

TEST_CASE("the fuzzer's reproducer of the whole-float finding decodes and re-encodes",
          "[codec][fuzz]") {
    // crash-f1cc0794…: [-1, [-1, 0, 0, 0, 0, 0], float32, float32 (1.59e19), …]
    const std::string repro(
        "\x96\xff\x96\xff\x00\x00\x00\x00\x00\xca\xfa\xca\x98\x5b\xca\x5f"
        "\x5c\x96\x2c\x2c\x00",
        21);
    auto first = decode_value(repro);
    REQUIRE(first.ok());
    auto second = decode_value(encode_value(*first));
    INFO((second.ok() ? std::string() : second.status().to_string()));
    REQUIRE(second.ok());
    CHECK(encode_value(*second) == encode_value(*first));
}
