// The router: maps a plain Request to a handler and applies the checks every endpoint shares
// (docs/protocol.md §1–§3), in this order:
//   unknown path 404 → wrong method 405 (+ Allow) → content type 415 → body size 413 →
//   signature (the service's authenticate, /v1/sync/* only; 401/403) → the handler.
// Paths under /api/ go to the coordinator API (http/coord_api.h), which has its own JSON
// routing, authentication and errors. Any other unknown path is a plain 404.
// Handlers are plain functions of (context, request[, principal]); they parse the msgpack body
// and call the SyncService only when the whole request is valid, so a rejected request can
// never store anything.
// Thread-safety: handle() may be called concurrently; the service is thread-safe by contract.
#pragma once

#include <cstddef>
#include <string_view>

#include "core/service.h"
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

class Router {
  public:
    // `max_body_bytes` is checked again here although the session already refuses larger
    // bodies while reading: the router must be safe for any caller.
    // `coord` answers every path under /api/ (the coordinator API, http/coord_api.h); without
    // it those paths are 404 like any unknown path. It must outlive the router.
    Router(SyncService& service, Metrics& metrics, std::size_t max_body_bytes,
           const CoordApi* coord = nullptr);

    // Never throws: an exception from a handler or the service becomes 500 internal.
    Response handle(const Request& request) const;

    // The route of a request-target, for answers the session gives before routing (413, 431).
    static RouteId route_of(std::string_view target) noexcept;

  private:
    HandlerContext context_;
    std::size_t max_body_bytes_;
    const CoordApi* coord_;
};

// True when `content_type`'s media type is application/msgpack (parameters and case ignored).
bool is_msgpack_content_type(std::string_view content_type) noexcept;

}  // namespace mentorsync::server::http
