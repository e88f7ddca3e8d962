// container internals: the project's own HTTP request/response values. The connector (Beast)
// converts to and from these, so every handler (session API, static files, valves) is testable
// without a socket and no Beast type leaks past http_server.cc.
//
// Thread-safety: plain values, owned by the connection that is serving them.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sessiond::container {

struct Request {
  std::string method;   ///< "GET", "PUT", …
  std::string target;   ///< as sent: path + "?" + query
  std::string path;     ///< percent-decoded path, without the query
  std::string query;    ///< raw query string, without "?"
  std::vector<std::pair<std::string, std::string>> headers;  ///< names as sent
  std::string body;
  std::string remote_addr;
  int http_minor = 1;   ///< HTTP/1.x
  int64_t received_ms = 0;  ///< wall time when the request line arrived (access log %t)

  /// First header with this name (case-insensitive); nullopt when absent.
  std::optional<std::string_view> Header(std::string_view name) const;
  /// The value of a cookie named `name` in the Cookie headers; nullopt when absent.
  std::optional<std::string_view> Cookie(std::string_view name) const;
  /// A query parameter (percent-decoded); nullopt when absent.
  std::optional<std::string> QueryParam(std::string_view name) const;
};

/// An open file descriptor, closed when its last owner lets go (shared by a Response and the
/// connection streaming it).
class OwnedFd {
 public:
  explicit OwnedFd(int fd) : fd_(fd) {}
  ~OwnedFd();
  OwnedFd(const OwnedFd&) = delete;
  OwnedFd& operator=(const OwnedFd&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

/// A byte range of a file that the connector streams.
struct FileBody {
  std::string path;  ///< what was served (logs, tests); opened only when `fd` is null
  uint64_t offset = 0;
  uint64_t length = 0;
  /// The file already opened and checked by the handler: the connector reads this one, so what
  /// is sent is exactly what was checked (no second lookup by path that a rename could redirect).
  std::shared_ptr<const OwnedFd> fd;
};

struct Response {
  int status = 200;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  std::optional<FileBody> file;  ///< when set, the body is this file range, not `body`

  void SetHeader(std::string name, std::string value);
  std::optional<std::string_view> Header(std::string_view name) const;
  /// Bytes of body that will be sent (for the access log's %b).
  uint64_t BodySize() const { return file ? file->length : body.size(); }
  /// status + "Content-Type: application/json" + body.
  static Response Json(int status, std::string body);
  /// A JSON error body {"error": word, "message": message} for the data plane.
  static Response Error(int status, std::string_view message);
};

/// Percent-decodes a URL path or query component; nullopt on malformed escapes or NUL bytes.
std::optional<std::string> PercentDecode(std::string_view text, bool plus_is_space);

/// Sets `r->path` (percent-decoded) and `r->query` (raw) from `r->target` as sent: origin-form
/// ("/p?q"), or absolute-form ("http://h/p?q", reduced to its path). False for any other target
/// (authority-form, "*", junk) or a malformed escape / NUL in the path: the connector answers 400.
bool SplitRequestTarget(Request* r);

}  // namespace sessiond::container
