// Digests shared by the engine and the server (libsodium's SHA-256).
// Thread-safety: pure functions.
#pragma once

#include <string>
#include <string_view>

namespace mentorsync::common {

// Lower-case hex of SHA-256 of `bytes` (64 characters).
std::string sha256_hex(std::string_view bytes);

}  // namespace mentorsync::common
