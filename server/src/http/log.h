// The HTTP layer logs through the server's one logger (core/log.h).
#pragma once

#include "core/log.h"

namespace mentorsync::server::http {

using Logger = server::Logger;

}  // namespace mentorsync::server::http
