// container internals: deployed apps (contexts), their web.xml, and static file serving.
//
// Thread-safety: AppRegistry is thread-safe; HTTP workers Resolve() concurrently while the admin
// endpoint or the deployer (re)deploys. A resolved App is an immutable shared snapshot, so a
// redeploy never pulls files from under a request in flight.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/base.h"
#include "config/config.h"
#include "container/http_internal.h"

namespace sessiond::container {

/// What we read of WEB-INF/web.xml.
struct WebXml {
  bool distributable = false;
  std::optional<int32_t> session_timeout_minutes;  ///< <session-config><session-timeout>
  std::vector<std::string> welcome_files;          ///< default: index.html, index.htm
  std::map<std::string, std::string> mime_mappings;  ///< extension (no dot, lower-case) -> type
};
/// Parses web.xml text; malformed XML is kBadRequest "FILE:LINE:COL: message".
Result<WebXml> ParseWebXml(const std::string& xml, const std::string& file_label);

struct App {
  std::string path;      ///< context path: "/myapp"; "" for ROOT
  std::string name;      ///< "myapp"; "ROOT" for ""
  std::string root_dir;  ///< absolute folder the files are served from (no symlinks in it)
  /// O_PATH descriptor of root_dir, opened at deploy: static files are opened beneath it, so a
  /// request costs no walk from "/" and no realpath(). Null (an App built by hand, in tests):
  /// files are opened by root_dir's path, with the same checks.
  std::shared_ptr<const OwnedFd> root_fd;
  std::string source;    ///< the WAR or folder it was deployed from
  std::string sha256;    ///< of the WAR ("" for folders)
  uint64_t size_bytes = 0;
  int64_t deployed_ms = 0;
  WebXml web;
  int32_t session_timeout_s = 1800;  ///< web.xml's, else the Manager default
};

/// The apps of one Host, by context path.
class AppRegistry {
 public:
  explicit AppRegistry(int32_t default_session_timeout_s);
  /// Deploys (or replaces) an app from a folder: reads WEB-INF/web.xml if present.
  Status DeployFolder(std::string context_path, const std::string& dir, std::string source,
                      std::string sha256, uint64_t size_bytes);
  Status Undeploy(std::string_view context_path);
  /// The app whose context path is the longest prefix of `request_path` (segment-wise); ROOT
  /// matches everything else. nullptr when none.
  std::shared_ptr<const App> Resolve(std::string_view request_path) const;
  std::shared_ptr<const App> Find(std::string_view context_path) const;
  std::vector<std::shared_ptr<const App>> List() const;

 private:
  int32_t default_session_timeout_s_;
  mutable std::mutex mu_;
  std::map<std::string, std::shared_ptr<const App>> apps_;  // GUARDED_BY(mu_)
};

/// Deploys every app of the Host: each `<Context>`, each folder and each WAR in appBase (a WAR is
/// unpacked next to itself, into appBase/NAME, when unpackWARs — or always, as we serve from
/// folders). A bad app is reported in `errors` ("myapp.war: entry ../x: path escapes the app")
/// and skipped; the others deploy. A `<Context>` wins over an appBase app of the same path; a
/// `<Context>` whose docBase is a WAR is unpacked into appBase/NAME. The WAR's SHA-256 is kept in
/// NAME/META-INF/.sessiond-war.sha256 (never served), and a folder newer than its WAR with a
/// matching hash is not unpacked again. Folders and WARs starting with "." are ignored. Returns
/// an error only when appBase exists but cannot be read (a missing appBase deploys nothing).
Status DeployHostApps(const config::HostConfig& host, int64_t max_war_bytes, AppRegistry* registry,
                      std::vector<std::string>* errors);

/// The MIME type for a file name (web.xml mappings first, then the built-in table).
std::string MimeTypeFor(const App& app, std::string_view file_name);

/// Serves `rel_path` (the request path below the context, starting with "/") from the app's
/// folder: welcome files for directories (redirect "/ctx" -> "/ctx/"), ETag / If-None-Match,
/// Last-Modified / If-Modified-Since, Range (single range; 416 when unsatisfiable), HEAD,
/// 404 for missing files and for anything under WEB-INF or META-INF, and never a path that
/// escapes root_dir (.., symlinks out). Only GET and HEAD (405 otherwise).
/// File bodies are a FileBody (never read into memory); HEAD answers exactly as GET, FileBody
/// included, so Content-Length is right — the connector sends the head only. The ETag is strong:
/// "<hex size>-<hex mtime ns>"; unpacked WARs keep the archive's times, so nodes agree on it.
Response ServeStatic(const App& app, const Request& request, std::string_view rel_path);

}  // namespace sessiond::container
