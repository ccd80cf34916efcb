// Fuzz target: wire::decode_error, the error body of section 2, as a tablet reads it.
// Promises: no crash; a refusal is Code::invalid_argument with a message, and maps to a 400 or
// 413 answer with one of the protocol's codes; an accepted body survives encode/decode.
#include "fuzz_support.h"
#include "mentorsync/wire.h"
#include "wire_checks.h"

using namespace mentorsync;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view input = fuzz::as_text(data, size);
    fuzz::check_round_trip(
        input, [](std::string_view b) { return wire::decode_error(b); },
        [](const wire::ErrorBody& v) { return wire::encode_error(v); }, fuzz::check_wire_refusal);
    return 0;
}
