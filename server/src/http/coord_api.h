// The coordinator API `/api/v1/...` (docs/api/openapi.yaml) over the plain Request/Response of
// http/message.h: a route table within /api/v1, authentication (session cookie or Bearer
// token), CSRF checks, JSON parsing, and the JSON error answers; one handler per endpoint
// (http/coord_handlers.cpp) writes the audit entries it owes. What
// a role may see is decided in coord/coord_views.h; accounts, sessions and the audit log live
// in coord/coord_store.h.
//
// No Beast here: the session converts the wire messages before the router calls in.
// Thread-safety: handle() may be called concurrently.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "coord/api_error.h"
#include "coord/coord_store.h"
#include "coord/coord_views.h"
#include "http/message.h"

namespace mentorsync::server::http {

inline constexpr std::string_view kSessionCookie = "ms_session";
inline constexpr std::string_view kCsrfHeader = "X-CSRF-Token";

// The route templates of the API ("/api/v1/records/{collection}", ...), as Response::route
// names them: the labels the metrics count /api/v1 requests under.
std::vector<std::string> coord_route_templates();

class CoordApi {
  public:
    // `secure_cookies`: add `Secure` to the session cookie (the server runs with TLS).
    CoordApi(std::shared_ptr<coord::CoordStore> store, std::shared_ptr<coord::CoordViews> views,
             bool secure_cookies);

    // Opens DIR/coord.db and an admin view of DIR: a connection of its own to server.db (so
    // coordinator reads never queue behind device ingest in this process) and `state`, the
    // merged state this process owns (the service's: state.db has one owner, merged_state.h).
    static Result<std::unique_ptr<CoordApi>> open(const std::string& data_dir,
                                                  std::shared_ptr<MergedState> state,
                                                  bool secure_cookies, LogSink log = {});

    // Answers any request whose path starts with /api/. Never throws.
    Response handle(const Request& request) const;

    coord::CoordStore& store() const { return *store_; }

    // The API's JSON error answer {code, message} with its security headers; the HTTP status
    // and code are the table's (coord/api_error.h). Also for answers the HTTP layer gives
    // before the API sees a request (413, 429, 503). With `retry_after_s` > 0 the body also
    // carries "retry_after_s" and the answer a Retry-After header.
    static Response error(coord::Error e, const std::string& message,
                          std::int64_t retry_after_s = 0);

  private:
    std::shared_ptr<coord::CoordStore> store_;
    std::shared_ptr<coord::CoordViews> views_;
    bool secure_cookies_;
};

}  // namespace mentorsync::server::http
