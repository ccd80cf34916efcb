#include "core/roles.h"

namespace mentorsync::server {

std::string_view role_name(Role role) noexcept {
    switch (role) {
        case Role::mentor:
            return "mentor";
        case Role::centre_staff:
            return "centre_staff";
        case Role::coordinator:
            return "coordinator";
        case Role::admin:
            return "admin";
    }
    return "mentor";
}

std::optional<Role> parse_role(std::string_view text) noexcept {
    for (Role r : {Role::mentor, Role::centre_staff, Role::coordinator, Role::admin})
        if (role_name(r) == text) return r;
    return std::nullopt;
}

}  // namespace mentorsync::server
