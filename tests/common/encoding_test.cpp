// common/encoding.h and common/digest.h: hex, base64url (the protocol's exact rule and the
// coordinator cursors' lenient one), big-endian integers and SHA-256, against known vectors.
// The wire's public base64url, from_base64url and sha256_hex forward to these; the
// comparisons with them pin that the wire's answers stay the same.
#include <catch2/catch.hpp>

#include <cstdint>
#include <string>

#include "common/digest.h"
#include "common/encoding.h"
#include "mentorsync/wire.h"

using namespace mentorsync;
using namespace std::string_literals;

TEST_CASE("hex_lower writes two lower-case digits per byte and hex_digit reads either case",
          "[common][encoding]") {
    CHECK(common::hex_lower("") == "");
    CHECK(common::hex_lower("\x00\x0f\xa5\xff"s) == "000fa5ff");
    std::string out = "id=";
    common::append_hex_lower(out, "\x12\xab");
    CHECK(out == "id=12ab");
    CHECK(common::hex_digit('0') == 0);
    CHECK(common::hex_digit('9') == 9);
    CHECK(common::hex_digit('a') == 10);
    CHECK(common::hex_digit('F') == 15);
    CHECK(common::hex_digit('g') == -1);
    CHECK(common::hex_digit('/') == -1);
    CHECK(common::hex_digit('\0') == -1);
}

TEST_CASE("base64url_encode is RFC 4648 base64url without padding, as the wire writes it",
          "[common][encoding]") {
    CHECK(common::base64url_encode("") == "");
    CHECK(common::base64url_encode("f") == "Zg");
    CHECK(common::base64url_encode("fo") == "Zm8");
    CHECK(common::base64url_encode("foo") == "Zm9v");
    CHECK(common::base64url_encode("\xfb\xff") == "-_8");
    for (std::size_t n = 0; n < 40; ++n) {
        std::string bytes;
        for (std::size_t i = 0; i < n; ++i)
            bytes.push_back(static_cast<char>(i * 37 + 11));
        CHECK(common::base64url_encode(bytes) == wire::base64url(bytes));
        CHECK(common::base64url_encode(bytes).size() == common::base64url_length(n));
        CHECK(common::base64url_decode_exact(common::base64url_encode(bytes), n) == bytes);
        CHECK(common::base64url_decode(common::base64url_encode(bytes)) == bytes);
    }
}

TEST_CASE("base64url_decode_exact accepts only the canonical text of exactly n bytes, as the wire",
          "[common][encoding]") {
    const std::string texts[] = {"",
                                 "Zg",
                                 "Zh",
                                 "Zm8",
                                 "Zm9",
                                 "Zm9v",
                                 "Zm9v=",
                                 "Zm9v+",
                                 "Zm9v/",
                                 "Zm9 v",
                                 "AAAAAAAAAAAAAAAAAAAAAA",
                                 "AAAAAAAAAAAAAAAAAAAAAB",
                                 "AAAAAAAAAAAAAAAAAAAAAQ",
                                 "-_8",
                                 "-_9"};
    for (const std::string& t : texts) {
        for (std::size_t n : {0u, 1u, 2u, 3u, 16u}) {
            INFO("text '" << t << "', " << n << " bytes");
            CHECK(common::base64url_decode_exact(t, n) == wire::from_base64url(t, n));
        }
    }
    CHECK_FALSE(common::base64url_decode_exact("Zh", 1));  // low bits set: not canonical
    CHECK(common::base64url_decode_exact("Zg", 1) == "f");
    CHECK_FALSE(common::base64url_decode_exact("Zm9v", 2));  // 3 bytes, not 2
}

TEST_CASE("base64url_decode takes base64url of any length and refuses other alphabets",
          "[common][encoding]") {
    CHECK(common::base64url_decode("") == "");
    CHECK(common::base64url_decode("cjEKYQpi") == "r1\na\nb");
    CHECK(common::base64url_decode("Zm9vYg") == "foob");  // any length: no count to match
    CHECK_FALSE(common::base64url_decode("Zh"));     // libsodium refuses stray low bits either way
    CHECK_FALSE(common::base64url_decode("Zm9v="));  // padding
    CHECK_FALSE(common::base64url_decode("ab+/"));   // the standard alphabet
    CHECK_FALSE(common::base64url_decode("a"));      // one digit is no byte
    CHECK_FALSE(common::base64url_decode("a b"));
}

TEST_CASE("append_be64 and read_be64 round-trip, most significant byte first",
          "[common][encoding]") {
    for (std::uint64_t v : {std::uint64_t{0}, std::uint64_t{1}, std::uint64_t{0x0102030405060708},
                            ~std::uint64_t{0}, std::uint64_t{1} << 63}) {
        std::string out = "x";
        common::append_be64(out, v);
        REQUIRE(out.size() == 9u);
        CHECK(common::read_be64(std::string_view(out).substr(1)) == v);
    }
    std::string out;
    common::append_be64(out, 0x0102030405060708);
    CHECK(out == "\x01\x02\x03\x04\x05\x06\x07\x08");
    CHECK(common::read_be64(out + "tail") == 0x0102030405060708u);
    CHECK_FALSE(common::read_be64("\x01\x02\x03\x04\x05\x06\x07"));
}

TEST_CASE("sha256_hex gives the standard digests and the same text as the wire's",
          "[common][digest]") {
    CHECK(common::sha256_hex("") ==
          "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    CHECK(common::sha256_hex("abc") ==
          "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    const std::string body =
        "\x82\xa5"
        "batch\xc4\x10" +
        std::string(16, '\x01');
    CHECK(common::sha256_hex(body) == wire::sha256_hex(body));
}
