// SessionStore: local changes and reads. Remote events and restores are in session_apply.cc; the
// internal representation is described in store_internal.h.
//
// Every local change happens under its shard's mutex and stamps its event there, so a session's
// versions and stamps increase in the order its changes were made. Sinks run in Commit, outside
// every lock.
#include <algorithm>
#include <unordered_set>

#include "session/store_internal.h"

namespace sessiond::session {
namespace internal {
namespace {

template <typename Slots>  // std::vector<Slot>, const or not
auto SlotBound(Slots& slots, std::string_view name) {
  return std::lower_bound(slots.begin(), slots.end(), name,
                          // compare(), not `<`: clang 14 cannot rewrite string < string_view through
                          // libstdc++ 12's operator<=> (std::strong_ordering vs 0 fails to compile).
                          [](const Slot& s, std::string_view n) { return s.name.compare(n) < 0; });
}

}  // namespace

const std::string* InternedString::Empty() {
  static const std::string* const empty = Intern("");
  return empty;
}

// Never freed: entries anywhere (and static destructors) may still point into the set. Lookups
// hit a per-thread cache of the last few texts first, so the mutex is rare (a Create interns the
// app; an access that changes last_node interns the node).
const std::string* InternedString::Intern(std::string_view text) {
  constexpr size_t kCached = 4;
  thread_local const std::string* cache[kCached] = {};
  thread_local size_t next = 0;
  for (const std::string* c : cache) {
    if (c && *c == text) return c;
  }
  static std::mutex mu;
  static auto* set = new std::unordered_set<std::string, StringHash, std::equal_to<>>();
  const std::string* found;
  {
    std::lock_guard lock(mu);
    auto it = set->find(text);
    if (it == set->end()) it = set->emplace(text).first;
    found = &*it;  // unordered_set elements never move
  }
  cache[next++ % kCached] = found;
  return found;
}

const Slot* Entry::FindLive(std::string_view name) const {
  auto it = SlotBound(slots, name);
  if (it == slots.end() || it->name != name || it->removed) return nullptr;
  return &*it;
}

bool Entry::SetIfNewer(std::string_view name, std::string json, const Stamp& stamp) {
  // The value lives as long as the session: no spare capacity. A string built by appending (a
  // JSON serializer's output) holds up to twice its size — for a 1 KB value, 900 bytes more per
  // session than the value itself.
  if (json.capacity() - json.size() > 32 && json.capacity() - json.size() > json.size() / 16) {
    json.shrink_to_fit();
  }
  auto it = SlotBound(slots, name);
  if (it != slots.end() && it->name == name) {
    if (!(it->stamp < stamp)) return false;
    it->json = std::move(json);
    it->stamp = stamp;
    it->removed = false;
    return true;
  }
  slots.insert(it, Slot{std::string(name), std::move(json), stamp, false});
  return true;
}

bool Entry::RemoveIfNewer(std::string_view name, const Stamp& stamp) {
  auto it = SlotBound(slots, name);
  if (it != slots.end() && it->name == name) {
    if (!(it->stamp < stamp)) return false;
    std::string().swap(it->json);  // give the value's memory back; the marker stays small
    it->stamp = stamp;
    it->removed = true;
    return true;
  }
  slots.insert(it, Slot{std::string(name), std::string(), stamp, true});
  return true;
}

SessionMap::iterator ShardData::Find(std::string_view id, int64_t now_ms) {
  auto it = sessions.find(id);
  if (it != sessions.end()) return it;
  auto alias = aliases.find(id);
  if (alias == aliases.end() || alias->second.until_ms <= now_ms) return sessions.end();
  return sessions.find(alias->second.target);
}

SessionMap::const_iterator ShardData::Find(std::string_view id, int64_t now_ms) const {
  return const_cast<ShardData*>(this)->Find(id, now_ms);
}

bool ShardData::Tombstoned(std::string_view id, int64_t now_ms) const {
  auto it = tombstones.find(id);
  return it != tombstones.end() && it->second.until_ms > now_ms;
}

namespace {

// Calls `fn(other_id)` for every id of `id`'s base with a route this shard knows, other than
// `id` itself, until it returns true.
template <typename Fn>
bool AnyOtherId(const std::vector<std::string>& routes, std::string_view id, Fn fn) {
  const std::string_view base = BaseOf(id);
  std::string other;
  for (const std::string& route : routes) {
    other.assign(base);
    if (!route.empty()) other.append(".").append(route);
    if (other != id && fn(other)) return true;
  }
  return false;
}

}  // namespace

SessionMap::iterator ShardData::FindAnyId(std::string_view id, int64_t now_ms) {
  auto it = Find(id, now_ms);
  if (it != sessions.end()) return it;
  AnyOtherId(routes, id, [&](const std::string& other) {
    it = Find(other, now_ms);
    return it != sessions.end();
  });
  return it;
}

bool ShardData::TombstonedAnyId(std::string_view id, int64_t now_ms) const {
  return Tombstoned(id, now_ms) || AnyOtherId(routes, id, [&](const std::string& other) {
           return Tombstoned(other, now_ms);
         });
}

void ShardData::NoteRoute(std::string_view id) {
  std::string_view route = RouteOf(id);
  if (std::find(routes.begin(), routes.end(), route) == routes.end()) routes.emplace_back(route);
}

SessionMap::iterator ShardData::Insert(std::string id, Entry entry) {
  NoteRoute(id);
  return sessions.emplace(std::move(id), std::move(entry)).first;
}

void ShardData::Entomb(const std::string& id, const Tombstone& tombstone) {
  NoteRoute(id);
  tombstones[id] = tombstone;
}

bool IdWins(std::string_view b, const Stamp& b_stamp, std::string_view a, const Stamp& a_stamp) {
  if (a_stamp < b_stamp) return true;
  if (b_stamp < a_stamp) return false;
  return b < a;
}

SessionMap::iterator ShardData::Unify(SessionMap::iterator it, const std::string& other,
                                      const Stamp& other_stamp, int64_t until_ms,
                                      std::string* renamed_from) {
  if (renamed_from) renamed_from->clear();
  if (it->first == other) return it;
  if (!IdWins(other, other_stamp, it->first, it->second.id_stamp) || sessions.count(other)) {
    auto alias = aliases.find(other);
    if (alias == aliases.end() || alias->second.target != it->first) {
      NoteRoute(other);
      aliases[other] = Alias{it->first, until_ms};
    }
    return it;
  }
  if (renamed_from) *renamed_from = it->first;
  it = Rekey(it, other, until_ms);
  it->second.id_stamp = other_stamp;
  return it;
}

// Aliases are few (only ids changed by a failover), so walking them here is cheap.
void ShardData::Bury(SessionMap::iterator it, const Stamp& stamp, int64_t until_ms) {
  const std::string id = it->first;
  sessions.erase(it);
  Entomb(id, Tombstone{stamp, until_ms});
  for (auto a = aliases.begin(); a != aliases.end();) {
    if (a->second.target != id) {
      ++a;
      continue;
    }
    Entomb(a->first, Tombstone{stamp, until_ms});
    a = aliases.erase(a);
  }
}

SessionMap::iterator ShardData::Rekey(SessionMap::iterator it, const std::string& new_id,
                                      int64_t until_ms) {
  std::string old_id = it->first;
  auto node = sessions.extract(it);  // moves the entry without copying its attributes
  node.key() = new_id;
  auto inserted = sessions.insert(std::move(node));
  NoteRoute(new_id);
  for (auto& [alias, target] : aliases) {
    if (target.target == old_id) target.target = new_id;  // chains of changes resolve in one hop
  }
  aliases.erase(new_id);  // changing back to an earlier id makes it a key again
  aliases[old_id] = Alias{new_id, until_ms};
  return inserted.position;
}

Session Snapshot(const std::string& id, const Entry& e) {
  Session s;
  s.id = id;
  s.app = e.app;
  s.created_ms = e.created_ms;
  s.last_accessed_ms = e.last_accessed_ms;
  s.max_inactive_s = e.max_inactive_s;
  s.last_node = e.last_node;
  s.version = e.version;
  s.distributable = e.distributable;
  s.id_stamp = e.id_stamp;
  for (const Slot& slot : e.slots) {
    if (slot.removed) {
      s.removed.emplace_hint(s.removed.end(), slot.name, slot.stamp);
    } else {
      s.attributes.emplace_hint(s.attributes.end(), slot.name, Attribute{slot.json, slot.stamp});
    }
  }
  return s;
}

Entry EntryOf(Session s) {
  Entry e;
  e.app = std::move(s.app);
  e.last_node = std::move(s.last_node);
  e.created_ms = s.created_ms;
  e.last_accessed_ms = s.last_accessed_ms;
  e.version = s.version;
  e.max_inactive_s = s.max_inactive_s;
  e.distributable = s.distributable;
  e.id_stamp = s.id_stamp;
  e.slots.reserve(s.attributes.size() + s.removed.size());
  for (auto& [name, attr] : s.attributes) {
    e.slots.push_back(Slot{name, std::move(attr.json), std::move(attr.stamp), false});
  }
  for (auto& [name, stamp] : s.removed) e.RemoveIfNewer(name, stamp);  // keeps the order
  return e;
}

}  // namespace internal

using internal::Entry;
using internal::kShardCount;
using internal::ShardData;

namespace {

Stamp LocalStamp(const SessionStore::Options& o) { return Stamp{o.clock->Now(), o.node_name}; }

// The next event of a session: bumps its version, which the event carries.
Event NextEvent(EventType type, const std::string& id, Entry& e, Stamp stamp) {
  Event ev;
  ev.type = type;
  ev.app = e.app;
  ev.session_id = id;
  ev.version = ++e.version;
  ev.stamp = std::move(stamp);
  ev.distributable = e.distributable;
  return ev;
}

bool IsRouteText(std::string_view route) {
  if (route.empty() || route.size() > 64) return false;
  return std::all_of(route.begin(), route.end(), [](char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           c == '_' || c == '-';
  });
}

bool Matches(const ListFilter& f, const Entry& e, int64_t now_ms) {
  if (e.ExpiredAt(now_ms)) return false;
  if (f.app && e.app != *f.app) return false;
  if (!f.node.empty() && e.last_node != f.node) return false;
  return f.idle_over_ms <= 0 || now_ms - e.last_accessed_ms > f.idle_over_ms;
}

Status NoSession(std::string_view id) { return Status::NotFound("no session " + std::string(id)); }

}  // namespace

SessionStore::SessionStore(Options options)
    : options_(std::move(options)), shards_(new Shard[kShardCount]) {
  if (!options_.wall_ms) options_.wall_ms = [] { return WallMillis(); };
  if (!options_.clock) {
    owned_clock_ = std::make_unique<HybridClock>(options_.wall_ms);
    options_.clock = owned_clock_.get();
  }
}

SessionStore::~SessionStore() = default;

// By the base, so an id and the ids it changes into (same base, other route) share a shard.
SessionStore::Shard& SessionStore::ShardFor(std::string_view id) const {
  return shards_[std::hash<std::string_view>{}(BaseOf(id)) % kShardCount];
}

void SessionStore::AddSink(EventSink* sink) { sinks_.push_back(sink); }

Result<Session> SessionStore::Create(std::string_view app, int32_t max_inactive_s,
                                     bool distributable, EventBatch* out) {
  const int64_t cap = options_.max_active_sessions;
  int64_t n = count_.load();
  do {
    if (cap >= 0 && n >= cap) {
      return Status::Unavailable("too many active sessions (maxActiveSessions=" +
                                 std::to_string(cap) + ")");
    }
  } while (!count_.compare_exchange_weak(n, n + 1));
  const int64_t now = options_.wall_ms();
  while (true) {
    std::string id = NewSessionId(options_.node_name);
    ShardData& shard = ShardFor(id);
    std::lock_guard lock(shard.mu);
    if (shard.sessions.count(id) || shard.aliases.count(id) || shard.tombstones.count(id)) {
      continue;  // 128 random bits: never in practice, but never reuse an id either
    }
    Entry e;
    e.app = std::string(app);
    e.last_node = options_.node_name;
    e.created_ms = e.last_accessed_ms = now;
    e.max_inactive_s = max_inactive_s;
    e.distributable = distributable;
    auto it = shard.Insert(std::move(id), std::move(e));
    Event ev = NextEvent(EventType::kCreate, it->first, it->second, LocalStamp(options_));
    ev.time_ms = now;
    ev.max_inactive_s = max_inactive_s;
    out->push_back(std::move(ev));
    return internal::Snapshot(it->first, it->second);
  }
}

Result<Session> SessionStore::Access(std::string_view app, std::string_view id, EventBatch* out) {
  const int64_t now = options_.wall_ms();
  ShardData& shard = ShardFor(id);
  std::lock_guard lock(shard.mu);
  auto it = shard.Find(id, now);
  if (it == shard.sessions.end() || it->second.app != app) return NoSession(id);
  Entry& e = it->second;
  if (e.ExpiredAt(now)) {
    Event ev = NextEvent(EventType::kInvalidate, it->first, e, LocalStamp(options_));
    ev.time_ms = now;
    shard.Bury(it, ev.stamp, now + options_.tombstone_ms);
    out->push_back(std::move(ev));
    --count_;
    return Status::NotFound("session " + std::string(id) + " expired");
  }
  e.last_accessed_ms = std::max(e.last_accessed_ms, now);
  e.last_node = options_.node_name;
  Event ev = NextEvent(EventType::kAccess, it->first, e, LocalStamp(options_));
  ev.time_ms = e.last_accessed_ms;
  out->push_back(std::move(ev));
  return internal::Snapshot(it->first, e);
}

std::optional<Session> SessionStore::Get(std::string_view id) const {
  const int64_t now = options_.wall_ms();
  const ShardData& shard = ShardFor(id);
  std::lock_guard lock(shard.mu);
  auto it = shard.Find(id, now);
  if (it == shard.sessions.end() || it->second.ExpiredAt(now)) return std::nullopt;
  return internal::Snapshot(it->first, it->second);
}

bool SessionStore::Contains(std::string_view id) const {
  const int64_t now = options_.wall_ms();
  const ShardData& shard = ShardFor(id);
  std::lock_guard lock(shard.mu);
  auto it = shard.Find(id, now);
  return it != shard.sessions.end() && !it->second.ExpiredAt(now);
}

bool SessionStore::EncodeInto(std::string_view id, std::string* out,
                              EncodedSessionInfo* info) const {
  const int64_t now = options_.wall_ms();
  const ShardData& shard = ShardFor(id);
  std::lock_guard lock(shard.mu);
  auto it = shard.Find(id, now);
  if (it == shard.sessions.end() || it->second.ExpiredAt(now)) return false;
  internal::EncodeEntry(it->first, it->second, out);
  if (info) {
    info->id.assign(it->first);
    info->app.assign(it->second.app);
    info->last_accessed_ms = it->second.last_accessed_ms;
  }
  return true;
}

Status SessionStore::SetAttribute(std::string_view id, std::string_view name,
                                  std::string json_value, EventBatch* out) {
  if (name.empty()) return Status::BadRequest("empty attribute name");
  const int64_t now = options_.wall_ms();
  ShardData& shard = ShardFor(id);
  std::lock_guard lock(shard.mu);
  auto it = shard.Find(id, now);
  if (it == shard.sessions.end() || it->second.ExpiredAt(now)) return NoSession(id);
  Event ev = NextEvent(EventType::kSetAttribute, it->first, it->second, LocalStamp(options_));
  ev.name = std::string(name);
  ev.value = std::move(json_value);
  // The store keeps a copy made to size; the caller's string (often over-allocated) goes with
  // the event, which lives only until Commit.
  it->second.SetIfNewer(name, std::string(ev.value), ev.stamp);
  out->push_back(std::move(ev));
  return Status::Ok();
}

Status SessionStore::RemoveAttribute(std::string_view id, std::string_view name,
                                     EventBatch* out) {
  const int64_t now = options_.wall_ms();
  ShardData& shard = ShardFor(id);
  std::lock_guard lock(shard.mu);
  auto it = shard.Find(id, now);
  if (it == shard.sessions.end() || it->second.ExpiredAt(now)) return NoSession(id);
  if (!it->second.FindLive(name)) {
    return Status::NotFound("no attribute " + std::string(name) + " in session " +
                            std::string(id));
  }
  Event ev = NextEvent(EventType::kRemoveAttribute, it->first, it->second, LocalStamp(options_));
  ev.name = std::string(name);
  it->second.RemoveIfNewer(name, ev.stamp);
  out->push_back(std::move(ev));
  return Status::Ok();
}

Status SessionStore::Invalidate(std::string_view id, EventBatch* out) {
  const int64_t now = options_.wall_ms();
  ShardData& shard = ShardFor(id);
  std::lock_guard lock(shard.mu);
  auto it = shard.Find(id, now);
  if (it == shard.sessions.end()) return NoSession(id);
  Event ev = NextEvent(EventType::kInvalidate, it->first, it->second, LocalStamp(options_));
  ev.time_ms = now;
  shard.Bury(it, ev.stamp, now + options_.tombstone_ms);
  out->push_back(std::move(ev));
  --count_;
  return Status::Ok();
}

Result<std::string> SessionStore::ChangeRoute(std::string_view id, std::string_view route,
                                              EventBatch* out) {
  if (!IsRouteText(route)) return Status::BadRequest("bad route '" + std::string(route) + "'");
  const int64_t now = options_.wall_ms();
  ShardData& shard = ShardFor(id);
  std::lock_guard lock(shard.mu);
  auto it = shard.Find(id, now);
  if (it == shard.sessions.end() || it->second.ExpiredAt(now)) return NoSession(id);
  std::string new_id = std::string(BaseOf(it->first)) + "." + std::string(route);
  if (new_id == it->first) return new_id;
  if (shard.sessions.count(new_id)) return Status::Conflict("session " + new_id + " exists");
  Event ev = NextEvent(EventType::kChangeId, it->first, it->second, LocalStamp(options_));
  ev.value = new_id;
  it = shard.Rekey(it, new_id, now + options_.tombstone_ms);
  it->second.id_stamp = ev.stamp;
  out->push_back(std::move(ev));
  return new_id;
}

size_t SessionStore::Expire(int64_t idle_over_ms, std::optional<std::string_view> app,
                            EventBatch* out) {
  const int64_t now = options_.wall_ms();
  size_t expired = 0;
  for (size_t i = 0; i < kShardCount; ++i) {
    ShardData& shard = shards_[i];
    std::lock_guard lock(shard.mu);
    for (auto it = shard.sessions.begin(); it != shard.sessions.end();) {
      const Entry& e = it->second;
      bool idle = idle_over_ms > 0 && (!app || e.app == *app) &&
                  now - e.last_accessed_ms > idle_over_ms;
      if (!idle && !e.ExpiredAt(now)) {
        ++it;
        continue;
      }
      auto victim = it++;
      Event ev = NextEvent(EventType::kInvalidate, victim->first, victim->second,
                           LocalStamp(options_));
      ev.time_ms = now;
      shard.Bury(victim, ev.stamp, now + options_.tombstone_ms);
      out->push_back(std::move(ev));
      ++expired;
    }
  }
  count_ -= static_cast<int64_t>(expired);
  return expired;
}

void SessionStore::Commit(EventBatch* batch) {
  if (batch->empty()) return;
  for (EventSink* sink : sinks_) sink->OnCommit(*batch);
  batch->clear();
}

// Two passes: ids first (cheap to copy and sort), then snapshots of just the page. A session that
// disappears between the passes is left out of the page.
std::vector<Session> SessionStore::List(const ListFilter& filter) const {
  const int64_t now = options_.wall_ms();
  std::vector<std::string> ids;
  for (size_t i = 0; i < kShardCount; ++i) {
    const ShardData& shard = shards_[i];
    std::lock_guard lock(shard.mu);
    for (const auto& [id, e] : shard.sessions) {
      if (id > filter.after_id && Matches(filter, e, now)) ids.push_back(id);
    }
  }
  size_t n = filter.limit > 0 ? std::min(filter.limit, ids.size()) : ids.size();
  std::partial_sort(ids.begin(), ids.begin() + static_cast<ptrdiff_t>(n), ids.end());
  std::vector<Session> page;
  page.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    if (auto s = Get(ids[i])) page.push_back(std::move(*s));
  }
  return page;
}

size_t SessionStore::Count() const {
  return static_cast<size_t>(std::max<int64_t>(0, count_.load()));
}

std::map<std::string, size_t> SessionStore::CountByApp() const {
  std::map<std::string, size_t> counts;
  for (size_t i = 0; i < kShardCount; ++i) {
    const ShardData& shard = shards_[i];
    std::lock_guard lock(shard.mu);
    for (const auto& [id, e] : shard.sessions) ++counts[e.app];
  }
  return counts;
}

void SessionStore::PruneTombstones() {
  const int64_t now = options_.wall_ms();
  for (size_t i = 0; i < kShardCount; ++i) {
    ShardData& shard = shards_[i];
    std::lock_guard lock(shard.mu);
    std::erase_if(shard.tombstones, [now](const auto& t) { return t.second.until_ms <= now; });
    std::erase_if(shard.aliases, [now](const auto& a) { return a.second.until_ms <= now; });
  }
}

}  // namespace sessiond::session
