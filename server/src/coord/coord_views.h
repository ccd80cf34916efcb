// CoordViews: what coordinators see of the merged state — records, a learner's file,
// indicators (docs/indicators.md), the escalation list, device sync status, the conflict
// queue and its resolution — with the role rules of docs/api/openapi.yaml applied here, in
// one place, before anything leaves the server:
//   municipality  learners whose municipality_id is the account's, special-category (S9)
//                 fields and contact next_steps removed; anything outside answers not_found
//                 exactly like something that does not exist;
//   national      aggregates only, counts 1-4 suppressed; learner-level views are forbidden;
//   admin         everything.
//
// Reads go to the engine replica of MergedState (state.db) after a catch-up with the history.
// Each call scans the collections it needs once (dates are sealed, so a date range is a scan
// with decryption); no per-learner queries. At the programme's scale (~2,500 learners, tens
// of thousands of contacts) one call decrypts at most a few tens of thousands of rows.
//
// Errors are returned as a Status whose Reason is a coord::Error (coord/api_error.h: the code
// and its HTTP status) and whose message names the bad parameter; the HTTP layer turns them
// into JSON answers. Storage failures are Error::internal "storage error".
// Thread-safety: every member may be called concurrently (the store, the state and the admin
// API are thread-safe).
#pragma once

#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "coord/api_error.h"
#include "coord/coord_store.h"
#include "core/admin.h"

namespace mentorsync::server::coord {

// The collections the records API serves.
const std::vector<std::string>& record_collections();

struct RecordFilter {
    std::string collection;
    std::optional<Uuid> municipality;
    std::optional<Uuid> centre;
    std::optional<Uuid> learner;
    std::string from;  // YYYY-MM-DD or ""
    std::string to;
    bool include_deleted = false;
    std::size_t limit = 100;  // 0: no limit (exports)
    std::string cursor;
};

// One table for CSV: header and rows of cells.
struct Table {
    std::vector<std::string> header;
    std::vector<std::vector<std::string>> rows;
};

class CoordViews {
  public:
    static constexpr int kEscalationThreshold = 20;  // more than this many lessons escalate
    static constexpr int kSuppressBelow = 5;         // national: counts 1..4 suppressed
    static constexpr std::size_t kMaxExportRows = 100'000;

    CoordViews(std::shared_ptr<Admin> admin, std::shared_ptr<const WallClock> clock = {});

    Result<nlohmann::json> municipalities(const Account& who);
    Result<nlohmann::json> institutions(const Account& who, std::optional<Uuid> municipality);
    // A page of records (RecordPage).
    Result<nlohmann::json> records(const Account& who, const RecordFilter& filter);
    // Every matching record as a CSV table (no paging; at most kMaxExportRows).
    Result<Table> records_table(const Account& who, RecordFilter filter);
    Result<nlohmann::json> learner_file(const Account& who, const Uuid& learner);
    // school_year "" = the one containing today.
    Result<nlohmann::json> indicators(const Account& who, const std::string& school_year,
                                      std::optional<Uuid> municipality);
    Table indicators_table(const nlohmann::json& indicators);
    Result<nlohmann::json> escalations(const Account& who, const std::string& semester,
                                       std::optional<Uuid> municipality);
    Result<nlohmann::json> devices(const Account& who, std::optional<Uuid> municipality);
    Result<nlohmann::json> conflicts(const Account& who, std::optional<Uuid> municipality,
                                     std::optional<Uuid> learner, std::size_t limit,
                                     const std::string& cursor);
    // how: keep_winner | take_loser | custom (then `value`). Returns ResolveResponse.
    Result<nlohmann::json> resolve(const Account& who, const std::string& conflict_id,
                                   const std::string& how, const nlohmann::json& value);

    std::string today() const;

  private:
    struct Scope;
    struct Snapshot;
    struct DeviceRow {
        Uuid id;
        Uuid user;
        std::string role;
        std::optional<Uuid> institution;
        bool revoked = false;
        std::int64_t enrolled_ms = 0;
        std::optional<std::int64_t> last_seen_ms;
        std::optional<std::int64_t> days_since_sync;
        std::int64_t quarantined = 0;
        std::optional<DeviceReportRow> report;  // the device's last own report, if any
        std::int64_t rejected_total = 0;        // rejected by the server on its pushes
    };
    Result<std::vector<DeviceRow>> device_rows(const Scope& scope);
    Result<std::vector<nlohmann::json>> escalation_list(const Scope& scope,
                                                        const std::string& semester,
                                                        Snapshot& snap);
    Result<Scope> scope_for(const Account& who, std::optional<Uuid> municipality,
                            bool learner_level);
    Result<std::vector<Record>> filtered_records(const Scope& scope, const RecordFilter& f,
                                                 Snapshot& snap);

    std::shared_ptr<Admin> admin_;
    std::shared_ptr<const WallClock> clock_;
    const Schema& schema_;
};

// Period of a school year "YYYY/YYYY" ({from, to}, inclusive) or of a semester "YYYY/YYYY-N".
// nullopt when malformed.
std::optional<std::pair<std::string, std::string>> school_year_period(const std::string& sy);
std::optional<std::pair<std::string, std::string>> semester_period(const std::string& sem);
// True for a real calendar date "YYYY-MM-DD" from 1900 to 2100 (the schema's date range).
bool is_date(const std::string& s);

}  // namespace mentorsync::server::coord
