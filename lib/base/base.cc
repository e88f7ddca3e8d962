#include "base/base.h"

#include <sys/random.h>

#include <atomic>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <mutex>

namespace sessiond {

// ---- Status ----------------------------------------------------------------------------------

std::string_view ErrorWordOf(Code code) {
  switch (code) {
    case Code::kOk: return "ok";
    case Code::kBadRequest: return "bad_request";
    case Code::kUnauthorized: return "unauthorized";
    case Code::kForbidden: return "forbidden";
    case Code::kNotFound: return "not_found";
    case Code::kConflict: return "conflict";
    case Code::kTooLarge: return "bad_request";
    case Code::kUnavailable: return "unavailable";
    case Code::kInternal: return "internal";
  }
  return "internal";
}

int HttpStatusOf(Code code) {
  switch (code) {
    case Code::kOk: return 200;
    case Code::kBadRequest: return 400;
    case Code::kUnauthorized: return 401;
    case Code::kForbidden: return 403;
    case Code::kNotFound: return 404;
    case Code::kConflict: return 409;
    case Code::kTooLarge: return 413;
    case Code::kUnavailable: return 503;
    case Code::kInternal: return 500;
  }
  return 500;
}

Code CodeOfHttpStatus(int http_status) {
  if (http_status >= 200 && http_status < 300) return Code::kOk;
  switch (http_status) {
    case 400: return Code::kBadRequest;
    case 401: return Code::kUnauthorized;
    case 403: return Code::kForbidden;
    case 404: return Code::kNotFound;
    case 409: return Code::kConflict;
    case 413: return Code::kTooLarge;
    case 503: return Code::kUnavailable;
    default: return http_status >= 500 ? Code::kInternal : Code::kBadRequest;
  }
}

int ExitCodeOf(Code code) {
  switch (code) {
    case Code::kOk: return 0;
    case Code::kUnauthorized:
    case Code::kForbidden:
    case Code::kUnavailable: return 3;
    case Code::kNotFound: return 4;
    default: return 1;
  }
}

std::string Status::ToString() const {
  if (ok()) return "ok";
  std::string word(code_ == Code::kTooLarge ? "too_large" : ErrorWordOf(code_));
  return word + ": " + message_;
}

Status Status::Annotate(std::string_view prefix) const {
  if (ok()) return *this;
  return Status(code_, std::string(prefix) + ": " + message_);
}

// ---- logging ---------------------------------------------------------------------------------

namespace {
std::atomic<int> g_level{static_cast<int>(LogLevel::kInfo)};
std::mutex g_log_mu;
std::FILE* g_log_file = nullptr;  // GUARDED_BY(g_log_mu); nullptr = stderr
std::string g_log_path;           // GUARDED_BY(g_log_mu)

std::string_view LevelName(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug: return "debug";
    case LogLevel::kInfo: return "info";
    case LogLevel::kWarn: return "warn";
    case LogLevel::kError: return "error";
  }
  return "info";
}

bool NeedsQuotes(std::string_view v) {
  if (v.empty()) return true;
  for (char c : v) {
    if (c == ' ' || c == '"' || c == '=' || c == '\n' || c == '\t') return true;
  }
  return false;
}

void AppendValue(std::string* out, std::string_view v) {
  if (!NeedsQuotes(v)) {
    out->append(v);
    return;
  }
  out->push_back('"');
  for (char c : v) {
    if (c == '"' || c == '\\') out->push_back('\\');
    if (c == '\n') {
      out->append("\\n");
      continue;
    }
    out->push_back(c);
  }
  out->push_back('"');
}
}  // namespace

std::optional<LogLevel> ParseLogLevel(std::string_view text) {
  if (text == "debug") return LogLevel::kDebug;
  if (text == "info") return LogLevel::kInfo;
  if (text == "warn" || text == "warning") return LogLevel::kWarn;
  if (text == "error") return LogLevel::kError;
  return std::nullopt;
}

void SetLogLevel(LogLevel level) { g_level.store(static_cast<int>(level)); }

bool LogEnabled(LogLevel level) { return static_cast<int>(level) >= g_level.load(std::memory_order_relaxed); }

void LogLine(LogLevel level, std::string_view message, std::initializer_list<LogField> fields) {
  std::string line = FormatRfc3339Millis(WallMillis());
  line.append(" level=").append(LevelName(level)).append(" msg=");
  AppendValue(&line, message);
  for (const auto& [key, value] : fields) {
    line.push_back(' ');
    line.append(key).push_back('=');
    AppendValue(&line, value);
  }
  line.push_back('\n');
  std::lock_guard<std::mutex> lock(g_log_mu);
  std::FILE* out = g_log_file ? g_log_file : stderr;
  std::fwrite(line.data(), 1, line.size(), out);
  std::fflush(out);
}

Status RedirectLog(const std::string& path) {
  std::lock_guard<std::mutex> lock(g_log_mu);
  std::FILE* next = nullptr;
  if (!path.empty()) {
    next = std::fopen(path.c_str(), "ae");
    if (!next) return Status::Internal("cannot open log file " + path + ": " + std::strerror(errno));
  }
  if (g_log_file) std::fclose(g_log_file);
  g_log_file = next;
  g_log_path = path;
  return Status::Ok();
}

void ReopenLog() {
  std::string path;
  {
    std::lock_guard<std::mutex> lock(g_log_mu);
    path = g_log_path;
  }
  if (!path.empty()) (void)RedirectLog(path);
}

// ---- time ------------------------------------------------------------------------------------

int64_t WallMillis() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

int64_t MonotonicMillis() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(steady_clock::now().time_since_epoch()).count();
}

std::string FormatRfc3339Millis(int64_t unix_ms) {
  std::time_t secs = static_cast<std::time_t>(unix_ms / 1000);
  int millis = static_cast<int>(unix_ms % 1000);
  if (millis < 0) {
    millis += 1000;
    --secs;
  }
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, millis);
  return buf;
}

std::optional<int64_t> ParseRfc3339Millis(std::string_view text) {
  int y, mo, d, h, mi, s;
  if (text.size() < 20) return std::nullopt;
  std::string copy(text);
  if (std::sscanf(copy.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d", &y, &mo, &d, &h, &mi, &s) != 6) {
    return std::nullopt;
  }
  std::string_view rest = text.substr(19);
  int millis = 0;
  if (!rest.empty() && rest.front() == '.') {
    size_t i = 1;
    int digits = 0;
    while (i < rest.size() && rest[i] >= '0' && rest[i] <= '9') {
      if (digits < 3) millis = millis * 10 + (rest[i] - '0');
      ++digits;
      ++i;
    }
    if (digits == 0) return std::nullopt;
    for (int k = digits; k < 3; ++k) millis *= 10;
    rest = rest.substr(i);
  }
  if (rest != "Z" && rest != "+00:00") return std::nullopt;
  std::tm tm{};
  tm.tm_year = y - 1900;
  tm.tm_mon = mo - 1;
  tm.tm_mday = d;
  tm.tm_hour = h;
  tm.tm_min = mi;
  tm.tm_sec = s;
  return static_cast<int64_t>(timegm(&tm)) * 1000 + millis;
}

Result<int64_t> ParseDurationMillis(std::string_view text) {
  auto bad = [&] {
    return Status::BadRequest("invalid duration '" + std::string(text) +
                              "' (use e.g. 250ms, 90s, 5m, 1h, 2d)");
  };
  if (text.empty()) return bad();
  int64_t number = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), number);
  if (ec != std::errc() || number < 0) return bad();
  std::string_view unit(end, text.data() + text.size() - end);
  int64_t scale;
  if (unit.empty() || unit == "s") scale = 1000;
  else if (unit == "ms") scale = 1;
  else if (unit == "m") scale = 60 * 1000;
  else if (unit == "h") scale = 3600 * 1000;
  else if (unit == "d") scale = 24 * 3600 * 1000;
  else return bad();
  if (number > INT64_MAX / scale) return bad();
  return number * scale;
}

std::string FormatDurationMillis(int64_t ms) {
  if (ms < 0) return "-" + FormatDurationMillis(-ms);
  if (ms < 1000) return std::to_string(ms) + "ms";
  int64_t s = ms / 1000;
  struct Unit { int64_t secs; const char* name; };
  static constexpr Unit kUnits[] = {{86400, "d"}, {3600, "h"}, {60, "m"}, {1, "s"}};
  std::string out;
  int parts = 0;
  for (const Unit& u : kUnits) {
    if (s >= u.secs && parts < 2) {
      out += std::to_string(s / u.secs) + u.name;
      s %= u.secs;
      ++parts;
    } else if (parts > 0) {
      break;  // two adjacent units at most: "1h5m", never "1h0m5s"
    }
  }
  return out;
}

// ---- text helpers ----------------------------------------------------------------------------

std::string HexEncode(std::string_view bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char c : bytes) {
    out.push_back(kDigits[c >> 4]);
    out.push_back(kDigits[c & 15]);
  }
  return out;
}

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i])))
      return false;
  }
  return true;
}

std::string PercentEncodePath(std::string_view path) {
  static constexpr char kDigits[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(path.size());
  for (unsigned char c : path) {
    if (std::isalnum(c) || c == '/' || c == '-' || c == '.' || c == '_' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kDigits[c >> 4]);
      out.push_back(kDigits[c & 15]);
    }
  }
  return out;
}

std::string RandomBytes(size_t n) {
  std::string out(n, '\0');
  size_t got = 0;
  while (got < n) {
    ssize_t r = getrandom(out.data() + got, n - got, 0);
    if (r < 0) {
      if (errno == EINTR) continue;
      std::abort();  // no entropy source: nothing safe to do
    }
    got += static_cast<size_t>(r);
  }
  return out;
}

bool ConstantTimeEquals(std::string_view a, std::string_view b) {
  // Length leaks nothing useful (tokens have a fixed length); the bytes are compared fully.
  unsigned char diff = a.size() == b.size() ? 0 : 1;
  size_t n = a.size() < b.size() ? a.size() : b.size();
  for (size_t i = 0; i < n; ++i) diff |= static_cast<unsigned char>(a[i] ^ b[i]);
  return diff == 0;
}

}  // namespace sessiond
