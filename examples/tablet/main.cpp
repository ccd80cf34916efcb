// mentorsync-tablet: a tablet stand-in for the terminal, built only on the client SDK's C ABI
// (mentorsync.h, libmentorsync.so), the way a Swift or Kotlin app would use it. It proves the
// ABI is enough for the whole mentor workflow: enroll, unlock, log contacts and absences,
// read a learner's history, edit, show and resolve conflicts, sync and status.
//
// Every command opens the encrypted store file, does one thing and closes it again. The
// passphrase comes from the environment (MENTORSYNC_PASSPHRASE) or from stdin, never from the
// command line, where any user could read it in `ps`. Exit codes: 0 done, 1 the command failed
// (the message says why), 2 the command line is wrong (the usage text follows).
//
// Besides mentorsync.h this uses only the C++ standard library, POSIX (terminal echo, file
// modes) and nlohmann/json to read the JSON the library returns, as an app would use its
// platform's JSON decoder.
#include <mentorsync/mentorsync.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <fstream>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

namespace {

using nlohmann::json;

constexpr const char* kProgram = "mentorsync-tablet";

// ---- errors and exit codes -------------------------------------------------------------------

struct UsageError {  // exit 2: the command line is wrong
    std::string message;
};
struct Failure {  // exit 1: the command was understood but failed
    std::string message;
};

// "enroll: server refused (HTTP 403, enrollment_invalid): <message>"
std::string describe(const ms_error& e) {
    std::string out;
    if (e.domain == MS_ERROR_DOMAIN_SERVER) {
        out = "the server refused (HTTP " + std::to_string(e.code);
        if (e.server_code[0] != '\0') out += std::string(", ") + e.server_code;
        out += ")";
    } else {
        out = ms_error_code_name(e.code);
    }
    out += std::string(": ") + e.message;
    if (e.transient) {
        out += " (temporary: try again later";
        if (e.retry_after_ms > 0) out += ", in " + std::to_string(e.retry_after_ms / 1000) + " s";
        out += ")";
    }
    return out;
}

[[noreturn]] void fail(const std::string& what, const ms_error& e) {
    throw Failure{what + ": " + describe(e)};
}

// ---- the command line ------------------------------------------------------------------------

struct Option {
    std::string name;  // without the leading "--"
    std::string value_name;
    std::string help;
    bool required = false;
    bool flag = false;      // takes no value
    bool repeated = false;  // may be given several times
};

struct Command {
    std::string name;
    std::string summary;
    std::vector<Option> options;
    std::string notes = {};  // extra text for --help
};

const std::vector<Command>& command_table() {
    static const std::vector<Command> commands = {
        {"enroll",
         "create this tablet's encrypted store and enroll it with the server",
         {{"server", "URL", "the sync server, e.g. https://sync.example.lv", true},
          {"code", "CODE",
           "the one-time enrollment code from the administrator (or set "
           "MENTORSYNC_ENROLL_CODE)"},
          {"label", "TEXT", "how administrators see this tablet (default: \"tablet\")"},
          {"ca-file", "FILE", "PEM file of extra trust anchors, for a private CA"},
          {"weak-kdf", "", "tests and demos only: the cheapest passphrase stretching", false,
           true}},
         "The passphrase chosen now protects the store; every later command asks for it.\n"
         "A tablet enrolls once; to start over, delete the store with its -wal/-shm files.\n"},
        {"unlock",
         "check the passphrase: open the store and say what it holds",
         {},
         "Useful before a working day: a wrong passphrase fails here, not in the middle of\n"
         "logging. Five wrong passphrases in a row lock the store out for a while.\n"},
        {"change-passphrase",
         "protect the store with a new passphrase",
         {},
         "The current passphrase as for every command; the new one from\n"
         "MENTORSYNC_NEW_PASSPHRASE, else the next line of stdin (asked for twice on a\n"
         "terminal). A wrong current passphrase counts towards the lockout.\n"},
        {"learners",
         "list the learners this tablet holds (those assigned to its user)",
         {{"json", "", "print the records as JSON", false, true}}},
        {"log-contact",
         "log a meeting or contact with a learner",
         {{"learner", "ID", "the learner's id (see `learners`)", true},
          {"at", "YYYY-MM-DDTHH:MM", "local date and time it started", true},
          {"minutes", "N", "duration in minutes (1-720)", true},
          {"place", "PLACE", "school, youth_centre, home, outdoors, online or phone", true},
          {"form", "FORM", "individual or group (default individual)"},
          {"topics", "LIST",
           "comma-separated: learning, attendance, family, health, friends,\n"
           "leisure, career, behaviour, wellbeing, other"},
          {"notes", "TEXT", "the mentor's notes"},
          {"next-steps", "TEXT", "agreed next steps"},
          {"follow-up", "YYYY-MM-DD", "follow-up date"},
          {"risk", "", "flag a risk", false, true},
          {"mentor", "ID", "the mentor (default: the user this tablet was enrolled for)"}},
         "Notes are special-category data: on a shared machine prefer --notes - to read them\n"
         "from stdin instead of the command line (then give the passphrase in\n"
         "MENTORSYNC_PASSPHRASE).\n"},
        {"log-absence",
         "log lessons a learner missed on one day",
         {{"learner", "ID", "the learner's id", true},
          {"date", "YYYY-MM-DD", "the school day", true},
          {"lessons", "N", "lessons missed that day (1-16)", true},
          {"status", "STATUS", "justified, unjustified or unknown", true},
          {"justification", "KIND", "parent_note, doctor, school_event or other"},
          {"source", "SOURCE", "e_journal, school or mentor (default mentor)"},
          {"parents-contacted", "YYYY-MM-DD", "the day the parents were contacted"}}},
        {"history",
         "a learner's records, oldest first, optionally within a date range",
         {{"learner", "ID", "the learner's id", true},
          {"from", "YYYY-MM-DD", "first day (inclusive)"},
          {"to", "YYYY-MM-DD", "last day (inclusive)"},
          {"include-deleted", "", "also deleted records", false, true},
          {"json", "", "print the records as JSON", false, true}}},
        {"edit",
         "change fields of a record (e.g. correct a contact)",
         {{"id", "ID", "the record's id (see `history`)", true},
          {"collection", "NAME", "its collection (default: found by id)"},
          {"set", "FIELD=VALUE",
           "the new value; VALUE is read as JSON when it parses (3, true,\n"
           "null, [\"a\",\"b\"], \"text\"), as text otherwise. Repeatable.",
           true, false, true}},
         "Field names are those of docs/schema.md, e.g. --set duration_min=50\n"
         "--set 'next_steps=Call the class teacher' --set 'topics=[\"learning\"]'.\n"},
        {"conflicts",
         "edits that lost to a concurrent edit on another tablet",
         {{"record", "ID", "only this record's conflicts"},
          {"json", "", "print them as JSON", false, true}}},
        {"resolve",
         "settle one conflict; the decision syncs like any other edit",
         {{"record", "ID", "the record", true},
          {"field", "FIELD", "the field in conflict", true},
          {"loser", "STAMP", "the losing edit's stamp (needed only if there are several)"},
          {"keep-current", "", "keep the current value", false, true},
          {"take-other", "", "make the losing value current", false, true},
          {"value", "JSON", "write this value instead, e.g. '\"merged text\"'"}},
         "Exactly one of --keep-current, --take-other or --value.\n"},
        {"sync",
         "send this tablet's changes and receive everyone else's",
         {{"quiet", "", "print only the summary", false, true},
          {"attempts", "N",
           "give up after N failed attempts in a row (1-100, default 4; waits 1 s, 2 s, ...)"}}},
        {"status",
         "what is waiting to sync, when it last synced, clock and quarantine warnings",
         {{"json", "", "print it as JSON", false, true}}},
        {"retry",
         "send the changes the server refused again with the next sync",
         {},
         "For changes refused e.g. as out of scope, once an administrator has fixed the\n"
         "assignment. Changes refused because this tablet's clock ran ahead need no retry:\n"
         "each sync re-dates them and sends them again by itself.\n"},
    };
    return commands;
}

const Command* find_command(const std::string& name) {
    for (const Command& c : command_table())
        if (c.name == name) return &c;
    return nullptr;
}

std::string main_usage() {
    std::ostringstream out;
    out << "usage: " << kProgram << " --store FILE <command> [options]\n\n"
        << "A mentor's tablet on the command line, built on the MentorSync client SDK.\n\n"
        << "commands:\n";
    for (const Command& c : command_table()) {
        out << "  " << c.name << std::string(c.name.size() < 19 ? 19 - c.name.size() : 1, ' ')
            << c.summary << "\n";
    }
    out << "\n"
        << "  --store FILE   the tablet's encrypted store (or set MENTORSYNC_STORE)\n"
        << "  --help         this text; `" << kProgram << " <command> --help` for a command\n\n"
        << "The passphrase is read from MENTORSYNC_PASSPHRASE, else from the first line of\n"
        << "stdin (asked for without echo on a terminal); never from the command line.\n"
        << "Exit codes: 0 done, 1 the command failed, 2 the command line is wrong.\n";
    return out.str();
}

std::string command_usage(const Command& c) {
    std::ostringstream out;
    out << "usage: " << kProgram << " --store FILE " << c.name;
    for (const Option& o : c.options) {
        std::string word = "--" + o.name + (o.flag ? "" : " " + o.value_name);
        out << " " << (o.required ? word : "[" + word + "]");
        if (o.repeated) out << "...";
    }
    out << "\n\n" << c.summary << ".\n";
    if (!c.options.empty()) out << "\noptions:\n";
    for (const Option& o : c.options) {
        std::string word = "--" + o.name + (o.flag ? "" : " " + o.value_name);
        std::string help = o.help;  // continuation lines line up under the first
        for (std::size_t at = help.find('\n'); at != std::string::npos;
             at = help.find('\n', at + 1))
            help.insert(at + 1, std::string(27, ' '));
        out << "  " << word << std::string(word.size() < 25 ? 25 - word.size() : 1, ' ') << help
            << (o.required ? " (required)" : "") << "\n";
    }
    if (!c.notes.empty()) out << "\n" << c.notes;
    return out.str();
}

class Args {
  public:
    Args(const Command& c, const std::vector<std::string>& words) : command_(c) {
        for (std::size_t i = 0; i < words.size(); ++i) {
            std::string w = words[i];
            if (w.rfind("--", 0) != 0 || w.size() == 2)
                throw UsageError{"unexpected argument '" + w + "'"};
            std::string name = w.substr(2);
            std::optional<std::string> value;
            if (auto eq = name.find('='); eq != std::string::npos) {
                value = name.substr(eq + 1);
                name = name.substr(0, eq);
            }
            const Option* o = option(name);
            if (!o) throw UsageError{"unknown option --" + name + " for '" + c.name + "'"};
            if (o->flag) {
                if (value) throw UsageError{"--" + name + " takes no value"};
                value = "";
            } else if (!value) {
                if (i + 1 >= words.size()) throw UsageError{"--" + name + " needs a value"};
                value = words[++i];
            }
            auto& slot = values_[name];
            if (!slot.empty() && !o->repeated) throw UsageError{"--" + name + " given twice"};
            slot.push_back(*value);
        }
        for (const Option& o : c.options)
            if (o.required && !has(o.name)) throw UsageError{"--" + o.name + " is required"};
    }

    bool has(const std::string& name) const { return values_.count(name) > 0; }
    std::string get(const std::string& name, const std::string& fallback = "") const {
        auto it = values_.find(name);
        return it == values_.end() ? fallback : it->second.front();
    }
    const std::vector<std::string>& all(const std::string& name) const {
        static const std::vector<std::string> none;
        auto it = values_.find(name);
        return it == values_.end() ? none : it->second;
    }
    std::int64_t integer(const std::string& name) const {
        const std::string v = get(name);
        std::size_t used = 0;
        try {
            long long n = std::stoll(v, &used);
            if (used == v.size()) return n;
        } catch (const std::exception&) {
        }
        throw UsageError{"--" + name + ": '" + v + "' is not a whole number"};
    }

  private:
    const Option* option(const std::string& name) const {
        for (const Option& o : command_.options)
            if (o.name == name) return &o;
        return nullptr;
    }
    const Command& command_;
    std::map<std::string, std::vector<std::string>> values_;
};

// ---- small helpers ---------------------------------------------------------------------------

// Checks a UUID's shape here so that the error names the option, not just "bad id".
std::string uuid_option(const Args& a, const std::string& name) {
    const std::string v = a.get(name);
    bool ok = v.size() == 36;
    for (std::size_t i = 0; ok && i < v.size(); ++i) {
        if (i == 8 || i == 13 || i == 18 || i == 23)
            ok = v[i] == '-';
        else
            ok = std::isxdigit(static_cast<unsigned char>(v[i])) != 0;
    }
    if (!ok) throw UsageError{"--" + name + ": '" + v + "' is not an id (a UUID)"};
    return v;
}

// Checks that an enum option is one of `allowed`; the library would refuse it too, but the
// usage error can list the choices.
std::string choice_option(const Args& a, const std::string& name,
                          const std::vector<std::string>& allowed, const std::string& fallback) {
    if (!a.has(name)) return fallback;
    const std::string v = a.get(name);
    if (std::find(allowed.begin(), allowed.end(), v) != allowed.end()) return v;
    std::string list;
    for (const auto& x : allowed)
        list += (list.empty() ? "" : ", ") + x;
    throw UsageError{"--" + name + ": '" + v + "' is not one of " + list};
}

std::string read_stdin_text() {
    std::ostringstream s;
    s << std::cin.rdbuf();
    std::string text = s.str();
    while (!text.empty() && (text.back() == '\n' || text.back() == '\r'))
        text.pop_back();
    return text;
}

// A text option, or stdin for "-".
std::string text_option(const Args& a, const std::string& name) {
    std::string v = a.get(name);
    return v == "-" ? read_stdin_text() : v;
}

std::string format_time_ms(std::int64_t ms) {
    std::time_t t = static_cast<std::time_t>(ms / 1000);
    std::tm tm{};
    gmtime_r(&t, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S UTC", &tm);
    return buf;
}

std::string plural(std::uint64_t n, const std::string& one, const std::string& many) {
    return std::to_string(n) + " " + (n == 1 ? one : many);
}

// A duration as a person reads it, rounded to the nearest unit: seconds below 2 min, then
// minutes, hours, days, years (the wording of the engine's own messages).
std::string duration_words(std::int64_t ms) {
    const auto in = [ms](std::int64_t unit) { return ms / unit + (ms % unit >= unit / 2); };
    constexpr std::int64_t kDay = 86'400'000;
    if (in(1000) < 120) return std::to_string(in(1000)) + " s";
    if (in(60'000) < 120) return std::to_string(in(60'000)) + " min";
    if (in(3'600'000) < 48) return std::to_string(in(3'600'000)) + " h";
    if (in(kDay) < 730) return std::to_string(in(kDay)) + " days";
    return std::to_string(in(365 * kDay)) + " years";
}

// "4 min ahead of the server's", "10 s behind the server's": the direction in words, from
// the report's flag, never from the sign of a skew.
std::string clock_words(const ms_clock_report& c) {
    if (c.offset_ms == 0) return "in step with the server's";
    return duration_words(c.offset_ms) + (c.ahead ? " ahead of" : " behind") + " the server's";
}

// The value as a person reads it: text without quotes, lists comma-separated.
std::string show_value(const json& v) {
    if (v.is_string()) return v.get<std::string>();
    if (v.is_null()) return "(empty)";
    if (v.is_array()) {
        std::string out;
        for (const auto& x : v)
            out += (out.empty() ? "" : ", ") + show_value(x);
        return out.empty() ? "(none)" : out;
    }
    return v.dump();
}

// ---- the store -------------------------------------------------------------------------------

std::string store_path_from(const std::string& flag) {
    if (!flag.empty()) return flag;
    if (const char* env = std::getenv("MENTORSYNC_STORE"); env && *env) return env;
    throw UsageError{"--store FILE is required (or set MENTORSYNC_STORE)"};
}

// The passphrase: MENTORSYNC_PASSPHRASE, else one line of stdin (no echo on a terminal).
std::string read_passphrase(bool creating, const char* env_name = "MENTORSYNC_PASSPHRASE") {
    if (const char* env = std::getenv(env_name); env && *env) return env;
    const bool tty = isatty(STDIN_FILENO) != 0;
    auto read_line = [&](const char* prompt) {
        termios old{};
        bool restore = false;
        if (tty) {
            std::cerr << prompt << std::flush;
            if (tcgetattr(STDIN_FILENO, &old) == 0) {
                termios quiet = old;
                quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
                restore = tcsetattr(STDIN_FILENO, TCSANOW, &quiet) == 0;
            }
        }
        std::string line;
        std::getline(std::cin, line);
        if (restore) {
            tcsetattr(STDIN_FILENO, TCSANOW, &old);
            std::cerr << "\n";
        }
        if (!line.empty() && line.back() == '\r') line.pop_back();
        return line;
    };
    std::string p = read_line(creating ? "New passphrase for this tablet: " : "Passphrase: ");
    if (p.empty()) throw Failure{"no passphrase: set MENTORSYNC_PASSPHRASE or give it on stdin"};
    if (creating && tty && read_line("Repeat it: ") != p)
        throw Failure{"the two passphrases differ"};
    return p;
}

// The enrolled user's id and role, kept next to the store ("<store>.user.json", mode 0600) at
// enrollment, because the status the SDK reports names the device but not its user. It holds
// ids only; the tool uses it as the default mentor of a contact.
std::string profile_path(const std::string& store) {
    return store + ".user.json";
}

void save_profile(const std::string& store, const ms_enrollment& e) {
    const std::string path = profile_path(store), tmp = path + ".tmp";
    json j{{"user_id", e.user_id}, {"role", e.role}, {"device_id", e.device_id}};
    {
        std::ofstream out(tmp, std::ios::trunc);
        out << j.dump() << "\n";
        if (!out.flush()) throw Failure{"could not write " + tmp + ": " + std::strerror(errno)};
    }
    chmod(tmp.c_str(), 0600);
    if (std::rename(tmp.c_str(), path.c_str()) != 0)
        throw Failure{"could not write " + path + ": " + std::strerror(errno)};
}

std::optional<json> load_profile(const std::string& store) {
    std::ifstream in(profile_path(store));
    if (!in) return std::nullopt;
    try {
        return json::parse(in);
    } catch (const json::exception&) {
        return std::nullopt;
    }
}

class Store {
  public:
    // Opens and unlocks the store. `create`: a missing file is created (enroll only).
    // `passphrase`: already read by the caller; empty: read it now.
    Store(const std::string& path, bool create, bool weak_kdf, std::string passphrase = {})
        : path_(path) {
        if (!create) {
            struct stat st {};
            if (stat(path.c_str(), &st) != 0)
                throw Failure{"no store at " + path + ": enroll this tablet first"};
        }
        if (passphrase.empty()) passphrase = read_passphrase(create);
        ms_open_options o = MS_OPEN_OPTIONS_INIT;
        o.path = path.c_str();
        o.path_size = path.size();
        o.must_exist = create ? 0 : 1;
        if (weak_kdf) {
            o.kdf_ops_limit = 1;
            o.kdf_mem_limit = 8192;
        }
        ms_key key{MS_KEY_PASSPHRASE, reinterpret_cast<const std::uint8_t*>(passphrase.data()),
                   passphrase.size()};
        ms_error e{};
        const bool ok = ms_open(&o, &key, &store_, &e);
        std::fill(passphrase.begin(), passphrase.end(), '\0');
        if (!ok) {
            if (e.domain == MS_ERROR_DOMAIN_MENTORSYNC && e.code == MS_ERR_WRONG_KEY)
                throw Failure{"wrong passphrase for " + path};
            fail("could not open " + path, e);
        }
    }
    ~Store() { ms_close(store_, nullptr); }
    Store(const Store&) = delete;
    Store& operator=(const Store&) = delete;

    ms_store* get() const { return store_; }
    const std::string& path() const { return path_; }

    ms_store_status status() const {
        ms_store_status s{};
        ms_error e{};
        if (!ms_status(store_, &s, &e)) fail("status", e);
        return s;
    }

    ms_clock_report clock_report() const {
        ms_clock_report c = MS_CLOCK_REPORT_INIT;
        ms_error e{};
        if (!ms_clock_report_get(store_, &c, &e)) fail("clock", e);
        return c;
    }

    json query(const std::string& collection, const std::string& learner, const std::string& from,
               const std::string& to, bool include_deleted) const {
        ms_query_options q = MS_QUERY_OPTIONS_INIT;
        q.collection = collection.c_str();
        q.collection_size = collection.size();
        q.ref = learner.c_str();
        q.ref_size = learner.size();
        q.from_date = from.c_str();
        q.from_date_size = from.size();
        q.to_date = to.c_str();
        q.to_date_size = to.size();
        q.include_deleted = include_deleted ? 1 : 0;
        ms_buffer b{};
        ms_error e{};
        if (!ms_query(store_, &q, &b, &e)) fail("reading " + collection, e);
        return take_json(b);
    }

    std::optional<json> get_record(const std::string& collection, const std::string& id) const {
        ms_buffer b{};
        ms_error e{};
        if (!ms_record_get(store_, collection.data(), collection.size(), id.data(), id.size(), &b,
                           &e)) {
            if (e.domain == MS_ERROR_DOMAIN_MENTORSYNC && e.code == MS_ERR_NOT_FOUND)
                return std::nullopt;
            fail("reading record " + id, e);
        }
        return take_json(b);
    }

    json conflicts(const std::string& row) const {
        ms_buffer b{};
        ms_error e{};
        if (!ms_conflicts(store_, row.empty() ? nullptr : row.data(), row.size(), &b, &e))
            fail("conflicts", e);
        return take_json(b);
    }

    std::string create(const std::string& collection, const json& fields) const {
        const std::string text = fields.dump();
        char id[MS_ID_SIZE] = {};
        ms_error e{};
        if (!ms_record_create(store_, collection.data(), collection.size(), text.data(),
                              text.size(), id, &e))
            fail("could not save the " + collection + " record", e);
        return id;
    }

    // Parses and frees a buffer the library returned.
    static json take_json(ms_buffer& b) {
        json j;
        try {
            j = json::parse(b.data, b.data + b.size);
        } catch (const json::exception& x) {
            ms_buffer_free(&b);
            throw Failure{std::string("the library returned malformed JSON: ") + x.what()};
        }
        ms_buffer_free(&b);
        return j;
    }

  private:
    std::string path_;
    ms_store* store_ = nullptr;
};

// Collections about one learner and the field their date-range queries use (docs/schema.md).
const std::vector<std::pair<std::string, std::string>>& learner_collections() {
    static const std::vector<std::pair<std::string, std::string>> c = {
        {"assignments", "start_date"},  {"contacts", "starts_at"},
        {"absences", "date"},           {"risk_assessments", "assessed_on"},
        {"support_plans", "starts_on"}, {"consents", "given_on"},
        {"referrals", "referred_on"},   {"outcomes", "recorded_on"},
    };
    return c;
}

// The learner must be on this tablet: a typo'd or foreign id is refused before anything is
// written (the server would reject it as out of scope only at the next sync).
void require_learner(const Store& s, const std::string& learner) {
    if (!s.get_record("learners", learner))
        throw Failure{"learner " + learner +
                      " is not on this tablet (see `learners`; a new assignment arrives with "
                      "the next sync)"};
}

// ---- commands --------------------------------------------------------------------------------

int cmd_enroll(const std::string& store_path, const Args& a) {
    std::string code = a.get("code");
    if (code.empty())
        if (const char* env = std::getenv("MENTORSYNC_ENROLL_CODE")) code = env;
    if (code.empty()) throw UsageError{"--code is required (or set MENTORSYNC_ENROLL_CODE)"};
    const std::string server = a.get("server");
    if (server.rfind("https://", 0) != 0 && server.rfind("http://", 0) != 0)
        throw UsageError{"--server: '" + server + "' is not an http:// or https:// URL"};
    const std::string label = a.get("label", "tablet");
    const std::string ca = a.get("ca-file");

    Store s(store_path, /*create=*/true, a.has("weak-kdf"));
    if (s.status().enrolled)
        throw Failure{store_path + " is already enrolled (device " + s.status().device_id +
                      "); a tablet enrolls once"};
    ms_enroll_options o = MS_ENROLL_OPTIONS_INIT;
    o.server_url = server.data();
    o.server_url_size = server.size();
    o.code = code.data();
    o.code_size = code.size();
    o.label = label.data();
    o.label_size = label.size();
    o.ca_file = ca.empty() ? nullptr : ca.data();
    o.ca_file_size = ca.size();
    ms_enrollment en{};
    ms_error e{};
    if (!ms_enroll(s.get(), &o, &en, &e)) {
        if (e.domain == MS_ERROR_DOMAIN_SERVER &&
            std::string(e.server_code) == "enrollment_invalid")
            throw Failure{
                "enroll: the server refused the code (wrong, used or expired): ask "
                "the administrator for a new one"};
        fail("enroll", e);
    }
    save_profile(store_path, en);
    std::cout << "enrolled '" << label << "' as device " << en.device_id << " for " << en.role
              << " " << en.user_id << "\n";
    return 0;
}

int cmd_unlock(const std::string& store_path, const Args&) {
    Store s(store_path, false, false);
    ms_store_status st = s.status();
    std::cout << "unlocked " << store_path << ": " << plural(st.records, "record", "records")
              << ", " << plural(st.pending_changes, "change", "changes") << " waiting to sync"
              << (st.enrolled ? "" : " (not enrolled yet)") << "\n";
    return 0;
}

int cmd_change_passphrase(const std::string& store_path, const Args&) {
    std::string current = read_passphrase(false);
    Store s(store_path, false, false, current);
    std::string next = read_passphrase(true, "MENTORSYNC_NEW_PASSPHRASE");
    if (next.size() < 8) throw Failure{"the new passphrase is shorter than 8 characters"};
    auto as_key = [](const std::string& p) {
        return ms_key{MS_KEY_PASSPHRASE, reinterpret_cast<const std::uint8_t*>(p.data()), p.size()};
    };
    ms_key cur = as_key(current), nxt = as_key(next);
    ms_error e{};
    const bool ok = ms_change_key(s.get(), &cur, &nxt, &e);
    std::fill(current.begin(), current.end(), '\0');
    std::fill(next.begin(), next.end(), '\0');
    if (!ok) fail("change-passphrase", e);
    std::cout << "the store now opens with the new passphrase\n";
    return 0;
}

int cmd_learners(const std::string& store_path, const Args& a) {
    Store s(store_path, false, false);
    json all = s.query("learners", "", "", "", false);
    if (a.has("json")) {
        std::cout << all.dump(2) << "\n";
        return 0;
    }
    std::sort(all.begin(), all.end(), [](const json& x, const json& y) {
        return x["fields"].value("name", "") < y["fields"].value("name", "");
    });
    if (all.empty()) std::cout << "no learners on this tablet yet (sync to receive them)\n";
    for (const json& r : all) {
        const json& f = r["fields"];
        std::cout << r["id"].get<std::string>() << "  " << f.value("name", "?") << "  (born "
                  << f.value("birth_year", 0) << ", grade " << f.value("grade", 0) << ", "
                  << f.value("education", "?") << ")\n";
    }
    return 0;
}

std::string default_mentor(const std::string& store_path, const Args& a) {
    if (a.has("mentor")) return uuid_option(a, "mentor");
    auto p = load_profile(store_path);
    if (!p || !p->contains("user_id"))
        throw Failure{"this tablet does not know its user (" + profile_path(store_path) +
                      " is missing): give --mentor ID"};
    return (*p)["user_id"].get<std::string>();
}

int cmd_log_contact(const std::string& store_path, const Args& a) {
    const std::string learner = uuid_option(a, "learner");
    const std::int64_t minutes = a.integer("minutes");
    json f{{"learner_id", learner},
           {"starts_at", a.get("at")},
           {"duration_min", minutes},
           {"place",
            choice_option(a, "place",
                          {"school", "youth_centre", "home", "outdoors", "online", "phone"}, "")},
           {"form", choice_option(a, "form", {"individual", "group"}, "individual")}};
    if (a.has("topics")) {
        json topics = json::array();
        std::stringstream in(a.get("topics"));
        for (std::string t; std::getline(in, t, ',');)
            if (!t.empty()) topics.push_back(t);
        f["topics"] = topics;
    }
    if ((a.get("notes") == "-" || a.get("next-steps") == "-") &&
        !std::getenv("MENTORSYNC_PASSPHRASE"))
        throw UsageError{
            "with --notes - or --next-steps - stdin holds the text: give the "
            "passphrase in MENTORSYNC_PASSPHRASE"};
    if (a.get("notes") == "-" && a.get("next-steps") == "-")
        throw UsageError{"only one of --notes and --next-steps can be read from stdin"};
    if (a.has("notes")) f["notes"] = text_option(a, "notes");
    if (a.has("next-steps")) f["next_steps"] = text_option(a, "next-steps");
    if (a.has("follow-up")) f["follow_up"] = a.get("follow-up");
    if (a.has("risk")) f["risk_flag"] = true;
    f["mentor_id"] = default_mentor(store_path, a);

    Store s(store_path, false, false);
    require_learner(s, learner);
    const std::string id = s.create("contacts", f);
    std::cout << "logged contact " << id << " (" << a.get("at") << ", " << minutes << " min, "
              << f["place"].get<std::string>() << ")\n";
    return 0;
}

int cmd_log_absence(const std::string& store_path, const Args& a) {
    const std::string learner = uuid_option(a, "learner");
    json f{{"learner_id", learner},
           {"date", a.get("date")},
           {"lessons", a.integer("lessons")},
           {"status", choice_option(a, "status", {"justified", "unjustified", "unknown"}, "")},
           {"source", choice_option(a, "source", {"e_journal", "school", "mentor"}, "mentor")}};
    if (a.has("justification"))
        f["justification"] = choice_option(a, "justification",
                                           {"parent_note", "doctor", "school_event", "other"}, "");
    if (a.has("parents-contacted")) f["parents_contacted"] = a.get("parents-contacted");

    Store s(store_path, false, false);
    require_learner(s, learner);
    const std::string id = s.create("absences", f);
    std::cout << "logged absence " << id << " (" << a.get("date") << ", "
              << plural(static_cast<std::uint64_t>(f["lessons"].get<std::int64_t>()), "lesson",
                        "lessons")
              << ", " << f["status"].get<std::string>() << ")\n";
    return 0;
}

// One line per record for `history`.
std::string summarise(const std::string& collection, const json& f) {
    auto s = [&](const char* k) { return f.contains(k) ? show_value(f[k]) : std::string(); };
    std::string out;
    if (collection == "contacts") {
        out = "contact      " + s("duration_min") + " min, " + s("place") + ", " + s("form");
        if (f.contains("topics")) out += "; topics: " + s("topics");
        if (f.contains("notes")) out += "; notes: " + s("notes");
        if (f.contains("next_steps")) out += "; next steps: " + s("next_steps");
        if (f.contains("follow_up")) out += "; follow-up " + s("follow_up");
        if (f.value("risk_flag", false)) out += "; RISK FLAGGED";
    } else if (collection == "absences") {
        out = "absence      " + s("lessons") + " lesson(s), " + s("status");
        if (f.contains("justification")) out += " (" + s("justification") + ")";
        out += ", recorded by " + s("source");
        if (f.contains("parents_contacted")) out += ", parents contacted " + s("parents_contacted");
    } else if (collection == "assignments") {
        out = "case         " + s("status") + ", mentor " + s("mentor_id");
        if (f.contains("end_date")) out += ", ended " + s("end_date");
    } else {
        out = collection;
        out.resize(std::max<std::size_t>(out.size() + 1, 13), ' ');
        std::string rest;
        for (const auto& [k, v] : f.items())
            if (k != "learner_id") rest += (rest.empty() ? "" : ", ") + k + " " + show_value(v);
        out += rest;
    }
    return out;
}

int cmd_history(const std::string& store_path, const Args& a) {
    const std::string learner = uuid_option(a, "learner");
    Store s(store_path, false, false);
    require_learner(s, learner);
    struct Row {
        std::string when, collection;
        json record;
    };
    std::vector<Row> rows;
    json all = json::array();
    for (const auto& [collection, date_field] : learner_collections()) {
        json got =
            s.query(collection, learner, a.get("from"), a.get("to"), a.has("include-deleted"));
        for (json& r : got) {
            rows.push_back({r["fields"].value(date_field, ""), collection, r});
            all.push_back(r);
        }
    }
    if (a.has("json")) {
        std::cout << all.dump(2) << "\n";
        return 0;
    }
    std::stable_sort(rows.begin(), rows.end(),
                     [](const Row& x, const Row& y) { return x.when < y.when; });
    json learner_rec = *s.get_record("learners", learner);
    std::cout << "history of " << learner_rec["fields"].value("name", "?") << " (" << learner
              << ")";
    if (a.has("from") || a.has("to"))
        std::cout << " from " << a.get("from", "the start") << " to " << a.get("to", "today");
    std::cout << ": " << plural(rows.size(), "record", "records") << "\n";
    for (const Row& r : rows) {
        std::string when = r.when;
        std::replace(when.begin(), when.end(), 'T', ' ');
        when.resize(16, ' ');
        std::cout << "  " << when << "  " << summarise(r.collection, r.record["fields"])
                  << (r.record.value("deleted", false) ? "  [deleted]" : "") << "\n"
                  << "  " << std::string(16, ' ') << "  id " << r.record["id"].get<std::string>()
                  << "\n";
    }
    return 0;
}

int cmd_edit(const std::string& store_path, const Args& a) {
    const std::string id = uuid_option(a, "id");
    json fields = json::object();
    for (const std::string& set : a.all("set")) {
        auto eq = set.find('=');
        if (eq == std::string::npos || eq == 0)
            throw UsageError{"--set: '" + set + "' is not FIELD=VALUE"};
        const std::string name = set.substr(0, eq), text = set.substr(eq + 1);
        json value = json::parse(text, nullptr, /*allow_exceptions=*/false);
        if (value.is_discarded() || value.is_object()) value = text;
        if (fields.contains(name)) throw UsageError{"--set " + name + " given twice"};
        fields[name] = value;
    }
    Store s(store_path, false, false);
    std::string collection = a.get("collection");
    if (collection.empty()) {
        for (const auto& [c, date_field] : learner_collections())
            if (s.get_record(c, id)) {
                collection = c;
                break;
            }
        if (collection.empty()) throw Failure{"no record " + id + " on this tablet"};
    }
    const std::string text = fields.dump();
    ms_error e{};
    if (!ms_record_update(s.get(), collection.data(), collection.size(), id.data(), id.size(),
                          text.data(), text.size(), &e))
        fail("could not change " + collection + " record " + id, e);
    std::string names;
    for (const auto& [k, v] : fields.items())
        names += (names.empty() ? "" : ", ") + k;
    std::cout << "changed " << names << " of " << collection << " record " << id << "\n";
    return 0;
}

int cmd_conflicts(const std::string& store_path, const Args& a) {
    Store s(store_path, false, false);
    json all = s.conflicts(a.has("record") ? uuid_option(a, "record") : "");
    if (a.has("json")) {
        std::cout << all.dump(2) << "\n";
        return 0;
    }
    if (all.empty()) {
        std::cout << "no open conflicts\n";
        return 0;
    }
    std::cout << plural(all.size(), "open conflict", "open conflicts") << ":\n";
    for (const json& c : all) {
        std::cout << "  " << c.value("collection", "?") << " record " << c.value("row", "?")
                  << ", field " << c.value("field", "?") << "\n"
                  << "    current value: " << show_value(c["winner_value"]) << "   (edit "
                  << c.value("winner_stamp", "?") << ")\n"
                  << "    other value:   " << show_value(c["loser_value"]) << "   (edit "
                  << c.value("loser_stamp", "?") << ")\n";
    }
    std::cout << "settle one with: " << kProgram
              << " resolve --record ID --field FIELD --keep-current | --take-other | --value "
                 "JSON\n";
    return 0;
}

int cmd_resolve(const std::string& store_path, const Args& a) {
    const std::string row = uuid_option(a, "record"), field = a.get("field");
    const int how_count =
        (a.has("keep-current") ? 1 : 0) + (a.has("take-other") ? 1 : 0) + (a.has("value") ? 1 : 0);
    if (how_count != 1)
        throw UsageError{"give exactly one of --keep-current, --take-other or --value"};
    std::string value;
    std::int32_t how = MS_RESOLVE_KEEP_WINNER;
    if (a.has("take-other")) how = MS_RESOLVE_TAKE_LOSER;
    if (a.has("value")) {
        how = MS_RESOLVE_CUSTOM;
        value = a.get("value");
        json v = json::parse(value, nullptr, false);
        if (v.is_discarded()) value = json(value).dump();  // plain text: quote it
    }
    Store s(store_path, false, false);
    std::string loser = a.get("loser");
    if (loser.empty()) {
        std::vector<std::string> stamps;
        for (const json& c : s.conflicts(row))
            if (c.value("field", "") == field) stamps.push_back(c.value("loser_stamp", ""));
        if (stamps.empty())
            throw Failure{"no open conflict on field " + field + " of record " + row};
        if (stamps.size() > 1)
            throw UsageError{"field " + field + " has " + std::to_string(stamps.size()) +
                             " open conflicts: choose one with --loser STAMP (see `conflicts`)"};
        loser = stamps.front();
    }
    ms_error e{};
    if (!ms_conflict_resolve(s.get(), row.data(), row.size(), field.data(), field.size(),
                             loser.data(), loser.size(), how, value.data(), value.size(), &e))
        fail("resolve", e);
    std::cout << "resolved the conflict on " << field << " of record " << row
              << "; the decision goes to the server with the next sync\n";
    return 0;
}

struct ProgressPrinter {
    bool quiet = false;
    bool tty = false;
};

std::string progress_text(const ms_sync_progress& p) {
    std::ostringstream out;
    out << "sent " << p.pushed << " (stored " << p.acked;
    if (p.rejected) out << ", refused " << p.rejected;
    out << "), received " << p.pulled << " (merged " << p.applied;
    if (p.quarantined) out << ", quarantined " << p.quarantined;
    if (p.remote_invalid) out << ", invalid " << p.remote_invalid;
    out << ")";
    if (p.learners_purged)
        out << ", " << plural(p.learners_purged, "learner", "learners") << " removed";
    out << ", " << plural(p.requests, "request", "requests");
    return out.str();
}

void on_progress(void* context, const ms_sync_progress* p) {
    const auto* pp = static_cast<const ProgressPrinter*>(context);
    if (pp->quiet) return;
    if (pp->tty)
        std::cout << "\r  syncing: " << progress_text(*p) << "\033[K" << std::flush;
    else
        std::cout << "  syncing: " << progress_text(*p) << "\n" << std::flush;
}

int cmd_sync(const std::string& store_path, const Args& a) {
    ProgressPrinter printer{a.has("quiet"), isatty(STDOUT_FILENO) != 0};
    ms_sync_options o = MS_SYNC_OPTIONS_INIT;
    o.on_progress = on_progress;
    o.progress_context = &printer;
    o.max_attempts = 4;
    if (a.has("attempts")) {
        const std::int64_t n = a.integer("attempts");
        if (n < 1 || n > 100) throw UsageError{"--attempts: expected 1 to 100"};
        o.max_attempts = static_cast<std::uint32_t>(n);
    }
    Store s(store_path, false, false);
    ms_sync_progress p{};
    ms_error e{};
    const bool ok = ms_sync_run(s.get(), &o, &p, &e);
    if (printer.tty && !printer.quiet) std::cout << "\n";
    if (!ok) {
        if (e.domain == MS_ERROR_DOMAIN_MENTORSYNC && e.code == MS_ERR_NOT_ENROLLED)
            throw Failure{"sync: this tablet is not enrolled (run `enroll` first)"};
        fail("sync", e);
    }
    ms_store_status st = s.status();
    const ms_clock_report clock = s.clock_report();
    std::cout << "synced: " << progress_text(p) << "\n";
    if (clock.redated) {
        std::cout << "  note: " << plural(clock.redated, "change was", "changes were")
                  << " re-dated because this tablet's clock was "
                  << duration_words(clock.redated_ahead_ms)
                  << " ahead of the server's when they were made; the server has them now\n";
        ms_error clear_error{};
        if (!ms_clock_report_clear(s.get(), &clear_error)) fail("sync", clear_error);
    }
    if (clock.waiting)
        std::cout << "  warning: " << plural(clock.waiting, "change waits", "changes wait")
                  << ": stamped too far ahead of the server's clock; each sync sends "
                  << (clock.waiting == 1 ? "it" : "them") << " again\n";
    const std::uint64_t refused = st.rejected - std::min(st.rejected, clock.waiting);
    if (refused)
        std::cout << "  warning: the server refused " << plural(refused, "change", "changes")
                  << " (see `status`; `retry` sends them again)\n";
    if (st.open_conflicts)
        std::cout << "  " << plural(st.open_conflicts, "conflict waits", "conflicts wait")
                  << " for review (see `conflicts`)\n";
    if (clock.known && clock.warning)
        std::cout << "  warning: this tablet's clock is " << clock_words(clock)
                  << ": fix the date and time settings\n";
    return 0;
}

int cmd_retry(const std::string& store_path, const Args&) {
    Store s(store_path, false, false);
    const ms_store_status st = s.status();
    ms_error e{};
    if (!ms_sync_retry_rejected(s.get(), &e)) {
        if (e.domain == MS_ERROR_DOMAIN_MENTORSYNC && e.code == MS_ERR_NOT_ENROLLED)
            throw Failure{"retry: this tablet is not enrolled (run `enroll` first)"};
        fail("retry", e);
    }
    std::cout << plural(st.rejected, "refused change goes", "refused changes go")
              << " to the server again with the next sync\n";
    return 0;
}

int cmd_status(const std::string& store_path, const Args& a) {
    Store s(store_path, false, false);
    ms_store_status st = s.status();
    const ms_clock_report clock = s.clock_report();
    json rejected = json::array(), quarantined = json::array();
    if (st.enrolled) {
        ms_buffer b{};
        ms_error e{};
        if (!ms_sync_rejected(s.get(), &b, &e)) fail("status", e);
        rejected = Store::take_json(b);
    }
    {
        ms_buffer b{};
        ms_error e{};
        if (!ms_quarantined(s.get(), &b, &e)) fail("status", e);
        quarantined = Store::take_json(b);
    }
    if (a.has("json")) {
        json j{{"enrolled", st.enrolled != 0},
               {"device_id", st.device_id},
               {"node_id", st.node_id},
               {"records", st.records},
               {"pending_changes", st.pending_changes},
               {"open_conflicts", st.open_conflicts},
               {"quarantined", st.quarantined},
               {"rejected", st.rejected},
               {"last_sync_ms", st.last_sync_ms},
               {"clock_skew_known", st.clock_skew_known != 0},
               {"clock_skew_ms", st.clock_skew_ms},
               {"clock_skew_warning", st.clock_skew_warning != 0},
               {"clock_ahead", clock.known && clock.ahead},
               {"clock_offset_ms", clock.offset_ms},
               {"redated", clock.redated},
               {"redated_ahead_ms", clock.redated_ahead_ms},
               {"redated_at_ms", clock.redated_at_ms},
               {"waiting_future_stamp", clock.waiting},
               {"rejected_changes", rejected}};
        std::cout << j.dump(2) << "\n";
        return 0;
    }
    std::cout << "device:        " << (st.enrolled ? st.device_id : "not enrolled") << "\n"
              << "records:       " << st.records << "\n"
              << "waiting:       " << plural(st.pending_changes, "change", "changes")
              << " not yet on the server\n"
              << "last sync:     "
              << (st.last_sync_ms ? format_time_ms(st.last_sync_ms) : std::string("never")) << "\n"
              << "clock:         ";
    if (!clock.known)
        std::cout << "not checked yet (checked at each sync)\n";
    else if (clock.warning)
        std::cout << "WARNING: " << clock_words(clock)
                  << " at the last sync: fix the tablet's date and time\n";
    else
        std::cout << "in step with the server (" << clock.offset_ms << " ms "
                  << (clock.ahead ? "ahead" : "behind") << ")\n";
    if (clock.redated)
        std::cout << "re-dated:      " << plural(clock.redated, "change", "changes")
                  << ", the last at " << format_time_ms(clock.redated_at_ms)
                  << ": this tablet's clock was " << duration_words(clock.redated_ahead_ms)
                  << " ahead of the server's when they were made\n";
    if (clock.waiting)
        std::cout << "stamped ahead: " << plural(clock.waiting, "change waits", "changes wait")
                  << " until the server's clock passes "
                  << (clock.waiting == 1 ? "its stamp" : "their stamps")
                  << " (each sync sends them again)\n";
    std::cout << "conflicts:     " << st.open_conflicts << " open\n"
              << "quarantined:   " << st.quarantined
              << (st.quarantined ? " (changes from a tablet whose clock runs ahead)" : "") << "\n"
              << "refused:       " << st.rejected << "\n";
    for (const json& r : rejected)
        std::cout << "  " << r.value("stamp", "?") << ": " << r.value("code", "?") << ": "
                  << r.value("message", "") << "\n";
    return 0;
}

int run(int argc, char** argv) {
    std::vector<std::string> words(argv + 1, argv + argc);
    std::string store_flag;
    std::size_t i = 0;
    for (; i < words.size(); ++i) {
        const std::string& w = words[i];
        if (w == "--help" || w == "-h") {
            std::cout << main_usage();
            return 0;
        }
        if (w == "--store") {
            if (i + 1 >= words.size()) throw UsageError{"--store needs a value"};
            store_flag = words[++i];
        } else if (w.rfind("--store=", 0) == 0) {
            store_flag = w.substr(8);
        } else if (w.rfind("-", 0) == 0) {
            throw UsageError{"unknown option " + w + " (before the command only --store)"};
        } else {
            break;
        }
    }
    if (i >= words.size()) throw UsageError{"no command given"};
    const Command* c = find_command(words[i]);
    if (!c) throw UsageError{"unknown command '" + words[i] + "'"};
    std::vector<std::string> rest(words.begin() + static_cast<std::ptrdiff_t>(i) + 1, words.end());
    if (std::find(rest.begin(), rest.end(), "--help") != rest.end()) {
        std::cout << command_usage(*c);
        return 0;
    }
    try {
        Args a(*c, rest);
        const std::string store = store_path_from(store_flag);
        if (c->name == "enroll") return cmd_enroll(store, a);
        if (c->name == "unlock") return cmd_unlock(store, a);
        if (c->name == "change-passphrase") return cmd_change_passphrase(store, a);
        if (c->name == "learners") return cmd_learners(store, a);
        if (c->name == "log-contact") return cmd_log_contact(store, a);
        if (c->name == "log-absence") return cmd_log_absence(store, a);
        if (c->name == "history") return cmd_history(store, a);
        if (c->name == "edit") return cmd_edit(store, a);
        if (c->name == "conflicts") return cmd_conflicts(store, a);
        if (c->name == "resolve") return cmd_resolve(store, a);
        if (c->name == "sync") return cmd_sync(store, a);
        if (c->name == "status") return cmd_status(store, a);
        if (c->name == "retry") return cmd_retry(store, a);
    } catch (const UsageError& u) {
        const std::string usage = command_usage(*c);
        std::cerr << kProgram << " " << c->name << ": " << u.message << "\n"
                  << usage.substr(0, usage.find('\n')) << "\n(" << kProgram << " " << c->name
                  << " --help explains every option)\n";
        return 2;
    }
    throw UsageError{"unknown command '" + c->name + "'"};
}

}  // namespace

int main(int argc, char** argv) {
    try {
        if (ms_abi_version() != MS_ABI_VERSION) {
            std::cerr << kProgram << ": libmentorsync implements ABI " << ms_abi_version()
                      << ", this program was built for " << MS_ABI_VERSION << "\n";
            return 1;
        }
        return run(argc, argv);
    } catch (const UsageError& u) {
        std::cerr << kProgram << ": " << u.message << "\n\n" << main_usage();
        return 2;
    } catch (const Failure& f) {
        std::cerr << kProgram << ": " << f.message << "\n";
        return 1;
    } catch (const std::exception& x) {
        std::cerr << kProgram << ": unexpected error: " << x.what() << "\n";
        return 1;
    }
}
