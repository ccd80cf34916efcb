// The msgpack bodies of docs/protocol.md: parsing the request maps of §4, §7 and §8 with the
// limits of §3, and encoding responses and the error body of §2. No HTTP here: the handlers call
// these functions, tests may call them directly.
//
// Parsing never throws: every malformed input is an ApiError whose code is the protocol's
// (bad_request, too_deep, string_too_long, too_many_transactions) and whose message names the
// offending key. Messages never quote what the client sent.
// Thread-safety: pure functions.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "core/service.h"
#include "http/message.h"
#include "mentorsync/schema.h"
#include "mentorsync/transaction.h"
#include "mentorsync/types.h"

namespace mentorsync::server::http {

inline constexpr std::string_view kMsgpackType = "application/msgpack";

// The error body {code, message, server_time_ms?} as a response with `error.http_status`.
Response error_response(const ApiError& error);
Response error_response(int status, std::string code, std::string message);
std::string encode_error(const ApiError& error);

struct PushBody {
    Uuid batch;
    std::vector<Transaction> txns;
};
struct PullBody {
    std::string cursor;
    std::size_t limit = 0;  // already clamped to 1..kMaxPullLimit
};

ApiResult<EnrollRequest> parse_enroll(std::string_view body);
ApiResult<PushBody> parse_push(std::string_view body, const Schema& schema);
ApiResult<PullBody> parse_pull(std::string_view body);

std::string encode_enroll_response(const EnrollResponse& response);
std::string encode_push_response(const PushResponse& response);
std::string encode_pull_response(const PullResponse& response, const Schema& schema);

}  // namespace mentorsync::server::http
