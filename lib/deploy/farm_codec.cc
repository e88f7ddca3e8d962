// The farm deploy messages (transport types 0x0301..0x0304), format version 1.
//
// Integers little-endian; `str` = u32 byte length + bytes. Every message starts with u8 format = 1
// and nothing may follow its last field. Decoders never trust a count or a length (ByteReader).
//
// app      = str name, str sha256 (64 hex), u64 size, i64 deployed_ms
// Announce (kAnnounceType request):  u8 format, app, str origin
// Chunk request (kChunkType):        u8 format, str sha256, u64 offset, u32 length (<= kChunkBytes)
// Chunk reply:                       u8 format, u8 ok (0|1), str error, str bytes (<= kChunkBytes)
// Undeploy (kUndeployType request):  u8 format, str name, str origin
// NodeResult (announce and undeploy replies): u8 format, str node, u8 ok, str error, str sha256,
//                                    i64 duration_ms
// App list (kAppsType reply; the request is empty): u8 format, u32 n (<= 4096), n × app
#include "deploy/deploy.h"

namespace sessiond::deploy {
namespace {

constexpr uint8_t kFormat = 1;
constexpr size_t kMaxName = 255;
constexpr size_t kMaxText = 64 << 10;
constexpr size_t kMinAppBytes = 4 + 4 + 8 + 8;
constexpr uint32_t kMaxApps = 4096;

ByteWriter Start() { return std::move(ByteWriter().Int<uint8_t>(kFormat)); }

void Format(ByteReader& in) {
  if (in.Int<uint8_t>() != kFormat) in.Fail();
}

bool IsSha256Hex(const std::string& s) {
  if (s.size() != 64) return false;
  for (char c : s)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return true;
}

std::string ReadSha(ByteReader& in) {
  std::string sha = in.Str(64);
  if (!IsSha256Hex(sha)) in.Fail();
  return sha;
}

void PutApp(ByteWriter& w, const AppVersion& a) {
  w.Str(a.name).Str(a.sha256).Int<uint64_t>(a.size).Int<int64_t>(a.deployed_ms);
}

AppVersion ReadApp(ByteReader& in) {
  AppVersion a;
  a.name = in.Str(kMaxName);
  if (!ValidateAppName(a.name).ok()) in.Fail();
  a.sha256 = ReadSha(in);
  a.size = in.Int<uint64_t>();
  a.deployed_ms = in.Int<int64_t>();
  return a;
}

}  // namespace

Status ValidateAppName(std::string_view name) {
  auto bad = [&](const char* why) {
    return Status::BadRequest("app name \"" + std::string(name) + "\": " + why);
  };
  if (name.empty()) return bad("empty");
  if (name.size() > kMaxName) return bad("longer than 255 bytes");
  if (name[0] == '.') return bad("starts with '.'");
  for (char c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-';
    if (!ok) return bad("only letters, digits, '.', '_' and '-' (one path segment; ROOT for /)");
  }
  return Status::Ok();
}

std::string EncodeAnnounce(const Announce& m) {
  ByteWriter w = Start();
  PutApp(w, m.app);
  return w.Str(m.origin).Take();
}

Result<Announce> DecodeAnnounce(std::string_view bytes) {
  ByteReader in(bytes);
  Format(in);
  Announce m;
  m.app = ReadApp(in);
  m.origin = in.Str(kMaxName);
  return in.Finish(std::move(m), "deploy announce");
}

std::string EncodeChunkRequest(const ChunkRequest& m) {
  return Start().Str(m.sha256).Int<uint64_t>(m.offset).Int<uint32_t>(m.length).Take();
}

Result<ChunkRequest> DecodeChunkRequest(std::string_view bytes) {
  ByteReader in(bytes);
  Format(in);
  ChunkRequest m;
  m.sha256 = ReadSha(in);
  m.offset = in.Int<uint64_t>();
  m.length = in.Int<uint32_t>();
  if (m.length > kChunkBytes) in.Fail();
  return in.Finish(std::move(m), "WAR chunk request");
}

std::string EncodeChunkReply(const ChunkReply& m) {
  ByteWriter w(16 + m.error.size() + m.bytes.size());
  w.Int<uint8_t>(kFormat).Int<uint8_t>(m.ok ? 1 : 0).Str(m.error).Str(m.bytes);
  return w.Take();
}

Result<ChunkReply> DecodeChunkReply(std::string_view bytes) {
  ByteReader in(bytes);
  Format(in);
  ChunkReply m;
  m.ok = in.Bool();
  m.error = in.Str(kMaxText);
  m.bytes = in.Str(kChunkBytes);
  return in.Finish(std::move(m), "WAR chunk reply");
}

std::string EncodeUndeployRequest(const UndeployRequest& m) {
  return Start().Str(m.name).Str(m.origin).Take();
}

Result<UndeployRequest> DecodeUndeployRequest(std::string_view bytes) {
  ByteReader in(bytes);
  Format(in);
  UndeployRequest m;
  m.name = in.Str(kMaxName);
  if (!ValidateAppName(m.name).ok()) in.Fail();
  m.origin = in.Str(kMaxName);
  return in.Finish(std::move(m), "undeploy request");
}

std::string EncodeNodeResult(const NodeResult& m) {
  return Start()
      .Str(m.node)
      .Int<uint8_t>(m.ok ? 1 : 0)
      .Str(m.error)
      .Str(m.sha256)
      .Int<int64_t>(m.duration_ms)
      .Take();
}

Result<NodeResult> DecodeNodeResult(std::string_view bytes) {
  ByteReader in(bytes);
  Format(in);
  NodeResult m;
  m.node = in.Str(kMaxName);
  m.ok = in.Bool();
  m.error = in.Str(kMaxText);
  m.sha256 = in.Str(64);
  if (!m.sha256.empty() && !IsSha256Hex(m.sha256)) in.Fail();
  m.duration_ms = in.Int<int64_t>();
  return in.Finish(std::move(m), "deploy result");
}

std::string EncodeAppList(const AppList& m) {
  ByteWriter w = Start();
  w.Int<uint32_t>(static_cast<uint32_t>(m.size()));
  for (const AppVersion& a : m) PutApp(w, a);
  return w.Take();
}

Result<AppList> DecodeAppList(std::string_view bytes) {
  ByteReader in(bytes);
  Format(in);
  uint32_t n = in.Count(kMinAppBytes, kMaxApps);
  AppList m;
  for (uint32_t i = 0; i < n && in.ok(); ++i) m.push_back(ReadApp(in));
  return in.Finish(std::move(m), "app list");
}

}  // namespace sessiond::deploy
