// The answer a push batch got the first time, as server.db keeps it in batches.response, so that
// a retried batch is answered the same (docs/protocol.md §7).
//
// Written in the wire encoding of the answer (wire::encode_push_response), so a replay answers
// with the first answer's bytes. Read in that encoding or in the one builds before it wrote,
// which is still found in server.db: a msgpack map {"t": server_time_ms, "r": [[kind, code,
// message], ...]} with kind 0 accepted, 1 held, 2 rejected.
// Thread-safety: pure functions.
#pragma once

#include <string>
#include <string_view>

#include "mentorsync/status.h"
#include "mentorsync/wire.h"

namespace mentorsync::server {

std::string encode_stored_answer(const wire::PushResponse& answer);

// The stored answer, in either encoding. Code::corrupt when `bytes` is neither.
Result<wire::PushResponse> decode_stored_answer(std::string_view bytes);

}  // namespace mentorsync::server
