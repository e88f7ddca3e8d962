// SessionStore: whole-session merges and tombstones learnt from peers, and the digest that
// anti-entropy compares (replication's gap repair, state transfer and anti-entropy use these).
//
// Merge is a join of the per-field rules Apply already follows, so that merging in any order and
// any number of times converges: attributes and removal markers by Stamp (LWW), last access by
// (time, node), version = max, created = min. A tombstone beats any session state.
#include <algorithm>

#include "session/store_internal.h"

namespace sessiond::session {

using internal::Entry;
using internal::kShardCount;
using internal::ShardData;
using internal::Slot;

namespace {

constexpr uint64_t kFnvOffset = 1469598103934665603ull;
constexpr uint64_t kFnvPrime = 1099511628211ull;
constexpr uint64_t kTombstoneHash = 0x746f6d6273746f6eull;  // "tombston"

class Fnv {
 public:
  void Bytes(std::string_view b) {
    for (char c : b) h_ = (h_ ^ static_cast<uint8_t>(c)) * kFnvPrime;
  }
  void Str(std::string_view s) {  // length first, so ("ab","c") and ("a","bc") differ
    U64(s.size());
    Bytes(s);
  }
  void U64(uint64_t v) {
    for (int i = 0; i < 8; ++i) h_ = (h_ ^ ((v >> (8 * i)) & 0xff)) * kFnvPrime;
  }
  uint64_t value() const { return h_; }

 private:
  uint64_t h_ = kFnvOffset;
};

uint64_t EntryHash(const Entry& e) {
  Fnv h;
  h.U64(e.version);
  h.U64(static_cast<uint64_t>(e.last_accessed_ms));
  h.Str(e.last_node);
  h.U64(e.id_stamp.time);
  h.Str(e.id_stamp.node);
  for (const Slot& slot : e.slots) {  // sorted by name: one order on every node
    h.Str(slot.name);
    h.U64(slot.removed ? 1 : 0);
    h.U64(slot.stamp.time);
    h.Str(slot.stamp.node);
  }
  return h.value();
}

// Folds `remote` into `e` (`same_id`: kept under the remote's id); returns whether `e` changed.
bool MergeInto(Entry& e, const Session& remote, bool same_id) {
  bool changed = false;
  if (same_id && e.id_stamp < remote.id_stamp) {
    e.id_stamp = remote.id_stamp;
    changed = true;
  }
  for (const auto& [name, attr] : remote.attributes) {
    changed |= e.SetIfNewer(name, attr.json, attr.stamp);
  }
  for (const auto& [name, stamp] : remote.removed) changed |= e.RemoveIfNewer(name, stamp);
  bool later = remote.last_accessed_ms > e.last_accessed_ms ||
               (remote.last_accessed_ms == e.last_accessed_ms && remote.last_node > e.last_node);
  if (later) {
    e.last_accessed_ms = remote.last_accessed_ms;
    e.last_node = remote.last_node;
    changed = true;
  }
  if (remote.version > e.version) {
    e.version = remote.version;
    e.max_inactive_s = remote.max_inactive_s;  // the newer side's interval
    changed = true;
  }
  if (remote.created_ms != 0 && (e.created_ms == 0 || remote.created_ms < e.created_ms)) {
    e.created_ms = remote.created_ms;
    changed = true;
  }
  return changed;
}

HlcTime MaxStampOf(const Session& s) {
  HlcTime max = s.id_stamp.time;
  for (const auto& [name, attr] : s.attributes) max = std::max(max, attr.stamp.time);
  for (const auto& [name, stamp] : s.removed) max = std::max(max, stamp.time);
  return max;
}

}  // namespace

uint64_t StableHash(std::string_view bytes) {
  Fnv h;
  h.Bytes(bytes);
  return h.value();
}

uint64_t ContentHash(const Session& s) { return EntryHash(internal::EntryOf(s)); }

bool SessionStore::Merge(const Session& remote, bool republish) {
  if (remote.id.empty()) return false;
  if (!options_.clock->Observe(MaxStampOf(remote))) return false;  // beyond maxClockSkew
  const int64_t now = options_.wall_ms();
  Event published;
  Event renamed;
  {
    ShardData& shard = ShardFor(remote.id);
    std::lock_guard lock(shard.mu);
    if (shard.Tombstoned(remote.id, now)) return false;
    auto it = shard.FindAnyId(remote.id, now);
    if (it == shard.sessions.end()) {
      if (shard.TombstonedAnyId(remote.id, now)) return false;  // buried here by another id
      it = shard.Insert(remote.id, internal::EntryOf(remote));
      ++count_;
    } else {
      bool changed = false;
      if (it->first != remote.id) {  // one session, two ids: the later id change wins
        const size_t aliases = shard.aliases.size();
        it = shard.Unify(it, remote.id, remote.id_stamp, now + options_.tombstone_ms,
                         &renamed.session_id);
        changed = !renamed.session_id.empty() || shard.aliases.size() != aliases;
      }
      changed |= MergeInto(it->second, remote, it->first == remote.id);
      if (!changed) return false;
    }
    published.type = EventType::kAccess;
    published.app = it->second.app;
    published.session_id = it->first;
    published.version = it->second.version;
    published.time_ms = it->second.last_accessed_ms;
    published.distributable = it->second.distributable;
  }
  if (republish) {
    EventBatch batch;
    if (!renamed.session_id.empty()) {  // persistence drops the old id's row
      renamed.type = EventType::kChangeId;
      renamed.app = published.app;
      renamed.version = published.version;
      renamed.value = published.session_id;
      renamed.distributable = published.distributable;
      batch.push_back(std::move(renamed));
    }
    batch.push_back(std::move(published));
    Commit(&batch);
  }
  return true;
}

std::optional<Stamp> SessionStore::TombstoneOf(std::string_view id) const {
  const int64_t now = options_.wall_ms();
  const ShardData& shard = ShardFor(id);
  std::lock_guard lock(shard.mu);
  auto it = shard.tombstones.find(id);
  if (it == shard.tombstones.end() || it->second.until_ms <= now) return std::nullopt;
  return it->second.stamp;
}

std::vector<std::pair<std::string, Stamp>> SessionStore::Tombstones() const {
  const int64_t now = options_.wall_ms();
  std::vector<std::pair<std::string, Stamp>> out;
  for (size_t i = 0; i < kShardCount; ++i) {
    const ShardData& shard = shards_[i];
    std::lock_guard lock(shard.mu);
    for (const auto& [id, t] : shard.tombstones) {
      if (t.until_ms > now) out.emplace_back(id, t.stamp);
    }
  }
  return out;
}

bool SessionStore::RestoreTombstone(const std::string& id, const Stamp& stamp, bool republish) {
  if (id.empty()) return false;
  if (!options_.clock->Observe(stamp.time)) return false;  // beyond maxClockSkew
  const int64_t now = options_.wall_ms();
  const int64_t until = HlcWallMillis(stamp.time) + options_.tombstone_ms;
  if (until <= now) return false;
  Event published;
  {
    ShardData& shard = ShardFor(id);
    std::lock_guard lock(shard.mu);
    if (shard.Tombstoned(id, now)) return false;
    auto it = shard.FindAnyId(id, now);  // an invalidation buries the session by any of its ids
    if (it != shard.sessions.end()) {
      if (it->first != id) shard.aliases[id] = internal::Alias{it->first, until};
      published.app = it->second.app;
      published.version = it->second.version + 1;
      published.distributable = it->second.distributable;
      shard.Bury(it, stamp, until);
      --count_;
    } else {
      shard.Entomb(id, internal::Tombstone{stamp, until});
    }
  }
  if (republish) {
    published.type = EventType::kInvalidate;
    published.session_id = id;
    published.stamp = stamp;
    published.time_ms = now;
    EventBatch batch{std::move(published)};
    Commit(&batch);
  }
  return true;
}

std::vector<DigestEntry> SessionStore::Digest() const {
  const int64_t now = options_.wall_ms();
  std::vector<DigestEntry> out;
  out.reserve(Count() + 64);
  for (size_t i = 0; i < kShardCount; ++i) {
    const ShardData& shard = shards_[i];
    std::lock_guard lock(shard.mu);
    for (const auto& [id, e] : shard.sessions) {
      if (!e.ExpiredAt(now)) out.push_back(DigestEntry{id, e.version, EntryHash(e), false});
    }
    for (const auto& [id, t] : shard.tombstones) {
      if (t.until_ms > now) out.push_back(DigestEntry{id, 0, kTombstoneHash, true});
    }
  }
  return out;
}

}  // namespace sessiond::session
