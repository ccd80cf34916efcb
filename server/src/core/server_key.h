// The server key: 32 random bytes in `server.key` beside `server.db`, never inside it, so that a
// copy of the database alone (a backup, a stolen disk image of the db volume) reveals no
// transaction bodies, user names or device labels.
//
// Four subkeys are derived from it with libsodium's KDF, one per purpose, so that a value made
// for one purpose can never be mistaken for another:
//   seal   XChaCha20-Poly1305 (IETF) for transaction bodies, user names, device labels
//   hash   keyed BLAKE2b for enrollment codes (only the hash is stored)
//   mac    keyed BLAKE2b over pull cursors, so a device cannot forge or borrow a cursor
//   state  the raw unlock key of the merged-state replica `state.db` (merged_state.h); the
//          engine wraps its own data key under it, so the master key never leaves this class
// Thread-safety: immutable after load; every member may be called concurrently.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "mentorsync/replica.h"
#include "mentorsync/status.h"

namespace mentorsync::server {

inline constexpr std::size_t kServerKeyBytes = 32;

class ServerKey {
  public:
    // Loads `path`, or creates it (mode 0600, random bytes) when it is missing and `create` is
    // true. Refuses a key file that is not a regular 32-byte file or that any user other than
    // its owner may read or write (Code::invalid_argument, naming the fix).
    static Result<std::unique_ptr<ServerKey>> load(const std::string& path, bool create);

    ~ServerKey();
    ServerKey(const ServerKey&) = delete;
    ServerKey& operator=(const ServerKey&) = delete;

    // Blob: version 0x01 || 24-byte nonce || ciphertext || 16-byte tag. `ad` is rebuilt by the
    // reader from where the blob sits, so a blob moved to another row fails to open.
    std::string seal(std::string_view ad, std::string_view plaintext) const;
    // Code::corrupt if altered, moved or sealed under another key.
    Result<std::string> open(std::string_view ad, std::string_view blob) const;
    // 32-byte keyed hash (enrollment codes).
    std::string hash(std::string_view data) const;
    // 16-byte keyed MAC (cursors).
    std::string mac(std::string_view data) const;
    // The 32-byte raw key that unlocks state.db. A copy in an UnlockKey, which wipes it when
    // destroyed: the caller keeps it only for Replica::open.
    UnlockKey state_unlock_key() const;

  private:
    ServerKey();
    unsigned char* keys_ = nullptr;  // sodium_malloc'd: seal | hash | mac | state, 32 bytes each
};

}  // namespace mentorsync::server
