// SyncService: the sync server's logic without HTTP. The HTTP layer (server/src/http/: the
// router and handlers) decodes the bodies with the wire codec (mentorsync/wire.h), calls these
// functions and encodes their results; tests call them directly.
//
// Errors: every failure is a Status whose Reason is a wire::Error (docs/protocol.md §2), which
// decides the HTTP status and code; the message is for people and never quotes what the client
// sent. A store fault is wire::Error::internal, "server fault, nothing was stored: ...". The
// 401s' server_time_ms is added by the HTTP layer, from now_ms().
//
// Thread-safety: every member function may be called concurrently from the io threads.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/roles.h"
#include "mentorsync/clock.h"
#include "mentorsync/schema.h"
#include "mentorsync/status.h"
#include "mentorsync/transaction.h"
#include "mentorsync/types.h"
#include "mentorsync/wire.h"

namespace mentorsync::server {

// The authenticated caller of a device request.
struct Principal {
    Uuid device_id;
    Uuid user_id;
    Uuid node;  // the replica node bound at enrollment
    Role role = Role::mentor;
};

// What the HTTP layer extracted from a signed request (docs/protocol.md §5).
struct SignedRequest {
    std::string method;
    std::string path;
    std::string authorization;  // the Authorization header's value, as received
    std::string_view body;
};

class SyncService {
  public:
    virtual ~SyncService() = default;

    // The answer's role is role_name() of the user's role.
    virtual Result<wire::EnrollResponse> enroll(const wire::EnrollRequest& request) = 0;
    // Verifies headers, device, signature, timestamp and nonce in the documented order, and
    // records the nonce and last-seen time (protocol §5: they stay recorded when the handler
    // then refuses the body); for a pull that will be answered and carries a device report
    // (§8), the report too, in the same commit. A pull body that does not decode, or whose
    // cursor the pull refuses, records no report (the pull handler then answers 400).
    virtual Result<Principal> authenticate(const SignedRequest& request) = 0;
    // What the header alone shows of a signed request, checked before its body is read (the
    // HTTP layer must not buffer megabytes for a request that cannot be genuine): the
    // Authorization header's form, the device known and not revoked, and the timestamp
    // window (docs/protocol.md §5). Answers the claimed device id (not yet proven: the
    // signature needs the body), or the error authenticate() would give for this header,
    // except that a stale timestamp is reported even when the signature would not verify.
    // Records nothing. The default answers a nil id: a service that cannot tell lets the body
    // be read and authenticate() decide.
    virtual Result<Uuid> precheck(std::string_view authorization) {
        (void)authorization;
        return Uuid();
    }
    // `body_hash` is the SHA-256 of the request body (batch idempotency, §7).
    virtual Result<wire::PushResponse> push(const Principal& who, const Uuid& batch_id,
                                            std::string_view body_hash,
                                            std::vector<Transaction> txns) = 0;
    virtual Result<wire::PullResponse> pull(const Principal& who, std::string_view cursor,
                                            std::size_t limit) = 0;

    // The service's clock (ms since the epoch): the server_time_ms of its 401 answers.
    virtual std::int64_t now_ms() const = 0;

    virtual const Schema& schema() const = 0;

    // How many committed transactions the merged state has still to apply (its background
    // applier's lag, /metrics), or none when the service keeps no merged state.
    virtual std::optional<std::int64_t> merged_state_lag() const { return std::nullopt; }
};

// --- construction (added by the core layer) -------------------------------------------------
struct ServiceOptions {
    std::string data_dir;                    // holds server.db, server.key and state.db
    bool create_if_missing = true;           // first start: create the directory, key and database
    std::shared_ptr<const WallClock> clock;  // null: the system clock
    // Receives the core's own JSON log lines (merged state and store; ids, file names and
    // counts only), e.g. Logger::sink() (core/log.h). Null: stderr, the logger's default sink.
    std::function<void(std::string_view line)> log;
};

// Opens the SQLite store in options.data_dir and the merged state beside it (state.db, created
// and caught up with the history as needed), and returns the service over them. Errors: the
// store's (a missing or world-readable server.key, a server.key that does not match, I/O) and
// the merged state's (an unreadable state.db: the message says how to rebuild it).
Result<std::unique_ptr<SyncService>> open_sync_service(const ServiceOptions& options);

}  // namespace mentorsync::server
