// Changes and transactions: the unit of replication, and their msgpack encoding.
//
// A Change sets one field of one record. The changes of one user action form a Transaction,
// stamped once by the writing replica's HLC and applied atomically everywhere. `prev` is the
// stamp of the value the writer saw for that field (zero for a first write); a change whose
// prev is not what a receiver holds was concurrent with it. `resolves` lists further stamps the
// writer saw and deliberately replaced: the losing values of conflicts it resolved.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "mentorsync/export.h"
#include "mentorsync/status.h"
#include "mentorsync/types.h"

namespace mentorsync {

struct MENTORSYNC_API Change {
    std::string collection;
    Uuid row;
    std::string field;
    Value value;
    Stamp prev;                   // zero: the writer saw no value
    std::vector<Stamp> resolves;  // conflict losers this change replaces on purpose
    bool operator==(const Change&) const = default;
};

struct MENTORSYNC_API Transaction {
    Stamp stamp;  // unique per transaction: the writer's node and its HLC at commit
    std::vector<Change> changes;
    bool operator==(const Transaction&) const = default;
};

// Limits applied when decoding bytes from outside (the change log, a peer, a server).
struct MENTORSYNC_API DecodeLimits {
    std::size_t max_bytes = 8u << 20;    // whole encoded transaction
    std::size_t max_changes = 10'000;    // changes in one transaction
    std::size_t max_string = 64u << 10;  // any one string, bytes
    std::size_t max_list = 1'000;        // items in one list value
    std::size_t max_depth = 8;           // nesting of arrays within the encoding
};

// Encodes a transaction as msgpack (the grammar is in docs/storage-format.md).
MENTORSYNC_API std::string encode_transaction(const Transaction& txn);

// Decodes bytes made by encode_transaction. Any malformed, oversized or over-nested input is a
// Code::invalid_argument naming what was wrong; nothing is partially returned.
MENTORSYNC_API Result<Transaction> decode_transaction(std::string_view bytes,
                                                      const DecodeLimits& limits = {});

}  // namespace mentorsync
