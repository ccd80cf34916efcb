#include "http/static_assets.h"

#include <algorithm>
#include <string>

#include "common/text.h"

namespace mentorsync::server::http {

namespace {

void add_security_headers(Response& r) {
    r.headers.emplace_back("Content-Security-Policy", std::string(kDashboardCsp));
    r.headers.emplace_back("X-Content-Type-Options", "nosniff");
    r.headers.emplace_back("Referrer-Policy", "no-referrer");
    r.headers.emplace_back("X-Frame-Options", "DENY");
    r.headers.emplace_back("Cross-Origin-Opener-Policy", "same-origin");
    r.headers.emplace_back("Cross-Origin-Resource-Policy", "same-origin");
}

Response plain(int status, std::string code, std::string_view text) {
    Response r;
    r.status = status;
    r.content_type = "text/plain; charset=utf-8";
    r.body = std::string(text) + "\n";
    r.error_code = std::move(code);
    add_security_headers(r);
    return r;
}

// RFC 9110 §13.1.2: If-None-Match uses the weak comparison, so W/"x" matches "x".
bool none_match(std::string_view header, std::string_view etag) noexcept {
    if (common::trim(header) == "*") return true;
    while (!header.empty()) {
        const std::size_t comma = header.find(',');
        std::string_view tag = common::trim(header.substr(0, comma));
        if (tag.starts_with("W/")) tag.remove_prefix(2);
        if (tag == etag) return true;
        if (comma == std::string_view::npos) break;
        header.remove_prefix(comma + 1);
    }
    return false;
}

}  // namespace

const StaticAsset* find_static_asset(std::string_view path) noexcept {
    if (path == "/") path = "/index.html";
    const auto assets = embedded_assets();
    const auto it =
        std::lower_bound(assets.begin(), assets.end(), path,
                         [](const StaticAsset& a, std::string_view p) { return a.path < p; });
    if (it == assets.end() || it->path != path) return nullptr;
    return &*it;
}

Response serve_static_asset(const Request& request) {
    const StaticAsset* asset = find_static_asset(request.path());
    if (asset == nullptr) return plain(404, "not_found", "not found");
    if (request.method != "GET" && request.method != "HEAD") {
        Response r = plain(405, "method_not_allowed", "use GET or HEAD");
        r.headers.emplace_back("Allow", "GET, HEAD");
        return r;
    }
    Response r;
    add_security_headers(r);
    r.headers.emplace_back("ETag", std::string(asset->etag));
    r.headers.emplace_back("Cache-Control", "no-cache");
    if (none_match(request.header("If-None-Match"), asset->etag)) {
        r.status = 304;
        return r;
    }
    r.status = 200;
    r.content_type = std::string(asset->content_type);
    r.body = std::string(asset->body);
    return r;
}

}  // namespace mentorsync::server::http
