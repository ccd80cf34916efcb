#include "coord/coord_views.h"
#include "mentorsync/value_json.h"

#include <algorithm>
#include <cmath>
#include <ctime>
#include <map>
#include <set>

#include "common/calendar.h"
#include "common/encoding.h"

namespace mentorsync::server::coord {

using nlohmann::json;

namespace {

std::string iso_time(std::int64_t ms) {
    return common::iso_utc_seconds(ms);
}

std::optional<Value> from_json(const json& j) {
    if (j.is_null()) return Value();
    if (j.is_boolean()) return Value(j.get<bool>());
    if (j.is_number_integer()) return Value(j.get<std::int64_t>());
    if (j.is_number_float()) return Value(j.get<double>());
    if (j.is_string()) return Value(j.get<std::string>());
    if (j.is_array()) {
        Value::List l;
        for (const json& x : j) {
            auto v = from_json(x);
            if (!v || v->is_list()) return std::nullopt;
            l.push_back(std::move(*v));
        }
        return Value(std::move(l));
    }
    return std::nullopt;
}

std::string str_field(const Record& r, std::string_view name) {
    auto it = r.fields.find(name);
    if (it == r.fields.end() || !it->second.is_string()) return {};
    return it->second.as_string();
}

std::optional<std::int64_t> int_field(const Record& r, std::string_view name) {
    auto it = r.fields.find(name);
    if (it == r.fields.end() || !it->second.is_int()) return std::nullopt;
    return it->second.as_int();
}

std::optional<Uuid> uuid_field(const Record& r, std::string_view name) {
    return Uuid::parse(str_field(r, name));
}

double round2(double x) {
    return std::round(x * 100.0) / 100.0;
}

// Fields a municipality coordinator never receives: special-category data and the mentor's
// agreed next steps (free text about the child, which the school and municipality do not
// need, DOMAIN.md's table of users).
bool hidden_from_municipality(const CollectionDef& c, const FieldDef& f) {
    if (f.sensitivity == Sensitivity::special) return true;
    return c.name == "contacts" && f.name == "next_steps";
}

std::vector<std::string> redacted_fields(const CollectionDef& c, CoordRole role) {
    std::vector<std::string> out;
    if (role == CoordRole::admin) return out;
    for (const FieldDef& f : c.fields)
        if (hidden_from_municipality(c, f)) out.push_back(f.name);
    return out;
}

std::string learner_of(const CollectionDef& def, const Record& r) {
    if (def.learner_field.empty()) return r.id.to_string();
    return str_field(r, def.learner_field);
}

json record_json(const CollectionDef& def, const Record& r, CoordRole role) {
    const auto redacted = redacted_fields(def, role);
    json fields = json::object();
    for (const auto& [name, value] : r.fields) {
        if (name == kDeletedField) continue;
        if (std::find(redacted.begin(), redacted.end(), name) != redacted.end()) continue;
        // Fields unknown to this schema (a newer app's) may hold anything: only admins see them.
        if (def.field(name) == nullptr && role != CoordRole::admin) continue;
        fields[name] = value_to_json(value);
    }
    return {{"id", r.id.to_string()},
            {"collection", def.name},
            {"learner_id", learner_of(def, r)},
            {"deleted", r.deleted},
            {"updated_at", iso_time(static_cast<std::int64_t>(r.updated.millis()))},
            {"fields", std::move(fields)},
            {"redacted", redacted}};
}

std::string cell(const Value& v) {
    switch (v.kind()) {
        case Value::Kind::null:
            return "";
        case Value::Kind::boolean:
            return v.as_bool() ? "true" : "false";
        case Value::Kind::integer:
            return std::to_string(v.as_int());
        case Value::Kind::real: {
            char buf[64];
            std::snprintf(buf, sizeof buf, "%.15g", v.as_real());
            return buf;
        }
        case Value::Kind::string:
            return v.as_string();
        case Value::Kind::list: {
            std::string s;
            for (const Value& x : v.as_list()) {
                if (!s.empty()) s += ";";
                s += cell(x);
            }
            return s;
        }
    }
    return "";
}

// Cursor: base64url("r1\n" key "\n" id). Opaque to clients; decoded strictly.
std::string make_cursor(const std::string& key, const std::string& id) {
    return common::base64url_encode("r1\n" + key + "\n" + id);
}

std::optional<std::pair<std::string, std::string>> parse_cursor(const std::string& c) {
    if (c.empty() || c.size() > 400) return std::nullopt;
    const auto decoded = common::base64url_decode(c);
    if (!decoded) return std::nullopt;
    const std::string& raw = *decoded;
    if (raw.rfind("r1\n", 0) != 0) return std::nullopt;
    const auto nl = raw.find('\n', 3);
    if (nl == std::string::npos) return std::nullopt;
    return std::make_pair(raw.substr(3, nl - 3), raw.substr(nl + 1));
}

std::string days_from_civil_date(int y, int m, int d) {
    return common::format_iso_date({y, m, d});
}

int last_day(int y, int m) {
    return common::days_in_month(y, m);
}

// The day number (days since 1970-01-01) of a YYYY-MM-DD date this server wrote.
std::int64_t day_number(const std::string& d) {
    const auto date = common::parse_iso_date(d);
    return date ? common::days_from_civil(*date) : 0;
}

// Does a case [start, end] (end "" = open) overlap [from, to]?
bool case_overlaps(const Record& a, const std::string& from, const std::string& to) {
    const std::string start = str_field(a, "start_date");
    const std::string end = str_field(a, "end_date");
    if (start.empty()) return false;
    return start <= to && (end.empty() || end >= from);
}

}  // namespace

bool is_date(const std::string& s) {
    const auto date = common::parse_iso_date(s);
    // The years of the schema's date fields (engine/src/schema.cpp), which the replica's date
    // query checks again: a filter outside them is refused here with the parameter's name.
    return date && date->year >= 1900 && date->year <= 2100;
}

std::optional<std::pair<std::string, std::string>> school_year_period(const std::string& sy) {
    if (sy.size() != 9 || sy[4] != '/') return std::nullopt;
    for (std::size_t i = 0; i < 9; ++i)
        if (i != 4 && (sy[i] < '0' || sy[i] > '9')) return std::nullopt;
    const int a = std::stoi(sy.substr(0, 4)), b = std::stoi(sy.substr(5, 4));
    if (b != a + 1 || a < 2000 || a > 2100) return std::nullopt;
    return std::make_pair(days_from_civil_date(a, 9, 1), days_from_civil_date(b, 8, 31));
}

std::optional<std::pair<std::string, std::string>> semester_period(const std::string& sem) {
    if (sem.size() != 11 || sem[9] != '-' || (sem[10] != '1' && sem[10] != '2'))
        return std::nullopt;
    auto year = school_year_period(sem.substr(0, 9));
    if (!year) return std::nullopt;
    const int a = std::stoi(sem.substr(0, 4));
    if (sem[10] == '1') return std::make_pair(year->first, days_from_civil_date(a, 12, 31));
    return std::make_pair(days_from_civil_date(a + 1, 1, 1), year->second);
}

const std::vector<std::string>& record_collections() {
    static const std::vector<std::string> k = {"learners", "assignments",      "contacts",
                                               "absences", "risk_assessments", "support_plans"};
    return k;
}

struct CoordViews::Scope {
    CoordRole role = CoordRole::municipality;
    std::optional<Uuid> municipality;  // effective filter; none: all
    bool suppress = false;
};

// Collections loaded once per call.
struct CoordViews::Snapshot {
    MergedState& state;
    std::map<std::string, std::vector<Record>> all;  // include deleted
    Result<const std::vector<Record>*> load(const std::string& collection) {
        auto it = all.find(collection);
        if (it != all.end()) return &it->second;
        Query q;
        q.collection = collection;
        q.include_deleted = true;
        MS_ASSIGN_OR_RETURN(auto rows, storage(state.replica().query(q)));
        return &all.emplace(collection, std::move(rows)).first->second;
    }
    // Learner ids (as text) whose municipality matches (all when none); deleted included.
    Result<std::set<std::string>> learners_in(const std::optional<Uuid>& municipality) {
        std::set<std::string> out;
        MS_ASSIGN_OR_RETURN(const auto* learners, load("learners"));
        for (const Record& l : *learners)
            if (!municipality || uuid_field(l, "municipality_id") == municipality)
                out.insert(l.id.to_string());
        return out;
    }
};

CoordViews::CoordViews(std::shared_ptr<Admin> admin, std::shared_ptr<const WallClock> clock)
    : admin_(std::move(admin)),
      clock_(clock ? std::move(clock) : SystemClock::shared()),
      schema_(Schema::programme()) {}

std::string CoordViews::today() const {
    return common::format_iso_date(common::utc_date_of_ms(clock_->now_ms()));
}

Result<CoordViews::Scope> CoordViews::scope_for(const Account& who,
                                                std::optional<Uuid> municipality,
                                                bool learner_level) {
    Scope s;
    s.role = who.role;
    if (learner_level && who.role == CoordRole::national)
        return error(Error::forbidden, "the national role sees aggregated indicators only");
    if (who.role == CoordRole::municipality) {
        if (municipality && municipality != who.municipality)
            return error(Error::not_found, "no such municipality");
        s.municipality = who.municipality;
    } else if (municipality) {
        MS_ASSIGN_OR_RETURN(auto m, storage(admin_->store().find_municipality(*municipality)));
        if (!m) return error(Error::not_found, "no such municipality");
        s.municipality = municipality;
    }
    s.suppress = who.role == CoordRole::national;
    if (admin_->state() == nullptr)
        return error(Error::internal, "the merged state is not available");
    (void)admin_->state()->catch_up();  // a failure leaves the view as of the last catch-up
    return s;
}

Result<json> CoordViews::municipalities(const Account& who) {
    json items = json::array();
    MS_ASSIGN_OR_RETURN(auto all, storage(admin_->store().list_municipalities()));
    std::sort(all.begin(), all.end(), [](auto& a, auto& b) { return a.name < b.name; });
    for (const auto& m : all) {
        if (who.role == CoordRole::municipality && who.municipality != m.id) continue;
        items.push_back({{"id", m.id.to_string()}, {"name", m.name}});
    }
    return json{{"items", items}};
}

Result<json> CoordViews::institutions(const Account& who, std::optional<Uuid> municipality) {
    std::optional<Uuid> muni = municipality;
    if (who.role == CoordRole::municipality) {
        if (municipality && municipality != who.municipality)
            return error(Error::not_found, "no such municipality");
        muni = who.municipality;
    } else if (municipality) {
        MS_ASSIGN_OR_RETURN(auto m, storage(admin_->store().find_municipality(*municipality)));
        if (!m) return error(Error::not_found, "no such municipality");
    }
    MS_ASSIGN_OR_RETURN(auto all, storage(admin_->store().list_institutions()));
    std::sort(all.begin(), all.end(), [](auto& a, auto& b) { return a.name < b.name; });
    json items = json::array();
    for (const auto& i : all) {
        if (muni && i.municipality != *muni) continue;
        items.push_back({{"id", i.id.to_string()},
                         {"name", i.name},
                         {"kind", std::string(institution_kind_name(i.kind))},
                         {"municipality_id", i.municipality.to_string()}});
    }
    return json{{"items", items}};
}

Result<std::vector<Record>> CoordViews::filtered_records(const Scope& scope, const RecordFilter& f,
                                                         Snapshot& snap) {
    const CollectionDef* def = schema_.collection(f.collection);
    if (def == nullptr || std::find(record_collections().begin(), record_collections().end(),
                                    f.collection) == record_collections().end())
        return error(
            Error::bad_parameter,
            "collection: one of learners, assignments, contacts, absences, risk_assessments, "
            "support_plans");
    if (!f.from.empty() && !is_date(f.from))
        return error(Error::bad_parameter, "from: not a YYYY-MM-DD date from 1900 to 2100");
    if (!f.to.empty() && !is_date(f.to))
        return error(Error::bad_parameter, "to: not a YYYY-MM-DD date from 1900 to 2100");
    if (!f.from.empty() && !f.to.empty() && f.from > f.to)
        return error(Error::bad_parameter, "from: after to");
    if (def->date_field.empty() && (!f.from.empty() || !f.to.empty()))
        return error(Error::bad_parameter, "from/to: learners have no date to filter on");

    MS_ASSIGN_OR_RETURN(const std::set<std::string> in_scope, snap.learners_in(scope.municipality));
    if (f.learner && !in_scope.count(f.learner->to_string()))
        return error(Error::not_found, "no such learner");
    std::optional<std::set<std::string>> centre_learners;
    if (f.centre) {
        MS_ASSIGN_OR_RETURN(auto inst, storage(admin_->store().find_institution(*f.centre)));
        if (!inst || (scope.municipality && inst->municipality != *scope.municipality))
            return error(Error::not_found, "no such centre");
        centre_learners.emplace();
        MS_ASSIGN_OR_RETURN(const auto* learners, snap.load("learners"));
        for (const Record& l : *learners)
            if (uuid_field(l, "school_id") == f.centre) centre_learners->insert(l.id.to_string());
        MS_ASSIGN_OR_RETURN(const auto* assignments, snap.load("assignments"));
        for (const Record& a : *assignments)
            if (!a.deleted && uuid_field(a, "centre_id") == f.centre)
                centre_learners->insert(str_field(a, "learner_id"));
    }

    std::vector<Record> rows;
    if (!f.from.empty() || !f.to.empty() || f.learner) {
        Query q;
        q.collection = f.collection;
        q.from_date = f.from;
        q.to_date = f.to;
        q.include_deleted = true;
        if (f.learner && !def->learner_field.empty()) q.ref = f.learner;
        MS_ASSIGN_OR_RETURN(rows, storage(admin_->state()->replica().query(q)));
    } else {
        MS_ASSIGN_OR_RETURN(const auto* loaded, snap.load(f.collection));
        rows = *loaded;
    }
    std::vector<Record> out;
    for (Record& r : rows) {
        if (r.deleted && !f.include_deleted) continue;
        const std::string l = learner_of(*def, r);
        if (!in_scope.count(l)) continue;
        if (f.learner && l != f.learner->to_string()) continue;
        if (centre_learners && !centre_learners->count(l)) continue;
        out.push_back(std::move(r));
    }
    auto key = [&](const Record& r) {
        return def->date_field.empty() ? std::string() : str_field(r, def->date_field);
    };
    std::sort(out.begin(), out.end(), [&](const Record& a, const Record& b) {
        const std::string ka = key(a), kb = key(b);
        if (ka != kb) return ka < kb;
        return a.id.to_string() < b.id.to_string();
    });
    return out;
}

Result<json> CoordViews::records(const Account& who, const RecordFilter& f) {
    MS_ASSIGN_OR_RETURN(const Scope scope, scope_for(who, f.municipality, true));
    Snapshot snap{*admin_->state(), {}};
    std::optional<std::pair<std::string, std::string>> after;
    if (!f.cursor.empty()) {
        after = parse_cursor(f.cursor);
        if (!after) return error(Error::bad_cursor, "cursor: not a cursor this API gave out");
    }
    MS_ASSIGN_OR_RETURN(const std::vector<Record> all, filtered_records(scope, f, snap));
    const CollectionDef* def = schema_.collection(f.collection);
    auto key = [&](const Record& r) {
        return def->date_field.empty() ? std::string() : str_field(r, def->date_field);
    };
    json items = json::array();
    std::optional<std::string> next;
    const Record* last = nullptr;
    for (const Record& r : all) {
        const std::string k = key(r), id = r.id.to_string();
        if (after && (k < after->first || (k == after->first && id <= after->second))) continue;
        if (f.limit > 0 && items.size() == f.limit) {
            next = make_cursor(key(*last), last->id.to_string());  // another record follows
            break;
        }
        items.push_back(record_json(*def, r, scope.role));
        last = &r;
    }
    return json{{"items", std::move(items)}, {"next_cursor", next ? json(*next) : json(nullptr)}};
}

Result<Table> CoordViews::records_table(const Account& who, RecordFilter f) {
    MS_ASSIGN_OR_RETURN(const Scope scope, scope_for(who, f.municipality, true));
    Snapshot snap{*admin_->state(), {}};
    MS_ASSIGN_OR_RETURN(std::vector<Record> all, filtered_records(scope, f, snap));
    if (all.size() > kMaxExportRows)
        return error(Error::bad_parameter, "too many rows for one export (" +
                                               std::to_string(all.size()) +
                                               "): narrow the filters");
    const CollectionDef* def = schema_.collection(f.collection);
    const auto redacted = redacted_fields(*def, scope.role);
    Table t;
    t.header = {"id", "deleted", "updated_at"};
    std::vector<const FieldDef*> cols;
    for (const FieldDef& fd : def->fields) {
        if (std::find(redacted.begin(), redacted.end(), fd.name) != redacted.end()) continue;
        cols.push_back(&fd);
        t.header.push_back(fd.name);
    }
    for (const Record& r : all) {
        std::vector<std::string> row = {r.id.to_string(), r.deleted ? "true" : "false",
                                        iso_time(static_cast<std::int64_t>(r.updated.millis()))};
        for (const FieldDef* fd : cols) {
            auto it = r.fields.find(fd->name);
            row.push_back(it == r.fields.end() ? std::string() : cell(it->second));
        }
        t.rows.push_back(std::move(row));
    }
    return t;
}

Result<json> CoordViews::learner_file(const Account& who, const Uuid& learner) {
    MS_ASSIGN_OR_RETURN(const Scope scope, scope_for(who, std::nullopt, true));
    auto rec = admin_->state()->replica().get("learners", learner);
    if (!rec.ok()) {
        if (rec.status().code() == Code::not_found)
            return error(Error::not_found, "no such learner");
        return error(Error::internal, "storage error");
    }
    if (scope.municipality && uuid_field(*rec, "municipality_id") != scope.municipality)
        return error(Error::not_found, "no such learner");
    MS_ASSIGN_OR_RETURN(auto all, storage(admin_->state()->learner_records(learner)));
    json records = json::object();
    json learner_json;
    for (const Record& r : all) {
        const CollectionDef* def = schema_.collection(r.collection);
        // Collections of a newer app's schema: their fields' sensitivity is unknown here.
        if (def == nullptr) continue;
        if (r.collection == "learners") {
            learner_json = record_json(*def, r, scope.role);
            continue;
        }
        records[r.collection].push_back(record_json(*def, r, scope.role));
    }
    return json{{"learner", learner_json}, {"records", records}};
}

// --- indicators -----------------------------------------------------------------------------

namespace {

// Applies the suppression rules of docs/indicators.md for the national role.
struct Suppressor {
    bool on = false;
    bool any = false;
    json count(std::int64_t n) {
        if (on && n >= 1 && n < CoordViews::kSuppressBelow) {
            any = true;
            return nullptr;
        }
        return n;
    }
    // A value derived over `base` learners/mentors (a ratio or a sum of hours).
    json derived(double v, std::int64_t base) {
        if (on && base < CoordViews::kSuppressBelow) {
            if (base > 0) any = true;
            return nullptr;
        }
        return round2(v);
    }
    // One distribution: primary suppression, then secondary when exactly one cell is hidden.
    json distribution(const std::vector<std::pair<std::string, std::int64_t>>& cells) {
        json out = json::object();
        std::vector<std::string> hidden;
        for (const auto& [k, n] : cells) {
            out[k] = count(n);
            if (out[k].is_null()) hidden.push_back(k);
        }
        if (on && hidden.size() == 1) {
            const std::pair<std::string, std::int64_t>* smallest = nullptr;
            for (const auto& c : cells)
                if (c.first != hidden[0] && c.second > 0 &&
                    (!smallest || c.second < smallest->second))
                    smallest = &c;
            if (smallest) out[smallest->first] = nullptr;
        }
        return out;
    }
};

}  // namespace

Result<json> CoordViews::indicators(const Account& who, const std::string& school_year_in,
                                    std::optional<Uuid> municipality) {
    MS_ASSIGN_OR_RETURN(const Scope scope, scope_for(who, municipality, false));
    const std::string now = today();
    std::string sy = school_year_in;
    if (sy.empty()) {
        const int y = std::stoi(now.substr(0, 4));
        const int m = std::stoi(now.substr(5, 2));
        const int start = m >= 9 ? y : y - 1;
        sy = std::to_string(start) + "/" + std::to_string(start + 1);
    }
    const auto period = school_year_period(sy);
    if (!period)
        return error(Error::bad_parameter, "school_year: expected YYYY/YYYY+1, e.g. 2025/2026");
    const auto& [from, to] = *period;
    const int y0 = std::stoi(sy.substr(0, 4));

    Snapshot snap{*admin_->state(), {}};
    Suppressor sup{scope.suppress};

    // Learners in scope (not deleted), by id.
    std::map<std::string, const Record*> learners;
    MS_ASSIGN_OR_RETURN(const auto* all_learners, snap.load("learners"));
    for (const Record& l : *all_learners) {
        if (l.deleted) continue;
        if (scope.municipality && uuid_field(l, "municipality_id") != scope.municipality) continue;
        learners.emplace(l.id.to_string(), &l);
    }
    std::vector<const Record*> cases;  // non-deleted, learner in scope, active in the year
    MS_ASSIGN_OR_RETURN(const auto* assignments, snap.load("assignments"));
    for (const Record& a : *assignments) {
        if (a.deleted || !learners.count(str_field(a, "learner_id"))) continue;
        if (str_field(a, "mentor_id").empty()) continue;
        if (case_overlaps(a, from, to)) cases.push_back(&a);
    }
    std::set<std::string> supported, munis, schools, mentors;
    std::set<std::pair<std::string, std::string>> pairs;
    for (const Record* a : cases) {
        const std::string l = str_field(*a, "learner_id");
        supported.insert(l);
        mentors.insert(str_field(*a, "mentor_id"));
        pairs.emplace(str_field(*a, "mentor_id"), l);
    }
    for (const auto& l : supported) {
        const Record& r = *learners.at(l);
        if (auto m = str_field(r, "municipality_id"); !m.empty()) munis.insert(m);
        if (auto s = str_field(r, "school_id"); !s.empty()) schools.insert(s);
    }

    // Contacts and absences of the year, by month.
    struct Month {
        std::int64_t contacts = 0, minutes = 0, unjustified = 0;
    };
    std::map<std::string, Month> months;
    std::set<std::string> active_mentors;
    MS_ASSIGN_OR_RETURN(const auto* contacts, snap.load("contacts"));
    for (const Record& c : *contacts) {
        if (c.deleted || !learners.count(str_field(c, "learner_id"))) continue;
        const std::string at = str_field(c, "starts_at");
        if (at.size() < 10) continue;
        const std::string day = at.substr(0, 10);
        if (day < from || day > to) continue;
        auto dur = int_field(c, "duration_min");
        if (!dur) continue;
        Month& m = months[day.substr(0, 7)];
        m.contacts += 1;
        m.minutes += *dur;
        if (auto mentor = str_field(c, "mentor_id"); !mentor.empty()) active_mentors.insert(mentor);
    }
    MS_ASSIGN_OR_RETURN(const auto* absences, snap.load("absences"));
    for (const Record& a : *absences) {
        if (a.deleted || !learners.count(str_field(a, "learner_id"))) continue;
        const std::string day = str_field(a, "date");
        if (day < from || day > to || str_field(a, "status") != "unjustified") continue;
        if (auto n = int_field(a, "lessons")) months[day.substr(0, 7)].unjustified += *n;
    }
    json by_month = json::array();
    for (int i = 0; i < 12; ++i) {
        const int mm = (8 + i) % 12 + 1;
        const int yy = mm >= 9 ? y0 : y0 + 1;
        char key[16];  // "YYYY-MM"; room for any int, which GCC cannot rule out at -O1
        std::snprintf(key, sizeof key, "%04d-%02d", yy, mm);
        const std::string mfrom = days_from_civil_date(yy, mm, 1);
        const std::string mto = days_from_civil_date(yy, mm, last_day(yy, mm));
        std::set<std::string> mentees;
        for (const Record* a : cases)
            if (case_overlaps(*a, mfrom, mto)) mentees.insert(str_field(*a, "learner_id"));
        const Month m = months.count(key) ? months[key] : Month{};
        const auto n = static_cast<std::int64_t>(mentees.size());
        const double hours = static_cast<double>(m.minutes) / 60.0;
        json row = {{"month", key},
                    {"contacts", sup.count(m.contacts)},
                    {"hours", sup.derived(hours, n)},
                    {"mentees", sup.count(n)},
                    {"contacts_per_mentee",
                     n > 0 ? sup.derived(static_cast<double>(m.contacts) / n, n) : json(nullptr)},
                    {"hours_per_mentee", n > 0 ? sup.derived(hours / n, n) : json(nullptr)},
                    {"unjustified_lessons", sup.count(m.unjustified)}};
        // A ratio times the mentees shown would give back a hidden contact count.
        if (row["contacts"].is_null()) {
            row["hours"] = nullptr;
            row["contacts_per_mentee"] = nullptr;
            row["hours_per_mentee"] = nullptr;
        }
        // Without the national role, hours are exact even with few mentees.
        if (!sup.on) row["hours"] = round2(hours);
        by_month.push_back(std::move(row));
    }

    // Risk distribution per semester: the latest assessment of each learner in the semester.
    json risk = json::array();
    static const std::vector<std::pair<std::string, std::string>> kGroups = {
        {"learning", "learning_level"},
        {"social_health", "social_health_level"},
        {"family", "family_level"},
        {"economic", "economic_level"},
        {"overall", "overall_level"}};
    for (int s = 1; s <= 2; ++s) {
        const std::string sem = sy + "-" + std::to_string(s);
        std::map<std::string, const Record*> latest;
        MS_ASSIGN_OR_RETURN(const auto* assessments, snap.load("risk_assessments"));
        for (const Record& r : *assessments) {
            if (r.deleted || str_field(r, "semester") != sem) continue;
            const std::string l = str_field(r, "learner_id");
            if (!learners.count(l)) continue;
            auto& cur = latest[l];
            if (!cur) {
                cur = &r;
                continue;
            }
            const std::string a = str_field(r, "assessed_on"), b = str_field(*cur, "assessed_on");
            if (a > b || (a == b && r.id.to_string() > cur->id.to_string())) cur = &r;
        }
        json groups = json::object();
        for (const auto& [group, field] : kGroups) {
            std::vector<std::string> levels = {"none", "low", "medium", "high"};
            if (group == "overall") levels = {"low", "medium", "high"};
            std::vector<std::pair<std::string, std::int64_t>> cells;
            for (const auto& lv : levels) {
                std::int64_t n = 0;
                for (const auto& [l, r] : latest)
                    if (str_field(*r, field) == lv) ++n;
                cells.emplace_back(lv, n);
            }
            groups[group] = sup.distribution(cells);
        }
        risk.push_back({{"semester", sem},
                        {"assessed_learners", sup.count(static_cast<std::int64_t>(latest.size()))},
                        {"groups", groups}});
    }

    // Escalations: the semester containing today when in this year, else the second.
    std::string esc_sem = sy + "-2";
    if (now >= from && now <= to && now <= semester_period(sy + "-1")->second) esc_sem = sy + "-1";
    MS_ASSIGN_OR_RETURN(const auto esc, escalation_list(scope, esc_sem, snap));

    // Data quality.
    MS_ASSIGN_OR_RETURN(const auto devs, device_rows(scope));
    std::int64_t active_devices = 0, quarantined = 0, rejected_on_server = 0;
    // The devices' own reports (protocol §8): summed over the devices that sent one.
    std::int64_t reporting = 0, pending_on_devices = 0, quarantined_on_devices = 0,
                 rejected_on_devices = 0;
    std::map<std::string, std::int64_t> buckets = {
        {"0-1", 0}, {"2-7", 0}, {"8-30", 0}, {"over_30", 0}, {"never", 0}};
    for (const DeviceRow& d : devs) {
        if (d.revoked) continue;
        ++active_devices;
        quarantined += d.quarantined;
        rejected_on_server += d.rejected_total;
        if (d.report) {
            ++reporting;
            pending_on_devices += d.report->pending;
            quarantined_on_devices += d.report->quarantined;
            rejected_on_devices += d.report->rejected;
        }
        if (!d.days_since_sync)
            buckets["never"] += 1;
        else if (*d.days_since_sync <= 1)
            buckets["0-1"] += 1;
        else if (*d.days_since_sync <= 7)
            buckets["2-7"] += 1;
        else if (*d.days_since_sync <= 30)
            buckets["8-30"] += 1;
        else
            buckets["over_30"] += 1;
    }
    std::int64_t open_conflicts = 0;
    {
        MS_ASSIGN_OR_RETURN(const std::set<std::string> in_scope,
                            snap.learners_in(scope.municipality));
        MS_ASSIGN_OR_RETURN(const auto open, storage(admin_->state()->conflicts()));
        for (const Conflict& c : open) {
            MS_ASSIGN_OR_RETURN(auto row, storage(admin_->store().find_row(c.row)));
            if (row && in_scope.count(row->learner.to_string())) ++open_conflicts;
        }
    }
    json dq = {{"devices", sup.count(active_devices)},
               {"devices_by_days_since_sync", sup.distribution({{"0-1", buckets["0-1"]},
                                                                {"2-7", buckets["2-7"]},
                                                                {"8-30", buckets["8-30"]},
                                                                {"over_30", buckets["over_30"]},
                                                                {"never", buckets["never"]}})},
               {"open_conflicts", sup.count(open_conflicts)},
               {"quarantined_on_server", sup.count(quarantined)},
               {"rejected_on_server", sup.count(rejected_on_server)},
               {"devices_not_reporting", sup.count(active_devices - reporting)}};
    // Unknown is not none: with no report in scope the sums are null, not 0.
    for (const auto& [key, sum] : {std::pair{"pending_on_devices", pending_on_devices},
                                   std::pair{"quarantined_on_devices", quarantined_on_devices},
                                   std::pair{"rejected_on_devices", rejected_on_devices}})
        dq[key] = reporting > 0 ? sup.count(sum) : json(nullptr);

    const double mpm =
        mentors.empty() ? 0.0
                        : static_cast<double>(pairs.size()) / static_cast<double>(mentors.size());
    json mentors_json = {
        {"with_cases", sup.count(static_cast<std::int64_t>(mentors.size()))},
        {"active", sup.count(static_cast<std::int64_t>(active_mentors.size()))},
        {"mentees_per_mentor", mentors.empty()
                                   ? json(nullptr)
                                   : sup.derived(mpm, static_cast<std::int64_t>(mentors.size()))}};
    json out = {
        {"school_year", sy},
        {"period", {{"from", from}, {"to", to}}},
        {"municipality_id",
         scope.municipality ? json(scope.municipality->to_string()) : json(nullptr)},
        {"supported_learners",
         {{"value", sup.count(static_cast<std::int64_t>(supported.size()))}, {"target", 2500}}},
        {"active_municipalities",
         {{"value", sup.count(static_cast<std::int64_t>(munis.size()))}, {"target", 42}}},
        {"active_institutions",
         {{"value", sup.count(static_cast<std::int64_t>(schools.size()))}, {"target", 688}}},
        {"mentors", mentors_json},
        {"contacts_by_month", by_month},
        {"risk_by_semester", risk},
        {"escalations",
         {{"semester", esc_sem}, {"learners", sup.count(static_cast<std::int64_t>(esc.size()))}}},
        {"data_quality", dq}};
    out["suppressed"] = sup.any;
    return out;
}

// --- escalations ----------------------------------------------------------------------------

Result<std::vector<json>> CoordViews::escalation_list(const Scope& scope, const std::string& sem,
                                                      Snapshot& snap) {
    const auto period = semester_period(sem);
    if (!period) return error(Error::bad_parameter, "semester: expected YYYY/YYYY+1-1 or -2");
    struct Sum {
        std::int64_t lessons = 0, days = 0;
        std::string parents;
    };
    std::map<std::string, Sum> sums;
    std::map<std::string, const Record*> learners;
    MS_ASSIGN_OR_RETURN(const auto* all_learners, snap.load("learners"));
    for (const Record& l : *all_learners)
        if (!l.deleted &&
            (!scope.municipality || uuid_field(l, "municipality_id") == scope.municipality))
            learners.emplace(l.id.to_string(), &l);
    MS_ASSIGN_OR_RETURN(const auto* absences, snap.load("absences"));
    for (const Record& a : *absences) {
        if (a.deleted || str_field(a, "status") != "unjustified") continue;
        const std::string l = str_field(a, "learner_id"), day = str_field(a, "date");
        if (!learners.count(l) || day < period->first || day > period->second) continue;
        Sum& s = sums[l];
        s.lessons += int_field(a, "lessons").value_or(0);
        s.days += 1;
        s.parents = std::max(s.parents, str_field(a, "parents_contacted"));
    }
    std::vector<json> out;
    for (const auto& [l, s] : sums) {
        if (s.lessons <= kEscalationThreshold) continue;
        const Record& r = *learners.at(l);
        out.push_back(
            {{"learner_id", l},
             {"name", str_field(r, "name")},
             {"school_id", str_field(r, "school_id")},
             {"municipality_id", str_field(r, "municipality_id")},
             {"unjustified_lessons", s.lessons},
             {"absences", s.days},
             {"last_parents_contacted", s.parents.empty() ? json(nullptr) : json(s.parents)}});
    }
    std::sort(out.begin(), out.end(), [](const json& a, const json& b) {
        if (a["unjustified_lessons"] != b["unjustified_lessons"])
            return a["unjustified_lessons"].get<std::int64_t>() >
                   b["unjustified_lessons"].get<std::int64_t>();
        return a["learner_id"].get<std::string>() < b["learner_id"].get<std::string>();
    });
    return out;
}

Result<json> CoordViews::escalations(const Account& who, const std::string& semester_in,
                                     std::optional<Uuid> municipality) {
    MS_ASSIGN_OR_RETURN(const Scope scope, scope_for(who, municipality, true));
    std::string sem = semester_in;
    if (sem.empty()) {
        const std::string now = today();
        const int y = std::stoi(now.substr(0, 4));
        const int m = std::stoi(now.substr(5, 2));
        sem = m >= 9 ? std::to_string(y) + "/" + std::to_string(y + 1) + "-1"
                     : std::to_string(y - 1) + "/" + std::to_string(y) + "-2";
    }
    Snapshot snap{*admin_->state(), {}};
    MS_ASSIGN_OR_RETURN(auto items, escalation_list(scope, sem, snap));
    const auto period = semester_period(sem);
    return json{{"semester", sem},
                {"period", {{"from", period->first}, {"to", period->second}}},
                {"threshold", kEscalationThreshold},
                {"items", items}};
}

// --- devices --------------------------------------------------------------------------------

Result<std::vector<CoordViews::DeviceRow>> CoordViews::device_rows(const Scope& scope) {
    MS_ASSIGN_OR_RETURN(auto devices, storage(admin_->store().list_devices()));
    MS_ASSIGN_OR_RETURN(auto users, storage(admin_->store().list_users()));
    MS_ASSIGN_OR_RETURN(auto insts, storage(admin_->store().list_institutions()));
    std::map<Uuid, const User*> user_by_id;
    for (const User& u : users)
        user_by_id[u.id] = &u;
    std::map<Uuid, Uuid> muni_of_inst;
    for (const Institution& i : insts)
        muni_of_inst[i.id] = i.municipality;
    std::map<Uuid, std::int64_t> quarantined_by_node;
    MS_ASSIGN_OR_RETURN(const auto quarantined, storage(admin_->state()->replica().quarantined()));
    for (const auto& q : quarantined)
        quarantined_by_node[q.stamp.node] += 1;
    const std::int64_t today_n = day_number(today());
    std::vector<DeviceRow> out;
    for (const Device& d : devices) {
        DeviceRow r;
        r.id = d.id;
        r.user = d.user;
        auto u = user_by_id.find(d.user);
        if (u != user_by_id.end()) {
            r.role = std::string(role_name(u->second->role));
            r.institution = u->second->institution;
        }
        if (scope.municipality) {
            if (!r.institution) continue;
            auto m = muni_of_inst.find(*r.institution);
            if (m == muni_of_inst.end() || m->second != *scope.municipality) continue;
        }
        r.revoked = d.revoked;
        r.enrolled_ms = d.enrolled_ms;
        r.last_seen_ms = d.last_seen_ms;
        if (d.last_seen_ms) {
            const std::int64_t seen =
                common::days_from_civil(common::utc_date_of_ms(*d.last_seen_ms));
            r.days_since_sync = std::max<std::int64_t>(0, today_n - seen);
        }
        auto q = quarantined_by_node.find(d.node);
        r.quarantined = q == quarantined_by_node.end() ? 0 : q->second;
        r.report = d.report;
        r.rejected_total = d.rejected_total;
        out.push_back(std::move(r));
    }
    return out;
}

Result<json> CoordViews::devices(const Account& who, std::optional<Uuid> municipality) {
    MS_ASSIGN_OR_RETURN(const Scope scope, scope_for(who, municipality, true));
    MS_ASSIGN_OR_RETURN(auto rows, device_rows(scope));
    std::sort(rows.begin(), rows.end(), [](const DeviceRow& a, const DeviceRow& b) {
        const std::int64_t da = a.last_seen_ms.value_or(-1), db = b.last_seen_ms.value_or(-1);
        if (da != db) return da < db;
        return a.id < b.id;
    });
    json items = json::array();
    for (const DeviceRow& r : rows)
        items.push_back(
            {{"id", r.id.to_string()},
             {"user_id", r.user.to_string()},
             {"role", r.role},
             {"institution_id", r.institution ? json(r.institution->to_string()) : json(nullptr)},
             {"revoked", r.revoked},
             {"enrolled_at", iso_time(r.enrolled_ms)},
             {"last_sync_at", r.last_seen_ms ? json(iso_time(*r.last_seen_ms)) : json(nullptr)},
             {"days_since_sync", r.days_since_sync ? json(*r.days_since_sync) : json(nullptr)},
             {"quarantined_on_server", r.quarantined},
             {"rejected_by_server", r.rejected_total},
             {"pending_on_device", r.report ? json(r.report->pending) : json(nullptr)},
             {"quarantined_on_device", r.report ? json(r.report->quarantined) : json(nullptr)},
             {"rejected_on_device", r.report ? json(r.report->rejected) : json(nullptr)},
             {"reported_at", r.report ? json(iso_time(r.report->reported_ms)) : json(nullptr)}});
    return json{{"items", items}};
}

// --- conflicts ------------------------------------------------------------------------------

namespace {

// Conflict id: base64url(row 16 | loser hlc 8 big-endian | loser node 16 | field).
std::string conflict_id(const Conflict& c) {
    std::string raw(c.row.raw());
    common::append_be64(raw, c.loser.hlc);
    raw.append(c.loser.node.raw());
    raw.append(c.field);
    return common::base64url_encode(raw);
}

struct ConflictKey {
    Uuid row;
    Stamp loser;
    std::string field;
};

std::optional<ConflictKey> parse_conflict_id(const std::string& id) {
    if (id.empty() || id.size() > 300) return std::nullopt;
    const auto decoded = common::base64url_decode(id);
    if (!decoded || decoded->size() <= 40) return std::nullopt;
    const std::string& raw = *decoded;
    ConflictKey k;
    k.row = *Uuid::from_bytes(raw.substr(0, 16));
    k.loser.hlc = *common::read_be64(std::string_view(raw).substr(16, 8));
    k.loser.node = *Uuid::from_bytes(raw.substr(24, 16));
    k.field = raw.substr(40);
    return k;
}

}  // namespace

Result<json> CoordViews::conflicts(const Account& who, std::optional<Uuid> municipality,
                                   std::optional<Uuid> learner, std::size_t limit,
                                   const std::string& cursor) {
    MS_ASSIGN_OR_RETURN(const Scope scope, scope_for(who, municipality, true));
    Snapshot snap{*admin_->state(), {}};
    MS_ASSIGN_OR_RETURN(const std::set<std::string> in_scope, snap.learners_in(scope.municipality));
    if (learner && !in_scope.count(learner->to_string()))
        return error(Error::not_found, "no such learner");
    std::optional<std::pair<std::string, std::string>> after;
    if (!cursor.empty()) {
        after = parse_cursor(cursor);
        if (!after) return error(Error::bad_cursor, "cursor: not a cursor this API gave out");
    }
    const Uuid server_node = admin_->store().server_node();
    std::map<Uuid, json> writer_cache;
    auto writer = [&](const Stamp& st, const Value& v, bool redact) -> Result<json> {
        json w = {{"value", redact ? json(nullptr) : value_to_json(v)},
                  {"stamp", st.to_string()},
                  {"written_at", iso_time(static_cast<std::int64_t>(st.millis()))},
                  {"node", st.node.to_string()},
                  {"device_id", nullptr},
                  {"user_id", nullptr},
                  {"role", nullptr}};
        if (st.node == server_node) {
            w["role"] = "server";
            return w;
        }
        auto it = writer_cache.find(st.node);
        if (it == writer_cache.end()) {
            json who_json = {{"device_id", nullptr}, {"user_id", nullptr}, {"role", nullptr}};
            MS_ASSIGN_OR_RETURN(auto d, storage(admin_->store().find_device_by_node(st.node)));
            if (d) {
                who_json["device_id"] = d->id.to_string();
                who_json["user_id"] = d->user.to_string();
                MS_ASSIGN_OR_RETURN(auto u, storage(admin_->store().find_user(d->user)));
                if (u) who_json["role"] = std::string(role_name(u->role));
            }
            it = writer_cache.emplace(st.node, who_json).first;
        }
        for (const auto& [k, v2] : it->second.items())
            w[k] = v2;
        return w;
    };
    struct Item {
        std::string key, id;
        json j;
    };
    std::vector<Item> items;
    MS_ASSIGN_OR_RETURN(const auto open, storage(admin_->state()->conflicts()));
    for (const Conflict& c : open) {
        MS_ASSIGN_OR_RETURN(auto row, storage(admin_->store().find_row(c.row)));
        if (!row) continue;
        const std::string l = row->learner.to_string();
        if (!in_scope.count(l) || (learner && l != learner->to_string())) continue;
        const CollectionDef* def = schema_.collection(c.collection);
        const FieldDef* fd = def ? def->field(c.field) : nullptr;
        const bool redact = scope.role != CoordRole::admin &&
                            (fd == nullptr || hidden_from_municipality(*def, *fd));
        char key[32];
        std::snprintf(key, sizeof key, "%016llx", static_cast<unsigned long long>(c.loser.hlc));
        Item it{key, conflict_id(c), {}};
        MS_ASSIGN_OR_RETURN(json winner, writer(c.winner, c.winner_value, redact));
        MS_ASSIGN_OR_RETURN(json loser, writer(c.loser, c.loser_value, redact));
        it.j = {{"id", it.id},
                {"collection", c.collection},
                {"row", c.row.to_string()},
                {"learner_id", l},
                {"field", c.field},
                {"values_redacted", redact},
                {"winner", std::move(winner)},
                {"loser", std::move(loser)}};
        items.push_back(std::move(it));
    }
    std::sort(items.begin(), items.end(), [](const Item& a, const Item& b) {
        return a.key != b.key ? a.key < b.key : a.id < b.id;
    });
    json out = json::array();
    std::optional<std::string> next;
    const Item* last = nullptr;
    for (const Item& it : items) {
        if (after && (it.key < after->first || (it.key == after->first && it.id <= after->second)))
            continue;
        if (out.size() == limit) {
            next = make_cursor(last->key, last->id);
            break;
        }
        out.push_back(it.j);
        last = &it;
    }
    return json{{"items", out}, {"next_cursor", next ? json(*next) : json(nullptr)}};
}

Result<json> CoordViews::resolve(const Account& who, const std::string& id, const std::string& how,
                                 const json& value) {
    MS_ASSIGN_OR_RETURN(const Scope scope, scope_for(who, std::nullopt, true));
    if (how != "keep_winner" && how != "take_loser" && how != "custom")
        return error(Error::bad_parameter, "resolution: one of keep_winner, take_loser, custom");
    if (how != "custom" && !value.is_null())
        return error(Error::bad_parameter, "value: only with the custom resolution");
    const auto key = parse_conflict_id(id);
    if (!key) return error(Error::bad_parameter, "id: not a conflict id this API gave out");
    // Scope first: a conflict outside the caller's municipality is "not found".
    MS_ASSIGN_OR_RETURN(auto row, storage(admin_->store().find_row(key->row)));
    if (!row) return error(Error::not_found, "no such open conflict");
    if (scope.municipality) {
        auto l = admin_->state()->replica().get("learners", row->learner);
        if (!l.ok() || uuid_field(*l, "municipality_id") != scope.municipality)
            return error(Error::not_found, "no such open conflict");
    }
    std::optional<Conflict> found;
    MS_ASSIGN_OR_RETURN(const auto open, storage(admin_->state()->conflicts(row->learner)));
    for (const Conflict& c : open)
        if (c.row == key->row && c.field == key->field && c.loser == key->loser) found = c;
    if (!found) return error(Error::not_found, "no such open conflict");
    const CollectionDef* def = schema_.collection(found->collection);
    const FieldDef* fd = def ? def->field(found->field) : nullptr;
    if (fd == nullptr)
        return error(Error::forbidden, "this field is not known to this server's schema");
    if (scope.role != CoordRole::admin && hidden_from_municipality(*def, *fd))
        return error(Error::forbidden,
                     "conflicts of special-category fields are resolved by an admin");
    ResolveConflictInput in;
    in.row = found->row;
    in.field = found->field;
    in.loser = found->loser;
    in.winner = found->winner;
    if (how == "keep_winner") {
        in.value = found->winner_value;
    } else if (how == "take_loser") {
        in.value = found->loser_value;
    } else {
        auto v = from_json(value);
        if (!v) return error(Error::bad_parameter, "value: not a value this field can hold");
        in.value = std::move(*v);
    }
    auto r = admin_->resolve_conflict(in);
    if (!r.ok()) {
        switch (r.status().code()) {
            case Code::validation:
                return error(Error::bad_parameter, "value: " + r.status().message());
            case Code::invalid_argument:
                return error(Error::conflict_changed,
                             "the field was written since the queue was read: reload it");
            case Code::not_found:
                return error(Error::not_found, "no such open conflict");
            default:
                return error(Error::internal, "storage error");
        }
    }
    return json{{"ok", true}, {"stamp", r->stamp.to_string()}, {"seq", r->seq}};
}

// --- indicator CSV --------------------------------------------------------------------------

Table CoordViews::indicators_table(const json& ind) {
    Table t;
    t.header = {"indicator", "period", "group", "value", "target"};
    auto val = [](const json& v) -> std::string {
        if (v.is_null()) return "<5";
        if (v.is_number_integer()) return std::to_string(v.get<std::int64_t>());
        if (v.is_number()) {
            char buf[32];
            std::snprintf(buf, sizeof buf, "%.2f", v.get<double>());
            return buf;
        }
        return v.dump();
    };
    const std::string sy = ind["school_year"];
    for (const char* k : {"supported_learners", "active_municipalities", "active_institutions"})
        t.rows.push_back(
            {k, sy, "", val(ind[k]["value"]), std::to_string(ind[k]["target"].get<int>())});
    for (const char* k : {"with_cases", "active", "mentees_per_mentor"}) {
        const json& v = ind["mentors"][k];
        t.rows.push_back({std::string("mentors_") + k, sy, "",
                          v.is_null() && std::string(k) == "mentees_per_mentor" ? "" : val(v), ""});
    }
    // A count (contacts, mentees, unjustified lessons) is null only when it is 1-4. Hours and
    // the per-mentee ratios are null also when the month has no mentees (nothing to divide by):
    // an empty cell then.
    for (const json& m : ind["contacts_by_month"])
        for (const char* k : {"contacts", "hours", "mentees", "contacts_per_mentee",
                              "hours_per_mentee", "unjustified_lessons"}) {
            const std::string key = k;
            const bool over_mentees =
                key == "hours" || key == "contacts_per_mentee" || key == "hours_per_mentee";
            t.rows.push_back(
                {key, m["month"], "",
                 over_mentees && m[key].is_null() && m["mentees"] == 0 ? "" : val(m[key]), ""});
        }
    for (const json& r : ind["risk_by_semester"]) {
        t.rows.push_back(
            {"risk_assessed_learners", r["semester"], "", val(r["assessed_learners"]), ""});
        for (const auto& [g, levels] : r["groups"].items())
            for (const auto& [lv, n] : levels.items())
                t.rows.push_back({"risk", r["semester"], g + "/" + lv, val(n), ""});
    }
    t.rows.push_back({"escalations", ind["escalations"]["semester"], "",
                      val(ind["escalations"]["learners"]), ""});
    const json& dq = ind["data_quality"];
    for (const char* k : {"devices", "open_conflicts", "quarantined_on_server",
                          "rejected_on_server", "devices_not_reporting"})
        t.rows.push_back({std::string("data_quality_") + k, sy, "", val(dq[k]), ""});
    for (const auto& [b, n] : dq["devices_by_days_since_sync"].items())
        t.rows.push_back({"data_quality_devices_by_days_since_sync", sy, b, val(n), ""});
    // The devices' own sums are null for "no device in scope reported" too; told apart from
    // suppression when every device is known not to report.
    const bool none_reported = dq["devices"].is_number_integer() &&
                               dq["devices_not_reporting"].is_number_integer() &&
                               dq["devices"] == dq["devices_not_reporting"];
    for (const char* k : {"pending_on_devices", "quarantined_on_devices", "rejected_on_devices"})
        t.rows.push_back({std::string("data_quality_") + k, sy, "",
                          dq[k].is_null() && none_reported ? "not reported" : val(dq[k]), ""});
    return t;
}

}  // namespace mentorsync::server::coord
