// The programme schema ("Skola–kopiena" v1) as data, and validation against it.
//
// This file is the single definition of the collections and fields: docs/schema.md describes
// it for people and everything else reads it through mentorsync/schema.h.
#include "mentorsync/schema.h"

#include <algorithm>
#include <charconv>
#include <map>
#include <set>

#include "common/calendar.h"
#include "common/text.h"

namespace mentorsync {
namespace {

using S = Sensitivity;
using T = FieldType;

FieldDef ref(std::string name, std::string target, bool required, std::string description) {
    FieldDef f;
    f.name = std::move(name);
    f.type = T::uuid;
    f.required = required;
    f.references = std::move(target);
    f.description = std::move(description);
    return f;
}

FieldDef scalar(std::string name, T type, bool required, S sensitivity, std::string description) {
    FieldDef f;
    f.name = std::move(name);
    f.type = type;
    f.required = required;
    f.sensitivity = sensitivity;
    f.description = std::move(description);
    return f;
}

FieldDef text(std::string name, T type, std::size_t max_length, bool required, S sensitivity,
              std::string description) {
    FieldDef f = scalar(std::move(name), type, required, sensitivity, std::move(description));
    f.max_length = max_length;
    return f;
}

FieldDef integer(std::string name, std::int64_t min, std::int64_t max, bool required, S sensitivity,
                 std::string description) {
    FieldDef f = scalar(std::move(name), T::integer, required, sensitivity, std::move(description));
    f.min = min;
    f.max = max;
    return f;
}

FieldDef choice(std::string name, T type, std::vector<std::string> allowed, bool required,
                S sensitivity, std::string description) {
    FieldDef f = scalar(std::move(name), type, required, sensitivity, std::move(description));
    f.allowed = std::move(allowed);
    return f;
}

FieldDef learner_ref() {
    return ref("learner_id", "learners", true, "the learner this record is about");
}

std::vector<std::string> levels() {
    return {"none", "low", "medium", "high"};
}

std::vector<CollectionDef> programme_collections() {
    std::vector<CollectionDef> c;
    c.push_back(
        {"learners",
         "a learner (mentee) at risk of early school leaving; the id is a pseudonymous UUID",
         "",
         "",
         {text("name", T::string, 200, true, S::personal, "full name"),
          integer("birth_year", 1990, 2030, true, S::personal, "year of birth"),
          ref("school_id", "institutions", true, "the school or vocational institution"),
          ref("municipality_id", "municipalities", true, "the municipality"),
          integer("grade", 1, 12, true, S::none, "grade (general 1-12, vocational year 1-4)"),
          choice("education", T::enumeration, {"general", "vocational"}, true, S::none,
                 "kind of education"),
          text("viis_link", T::string, 100, false, S::personal,
               "optional link to the learner in VIIS")}});
    c.push_back(
        {"assignments",
         "the case: a learner assigned to a mentor, owned by a centre or school",
         "learner_id",
         "start_date",
         {learner_ref(), ref("mentor_id", "users", true, "the mentor"),
          ref("centre_id", "institutions", true, "owning youth centre or school"),
          choice("status", T::enumeration, {"open", "paused", "closed"}, true, S::none,
                 "state of the case"),
          scalar("start_date", T::date, true, S::none, "first day of mentoring"),
          scalar("end_date", T::date, false, S::none, "last day of mentoring"),
          choice("closing_reason", T::enumeration,
                 {"goals_met", "moved_away", "left_education", "declined", "transferred", "other"},
                 false, S::none, "why the case closed")}});
    c.push_back(
        {"contacts",
         "a meeting or contact between a mentor and a learner (a group meeting is logged once "
         "per learner, sharing group_session)",
         "learner_id",
         "starts_at",
         {learner_ref(), ref("mentor_id", "users", true, "the mentor"),
          scalar("starts_at", T::datetime, true, S::none, "local date and time it started"),
          integer("duration_min", 1, 720, true, S::none, "duration in minutes"),
          choice("place", T::enumeration,
                 {"school", "youth_centre", "home", "outdoors", "online", "phone"}, true, S::none,
                 "where it took place"),
          choice("form", T::enumeration, {"individual", "group"}, true, S::none, "form"),
          ref("group_session", "contacts", false, "shared id of one group meeting's contacts"),
          choice("topics", T::enum_list,
                 {"learning", "attendance", "family", "health", "friends", "leisure", "career",
                  "behaviour", "wellbeing", "other"},
                 false, S::none, "coded topics"),
          text("notes", T::text, 10000, false, S::special, "the mentor's notes"),
          text("next_steps", T::text, 2000, false, S::personal, "agreed next steps"),
          scalar("follow_up", T::date, false, S::none, "follow-up date"),
          scalar("risk_flag", T::boolean, false, S::personal, "the mentor flags a risk")}});
    c.push_back(
        {"absences",
         "lessons a learner missed on one day",
         "learner_id",
         "date",
         {learner_ref(), scalar("date", T::date, true, S::none, "school day"),
          integer("lessons", 1, 16, true, S::none, "lessons missed that day"),
          choice("status", T::enumeration, {"unknown", "justified", "unjustified"}, true, S::none,
                 "justified or not (more than 20 unjustified lessons a semester escalate)"),
          choice("justification", T::enumeration,
                 {"parent_note", "doctor", "school_event", "other"}, false, S::special,
                 "kind of justification"),
          choice("source", T::enumeration, {"e_journal", "school", "mentor"}, true, S::none,
                 "where the absence was recorded"),
          scalar("parents_contacted", T::date, false, S::none, "date parents were contacted")}});
    c.push_back(
        {"risk_assessments",
         "a PMP risk assessment for one semester",
         "learner_id",
         "assessed_on",
         {learner_ref(), scalar("semester", T::semester, true, S::none, "semester assessed"),
          scalar("assessed_on", T::date, true, S::none, "date of the assessment"),
          ref("assessor_id", "users", true, "who assessed"),
          choice("learning_level", T::enumeration, levels(), true, S::none,
                 "learning and school risk"),
          choice("social_health_level", T::enumeration, levels(), true, S::special,
                 "social environment and health risk"),
          choice("family_level", T::enumeration, levels(), true, S::special, "family risk"),
          choice("economic_level", T::enumeration, levels(), true, S::personal, "economic risk"),
          choice("factor_codes", T::enum_list,
                 {"low_grades", "repeated_year", "frequent_absence", "learning_difficulties",
                  "behaviour", "health", "peer_conflict", "bullying", "substance_use",
                  "family_conflict", "neglect", "guardian_abroad", "care_duties", "low_income",
                  "no_equipment", "transport"},
                 false, S::special, "risk factors observed"),
          choice("overall_level", T::enumeration, {"low", "medium", "high"}, true, S::none,
                 "overall risk level"),
          text("evidence", T::text, 4000, false, S::special, "evidence for the assessment")}});
    c.push_back(
        {"support_plans",
         "an individual support plan (IAP) for one semester",
         "learner_id",
         "starts_on",
         {learner_ref(), scalar("semester", T::semester, true, S::none, "semester"),
          ref("author_id", "users", true, "author of the plan"),
          scalar("starts_on", T::date, true, S::none, "first day of the plan"),
          text("goals", T::text, 4000, true, S::personal, "goals"),
          text("measures", T::text, 4000, false, S::personal, "support measures"),
          text("responsible", T::string, 200, false, S::personal, "responsible person"),
          text("mentor_support", T::text, 2000, false, S::personal, "the mentor's part"),
          scalar("review_date", T::date, false, S::none, "planned review"),
          text("review_outcome", T::text, 2000, false, S::personal, "outcome of the review")}});
    c.push_back({"consents",
                 "a consent given for a learner; consent gates data sharing and referral",
                 "learner_id",
                 "given_on",
                 {learner_ref(),
                  choice("giver", T::enumeration, {"parent", "guardian", "learner"}, true, S::none,
                         "who gave it"),
                  choice("scope", T::enum_list, {"mentoring", "data_sharing", "referral"}, true,
                         S::none, "what it covers"),
                  scalar("given_on", T::date, true, S::personal, "date given"),
                  scalar("withdrawn_on", T::date, false, S::personal, "date withdrawn")}});
    c.push_back(
        {"referrals",
         "a referral of a learner to another service",
         "learner_id",
         "referred_on",
         {learner_ref(),
          choice("destination", T::enumeration,
                 {"social_service", "orphans_court", "ngo", "health"}, true, S::none, "where to"),
          text("reason", T::text, 2000, true, S::special, "reason"),
          choice("status", T::enumeration, {"planned", "sent", "accepted", "declined", "closed"},
                 true, S::none, "state"),
          ref("consent_id", "consents", false, "the consent it relies on"),
          scalar("referred_on", T::date, true, S::none, "date of referral")}});
    c.push_back(
        {"outcomes",
         "an education outcome recorded for a learner",
         "learner_id",
         "recorded_on",
         {learner_ref(), scalar("school_year", T::school_year, true, S::none, "school year"),
          scalar("recorded_on", T::date, true, S::none, "date recorded"),
          choice("outcome", T::enumeration,
                 {"still_enrolled", "grade_completed", "repeated_year", "left_education"}, true,
                 S::none, "outcome")}});
    return c;
}

bool parse_int(std::string_view s, int& out) {
    if (s.empty()) return false;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
    return ec == std::errc() && p == s.data() + s.size();
}

bool digits(std::string_view s) {
    return !s.empty() &&
           std::all_of(s.begin(), s.end(), [](char ch) { return ch >= '0' && ch <= '9'; });
}

bool valid_date(std::string_view s) {
    return Schema::is_valid_date(s);
}

bool valid_datetime(std::string_view s) {
    if (s.size() != 16 || s[10] != 'T' || s[13] != ':') return false;
    if (!valid_date(s.substr(0, 10))) return false;
    if (!digits(s.substr(11, 2)) || !digits(s.substr(14, 2))) return false;
    int h = 0, mi = 0;
    parse_int(s.substr(11, 2), h);
    parse_int(s.substr(14, 2), mi);
    return h < 24 && mi < 60;
}

bool valid_school_year(std::string_view s) {
    if (s.size() != 9 || s[4] != '/' || !digits(s.substr(0, 4)) || !digits(s.substr(5, 4)))
        return false;
    int a = 0, b = 0;
    parse_int(s.substr(0, 4), a);
    parse_int(s.substr(5, 4), b);
    return a >= 1990 && b == a + 1 && b <= 2100;
}

bool valid_semester(std::string_view s) {
    return s.size() == 11 && valid_school_year(s.substr(0, 9)) && s[9] == '-' &&
           (s[10] == '1' || s[10] == '2');
}

std::string where(const CollectionDef& c, const FieldDef& f) {
    return c.name + "." + f.name + ": ";
}

std::string kind_name(const Value& v) {
    switch (v.kind()) {
        case Value::Kind::null:
            return "null";
        case Value::Kind::boolean:
            return "a boolean";
        case Value::Kind::integer:
            return "an integer";
        case Value::Kind::real:
            return "a number with a fraction";
        case Value::Kind::string:
            return "a string";
        case Value::Kind::list:
            return "a list";
    }
    return "a value";
}

std::string quoted_allowed(const FieldDef& f) {
    std::string out;
    for (const auto& a : f.allowed) {
        if (!out.empty()) out += ", ";
        out += a;
    }
    return out;
}

Status wrong_kind(const CollectionDef& c, const FieldDef& f, const Value& v,
                  std::string_view want) {
    return Status::validation(where(c, f) + "expected " + std::string(want) + ", got " +
                              kind_name(v));
}

}  // namespace

std::string_view field_type_name(FieldType t) noexcept {
    switch (t) {
        case T::uuid:
            return "uuid";
        case T::string:
            return "string";
        case T::text:
            return "text";
        case T::integer:
            return "integer";
        case T::boolean:
            return "boolean";
        case T::date:
            return "date";
        case T::datetime:
            return "datetime";
        case T::enumeration:
            return "enum";
        case T::enum_list:
            return "enum_list";
        case T::semester:
            return "semester";
        case T::school_year:
            return "school_year";
    }
    return "unknown";
}

std::string_view sensitivity_name(Sensitivity s) noexcept {
    switch (s) {
        case S::none:
            return "none";
        case S::personal:
            return "S";
        case S::special:
            return "S9";
    }
    return "unknown";
}

const FieldDef* CollectionDef::field(std::string_view n) const noexcept {
    for (const auto& f : fields)
        if (f.name == n) return &f;
    return nullptr;
}

Schema::Schema(std::uint32_t version, std::vector<CollectionDef> collections)
    : version_(version), collections_(std::move(collections)) {}

bool Schema::is_valid_date(std::string_view text) noexcept {
    // The calendar decides the shape and the day; the schema its own range of years.
    const auto date = common::parse_iso_date(text);
    return date && date->year >= kMinYear && date->year <= kMaxYear;
}

const Schema& Schema::programme() {
    static const Schema schema(1, programme_collections());
    return schema;
}

const CollectionDef* Schema::collection(std::string_view name) const noexcept {
    for (const auto& c : collections_)
        if (c.name == name) return &c;
    return nullptr;
}

Status Schema::check_value(const CollectionDef& c, const FieldDef& f, const Value& v) const {
    if (v.is_null()) return {};
    switch (f.type) {
        case T::uuid:
            if (!v.is_string()) return wrong_kind(c, f, v, "a UUID string");
            if (!Uuid::parse(v.as_string()))
                return Status::validation(where(c, f) +
                                          "not a UUID (expected the 36-character form "
                                          "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx)");
            return {};
        case T::string:
        case T::text: {
            if (!v.is_string()) return wrong_kind(c, f, v, "a string");
            const std::string& s = v.as_string();
            auto n = common::utf8_length(s);
            if (!n) return Status::validation(where(c, f) + "not valid UTF-8");
            if (*n > f.max_length)
                return Status::validation(where(c, f) + "is " + std::to_string(*n) +
                                          " characters, longer than the maximum " +
                                          std::to_string(f.max_length));
            if (f.type == T::string && s.find_first_of("\r\n") != std::string::npos)
                return Status::validation(where(c, f) + "must be a single line");
            if (f.required && common::is_blank(s))
                return Status::validation(where(c, f) + "is required and must not be blank");
            return {};
        }
        case T::integer: {
            if (!v.is_int()) return wrong_kind(c, f, v, "an integer");
            auto i = v.as_int();
            // Sensitive values (a birth year) never appear in messages, which may be logged.
            std::string shown = f.sensitivity == S::none ? std::to_string(i) + " " : "the value ";
            if (i < f.min)
                return Status::validation(where(c, f) + shown + "is below the minimum " +
                                          std::to_string(f.min));
            if (i > f.max)
                return Status::validation(where(c, f) + shown + "is above the maximum " +
                                          std::to_string(f.max));
            return {};
        }
        case T::boolean:
            if (!v.is_bool()) return wrong_kind(c, f, v, "true or false");
            return {};
        case T::date:
            if (!v.is_string()) return wrong_kind(c, f, v, "a date string");
            if (!valid_date(v.as_string()))
                return Status::validation(where(c, f) +
                                          "not a calendar date in the form YYYY-MM-DD");
            return {};
        case T::datetime:
            if (!v.is_string()) return wrong_kind(c, f, v, "a date-time string");
            if (!valid_datetime(v.as_string()))
                return Status::validation(where(c, f) +
                                          "not a date and time in the form YYYY-MM-DDTHH:MM");
            return {};
        case T::semester:
            if (!v.is_string() || !valid_semester(v.as_string()))
                return Status::validation(
                    where(c, f) + "not a semester in the form YYYY/YYYY-N, e.g. 2025/2026-1");
            return {};
        case T::school_year:
            if (!v.is_string() || !valid_school_year(v.as_string()))
                return Status::validation(
                    where(c, f) + "not a school year in the form YYYY/YYYY, e.g. 2025/2026");
            return {};
        case T::enumeration:
            if (!v.is_string()) return wrong_kind(c, f, v, "one of: " + quoted_allowed(f));
            if (std::find(f.allowed.begin(), f.allowed.end(), v.as_string()) == f.allowed.end())
                return Status::validation(where(c, f) + "'" + common::safe_excerpt(v.as_string()) +
                                          "' is not one of: " + quoted_allowed(f));
            return {};
        case T::enum_list: {
            if (!v.is_list()) return wrong_kind(c, f, v, "a list of: " + quoted_allowed(f));
            std::set<std::string> seen;
            for (const auto& item : v.as_list()) {
                if (!item.is_string() || std::find(f.allowed.begin(), f.allowed.end(),
                                                   item.as_string()) == f.allowed.end())
                    return Status::validation(where(c, f) + "list item " +
                                              item.to_display().substr(0, 40) +
                                              " is not one of: " + quoted_allowed(f));
                if (!seen.insert(item.as_string()).second)
                    return Status::validation(where(c, f) + "'" + item.as_string() +
                                              "' appears twice");
            }
            if (f.required && v.as_list().empty())
                return Status::validation(where(c, f) + "is required and must not be empty");
            return {};
        }
    }
    return Status::internal(where(c, f) + "unknown field type");
}

namespace {

Status check_known(const Schema& schema, const CollectionDef& c, const Fields& fields) {
    for (const auto& [name, value] : fields) {
        const FieldDef* f = c.field(name);
        if (!f) {
            if (name == kDeletedField)
                return Status::validation(c.name + "." + name +
                                          ": set by remove() and restore(), not directly");
            return Status::validation(c.name + "." + common::safe_excerpt(name) +
                                      ": unknown field in schema version " +
                                      std::to_string(schema.version()));
        }
        MS_RETURN_IF_ERROR(schema.check_value(c, *f, value));
    }
    return {};
}

Status unknown_collection(std::string_view name) {
    return Status::validation("unknown collection '" + common::safe_excerpt(name) + "'");
}

}  // namespace

Status Schema::check_create(std::string_view collection, const Fields& fields) const {
    const CollectionDef* c = this->collection(collection);
    if (!c) return unknown_collection(collection);
    MS_RETURN_IF_ERROR(check_known(*this, *c, fields));
    for (const auto& f : c->fields) {
        if (!f.required) continue;
        auto it = fields.find(f.name);
        if (it == fields.end() || it->second.is_null())
            return Status::validation(c->name + "." + f.name + ": is required");
    }
    return {};
}

Status Schema::check_update(std::string_view collection, const Fields& current,
                            const Fields& changes) const {
    const CollectionDef* c = this->collection(collection);
    if (!c) return unknown_collection(collection);
    MS_RETURN_IF_ERROR(check_known(*this, *c, changes));
    for (const auto& [name, value] : changes) {
        const FieldDef* f = c->field(name);
        if (f->required && value.is_null())
            return Status::validation(c->name + "." + name + ": is required and cannot be cleared");
        if (!c->learner_field.empty() && name == c->learner_field) {
            auto it = current.find(name);
            if (it != current.end() && !(it->second == value))
                return Status::validation(c->name + "." + name +
                                          ": cannot change after creation (create a new record)");
        }
    }
    return {};
}

Status Schema::check_received(const Transaction& txn) const {
    // Per row of a known collection: whether the transaction creates it, and which required
    // fields it first-writes. A transaction names a row in one collection only (receivers
    // check that separately).
    struct RowWrites {
        const CollectionDef* def = nullptr;
        bool creates = false;
        std::vector<std::string_view> first;  // required fields written first
    };
    std::map<Uuid, RowWrites> rows;
    for (const Change& ch : txn.changes) {
        const CollectionDef* c = collection(ch.collection);
        if (!c) continue;  // a newer peer's collection: passed on unchecked
        const FieldDef* f = c->field(ch.field);
        if (!f || !f->required) continue;
        if (ch.value.is_null())
            return Status::validation(c->name + "." + f->name + ": is required and cannot be nil");
        if (!ch.prev.is_zero() || !ch.resolves.empty()) continue;
        RowWrites& w = rows[ch.row];
        w.def = c;
        w.first.push_back(f->name);
        // The learner field is written once, by the record's create, and never again: its
        // first write marks the create. Any other first write of a required field may be a
        // writer's update of a record it holds only in part (it received a later update
        // before the create), which is valid.
        if (f->name == c->learner_field) w.creates = true;
    }
    for (const auto& [row, w] : rows) {
        if (!w.creates) continue;
        for (const FieldDef& f : w.def->fields) {
            if (!f.required) continue;
            if (std::find(w.first.begin(), w.first.end(), f.name) == w.first.end())
                return Status::validation(w.def->name + "." + f.name +
                                          ": is required: a transaction that creates a record "
                                          "writes all of its required fields");
        }
    }
    return {};
}

}  // namespace mentorsync
