#include "merge.h"

#include <algorithm>

namespace mentorsync {
namespace {

void note_seen(RowState& state, const std::string& field, const Stamp& seen, const FieldState* cur,
               const MergeContext& ctx, MergeEffects& effects) {
    if (seen.is_zero()) return;
    if (cur && cur->stamp == seen) return;  // replacing the current value knowingly
    if (ctx.is_conflict(field, seen)) {
        effects.closed.emplace_back(field, seen);
        return;
    }
    if (ctx.received(seen)) return;  // seen and already named by another write: not a leaf
    auto entry = std::make_pair(field, seen);
    if (std::find(state.seen_early.begin(), state.seen_early.end(), entry) ==
        state.seen_early.end()) {
        state.seen_early.push_back(std::move(entry));
        effects.state_changed = true;
    }
}

}  // namespace

void merge_write(RowState& state, const std::string& field, const Value& value, const Stamp& stamp,
                 const Stamp& prev, const std::vector<Stamp>& resolves, const MergeContext& ctx,
                 MergeEffects& effects) {
    auto it = state.fields.find(field);
    const FieldState* cur = it == state.fields.end() ? nullptr : &it->second;
    if (cur && cur->stamp == stamp) return;  // the same write again

    // Did an earlier arrival name this write? Then it is not a leaf.
    bool named = false;
    auto early =
        std::find(state.seen_early.begin(), state.seen_early.end(), std::make_pair(field, stamp));
    if (early != state.seen_early.end()) {
        state.seen_early.erase(early);
        effects.state_changed = true;
        named = true;
    }

    note_seen(state, field, prev, cur, ctx, effects);
    for (const auto& r : resolves)
        note_seen(state, field, r, cur, ctx, effects);

    if (!cur) {
        state.fields.emplace(field, FieldState{value, stamp});
        effects.state_changed = true;
        return;
    }
    if (stamp > cur->stamp) {
        const bool replaced_knowingly =
            prev == cur->stamp ||
            std::find(resolves.begin(), resolves.end(), cur->stamp) != resolves.end();
        if (!replaced_knowingly) effects.opened.push_back({field, cur->stamp, cur->value});
        it->second = FieldState{value, stamp};
        effects.state_changed = true;
        return;
    }
    // An older write: it loses. It is a conflict unless a write we hold named it.
    if (!named) effects.opened.push_back({field, stamp, value});
}

}  // namespace mentorsync
