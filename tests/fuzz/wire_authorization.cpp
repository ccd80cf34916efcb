// Fuzz target: wire::parse_authorization (the Authorization header of a signed request,
// docs/protocol.md section 5) and the base64url reader under it, as the server reads them.
// Promises: no crash; a refusal is Code::invalid_argument naming the part; an accepted header
// is exactly "MS1 " and its four parts joined by '.', each in its documented form; base64url
// text is accepted only in its one canonical form; verify() of any signature text is simply
// true or false.
#include <algorithm>
#include <array>

#include "fuzz_support.h"
#include "mentorsync/wire.h"

using namespace mentorsync;

namespace {

bool decimal(std::string_view s) {
    return !s.empty() && s.size() <= 18 &&
           std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// from_base64url accepts `text` as `bytes` bytes only if encoding them gives `text` back.
void check_base64url(std::string_view text, std::size_t bytes) {
    auto raw = wire::from_base64url(text, bytes);
    if (!raw) return;
    MS_FUZZ_CHECK(raw->size() == bytes, "from_base64url returned the wrong length");
    MS_FUZZ_CHECK(wire::base64url(*raw) == text, "from_base64url accepted a non-canonical text");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view header = fuzz::as_text(data, size);
    auto parsed = wire::parse_authorization(header);
    if (!parsed.ok()) {
        MS_FUZZ_CHECK(parsed.status().code() == Code::invalid_argument,
                      parsed.status().to_string());
        MS_FUZZ_CHECK(parsed.status().message().starts_with("Authorization: "),
                      parsed.status().message());
    } else {
        const wire::Credentials& c = *parsed;
        const std::string joined = std::string(wire::kAuthScheme) + " " + c.device + "." +
                                   c.timestamp + "." + c.nonce + "." + c.signature;
        MS_FUZZ_CHECK(joined == header, "the parts do not make up the header");
        MS_FUZZ_CHECK(wire::from_base64url(c.device, 16).has_value(), "device id");
        MS_FUZZ_CHECK(wire::from_base64url(c.nonce, 16).has_value(), "nonce");
        MS_FUZZ_CHECK(decimal(c.timestamp), "timestamp");
        MS_FUZZ_CHECK(c.signature.size() == wire::base64url_length(64), "signature length");
        // Any 86 characters: verify() must tell valid from invalid without failing.
        static const std::array<std::uint8_t, 32> key = wire::DeviceKeys::generate().public_key;
        MS_FUZZ_CHECK(!wire::verify(key, "MS1-SIG\n", c.signature), "a forged signature verified");
    }
    // The reader under it, on the whole input, for the lengths the protocol uses.
    for (std::size_t bytes : {std::size_t{16}, std::size_t{32}, std::size_t{64}})
        check_base64url(header, bytes);
    if (size <= 4096) check_base64url(header, size * 3 / 4);
    return 0;
}
