// The HTTP layer's view of the protocol bodies: thin adapters over the engine's wire codec
// (mentorsync/wire.h), so that the server, SyncSession and test clients read the contract with
// one decoder and cannot drift apart. What is left here: mapping decode errors to ApiError and
// converting between the wire structs and the service's.
#include "http/msgpack_io.h"

#include <algorithm>

#include "core/roles.h"
#include "mentorsync/wire.h"

namespace mentorsync::server::http {

namespace {

template <typename T>
ApiResult<T> failed(const Status& decode_error) {
    wire::ErrorReply reply = wire::error_reply_for(decode_error);
    ApiResult<T> r;
    r.error = ApiError{reply.http_status, std::move(reply.body.code), std::move(reply.body.message),
                       std::nullopt};
    return r;
}

template <typename T>
ApiResult<T> ok(T value) {
    ApiResult<T> r;
    r.value = std::move(value);
    return r;
}

}  // namespace

std::string encode_error(const ApiError& error) {
    return wire::encode_error({error.code, error.message, error.server_time_ms});
}

Response error_response(const ApiError& error) {
    Response r;
    r.status = error.http_status;
    r.content_type = std::string(kMsgpackType);
    r.body = encode_error(error);
    r.error_code = error.code;
    return r;
}

Response error_response(int status, std::string code, std::string message) {
    return error_response(ApiError{status, std::move(code), std::move(message), std::nullopt});
}

ApiResult<EnrollRequest> parse_enroll(std::string_view body) {
    auto decoded = wire::decode_enroll_request(body);
    if (!decoded.ok()) return failed<EnrollRequest>(decoded.status());
    EnrollRequest req;
    req.code = std::move(decoded->code);
    req.public_key = decoded->public_key;
    req.node = decoded->node;
    req.label = std::move(decoded->label);
    return ok(std::move(req));
}

ApiResult<PushBody> parse_push(std::string_view body, const Schema& schema) {
    auto decoded = wire::decode_push_request(schema, body);
    if (!decoded.ok()) return failed<PushBody>(decoded.status());
    return ok(PushBody{decoded->batch, std::move(decoded->txns)});
}

ApiResult<PullBody> parse_pull(std::string_view body) {
    auto decoded = wire::decode_pull_request(body);
    if (!decoded.ok()) return failed<PullBody>(decoded.status());
    PullBody pull;
    pull.cursor = std::move(decoded->cursor);
    // Out-of-range limits are clamped, not refused (docs/protocol.md §3).
    pull.limit = decoded->limit ? static_cast<std::size_t>(std::clamp<std::uint64_t>(
                                      *decoded->limit, 1, wire::kMaxPullLimit))
                                : wire::kDefaultPullLimit;
    return ok(std::move(pull));
}

std::string encode_enroll_response(const EnrollResponse& response) {
    return wire::encode_enroll_response({response.device_id, response.user_id,
                                         std::string(role_name(response.role)),
                                         response.server_time_ms});
}

std::string encode_push_response(const PushResponse& response) {
    wire::PushResponse out;
    out.server_time_ms = response.server_time_ms;
    out.results.reserve(response.results.size());
    for (const PushResult& r : response.results)
        out.results.push_back({static_cast<wire::PushResult::Kind>(r.kind), r.code, r.message});
    return wire::encode_push_response(out);
}

std::string encode_pull_response(const PullResponse& response, const Schema& schema) {
    wire::PullResponse out;
    out.txns = response.txns;
    out.purge = response.purge;
    out.cursor = response.cursor;
    out.more = response.more;
    out.server_time_ms = response.server_time_ms;
    return wire::encode_pull_response(schema, out);
}

}  // namespace mentorsync::server::http
