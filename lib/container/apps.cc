// The apps of a Host: the registry of contexts, deployment from <Context>, folders and WARs in
// appBase, and the MIME table (apps_internal.h).
#include <fcntl.h>
#include <sys/stat.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <set>
#include <unordered_map>

#include "container/apps_internal.h"
#include "deploy/deploy.h"

namespace sessiond::container {
namespace {

namespace fs = std::filesystem;

/// "/" and "/a/" become "" and "/a"; a missing leading slash is added.
std::string NormaliseContextPath(std::string path) {
  while (!path.empty() && path.back() == '/') path.pop_back();
  if (!path.empty() && path[0] != '/') path.insert(0, "/");
  return path;
}

/// Tomcat's naming: "" <-> ROOT, "/a/b" <-> "a#b".
std::string AppNameOf(const std::string& context_path) {
  if (context_path.empty()) return "ROOT";
  std::string name = context_path.substr(1);
  std::replace(name.begin(), name.end(), '/', '#');
  return name;
}

std::string ContextPathOf(std::string name) {
  if (name == "ROOT") return "";
  std::replace(name.begin(), name.end(), '#', '/');
  return "/" + name;
}

Result<std::string> ReadWholeFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::NotFound(path + ": cannot read");
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

}  // namespace

// ---- registry --------------------------------------------------------------------------------

AppRegistry::AppRegistry(int32_t default_session_timeout_s)
    : default_session_timeout_s_(default_session_timeout_s) {}

Status AppRegistry::DeployFolder(std::string context_path, const std::string& dir,
                                 std::string source, std::string sha256, uint64_t size_bytes) {
  auto app = std::make_shared<App>();
  app->path = NormaliseContextPath(std::move(context_path));
  app->name = AppNameOf(app->path);
  // Served paths are checked against the real root, so resolve symlinks in it once here.
  char* real = ::realpath(dir.c_str(), nullptr);
  if (!real) return Status::NotFound(dir + ": no such folder");
  app->root_dir = real;
  std::free(real);
  struct stat st {};
  if (::stat(app->root_dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode))
    return Status::BadRequest(dir + ": not a folder");
  int root_fd = ::open(app->root_dir.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (root_fd < 0) return Status::NotFound(dir + ": cannot open the folder");
  app->root_fd = std::make_shared<const OwnedFd>(root_fd);
  std::string web_xml_path = app->root_dir + "/WEB-INF/web.xml";
  if (::stat(web_xml_path.c_str(), &st) == 0) {
    Result<std::string> text = ReadWholeFile(web_xml_path);
    if (!text.ok()) return text.status();
    Result<WebXml> web = ParseWebXml(*text, web_xml_path);
    if (!web.ok()) return web.status();
    app->web = std::move(*web);
  } else {
    app->web.welcome_files = {"index.html", "index.htm"};
  }
  app->session_timeout_s = app->web.session_timeout_minutes
                               ? *app->web.session_timeout_minutes * 60
                               : default_session_timeout_s_;
  app->source = std::move(source);
  app->sha256 = std::move(sha256);
  app->size_bytes = size_bytes;
  app->deployed_ms = WallMillis();
  std::lock_guard<std::mutex> lock(mu_);
  apps_[app->path] = std::move(app);
  return Status::Ok();
}

Status AppRegistry::Undeploy(std::string_view context_path) {
  std::string path = NormaliseContextPath(std::string(context_path));
  std::lock_guard<std::mutex> lock(mu_);
  if (apps_.erase(path) == 0) return Status::NotFound("no app at \"" + path + "\"");
  return Status::Ok();
}

std::shared_ptr<const App> AppRegistry::Resolve(std::string_view request_path) const {
  std::lock_guard<std::mutex> lock(mu_);
  // Try "/a/b/c", "/a/b", "/a", then ROOT (""): the longest whole-segment prefix wins.
  std::string candidate(request_path);
  for (;;) {
    auto it = apps_.find(candidate);
    if (it != apps_.end()) return it->second;
    if (candidate.empty()) return nullptr;
    size_t slash = candidate.rfind('/');
    candidate.resize(slash == std::string::npos ? 0 : slash);
  }
}

std::shared_ptr<const App> AppRegistry::Find(std::string_view context_path) const {
  std::string path = NormaliseContextPath(std::string(context_path));
  std::lock_guard<std::mutex> lock(mu_);
  auto it = apps_.find(path);
  return it == apps_.end() ? nullptr : it->second;
}

std::vector<std::shared_ptr<const App>> AppRegistry::List() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<std::shared_ptr<const App>> out;
  for (const auto& [path, app] : apps_) out.push_back(app);
  return out;
}

// ---- deployment ------------------------------------------------------------------------------

namespace {

/// True when `dir` already holds this WAR's content: newer than the WAR and marked with its hash.
bool UnpackedFolderIsCurrent(const std::string& war, const std::string& dir,
                             const std::string& sha256) {
  std::error_code ec;
  auto war_time = fs::last_write_time(war, ec);
  if (ec) return false;
  auto dir_time = fs::last_write_time(dir, ec);
  if (ec || dir_time < war_time) return false;
  return deploy::ReadWarMarker(dir) == sha256;
}

/// Unpacks `war` into `dir` unless that is already done, then deploys the folder at `path`.
Status DeployWar(const std::string& war, const std::string& dir, const std::string& path,
                 int64_t max_war_bytes, AppRegistry* registry) {
  std::string label = fs::path(war).filename().string();
  Result<std::string> sha = deploy::Sha256File(war);
  if (!sha.ok()) return sha.status().Annotate(label);
  std::error_code ec;
  uint64_t size = fs::file_size(war, ec);
  if (!UnpackedFolderIsCurrent(war, dir, *sha)) {
    deploy::WarLimits limits;
    limits.max_archive_bytes = max_war_bytes;
    // Unpacked fresh even when the marker matches: the WAR is newer than its folder.
    std::error_code rm;
    fs::remove(fs::path(dir) / deploy::kWarMarkerFile, rm);
    SESSIOND_RETURN_IF_ERROR(deploy::UnpackWarMarked(war, *sha, dir, limits));
  }
  return registry->DeployFolder(path, dir, war, *sha, size);
}

/// Deploys one <Context>: its docBase is a folder, or a WAR unpacked into appBase/NAME.
Status DeployContext(const config::ContextConfig& ctx, const config::HostConfig& host,
                     int64_t max_war_bytes, AppRegistry* registry) {
  std::string path = NormaliseContextPath(ctx.path);
  std::error_code ec;
  if (fs::is_regular_file(ctx.doc_base, ec)) {
    std::string dir = (fs::path(host.app_base) / AppNameOf(path)).string();
    return DeployWar(ctx.doc_base, dir, path, max_war_bytes, registry);
  }
  return registry->DeployFolder(path, ctx.doc_base, ctx.doc_base, "", 0);
}

void Report(std::vector<std::string>* errors, const Status& s) {
  if (!s.ok() && errors) errors->push_back(s.message());
}

}  // namespace

Status DeployHostApps(const config::HostConfig& host, int64_t max_war_bytes, AppRegistry* registry,
                      std::vector<std::string>* errors) {
  std::set<std::string> deployed;  // context paths, so a <Context> wins over appBase
  for (const config::ContextConfig& ctx : host.contexts) {
    std::string path = NormaliseContextPath(ctx.path);
    Status s = DeployContext(ctx, host, max_war_bytes, registry);
    Report(errors, s.ok() ? s : s.Annotate("<Context path=\"" + path + "\"> (line " +
                                           std::to_string(ctx.line) + ")"));
    deployed.insert(path);
  }
  std::error_code ec;
  if (!fs::exists(host.app_base, ec)) return Status::Ok();  // nothing to deploy from
  if (!fs::is_directory(host.app_base, ec))
    return Status::BadRequest("appBase " + host.app_base + " is not a folder");
  std::set<std::string> wars, dirs;  // names, sorted for a stable order
  for (const auto& entry : fs::directory_iterator(host.app_base, ec)) {
    std::string name = entry.path().filename().string();
    if (name.empty() || name[0] == '.') continue;  // hidden, and UnpackWar's temp folders
    if (entry.is_regular_file() && name.size() > 4 && name.ends_with(".war"))
      wars.insert(name.substr(0, name.size() - 4));
    else if (entry.is_directory())
      dirs.insert(name);
  }
  if (ec) return Status::Internal("appBase " + host.app_base + ": " + ec.message());
  for (const std::string& name : wars) {
    std::string path = ContextPathOf(name);
    if (!deployed.insert(path).second) continue;
    std::string base = (fs::path(host.app_base) / name).string();
    Report(errors, DeployWar(base + ".war", base, path, max_war_bytes, registry));
  }
  for (const std::string& name : dirs) {
    std::string path = ContextPathOf(name);
    if (!deployed.insert(path).second) continue;  // also: the folder a WAR was unpacked into
    std::string dir = (fs::path(host.app_base) / name).string();
    Report(errors, registry->DeployFolder(path, dir, dir, "", 0).Annotate(name));
  }
  return Status::Ok();
}

// ---- MIME types ------------------------------------------------------------------------------

std::string MimeTypeFor(const App& app, std::string_view file_name) {
  static const std::unordered_map<std::string, std::string> kTypes = {
      {"html", "text/html; charset=utf-8"},     {"htm", "text/html; charset=utf-8"},
      {"css", "text/css; charset=utf-8"},       {"js", "text/javascript; charset=utf-8"},
      {"mjs", "text/javascript; charset=utf-8"}, {"json", "application/json"},
      {"txt", "text/plain; charset=utf-8"},     {"xml", "application/xml; charset=utf-8"},
      {"csv", "text/csv; charset=utf-8"},       {"md", "text/markdown; charset=utf-8"},
      {"svg", "image/svg+xml"},                 {"png", "image/png"},
      {"jpg", "image/jpeg"},                    {"jpeg", "image/jpeg"},
      {"gif", "image/gif"},                     {"webp", "image/webp"},
      {"avif", "image/avif"},                   {"ico", "image/vnd.microsoft.icon"},
      {"bmp", "image/bmp"},                     {"woff", "font/woff"},
      {"woff2", "font/woff2"},                  {"ttf", "font/ttf"},
      {"otf", "font/otf"},                      {"eot", "application/vnd.ms-fontobject"},
      {"pdf", "application/pdf"},               {"zip", "application/zip"},
      {"gz", "application/gzip"},               {"tar", "application/x-tar"},
      {"war", "application/java-archive"},      {"jar", "application/java-archive"},
      {"wasm", "application/wasm"},             {"map", "application/json"},
      {"webmanifest", "application/manifest+json"},
      {"mp4", "video/mp4"},                     {"webm", "video/webm"},
      {"ogg", "audio/ogg"},                     {"mp3", "audio/mpeg"},
      {"wav", "audio/wav"},                     {"m4a", "audio/mp4"},
      {"rss", "application/rss+xml"},           {"atom", "application/atom+xml"},
      {"xhtml", "application/xhtml+xml; charset=utf-8"},
  };
  size_t slash = file_name.rfind('/');
  std::string_view base = slash == std::string_view::npos ? file_name : file_name.substr(slash + 1);
  size_t dot = base.rfind('.');
  if (dot == std::string_view::npos || dot + 1 == base.size()) return "application/octet-stream";
  std::string ext(base.substr(dot + 1));
  for (char& c : ext) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  auto mapped = app.web.mime_mappings.find(ext);
  if (mapped != app.web.mime_mappings.end()) return mapped->second;
  auto it = kTypes.find(ext);
  return it == kTypes.end() ? "application/octet-stream" : it->second;
}

}  // namespace sessiond::container
