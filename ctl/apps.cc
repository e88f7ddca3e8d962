// The app commands: `sessctl apps` (GET /v1/apps, with each member's version of every
// farm-deployed app, so skew shows), `sessctl deploy FILE.war [--node NODE]` (PUT
// /v1/apps/{name}[?node=NODE]: the whole cluster, or only NODE) and
// `sessctl undeploy /ctx` (DELETE /v1/apps/{name}).

#include <filesystem>

#include "ctl/cli.h"

namespace sessctl {

using nlohmann::json;

namespace {

/// How long `undeploy --wait` lets the members answer.
constexpr int64_t kUndeployWaitMs = 60000;
/// The HTTP answer may come this long after the server's own wait ended.
constexpr int64_t kAnswerSlackMs = 15000;

struct AppsOptions {};

struct DeployOptions {
  std::string file;
  std::string path;  ///< --path; default: from the file name
  std::string node;  ///< --node: only this node deploys it ("" = every node)
  bool wait = false;
  std::string wait_timeout = "2m";
};

struct UndeployOptions {
  std::string path;
  bool wait = false;
};

/// "/myapp" -> "myapp"; "/" or "" -> "ROOT" (the admin API's {name}).
std::string AppNameOfPath(std::string path) {
  while (!path.empty() && path.back() == '/') path.pop_back();
  if (!path.empty() && path[0] == '/') path.erase(0, 1);
  return path.empty() || path == "ROOT" ? "ROOT" : path;
}

/// "3/3 ok", or what is off: "skew: nodeB missing, nodeC 1a2b3c4d5e6f".
std::string NodesSummary(const json& app) {
  const json& nodes = app["nodes"];
  if (!nodes.is_array() || nodes.empty()) return "-";
  size_t ok = 0;
  std::string off;
  for (const json& n : nodes) {
    std::string status = n.value("status", "");
    if (status == "ok") {
      ++ok;
      continue;
    }
    std::string what = status == "other_version" ? n.value("version", "") : status;
    off += (off.empty() ? "" : ", ") + n.value("node", "") + " " + what;
  }
  if (off.empty()) return std::to_string(ok) + "/" + std::to_string(nodes.size()) + " ok";
  return "skew: " + off;
}

Table AppsTable(const json& apps) {
  Table t({{"NAME", "name"},
           {"PATH", "path"},
           {"VERSION", "version"},
           {"SIZE", "size_bytes", false, true},
           {"DEPLOYED", "deployed"},
           {"NODES", "nodes_summary"},
           {"DIST", "distributable", true},
           {"TIMEOUT", "session_timeout_seconds", true, true},
           {"SHA256", "sha256", true},
           {"FARMED", "farmed", false, false, true},
           {"SKEW", "skew", false, false, true},
           {"NODE-STATUS", "nodes", false, false, true}});
  for (const json& a : apps) {
    std::string path = a.value("path", "");
    std::string deployed = a["deployed"].is_string() ? a["deployed"].get<std::string>() : "";
    bool dist = a.value("distributable", false);
    int64_t timeout = a.value("session_timeout_seconds", int64_t{0});
    std::string summary = NodesSummary(a);
    t.AddRow({Cell(a.value("name", "")), Cell(path, path.empty() ? "/" : path),
              Cell(a.value("version", "")),
              Cell(a["size_bytes"], HumanBytes(a.value("size_bytes", uint64_t{0}))),
              Cell(deployed.empty() ? json() : json(deployed), deployed.empty() ? "-" : deployed,
                   deployed.empty() ? "-" : ShortTime(deployed)),
              Cell(summary), Cell(dist, dist ? "yes" : "no"),
              Cell(timeout, timeout <= 0 ? "never" : sessiond::FormatDurationMillis(timeout * 1000)),
              Cell(a.value("sha256", "")), Cell(a.value("farmed", false), ""),
              Cell(a.value("skew", false), ""), Cell(a.value("nodes", json::array()), "")});
  }
  return t;
}

Status RunApps(Context& ctx, const AppsOptions&) {
  auto client = ctx.Connect();
  if (!client.ok()) return client.status();
  auto apps = (*client)->Get("/v1/apps");
  if (!apps.ok()) return apps.status();
  ctx.MakePrinter().Print(AppsTable(*apps));
  return Status::Ok();
}

/// The per-node result of a deploy or undeploy: this node first, then each member.
Record ResultRecord(const json& r) {
  Table nodes({{"NODE", "node"},
               {"RESULT", "result"},
               {"VERSION", "version"},
               {"TIME", "duration_ms", false, true},
               {"ERROR", "error"},
               {"OK", "ok", false, false, true},
               {"SHA256", "sha256", false, false, true}});
  for (const json& n : r["nodes"]) {
    bool ok = n.value("ok", false);
    std::string error = n["error"].is_string() ? n["error"].get<std::string>() : "";
    std::string result = ok ? "ok" : error == "pending" ? "pending" : "failed";
    int64_t ms = n.value("duration_ms", int64_t{0});
    nodes.AddRow({Cell(n.value("node", "")), Cell(result), Cell(n.value("version", "")),
                  Cell(ms, std::to_string(ms) + "ms"), Cell(n["error"], error.empty() ? "-" : error),
                  Cell(ok, ok ? "yes" : "no"), Cell(n.value("sha256", ""))});
  }
  Record rec;
  std::string path = r.value("path", "");
  rec.Add("App", "name", Cell(r.value("name", "")));
  rec.Add("Path", "path", Cell(path, path.empty() ? "/" : path));
  rec.Add("Version", "version", Cell(r.value("version", "")));
  rec.Add("SHA-256", "sha256", Cell(r.value("sha256", "")));
  rec.Add("Size", "size_bytes", Cell(r["size_bytes"], HumanBytes(r.value("size_bytes", uint64_t{0}))));
  const json only = r.value("only_node", json());
  rec.Add("Scope", "only_node", Cell(only, only.is_string() ? only.get<std::string>() + " only" : "every node"));
  rec.AddTable("Nodes", "nodes", std::move(nodes));
  return rec;
}

/// With --wait, any node that did not make it fails the command, naming it and why.
Status CheckNodes(const json& r, const std::string& what) {
  std::string failed;
  for (const json& n : r["nodes"]) {
    if (n.value("ok", false)) continue;
    std::string error = n["error"].is_string() ? n["error"].get<std::string>() : "failed";
    failed += (failed.empty() ? "" : "; ") + n.value("node", "") + ": " + error;
  }
  if (failed.empty()) return Status::Ok();
  return Status::Conflict(what + " failed on " + failed);
}

Status RunDeploy(Context& ctx, const DeployOptions& o) {
  std::string path = o.path;
  if (path.empty()) path = "/" + std::filesystem::path(o.file).stem().string();
  std::string name = AppNameOfPath(path);
  int64_t wait_ms = 0;
  if (o.wait) {
    auto parsed = sessiond::ParseDurationMillis(o.wait_timeout);
    if (!parsed.ok()) return parsed.status();
    wait_ms = std::max<int64_t>(*parsed, 1000);
  }
  auto client = ctx.Connect(wait_ms + kAnswerSlackMs);
  if (!client.ok()) return client.status();
  std::string url = "/v1/apps/" + UrlEncode(name) + "?wait_seconds=" + std::to_string(wait_ms / 1000);
  if (!o.node.empty()) url += "&node=" + UrlEncode(o.node);
  auto result = (*client)->PutFile(url, o.file);
  if (!result.ok()) return result.status();
  ctx.MakePrinter().Print(ResultRecord(*result));
  return o.wait ? CheckNodes(*result, "deploy of " + name) : Status::Ok();
}

Status RunUndeploy(Context& ctx, const UndeployOptions& o) {
  std::string name = AppNameOfPath(o.path);
  int64_t wait_ms = o.wait ? kUndeployWaitMs : 0;
  auto client = ctx.Connect(wait_ms + kAnswerSlackMs);
  if (!client.ok()) return client.status();
  auto result = (*client)->Delete("/v1/apps/" + UrlEncode(name) + "?wait_seconds=" +
                                  std::to_string(wait_ms / 1000));
  if (!result.ok()) return result.status();
  ctx.MakePrinter().Print(ResultRecord(*result));
  return o.wait ? CheckNodes(*result, "undeploy of " + name) : Status::Ok();
}

}  // namespace

void RegisterApps(CLI::App& app, Context& ctx) {
  auto apps = std::make_shared<AppsOptions>();
  CLI::App* list = app.add_subcommand("apps", "list the deployed apps, with each node's version");
  list->callback([&ctx, apps] { ctx.action = [&ctx, apps] { return RunApps(ctx, *apps); }; });

  auto deploy = std::make_shared<DeployOptions>();
  CLI::App* d = app.add_subcommand("deploy", "farm-deploy a WAR to every node of the cluster");
  d->add_option("file", deploy->file, "the WAR to upload to the node sessctl talks to")
      ->type_name("FILE.war")
      ->required()
      ->check(CLI::ExistingFile);
  d->add_option("--path", deploy->path, "context path (default: from the file name; / for ROOT)")
      ->type_name("/CTX");
  d->add_option("--node", deploy->node,
                 "only NODE deploys it (a rolling deploy's step; the others keep their version)")
      ->type_name("NODE");
  d->add_flag("--wait", deploy->wait, "wait until every alive member (with --node: NODE) serves the new version");
  d->add_option("--wait-timeout", deploy->wait_timeout, "how long --wait waits, e.g. 30s, 5m")
      ->type_name("DUR")
      ->check(DurationCheck())
      ->capture_default_str();
  d->callback([&ctx, deploy] { ctx.action = [&ctx, deploy] { return RunDeploy(ctx, *deploy); }; });

  auto undeploy = std::make_shared<UndeployOptions>();
  CLI::App* u = app.add_subcommand("undeploy", "undeploy an app from every node of the cluster");
  u->add_option("path", undeploy->path, "context path of the app (/ for ROOT)")
      ->type_name("/CTX")
      ->required();
  u->add_flag("--wait", undeploy->wait, "wait until every alive member has undeployed it");
  u->callback([&ctx, undeploy] { ctx.action = [&ctx, undeploy] { return RunUndeploy(ctx, *undeploy); }; });
}

}  // namespace sessctl
