// Fuzz target: decode_stored_transaction, a change-log blob after unsealing
// (docs/storage-format.md), as the replica and the server's history read it. Unsealing
// authenticates a blob first, so these bytes come from our own writer or from damage the MAC
// missed; still, nothing may crash. Promises: a refusal is Code::corrupt (or unsupported for a
// newer format) with a message; an accepted blob survives encode/decode.
#include "codec.h"
#include "fuzz_support.h"

using namespace mentorsync;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    fuzz::check_round_trip(
        fuzz::as_text(data, size), [](std::string_view b) { return decode_stored_transaction(b); },
        [](const Transaction& v) { return encode_transaction(v); },
        [](const Status& s) {
            MS_FUZZ_CHECK(s.code() == Code::corrupt || s.code() == Code::unsupported,
                          s.to_string());
        });
    return 0;
}
