// The replication messages (transport types 0x0201..0x0206), format version 1.
//
// All integers little-endian (as session::EncodeSession); `str` = u32 byte length + bytes;
// `stamp` = u64 HLC time + str node. Every message starts with u8 format = 1 and nothing may
// follow its last field. Decoders never trust a count or a length: each is checked against the
// bytes that remain (a hostile count cannot make us allocate) and against a cap.
//
// Delta (kDeltaType, a Send; empty reply in ack modes):
//   u8 format, str origin, i64 committed_ms, i64 committed_us, u32 event count, then per event:
//   u8 type (1..6), str app, str session_id (non-empty), u64 version, stamp, str name,
//   str value, i64 time_ms, i32 max_inactive_s, u8 distributable (0|1)
// Fetch request (kFetchSessionType): u8 format, u32 n (<= 1024), n × str id
// Fetch reply: u8 format, u32 n, n × { str id, u8 kind: 0 not found | 1 session: str encoded
//   session | 2 tombstone: stamp }
// State batch request (kStateBatchType): u8 format, str after_id, u32 max_bytes
// State batch reply: u8 format, str next_cursor, u64 total, u8 done (0|1), u32 n,
//   n × str encoded session, u32 t, t × { str id, stamp } (tombstones; the last batch only)
// Digest request (kDigestType): u8 format, u8 flags (0x01 reconcile back; other bits malformed)
// Digest reply: u8 format, u32 buckets (= 256), 256 × u64 bucket hash
// Bucket request (kBucketType): u8 format, u32 n (<= 256), n × u32 bucket (< 256)
// Bucket reply: u8 format, u32 n, n × { str id, u64 version, u64 hash, u8 tombstone (0|1) }
// Holders request (kHoldersType): u8 format, str id
// Holders reply: u8 format, u8 has (0|1), u64 version
#include "replication/replication_internal.h"

namespace sessiond::replication {
namespace {

using session::Event;
using session::EventType;
using session::Stamp;

// base's wire helpers, plus the two things every replication message shares: HLC stamps and the
// leading format byte.
class Writer : public ByteWriter {
 public:
  using ByteWriter::ByteWriter;
  Writer& StampOf(const Stamp& s) {
    Int<uint64_t>(s.time).Str(s.node);
    return *this;
  }
};

class Reader : public ByteReader {
 public:
  using ByteReader::ByteReader;
  Stamp ReadStamp() {
    Stamp s;
    s.time = Int<uint64_t>();
    s.node = Str();
    return s;
  }
  /// The format byte; fails on any other version.
  void Format() {
    if (Int<uint8_t>() != internal::kWireFormat) Fail();
  }
};

// Ends a decode: the value when every read succeeded and nothing follows.
template <typename T>
Result<T> Finish(Reader& in, T value, std::string_view what) {
  if (!in.ok()) return Status::BadRequest(std::string(what) + ": malformed");
  if (in.remaining() != 0) return Status::BadRequest(std::string(what) + ": trailing bytes");
  return value;
}

constexpr size_t kMinEventBytes = 1 + 4 + 4 + 8 + 8 + 4 + 4 + 4 + 8 + 4 + 1;
constexpr uint32_t kMaxEvents = 1u << 20;
constexpr uint32_t kMaxItems = 1u << 24;

void PutEvent(Writer& w, const Event& e) {
  w.Int<uint8_t>(static_cast<uint8_t>(e.type)).Str(e.app).Str(e.session_id).Int<uint64_t>(e.version);
  w.StampOf(e.stamp).Str(e.name).Str(e.value).Int<int64_t>(e.time_ms).Int<int32_t>(e.max_inactive_s);
  w.Int<uint8_t>(e.distributable ? 1 : 0);
}

Event ReadEvent(Reader& in) {
  Event e;
  uint8_t type = in.Int<uint8_t>();
  if (type < static_cast<uint8_t>(EventType::kCreate) ||
      type > static_cast<uint8_t>(EventType::kChangeId)) {
    in.Fail();
  }
  e.type = static_cast<EventType>(type);
  e.app = in.Str();
  e.session_id = in.Str();
  if (e.session_id.empty() || e.session_id.size() > internal::kMaxIdBytes) in.Fail();
  e.version = in.Int<uint64_t>();
  e.stamp = in.ReadStamp();
  e.name = in.Str();
  e.value = in.Str();
  e.time_ms = in.Int<int64_t>();
  e.max_inactive_s = in.Int<int32_t>();
  e.distributable = in.Bool();
  return e;
}

std::string ReadId(Reader& in) {
  std::string id = in.Str();
  if (id.size() > internal::kMaxIdBytes) in.Fail();
  return id;
}

}  // namespace

std::string EncodeDelta(const Delta& delta) {
  size_t size = 32 + delta.origin.size();
  for (const Event& e : delta.events) {
    size += kMinEventBytes + e.app.size() + e.session_id.size() + e.stamp.node.size() +
            e.name.size() + e.value.size();
  }
  Writer w(size);
  w.Int<uint8_t>(internal::kWireFormat).Str(delta.origin).Int<int64_t>(delta.committed_ms);
  w.Int<int64_t>(delta.committed_us);
  w.Int<uint32_t>(static_cast<uint32_t>(delta.events.size()));
  for (const Event& e : delta.events) PutEvent(w, e);
  return w.Take();
}

Result<Delta> DecodeDelta(std::string_view bytes) {
  Reader in(bytes);
  in.Format();
  Delta d;
  d.origin = in.Str();
  d.committed_ms = in.Int<int64_t>();
  d.committed_us = in.Int<int64_t>();
  uint32_t n = in.Count(kMinEventBytes, kMaxEvents);
  d.events.reserve(n);
  for (uint32_t i = 0; i < n && in.ok(); ++i) d.events.push_back(ReadEvent(in));
  return Finish(in, std::move(d), "delta");
}

namespace internal {

uint32_t BucketOf(std::string_view id) {
  return static_cast<uint32_t>(session::StableHash(session::BaseOf(id)) % kDigestBuckets);
}

std::string EncodeFetchRequest(const FetchRequest& r) {
  Writer w;
  w.Int<uint8_t>(kWireFormat).Int<uint32_t>(static_cast<uint32_t>(r.ids.size()));
  for (const std::string& id : r.ids) w.Str(id);
  return w.Take();
}

Result<FetchRequest> DecodeFetchRequest(std::string_view bytes) {
  Reader in(bytes);
  in.Format();
  FetchRequest r;
  uint32_t n = in.Count(4, kMaxFetchIds);
  for (uint32_t i = 0; i < n && in.ok(); ++i) r.ids.push_back(ReadId(in));
  return Finish(in, std::move(r), "fetch request");
}

std::string EncodeFetchReply(const FetchReply& r) {
  size_t size = 16;
  for (const FetchItem& item : r.items) size += 32 + item.id.size() + item.session.size();
  Writer w(size);
  w.Int<uint8_t>(kWireFormat).Int<uint32_t>(static_cast<uint32_t>(r.items.size()));
  for (const FetchItem& item : r.items) {
    w.Str(item.id).Int<uint8_t>(static_cast<uint8_t>(item.kind));
    if (item.kind == FetchItem::Kind::kSession) w.Str(item.session);
    if (item.kind == FetchItem::Kind::kTombstone) w.StampOf(item.tombstone);
  }
  return w.Take();
}

Result<FetchReply> DecodeFetchReply(std::string_view bytes) {
  Reader in(bytes);
  in.Format();
  FetchReply r;
  uint32_t n = in.Count(5, kMaxFetchIds);
  for (uint32_t i = 0; i < n && in.ok(); ++i) {
    FetchItem item;
    item.id = ReadId(in);
    uint8_t kind = in.Int<uint8_t>();
    if (kind > 2) in.Fail();
    item.kind = static_cast<FetchItem::Kind>(kind);
    if (item.kind == FetchItem::Kind::kSession) item.session = in.Str();
    if (item.kind == FetchItem::Kind::kTombstone) item.tombstone = in.ReadStamp();
    r.items.push_back(std::move(item));
  }
  return Finish(in, std::move(r), "fetch reply");
}

std::string EncodeStateBatchRequest(const StateBatchRequest& r) {
  return Writer().Int<uint8_t>(kWireFormat).Str(r.after_id).Int<uint32_t>(r.max_bytes).Take();
}

Result<StateBatchRequest> DecodeStateBatchRequest(std::string_view bytes) {
  Reader in(bytes);
  in.Format();
  StateBatchRequest r;
  r.after_id = ReadId(in);
  r.max_bytes = in.Int<uint32_t>();
  return Finish(in, std::move(r), "state batch request");
}

std::string EncodeStateBatchReply(const StateBatchReply& r) {
  size_t size = 64 + r.next_cursor.size();
  for (const std::string& s : r.sessions) size += 4 + s.size();
  for (const auto& [id, stamp] : r.tombstones) size += 20 + id.size() + stamp.node.size();
  Writer w(size);
  w.Int<uint8_t>(kWireFormat).Str(r.next_cursor).Int<uint64_t>(r.total);
  w.Int<uint8_t>(r.done ? 1 : 0).Int<uint32_t>(static_cast<uint32_t>(r.sessions.size()));
  for (const std::string& s : r.sessions) w.Str(s);
  w.Int<uint32_t>(static_cast<uint32_t>(r.tombstones.size()));
  for (const auto& [id, stamp] : r.tombstones) {
    w.Str(id);
    w.StampOf(stamp);
  }
  return w.Take();
}

Result<StateBatchReply> DecodeStateBatchReply(std::string_view bytes) {
  Reader in(bytes);
  in.Format();
  StateBatchReply r;
  r.next_cursor = ReadId(in);
  r.total = in.Int<uint64_t>();
  r.done = in.Bool();
  uint32_t n = in.Count(4, kMaxItems);
  r.sessions.reserve(n);
  for (uint32_t i = 0; i < n && in.ok(); ++i) r.sessions.push_back(in.Str());
  uint32_t t = in.Count(16, kMaxItems);
  r.tombstones.reserve(t);
  for (uint32_t i = 0; i < t && in.ok(); ++i) {
    std::string id = ReadId(in);
    Stamp stamp = in.ReadStamp();
    r.tombstones.emplace_back(std::move(id), std::move(stamp));
  }
  return Finish(in, std::move(r), "state batch reply");
}

std::string EncodeDigestRequest(const DigestRequest& r) {
  return Writer().Int<uint8_t>(kWireFormat).Int<uint8_t>(r.reconcile_back ? 1 : 0).Take();
}

Result<DigestRequest> DecodeDigestRequest(std::string_view bytes) {
  Reader in(bytes);
  in.Format();
  DigestRequest r;
  r.reconcile_back = in.Bool();
  return Finish(in, r, "digest request");
}

std::string EncodeDigestReply(const DigestReply& r) {
  Writer w(8 + 8 * kDigestBuckets);
  w.Int<uint8_t>(kWireFormat).Int<uint32_t>(kDigestBuckets);
  for (uint64_t h : r.buckets) w.Int<uint64_t>(h);
  return w.Take();
}

Result<DigestReply> DecodeDigestReply(std::string_view bytes) {
  Reader in(bytes);
  in.Format();
  if (in.Int<uint32_t>() != kDigestBuckets) in.Fail();
  DigestReply r;
  for (uint64_t& h : r.buckets) h = in.Int<uint64_t>();
  return Finish(in, r, "digest reply");
}

std::string EncodeBucketRequest(const BucketRequest& r) {
  Writer w;
  w.Int<uint8_t>(kWireFormat).Int<uint32_t>(static_cast<uint32_t>(r.buckets.size()));
  for (uint32_t b : r.buckets) w.Int<uint32_t>(b);
  return w.Take();
}

Result<BucketRequest> DecodeBucketRequest(std::string_view bytes) {
  Reader in(bytes);
  in.Format();
  BucketRequest r;
  uint32_t n = in.Count(4, kDigestBuckets);
  for (uint32_t i = 0; i < n && in.ok(); ++i) {
    uint32_t b = in.Int<uint32_t>();
    if (b >= kDigestBuckets) in.Fail();
    r.buckets.push_back(b);
  }
  return Finish(in, std::move(r), "bucket request");
}

std::string EncodeBucketReply(const BucketReply& r) {
  Writer w(16 + 64 * r.entries.size());
  w.Int<uint8_t>(kWireFormat).Int<uint32_t>(static_cast<uint32_t>(r.entries.size()));
  for (const session::DigestEntry& e : r.entries) {
    w.Str(e.id).Int<uint64_t>(e.version).Int<uint64_t>(e.hash).Int<uint8_t>(e.tombstone ? 1 : 0);
  }
  return w.Take();
}

Result<BucketReply> DecodeBucketReply(std::string_view bytes) {
  Reader in(bytes);
  in.Format();
  BucketReply r;
  uint32_t n = in.Count(4 + 8 + 8 + 1, kMaxItems);
  r.entries.reserve(n);
  for (uint32_t i = 0; i < n && in.ok(); ++i) {
    session::DigestEntry e;
    e.id = ReadId(in);
    e.version = in.Int<uint64_t>();
    e.hash = in.Int<uint64_t>();
    e.tombstone = in.Bool();
    r.entries.push_back(std::move(e));
  }
  return Finish(in, std::move(r), "bucket reply");
}

// Mixing the id in makes two different ids with equal content hashes count as different.
DigestReply DigestOf(const std::vector<session::DigestEntry>& entries) {
  DigestReply d;
  for (const session::DigestEntry& e : entries) {
    uint64_t mixed = session::StableHash(e.id) * 0x9E3779B97F4A7C15ull ^ e.hash;
    d.buckets[BucketOf(e.id)] ^= mixed;
  }
  return d;
}

std::string EncodeHoldersRequest(const HoldersRequest& r) {
  return Writer().Int<uint8_t>(kWireFormat).Str(r.id).Take();
}

Result<HoldersRequest> DecodeHoldersRequest(std::string_view bytes) {
  Reader in(bytes);
  in.Format();
  HoldersRequest r;
  r.id = ReadId(in);
  return Finish(in, std::move(r), "holders request");
}

std::string EncodeHoldersReply(const HoldersReply& r) {
  return Writer().Int<uint8_t>(kWireFormat).Int<uint8_t>(r.has ? 1 : 0).Int<uint64_t>(r.version).Take();
}

Result<HoldersReply> DecodeHoldersReply(std::string_view bytes) {
  Reader in(bytes);
  in.Format();
  HoldersReply r;
  r.has = in.Bool();
  r.version = in.Int<uint64_t>();
  return Finish(in, r, "holders reply");
}

}  // namespace internal
}  // namespace sessiond::replication
