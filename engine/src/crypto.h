// Sealing with libsodium: XChaCha20-Poly1305 (IETF) blobs bound to associated data, keys held in
// sodium-guarded memory, and Argon2id key derivation.
//
// Blob layout (docs/storage-format.md): version byte 0x01 || 24-byte random nonce ||
// ciphertext || 16-byte tag. The associated data is never stored in the blob: the reader
// rebuilds it from where the blob sits (table, collection, row, stamp), so a blob moved to
// another row or another stamp fails to open.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "mentorsync/status.h"

namespace mentorsync::crypto {

inline constexpr std::size_t kKeyBytes = 32;
inline constexpr std::size_t kSaltBytes = 16;
inline constexpr std::size_t kSealOverhead = 1 + 24 + 16;

// Initialises libsodium once (thread-safe). Fails only if the platform has no usable RNG.
Status init();

// A 32-byte key in sodium_malloc'd memory: guard pages around it, locked against swapping,
// read-only except while being written, wiped when destroyed or cleared.
// Constructing one never throws: when sodium_malloc fails (the process ran out of memory or of
// address space for guard pages), allocated() is false, present() stays false and set() and
// randomize() do nothing. Every caller checks allocated() and returns
// Status::internal("out of secure memory"), so no exception crosses the engine's API.
class SecretKey {
  public:
    SecretKey() noexcept;
    ~SecretKey();
    SecretKey(const SecretKey&) = delete;
    SecretKey& operator=(const SecretKey&) = delete;

    bool allocated() const noexcept { return data_ != nullptr; }
    bool present() const noexcept { return present_; }
    void clear() noexcept;
    void set(std::span<const std::uint8_t> bytes) noexcept;  // precondition: 32 bytes
    void randomize() noexcept;
    const std::uint8_t* data() const noexcept { return data_; }

  private:
    std::uint8_t* data_ = nullptr;
    bool present_ = false;
};

std::string seal(const SecretKey& key, std::string_view ad, std::string_view plaintext);
// Opens a blob sealed under `key` with the same associated data. Code::corrupt if the blob was
// altered, truncated, moved (different ad) or sealed under another key.
Result<std::string> open(const SecretKey& key, std::string_view ad, std::string_view blob);

std::string random_bytes(std::size_t n);

// Argon2id(passphrase, salt) -> key. Code::invalid_argument for parameters out of range.
Status derive_key(std::span<const std::uint8_t> passphrase, std::string_view salt,
                  std::uint64_t opslimit, std::size_t memlimit, SecretKey& out);

}  // namespace mentorsync::crypto
