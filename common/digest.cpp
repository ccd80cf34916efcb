#include "common/digest.h"

#include <sodium.h>

#include "common/encoding.h"

namespace mentorsync::common {

std::string sha256_hex(std::string_view bytes) {
    // sodium_init() picks the fastest implementations; it is idempotent and thread-safe, and
    // done once here rather than taking libsodium's lock on every call.
    static const int initialised = sodium_init();
    (void)initialised;
    unsigned char digest[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(digest, reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size());
    return hex_lower({reinterpret_cast<const char*>(digest), sizeof digest});
}

}  // namespace mentorsync::common
