// The command line's `--name value` / `--name=value` / `--flag` options, checked against what
// a command takes. Every failure is a usage error (the caller prints the usage text and exits
// 2); its message names the option.
// Thread-safety: values.
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "mentorsync/status.h"
#include "mentorsync/types.h"

namespace mentorsync::server::cli {

// The options one command takes (`--data-dir` is always allowed, and required).
struct ArgSpec {
    std::set<std::string> required;
    std::set<std::string> optional;
    std::set<std::string> flags;  // options without a value
};

class Args {
  public:
    // invalid_argument: a word that is not an option, an option given twice, unknown to the
    // command, a flag given a value, a value missing, or a required option absent.
    static Result<Args> parse(const ArgSpec& spec, const std::vector<std::string>& words);

    // Precondition: has(name).
    const std::string& get(const std::string& name) const { return values_.at(name); }
    bool has(const std::string& name) const { return values_.count(name) > 0; }
    // invalid_argument "--<name>: not a UUID". Precondition: has(name).
    Result<Uuid> uuid(const std::string& name) const;
    // invalid_argument "--<name>: not a whole number". Precondition: has(name).
    Result<std::int64_t> integer(const std::string& name) const;

  private:
    std::map<std::string, std::string> values_;
};

}  // namespace mentorsync::server::cli
