#include "http/config.h"

#include <charconv>

namespace mentorsync::server::http {

Result<std::pair<std::string, std::uint16_t>> parse_listen(std::string_view text) {
    const auto colon = text.rfind(':');
    if (colon == std::string_view::npos || colon == 0) {
        return Status::invalid_argument("listen address must be ADDR:PORT, e.g. 127.0.0.1:8443");
    }
    std::string_view host = text.substr(0, colon);
    const std::string_view port_text = text.substr(colon + 1);
    if (host.front() == '[') {
        if (host.size() < 3 || host.back() != ']') {
            return Status::invalid_argument("an IPv6 listen address must be [ADDR]:PORT");
        }
        host = host.substr(1, host.size() - 2);
    } else if (host.find(':') != std::string_view::npos) {
        return Status::invalid_argument("write an IPv6 listen address in brackets: [ADDR]:PORT");
    }
    unsigned port = 0;
    const auto [end, ec] =
        std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
    if (port_text.empty() || ec != std::errc() || end != port_text.data() + port_text.size() ||
        port > 65535) {
        return Status::invalid_argument("listen port must be a number from 0 to 65535");
    }
    return std::pair<std::string, std::uint16_t>(std::string(host),
                                                 static_cast<std::uint16_t>(port));
}

}  // namespace mentorsync::server::http
