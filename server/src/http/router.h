// The router: maps a plain Request to a handler and applies the checks every endpoint shares
// (docs/protocol.md §1–§3), in this order:
//   unknown path 404 → wrong method 405 (+ Allow) → content type 415 → body size 413 →
//   rate limit per address (/v1/enroll) 429 → signature (the service's authenticate,
//   /v1/sync/* only; 401/403) → the handler.
// The session asks check_head() first, with the header block alone: everything up to the
// signature is decided there, plus the service's precheck of a signed request's header and
// the device's rate limit (429), so that no body is read for a request that will be refused.
// Paths under /api/ go to the coordinator API (http/coord_api.h), which has its own JSON
// routing, authentication and errors. Any other unknown path is a plain 404.
// Handlers are plain functions of (context, request[, principal]); they parse the msgpack body
// and call the SyncService only when the whole request is valid, so a rejected request can
// never store anything.
// Thread-safety: handle() and check_head() may be called concurrently; the service is
// thread-safe by contract, the rate limiters lock.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/service.h"
#include "http/config.h"
#include "http/limits.h"
#include "http/message.h"
#include "http/metrics.h"

namespace mentorsync::server::http {

class CoordApi;

struct HandlerContext {
    SyncService& service;
    Metrics& metrics;
};

using PublicHandler = Response (*)(const HandlerContext&, const Request&);
using SignedHandler = Response (*)(const HandlerContext&, const Request&, const Principal&);

// What a request's header block alone decides (Router::check_head).
struct HeadCheck {
    std::optional<Response> answer;  // set: answer this without reading the body
    std::size_t body_limit = 0;      // otherwise: the most body bytes this route reads
    bool signin = false;             // the handler verifies a password: run it off the io threads
};

class Router {
  public:
    // The body limits and rate limits come from `config`: max_body_bytes for /v1/sync/*
    // (checked again here although the session refuses larger bodies while reading: the
    // router must be safe for any caller), max_enroll_body_bytes, max_api_body_bytes.
    // `coord` answers every path under /api/ (the coordinator API, http/coord_api.h); without
    // it those paths are 404 like any unknown path. It must outlive the router.
    Router(SyncService& service, Metrics& metrics, const ServerConfig& config,
           const CoordApi* coord = nullptr);

    // Never throws: an exception from a handler or the service becomes 500 internal.
    Response handle(const Request& request) const;

    // `head`: the request with its header block and an empty body. `content_length`: the
    // declared body length (nullopt: chunked or none); `has_body`: a body follows. Answers
    // 404/405/415/413 as handle() would, 429 rate_limited (Retry-After) for an address over
    // its enrollment/sign-in rate or a device over its rate, the service's precheck errors
    // (401/403) for /v1/sync/*, and for paths that take no body but were sent one, their
    // answer without reading it (the session then closes the connection). Spends the
    // address's token for enrollment and sign-in attempts.
    HeadCheck check_head(const Request& head, std::optional<std::uint64_t> content_length,
                         bool has_body) const;

    // 503 unavailable with Retry-After: 1, in the format of `head`'s path (JSON under /api/).
    Response overloaded(const Request& head, std::string message) const;

    // The route of a request-target, for answers the session gives before routing (413, 431).
    static RouteId route_of(std::string_view target) noexcept;

  private:
    HandlerContext context_;
    std::size_t max_body_bytes_;
    std::size_t max_enroll_body_bytes_;
    std::size_t max_api_body_bytes_;
    const CoordApi* coord_;
    mutable RateLimiter device_limiter_;
    mutable RateLimiter address_limiter_;
};

// True when `content_type`'s media type is application/msgpack (parameters and case ignored).
bool is_msgpack_content_type(std::string_view content_type) noexcept;

}  // namespace mentorsync::server::http
