// The roles of the programme's users (docs/server.md, "Users and scopes") and their names as
// stored in server.db, written in admin commands and answered at enrollment (protocol §4).
// Thread-safety: pure functions.
#pragma once

#include <optional>
#include <string_view>

namespace mentorsync::server {

enum class Role { mentor, centre_staff, coordinator, admin };

// "mentor", "centre_staff", "coordinator" or "admin"; never empty.
std::string_view role_name(Role role) noexcept;
// The role whose name is `text` (exactly, lower case), or nullopt.
std::optional<Role> parse_role(std::string_view text) noexcept;

}  // namespace mentorsync::server
