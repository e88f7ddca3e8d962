// Static files of an app (apps_internal.h ServeStatic): path checks, welcome files, validators
// (ETag, Last-Modified), conditional requests and single byte ranges.
//
// Safety: the request path is split into segments and refused on "..", NUL and backslashes, and
// on WEB-INF/META-INF as its first segment. The file is then opened in one openat2() beneath the
// app's root that follows no symlink at all (RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS), so what is
// opened is exactly the checked path — no realpath() on the hot path. A path that does cross a
// symlink (ELOOP) takes the slow road: realpath() must still lie under the root and its real
// relative path outside WEB-INF/META-INF, so a symlink inside the app is served but neither one
// out of it nor one into its private folders. Only regular files (and folders, for welcome
// files) are served; opening is O_NONBLOCK | O_NOCTTY, as nginx does, so a fifo or device met on
// the way is closed unread and never blocks a loop thread. The connector streams the very
// descriptor that was checked (FileBody::fd).
#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <string>
#include <vector>

#include "container/apps_internal.h"

namespace sessiond::container {
namespace {

/// An opened file or folder under an app's root, and what fstat() said of it.
struct FileInfo {
  std::shared_ptr<const OwnedFd> fd;
  std::string path;  ///< the absolute path that was opened (FileBody::path)
  std::string name;  ///< the name the client asked for: its extension picks the MIME type
  bool is_dir = false;
  uint64_t size = 0;
  int64_t mtime_s = 0;
  int64_t mtime_ns = 0;  ///< whole timestamp in nanoseconds, for the ETag
};


bool IsPrivate(std::string_view first_segment) {
  return EqualsIgnoreCase(first_segment, "WEB-INF") || EqualsIgnoreCase(first_segment, "META-INF");
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
/// The slow road: taken only for paths that cross a symlink.
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

constexpr uint64_t kOpenFlags = O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY;

/// openat2(2) (glibc 2.36 has no wrapper). -1 with errno set; ENOSYS on kernels before 5.6.
int OpenAt2(int dir_fd, const char* path, uint64_t resolve) {
  struct open_how how {};
  how.flags = kOpenFlags;
  how.resolve = resolve;
  return static_cast<int>(::syscall(SYS_openat2, dir_fd, path, &how, sizeof how));
}

/// Takes ownership of `fd` and fstat()s it: a regular file or a folder, else nullopt (closed).
std::optional<FileInfo> Describe(int fd, std::string path, std::string name) {
  if (fd < 0) return std::nullopt;
  auto owned = std::make_shared<const OwnedFd>(fd);
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !(S_ISREG(st.st_mode) || S_ISDIR(st.st_mode))) return std::nullopt;
  FileInfo info;
  info.fd = std::move(owned);
  info.path = std::move(path);
  info.name = std::move(name);
  info.is_dir = S_ISDIR(st.st_mode);
  info.size = static_cast<uint64_t>(st.st_size);
  info.mtime_s = st.st_mtim.tv_sec;
  info.mtime_ns = st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec;
  return info;
}

/// Opens root/segs... . Fast road: one openat2 that crosses no symlink, beneath the root's
/// descriptor (or, without one, along root_dir, which has no symlinks). A symlink on the way
/// (ELOOP, or an old kernel: ENOSYS) takes the realpath() road. nullopt: 404.
std::optional<FileInfo> OpenUnder(const App& app, const std::vector<std::string>& segs) {
  if (!segs.empty() && IsPrivate(segs[0])) return std::nullopt;
  std::string rel;
  for (const std::string& s : segs) (rel += '/') += s;
  std::string path = app.root_dir + rel;
  std::string name = segs.empty() ? "" : segs.back();
  int fd = app.root_fd
               ? OpenAt2(app.root_fd->get(), rel.empty() ? "." : rel.c_str() + 1,
                         RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS)
               : OpenAt2(AT_FDCWD, path.c_str(), RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS);
  if (fd >= 0) return Describe(fd, std::move(path), std::move(name));
  if (errno != ELOOP && errno != ENOSYS && errno != EXDEV) return std::nullopt;
  std::optional<std::string> real = ResolveUnder(app.root_dir, path);
  if (!real) return std::nullopt;
  // The real path has no symlinks left; one swapped in since realpath() is refused here.
  fd = OpenAt2(AT_FDCWD, real->c_str(), RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS);
  if (fd < 0 && errno == ENOSYS)
    fd = ::open(real->c_str(), static_cast<int>(kOpenFlags) | O_NOFOLLOW);
  return Describe(fd, std::move(*real), std::move(name));
}

// ---- HTTP dates and validators -------------------------------------------------------------

std::string FormatHttpDate(int64_t unix_s) {
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

/// Last-Modified: files served in a row mostly share a modification second, so each thread
/// keeps the last one formatted.
const std::string& HttpDate(int64_t unix_s) {
  thread_local int64_t cached_s = INT64_MIN;
  thread_local std::string cached;
  if (unix_s != cached_s) {
    cached = FormatHttpDate(unix_s);
    cached_s = unix_s;
  }
  return cached;
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

/// "<hex size>-<hex mtime ns>", with to_chars: snprintf was a visible share of a small file.
std::string ETagOf(const FileInfo& f) {
  char size_hex[16], mtime_hex[16];  // a uint64_t is at most 16 hex digits
  char* size_end = std::to_chars(size_hex, size_hex + 16, f.size, 16).ptr;
  char* mtime_end =
      std::to_chars(mtime_hex, mtime_hex + 16, static_cast<uint64_t>(f.mtime_ns), 16).ptr;
  std::string tag;
  tag.reserve(36);
  tag += '"';
  tag.append(size_hex, size_end);
  tag += '-';
  tag.append(mtime_hex, mtime_end);
  tag += '"';
  return tag;
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
std::string EncodePath(std::string_view path) { return PercentEncodePath(path); }

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
    r.file = FileBody{f.path, range.first, range.last - range.first + 1, f.fd};
  } else {
    r.file = FileBody{f.path, 0, f.size, f.fd};
  }
  return r;  // HEAD: the same FileBody (so Content-Length is right); the connector sends no body
}

/// The first welcome file of the folder `dir` (segments below the root) that exists as a regular
/// file under the root.
std::optional<FileInfo> WelcomeFile(const App& app, const std::vector<std::string>& dir) {
  for (const std::string& name : app.web.welcome_files) {
    std::optional<std::vector<std::string>> segs = Segments(name);
    if (!segs || segs->empty()) continue;
    std::vector<std::string> path = dir;
    path.insert(path.end(), segs->begin(), segs->end());
    if (auto info = OpenUnder(app, path); info && !info->is_dir) return info;
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
  std::optional<FileInfo> info = OpenUnder(app, *segs);
  if (!info) return NotFound();  // missing, escaping, private, or a fifo or device
  bool wants_dir = !rel_path.empty() && rel_path.back() == '/';  // "" is "/ctx"
  if (info->is_dir) {
    if (!wants_dir) return RedirectToSlash(app, request, rel_path);
    // Welcome files are looked up from the request's segments, not the folder's real path, so a
    // symlinked folder's welcome file takes the same checks as any other path.
    std::optional<FileInfo> welcome = WelcomeFile(app, *segs);
    return welcome ? ServeFile(app, request, *welcome) : NotFound();  // never a listing
  }
  if (wants_dir) return NotFound();  // "/file.txt/"
  return ServeFile(app, request, *info);
}

}  // namespace sessiond::container
