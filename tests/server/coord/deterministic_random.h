// Test-only: while a DeterministicRandom is alive, libsodium's randombytes_* (every UUID, key,
// nonce, salt, session id and token the code makes) come from a seeded ChaCha20 stream
// (randombytes_buf_deterministic), so that a run over a fixed dataset and a fixed clock gives
// the same bytes every time; the golden tests compare those bytes with files.
//
// The thread that creates the guard gets stream 0, so what it generates depends only on its
// own sequence of calls; any other thread gets a stream of its own seeded from the system's
// generator (its bytes, such as the merged state's nonces, never reach an API answer).
// Create the guard before any thread that draws randomness exists and destroy it after they
// are gone (declare it first in a fixture). Never use this outside tests.
#pragma once

#include <sodium.h>

#include <array>
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <thread>

namespace mstest {

class DeterministicRandom {
  public:
    DeterministicRandom() {
        if (sodium_init() < 0) throw std::runtime_error("libsodium failed to initialise");
        owner() = std::this_thread::get_id();
        randombytes_set_implementation(&impl_);
    }
    ~DeterministicRandom() {
        randombytes_set_implementation(&randombytes_sysrandom_implementation);
    }
    DeterministicRandom(const DeterministicRandom&) = delete;
    DeterministicRandom& operator=(const DeterministicRandom&) = delete;

  private:
    struct Stream {
        std::array<unsigned char, randombytes_SEEDBYTES> seed{};
        std::uint64_t counter = 0;
        bool ready = false;
    };
    static std::thread::id& owner() {
        static std::thread::id id;
        return id;
    }
    static Stream& stream() {
        thread_local Stream s;
        if (!s.ready) {
            if (std::this_thread::get_id() == owner())
                s.seed.fill(0x5e);
            else
                randombytes_sysrandom_implementation.buf(s.seed.data(), s.seed.size());
            s.ready = true;
        }
        return s;
    }
    // Each call takes the next block of the stream: seed and a call counter, hashed.
    static void buf(void* const out, const size_t size) {
        Stream& s = stream();
        std::array<unsigned char, randombytes_SEEDBYTES> call_seed{};
        crypto_generichash_state h;
        crypto_generichash_init(&h, nullptr, 0, call_seed.size());
        crypto_generichash_update(&h, s.seed.data(), s.seed.size());
        unsigned char ctr[8];
        for (int i = 0; i < 8; ++i)
            ctr[i] = static_cast<unsigned char>(s.counter >> (8 * i));
        ++s.counter;
        crypto_generichash_update(&h, ctr, sizeof ctr);
        crypto_generichash_final(&h, call_seed.data(), call_seed.size());
        randombytes_buf_deterministic(out, size, call_seed.data());
    }
    static std::uint32_t random() {
        std::uint32_t v = 0;
        buf(&v, sizeof v);
        return v;
    }
    static const char* name() { return "mstest-deterministic"; }
    static void stir() {}

    static inline randombytes_implementation impl_ = {&name,   &random, &stir,
                                                      nullptr, &buf,    nullptr};
};

}  // namespace mstest
