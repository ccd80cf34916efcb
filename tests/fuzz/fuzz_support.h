// Shared pieces of the libFuzzer targets (docs/development.md, "Fuzzing").
//
// A target is a function of arbitrary bytes that must never crash, hang, leak or hit undefined
// behaviour (the fuzz build has ASan and UBSan on), and that checks what the code under test
// promises about its answer with MS_FUZZ_CHECK: a broken promise aborts, so libFuzzer keeps the
// input as a reproducer. Messages name the promise, never the input (which may be large).
#pragma once

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "mentorsync/status.h"

namespace mentorsync::fuzz {

[[noreturn]] inline void check_failed(const char* file, int line, const char* condition,
                                      std::string_view detail) {
    std::fprintf(stderr, "%s:%d: fuzz check failed: %s\n  %.*s\n", file, line, condition,
                 static_cast<int>(detail.size()), detail.data());
    std::abort();
}

inline std::string_view as_text(const std::uint8_t* data, std::size_t size) {
    return {reinterpret_cast<const char*>(data), size};
}

}  // namespace mentorsync::fuzz

#define MS_FUZZ_CHECK(condition, detail)                                                \
    do {                                                                                \
        if (!(condition))                                                               \
            ::mentorsync::fuzz::check_failed(__FILE__, __LINE__, #condition, (detail)); \
    } while (false)

namespace mentorsync::fuzz {

// The round-trip promise of a decoder and its encoder: whatever the decoder accepts, the
// encoder writes in a form the decoder accepts again, and decoding and encoding that once more
// changes nothing (so no field is lost or altered on the way). Comparing encodings rather than
// decoded values keeps NaN (which is not equal to itself) from counting as a difference.
// `decode(bytes)` returns a Result, `encode(value)` a std::string; `check_refusal(status)`
// checks what the decoder promises about input it refuses.
template <class Decode, class Encode, class CheckRefusal>
void check_round_trip(std::string_view input, Decode decode, Encode encode,
                      CheckRefusal check_refusal) {
    auto first = decode(input);
    if (!first.ok()) {
        MS_FUZZ_CHECK(!first.status().message().empty(), "a refusal without a message");
        check_refusal(first.status());
        return;
    }
    const std::string once = encode(first.value());
    auto second = decode(once);
    MS_FUZZ_CHECK(second.ok(),
                  "the decoder refuses what the encoder wrote: " + second.status().to_string());
    MS_FUZZ_CHECK(encode(second.value()) == once, "decoding and encoding again changed the bytes");
}

}  // namespace mentorsync::fuzz
