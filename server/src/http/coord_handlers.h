// Internal to http/: the pieces CoordApi (coord_api.cpp: the route table, authentication, the
// error answers) hands to the one handler of each /api/v1 endpoint (coord_handlers.cpp).
// Handlers return Result<Response>; a failed Result carries a coord::Error reason
// (coord/api_error.h) and CoordApi turns it into the JSON error answer.
// Thread-safety: a Call is one request's; the context's store and views are thread-safe.
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "coord/api_error.h"
#include "coord/coord_store.h"
#include "coord/coord_views.h"
#include "http/message.h"

namespace mentorsync::server::http::coord_api {

// What every handler may use: the stores behind the API and how cookies are set.
struct CoordContext {
    coord::CoordStore& store;
    coord::CoordViews& views;
    bool secure_cookies = false;
};

// The query string of one request, checked against the parameters its endpoint knows.
struct Params {
    std::map<std::string, std::string> q;
    std::set<std::string> allowed;

    void allow(std::initializer_list<const char*> names);
    // Every parameter must be one the endpoint knows: a typo must not silently widen a query.
    Status check_known() const;
    // "" when absent.
    std::string str(const std::string& name) const;
    // nullopt when absent; bad_parameter "<name>: not a UUID" when malformed.
    Result<std::optional<Uuid>> uuid(const std::string& name) const;
    // 100 when absent; bad_parameter unless a whole number from 1 to 500.
    Result<std::size_t> limit() const;
    // false when absent; bad_parameter unless "true" or "false".
    Result<bool> boolean(const std::string& name) const;
};

// The query string as a map; repeated or undecodable parameters are bad_parameter.
Result<std::map<std::string, std::string>> parse_query(std::string_view target);

// One request being answered: the parsed pieces and, past authentication, the caller.
struct Call {
    const Request& req;
    std::string route;      // the matched template
    std::string path_part;  // the value of the template's {collection} or {id}, if any
    Params params;
    nlohmann::json body;  // the JSON object of a POST ("null" when there is none)
    std::optional<coord::Caller> caller;
};

using Handler = Result<Response> (*)(const CoordContext&, Call&);

// A JSON answer with the API's security headers.
Response json_response(int status, const nlohmann::json& body);
void add_security_headers(Response& r);
// "name=value" of the Cookie header, "" when absent.
std::string cookie_value(std::string_view header, std::string_view name);

// One per endpoint (docs/api/openapi.yaml).
Result<Response> sign_in(const CoordContext& ctx, Call& call);
Result<Response> sign_out(const CoordContext& ctx, Call& call);
Result<Response> me(const CoordContext& ctx, Call& call);
Result<Response> municipalities(const CoordContext& ctx, Call& call);
Result<Response> institutions(const CoordContext& ctx, Call& call);
Result<Response> records(const CoordContext& ctx, Call& call);
Result<Response> export_records(const CoordContext& ctx, Call& call);
Result<Response> learner(const CoordContext& ctx, Call& call);
Result<Response> indicators(const CoordContext& ctx, Call& call);
Result<Response> export_indicators(const CoordContext& ctx, Call& call);
Result<Response> escalations(const CoordContext& ctx, Call& call);
Result<Response> devices(const CoordContext& ctx, Call& call);
Result<Response> conflicts(const CoordContext& ctx, Call& call);
Result<Response> resolve(const CoordContext& ctx, Call& call);
Result<Response> audit(const CoordContext& ctx, Call& call);
Result<Response> audit_verify(const CoordContext& ctx, Call& call);

}  // namespace mentorsync::server::http::coord_api
