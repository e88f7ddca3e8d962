// The session module's small pieces: the hybrid logical clock, session ids, the session JSON and
// the Session value's helpers. The store itself is in session_store.cc, the codec in
// session_codec.cc.
#include "session/session.h"

#include <algorithm>

#include <nlohmann/json.hpp>

namespace sessiond::session {

// ---- HybridClock ---------------------------------------------------------------------------

namespace {

// The successor of `last` given the wall clock reading: the wall time when it moved ahead,
// otherwise the same wall time with the logical counter incremented. When the counter would
// overflow its 16 bits we borrow one millisecond from the future rather than wrap, which keeps the
// packed value strictly increasing.
HlcTime Successor(HlcTime last, int64_t wall_ms) {
  int64_t last_wall = HlcWallMillis(last);
  if (wall_ms > last_wall) return MakeHlc(wall_ms, 0);
  uint32_t logical = HlcLogical(last) + 1;
  if (logical > 0xffff) return MakeHlc(last_wall + 1, 0);
  return MakeHlc(last_wall, logical);
}

}  // namespace

HybridClock::HybridClock(WallSource wall) : wall_(std::move(wall)) {
  if (!wall_) wall_ = [] { return WallMillis(); };
}

HlcTime HybridClock::Now() {
  int64_t wall = wall_();
  uint64_t last = last_.load(std::memory_order_relaxed);
  while (true) {
    HlcTime next = Successor(last, wall);
    if (last_.compare_exchange_weak(last, next, std::memory_order_acq_rel,
                                    std::memory_order_relaxed)) {
      return next;
    }
  }
}

void HybridClock::set_max_skew_ms(int64_t ms, RefusedHook on_refused) {
  max_skew_ms_ = std::max<int64_t>(0, ms);
  on_refused_ = std::move(on_refused);
}

bool HybridClock::WithinSkew(HlcTime remote) const {
  return max_skew_ms_ <= 0 || HlcWallMillis(remote) - wall_() <= max_skew_ms_;
}

// Merging is just "remember the maximum": Now() then returns something strictly greater than
// everything seen, which is all the ordering replication needs.
bool HybridClock::Observe(HlcTime remote) {
  if (max_skew_ms_ > 0) {
    const int64_t ahead = HlcWallMillis(remote) - wall_();
    if (ahead > max_skew_ms_) {
      refused_.fetch_add(1, std::memory_order_relaxed);
      if (on_refused_) on_refused_(remote, ahead);
      return false;
    }
  }
  uint64_t last = last_.load(std::memory_order_relaxed);
  while (remote > last) {
    if (last_.compare_exchange_weak(last, remote, std::memory_order_acq_rel,
                                    std::memory_order_relaxed)) {
      return true;
    }
  }
  return true;
}

// ---- names ---------------------------------------------------------------------------------

std::string_view EventTypeName(EventType type) {
  switch (type) {
    case EventType::kCreate: return "create";
    case EventType::kSetAttribute: return "set_attribute";
    case EventType::kRemoveAttribute: return "remove_attribute";
    case EventType::kAccess: return "access";
    case EventType::kInvalidate: return "invalidate";
    case EventType::kChangeId: return "change_id";
  }
  return "unknown";
}

// ---- Session -------------------------------------------------------------------------------

size_t Session::SizeBytes() const {
  size_t bytes = id.size() + app.size() + last_node.size();
  for (const auto& [name, attr] : attributes) bytes += name.size() + attr.json.size();
  for (const auto& [name, stamp] : removed) bytes += name.size();
  return bytes;
}

// Tomcat's rule: a session is invalid once it has been idle for its whole max inactive interval.
bool Session::ExpiredAt(int64_t now_ms) const {
  if (max_inactive_s <= 0) return false;
  return now_ms - last_accessed_ms >= static_cast<int64_t>(max_inactive_s) * 1000;
}

namespace {

// Names come from URLs and may be any bytes: replace invalid UTF-8 rather than throw.
std::string JsonString(std::string_view text) {
  return nlohmann::json(std::string(text))
      .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace

// Built by hand (not through nlohmann) because attribute values are already JSON texts that we
// embed as they are, and the key order is part of the API.
std::string SessionToJson(const Session& s, std::string_view serving_node) {
  std::string out;
  out.reserve(160 + s.SizeBytes());
  out += "{\"id\":" + JsonString(s.id);
  out += ",\"node\":" + JsonString(serving_node);
  out += ",\"created\":\"" + FormatRfc3339Millis(s.created_ms) + "\"";
  out += ",\"last_accessed\":\"" + FormatRfc3339Millis(s.last_accessed_ms) + "\"";
  out += ",\"max_inactive_seconds\":" + std::to_string(s.max_inactive_s);
  out += ",\"attributes\":{";
  bool first = true;
  for (const auto& [name, attr] : s.attributes) {
    if (!first) out += ',';
    first = false;
    out += JsonString(name);
    out += ':';
    out += attr.json;
  }
  out += "}}";
  return out;
}

// ---- ids -----------------------------------------------------------------------------------

std::string NewSessionId(std::string_view route) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string bytes = RandomBytes(16);
  std::string id;
  id.reserve(33 + route.size());
  for (unsigned char c : bytes) {
    id += kHex[c >> 4];
    id += kHex[c & 0xf];
  }
  if (!route.empty()) {
    id += '.';
    id += route;
  }
  return id;
}

std::string_view RouteOf(std::string_view id) {
  size_t dot = id.find('.');
  return dot == std::string_view::npos ? std::string_view() : id.substr(dot + 1);
}

std::string_view BaseOf(std::string_view id) {
  return id.substr(0, id.find('.'));
}

namespace {

bool IsHexDigit(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

bool IsRouteChar(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
         c == '-';
}

}  // namespace

bool IsWellFormedId(std::string_view id) {
  if (id.size() < 32 || id.size() > 128) return false;
  for (size_t i = 0; i < 32; ++i) {
    if (!IsHexDigit(id[i])) return false;
  }
  if (id.size() == 32) return true;
  if (id[32] != '.' || id.size() == 33) return false;
  for (size_t i = 33; i < id.size(); ++i) {
    if (!IsRouteChar(id[i])) return false;
  }
  return true;
}

}  // namespace sessiond::session
