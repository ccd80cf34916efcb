// The promise every decoder of mentorsync/wire.h makes about a body it refuses (the comment
// above its "message bodies" section): Code::invalid_argument, a message, and an answer a
// server can give (error_reply_for: 400 or 413 with one of the protocol's codes).
#pragma once

#include <string>

#include "fuzz_support.h"
#include "mentorsync/wire.h"

namespace mentorsync::fuzz {

inline void check_wire_refusal(const Status& s) {
    MS_FUZZ_CHECK(s.code() == Code::invalid_argument, s.to_string());
    MS_FUZZ_CHECK(!s.message().empty(), "a refusal without a message");
    const wire::ErrorReply reply = wire::error_reply_for(s);
    const std::string& code = reply.body.code;
    MS_FUZZ_CHECK(reply.http_status == 400 || reply.http_status == 413, code);
    MS_FUZZ_CHECK(code == "bad_request" || code == "too_deep" || code == "string_too_long" ||
                      code == "too_many_transactions" || code == "body_too_large",
                  code);
    MS_FUZZ_CHECK(reply.body.message == s.message(), "the answer's message is not the decoder's");
}

}  // namespace mentorsync::fuzz
