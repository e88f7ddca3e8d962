// SessionStore: remote events (Apply) and whole sessions (Restore).
//
// Convergence rules, so that every node ends with the same state whatever order events arrive in:
// - attributes: last writer wins per attribute by Stamp (HLC time, then node name). A removal
//   leaves a marker with its stamp, so an older set arriving late cannot resurrect the value;
// - invalidation: a tombstone for every id of the session; while it lasts, every event for those
//   ids is ignored (a late set or create cannot bring the session back);
// - access: the latest access time wins (node name breaks ties for last_node);
// - versions: a session's version is the highest seen. An event more than one ahead means we
//   missed some: kConflict, and the caller fetches the whole session. Events at or below the
//   current version are still applied — LWW makes re-applying harmless, and a concurrent write on
//   another node carries the same version as ours.
#include <algorithm>

#include "session/store_internal.h"

namespace sessiond::session {

using internal::Entry;
using internal::SessionMap;
using internal::ShardData;

namespace {

/// What applying one event did.
struct Outcome {
  bool changed = false;  ///< the store's state changed (so the event is worth re-publishing)
  int64_t count_delta = 0;
};

Status VersionGap(std::string_view id, uint64_t have, uint64_t got) {
  return Status::Conflict("version gap: have " + std::to_string(have) + ", got " +
                          std::to_string(got) + " (session " + std::string(id) + ")");
}

Outcome ApplyCreate(ShardData& shard, const Event& ev, int64_t now) {
  auto it = shard.Find(ev.session_id, now);
  if (it != shard.sessions.end()) {
    it->second.version = std::max(it->second.version, ev.version);
    return {};
  }
  Entry e;
  e.app = ev.app;
  e.last_node = ev.stamp.node;
  e.created_ms = e.last_accessed_ms = ev.time_ms;
  e.version = std::max<uint64_t>(ev.version, 1);
  e.max_inactive_s = ev.max_inactive_s;
  e.distributable = ev.distributable;
  shard.Insert(ev.session_id, std::move(e));
  return {true, 1};
}

Outcome ApplyInvalidate(ShardData& shard, const Event& ev, int64_t now, int64_t until) {
  auto it = shard.FindAnyId(ev.session_id, now);  // by any of its ids: one session per base
  if (it == shard.sessions.end()) {
    // Not here (yet): remember the id anyway, so its create cannot arrive late and resurrect it.
    shard.Entomb(ev.session_id, internal::Tombstone{ev.stamp, until});
    return {true, 0};
  }
  if (it->first != ev.session_id) {  // buried under the id it has here; the event's id too
    shard.aliases[ev.session_id] = internal::Alias{it->first, until};
  }
  shard.Bury(it, ev.stamp, until);
  return {true, -1};
}

bool ApplyAccess(Entry& e, const Event& ev) {
  if (ev.time_ms < e.last_accessed_ms) return false;
  if (ev.time_ms == e.last_accessed_ms && ev.stamp.node <= e.last_node) return false;
  e.last_accessed_ms = ev.time_ms;
  e.last_node = ev.stamp.node;
  return true;
}

// Two id changes of one session (two nodes each re-issued it during a partition, or a change
// arriving after a later one) are reconciled as Merge does: the later change wins everywhere,
// and the losing id stays an alias of the winner (ShardData::Unify).
Result<bool> ApplyChangeId(ShardData& shard, SessionMap::iterator it, const Event& ev,
                           int64_t until) {
  if (BaseOf(ev.value) != BaseOf(ev.session_id) || ev.value == ev.session_id) {
    return Status::BadRequest("bad id change " + ev.session_id + " -> " + ev.value);
  }
  std::string renamed_from;
  const bool had_alias = shard.aliases.count(ev.value) > 0;
  shard.Unify(it, ev.value, ev.stamp, until, &renamed_from);
  return !renamed_from.empty() || (!had_alias && shard.aliases.count(ev.value) > 0);
}

// Events that change a session that must already be here.
Result<Outcome> ApplyChange(ShardData& shard, const Event& ev, int64_t now, int64_t until) {
  auto it = shard.Find(ev.session_id, now);
  if (it == shard.sessions.end() && ev.type == EventType::kChangeId) {
    it = shard.FindAnyId(ev.value, now);  // applied before, or another change of it won here
    if (it != shard.sessions.end()) {
      Result<bool> moved = ApplyChangeId(shard, it, ev, until);
      if (!moved.ok()) return moved.status();
      return Outcome{*moved, 0};
    }
  }
  if (it == shard.sessions.end()) return VersionGap(ev.session_id, 0, ev.version);
  Entry& e = it->second;
  if (ev.version > e.version + 1) return VersionGap(ev.session_id, e.version, ev.version);
  e.version = std::max(e.version, ev.version);
  switch (ev.type) {
    case EventType::kSetAttribute:
      return Outcome{e.SetIfNewer(ev.name, ev.value, ev.stamp), 0};
    case EventType::kRemoveAttribute:
      return Outcome{e.RemoveIfNewer(ev.name, ev.stamp), 0};
    case EventType::kAccess:
      return Outcome{ApplyAccess(e, ev), 0};
    case EventType::kChangeId: {
      Result<bool> moved = ApplyChangeId(shard, it, ev, until);
      if (!moved.ok()) return moved.status();
      return Outcome{*moved, 0};
    }
    default:
      return Status::BadRequest("unexpected event type");
  }
}

Status CheckEvent(const Event& ev) {
  if (ev.session_id.empty()) return Status::BadRequest("event without a session id");
  auto type = static_cast<uint8_t>(ev.type);
  if (type < static_cast<uint8_t>(EventType::kCreate) ||
      type > static_cast<uint8_t>(EventType::kChangeId)) {
    return Status::BadRequest("unknown event type " + std::to_string(type));
  }
  bool named = ev.type == EventType::kSetAttribute || ev.type == EventType::kRemoveAttribute;
  if (named && ev.name.empty()) return Status::BadRequest("attribute event without a name");
  return Status::Ok();
}

}  // namespace

Status SessionStore::Apply(const Event& event, bool republish) {
  SESSIOND_RETURN_IF_ERROR(CheckEvent(event));
  if (!options_.clock->Observe(event.stamp.time)) {
    return Status::BadRequest("event for session " + event.session_id + " from " +
                              event.stamp.node + " stamped " +
                              std::to_string(HlcWallMillis(event.stamp.time) - options_.wall_ms()) +
                              " ms ahead of this node's clock (beyond maxClockSkew): refused");
  }
  const int64_t now = options_.wall_ms();
  const int64_t until = now + options_.tombstone_ms;
  Outcome outcome;
  {
    ShardData& shard = ShardFor(event.session_id);
    std::lock_guard lock(shard.mu);
    if (shard.Tombstoned(event.session_id, now)) return Status::Ok();  // the tombstone wins
    if (event.type == EventType::kCreate) {
      outcome = ApplyCreate(shard, event, now);
    } else if (event.type == EventType::kInvalidate) {
      outcome = ApplyInvalidate(shard, event, now, until);
    } else {
      Result<Outcome> changed = ApplyChange(shard, event, now, until);
      if (!changed.ok()) return changed.status();
      outcome = *changed;
    }
    count_ += outcome.count_delta;
  }
  if (republish && outcome.changed) {
    EventBatch batch{event};
    Commit(&batch);
  }
  return Status::Ok();
}

namespace {

// Restored stamps may come from nodes whose clocks ran ahead; later local writes must still win.
HlcTime MaxStamp(const Session& s) {
  HlcTime max = 0;
  for (const auto& [name, attr] : s.attributes) max = std::max(max, attr.stamp.time);
  for (const auto& [name, stamp] : s.removed) max = std::max(max, stamp.time);
  return max;
}

}  // namespace

bool SessionStore::Restore(Session session) {
  if (session.id.empty()) return false;
  // This node's own rows: taken even when their stamps are beyond maxClockSkew (this node's
  // clock went back), but then they do not drag the clock forward.
  (void)options_.clock->Observe(std::max(MaxStamp(session), session.id_stamp.time));
  const int64_t now = options_.wall_ms();
  {
    ShardData& shard = ShardFor(session.id);
    std::lock_guard lock(shard.mu);
    if (shard.Tombstoned(session.id, now)) return false;
    auto it = shard.FindAnyId(session.id, now);
    if (it == shard.sessions.end()) {
      if (shard.TombstonedAnyId(session.id, now)) return false;
      std::string id = session.id;
      shard.Insert(std::move(id), internal::EntryOf(std::move(session)));
      ++count_;
      return true;
    }
    if (it->first == session.id) {
      if (it->second.version >= session.version) return false;
      it->second = internal::EntryOf(std::move(session));
      return true;
    }
  }
  // Here under another id of its base: the two ids must become one, as a merge makes them.
  return Merge(session, /*republish=*/false);
}

}  // namespace sessiond::session
