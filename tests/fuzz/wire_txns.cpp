// Fuzz target: wire::decode_transactions, the `txns` value of docs/protocol.md section 6 (push and
// pull bodies carry it). Promises: no crash; a refusal is Code::invalid_argument with a message,
// and maps to a 400 or 413 answer with one of the protocol's codes; an accepted body survives
// encode/decode.
#include "fuzz_support.h"
#include "mentorsync/wire.h"
#include "wire_checks.h"

using namespace mentorsync;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static const Schema& schema = Schema::programme();
    const std::string_view input = fuzz::as_text(data, size);
    fuzz::check_round_trip(
        input, [](std::string_view b) { return wire::decode_transactions(schema, b); },
        [](const std::vector<Transaction>& v) { return wire::encode_transactions(schema, v); },
        fuzz::check_wire_refusal);
    return 0;
}
