// The forwarded drain command's codec (layout in drain.h) and the mode words.
#include "drain/drain.h"

namespace sessiond::drain {
namespace {

constexpr uint8_t kFormat = 1;
constexpr uint8_t kOpDrain = 1, kOpUndrain = 2;
constexpr uint8_t kReqShutdown = 0x01, kReqGrace = 0x02, kReqDeadline = 0x04;
constexpr uint8_t kRepShutdown = 0x01, kRepChanged = 0x02;
constexpr size_t kMaxViaBytes = 128;
constexpr size_t kMaxMessageBytes = 1024;

void PutU8(std::string* out, uint8_t v) { out->push_back(static_cast<char>(v)); }
void PutU64(std::string* out, uint64_t v) {
  for (int shift = 56; shift >= 0; shift -= 8) PutU8(out, static_cast<uint8_t>(v >> shift));
}
void PutStr(std::string* out, std::string_view s, size_t cap) {
  s = s.substr(0, cap);
  PutU8(out, static_cast<uint8_t>(s.size() >> 8));
  PutU8(out, static_cast<uint8_t>(s.size()));
  out->append(s);
}

/// Reads fields in order; the first failure sticks and names the field.
class Reader {
 public:
  Reader(std::string_view bytes, const char* what) : in_(bytes), what_(what) {}
  uint8_t U8(const char* field) {
    if (!Need(1, field)) return 0;
    uint8_t v = static_cast<uint8_t>(in_[0]);
    in_.remove_prefix(1);
    return v;
  }
  int64_t NonNegative(const char* field) {
    if (!Need(8, field)) return 0;
    uint64_t v = 0;
    for (int i = 0; i < 8; ++i) v = (v << 8) | static_cast<uint8_t>(in_[i]);
    in_.remove_prefix(8);
    if (v > static_cast<uint64_t>(INT64_MAX)) Fail(field, "is negative");
    return static_cast<int64_t>(v);
  }
  std::string Str(const char* field, size_t cap) {
    size_t n = static_cast<size_t>(U8(field)) << 8;
    n |= U8(field);
    if (n > cap) Fail(field, "is longer than " + std::to_string(cap) + " bytes");
    if (!Need(n, field)) return "";
    std::string s(in_.substr(0, n));
    in_.remove_prefix(n);
    return s;
  }
  void Fail(const char* field, const std::string& why) {
    if (error_.ok()) error_ = Status::BadRequest(std::string(what_) + ": " + field + " " + why);
  }
  Status Finish() {
    if (error_.ok() && !in_.empty()) Fail("end", "has " + std::to_string(in_.size()) + " trailing bytes");
    return error_;
  }
  bool ok() const { return error_.ok(); }

 private:
  bool Need(size_t n, const char* field) {
    if (!error_.ok()) return false;
    if (in_.size() >= n) return true;
    Fail(field, "is truncated");
    return false;
  }
  std::string_view in_;
  const char* what_;
  Status error_;
};

bool ValidMode(uint8_t m) { return m <= static_cast<uint8_t>(Mode::kDrained); }

}  // namespace

std::string_view ModeWord(Mode m) { return membership::ModeName(m); }

std::optional<Mode> ParseMode(std::string_view word) {
  for (Mode m : {Mode::kActive, Mode::kDraining, Mode::kDrained})
    if (word == ModeWord(m)) return m;
  return std::nullopt;
}

std::string EncodeDrainRequest(const DrainRequest& r) {
  std::string out;
  PutU8(&out, kFormat);
  PutU8(&out, r.undrain ? kOpUndrain : kOpDrain);
  uint8_t flags = (r.params.shutdown ? kReqShutdown : 0) | (r.params.grace_ms ? kReqGrace : 0) |
                  (r.params.deadline_ms ? kReqDeadline : 0);
  PutU8(&out, flags);
  PutU64(&out, static_cast<uint64_t>(std::max<int64_t>(0, r.params.grace_ms.value_or(0))));
  PutU64(&out, static_cast<uint64_t>(std::max<int64_t>(0, r.params.deadline_ms.value_or(0))));
  PutStr(&out, r.via, kMaxViaBytes);
  return out;
}

Result<DrainRequest> DecodeDrainRequest(std::string_view bytes) {
  Reader in(bytes, "drain request");
  DrainRequest r;
  if (uint8_t format = in.U8("format"); in.ok() && format != kFormat)
    in.Fail("format", std::to_string(format) + " is not 1");
  uint8_t op = in.U8("op");
  if (in.ok() && op != kOpDrain && op != kOpUndrain) in.Fail("op", std::to_string(op) + " is unknown");
  uint8_t flags = in.U8("flags");
  if (in.ok() && (flags & ~(kReqShutdown | kReqGrace | kReqDeadline)) != 0) in.Fail("flags", "has unknown bits");
  int64_t grace = in.NonNegative("grace_ms");
  int64_t deadline = in.NonNegative("deadline_ms");
  r.via = in.Str("via", kMaxViaBytes);
  if (in.ok() && !(flags & kReqGrace) && grace != 0) in.Fail("grace_ms", "is set but not flagged");
  if (in.ok() && !(flags & kReqDeadline) && deadline != 0) in.Fail("deadline_ms", "is set but not flagged");
  SESSIOND_RETURN_IF_ERROR(in.Finish());
  r.undrain = op == kOpUndrain;
  r.params.shutdown = flags & kReqShutdown;
  if (flags & kReqGrace) r.params.grace_ms = grace;
  if (flags & kReqDeadline) r.params.deadline_ms = deadline;
  return r;
}

std::string EncodeDrainReply(const DrainReply& r) {
  std::string out;
  PutU8(&out, kFormat);
  PutU8(&out, static_cast<uint8_t>(r.code));
  PutU8(&out, static_cast<uint8_t>(r.state.mode));
  PutU8(&out, (r.state.shutdown ? kRepShutdown : 0) | (r.state.changed ? kRepChanged : 0));
  PutU64(&out, static_cast<uint64_t>(std::max<int64_t>(0, r.state.grace_ms)));
  PutU64(&out, static_cast<uint64_t>(std::max<int64_t>(0, r.state.deadline_ms)));
  PutStr(&out, r.message, kMaxMessageBytes);
  return out;
}

Result<DrainReply> DecodeDrainReply(std::string_view bytes) {
  Reader in(bytes, "drain reply");
  DrainReply r;
  if (uint8_t format = in.U8("format"); in.ok() && format != kFormat)
    in.Fail("format", std::to_string(format) + " is not 1");
  uint8_t code = in.U8("code");
  if (in.ok() && code > static_cast<uint8_t>(Code::kInternal)) in.Fail("code", "is unknown");
  uint8_t mode = in.U8("mode");
  if (in.ok() && !ValidMode(mode)) in.Fail("mode", "is unknown");
  uint8_t flags = in.U8("flags");
  if (in.ok() && (flags & ~(kRepShutdown | kRepChanged)) != 0) in.Fail("flags", "has unknown bits");
  r.state.grace_ms = in.NonNegative("grace_ms");
  r.state.deadline_ms = in.NonNegative("deadline_ms");
  r.message = in.Str("message", kMaxMessageBytes);
  SESSIOND_RETURN_IF_ERROR(in.Finish());
  r.code = static_cast<Code>(code);
  r.state.mode = static_cast<Mode>(mode);
  r.state.shutdown = flags & kRepShutdown;
  r.state.changed = flags & kRepChanged;
  return r;
}

std::string AgentAnswer(Mode mode) {
  switch (mode) {
    case Mode::kActive: return "up ready\n";
    case Mode::kDraining: return "drain\n";
    case Mode::kDrained: return "maint\n";
  }
  return "drain\n";
}

}  // namespace sessiond::drain
