#include "http/beast_message.h"

#include <utility>

namespace mentorsync::server::http {

namespace bhttp = boost::beast::http;

bhttp::response<bhttp::string_body> to_beast_response(Response& response, std::string_view method,
                                                      bool keep_alive) {
    bhttp::response<bhttp::string_body> res{static_cast<bhttp::status>(response.status), 11};
    res.set(bhttp::field::server, "mentorsync");
    res.set(bhttp::field::cache_control, "no-store");
    if (!response.content_type.empty()) res.set(bhttp::field::content_type, response.content_type);
    for (const auto& [name, value] : response.headers)
        res.set(name, value);
    res.body() = std::move(response.body);
    res.keep_alive(keep_alive);
    res.prepare_payload();
    if (method == "HEAD") res.body().clear();
    return res;
}

}  // namespace mentorsync::server::http
