// SessionStore's internal representation, shared by session_store.cc (local changes, reads) and
// session_apply.cc (remote events, restore). Not part of the module's interface.
//
// Memory is the point of this representation: a node holds every session of the cluster, so the
// per-session overhead beyond the attribute bytes must stay small. An Entry keeps its attributes
// in a small vector sorted by name (one allocation, no tree nodes); the id is the hash map's key
// only; removal markers are vector slots with an empty value; app and node names are interned
// (InternedString); values keep no spare capacity (Entry::SetIfNewer). With one 1 KB attribute a
// session costs ~1.4 KB of RSS in the running daemon (bench/README.md, "Memory per session").
#pragma once

#include <algorithm>
#include <compare>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "session/session.h"

namespace sessiond::session::internal {

/// Shards of the store (a power of two is not needed: ids hash by their base).
inline constexpr size_t kShardCount = 64;

/// A text from a small set that many entries repeat (context paths, node names): equal texts
/// share one copy that lives for the rest of the process, and an entry holds a pointer — 8 bytes
/// instead of a 32-byte std::string per field. Reads as a std::string / std::string_view. The
/// set only grows: it holds the apps deployed and the nodes met, a few dozen short strings.
/// Thread-safe (assignment interns under a global mutex, skipped when the text is unchanged).
class InternedString {
 public:
  InternedString() : s_(Empty()) {}
  explicit InternedString(std::string_view text) : s_(Intern(text)) {}
  InternedString& operator=(std::string_view text) {
    if (*s_ != text) s_ = Intern(text);
    return *this;
  }
  const std::string& str() const { return *s_; }
  operator const std::string&() const { return *s_; }  // NOLINT: reads as the string it is
  operator std::string_view() const { return *s_; }     // NOLINT
  size_t size() const { return s_->size(); }
  bool empty() const { return s_->empty(); }

  friend bool operator==(const InternedString& a, const InternedString& b) { return a.s_ == b.s_; }
  friend bool operator==(const InternedString& a, std::string_view b) { return *a.s_ == b; }
  friend std::strong_ordering operator<=>(const InternedString& a, const InternedString& b) {
    return a.s_->compare(*b.s_) <=> 0;
  }
  friend std::strong_ordering operator<=>(const InternedString& a, std::string_view b) {
    return a.s_->compare(b) <=> 0;
  }

 private:
  static const std::string* Empty();
  static const std::string* Intern(std::string_view text);  // session_store.cc
  const std::string* s_;
};

/// A Stamp as a slot keeps it: the node name interned (every slot repeats one of a few names).
struct SlotStamp {
  HlcTime time = 0;
  InternedString node;

  SlotStamp() = default;
  SlotStamp(const Stamp& s) : time(s.time), node(s.node) {}  // NOLINT: stores a Stamp
  operator Stamp() const { return Stamp{time, node.str()}; }  // NOLINT
  friend bool operator<(const SlotStamp& a, const Stamp& b) {
    return a.time != b.time ? a.time < b.time : a.node < b.node;
  }
};

/// One attribute, or the marker a removal leaves (removed = true, json empty).
struct Slot {
  std::string name;
  std::string json;
  SlotStamp stamp;
  bool removed = false;
};

struct Entry {
  InternedString app;
  InternedString last_node;
  int64_t created_ms = 0;
  int64_t last_accessed_ms = 0;
  uint64_t version = 0;
  int32_t max_inactive_s = 0;
  bool distributable = true;
  /// The id change that gave the session the id it is kept under; zero for the id it was created
  /// with. Decides which id stays live when two ids of one session meet (ShardData::Unify).
  SlotStamp id_stamp;
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
  /// Every route suffix of an id this shard ever held (a session, an alias target or a
  /// tombstone): a few node names. FindAnyId tries them to find another id of the same base.
  std::vector<std::string> routes;

  /// The session under `id` or under a live alias of it; null when absent.
  SessionMap::iterator Find(std::string_view id, int64_t now_ms);
  SessionMap::const_iterator Find(std::string_view id, int64_t now_ms) const;
  /// As Find, and else the session kept under another id of the same base (the same session
  /// renamed elsewhere — a split brain's JvmRouteBinderValve — while its alias here is unknown or
  /// expired). Replication's convergence paths use this; requests use Find.
  SessionMap::iterator FindAnyId(std::string_view id, int64_t now_ms);
  bool Tombstoned(std::string_view id, int64_t now_ms) const;
  /// As Tombstoned, for any id of the same base: an invalidation buries the session by all its ids.
  bool TombstonedAnyId(std::string_view id, int64_t now_ms) const;
  /// Adds a session (which must not be here under any id) and notes its route.
  SessionMap::iterator Insert(std::string id, Entry entry);
  /// Tombstones `id` (noting its route).
  void Entomb(const std::string& id, const Tombstone& tombstone);
  /// Two ids of one session met: `it` is kept here, `other` (same base, another id) comes with
  /// `other_stamp` (its Entry::id_stamp). The later id change wins — Stamp order, an id never
  /// changed has a zero stamp, the smaller id breaks a tie — so every node picks the same live id
  /// whatever the order. When `other` wins the session is rekeyed to it (the current id becomes
  /// an alias); else `other` becomes an alias of the current id. `renamed_from` (may be null)
  /// receives the id the session left, empty when it stayed. Returns the session.
  SessionMap::iterator Unify(SessionMap::iterator it, const std::string& other,
                             const Stamp& other_stamp, int64_t until_ms,
                             std::string* renamed_from);
  /// Drops the session, its aliases, and tombstones every one of its ids until `until_ms`.
  void Bury(SessionMap::iterator it, const Stamp& stamp, int64_t until_ms);
  /// Moves the session to `new_id` and leaves the old id as an alias until `until_ms`.
  SessionMap::iterator Rekey(SessionMap::iterator it, const std::string& new_id, int64_t until_ms);

 private:
  void NoteRoute(std::string_view id);
};

/// Whether `b`'s id (changed at `b_stamp`) stays live rather than `a`'s (see ShardData::Unify).
bool IdWins(std::string_view b, const Stamp& b_stamp, std::string_view a, const Stamp& a_stamp);

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
