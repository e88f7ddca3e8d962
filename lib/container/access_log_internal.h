// container internals: Tomcat's AccessLogValve — its pattern language, daily files named
// DIRECTORY/PREFIX + yyyy-MM-dd + SUFFIX, and a background writer so request threads never wait
// on the disk.
//
// Thread-safety: AccessLogPattern is immutable after Parse (share it freely). AccessLog::Log is
// called by every connector thread: it formats on the caller's thread and appends to one of a few
// buffers, each behind its own mutex and picked by the connector loop index, so loops never
// contend with each other (only briefly with the writer, a few times a second). Reopen/Flush are
// thread-safe. The writer thread owns the file.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "base/base.h"
#include "config/config.h"
#include "container/http_internal.h"

namespace sessiond::container {

/// What a log line can show about one request.
struct AccessRecord {
  const Request* request = nullptr;
  const Response* response = nullptr;
  std::string_view session_id;   ///< "" when the request had no session
  std::string_view local_addr;
  uint16_t local_port = 0;
  std::string_view server_name;  ///< %v: the Host's name
  int64_t duration_us = 0;
  int loop_index = 0;            ///< %I prints "http-loop-N"
};

/// A compiled pattern. `common` = `%h %l %u %t "%r" %s %b`, `combined` = common +
/// ` "%{Referer}i" "%{User-Agent}i"`. Codes: %a %A %b %B %h %H %l %m %p %q %r %s %S %t %u %U %v
/// %D (microseconds, as Tomcat 10) %T (seconds, 3 decimals) %I, %{name}i request header,
/// %{name}o response header, %{name}c cookie, %% a percent. Unknown codes print "???".
class AccessLogPattern {
 public:
  static AccessLogPattern Parse(std::string_view pattern);
  /// Appends one line (without the newline) to `out`.
  void Format(const AccessRecord& record, std::string* out) const;

  enum class Kind : uint8_t {
    kLiteral, kRemoteAddr, kLocalAddr, kBytes, kBytesZero, kProtocol, kDash, kMethod, kLocalPort,
    kQuery, kRequestLine, kStatus, kSessionId, kTime, kPath, kServerName, kMicros, kSeconds,
    kThread, kRequestHeader, kResponseHeader, kCookie, kUnknown,
  };
  struct Element {
    Kind kind;
    std::string text;  ///< the literal, or the header/cookie name
  };

 private:
  std::vector<Element> elements_;
};

/// "[25/Nov/2026:01:02:03 +0100]" in local time (Tomcat's %t).
std::string FormatCommonLogTime(int64_t unix_ms);

class AccessLog {
 public:
  /// Creates the directory if needed, opens today's file and starts the writer.
  /// kInternal naming the path when the directory or file cannot be made.
  static Result<std::unique_ptr<AccessLog>> Open(const config::AccessLogConfig& config);
  ~AccessLog();  ///< writes what is queued, then stops the writer

  /// Formats and queues one line. Never blocks on the disk; when the writer has fallen far
  /// behind, lines are dropped (and counted) rather than growing memory without bound.
  void Log(const AccessRecord& record);
  /// Closes and reopens the file (SIGHUP, after logrotate moved it).
  void Reopen();
  /// Blocks until every line queued before the call is written (tests, shutdown).
  void Flush();
  /// The file lines go to now.
  std::string CurrentPath() const;
  uint64_t dropped() const { return dropped_.load(); }

 private:
  explicit AccessLog(const config::AccessLogConfig& config);
  struct Shard {
    std::mutex mu;
    std::string buffer;  // GUARDED_BY(mu)
  };
  static constexpr size_t kShards = 8;
  static constexpr size_t kMaxBuffered = 8 << 20;  // per shard

  void Run();
  void WriteOut(std::string* scratch);
  std::string PathFor(int64_t unix_ms) const;
  Status OpenFile(const std::string& path);

  config::AccessLogConfig config_;
  AccessLogPattern pattern_;
  Shard shards_[kShards];
  std::atomic<uint64_t> dropped_{0};

  mutable std::mutex mu_;                // guards the fields below and the file
  std::condition_variable cv_;
  bool stop_ = false;
  bool reopen_ = false;
  uint64_t flush_requested_ = 0, flush_done_ = 0;
  std::string path_;
  std::FILE* file_ = nullptr;
  std::thread writer_;
};

}  // namespace sessiond::container
