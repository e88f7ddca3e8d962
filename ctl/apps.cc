// `sessctl apps`: the deployed apps (GET /v1/apps).

#include "ctl/cli.h"

namespace sessctl {

using nlohmann::json;

namespace {

struct AppsOptions {};

Table AppsTable(const json& apps) {
  Table t({{"NAME", "name"},
           {"PATH", "path"},
           {"VERSION", "version"},
           {"SIZE", "size_bytes", false, true},
           {"DEPLOYED", "deployed"},
           {"DIST", "distributable"},
           {"TIMEOUT", "session_timeout_seconds", false, true},
           {"SHA256", "sha256", true}});
  for (const json& a : apps) {
    std::string path = a.value("path", "");
    std::string deployed = a.value("deployed", "");
    bool dist = a.value("distributable", false);
    int64_t timeout = a.value("session_timeout_seconds", int64_t{0});
    t.AddRow({Cell(a.value("name", "")), Cell(path, path.empty() ? "/" : path),
              Cell(a.value("version", "")),
              Cell(a["size_bytes"], HumanBytes(a.value("size_bytes", uint64_t{0}))),
              Cell(deployed, deployed, ShortTime(deployed)), Cell(dist, dist ? "yes" : "no"),
              Cell(timeout, timeout <= 0 ? "never" : sessiond::FormatDurationMillis(timeout * 1000)),
              Cell(a.value("sha256", ""))});
  }
  return t;
}

Status Run(Context& ctx, const AppsOptions&) {
  auto client = ctx.Connect();
  if (!client.ok()) return client.status();
  auto apps = (*client)->Get("/v1/apps");
  if (!apps.ok()) return apps.status();
  ctx.MakePrinter().Print(AppsTable(*apps));
  return Status::Ok();
}

}  // namespace

void RegisterApps(CLI::App& app, Context& ctx) {
  auto opts = std::make_shared<AppsOptions>();
  CLI::App* cmd = app.add_subcommand("apps", "list the deployed apps");
  cmd->callback([&ctx, opts] { ctx.action = [&ctx, opts] { return Run(ctx, *opts); }; });
}

}  // namespace sessctl
