// The binary encoding of a Session: SQLite rows now, state transfer later.
//
// Layout, format version 2. All integers little-endian; `str` = u32 byte length + bytes.
//
//   u8   format            = 2 (1 is still read: it has no id_stamp, which is then zero)
//   str  id
//   str  app
//   i64  created_ms
//   i64  last_accessed_ms
//   i32  max_inactive_s
//   str  last_node
//   u64  version
//   u8   distributable     0 or 1
//   u64  id_stamp.time, str id_stamp.node    (format 2 only: the id change that gave the id)
//   u32  attribute count   then per attribute, names strictly ascending:
//          str name, str json, u64 stamp.time, str stamp.node
//   u32  removed count     then per removal marker, names strictly ascending:
//          str name, u64 stamp.time, str stamp.node
//
// Nothing may follow. Decode checks every length against the bytes that remain (so a hostile count
// cannot make us allocate), requires ascending names (one canonical encoding per session, so
// decode∘encode is the identity) and rejects a name that is both set and removed.
#include <cstring>

#include "session/session.h"
#include "session/store_internal.h"

namespace sessiond::session {
namespace {

constexpr uint8_t kFormat = 2;
constexpr uint8_t kFormatWithoutIdStamp = 1;  // before split-brain renames converged
// The least bytes one attribute / removal marker can take: three or two empty strings + a stamp.
constexpr size_t kMinAttributeBytes = 4 + 4 + 8 + 4;
constexpr size_t kMinRemovedBytes = 4 + 8 + 4;

template <typename T>
void PutInt(std::string* out, T value) {
  AppendLittleEndian<T>(out, value);
}

void PutStr(std::string* out, std::string_view s) { AppendLengthPrefixed(out, s); }

void PutStamp(std::string* out, const Stamp& stamp) {
  PutInt<uint64_t>(out, stamp.time);
  PutStr(out, stamp.node);
}

Stamp ReadStamp(ByteReader& in) {
  Stamp stamp;
  stamp.time = in.Int<uint64_t>();
  stamp.node = in.Str();
  return stamp;
}

Status ReadAttributes(ByteReader& in, Session* s) {
  uint32_t count = in.Int<uint32_t>();
  if (!in.ok() || count > in.remaining() / kMinAttributeBytes) {
    return Status::BadRequest("session encoding: bad attribute count");
  }
  for (uint32_t i = 0; i < count; ++i) {
    std::string name = in.Str();
    Attribute attr;
    attr.json = in.Str();
    attr.stamp = ReadStamp(in);
    if (!in.ok()) return Status::BadRequest("session encoding: truncated attribute");
    if (!s->attributes.empty() && !(s->attributes.rbegin()->first < name)) {
      return Status::BadRequest("session encoding: attribute names out of order");
    }
    s->attributes.emplace_hint(s->attributes.end(), std::move(name), std::move(attr));
  }
  return Status::Ok();
}

Status ReadRemoved(ByteReader& in, Session* s) {
  uint32_t count = in.Int<uint32_t>();
  if (!in.ok() || count > in.remaining() / kMinRemovedBytes) {
    return Status::BadRequest("session encoding: bad removal count");
  }
  for (uint32_t i = 0; i < count; ++i) {
    std::string name = in.Str();
    Stamp stamp = ReadStamp(in);
    if (!in.ok()) return Status::BadRequest("session encoding: truncated removal marker");
    if (!s->removed.empty() && !(s->removed.rbegin()->first < name)) {
      return Status::BadRequest("session encoding: removal names out of order");
    }
    if (s->attributes.count(name)) {
      return Status::BadRequest("session encoding: attribute both set and removed: " + name);
    }
    s->removed.emplace_hint(s->removed.end(), std::move(name), std::move(stamp));
  }
  return Status::Ok();
}

}  // namespace

std::string EncodeSession(const Session& s) {
  std::string out;
  out.reserve(64 + s.SizeBytes() + 32 * (s.attributes.size() + s.removed.size()));
  PutInt<uint8_t>(&out, kFormat);
  PutStr(&out, s.id);
  PutStr(&out, s.app);
  PutInt<int64_t>(&out, s.created_ms);
  PutInt<int64_t>(&out, s.last_accessed_ms);
  PutInt<int32_t>(&out, s.max_inactive_s);
  PutStr(&out, s.last_node);
  PutInt<uint64_t>(&out, s.version);
  PutInt<uint8_t>(&out, s.distributable ? 1 : 0);
  PutStamp(&out, s.id_stamp);
  PutInt<uint32_t>(&out, static_cast<uint32_t>(s.attributes.size()));
  for (const auto& [name, attr] : s.attributes) {
    PutStr(&out, name);
    PutStr(&out, attr.json);
    PutStamp(&out, attr.stamp);
  }
  PutInt<uint32_t>(&out, static_cast<uint32_t>(s.removed.size()));
  for (const auto& [name, stamp] : s.removed) {
    PutStr(&out, name);
    PutStamp(&out, stamp);
  }
  return out;
}

// The same bytes as EncodeSession(Snapshot(id, e)), written from the store's own representation:
// no Session (maps, copied values) is built. The slots are sorted by name with removal markers
// among them, so one pass per list keeps both lists ascending.
void internal::EncodeEntry(std::string_view id, const Entry& e, std::string* out) {
  out->clear();
  size_t live = 0;
  size_t bytes = 64 + id.size() + e.app.size() + e.last_node.size();
  for (const Slot& slot : e.slots) {
    live += slot.removed ? 0 : 1;
    bytes += 32 + slot.name.size() + slot.json.size() + slot.stamp.node.size();
  }
  out->reserve(bytes);
  PutInt<uint8_t>(out, kFormat);
  PutStr(out, id);
  PutStr(out, e.app);
  PutInt<int64_t>(out, e.created_ms);
  PutInt<int64_t>(out, e.last_accessed_ms);
  PutInt<int32_t>(out, e.max_inactive_s);
  PutStr(out, e.last_node);
  PutInt<uint64_t>(out, e.version);
  PutInt<uint8_t>(out, e.distributable ? 1 : 0);
  PutInt<uint64_t>(out, e.id_stamp.time);
  PutStr(out, e.id_stamp.node);
  PutInt<uint32_t>(out, static_cast<uint32_t>(live));
  for (const Slot& slot : e.slots) {
    if (slot.removed) continue;
    PutStr(out, slot.name);
    PutStr(out, slot.json);
    PutInt<uint64_t>(out, slot.stamp.time);  // PutStamp's layout, without making a Stamp
    PutStr(out, slot.stamp.node);
  }
  PutInt<uint32_t>(out, static_cast<uint32_t>(e.slots.size() - live));
  for (const Slot& slot : e.slots) {
    if (!slot.removed) continue;
    PutStr(out, slot.name);
    PutInt<uint64_t>(out, slot.stamp.time);
    PutStr(out, slot.stamp.node);
  }
}

Result<Session> DecodeSession(std::string_view bytes) {
  ByteReader in(bytes);
  uint8_t format = in.Int<uint8_t>();
  if (!in.ok()) return Status::BadRequest("session encoding: empty");
  if (format != kFormat && format != kFormatWithoutIdStamp) {
    return Status::BadRequest("session encoding: unknown format " + std::to_string(format));
  }
  Session s;
  s.id = in.Str();
  s.app = in.Str();
  s.created_ms = in.Int<int64_t>();
  s.last_accessed_ms = in.Int<int64_t>();
  s.max_inactive_s = in.Int<int32_t>();
  s.last_node = in.Str();
  s.version = in.Int<uint64_t>();
  uint8_t distributable = in.Int<uint8_t>();
  if (format == kFormat) s.id_stamp = ReadStamp(in);
  if (!in.ok()) return Status::BadRequest("session encoding: truncated header");
  if (distributable > 1) return Status::BadRequest("session encoding: bad distributable flag");
  s.distributable = distributable == 1;
  SESSIOND_RETURN_IF_ERROR(ReadAttributes(in, &s));
  SESSIOND_RETURN_IF_ERROR(ReadRemoved(in, &s));
  if (in.remaining() != 0) return Status::BadRequest("session encoding: trailing bytes");
  return s;
}

}  // namespace sessiond::session
