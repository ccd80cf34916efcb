// Per-field merge: last writer wins by stamp, and no concurrent edit dropped silently.
//
// The writes of one field form a tree: each write names the stamp it saw (`prev`) and any
// conflict losers it replaced on purpose (`resolves`). The field's value is the write with the
// greatest stamp; every other write that no received write names (a leaf of the tree) is a
// conflict. Both are functions of the SET of writes received, so the merge is commutative,
// associative and idempotent: the order of arrival does not matter.
//
// Order independence rests on one invariant the caller enforces for every write: all stamps it
// names are smaller than its own (true for any HLC writer; remote writes breaking it are
// rejected). A writer that saw stamp p issues a stamp greater than p, so the current winner is
// never named by an already-received write, and a write that arrives after another write named
// it is remembered in RowState::seen_early until it arrives.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "codec.h"
#include "mentorsync/types.h"

namespace mentorsync {

// What merging did to the conflict set, for the caller to store.
struct MergeEffects {
    struct Opened {
        std::string field;
        Stamp loser;
        Value loser_value;
    };
    std::vector<Opened> opened;
    std::vector<std::pair<std::string, Stamp>> closed;  // (field, loser stamp) no longer a leaf
    bool state_changed = false;
};

// Callbacks into storage: is (field, loser) an open conflict of this row; has a transaction
// with this stamp been received (merged) already.
struct MergeContext {
    std::function<bool(const std::string& field, const Stamp& loser)> is_conflict;
    std::function<bool(const Stamp& stamp)> received;
};

// Merges one write of `field` with stamp `stamp` into `state`.
void merge_write(RowState& state, const std::string& field, const Value& value, const Stamp& stamp,
                 const Stamp& prev, const std::vector<Stamp>& resolves, const MergeContext& ctx,
                 MergeEffects& effects);

}  // namespace mentorsync
