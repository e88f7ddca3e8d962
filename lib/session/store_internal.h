// SessionStore's internal representation, shared by session_store.cc (local changes, reads) and
// session_apply.cc (remote events, restore). Not part of the module's interface.
//
// Memory is the point of this representation: a node holds every session of the cluster, so the
// per-session overhead beyond the attribute bytes must stay small. An Entry keeps its attributes
// in a small vector sorted by name (one allocation, no tree nodes); the id is the hash map's key
// only; removal markers are vector slots with an empty value.
#pragma once

#include <algorithm>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "session/session.h"

namespace sessiond::session::internal {

/// Shards of the store (a power of two is not needed: ids hash by their base).
inline constexpr size_t kShardCount = 64;

/// One attribute, or the marker a removal leaves (removed = true, json empty).
struct Slot {
  std::string name;
  std::string json;
  Stamp stamp;
  bool removed = false;
};

struct Entry {
  std::string app;
  std::string last_node;
  int64_t created_ms = 0;
  int64_t last_accessed_ms = 0;
  uint64_t version = 0;
  int32_t max_inactive_s = 0;
  bool distributable = true;
  std::vector<Slot> slots;  ///< sorted by name

  bool ExpiredAt(int64_t now_ms) const {
    return max_inactive_s > 0 &&
           now_ms - last_accessed_ms >= static_cast<int64_t>(max_inactive_s) * 1000;
  }
  /// The live attribute `name`, or null.
  const Slot* FindLive(std::string_view name) const;
  /// LWW: takes the value when `stamp` is newer than what the slot holds. Returns whether it did.
  bool SetIfNewer(std::string_view name, std::string json, const Stamp& stamp);
  /// LWW: marks removed when `stamp` is newer; leaves a marker even for an unknown name, so an
  /// older set arriving later cannot resurrect it. Returns whether anything changed.
  bool RemoveIfNewer(std::string_view name, const Stamp& stamp);
};

/// An old id that keeps resolving to its session after an id change, until `until_ms`.
struct Alias {
  std::string target;
  int64_t until_ms = 0;
};

/// An invalidated id: every event for it is ignored until `until_ms`.
struct Tombstone {
  Stamp stamp;
  int64_t until_ms = 0;
};

/// Lets the maps be searched by string_view without building a std::string.
struct StringHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};
template <typename V>
using StringMap = std::unordered_map<std::string, V, StringHash, std::equal_to<>>;

using SessionMap = StringMap<Entry>;

/// One shard: every id with the same base (the id without its route) lands in the same shard, so
/// an id change and its alias never cross shards.
struct alignas(64) ShardData {  // aligned: shards locked by different threads share no line
  mutable std::mutex mu;
  SessionMap sessions;
  StringMap<Alias> aliases;
  StringMap<Tombstone> tombstones;

  /// The session under `id` or under a live alias of it; null when absent.
  SessionMap::iterator Find(std::string_view id, int64_t now_ms);
  SessionMap::const_iterator Find(std::string_view id, int64_t now_ms) const;
  bool Tombstoned(std::string_view id, int64_t now_ms) const;
  /// Drops the session, its aliases, and tombstones every one of its ids until `until_ms`.
  void Bury(SessionMap::iterator it, const Stamp& stamp, int64_t until_ms);
  /// Moves the session to `new_id` and leaves the old id as an alias until `until_ms`.
  SessionMap::iterator Rekey(SessionMap::iterator it, const std::string& new_id, int64_t until_ms);
};

/// The external view of an entry.
Session Snapshot(const std::string& id, const Entry& e);
/// The entry for a whole session (restore, state transfer).
Entry EntryOf(Session s);
/// EncodeSession(Snapshot(id, e)) into `out` (cleared first, its capacity reused), without
/// building the Session (session_codec.cc).
void EncodeEntry(std::string_view id, const Entry& e, std::string* out);

}  // namespace sessiond::session::internal

namespace sessiond::session {
struct SessionStore::Shard : internal::ShardData {};
}  // namespace sessiond::session
