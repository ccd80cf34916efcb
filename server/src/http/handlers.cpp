#include "http/handlers.h"

#include <algorithm>

#include "http/msgpack_io.h"
#include "mentorsync/wire.h"

namespace mentorsync::server::http {

namespace {

Response msgpack_ok(std::string body) {
    Response r;
    r.status = 200;
    r.content_type = std::string(kMsgpackType);
    r.body = std::move(body);
    return r;
}

}  // namespace

Response handle_healthz(const HandlerContext&, const Request&) {
    Response r;
    r.content_type = "text/plain; charset=utf-8";
    r.body = "ok\n";
    return r;
}

Response handle_metrics(const HandlerContext& ctx, const Request&) {
    Response r;
    r.content_type = "text/plain; version=0.0.4; charset=utf-8";
    r.body = ctx.metrics.render();
    if (auto lag = ctx.service.merged_state_lag())
        r.body +=
            "# HELP mentorsync_state_lag_transactions Committed transactions the merged state "
            "has still to apply.\n"
            "# TYPE mentorsync_state_lag_transactions gauge\n"
            "mentorsync_state_lag_transactions " +
            std::to_string(*lag) + "\n";
    return r;
}

std::size_t pull_limit(std::optional<std::uint64_t> requested) noexcept {
    // Out-of-range limits are clamped, not refused (docs/protocol.md §3).
    return requested ? static_cast<std::size_t>(
                           std::clamp<std::uint64_t>(*requested, 1, wire::kMaxPullLimit))
                     : wire::kDefaultPullLimit;
}

Response handle_enroll(const HandlerContext& ctx, const Request& request) {
    auto parsed = wire::decode_enroll_request(request.body);
    if (!parsed.ok()) return decode_error_response(parsed.status());
    auto result = ctx.service.enroll(*parsed);
    if (!result.ok()) return service_error_response(result.status());
    Response r = msgpack_ok(wire::encode_enroll_response(*result));
    // The new device's id is not personal data and makes the enrollment traceable in the log.
    r.device = result->device_id.to_string();
    return r;
}

Response handle_push(const HandlerContext& ctx, const Request& request, const Principal& who) {
    auto parsed = wire::decode_push_request(ctx.service.schema(), request.body);
    if (!parsed.ok()) return decode_error_response(parsed.status());
    // Per-transaction change counts, taken before the transactions move into the service, so
    // that the ingest counter can add up the accepted ones.
    std::vector<std::size_t> changes;
    changes.reserve(parsed->txns.size());
    for (const Transaction& t : parsed->txns)
        changes.push_back(t.changes.size());

    auto result = ctx.service.push(who, parsed->batch, wire::sha256_hex(request.body),
                                   std::move(parsed->txns));
    if (!result.ok()) return service_error_response(result.status());
    std::uint64_t accepted = 0, accepted_changes = 0;
    const auto& results = result->results;
    for (std::size_t i = 0; i < results.size() && i < changes.size(); ++i) {
        if (results[i].kind == wire::PushResult::Kind::accepted) {
            ++accepted;
            accepted_changes += changes[i];
        }
    }
    ctx.metrics.add_ingested(accepted, accepted_changes);
    return msgpack_ok(wire::encode_push_response(*result));
}

Response handle_pull(const HandlerContext& ctx, const Request& request, const Principal& who) {
    auto parsed = wire::decode_pull_request(request.body);
    if (!parsed.ok()) return decode_error_response(parsed.status());
    auto result = ctx.service.pull(who, parsed->cursor, pull_limit(parsed->limit));
    if (!result.ok()) return service_error_response(result.status());
    return msgpack_ok(wire::encode_pull_response(ctx.service.schema(), *result));
}

}  // namespace mentorsync::server::http
