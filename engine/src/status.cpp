#include "mentorsync/status.h"

namespace mentorsync {

std::string_view code_name(Code code) noexcept {
    switch (code) {
        case Code::ok:
            return "ok";
        case Code::invalid_argument:
            return "invalid_argument";
        case Code::validation:
            return "validation";
        case Code::not_found:
            return "not_found";
        case Code::wrong_key:
            return "wrong_key";
        case Code::locked_out:
            return "locked_out";
        case Code::corrupt:
            return "corrupt";
        case Code::io:
            return "io";
        case Code::closed:
            return "closed";
        case Code::unsupported:
            return "unsupported";
        case Code::internal:
            return "internal";
    }
    return "unknown";
}

std::string Status::to_string() const {
    if (ok()) return "ok";
    std::string s(code_name(code_));
    s += ": ";
    s += message_;
    return s;
}

}  // namespace mentorsync
