// A real sync server without sockets, for the HTTP and coordinator API fuzz targets: the data
// directory (on /dev/shm when there is one, so that SQLite's fsyncs cost nothing), the
// SyncService and CoordApi over it as main.cpp builds them, the router the sessions call, and a
// small synthetic programme: a municipality with a centre and a school, a mentor with two
// enrolled tablets, two learners with contacts and absences, a conflict between the tablets,
// and coordinator accounts of each role with a session and API tokens.
//
// Inputs reach the authenticated code through placeholders that the targets replace before the
// request is answered (the fuzzer cannot forge a signature or guess a session):
//   @SIGN@            in Authorization: a valid device signature of tablet A over the request
//   @SESSION@ @CSRF@  the admin coordinator's session cookie value and its CSRF token
//   @TOKEN_ADMIN@ @TOKEN_MUNI@ @TOKEN_NATIONAL@   API tokens of the three roles
//   @LEARNER@ @MUNI@ @CONFLICT@                   ids that exist, as text
// and, inside msgpack bodies, placeholders exactly as long as what replaces them, so that the
// msgpack framing around them stays valid (kBinaryPlaceholders): tablet A's node id (16 raw
// bytes), a fresh batch id (16 raw bytes, new for every request, so that a mutated push is not
// refused as a reused batch), the milliseconds of a fresh HLC stamp (the first 6 of the 8
// big-endian bytes msgpack writes for a uint64; the counter bytes after them are the seed's)
// and the learner's and the mentor's ids as 36-character text.
// Built on first use and replaced by a fresh one every kRenewEvery uses (so a reproducer runs
// against the fresh setup); shut down, and its data directory removed, at exit.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "core/service.h"
#include "http/coord_api.h"
#include "http/message.h"
#include "http/metrics.h"
#include "http/router.h"
#include "mentorsync/wire.h"

namespace mentorsync::fuzz {

struct FuzzServer {
    std::string data_dir;
    std::unique_ptr<server::SyncService> service;
    std::unique_ptr<server::http::CoordApi> coord;
    server::http::Metrics metrics;
    std::unique_ptr<server::http::Router> router;

    wire::DeviceKeys tablet_keys;  // tablet A, enrolled for the mentor
    Uuid tablet_device;
    Uuid tablet_node;
    std::vector<std::pair<std::string, std::string>> placeholders;  // all but @SIGN@

    static constexpr std::uint64_t kRenewEvery = 20'000;
    // The current instance (aborts when the setup fails).
    static FuzzServer& get();

    // Replaces every placeholder in `text`.
    std::string substitute(std::string_view text) const;
    // Substitutes in the target, header values and body, then signs the request as tablet A
    // where its Authorization is "@SIGN@".
    void prepare(server::http::Request& request);

    // The fixed-length placeholders (for make_seeds.cpp, which writes them into msgpack).
    static constexpr std::string_view kTabletNode = "@TABLET_NODE_16@";
    static constexpr std::string_view kFreshBatch = "@FRESH_BATCH_16@";
    static constexpr std::string_view kFreshHlcMillis = "@HLC_6";
    static constexpr std::string_view kLearnerText = "@LEARNER_UUID_AS_TEXT_36_CHARACTERS@";
    static constexpr std::string_view kMentorText = "@MENTOR_UUID_AS_TEXT_36_CHARACTERS_@";
    static_assert(kTabletNode.size() == 16 && kFreshBatch.size() == 16 &&
                  kFreshHlcMillis.size() == 6 && kLearnerText.size() == 36 &&
                  kMentorText.size() == 36);
};

}  // namespace mentorsync::fuzz
