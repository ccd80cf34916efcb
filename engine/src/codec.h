// msgpack encoding of values, transactions and row state (grammars in docs/storage-format.md).
// Writers use msgpack-cxx's packer; readers walk an unpacked object tree under DecodeLimits and
// turn anything unexpected into Code::invalid_argument (from outside) or Code::corrupt (from our
// own file) naming what was wrong.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "mentorsync/status.h"
#include "mentorsync/transaction.h"
#include "mentorsync/types.h"

namespace mentorsync {

// The merge state of one field: its winning value (null when cleared) and that value's stamp.
struct FieldState {
    Value value;
    Stamp stamp;
};

// The state of one row: every field ever written with its winning stamp (`_deleted` included),
// plus stamps that arriving changes named as `prev`/`resolves` before the change carrying them
// arrived (so that, when it does arrive, it is known to have been seen and is not a conflict).
struct RowState {
    std::map<std::string, FieldState, std::less<>> fields;
    std::vector<std::pair<std::string, Stamp>> seen_early;

    bool deleted() const;
    Stamp max_stamp() const;
};

std::string encode_row_state(const RowState& state);
Result<RowState> decode_row_state(std::string_view bytes);

// One value on its own (conflict losers are stored this way).
std::string encode_value(const Value& value);
Result<Value> decode_value(std::string_view bytes);

}  // namespace mentorsync

namespace mentorsync {
// Transactions read back from our own change log (errors are Code::corrupt).
Result<Transaction> decode_stored_transaction(std::string_view bytes);
}  // namespace mentorsync
