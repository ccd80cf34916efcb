// Shared pieces of the HTTP layer's tests: a FakeService that records what the HTTP layer
// hands it (so each test can check that invalid requests never reach the service), a fixture
// that runs a real HttpServer on 127.0.0.1:<ephemeral>, and msgpack helpers.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <catch2/catch.hpp>
#include <msgpack.hpp>

#include "core/service.h"
#include "http/server.h"
#include "http_client.h"
#include "mentorsync/schema.h"
#include "service_errors.h"

namespace mstest {

using namespace mentorsync;
using namespace mentorsync::server;

// A test double of SyncService: answers from canned values and records every call.
class FakeService final : public SyncService {
  public:
    std::optional<std::int64_t> merged_state_lag() const override { return state_lag; }
    std::optional<std::int64_t> state_lag;  // what merged_state_lag() answers

    Result<wire::EnrollResponse> enroll(const wire::EnrollRequest& request) override {
        std::lock_guard lock(mutex);
        ++enroll_calls;
        last_enroll = request;
        if (enroll_error) return *enroll_error;
        return enroll_response;
    }
    Result<Principal> authenticate(const SignedRequest& request) override {
        std::lock_guard lock(mutex);
        ++auth_calls;
        last_signed = request;
        last_signed_body = std::string(request.body);
        if (auth_error) return *auth_error;
        return principal;
    }
    Result<Uuid> precheck(std::string_view authorization) override {
        std::lock_guard lock(mutex);
        ++precheck_calls;
        last_precheck = std::string(authorization);
        if (precheck_error) return *precheck_error;
        return principal.device_id;
    }
    Result<wire::PushResponse> push(const Principal& who, const Uuid& batch_id,
                                    std::string_view body_hash,
                                    std::vector<Transaction> txns) override {
        if (on_push) on_push();  // outside the lock: may block on purpose
        std::lock_guard lock(mutex);
        ++push_calls;
        last_who = who;
        last_batch = batch_id;
        last_body_hash = std::string(body_hash);
        last_txns = std::move(txns);
        return push_response;
    }
    Result<wire::PullResponse> pull(const Principal& who, std::string_view cursor,
                                    std::size_t limit) override {
        std::lock_guard lock(mutex);
        ++pull_calls;
        last_who = who;
        last_cursor = std::string(cursor);
        last_limit = limit;
        return pull_response;
    }
    std::int64_t now_ms() const override { return now; }
    const Schema& schema() const override { return Schema::programme(); }

    int calls() const { return enroll_calls + auth_calls + push_calls + pull_calls; }

    std::mutex mutex;
    std::atomic<int> enroll_calls{0}, auth_calls{0}, push_calls{0}, pull_calls{0};
    std::atomic<int> precheck_calls{0};  // not in calls(): a precheck stores nothing
    // Canned answers.
    Principal principal{*Uuid::parse("0f8fad5b-d9cb-469f-a165-70867728950e"), Uuid::random(),
                        Uuid::random(), Role::mentor};
    wire::EnrollResponse enroll_response;
    wire::PushResponse push_response;
    wire::PullResponse pull_response;
    std::optional<Status> auth_error, enroll_error, precheck_error;  // wire::error(...)
    std::int64_t now = 0;  // now_ms(): the server_time_ms of 401 answers
    std::function<void()> on_push;
    // Recorded.
    wire::EnrollRequest last_enroll;
    SignedRequest last_signed;
    std::string last_precheck;
    std::string last_signed_body;
    Principal last_who;
    Uuid last_batch;
    std::string last_body_hash;
    std::vector<Transaction> last_txns;
    std::string last_cursor;
    std::size_t last_limit = 0;
};

// Collects the server's log lines; a test can wait for a line to appear.
struct LogCapture {
    std::mutex mutex;
    std::condition_variable logged;
    std::vector<std::string> lines;
    server::http::Logger logger() {
        return server::http::Logger([this](std::string_view line) {
            {
                std::lock_guard lock(mutex);
                lines.emplace_back(line);
            }
            logged.notify_all();
        });
    }
    // Whether a line containing `text` was logged within `timeout` (at once if it already was).
    bool wait_for(std::string_view text, std::chrono::milliseconds timeout) {
        std::unique_lock lock(mutex);
        std::size_t seen = 0;
        return logged.wait_for(lock, timeout, [&] {
            for (; seen < lines.size(); ++seen)
                if (lines[seen].find(text) != std::string::npos) return true;
            return false;
        });
    }
    std::string all() {
        std::lock_guard lock(mutex);
        std::string out;
        for (const auto& l : lines)
            out += l + "\n";
        return out;
    }
};

inline server::http::ServerConfig test_config() {
    server::http::ServerConfig c;
    c.address = "127.0.0.1";
    c.port = 0;
    c.threads = 2;
    c.shutdown_timeout = std::chrono::seconds(5);
    return c;
}

// A running server over a FakeService.
struct ServerFixture {
    explicit ServerFixture(server::http::ServerConfig config = test_config())
        : server(std::move(config), service, log.logger()) {
        const Status st = server.start();
        INFO(st.to_string());
        REQUIRE(st.ok());
    }
    std::uint16_t port() const { return server.port(); }
    HttpClient client() { return HttpClient(port()); }

    FakeService service;
    LogCapture log;
    server::http::HttpServer server;
};

// --- msgpack helpers ---------------------------------------------------------------------

using Packer = msgpack::packer<msgpack::sbuffer>;

inline void pack_str(Packer& pk, std::string_view s) {
    pk.pack_str(static_cast<std::uint32_t>(s.size()));
    pk.pack_str_body(s.data(), static_cast<std::uint32_t>(s.size()));
}
inline void pack_bin(Packer& pk, std::string_view b) {
    pk.pack_bin(static_cast<std::uint32_t>(b.size()));
    pk.pack_bin_body(b.data(), static_cast<std::uint32_t>(b.size()));
}
inline std::string to_string(const msgpack::sbuffer& b) {
    return std::string(b.data(), b.size());
}

// A decoded msgpack body: keeps the zone alive with the object.
struct Decoded {
    msgpack::object_handle handle;
    const msgpack::object& get() const { return handle.get(); }
    const msgpack::object* find(std::string_view key) const {
        const auto& o = handle.get();
        if (o.type != msgpack::type::MAP) return nullptr;
        for (std::uint32_t i = 0; i < o.via.map.size; ++i) {
            const auto& kv = o.via.map.ptr[i];
            if (kv.key.type == msgpack::type::STR && kv.key.as<std::string_view>() == key) {
                return &kv.val;
            }
        }
        return nullptr;
    }
    std::string str(std::string_view key) const {
        const auto* v = find(key);
        return v != nullptr && v->type == msgpack::type::STR ? v->as<std::string>() : "<absent>";
    }
};
inline Decoded decode(const std::string& body) {
    Decoded d;
    d.handle = msgpack::unpack(body.data(), body.size());
    return d;
}

// Checks the documented error body and returns its decoded form.
inline Decoded require_error(const HttpResponse& r, int status, const std::string& code) {
    INFO("status " << r.status << " body " << r.body.size() << " bytes");
    REQUIRE(r.status == status);
    REQUIRE(r.header("content-type") == "application/msgpack");
    Decoded d = decode(r.body);
    REQUIRE(d.get().type == msgpack::type::MAP);
    CHECK(d.str("code") == code);
    CHECK(d.str("message") != "<absent>");
    CHECK_FALSE(d.str("message").empty());
    return d;
}

}  // namespace mstest
