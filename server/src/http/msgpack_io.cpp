#include "http/msgpack_io.h"

namespace mentorsync::server::http {

Response error_response(wire::Error error, std::string message,
                        std::optional<std::int64_t> server_time_ms) {
    Response r;
    r.status = wire::http_status(error);
    r.content_type = std::string(kMsgpackType);
    r.error_code = std::string(wire::error_name(error));
    r.body = wire::encode_error({r.error_code, std::move(message), server_time_ms});
    return r;
}

Response decode_error_response(const Status& decode_error) {
    return error_response(wire::error_of(decode_error).value_or(wire::Error::bad_request),
                          decode_error.message());
}

Response service_error_response(const Status& error, std::optional<std::int64_t> server_time_ms) {
    const auto e = wire::error_of(error);
    if (!e || error.ok()) return error_response(wire::Error::internal, "internal server error");
    return error_response(*e, error.message(),
                          wire::http_status(*e) == 401 ? server_time_ms : std::nullopt);
}

}  // namespace mentorsync::server::http
