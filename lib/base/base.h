// base: the vocabulary every module shares — Status/Result for errors, key=value logging,
// durations and wall-clock time. A leaf: depends on nothing of ours.
//
// Thread-safety: Status and Result are values (no sharing). The logger is thread-safe; the level is
// an atomic read before any formatting.
#pragma once

#include <cstdint>
#include <cstddef>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <variant>

namespace sessiond {

/// Every fallible call in lib/ returns a Status or a Result<T>. Each code maps to exactly one HTTP
/// status on the admin API (HttpStatusOf) and one sessctl exit code (table in sessctl(1)).
enum class Code : uint8_t {
  kOk = 0,
  kBadRequest,    ///< the input is malformed or invalid (400; sessctl exit 1)
  kUnauthorized,  ///< missing or wrong credentials (401; exit 3)
  kForbidden,     ///< authenticated but not allowed (403; exit 3)
  kNotFound,      ///< no such thing (404; exit 4)
  kConflict,      ///< the state does not allow it now (409; exit 1)
  kTooLarge,      ///< a body or archive over its limit (413; exit 1)
  kUnavailable,   ///< cannot serve now: joining, draining, unreachable (503; exit 3)
  kInternal,      ///< a bug or an I/O failure (500; exit 1)
};

/// A cheap value: OK carries no allocation. The message says what and where
/// ("server.xml:30:38: ..."), ready to show to an operator.
class Status {
 public:
  Status() = default;
  Status(Code code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status Ok() { return Status(); }
  static Status BadRequest(std::string m) { return {Code::kBadRequest, std::move(m)}; }
  static Status Unauthorized(std::string m) { return {Code::kUnauthorized, std::move(m)}; }
  static Status Forbidden(std::string m) { return {Code::kForbidden, std::move(m)}; }
  static Status NotFound(std::string m) { return {Code::kNotFound, std::move(m)}; }
  static Status Conflict(std::string m) { return {Code::kConflict, std::move(m)}; }
  static Status TooLarge(std::string m) { return {Code::kTooLarge, std::move(m)}; }
  static Status Unavailable(std::string m) { return {Code::kUnavailable, std::move(m)}; }
  static Status Internal(std::string m) { return {Code::kInternal, std::move(m)}; }

  bool ok() const { return code_ == Code::kOk; }
  Code code() const { return code_; }
  const std::string& message() const { return message_; }
  /// "not_found: no session 3F2A…" — for logs and tests.
  std::string ToString() const;
  /// Returns a copy whose message is `prefix + ": " + message()`.
  Status Annotate(std::string_view prefix) const;

 private:
  Code code_ = Code::kOk;
  std::string message_;
};

/// The admin API's error word for a code: bad_request, unauthorized, forbidden, not_found,
/// conflict, unavailable, internal (kTooLarge answers "bad_request" with HTTP 413).
std::string_view ErrorWordOf(Code code);
/// The HTTP status the admin API answers for a code.
int HttpStatusOf(Code code);
/// The inverse, for clients (sessctl): the code an HTTP status stands for.
Code CodeOfHttpStatus(int http_status);
/// sessctl's exit code for a code: 0 ok, 1 failed, 3 unreachable/unauthorized, 4 not found.
int ExitCodeOf(Code code);

/// A value or the Status that explains why there is none.
template <typename T>
class Result {
 public:
  Result(T value) : v_(std::move(value)) {}           // NOLINT: implicit by design
  Result(Status status) : v_(std::move(status)) {}    // NOLINT: must not be OK
  bool ok() const { return std::holds_alternative<T>(v_); }
  const Status& status() const {
    static const Status kOkStatus;
    return ok() ? kOkStatus : std::get<Status>(v_);
  }
  T& value() & { return std::get<T>(v_); }
  const T& value() const& { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

 private:
  std::variant<T, Status> v_;
};

#define SESSIOND_RETURN_IF_ERROR(expr)            \
  do {                                            \
    ::sessiond::Status status_ = (expr);          \
    if (!status_.ok()) return status_;            \
  } while (0)

// ---- logging -------------------------------------------------------------------------------

enum class LogLevel : uint8_t { kDebug = 0, kInfo, kWarn, kError };

/// Parses "debug|info|warn|warning|error"; nullopt otherwise.
std::optional<LogLevel> ParseLogLevel(std::string_view text);
void SetLogLevel(LogLevel level);
bool LogEnabled(LogLevel level);

using LogField = std::pair<std::string_view, std::string>;
/// Writes one line to the log sink (stderr unless RedirectLog was called):
/// `2026-11-25T01:02:03.456Z level=info msg="started" port=8080`. Values with spaces are quoted.
void LogLine(LogLevel level, std::string_view message, std::initializer_list<LogField> fields);
/// Sends log lines to `path` (appending); empty path = stderr. Reopens on each call (SIGHUP).
Status RedirectLog(const std::string& path);
void ReopenLog();

/// Logs at `level` with key=value fields; the fields are not evaluated when the level is off.
///   SESSIOND_LOG(kInfo, "peer joined", {"peer", name}, {"port", std::to_string(port)});
#define SESSIOND_LOG(level, message, ...)                                                \
  do {                                                                                   \
    if (::sessiond::LogEnabled(::sessiond::LogLevel::level))                             \
      ::sessiond::LogLine(::sessiond::LogLevel::level, message, {__VA_ARGS__});          \
  } while (0)

// ---- time ----------------------------------------------------------------------------------

/// Milliseconds since the Unix epoch, from the system clock.
int64_t WallMillis();
/// Monotonic milliseconds (steady clock), for intervals and timeouts.
int64_t MonotonicMillis();
/// "2026-11-25T01:02:03.456Z" (RFC 3339, UTC, milliseconds).
std::string FormatRfc3339Millis(int64_t unix_ms);
/// Parses the same form (and whole seconds, "Z" or "+00:00"); nullopt when it is not one.
std::optional<int64_t> ParseRfc3339Millis(std::string_view text);
/// Parses "90s", "5m", "1h", "2d", "250ms" and a bare number of seconds into milliseconds.
Result<int64_t> ParseDurationMillis(std::string_view text);
/// The inverse for display: 90000 -> "1m30s", 3600000 -> "1h".
std::string FormatDurationMillis(int64_t ms);

// ---- small text helpers shared by every parser ---------------------------------------------

/// Lower-case hex of the bytes.
std::string HexEncode(std::string_view bytes);
/// ASCII case-insensitive equality (HTTP header names, tokens).
bool EqualsIgnoreCase(std::string_view a, std::string_view b);
/// Percent-encodes every byte but the unreserved ones (A-Z a-z 0-9 - . _ ~) and '/': a path for
/// a URL or a Location header.
std::string PercentEncodePath(std::string_view path);
/// `n` random bytes from the OS CSPRNG (getrandom); aborts only if the kernel refuses.
std::string RandomBytes(size_t n);
/// Compares in time independent of where the strings differ (for tokens and MACs).
bool ConstantTimeEquals(std::string_view a, std::string_view b);

// ---- wire bytes: little-endian integers and u32-length strings ------------------------------

/// Appends `value` little-endian to `out` (for writers that reuse a caller's buffer).
template <typename T>
void AppendLittleEndian(std::string* out, T value) {
  auto v = static_cast<std::make_unsigned_t<T>>(value);
  for (size_t i = 0; i < sizeof(T); ++i) out->push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
/// Appends `u32 length + bytes`.
inline void AppendLengthPrefixed(std::string* out, std::string_view s) {
  AppendLittleEndian<uint32_t>(out, static_cast<uint32_t>(s.size()));
  out->append(s);
}

/// Appends little-endian integers and `u32 length + bytes` strings (the cluster messages' layout).
class ByteWriter {
 public:
  explicit ByteWriter(size_t reserve = 64) { out_.reserve(reserve); }
  template <typename T>
  ByteWriter& Int(T value) {
    AppendLittleEndian<T>(&out_, value);
    return *this;
  }
  ByteWriter& Str(std::string_view s) {
    AppendLengthPrefixed(&out_, s);
    return *this;
  }
  std::string Take() { return std::move(out_); }

 private:
  std::string out_;
};

/// A cursor over untrusted bytes: every read checks what is left and latches the first failure
/// (then returns zero values), so a decoder reads on and checks ok() once at the end.
class ByteReader {
 public:
  explicit ByteReader(std::string_view bytes) : rest_(bytes) {}
  bool ok() const { return ok_; }
  size_t remaining() const { return rest_.size(); }
  void Fail() { ok_ = false; }
  template <typename T>
  T Int() {
    if (!ok_ || rest_.size() < sizeof(T)) return (ok_ = false, T{});
    std::make_unsigned_t<T> v = 0;
    for (size_t i = 0; i < sizeof(T); ++i)
      v |= static_cast<std::make_unsigned_t<T>>(static_cast<uint8_t>(rest_[i])) << (8 * i);
    rest_.remove_prefix(sizeof(T));
    return static_cast<T>(v);
  }
  /// A string of at most `cap` bytes (never trusts the length).
  std::string Str(size_t cap = SIZE_MAX) {
    uint32_t len = Int<uint32_t>();
    if (!ok_ || rest_.size() < len || len > cap) return (ok_ = false, std::string());
    std::string s(rest_.substr(0, len));
    rest_.remove_prefix(len);
    return s;
  }
  bool Bool() {
    uint8_t b = Int<uint8_t>();
    if (b > 1) ok_ = false;
    return b == 1;
  }
  /// A count of items of at least `min_bytes` each, at most `cap`.
  uint32_t Count(size_t min_bytes, uint32_t cap) {
    uint32_t n = Int<uint32_t>();
    if (!ok_ || n > cap || n > rest_.size() / min_bytes) return (ok_ = false, 0);
    return n;
  }
  /// The value when every read succeeded and nothing follows; else kBadRequest naming `what`.
  template <typename T>
  Result<T> Finish(T value, std::string_view what) const {
    if (!ok_) return Status::BadRequest(std::string(what) + ": malformed");
    if (!rest_.empty()) return Status::BadRequest(std::string(what) + ": trailing bytes");
    return value;
  }

 private:
  std::string_view rest_;
  bool ok_ = true;
};

}  // namespace sessiond
