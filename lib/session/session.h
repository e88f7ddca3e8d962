// session: the session store, built for replication from the start.
//
// Every change to a session is an explicit, ordered, versioned Event (create, attribute set/remove,
// access, invalidate, id change) stamped with a hybrid logical clock (HLC). A request collects its
// events in an EventBatch; SessionStore::Commit hands the batch to every registered EventSink
// (persistence now, replication later: one delta per request). Remote events come back in through
// SessionStore::Apply, which resolves concurrent writes per attribute by (HLC, node name): last
// writer wins, the node name breaks ties, so every node converges to the same value.
//
// A leaf module: depends on base only. Attribute values are JSON texts, validated by the caller
// (the container parses request bodies); the store never parses them.
//
// Thread-safety: SessionStore is thread-safe (sharded mutexes); HTTP workers, the admin endpoint,
// the expiry timer and the replication loop call it concurrently. HybridClock is thread-safe.
// EventSinks are called on the committing thread, outside the store's locks, and must be quick.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/base.h"

namespace sessiond::session {

/// An HLC timestamp: 48 bits of Unix milliseconds, 16 bits of logical counter, packed so that
/// plain integer comparison orders them. 0 means "never".
using HlcTime = uint64_t;
inline int64_t HlcWallMillis(HlcTime t) { return static_cast<int64_t>(t >> 16); }
inline uint32_t HlcLogical(HlcTime t) { return static_cast<uint32_t>(t & 0xffff); }
inline HlcTime MakeHlc(int64_t wall_ms, uint32_t logical) {
  return (static_cast<uint64_t>(wall_ms) << 16) | (logical & 0xffff);
}

/// Hybrid logical clock (Kulkarni et al.): never goes backwards, stays close to wall time, and
/// after Observe(remote) every local stamp is greater than the remote one — so a write that
/// causally follows another is ordered after it even when the clocks are skewed. Thread-safe.
///
/// A max skew guards against a peer whose clock is broken or hostile: merged, one stamp from the
/// year 3000 would drag this clock — and every later write's stamp, on every node — there for
/// good. A remote stamp further ahead of this node's wall time than the bound is refused
/// (Observe returns false, the clock does not move, refused() counts it), and the store refuses
/// the event or session that carries it (SessionStore::Apply, Merge, RestoreTombstone).
class HybridClock {
 public:
  using WallSource = std::function<int64_t()>;
  /// Called for each refused stamp with how far ahead of wall time it was (ms); may be called
  /// under the store's locks, so it must be quick (the daemon logs, rate-limited).
  using RefusedHook = std::function<void(HlcTime remote, int64_t ahead_ms)>;
  /// `wall` defaults to base::WallMillis; tests pass a fake clock.
  explicit HybridClock(WallSource wall = nullptr);
  /// Remote stamps more than `ms` ahead of wall time are refused from now on; 0 (the default):
  /// no bound. Call before the clock is shared.
  void set_max_skew_ms(int64_t ms, RefusedHook on_refused = nullptr);
  /// A new stamp, greater than every stamp this clock has issued or observed.
  HlcTime Now();
  /// Merges a remote stamp (from a delta, a fetched session or a heartbeat). False, the clock
  /// unchanged, when the stamp is beyond the max skew.
  [[nodiscard]] bool Observe(HlcTime remote);
  /// Whether Observe would take `remote` (does not count a refusal).
  bool WithinSkew(HlcTime remote) const;
  /// Remote stamps refused so far.
  uint64_t refused() const { return refused_.load(std::memory_order_relaxed); }

 private:
  WallSource wall_;
  std::atomic<uint64_t> last_{0};
  int64_t max_skew_ms_ = 0;
  RefusedHook on_refused_;
  std::atomic<uint64_t> refused_{0};
};

/// Who wrote a value and when: compared by (time, node) — last writer wins, node name breaks ties.
struct Stamp {
  HlcTime time = 0;
  std::string node;
  friend bool operator<(const Stamp& a, const Stamp& b) {
    return a.time != b.time ? a.time < b.time : a.node < b.node;
  }
  friend bool operator==(const Stamp& a, const Stamp& b) = default;
};

enum class EventType : uint8_t {
  kCreate = 1,           ///< a new session: time_ms = creation time, max_inactive_s
  kSetAttribute = 2,     ///< name, value (JSON text)
  kRemoveAttribute = 3,  ///< name
  kAccess = 4,           ///< time_ms = last access time
  kInvalidate = 5,       ///< the session is gone; leaves a tombstone
  kChangeId = 6,         ///< value = the new id (JvmRouteBinderValve failover)
};
std::string_view EventTypeName(EventType type);

/// One change to one session. `version` is the session's version after the event: versions of a
/// session go 1, 2, 3… on the node that owns the write, so a receiver can see a gap.
struct Event {
  EventType type = EventType::kAccess;
  std::string app;         ///< context path: "/myapp", "" for ROOT
  std::string session_id;  ///< the id the event applies to (the old id for kChangeId)
  uint64_t version = 0;
  Stamp stamp;             ///< HLC time and the writing node
  std::string name;        ///< attribute name (set/remove)
  std::string value;       ///< JSON text (set) or new id (change id)
  int64_t time_ms = 0;     ///< wall time: creation (create) or access (access, create)
  int32_t max_inactive_s = 0;  ///< create only
  bool distributable = true;   ///< false: the app is local-only and never replicates
};

/// The events of one request (or one expiry sweep), in order.
using EventBatch = std::vector<Event>;

struct Attribute {
  std::string json;  ///< the value as JSON text
  Stamp stamp;       ///< who set it last
  friend bool operator==(const Attribute& a, const Attribute& b) = default;
};

/// A snapshot of one session, returned by value (the store keeps its own copy).
struct Session {
  std::string id;
  std::string app;
  int64_t created_ms = 0;
  int64_t last_accessed_ms = 0;
  int32_t max_inactive_s = 1800;   ///< <= 0: never expires
  std::string last_node;           ///< node that served the last access
  uint64_t version = 0;
  bool distributable = true;
  /// The id change (JvmRouteBinderValve) that gave the session this id; zero when it still has
  /// the id it was created with. When two nodes hold one session under two ids (a split brain
  /// renamed it), the later change wins everywhere (SessionStore::Merge).
  Stamp id_stamp;
  std::map<std::string, Attribute> attributes;
  /// Removal markers: name -> stamp of the removal. Kept while the session lives so that a late,
  /// older set (LWW) cannot resurrect a removed attribute. Never shown in SessionToJson.
  std::map<std::string, Stamp> removed;

  friend bool operator==(const Session& a, const Session& b) = default;

  /// Approximate bytes held: ids, names and values (for `sessions list` SIZE and metrics).
  size_t SizeBytes() const;
  /// Expired at `now_ms` by its max inactive interval.
  bool ExpiredAt(int64_t now_ms) const;
};

/// The session JSON of DESIGN.md §6, exactly:
/// {"id","node","created","last_accessed","max_inactive_seconds","attributes"} where node is
/// `serving_node` (the jvmRoute of the node answering this request).
std::string SessionToJson(const Session& s, std::string_view serving_node);

/// Session ids as Tomcat's: 32 upper-case hex digits from a CSPRNG + "." + jvmRoute.
std::string NewSessionId(std::string_view route);
/// The id's route suffix ("tomcatA" for "3F…7A.tomcatA"); empty when it has none.
std::string_view RouteOf(std::string_view id);
/// The id without its route suffix.
std::string_view BaseOf(std::string_view id);
/// True for ids we could have issued: 32 hex digits (either case) + optional ".route" of
/// [A-Za-z0-9_-], at most 128 bytes. Anything else never reaches the store (path traversal, junk).
bool IsWellFormedId(std::string_view id);

/// The versioned binary encoding of a Session (SQLite rows now, state transfer later).
/// Layout (all integers little-endian): u8 format version (1), then length-prefixed fields; see
/// session_codec.cc. Decode never trusts lengths: malformed input is a kBadRequest Status.
std::string EncodeSession(const Session& s);
Result<Session> DecodeSession(std::string_view bytes);

/// The row columns SessionStore::EncodeInto reports beside the encoded bytes.
struct EncodedSessionInfo {
  std::string id;  ///< the session's own id: differs from the one asked for when that is an alias
  std::string app;
  int64_t last_accessed_ms = 0;
};

/// Receives committed batches (the persister, the replicator). Called on the committing thread,
/// outside the store's locks; implementations must be thread-safe and must not block.
class EventSink {
 public:
  virtual ~EventSink() = default;
  virtual void OnCommit(const EventBatch& batch) = 0;
};

/// Filters for List. nullopt / empty strings / zero mean "any".
struct ListFilter {
  /// Context path: "/myapp", or "" for ROOT (which is why "any" is nullopt, not "").
  std::optional<std::string> app;
  std::string node;            ///< last_node
  int64_t idle_over_ms = 0;    ///< only sessions idle longer than this
  std::string after_id;        ///< cursor: ids strictly greater than this (ids are listed sorted)
  size_t limit = 0;            ///< 0 = no limit
};

/// Anti-entropy's view of one id: a live session or a tombstone (see SessionStore::Digest).
struct DigestEntry {
  std::string id;
  uint64_t version = 0;   ///< 0 for a tombstone
  uint64_t hash = 0;      ///< ContentHash of the session; for a tombstone a constant
  bool tombstone = false;
  friend bool operator==(const DigestEntry&, const DigestEntry&) = default;
};

/// A stable (FNV-1a 64, the same on every node and build) hash of what merging converges: the
/// version, attribute names and stamps, removal markers and the last access (time and node).
/// Values are not hashed: one stamp names one write.
uint64_t ContentHash(const Session& s);
/// FNV-1a 64 of bytes: stable across nodes (bucketing ids for anti-entropy).
uint64_t StableHash(std::string_view bytes);

class SessionStore {
 public:
  struct Options {
    std::string node_name;              ///< this node's jvmRoute: id suffix and Stamp.node
    int64_t max_active_sessions = -1;   ///< -1: no cap; Create fails with kUnavailable past it
    HybridClock* clock = nullptr;       ///< not owned; must outlive the store
    std::function<int64_t()> wall_ms;   ///< defaults to WallMillis; tests pass a fake clock
    int64_t tombstone_ms = 10 * 60 * 1000;  ///< how long an invalidated id is remembered
  };
  explicit SessionStore(Options options);
  ~SessionStore();
  SessionStore(const SessionStore&) = delete;
  SessionStore& operator=(const SessionStore&) = delete;

  /// Registers a sink for committed batches. Not owned; call before serving starts.
  void AddSink(EventSink* sink);

  // ---- local changes: each appends its events to `out`; Commit(out) publishes them ----

  /// A new session in `app` with a fresh id. kUnavailable when maxActiveSessions is reached.
  Result<Session> Create(std::string_view app, int32_t max_inactive_s, bool distributable,
                         EventBatch* out);
  /// Marks an access (last_accessed = now, last_node = this node) and returns the session.
  /// kNotFound when absent, of another app, or expired (an expired one is invalidated here).
  Result<Session> Access(std::string_view app, std::string_view id, EventBatch* out);
  /// The session without touching it; nullopt when absent or expired.
  std::optional<Session> Get(std::string_view id) const;
  /// Whether Get(id) would find it (or the id is an alias of one), without copying it.
  bool Contains(std::string_view id) const;
  /// EncodeSession(*Get(id)) written into `out` under the shard lock, straight from the store:
  /// no Session copy is made, and `out`'s capacity is reused (the persister encodes every changed
  /// session through one buffer). `info` (may be null) receives the row's columns. False, with
  /// `out` and `info` untouched, when absent or expired (as Get's nullopt).
  bool EncodeInto(std::string_view id, std::string* out, EncodedSessionInfo* info = nullptr) const;
  Status SetAttribute(std::string_view id, std::string_view name, std::string json_value,
                      EventBatch* out);
  /// kNotFound when the session or the attribute is absent.
  Status RemoveAttribute(std::string_view id, std::string_view name, EventBatch* out);
  Status Invalidate(std::string_view id, EventBatch* out);
  /// Re-issues the id with `route` (same base, new suffix); the old id keeps resolving to the
  /// session for in-flight requests until the tombstone period ends. Returns the new id.
  Result<std::string> ChangeRoute(std::string_view id, std::string_view route, EventBatch* out);
  /// Invalidates every session idle past its max inactive interval (and, when `idle_over_ms` > 0,
  /// every one of `app` — nullopt: of every app; "": of ROOT — idle longer than that). Returns
  /// how many.
  size_t Expire(int64_t idle_over_ms, std::optional<std::string_view> app, EventBatch* out);
  /// Publishes the batch to every sink (and clears it). Cheap when empty.
  void Commit(EventBatch* batch);

  // ---- remote and restored state ----

  /// Applies a remote event: LWW per attribute by Stamp, tombstones win over older writes,
  /// observes the stamp on the clock. Not re-published to sinks other than persistence
  /// (`republish` decides). kConflict when a version gap means the caller must fetch the session.
  /// Events at or below the session's version are re-applied (LWW makes that harmless); a
  /// non-create event for an unknown session is a gap too ("have 0"). Remote creates are not
  /// capped by maxActiveSessions (every node holds every session). An invalidate for an unknown
  /// id still leaves a tombstone. With `republish`, only events that changed state are published.
  Status Apply(const Event& event, bool republish);
  /// Puts a whole session in place (restore from SQLite), unless a tombstone or a newer version
  /// is already here; a session held under another id of its base is merged (as Merge). Returns
  /// whether it was taken.
  bool Restore(Session session);

  /// Merges a whole remote session (gap repair, anti-entropy, state transfer): per attribute the
  /// higher Stamp wins (sets and removal markers alike), the latest access wins (node name breaks
  /// ties), version = the higher one, created = the earlier one. An absent session is inserted; a
  /// tombstoned id is left alone. A session held here under another id of the same base (renamed
  /// on one side of a partition, or on both) merges into one: the id changed last (id_stamp;
  /// the smaller id on a tie) stays live and the other becomes its alias, on every node alike.
  /// Symmetric: merging A into B and B into A gives both the same state. Returns whether anything
  /// changed; with `republish` a change is published to the sinks as a kAccess event (preceded by
  /// a kChangeId when the session was rekeyed here) whose stamp.node is empty (a merge has no
  /// single writer, so replication never re-sends it; persistence upserts the session).
  bool Merge(const Session& remote, bool republish);
  /// The invalidation stamp of `id` when it is tombstoned now.
  std::optional<Stamp> TombstoneOf(std::string_view id) const;
  /// Every live tombstone (id, stamp), unordered (state transfer).
  std::vector<std::pair<std::string, Stamp>> Tombstones() const;
  /// Installs a tombstone learnt from a peer (state transfer, anti-entropy): buries the session
  /// when present. It lasts until the stamp's wall time + tombstone_ms — not from now — so peers
  /// forget a tombstone at about the same time and never hand an expired one back and forth.
  /// Does nothing when that time has passed. Returns whether anything changed; with `republish`
  /// a change is published as a kInvalidate event carrying `stamp`.
  bool RestoreTombstone(const std::string& id, const Stamp& stamp, bool republish);
  /// Every unexpired session and live tombstone as DigestEntry, unordered (anti-entropy).
  std::vector<DigestEntry> Digest() const;

  // ---- reading ----

  /// Sessions matching the filter, sorted by id, at most `limit` of them.
  std::vector<Session> List(const ListFilter& filter) const;
  size_t Count() const;
  std::map<std::string, size_t> CountByApp() const;
  /// Drops tombstones older than tombstone_ms. Called by the expiry timer.
  void PruneTombstones();

 private:
  struct Shard;
  Shard& ShardFor(std::string_view id) const;
  Options options_;
  std::unique_ptr<HybridClock> owned_clock_;  ///< used when options.clock is null
  std::unique_ptr<Shard[]> shards_;
  std::vector<EventSink*> sinks_;
  std::atomic<int64_t> count_{0};
};

}  // namespace sessiond::session
