// What a failed Result of the sync service or of the wire codec stands for in the protocol's
// error table (docs/protocol.md §2), so that tests compare the same code strings and HTTP
// statuses the server answers.
#pragma once

#include <string>

#include "mentorsync/status.h"
#include "mentorsync/wire.h"

namespace mstest {

// The protocol code of the Status's wire::Error: "" for success, "<no reason>" for a failure
// that carries none (the server would answer it as 500 internal).
inline std::string error_code(const mentorsync::Status& s) {
    if (s.ok()) return "";
    const auto e = mentorsync::wire::error_of(s);
    return e ? std::string(mentorsync::wire::error_name(*e)) : "<no reason>";
}
template <typename T>
std::string error_code(const mentorsync::Result<T>& r) {
    return r.ok() ? "" : error_code(r.status());
}

// The HTTP status the protocol answers for the Status's wire::Error (0: success or none).
inline int http_status_of(const mentorsync::Status& s) {
    if (s.ok()) return 0;
    const auto e = mentorsync::wire::error_of(s);
    return e ? mentorsync::wire::http_status(*e) : 0;
}
template <typename T>
int http_status_of(const mentorsync::Result<T>& r) {
    return r.ok() ? 0 : http_status_of(r.status());
}

// What a server answers for a body the wire codec refused (wire::error_reply_for: no reason
// is 400 bad_request).
template <typename T>
std::string reply_code(const mentorsync::Result<T>& r) {
    return r.ok() ? "" : mentorsync::wire::error_reply_for(r.status()).body.code;
}
template <typename T>
int reply_status(const mentorsync::Result<T>& r) {
    return r.ok() ? 0 : mentorsync::wire::error_reply_for(r.status()).http_status;
}

}  // namespace mstest
