// Static files of an app (apps_internal.h ServeStatic): path checks, welcome files, validators
// (ETag, Last-Modified), conditional requests and single byte ranges.
//
// Safety: the request path is split into segments and refused on "..", NUL and backslashes; the
// candidate is then resolved with realpath() and must still lie under the app's (already real)
// root, and its real relative path is checked again for WEB-INF/META-INF, so neither a symlink
// out of the app nor a symlink to its private folders serves anything.
#include <sys/stat.h>

#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <string>
#include <vector>

#include "container/apps_internal.h"

namespace sessiond::container {
namespace {

struct FileInfo {
  std::string real_path;
  std::string name;  ///< the name the client asked for: its extension picks the MIME type
  uint64_t size = 0;
  int64_t mtime_s = 0;
  int64_t mtime_ns = 0;  ///< whole timestamp in nanoseconds, for the ETag
};

bool EqualsNoCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i])))
      return false;
  return true;
}

bool IsPrivate(std::string_view first_segment) {
  return EqualsNoCase(first_segment, "WEB-INF") || EqualsNoCase(first_segment, "META-INF");
}

/// Splits a request path into clean segments; nullopt when it must never be served.
std::optional<std::vector<std::string>> Segments(std::string_view rel) {
  std::vector<std::string> out;
  while (!rel.empty()) {
    size_t slash = rel.find('/');
    std::string seg(rel.substr(0, slash));
    rel = slash == std::string_view::npos ? std::string_view() : rel.substr(slash + 1);
    if (seg.empty() || seg == ".") continue;
    if (seg == ".." || seg.find('\0') != std::string::npos || seg.find('\\') != std::string::npos)
      return std::nullopt;
    out.push_back(std::move(seg));
  }
  if (!out.empty() && IsPrivate(out[0])) return std::nullopt;
  return out;
}

/// realpath() of `candidate`, when it exists and stays under `root` outside WEB-INF/META-INF.
std::optional<std::string> ResolveUnder(const std::string& root, const std::string& candidate) {
  char* real = ::realpath(candidate.c_str(), nullptr);
  if (!real) return std::nullopt;
  std::string path(real);
  std::free(real);
  if (path == root) return path;
  if (path.size() <= root.size() || path.compare(0, root.size(), root) != 0 ||
      path[root.size()] != '/')
    return std::nullopt;
  std::string_view rel = std::string_view(path).substr(root.size() + 1);
  if (IsPrivate(rel.substr(0, rel.find('/')))) return std::nullopt;
  return path;
}

std::optional<FileInfo> StatRegular(const std::string& real_path, std::string name) {
  struct stat st {};
  if (::stat(real_path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) return std::nullopt;
  FileInfo info;
  info.real_path = real_path;
  info.name = std::move(name);
  info.size = static_cast<uint64_t>(st.st_size);
  info.mtime_s = st.st_mtim.tv_sec;
  info.mtime_ns = st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec;
  return info;
}

// ---- HTTP dates and validators -------------------------------------------------------------

std::string HttpDate(int64_t unix_s) {
  static const char* kDays[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
  static const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                  "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  time_t t = static_cast<time_t>(unix_s);
  struct tm tm {};
  gmtime_r(&t, &tm);
  char buf[40];
  std::snprintf(buf, sizeof buf, "%s, %02d %s %04d %02d:%02d:%02d GMT", kDays[tm.tm_wday],
                tm.tm_mday, kMonths[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min,
                tm.tm_sec);
  return buf;
}

/// Parses an IMF-fixdate ("Sun, 06 Nov 1994 08:49:37 GMT"); nullopt for anything else.
std::optional<int64_t> ParseHttpDate(std::string_view text) {
  static const std::string_view kMonths = "JanFebMarAprMayJunJulAugSepOctNovDec";
  char month[4] = {};
  struct tm tm {};
  int consumed = 0;
  std::string s(text);
  if (std::sscanf(s.c_str(), "%*[A-Za-z], %2d %3s %4d %2d:%2d:%2d GMT%n", &tm.tm_mday, month,
                  &tm.tm_year, &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &consumed) != 6 ||
      consumed == 0)
    return std::nullopt;
  size_t m = kMonths.find(month);
  if (m == std::string_view::npos || m % 3 != 0) return std::nullopt;
  tm.tm_mon = static_cast<int>(m / 3);
  tm.tm_year -= 1900;
  return static_cast<int64_t>(timegm(&tm));
}

std::string ETagOf(const FileInfo& f) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "\"%llx-%llx\"", static_cast<unsigned long long>(f.size),
                static_cast<unsigned long long>(f.mtime_ns));
  return buf;
}

/// If-None-Match: "*" or any listed tag equal to ours under weak comparison (W/ ignored).
bool NoneMatchHits(std::string_view header, const std::string& etag) {
  while (!header.empty()) {
    size_t comma = header.find(',');
    std::string_view tag = header.substr(0, comma);
    header = comma == std::string_view::npos ? std::string_view() : header.substr(comma + 1);
    while (!tag.empty() && (tag.front() == ' ' || tag.front() == '\t')) tag.remove_prefix(1);
    while (!tag.empty() && (tag.back() == ' ' || tag.back() == '\t')) tag.remove_suffix(1);
    if (tag == "*") return true;
    if (tag.starts_with("W/")) tag.remove_prefix(2);
    if (tag == etag) return true;
  }
  return false;
}

bool NotModified(const Request& request, const FileInfo& f, const std::string& etag) {
  if (auto inm = request.Header("If-None-Match")) return NoneMatchHits(*inm, etag);
  if (auto ims = request.Header("If-Modified-Since")) {
    std::optional<int64_t> since = ParseHttpDate(*ims);
    return since && f.mtime_s <= *since;
  }
  return false;
}

// ---- ranges ------------------------------------------------------------------------------------

struct ByteRange {
  uint64_t first = 0, last = 0;
};
enum class RangeKind { kWhole, kPartial, kUnsatisfiable };

std::optional<uint64_t> ParseNumber(std::string_view s) {
  if (s.empty() || s.size() > 19) return std::nullopt;
  uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + static_cast<uint64_t>(c - '0');
  }
  return v;
}

/// One "a-b", "a-" or "-n" against a file of `size` bytes. A malformed spec means "ignore the
/// Range header" (RFC 9110 §14.2), so the whole file is served.
RangeKind ParseRange(std::string_view header, uint64_t size, ByteRange* out) {
  if (!header.starts_with("bytes=")) return RangeKind::kWhole;
  std::string_view spec = header.substr(6);
  if (spec.find(',') != std::string_view::npos) return RangeKind::kWhole;  // multiple: send all
  size_t dash = spec.find('-');
  if (dash == std::string_view::npos) return RangeKind::kWhole;
  std::string_view a = spec.substr(0, dash), b = spec.substr(dash + 1);
  if (a.empty()) {  // suffix: the last n bytes
    std::optional<uint64_t> n = ParseNumber(b);
    if (!n) return RangeKind::kWhole;
    if (*n == 0 || size == 0) return RangeKind::kUnsatisfiable;
    *out = {size - std::min(*n, size), size - 1};
    return RangeKind::kPartial;
  }
  std::optional<uint64_t> first = ParseNumber(a);
  std::optional<uint64_t> last = b.empty() ? std::optional<uint64_t>(UINT64_MAX) : ParseNumber(b);
  if (!first || !last || *last < *first) return RangeKind::kWhole;
  if (*first >= size) return RangeKind::kUnsatisfiable;
  *out = {*first, std::min(*last, size - 1)};
  return RangeKind::kPartial;
}

/// If-Range: the Range applies only while the client's validator still matches (strong ETag or
/// the exact Last-Modified date).
bool IfRangeAllows(const Request& request, const std::string& etag, const std::string& modified) {
  auto if_range = request.Header("If-Range");
  if (!if_range) return true;
  return *if_range == etag || *if_range == modified;
}

// ---- responses ---------------------------------------------------------------------------------

Response NotFound() { return Response::Error(404, "not found"); }

/// Percent-encodes a decoded path for a Location header (keeps "/" and unreserved bytes).
std::string EncodePath(std::string_view path) {
  static const char* kHex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : path) {
    if (std::isalnum(c) || c == '/' || c == '-' || c == '.' || c == '_' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

Response RedirectToSlash(const App& app, const Request& request, std::string_view rel_path) {
  Response r;
  r.status = 302;
  std::string location = EncodePath(app.path + std::string(rel_path) + "/");
  if (!request.query.empty()) location += "?" + request.query;
  r.SetHeader("Location", location);
  return r;
}

Response ServeFile(const App& app, const Request& request, const FileInfo& f) {
  Response r;
  std::string etag = ETagOf(f);
  std::string modified = HttpDate(f.mtime_s);
  r.SetHeader("ETag", etag);
  r.SetHeader("Last-Modified", modified);
  r.SetHeader("Accept-Ranges", "bytes");
  if (NotModified(request, f, etag)) {
    r.status = 304;
    return r;
  }
  r.SetHeader("Content-Type", MimeTypeFor(app, f.name));
  ByteRange range;
  RangeKind kind = RangeKind::kWhole;
  if (auto header = request.Header("Range"); header && IfRangeAllows(request, etag, modified))
    kind = ParseRange(*header, f.size, &range);
  if (kind == RangeKind::kUnsatisfiable) {
    Response err = Response::Error(416, "range not satisfiable");
    err.SetHeader("Content-Range", "bytes */" + std::to_string(f.size));
    err.SetHeader("Accept-Ranges", "bytes");
    return err;
  }
  if (kind == RangeKind::kPartial) {
    r.status = 206;
    r.SetHeader("Content-Range", "bytes " + std::to_string(range.first) + "-" +
                                     std::to_string(range.last) + "/" + std::to_string(f.size));
    r.file = FileBody{f.real_path, range.first, range.last - range.first + 1};
  } else {
    r.file = FileBody{f.real_path, 0, f.size};
  }
  return r;  // HEAD: the same FileBody (so Content-Length is right); the connector sends no body
}

/// The first welcome file of a folder that exists as a regular file under the root.
std::optional<FileInfo> WelcomeFile(const App& app, const std::string& dir) {
  for (const std::string& name : app.web.welcome_files) {
    std::optional<std::vector<std::string>> segs = Segments(name);
    if (!segs || segs->empty()) continue;
    std::string candidate = dir;
    for (const std::string& s : *segs) candidate += "/" + s;
    if (auto real = ResolveUnder(app.root_dir, candidate))
      if (auto info = StatRegular(*real, segs->back())) return info;
  }
  return std::nullopt;
}

}  // namespace

Response ServeStatic(const App& app, const Request& request, std::string_view rel_path) {
  if (request.method != "GET" && request.method != "HEAD") {
    Response r = Response::Error(405, "only GET and HEAD are allowed here");
    r.SetHeader("Allow", "GET, HEAD");
    return r;
  }
  std::optional<std::vector<std::string>> segs = Segments(rel_path);
  if (!segs) return NotFound();
  std::string candidate = app.root_dir;
  for (const std::string& s : *segs) candidate += "/" + s;
  std::optional<std::string> real = ResolveUnder(app.root_dir, candidate);
  if (!real) return NotFound();
  struct stat st {};
  if (::stat(real->c_str(), &st) != 0) return NotFound();
  bool wants_dir = !rel_path.empty() && rel_path.back() == '/';  // "" is "/ctx"
  if (S_ISDIR(st.st_mode)) {
    if (!wants_dir) return RedirectToSlash(app, request, rel_path);
    std::optional<FileInfo> welcome = WelcomeFile(app, *real);
    return welcome ? ServeFile(app, request, *welcome) : NotFound();  // never a listing
  }
  if (wants_dir) return NotFound();  // "/file.txt/"
  std::optional<FileInfo> info = StatRegular(*real, segs->empty() ? "" : segs->back());
  return info ? ServeFile(app, request, *info) : NotFound();  // fifos, devices: never opened
}

}  // namespace sessiond::container
