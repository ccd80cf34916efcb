// `mentorsync-server admin <command> ...`: the administrators' command line (admin_cli.cpp
// describes its output and exit codes). It sits above core/ and coord/ and uses both.
// Thread-safety: run_admin() writes to stdout/stderr; call it from one thread.
#pragma once

#include <string>
#include <vector>

namespace mentorsync::server {

// The command line `mentorsync-server admin <command> --data-dir DIR [options]`. argv may start
// with the program name followed by "admin" (as main() receives it) or with the program name
// only. Returns the exit code: 0 done, 1 failure, 2 usage error.
int run_admin(int argc, char** argv);

// The names of the commands run_admin() knows ("init", "coord-issue-token", ...), sorted. For
// tests that check the documentation names only real commands.
std::vector<std::string> admin_command_names();

}  // namespace mentorsync::server
