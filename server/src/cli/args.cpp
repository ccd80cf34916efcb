#include "cli/args.h"

#include <cerrno>
#include <cstdlib>

namespace mentorsync::server::cli {

Result<Args> Args::parse(const ArgSpec& spec, const std::vector<std::string>& words) {
    Args out;
    auto& values = out.values_;
    for (std::size_t i = 0; i < words.size(); ++i) {
        const std::string& w = words[i];
        if (w.rfind("--", 0) != 0)
            return Status::invalid_argument("unexpected argument '" + w + "'");
        std::string name = w.substr(2), value;
        if (spec.flags.count(name)) {
            if (!values.emplace(name, "").second)
                return Status::invalid_argument("--" + name + " given twice");
            continue;
        }
        if (auto eq = name.find('='); eq != std::string::npos) {
            if (spec.flags.count(name.substr(0, eq)))
                return Status::invalid_argument("--" + name.substr(0, eq) + " takes no value");
            value = name.substr(eq + 1);
            name = name.substr(0, eq);
        } else {
            if (i + 1 >= words.size())
                return Status::invalid_argument("--" + name + " needs a value");
            value = words[++i];
        }
        if (name != "data-dir" && !spec.required.count(name) && !spec.optional.count(name))
            return Status::invalid_argument("unknown option --" + name + " for this command");
        if (!values.emplace(name, value).second)
            return Status::invalid_argument("--" + name + " given twice");
    }
    if (!values.count("data-dir")) return Status::invalid_argument("--data-dir is required");
    for (const auto& r : spec.required)
        if (!values.count(r)) return Status::invalid_argument("--" + r + " is required");
    return out;
}

Result<Uuid> Args::uuid(const std::string& name) const {
    auto u = Uuid::parse(get(name));
    if (!u) return Status::invalid_argument("--" + name + ": not a UUID");
    return *u;
}

Result<std::int64_t> Args::integer(const std::string& name) const {
    // What std::stoll accepted before: optional leading spaces and sign, then digits, the
    // whole value used, and in range.
    const std::string& v = get(name);
    const Status bad = Status::invalid_argument("--" + name + ": not a whole number");
    if (v.empty()) return bad;
    errno = 0;
    char* end = nullptr;
    const long long n = std::strtoll(v.c_str(), &end, 10);
    if (end == v.c_str() || errno == ERANGE || end != v.c_str() + v.size()) return bad;
    return static_cast<std::int64_t>(n);
}

}  // namespace mentorsync::server::cli
