// The app routes: GET /v1/apps (with each member's version of every farm-deployed app, so skew
// shows), PUT /v1/apps/{name} (farm deploy; the body is the WAR) and DELETE /v1/apps/{name}.
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <set>

#include "admin/admin_internal.h"

namespace sessiond::admin {

using nlohmann::json;

namespace {

constexpr int64_t kMaxWaitSeconds = 3600;

std::string ShortVersion(const std::string& sha256) {
  return sha256.empty() ? "folder" : sha256.substr(0, 12);
}

/// "myapp" -> "/myapp"; "ROOT" -> "".
std::string ContextPathOfName(const std::string& name) { return name == "ROOT" ? "" : "/" + name; }

json NodeResultJson(const DeployNodeResult& n) {
  return {{"node", n.node},
          {"ok", n.ok},
          {"error", n.error.empty() ? json() : json(n.error)},
          {"sha256", n.sha256},
          {"version", n.sha256.empty() ? "" : n.sha256.substr(0, 12)},
          {"duration_ms", n.duration_ms}};
}

json DeployResultJson(const DeployResult& r) {
  json nodes = json::array();
  bool ok = true;
  for (const DeployNodeResult& n : r.nodes) {
    nodes.push_back(NodeResultJson(n));
    ok = ok && n.ok;
  }
  return {{"name", r.name},     {"path", ContextPathOfName(r.name)},
          {"sha256", r.sha256}, {"version", r.sha256.empty() ? "" : r.sha256.substr(0, 12)},
          {"size_bytes", r.size_bytes}, {"ok", ok}, {"nodes", nodes},
          {"only_node", r.only_node.empty() ? json() : json(r.only_node)}};
}

/// Each member's status for the farm-deployed app `name`, against `reference` (the version this
/// node serves, else the first member's): ok | other_version | missing | no_answer.
json NodeStatusJson(const std::vector<MemberFarm>& farms, const std::string& name,
                    const std::string& reference, bool* skew) {
  json rows = json::array();
  for (const MemberFarm& m : farms) {
    std::string status = "no_answer", sha;
    if (m.answered) {
      auto it = std::find_if(m.apps.begin(), m.apps.end(), [&](const FarmedApp& a) { return a.name == name; });
      status = it == m.apps.end() ? "missing" : it->sha256 == reference ? "ok" : "other_version";
      if (it != m.apps.end()) sha = it->sha256;
    }
    if (status != "ok") *skew = true;
    rows.push_back({{"node", m.node}, {"status", status}, {"sha256", sha},
                    {"version", sha.empty() ? "" : sha.substr(0, 12)}});
  }
  return rows;
}

/// The version the cluster should serve, as far as this node can tell: its own, else the first
/// member's that has it.
std::string ReferenceVersion(const std::vector<MemberFarm>& farms, const std::string& name) {
  for (const MemberFarm& m : farms)
    for (const FarmedApp& a : m.apps)
      if (a.name == name) return a.sha256;
  return "";
}

Result<int64_t> WaitMillis(const Request& req) {
  Result<int64_t> seconds = IntParam(req, "wait_seconds", 0, 0, kMaxWaitSeconds);
  if (!seconds.ok()) return seconds.status();
  return *seconds * 1000;
}

/// ?node=NAME of a per-node deploy ("" when absent): a jvmRoute, so one short printable word.
Result<std::string> OnlyNodeParam(const Request& req) {
  const std::string* node = req.Param("node");
  if (!node) return std::string();
  bool printable = std::all_of(node->begin(), node->end(), [](unsigned char c) { return c > 0x20 && c < 0x7f; });
  if (node->empty() || node->size() > 128 || !printable)
    return Status::BadRequest("query parameter 'node' must name a node (its jvmRoute, as sessctl members shows it)");
  return *node;
}

/// The upload's name from the path: one segment (deploy::ValidateAppName says the rest).
Status CheckName(const std::string& name) {
  if (name.empty() || name.find('/') != std::string::npos)
    return Status::BadRequest("app name \"" + name + "\": one path segment, e.g. /v1/apps/myapp (ROOT for /)");
  return Status::Ok();
}

}  // namespace

Response Api::ListApps(const Request&) const {
  if (!services_.apps) return ErrorResponse(Unwired("the app list"));
  std::vector<MemberFarm> farms = services_.farm_apps ? services_.farm_apps() : std::vector<MemberFarm>{};
  std::set<std::string> farmed;
  for (const MemberFarm& m : farms)
    for (const FarmedApp& a : m.apps) farmed.insert(a.name);
  json items = json::array();
  std::set<std::string> listed;
  for (const container::AppInfo& app : services_.apps()) {
    json item = {{"name", app.name},
                 {"path", app.path},
                 {"sha256", app.sha256},
                 {"version", ShortVersion(app.sha256)},
                 {"size_bytes", app.size_bytes},
                 {"deployed", FormatRfc3339Millis(app.deployed_ms)},
                 {"distributable", app.distributable},
                 {"session_timeout_seconds", app.session_timeout_s},
                 {"farmed", farmed.count(app.name) > 0}};
    bool skew = false;
    item["nodes"] = farmed.count(app.name) ? NodeStatusJson(farms, app.name, app.sha256, &skew) : json::array();
    item["skew"] = skew;
    listed.insert(app.name);
    items.push_back(std::move(item));
  }
  // Farm-deployed apps this node does not serve: skew, by definition.
  for (const std::string& name : farmed) {
    if (listed.count(name)) continue;
    std::string ref = ReferenceVersion(farms, name);
    bool skew = true;
    json item = {{"name", name}, {"path", ContextPathOfName(name)}, {"sha256", ""}, {"version", "missing"},
                 {"size_bytes", 0}, {"deployed", nullptr}, {"distributable", false},
                 {"session_timeout_seconds", 0}, {"farmed", true}};
    item["nodes"] = NodeStatusJson(farms, name, ref, &skew);
    item["skew"] = true;
    items.push_back(std::move(item));
  }
  return JsonResponse(items);
}

Response Api::PutApp(const Request& req, const std::string& name) const {
  Status named = CheckName(name);
  if (!named.ok()) return ErrorResponse(named);
  Result<int64_t> wait = WaitMillis(req);
  if (!wait.ok()) return ErrorResponse(wait.status());
  Result<std::string> only_node = OnlyNodeParam(req);
  if (!only_node.ok()) return ErrorResponse(only_node.status());
  if (!services_.deploy_app || services_.upload_dir.empty()) return ErrorResponse(Unwired("farm deploy"));
  std::string file = services_.upload_dir + "/.upload-XXXXXX";
  int fd = ::mkstemp(file.data());
  if (fd < 0) return ErrorResponse(Status::Internal("cannot create an upload file in " + services_.upload_dir));
  ::close(fd);
  Status received;
  if (req.receive_body) {
    received = req.receive_body(file, services_.max_upload_bytes);
  } else if (static_cast<int64_t>(req.body.size()) > services_.max_upload_bytes) {
    received = Status::TooLarge("WAR over " + std::to_string(services_.max_upload_bytes) + " bytes (maxWarBytes)");
  } else {
    FILE* out = std::fopen(file.c_str(), "wb");
    if (!out || std::fwrite(req.body.data(), 1, req.body.size(), out) != req.body.size())
      received = Status::Internal("cannot write " + file);
    if (out) std::fclose(out);
  }
  if (received.ok() && std::filesystem::file_size(file) == 0)
    received = Status::BadRequest("the request body is empty: send the WAR (sessctl deploy FILE.war)");
  if (!received.ok()) {
    ::unlink(file.c_str());
    return ErrorResponse(received);
  }
  Result<DeployResult> result = services_.deploy_app(name, file, *only_node, *wait);
  ::unlink(file.c_str());  // taken by rename on success; a refused WAR leaves nothing behind
  if (!result.ok()) return ErrorResponse(result.status());
  RecordEvent("deploy " + name + " (" + ShortVersion(result->sha256) + ")" +
              (only_node->empty() ? "" : " to " + *only_node + " only"));
  return JsonResponse(DeployResultJson(*result));
}

Response Api::DeleteApp(const Request& req, const std::string& name) const {
  Status named = CheckName(name);
  if (!named.ok()) return ErrorResponse(named);
  Result<int64_t> wait = WaitMillis(req);
  if (!wait.ok()) return ErrorResponse(wait.status());
  if (!services_.undeploy_app) return ErrorResponse(Unwired("farm undeploy"));
  Result<DeployResult> result = services_.undeploy_app(name, *wait);
  if (!result.ok()) return ErrorResponse(result.status());
  RecordEvent("undeploy " + name);
  return JsonResponse(DeployResultJson(*result));
}

}  // namespace sessiond::admin
