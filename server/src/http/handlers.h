// The endpoint handlers of docs/protocol.md. Each one parses its body (http/msgpack_io.h),
// calls the SyncService and encodes the answer; the router has already checked path, method,
// content type, body size and, for the signed endpoints, the signature.
// Thread-safety: plain functions; safe to call concurrently.
#pragma once

#include "http/router.h"

namespace mentorsync::server::http {

Response handle_healthz(const HandlerContext& ctx, const Request& request);
Response handle_metrics(const HandlerContext& ctx, const Request& request);
Response handle_enroll(const HandlerContext& ctx, const Request& request);
Response handle_push(const HandlerContext& ctx, const Request& request, const Principal& who);
Response handle_pull(const HandlerContext& ctx, const Request& request, const Principal& who);

}  // namespace mentorsync::server::http
