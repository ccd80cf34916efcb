#include "core/server_key.h"

#include <fcntl.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>

namespace mentorsync::server {

namespace {

constexpr std::uint8_t kBlobVersion = 0x01;
constexpr char kKdfContext[crypto_kdf_CONTEXTBYTES + 1] = "MSserver";
constexpr std::size_t kSealOffset = 0, kHashOffset = 32, kMacOffset = 64, kStateOffset = 96;
constexpr std::size_t kSubkeys = 4;

std::string errno_text() {
    return std::strerror(errno);
}

// Reads exactly 32 bytes from `fd`; anything else means the file is not a server key.
Status read_key(int fd, std::array<unsigned char, kServerKeyBytes>& out) {
    std::size_t got = 0;
    while (got < out.size()) {
        ssize_t n = ::read(fd, out.data() + got, out.size() - got);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return Status::invalid_argument("server.key is shorter than 32 bytes");
        got += static_cast<std::size_t>(n);
    }
    unsigned char extra;
    if (::read(fd, &extra, 1) != 0)
        return Status::invalid_argument("server.key is longer than 32 bytes");
    return {};
}

}  // namespace

ServerKey::ServerKey() {
    keys_ = static_cast<unsigned char*>(sodium_malloc(kSubkeys * kServerKeyBytes));
}

ServerKey::~ServerKey() {
    if (keys_) sodium_free(keys_);  // wipes the bytes before freeing
}

Result<std::unique_ptr<ServerKey>> ServerKey::load(const std::string& path, bool create) {
    if (sodium_init() < 0) return Status::internal("libsodium failed to initialise");
    std::array<unsigned char, kServerKeyBytes> master{};
    struct stat st {};
    if (::lstat(path.c_str(), &st) != 0) {
        if (errno != ENOENT) return Status::io("cannot inspect server.key: " + errno_text());
        if (!create) return Status::not_found("server.key is missing");
        // O_EXCL: never overwrite a key another process created meanwhile. Mode 0600 from the
        // start, so there is no window in which the key is readable by others.
        int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (fd < 0) return Status::io("cannot create server.key: " + errno_text());
        randombytes_buf(master.data(), master.size());
        bool ok =
            ::write(fd, master.data(), master.size()) == static_cast<ssize_t>(master.size()) &&
            ::fsync(fd) == 0;
        ::close(fd);
        if (!ok) {
            sodium_memzero(master.data(), master.size());
            ::unlink(path.c_str());
            return Status::io("cannot write server.key: " + errno_text());
        }
    } else {
        if (!S_ISREG(st.st_mode))
            return Status::invalid_argument("server.key is not a regular file");
        if ((st.st_mode & (S_IRWXG | S_IRWXO)) != 0)
            return Status::invalid_argument(
                "server.key may be read or written by users other than its owner; "
                "run `chmod 600` on it and check who has seen it");
        int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        if (fd < 0) return Status::io("cannot open server.key: " + errno_text());
        Status s = read_key(fd, master);
        ::close(fd);
        if (!s.ok()) return s;
    }
    std::unique_ptr<ServerKey> key(new ServerKey());
    if (!key->keys_) return Status::internal("cannot allocate guarded memory for the key");
    crypto_kdf_derive_from_key(key->keys_ + kSealOffset, kServerKeyBytes, 1, kKdfContext,
                               master.data());
    crypto_kdf_derive_from_key(key->keys_ + kHashOffset, kServerKeyBytes, 2, kKdfContext,
                               master.data());
    crypto_kdf_derive_from_key(key->keys_ + kMacOffset, kServerKeyBytes, 3, kKdfContext,
                               master.data());
    // Subkey 4 is new with the merged state; ids 1-3 keep their meaning, so existing sealed
    // values and issued cursors stay valid.
    crypto_kdf_derive_from_key(key->keys_ + kStateOffset, kServerKeyBytes, 4, kKdfContext,
                               master.data());
    sodium_memzero(master.data(), master.size());
    sodium_mprotect_readonly(key->keys_);
    return key;
}

std::string ServerKey::seal(std::string_view ad, std::string_view plaintext) const {
    constexpr std::size_t nb = crypto_aead_xchacha20poly1305_ietf_NPUBBYTES;
    std::string out(1 + nb + plaintext.size() + crypto_aead_xchacha20poly1305_ietf_ABYTES, '\0');
    auto* p = reinterpret_cast<unsigned char*>(out.data());
    p[0] = kBlobVersion;
    randombytes_buf(p + 1, nb);
    unsigned long long clen = 0;
    crypto_aead_xchacha20poly1305_ietf_encrypt(
        p + 1 + nb, &clen, reinterpret_cast<const unsigned char*>(plaintext.data()),
        plaintext.size(), reinterpret_cast<const unsigned char*>(ad.data()), ad.size(), nullptr,
        p + 1, keys_ + kSealOffset);
    out.resize(1 + nb + clen);
    return out;
}

Result<std::string> ServerKey::open(std::string_view ad, std::string_view blob) const {
    constexpr std::size_t nb = crypto_aead_xchacha20poly1305_ietf_NPUBBYTES;
    constexpr std::size_t tag = crypto_aead_xchacha20poly1305_ietf_ABYTES;
    if (blob.size() < 1 + nb + tag || static_cast<std::uint8_t>(blob[0]) != kBlobVersion)
        return Status::corrupt("a sealed value in server.db is malformed");
    const auto* p = reinterpret_cast<const unsigned char*>(blob.data());
    std::string out(blob.size() - 1 - nb - tag, '\0');
    unsigned long long mlen = 0;
    if (crypto_aead_xchacha20poly1305_ietf_decrypt(
            reinterpret_cast<unsigned char*>(out.data()), &mlen, nullptr, p + 1 + nb,
            blob.size() - 1 - nb, reinterpret_cast<const unsigned char*>(ad.data()), ad.size(),
            p + 1, keys_ + kSealOffset) != 0)
        return Status::corrupt(
            "a sealed value in server.db failed authentication (wrong server.key, damage or "
            "tampering)");
    out.resize(mlen);
    return out;
}

std::string ServerKey::hash(std::string_view data) const {
    std::string out(32, '\0');
    crypto_generichash(reinterpret_cast<unsigned char*>(out.data()), out.size(),
                       reinterpret_cast<const unsigned char*>(data.data()), data.size(),
                       keys_ + kHashOffset, kServerKeyBytes);
    return out;
}

std::string ServerKey::mac(std::string_view data) const {
    std::string out(16, '\0');
    crypto_generichash(reinterpret_cast<unsigned char*>(out.data()), out.size(),
                       reinterpret_cast<const unsigned char*>(data.data()), data.size(),
                       keys_ + kMacOffset, kServerKeyBytes);
    return out;
}

UnlockKey ServerKey::state_unlock_key() const {
    return UnlockKey::raw(std::span<const std::uint8_t>(keys_ + kStateOffset, kServerKeyBytes));
}

}  // namespace mentorsync::server
