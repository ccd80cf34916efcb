// A field Value as JSON (nlohmann::json), for the layers that speak JSON: the C ABI, the admin
// command line and the coordinator API. The engine itself does not depend on nlohmann-json;
// only code that includes this header does.
//
// Mapping: null, booleans, integers, reals and strings as themselves; lists as arrays.
#pragma once

#include <nlohmann/json.hpp>

#include "mentorsync/types.h"

namespace mentorsync {

inline nlohmann::json value_to_json(const Value& v) {
    switch (v.kind()) {
        case Value::Kind::null:
            return nullptr;
        case Value::Kind::boolean:
            return v.as_bool();
        case Value::Kind::integer:
            return v.as_int();
        case Value::Kind::real:
            return v.as_real();
        case Value::Kind::string:
            return v.as_string();
        case Value::Kind::list: {
            nlohmann::json a = nlohmann::json::array();
            for (const Value& item : v.as_list())
                a.push_back(value_to_json(item));
            return a;
        }
    }
    return nullptr;
}

}  // namespace mentorsync
