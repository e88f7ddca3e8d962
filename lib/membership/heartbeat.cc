// Heartbeat codec and the state/mode names.
//
// Wire layout (heartbeat format version 1), every integer big-endian:
//   0  u32  magic 0x53534842 ("SSHB"; transport frames start "SSND", so neither MAC can be
//           replayed as the other)
//   4  u8   format version (1)
//   5  u8   flags: 0x01 goodbye, 0x02 authenticated (HMAC-SHA256 under the cluster secret's
//           hmac_key; else the trailer is a plain SHA-256 checksum)
//   6  u16  total length of the heartbeat in bytes, trailer included (a truncated or padded
//           datagram is malformed before any MAC is computed)
//   8  u16  protocol version of the sender
//   10 u16  receiver port
//   12 u8   mode (0 active, 1 draining, 2 drained)
//   13 u8   reserved, 0
//   14 i64  start_ms (incarnation)
//   22 u64  session count
//   30 u64  hybrid logical clock
//   38      five strings, each u16 length + bytes: name (1..128), receiver host (<=255),
//           admin URL (<=512), domain (<=128), build (<=64)
//   end-32  32-byte trailer: HMAC-SHA256(hmac_key, bytes 0..end-32) or SHA-256 of them
// The encoding is canonical: Encode(Decode(x)) == x for every x that decodes (the fuzz target
// checks it). Strings over their caps are cut by the encoder; Membership::Start refuses a node
// whose own name does not fit, so cutting only ever affects informational fields.
#include <openssl/hmac.h>
#include <openssl/sha.h>

#include <algorithm>
#include <array>

#include "membership/membership.h"

namespace sessiond::membership {

namespace {

constexpr uint32_t kMagic = 0x53534842;
constexpr uint8_t kVersion = 1;
constexpr uint8_t kFlagGoodbye = 0x01;
constexpr uint8_t kFlagAuthenticated = 0x02;
constexpr size_t kFixedBytes = 38;
constexpr size_t kTrailerBytes = 32;

// Caps, in field order: name, receiver host, admin URL, domain, build.
constexpr std::array<size_t, 5> kStringCaps = {kMaxNameBytes, 255, 512, 128, 64};

const unsigned char* U(const char* p) { return reinterpret_cast<const unsigned char*>(p); }

std::string Trailer(std::string_view covered, const transport::Secret& secret) {
  std::string out(kTrailerBytes, '\0');
  auto* dst = reinterpret_cast<unsigned char*>(out.data());
  if (secret.present()) {
    unsigned int len = 0;
    HMAC(EVP_sha256(), secret.hmac_key.data(), static_cast<int>(secret.hmac_key.size()),
         U(covered.data()), covered.size(), dst, &len);
  } else {
    SHA256(U(covered.data()), covered.size(), dst);
  }
  return out;
}

void PutInt(std::string& out, uint64_t v, int bytes) {
  for (int i = bytes - 1; i >= 0; --i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
}

void PutString(std::string& out, std::string_view s, size_t cap) {
  s = s.substr(0, cap);
  PutInt(out, s.size(), 2);
  out.append(s);
}

uint64_t GetInt(std::string_view bytes, size_t offset, int n) {
  uint64_t v = 0;
  for (int i = 0; i < n; ++i) v = (v << 8) | static_cast<uint8_t>(bytes[offset + i]);
  return v;
}

// Reads the five length-prefixed strings of the body; false when a length runs past the end,
// a string is over its cap, or bytes are left over.
bool ReadStrings(std::string_view body, std::array<std::string, 5>& out) {
  size_t pos = 0;
  for (size_t i = 0; i < out.size(); ++i) {
    if (body.size() - pos < 2) return false;
    size_t len = GetInt(body, pos, 2);
    pos += 2;
    if (len > kStringCaps[i] || body.size() - pos < len) return false;
    out[i].assign(body.substr(pos, len));
    pos += len;
  }
  return pos == body.size();
}

// Checks everything that can be checked before the MAC: size, magic, version, flags, length.
Status CheckEnvelope(std::string_view bytes, const transport::Secret& secret) {
  if (bytes.size() < kFixedBytes + kTrailerBytes)
    return Status::BadRequest("heartbeat: " + std::to_string(bytes.size()) + " bytes is too short");
  if (GetInt(bytes, 0, 4) != kMagic) return Status::BadRequest("heartbeat: bad magic");
  if (static_cast<uint8_t>(bytes[4]) != kVersion)
    return Status::BadRequest("heartbeat: unknown format version " +
                              std::to_string(static_cast<uint8_t>(bytes[4])));
  uint8_t flags = static_cast<uint8_t>(bytes[5]);
  if (flags & ~(kFlagGoodbye | kFlagAuthenticated))
    return Status::BadRequest("heartbeat: unknown flags");
  if (GetInt(bytes, 6, 2) != bytes.size())
    return Status::BadRequest("heartbeat: length field says " +
                              std::to_string(GetInt(bytes, 6, 2)) + ", datagram has " +
                              std::to_string(bytes.size()) + " bytes");
  bool authenticated = (flags & kFlagAuthenticated) != 0;
  if (authenticated != secret.present())
    return Status::Unauthorized(authenticated ? "heartbeat: authenticated, but no cluster secret"
                                              : "heartbeat: unauthenticated, cluster has a secret");
  return Status::Ok();
}

}  // namespace

std::string EncodeHeartbeat(const Heartbeat& hb, const transport::Secret& secret) {
  std::string out;
  out.reserve(kFixedBytes + 64 + hb.admin_url.size() + kTrailerBytes);
  PutInt(out, kMagic, 4);
  out.push_back(static_cast<char>(kVersion));
  uint8_t flags = (hb.goodbye ? kFlagGoodbye : 0) | (secret.present() ? kFlagAuthenticated : 0);
  out.push_back(static_cast<char>(flags));
  PutInt(out, 0, 2);  // total length, patched below
  PutInt(out, hb.protocol, 2);
  PutInt(out, hb.receiver_port, 2);
  out.push_back(static_cast<char>(hb.mode));
  out.push_back('\0');
  PutInt(out, static_cast<uint64_t>(hb.start_ms), 8);
  PutInt(out, hb.sessions, 8);
  PutInt(out, hb.hlc, 8);
  const std::array<const std::string*, 5> strings = {&hb.name, &hb.receiver_host, &hb.admin_url,
                                                     &hb.domain, &hb.build};
  for (size_t i = 0; i < strings.size(); ++i) PutString(out, *strings[i], kStringCaps[i]);
  size_t total = out.size() + kTrailerBytes;
  out[6] = static_cast<char>(total >> 8);
  out[7] = static_cast<char>(total & 0xFF);
  out += Trailer(out, secret);
  return out;
}

Result<Heartbeat> DecodeHeartbeat(std::string_view bytes, const transport::Secret& secret) {
  SESSIOND_RETURN_IF_ERROR(CheckEnvelope(bytes, secret));
  std::string_view covered = bytes.substr(0, bytes.size() - kTrailerBytes);
  if (!ConstantTimeEquals(Trailer(covered, secret), bytes.substr(covered.size())))
    return Status::Unauthorized(secret.present() ? "heartbeat: MAC mismatch (another secret?)"
                                                 : "heartbeat: checksum mismatch");
  Heartbeat hb;
  hb.goodbye = (static_cast<uint8_t>(bytes[5]) & kFlagGoodbye) != 0;
  hb.protocol = static_cast<uint16_t>(GetInt(bytes, 8, 2));
  hb.receiver_port = static_cast<uint16_t>(GetInt(bytes, 10, 2));
  uint8_t mode = static_cast<uint8_t>(bytes[12]);
  if (mode > static_cast<uint8_t>(Mode::kDrained) || bytes[13] != '\0')
    return Status::BadRequest("heartbeat: bad mode or reserved byte");
  hb.mode = static_cast<Mode>(mode);
  hb.start_ms = static_cast<int64_t>(GetInt(bytes, 14, 8));
  hb.sessions = GetInt(bytes, 22, 8);
  hb.hlc = GetInt(bytes, 30, 8);
  std::array<std::string, 5> s;
  if (!ReadStrings(covered.substr(kFixedBytes), s))
    return Status::BadRequest("heartbeat: bad string field lengths");
  if (s[0].empty()) return Status::BadRequest("heartbeat: empty node name");
  hb.name = std::move(s[0]);
  hb.receiver_host = std::move(s[1]);
  hb.admin_url = std::move(s[2]);
  hb.domain = std::move(s[3]);
  hb.build = std::move(s[4]);
  return hb;
}

std::string_view StateName(State s) {
  switch (s) {
    case State::kAlive: return "alive";
    case State::kSuspect: return "suspect";
    case State::kDead: return "dead";
    case State::kLeft: return "left";
  }
  return "unknown";
}

std::string_view ModeName(Mode m) {
  switch (m) {
    case Mode::kActive: return "active";
    case Mode::kDraining: return "draining";
    case Mode::kDrained: return "drained";
  }
  return "unknown";
}

std::optional<State> ParseState(std::string_view text) {
  for (State s : {State::kAlive, State::kSuspect, State::kDead, State::kLeft})
    if (StateName(s) == text) return s;
  return std::nullopt;
}

}  // namespace sessiond::membership
