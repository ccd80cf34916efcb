// The one place a Response (http/message.h) becomes the Beast message written to the wire:
// the headers every answer carries, keep-alive, Content-Length, and HEAD's empty body. The
// session writes it; the fuzz build (which has no session) serialises the same message.
// Thread-safety: a pure function.
#pragma once

#include <string_view>

#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>

#include "http/message.h"

namespace mentorsync::server::http {

// Moves `response.body` into the result (the other fields stay, for the access log and the
// metrics). `method`: the request's; a HEAD answer gets the headers a GET would get, Content-Length
// included, without the body.
boost::beast::http::response<boost::beast::http::string_body> to_beast_response(
    Response& response, std::string_view method, bool keep_alive);

}  // namespace mentorsync::server::http
