// The error body of docs/protocol.md §2 as an HTTP answer. The request and response bodies are
// the engine's wire codec (mentorsync/wire.h), which the handlers call directly, so that the
// server, SyncSession and test clients read the contract with one decoder.
// Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "http/message.h"
#include "mentorsync/status.h"
#include "mentorsync/wire.h"

namespace mentorsync::server::http {

inline constexpr std::string_view kMsgpackType = "application/msgpack";

// The error body {code, message, server_time_ms?} for `error`, with its HTTP status.
Response error_response(wire::Error error, std::string message,
                        std::optional<std::int64_t> server_time_ms = std::nullopt);

// A request body the wire codec refused: the HTTP status and code of the Status's wire::Error,
// 400 bad_request when it has none (wire::error_reply_for).
Response decode_error_response(const Status& decode_error);

// A failure of the SyncService: the HTTP status and code of its wire::Error. A Status without
// one would be a service bug, and is answered as 500 internal without its message.
// `server_time_ms` goes into the body of a 401 (protocol §2), not of other statuses.
Response service_error_response(const Status& error,
                                std::optional<std::int64_t> server_time_ms = std::nullopt);

}  // namespace mentorsync::server::http
