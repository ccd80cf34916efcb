// The dashboard's embedded files (http/static_assets.h): the generated table, the answers
// (200, 304, 404, 405) with their security headers, and rules the dashboard's own code must
// keep (no HTML built from strings, nothing loaded from the internet, both languages complete).
#include <algorithm>
#include <regex>
#include <set>
#include <string>

#include <sodium.h>
#include <catch2/catch.hpp>

#include "http/static_assets.h"
#include "http_test_support.h"

using namespace mentorsync::server::http;

namespace {

Request get(std::string target, std::vector<std::pair<std::string, std::string>> headers = {},
            std::string method = "GET") {
    Request r;
    r.method = std::move(method);
    r.target = std::move(target);
    r.headers = std::move(headers);
    return r;
}

std::string header(const Response& r, std::string_view name) {
    for (const auto& [k, v] : r.headers) {
        if (k == name) return v;
    }
    return {};
}

std::string sha256_prefix(std::string_view body) {
    unsigned char d[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(d, reinterpret_cast<const unsigned char*>(body.data()), body.size());
    std::string hex;
    for (std::size_t i = 0; i < 16; ++i) {
        hex += "0123456789abcdef"[d[i] >> 4];
        hex += "0123456789abcdef"[d[i] & 15];
    }
    return hex;
}

std::set<std::string> dictionary_keys(std::string_view path) {
    const StaticAsset* a = find_static_asset(path);
    REQUIRE(a != nullptr);
    static const std::regex key(R"(\n  '([a-z0-9_.-]+)':)");
    std::set<std::string> keys;
    const std::string body(a->body);
    for (auto it = std::sregex_iterator(body.begin(), body.end(), key);
         it != std::sregex_iterator(); ++it) {
        keys.insert((*it)[1].str());
    }
    return keys;
}

}  // namespace

TEST_CASE("the embedded table is sorted, typed and tagged with the bytes' SHA-256", "[http]") {
    const auto assets = embedded_assets();
    REQUIRE(assets.size() >= 5);
    for (std::size_t i = 0; i < assets.size(); ++i) {
        const StaticAsset& a = assets[i];
        INFO(a.path);
        CHECK(a.path.starts_with('/'));
        if (i > 0) CHECK(assets[i - 1].path < a.path);
        CHECK(a.etag == "\"sha256-" + sha256_prefix(a.body) + "\"");
        CHECK_FALSE(a.content_type.empty());
        CHECK(find_static_asset(a.path) == &a);
    }
    for (const char* p : {"/index.html", "/css/dashboard.css", "/js/app.js", "/js/i18n/lv.js",
                          "/js/i18n/en.js", "/favicon.svg"}) {
        INFO(p);
        CHECK(find_static_asset(p) != nullptr);
    }
    CHECK(find_static_asset("/") == find_static_asset("/index.html"));
    CHECK(find_static_asset("/js/app.js")->content_type == "text/javascript; charset=utf-8");
    CHECK(find_static_asset("/index.html")->content_type == "text/html; charset=utf-8");
    CHECK(find_static_asset("/js") == nullptr);
    CHECK(find_static_asset("/js/") == nullptr);
    CHECK(find_static_asset("/../server/web/index.html") == nullptr);
    CHECK(find_static_asset("/index.html/") == nullptr);
    CHECK(find_static_asset("") == nullptr);
}

TEST_CASE("a dashboard file is served with its ETag and the security headers", "[http]") {
    const StaticAsset* app = find_static_asset("/js/app.js");
    REQUIRE(app != nullptr);
    Response r = serve_static_asset(get("/js/app.js?v=2"));
    CHECK(r.status == 200);
    CHECK(r.body == app->body);
    CHECK(r.content_type == app->content_type);
    CHECK(header(r, "ETag") == app->etag);
    CHECK(header(r, "Cache-Control") == "no-cache");
    CHECK(header(r, "Content-Security-Policy") == kDashboardCsp);
    CHECK(header(r, "X-Content-Type-Options") == "nosniff");
    CHECK(header(r, "Referrer-Policy") == "no-referrer");
    CHECK(header(r, "X-Frame-Options") == "DENY");
    // The policy allows nothing inline and nothing from another origin.
    CHECK_THAT(std::string(kDashboardCsp), !Catch::Contains("unsafe"));
    CHECK_THAT(std::string(kDashboardCsp), Catch::Contains("frame-ancestors 'none'"));
    CHECK_THAT(std::string(kDashboardCsp), Catch::Contains("default-src 'none'"));

    Response index = serve_static_asset(get("/"));
    CHECK(index.status == 200);
    CHECK(index.body == find_static_asset("/index.html")->body);
    // HEAD gets the same answer; the session sends its headers only.
    Response head = serve_static_asset(get("/", {}, "HEAD"));
    CHECK(head.status == 200);
    CHECK(head.body.size() == index.body.size());
}

TEST_CASE("If-None-Match with the file's ETag answers 304 without a body", "[http]") {
    const std::string etag(find_static_asset("/index.html")->etag);
    for (const std::string& inm :
         {etag, "W/" + etag, "\"other\", " + etag, std::string(" * "), "\"x\" ," + etag + " "}) {
        INFO(inm);
        Response r = serve_static_asset(get("/index.html", {{"if-none-match", inm}}));
        CHECK(r.status == 304);
        CHECK(r.body.empty());
        CHECK(header(r, "ETag") == etag);
        CHECK(header(r, "Content-Security-Policy") == kDashboardCsp);
    }
    for (const std::string& inm : {std::string("\"other\""), std::string(""),
                                   etag.substr(0, etag.size() - 2) + "\"", std::string(",")}) {
        INFO(inm);
        CHECK(serve_static_asset(get("/index.html", {{"If-None-Match", inm}})).status == 200);
    }
}

TEST_CASE("unknown dashboard paths are 404 and other methods 405", "[http]") {
    Response missing = serve_static_asset(get("/secret.db"));
    CHECK(missing.status == 404);
    CHECK(missing.error_code == "not_found");
    CHECK(missing.content_type == "text/plain; charset=utf-8");
    CHECK(header(missing, "Content-Security-Policy") == kDashboardCsp);
    CHECK(serve_static_asset(get("/%2e%2e/etc/passwd")).status == 404);
    CHECK(serve_static_asset(get("/index.html%00")).status == 404);

    Response post = serve_static_asset(get("/index.html", {}, "POST"));
    CHECK(post.status == 405);
    CHECK(header(post, "Allow") == "GET, HEAD");
    CHECK(serve_static_asset(get("/nothing", {}, "DELETE")).status == 404);
}

TEST_CASE("the dashboard builds no HTML from strings and loads nothing from elsewhere", "[http]") {
    // XSS: data must reach the page as text (dom.js), never parsed as markup.
    for (const StaticAsset& a : embedded_assets()) {
        INFO(a.path);
        const std::string body(a.body);
        if (a.path.ends_with(".js")) {
            for (const char* banned : {"innerHTML", "outerHTML", "insertAdjacentHTML",
                                       "document.write", "eval(", "new Function"}) {
                INFO(banned);
                CHECK_THAT(body, !Catch::Contains(banned));
            }
        }
        if (a.path.ends_with(".html")) {
            // No inline script or style (the CSP would block them anyway) and no event
            // handler attributes.
            CHECK_FALSE(std::regex_search(body, std::regex("<script(?![^>]*\\bsrc=)")));
            CHECK_THAT(body, !Catch::Contains("<style"));
            CHECK_THAT(body, !Catch::Contains(" style="));
            CHECK_FALSE(std::regex_search(body, std::regex(R"(\son[a-z]+=)")));
        }
        // Works without internet: no absolute URL other than XML namespaces.
        std::string rest =
            std::regex_replace(body, std::regex(R"(http://www\.w3\.org/[0-9a-z/]+)"), "");
        CHECK_THAT(rest, !Catch::Contains("http://"));
        CHECK_THAT(rest, !Catch::Contains("https://"));
        CHECK_FALSE(std::regex_search(rest, std::regex(R"((src|href)=["']//)")));
    }
}

TEST_CASE("the Latvian and English dictionaries have the same keys", "[http]") {
    const auto lv = dictionary_keys("/js/i18n/lv.js");
    const auto en = dictionary_keys("/js/i18n/en.js");
    CHECK(lv.size() > 100);
    std::vector<std::string> only_lv, only_en;
    std::set_difference(lv.begin(), lv.end(), en.begin(), en.end(), std::back_inserter(only_lv));
    std::set_difference(en.begin(), en.end(), lv.begin(), lv.end(), std::back_inserter(only_en));
    CAPTURE(only_lv, only_en);
    CHECK(only_lv.empty());
    CHECK(only_en.empty());
    // Latvian letters arrive intact (UTF-8 in the embedded bytes).
    CHECK_THAT(std::string(find_static_asset("/js/i18n/lv.js")->body),
               Catch::Contains("Pieslēgties") && Catch::Contains("Ģimene"));
}

TEST_CASE("the server answers dashboard paths and keeps protocol paths' errors", "[http]") {
    mstest::ServerFixture f;
    auto c = f.client();
    auto index = c.request("GET", "/", "", "");
    CHECK(index.status == 200);
    CHECK(index.header("content-type") == "text/html; charset=utf-8");
    CHECK(index.header("content-security-policy") == kDashboardCsp);
    CHECK(index.header("etag") == find_static_asset("/index.html")->etag);
    CHECK(index.header("cache-control") == "no-cache");
    CHECK(index.body == find_static_asset("/index.html")->body);
    auto again = c.request("GET", "/", "", "", {{"If-None-Match", index.header("etag")}});
    CHECK(again.status == 304);
    CHECK(again.body.empty());
    CHECK(c.request("GET", "/nope.js", "", "").status == 404);
    // Unknown protocol paths keep the protocol's msgpack error.
    auto protocol = c.request("GET", "/v1/nothing", "", "");
    CHECK(protocol.status == 404);
    CHECK(protocol.header("content-type") == "application/msgpack");
    CHECK(f.service.calls() == 0);
}
