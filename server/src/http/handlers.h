// The endpoint handlers of docs/protocol.md. Each one decodes its body with the wire codec
// (mentorsync/wire.h), calls the SyncService and encodes the answer; the router has already checked
// path, method, content type, body size and, for the signed endpoints, the signature.
// Thread-safety: plain functions; safe to call concurrently.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>

#include "http/router.h"

namespace mentorsync::server::http {

// The page size a pull asks for: `requested` clamped to 1..kMaxPullLimit, kDefaultPullLimit
// when absent (docs/protocol.md §3, §8).
std::size_t pull_limit(std::optional<std::uint64_t> requested) noexcept;

Response handle_healthz(const HandlerContext& ctx, const Request& request);
Response handle_metrics(const HandlerContext& ctx, const Request& request);
Response handle_enroll(const HandlerContext& ctx, const Request& request);
Response handle_push(const HandlerContext& ctx, const Request& request, const Principal& who);
Response handle_pull(const HandlerContext& ctx, const Request& request, const Principal& who);

}  // namespace mentorsync::server::http
