// Test support: a throwaway TLS certificate made with the OpenSSL API at test time, so no key
// material is ever committed. Used by the HTTP-layer tests and the integration tests.
#pragma once

#include <string>

namespace mstest {

// A throwaway self-signed certificate (EC P-256, CN=localhost, SAN 127.0.0.1), made with the
// OpenSSL API at test time and written as PEM files into `dir`.
struct SelfSignedCert {
    std::string cert_pem;
    std::string key_pem;
    std::string cert_file;
    std::string key_file;
};
SelfSignedCert make_self_signed_cert(const std::string& dir);

}  // namespace mstest
