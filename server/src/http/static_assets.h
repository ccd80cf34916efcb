// The coordinator dashboard's static files (server/web/), compiled into the server binary.
//
// At build time server/cmake/embed_assets.cmake turns every file under server/web/ into bytes
// in a generated .cpp, with its content type and a strong ETag (a SHA-256 prefix of the
// bytes), so the binary serves the dashboard without reading the source tree and without
// internet. The router calls serve_static_asset() for GET and HEAD of paths outside the API and
// the sync protocol.
//
// Lookup is an exact match on the request path against the embedded table ("/" means
// "/index.html"; the query string is ignored), so no request can name a file outside it:
// there is no path decoding, no file system and so no traversal.
//
// Every answer (200, 304, 404, 405) carries the dashboard's security headers: a strict
// Content-Security-Policy (scripts, styles, images and fetches from the same origin only; no
// inline script or style; no framing), X-Content-Type-Options, Referrer-Policy, X-Frame-Options
// and Cross-Origin-Opener-Policy. Cache-Control is no-cache: browsers revalidate with the ETag
// (If-None-Match answers 304), so a new server version is picked up at once.
// Thread-safety: the table is immutable; the functions are pure.
#pragma once

#include <cstddef>
#include <span>
#include <string_view>

#include "http/message.h"

namespace mentorsync::server::http {

// One embedded file. `path` starts with '/', e.g. "/app.js".
struct StaticAsset {
    std::string_view path;
    std::string_view content_type;  // with charset for text types
    std::string_view etag;          // strong, quoted: "\"sha256-…\""
    std::string_view body;
};

// Every embedded file, ordered by path (defined in the generated web_assets.cpp).
std::span<const StaticAsset> embedded_assets() noexcept;

// The asset for a request path (query string already removed), or nullptr. "/" finds
// "/index.html".
const StaticAsset* find_static_asset(std::string_view path) noexcept;

// The Content-Security-Policy every dashboard answer carries.
inline constexpr std::string_view kDashboardCsp =
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

// The answer to a request for a path that is not an API or protocol endpoint:
//   GET/HEAD of an embedded file: 200 with the bytes (HEAD: the session drops the body),
//     or 304 when If-None-Match names its ETag (or is "*");
//   another method on an embedded file: 405 with Allow: GET, HEAD;
//   anything else: 404 (plain text).
Response serve_static_asset(const Request& request);

}  // namespace mentorsync::server::http
