// Tomcat AccessLogValve: pattern compilation, line formatting (on the request thread) and the
// background writer that owns the file (daily names, reopen on SIGHUP).
#include "container/access_log_internal.h"

#include <cerrno>
#include <charconv>
#include <chrono>
#include <ctime>
#include <cstring>
#include <filesystem>
#include <optional>
#include <utility>

namespace sessiond::container {
namespace {

using Kind = AccessLogPattern::Kind;

Kind KindOfCode(char c) {
  switch (c) {
    case 'a': return Kind::kRemoteAddr;
    case 'A': return Kind::kLocalAddr;
    case 'b': return Kind::kBytes;
    case 'B': return Kind::kBytesZero;
    case 'h': return Kind::kRemoteAddr;  // no DNS lookups, as Tomcat's default enableLookups=false
    case 'H': return Kind::kProtocol;
    case 'l': return Kind::kDash;
    case 'm': return Kind::kMethod;
    case 'p': return Kind::kLocalPort;
    case 'q': return Kind::kQuery;
    case 'r': return Kind::kRequestLine;
    case 's': return Kind::kStatus;
    case 'S': return Kind::kSessionId;
    case 't': return Kind::kTime;
    case 'u': return Kind::kDash;  // no authenticated users in sessiond
    case 'U': return Kind::kPath;
    case 'v': return Kind::kServerName;
    case 'D': return Kind::kMicros;
    case 'T': return Kind::kSeconds;
    case 'I': return Kind::kThread;
    default: return Kind::kUnknown;
  }
}

Kind KindOfNamed(char c) {
  switch (c) {
    case 'i': return Kind::kRequestHeader;
    case 'o': return Kind::kResponseHeader;
    case 'c': return Kind::kCookie;
    default: return Kind::kUnknown;
  }
}

void AppendNumber(std::string* out, int64_t n) {
  char buf[24];
  auto r = std::to_chars(buf, buf + sizeof buf, n);
  out->append(buf, r.ptr);
}

/// Tomcat escapes what comes from the client so a line cannot be forged: quotes, backslashes and
/// control characters.
void AppendEscaped(std::string* out, std::string_view text) {
  static constexpr char kHex[] = "0123456789abcdef";
  for (unsigned char c : text) {
    if (c == '"' || c == '\\') {
      out->push_back('\\');
      out->push_back(static_cast<char>(c));
    } else if (c == '\n') {
      out->append("\\n");
    } else if (c == '\r') {
      out->append("\\r");
    } else if (c == '\t') {
      out->append("\\t");
    } else if (c < 0x20 || c == 0x7f) {
      out->append("\\u00");
      out->push_back(kHex[c >> 4]);
      out->push_back(kHex[c & 15]);
    } else {
      out->push_back(static_cast<char>(c));
    }
  }
}

void AppendOrDash(std::string* out, std::optional<std::string_view> value) {
  if (!value || value->empty()) {
    out->push_back('-');
  } else {
    AppendEscaped(out, *value);
  }
}

std::string_view Protocol(const Request& r) { return r.http_minor == 0 ? "HTTP/1.0" : "HTTP/1.1"; }

std::string_view RawPath(const Request& r) {
  std::string_view t = r.target;
  return t.substr(0, t.find('?'));
}

/// The time for %t, formatted once per second per thread.
void AppendTime(std::string* out, int64_t unix_ms) {
  thread_local int64_t cached_second = -1;
  thread_local std::string cached;
  int64_t second = unix_ms / 1000;
  if (second != cached_second) {
    cached = FormatCommonLogTime(unix_ms);
    cached_second = second;
  }
  out->append(cached);
}

void AppendElement(const AccessLogPattern::Element& e, const AccessRecord& rec, std::string* out) {
  const Request& rq = *rec.request;
  const Response& rs = *rec.response;
  switch (e.kind) {
    case Kind::kLiteral: out->append(e.text); break;
    case Kind::kRemoteAddr: AppendOrDash(out, rq.remote_addr); break;
    case Kind::kLocalAddr: AppendOrDash(out, rec.local_addr); break;
    case Kind::kBytes:
      if (rs.BodySize() == 0) out->push_back('-');
      else AppendNumber(out, static_cast<int64_t>(rs.BodySize()));
      break;
    case Kind::kBytesZero: AppendNumber(out, static_cast<int64_t>(rs.BodySize())); break;
    case Kind::kProtocol: out->append(Protocol(rq)); break;
    case Kind::kDash: out->push_back('-'); break;
    case Kind::kMethod: AppendEscaped(out, rq.method); break;
    case Kind::kLocalPort: AppendNumber(out, rec.local_port); break;
    case Kind::kQuery:
      if (!rq.query.empty()) { out->push_back('?'); AppendEscaped(out, rq.query); }
      break;
    case Kind::kRequestLine:
      AppendEscaped(out, rq.method);
      out->push_back(' ');
      AppendEscaped(out, rq.target);
      out->push_back(' ');
      out->append(Protocol(rq));
      break;
    case Kind::kStatus: AppendNumber(out, rs.status); break;
    case Kind::kSessionId: AppendOrDash(out, rec.session_id); break;
    case Kind::kTime: AppendTime(out, rq.received_ms); break;
    case Kind::kPath: AppendEscaped(out, RawPath(rq)); break;
    case Kind::kServerName: AppendOrDash(out, rec.server_name); break;
    case Kind::kMicros: AppendNumber(out, rec.duration_us); break;
    case Kind::kSeconds: {
      char buf[32];
      int n = std::snprintf(buf, sizeof buf, "%.3f", static_cast<double>(rec.duration_us) / 1e6);
      out->append(buf, static_cast<size_t>(n));
      break;
    }
    case Kind::kThread: out->append("http-loop-"); AppendNumber(out, rec.loop_index); break;
    case Kind::kRequestHeader: AppendOrDash(out, rq.Header(e.text)); break;
    case Kind::kResponseHeader: AppendOrDash(out, rs.Header(e.text)); break;
    case Kind::kCookie: AppendOrDash(out, rq.Cookie(e.text)); break;
    case Kind::kUnknown: out->append("???"); break;
  }
}

}  // namespace

// ---- the pattern -------------------------------------------------------------------------------

AccessLogPattern AccessLogPattern::Parse(std::string_view pattern) {
  if (pattern == "common") pattern = "%h %l %u %t \"%r\" %s %b";
  if (pattern == "combined") pattern = "%h %l %u %t \"%r\" %s %b \"%{Referer}i\" \"%{User-Agent}i\"";
  AccessLogPattern p;
  std::string literal;
  auto flush_literal = [&] {
    if (!literal.empty()) p.elements_.push_back({Kind::kLiteral, std::move(literal)});
    literal.clear();
  };
  for (size_t i = 0; i < pattern.size(); ++i) {
    char c = pattern[i];
    if (c != '%' || i + 1 == pattern.size()) {
      literal.push_back(c);
      continue;
    }
    char code = pattern[++i];
    if (code == '%') {
      literal.push_back('%');
      continue;
    }
    flush_literal();
    if (code == '{') {
      size_t close = pattern.find('}', i);
      if (close == std::string_view::npos || close + 1 >= pattern.size()) {
        p.elements_.push_back({Kind::kUnknown, ""});
        break;
      }
      std::string name(pattern.substr(i + 1, close - i - 1));
      p.elements_.push_back({KindOfNamed(pattern[close + 1]), std::move(name)});
      i = close + 1;
      continue;
    }
    p.elements_.push_back({KindOfCode(code), ""});
  }
  flush_literal();
  return p;
}

void AccessLogPattern::Format(const AccessRecord& record, std::string* out) const {
  for (const Element& e : elements_) AppendElement(e, record, out);
}

std::string FormatCommonLogTime(int64_t unix_ms) {
  std::time_t t = static_cast<std::time_t>(unix_ms / 1000);
  std::tm tm{};
  localtime_r(&t, &tm);
  char buf[64];
  size_t n = std::strftime(buf, sizeof buf, "[%d/%b/%Y:%H:%M:%S %z]", &tm);
  return std::string(buf, n);
}

// ---- the log -------------------------------------------------------------------------------

AccessLog::AccessLog(const config::AccessLogConfig& config)
    : config_(config), pattern_(AccessLogPattern::Parse(config.pattern)) {}

Result<std::unique_ptr<AccessLog>> AccessLog::Open(const config::AccessLogConfig& config) {
  std::error_code ec;
  std::filesystem::create_directories(config.directory, ec);
  if (ec) return Status::Internal("cannot create access log directory " + config.directory + ": " + ec.message());
  std::unique_ptr<AccessLog> log(new AccessLog(config));
  std::string path = log->PathFor(WallMillis());
  SESSIOND_RETURN_IF_ERROR(log->OpenFile(path));
  log->writer_ = std::thread([l = log.get()] { l->Run(); });
  return log;
}

AccessLog::~AccessLog() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (writer_.joinable()) writer_.join();
  if (file_) std::fclose(file_);
}

void AccessLog::Log(const AccessRecord& record) {
  thread_local std::string line;
  line.clear();
  pattern_.Format(record, &line);
  line.push_back('\n');
  int index = record.loop_index < 0 ? 0 : record.loop_index;
  Shard& shard = shards_[static_cast<size_t>(index) % kShards];
  std::lock_guard lock(shard.mu);
  if (shard.buffer.size() + line.size() > kMaxBuffered) {
    dropped_.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  shard.buffer.append(line);
}

void AccessLog::Reopen() {
  {
    std::lock_guard lock(mu_);
    reopen_ = true;
  }
  cv_.notify_all();
}

void AccessLog::Flush() {
  std::unique_lock lock(mu_);
  uint64_t mine = ++flush_requested_;
  cv_.notify_all();
  cv_.wait(lock, [&] { return flush_done_ >= mine || stop_; });
}

std::string AccessLog::CurrentPath() const {
  std::lock_guard lock(mu_);
  return path_;
}

std::string AccessLog::PathFor(int64_t unix_ms) const {
  std::time_t t = static_cast<std::time_t>(unix_ms / 1000);
  std::tm tm{};
  localtime_r(&t, &tm);
  char date[16];
  std::strftime(date, sizeof date, "%Y-%m-%d", &tm);
  return config_.directory + "/" + config_.prefix + date + config_.suffix;
}

/// Writer thread (and Open, before the thread starts).
Status AccessLog::OpenFile(const std::string& path) {
  if (file_) std::fclose(file_);
  file_ = std::fopen(path.c_str(), "ae");
  std::lock_guard lock(mu_);
  path_ = path;
  if (!file_) return Status::Internal("cannot open access log " + path + ": " + std::strerror(errno));
  return Status::Ok();
}

/// The writer: wakes a few times a second (or when asked), moves every shard's lines out under
/// that shard's lock, then writes them without holding any lock a request thread wants.
void AccessLog::Run() {
  std::string pending;
  std::unique_lock lock(mu_);
  for (;;) {
    cv_.wait_for(lock, std::chrono::milliseconds(200),
                 [&] { return stop_ || reopen_ || flush_requested_ > flush_done_; });
    uint64_t target = flush_requested_;
    bool reopen = std::exchange(reopen_, false);
    bool stop = stop_;
    std::string current = path_;
    lock.unlock();
    std::string path = PathFor(WallMillis());
    if (reopen || path != current || !file_) OpenFile(path);  // a failure retries next round
    WriteOut(&pending);
    lock.lock();
    flush_done_ = target;
    cv_.notify_all();
    if (stop) return;
  }
}

void AccessLog::WriteOut(std::string* pending) {
  pending->clear();
  for (Shard& shard : shards_) {
    std::lock_guard lock(shard.mu);
    pending->append(shard.buffer);
    shard.buffer.clear();
  }
  if (pending->empty() || !file_) return;
  std::fwrite(pending->data(), 1, pending->size(), file_);
  std::fflush(file_);
  if (pending->capacity() > (1 << 20)) std::string().swap(*pending);
}

}  // namespace sessiond::container
