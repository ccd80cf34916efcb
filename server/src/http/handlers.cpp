#include "http/handlers.h"

#include <sodium.h>

#include "http/msgpack_io.h"

namespace mentorsync::server::http {

namespace {

Response msgpack_ok(std::string body) {
    Response r;
    r.status = 200;
    r.content_type = std::string(kMsgpackType);
    r.body = std::move(body);
    return r;
}

// A service error is passed through as it is, except that a "success" status in an error
// would be a service bug, and is answered as one rather than as a 200 without a body.
Response service_error(const ApiError& error) {
    if (error.http_status < 400 || error.http_status > 599) {
        return error_response(500, "internal", "internal server error");
    }
    return error_response(error);
}

// Lower-case hex SHA-256 of the body: the same form as the body line of the signed string
// (docs/protocol.md §5), which is what batch idempotency compares (§7).
std::string sha256_hex(std::string_view body) {
    unsigned char digest[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(digest, reinterpret_cast<const unsigned char*>(body.data()), body.size());
    static constexpr char kHex[] = "0123456789abcdef";
    std::string hex;
    hex.reserve(2 * sizeof digest);
    for (unsigned char b : digest) {
        hex.push_back(kHex[b >> 4]);
        hex.push_back(kHex[b & 0xF]);
    }
    return hex;
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

Response handle_enroll(const HandlerContext& ctx, const Request& request) {
    auto parsed = parse_enroll(request.body);
    if (!parsed.ok()) return error_response(parsed.error);
    auto result = ctx.service.enroll(*parsed.value);
    if (!result.ok()) return service_error(result.error);
    Response r = msgpack_ok(encode_enroll_response(*result.value));
    // The new device's id is not personal data and makes the enrollment traceable in the log.
    r.device = result.value->device_id.to_string();
    return r;
}

Response handle_push(const HandlerContext& ctx, const Request& request, const Principal& who) {
    auto parsed = parse_push(request.body, ctx.service.schema());
    if (!parsed.ok()) return error_response(parsed.error);
    // Per-transaction change counts, taken before the transactions move into the service, so
    // that the ingest counter can add up the accepted ones.
    std::vector<std::size_t> changes;
    changes.reserve(parsed.value->txns.size());
    for (const Transaction& t : parsed.value->txns)
        changes.push_back(t.changes.size());

    auto result = ctx.service.push(who, parsed.value->batch, sha256_hex(request.body),
                                   std::move(parsed.value->txns));
    if (!result.ok()) return service_error(result.error);
    std::uint64_t accepted = 0, accepted_changes = 0;
    const auto& results = result.value->results;
    for (std::size_t i = 0; i < results.size() && i < changes.size(); ++i) {
        if (results[i].kind == PushResult::Kind::accepted) {
            ++accepted;
            accepted_changes += changes[i];
        }
    }
    ctx.metrics.add_ingested(accepted, accepted_changes);
    return msgpack_ok(encode_push_response(*result.value));
}

Response handle_pull(const HandlerContext& ctx, const Request& request, const Principal& who) {
    auto parsed = parse_pull(request.body);
    if (!parsed.ok()) return error_response(parsed.error);
    auto result = ctx.service.pull(who, parsed.value->cursor, parsed.value->limit);
    if (!result.ok()) return service_error(result.error);
    return msgpack_ok(encode_pull_response(*result.value, ctx.service.schema()));
}

}  // namespace mentorsync::server::http
