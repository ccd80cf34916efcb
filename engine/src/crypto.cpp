#include "crypto.h"

#include <sodium.h>

#include <cstring>

namespace mentorsync::crypto {
namespace {

constexpr unsigned char kBlobVersion = 0x01;
constexpr std::size_t kNonce = crypto_aead_xchacha20poly1305_ietf_NPUBBYTES;
constexpr std::size_t kTag = crypto_aead_xchacha20poly1305_ietf_ABYTES;
static_assert(kSealOverhead == 1 + kNonce + kTag);

}  // namespace

Status init() {
    static const int rc = sodium_init();
    if (rc < 0) return Status::internal("libsodium could not be initialised (no random source?)");
    return {};
}

SecretKey::SecretKey() noexcept {
    (void)init();
    data_ = static_cast<std::uint8_t*>(sodium_malloc(kKeyBytes));
    if (!data_) return;  // allocated() tells the caller
    sodium_memzero(data_, kKeyBytes);
    sodium_mprotect_noaccess(data_);
}

SecretKey::~SecretKey() {
    if (data_) {
        sodium_mprotect_readwrite(data_);
        sodium_free(data_);  // wipes before freeing
    }
}

void SecretKey::clear() noexcept {
    present_ = false;
    if (!data_) return;
    sodium_mprotect_readwrite(data_);
    sodium_memzero(data_, kKeyBytes);
    sodium_mprotect_noaccess(data_);
    present_ = false;
}

void SecretKey::set(std::span<const std::uint8_t> bytes) noexcept {
    if (!data_) return;
    sodium_mprotect_readwrite(data_);
    std::memcpy(data_, bytes.data(), kKeyBytes);
    sodium_mprotect_readonly(data_);
    present_ = true;
}

void SecretKey::randomize() noexcept {
    if (!data_) return;
    sodium_mprotect_readwrite(data_);
    randombytes_buf(data_, kKeyBytes);
    sodium_mprotect_readonly(data_);
    present_ = true;
}

std::string seal(const SecretKey& key, std::string_view ad, std::string_view plaintext) {
    std::string blob(1 + kNonce + plaintext.size() + kTag, '\0');
    auto* out = reinterpret_cast<unsigned char*>(blob.data());
    out[0] = kBlobVersion;
    randombytes_buf(out + 1, kNonce);
    unsigned long long clen = 0;
    crypto_aead_xchacha20poly1305_ietf_encrypt(
        out + 1 + kNonce, &clen, reinterpret_cast<const unsigned char*>(plaintext.data()),
        plaintext.size(), reinterpret_cast<const unsigned char*>(ad.data()), ad.size(), nullptr,
        out + 1, key.data());
    return blob;
}

Result<std::string> open(const SecretKey& key, std::string_view ad, std::string_view blob) {
    if (blob.size() < kSealOverhead) return Status::corrupt("sealed blob is truncated");
    const auto* in = reinterpret_cast<const unsigned char*>(blob.data());
    if (in[0] != kBlobVersion)
        return Status::corrupt("sealed blob has unknown version " + std::to_string(in[0]));
    std::string plain(blob.size() - kSealOverhead, '\0');
    unsigned long long plen = 0;
    if (crypto_aead_xchacha20poly1305_ietf_decrypt(
            reinterpret_cast<unsigned char*>(plain.data()), &plen, nullptr, in + 1 + kNonce,
            blob.size() - 1 - kNonce, reinterpret_cast<const unsigned char*>(ad.data()), ad.size(),
            in + 1, key.data()) != 0)
        return Status::corrupt("sealed blob failed authentication (altered, moved or wrong key)");
    plain.resize(plen);
    return plain;
}

std::string random_bytes(std::size_t n) {
    (void)init();
    std::string s(n, '\0');
    randombytes_buf(s.data(), n);
    return s;
}

Status derive_key(std::span<const std::uint8_t> passphrase, std::string_view salt,
                  std::uint64_t opslimit, std::size_t memlimit, SecretKey& out) {
    if (!out.allocated()) return Status::internal("out of secure memory");
    MS_RETURN_IF_ERROR(init());
    if (salt.size() != crypto_pwhash_SALTBYTES)
        return Status::corrupt("key-derivation salt has the wrong length");
    if (opslimit < crypto_pwhash_OPSLIMIT_MIN || opslimit > crypto_pwhash_OPSLIMIT_MAX ||
        memlimit < crypto_pwhash_MEMLIMIT_MIN || memlimit > crypto_pwhash_MEMLIMIT_MAX)
        return Status::invalid_argument("Argon2id parameters out of range");
    unsigned char* tmp = static_cast<unsigned char*>(sodium_malloc(kKeyBytes));
    if (!tmp) return Status::internal("out of secure memory");
    int rc = crypto_pwhash(tmp, kKeyBytes, reinterpret_cast<const char*>(passphrase.data()),
                           passphrase.size(), reinterpret_cast<const unsigned char*>(salt.data()),
                           opslimit, memlimit, crypto_pwhash_ALG_ARGON2ID13);
    if (rc != 0) {
        sodium_free(tmp);
        return Status::internal("Argon2id failed (not enough memory for the configured cost?)");
    }
    out.set({tmp, kKeyBytes});
    sodium_free(tmp);
    return {};
}

}  // namespace mentorsync::crypto
