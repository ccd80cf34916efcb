// The programme's data model as data: collections, their fields, each field's type, allowed
// values or range, required-ness and sensitivity, under one schema version.
//
// The schema is defined once (engine/src/schema.cpp) and read everywhere else through this
// header: validation, the C ABI, the server and the docs. Unknown fields (from a newer peer's
// schema) are never an error on the merge path: they are kept and passed on. Local writes may
// only use fields this version knows.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "mentorsync/export.h"
#include "mentorsync/status.h"
#include "mentorsync/transaction.h"
#include "mentorsync/types.h"

namespace mentorsync {

enum class FieldType {
    uuid,         // a reference: canonical UUID string
    string,       // short single-line text, max_length characters
    text,         // free text (notes), max_length characters, may span lines
    integer,      // whole number within [min, max]
    boolean,      // true / false
    date,         // "YYYY-MM-DD", a real calendar date
    datetime,     // "YYYY-MM-DDTHH:MM" local time (Europe/Riga), a real date and time
    enumeration,  // one of allowed
    enum_list,    // a list of distinct values from allowed
    semester,     // "YYYY/YYYY-N": school year then semester 1 or 2, e.g. "2025/2026-1"
    school_year,  // "YYYY/YYYY", consecutive years, e.g. "2025/2026"
};

// How careful every layer must be with a field. DOMAIN.md's [S] and [S9] marks.
enum class Sensitivity {
    none,      // organisational data: ids, dates of meetings, codes
    personal,  // [S] personal data: names, birth year, consent dates, free text
    special,   // [S9] special-category data: health, family circumstances
};

MENTORSYNC_API std::string_view field_type_name(FieldType t) noexcept;
MENTORSYNC_API std::string_view sensitivity_name(Sensitivity s) noexcept;

struct MENTORSYNC_API FieldDef {
    std::string name;
    FieldType type = FieldType::string;
    bool required = false;
    Sensitivity sensitivity = Sensitivity::none;
    std::int64_t min = 0;  // integer: inclusive range
    std::int64_t max = 0;
    std::size_t max_length = 0;        // string/text: characters (UTF-8 code points)
    std::vector<std::string> allowed;  // enumeration/enum_list
    std::string references;            // uuid: the collection or organisation entity referred to
    std::string description;           // one line for docs and tools
};

struct MENTORSYNC_API CollectionDef {
    std::string name;
    std::string description;
    // The field holding the learner this record hangs off ("" for the learners collection,
    // whose own id is the learner). It drives sync scopes and the plaintext learner index,
    // and cannot change after creation.
    std::string learner_field;
    // The date or datetime field that date-range queries filter on.
    std::string date_field;
    std::vector<FieldDef> fields;

    const FieldDef* field(std::string_view name) const noexcept;
};

class MENTORSYNC_API Schema {
  public:
    // The programme schema this build writes ("Skola–kopiena" v1, see docs/schema.md).
    static const Schema& programme();

    // Whether `text` is a date as every `date` field holds it: "YYYY-MM-DD", a real calendar
    // day, year 1900 to 2100. Also the rule for Query::from_date/to_date.
    static bool is_valid_date(std::string_view text) noexcept;
    static constexpr int kMinYear = 1900;
    static constexpr int kMaxYear = 2100;

    Schema(std::uint32_t version, std::vector<CollectionDef> collections);

    std::uint32_t version() const noexcept { return version_; }
    const std::vector<CollectionDef>& collections() const noexcept { return collections_; }
    const CollectionDef* collection(std::string_view name) const noexcept;

    // Checks one value against its field definition. Null is always well-typed here
    // (required-ness is checked on whole records). Error: Code::validation naming
    // "collection.field: reason".
    Status check_value(const CollectionDef& c, const FieldDef& f, const Value& v) const;

    // Checks a whole new record: every field known, every value valid, every required field
    // present and not null. `_deleted` is not allowed here.
    Status check_create(std::string_view collection, const Fields& fields) const;

    // Checks an update of an existing record: known fields, valid values, required fields not
    // cleared, the learner field unchanged (`current` is the record's present fields).
    Status check_update(std::string_view collection, const Fields& current,
                        const Fields& changes) const;

    // Checks a received transaction's records as wholes (protocol §6.4), for known collections
    // only: a transaction that makes the first write (no prev, nothing resolved) of a record's
    // learner field creates that record, and must make first writes of all of its required
    // fields; no required field is ever written as nil. (`learners` records have no learner
    // field; administrators create them, checked whole by check_create.) It looks at the
    // transaction alone, never at what the receiver holds, so every receiver judges a
    // transaction alike whatever order transactions arrive in. Error: Code::validation naming
    // "collection.field", never a value.
    Status check_received(const Transaction& txn) const;

  private:
    std::uint32_t version_;
    std::vector<CollectionDef> collections_;
};

}  // namespace mentorsync
