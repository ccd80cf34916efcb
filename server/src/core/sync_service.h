// SyncServiceImpl: the protocol (docs/protocol.md §4-§8) over a ServerStore.
#pragma once

#include <memory>

#include "core/merged_state.h"
#include "core/service.h"
#include "core/store.h"

namespace mentorsync::server {

// Enrollment codes expire this long after issue (protocol §4).
inline constexpr std::int64_t kEnrollmentCodeLifetimeMs = 72LL * 3600 * 1000;
// A device's nonces are remembered this long (protocol §5); older requests are stale anyway.
inline constexpr std::int64_t kNonceMemoryMs = 10LL * 60 * 1000;

// Normalises an enrollment code as typed: upper case, dashes and spaces dropped.
std::string normalize_enrollment_code(std::string_view code);
// The keyed hash under which a (normalised) code is stored.
std::string enrollment_code_hash(const ServerKey& key, std::string_view normalized_code);

class SyncServiceImpl final : public SyncService {
  public:
    // `state` receives every transaction a push accepts, after the history commit. Null only in
    // tests of the history alone: a server always runs with its merged state
    // (open_sync_service).
    SyncServiceImpl(std::shared_ptr<ServerStore> store, std::shared_ptr<MergedState> state,
                    std::shared_ptr<const WallClock> clock = {}, const Schema* schema = nullptr);

    Result<wire::EnrollResponse> enroll(const wire::EnrollRequest& request) override;
    Result<Principal> authenticate(const SignedRequest& request) override;
    Result<Uuid> precheck(std::string_view authorization) override;
    Result<wire::PushResponse> push(const Principal& who, const Uuid& batch_id,
                                    std::string_view body_hash,
                                    std::vector<Transaction> txns) override;
    Result<wire::PullResponse> pull(const Principal& who, std::string_view cursor,
                                    std::size_t limit) override;
    std::int64_t now_ms() const override { return now(); }
    const Schema& schema() const override { return schema_; }
    std::optional<std::int64_t> merged_state_lag() const override {
        if (!state_) return std::nullopt;
        return state_->lag();
    }

    ServerStore& store() { return *store_; }
    MergedState* state() { return state_.get(); }

  private:
    // What steps 1-3 of §5 established from the Authorization header.
    struct SignedHeader {
        wire::Credentials credentials;
        Uuid device_id;
        Device device;
    };
    Result<SignedHeader> check_header(std::string_view authorization);
    static Status check_window(const wire::Credentials& credentials, std::int64_t t);

    std::int64_t now() const { return clock_->now_ms(); }

    std::shared_ptr<ServerStore> store_;
    std::shared_ptr<MergedState> state_;
    std::shared_ptr<const WallClock> clock_;
    const Schema& schema_;
};

// What a serving process holds of its data directory: the store, the merged state it owns
// (state.lock is held while `state` lives) and the service over them. Whatever else the process
// serves from the merged state (the coordinator API, in-process admin writes) must share
// `state`: a second MergedState::open of the directory fails.
struct ServerCore {
    std::shared_ptr<ServerStore> store;
    std::shared_ptr<MergedState> state;
    std::unique_ptr<SyncServiceImpl> service;
};

// open_sync_service(), keeping the parts. Errors: as open_sync_service's, and Code::io when
// another server runs on the data directory.
Result<ServerCore> open_server_core(const ServiceOptions& options);

}  // namespace mentorsync::server
