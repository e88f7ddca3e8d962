// `sessctl status`: this node as GET /v1/status describes it.

#include "ctl/cli.h"

namespace sessctl {

namespace {

struct StatusOptions {};

std::string TransferText(const nlohmann::json& t) {
  std::string state = t.value("state", "none");
  if (state == "none") return state;
  std::string text = state + " (" + std::to_string(t.value("received", 0)) + "/" +
                     std::to_string(t.value("expected", 0)) + " sessions)";
  if (t.contains("error") && t["error"].is_string()) text += ": " + t["error"].get<std::string>();
  return text;
}

// "2 alive, 1 suspect, 0 dead" (+ ", 1 left" when any): this node's view of the cluster.
std::string MembersText(const nlohmann::json& m) {
  auto n = [&](const char* state) { return std::to_string(m.value(state, int64_t{0})); };
  std::string text = n("alive") + " alive, " + n("suspect") + " suspect, " + n("dead") + " dead";
  if (m.value("left", int64_t{0}) > 0) text += ", " + n("left") + " left";
  return text;
}

// The status JSON as a Record; keys are the API's, so `-o json` passes them through unchanged.
Record StatusRecord(const nlohmann::json& st) {
  Record r;
  r.Add("Name", "name", Cell(st.value("name", "")));
  r.Add("Version", "version", Cell(st.value("version", "")));
  r.Add("Mode", "mode", Cell(st.value("mode", "")));
  bool ready = st.value("ready", false);
  r.Add("Ready", "ready", Cell(ready, ready ? "yes" : "no"));
  r.Add("Started", "started", Cell(st["started"], st["started"].is_string() ? st["started"].get<std::string>() : "-"));
  int64_t up = st.value("uptime_seconds", int64_t{0});
  r.Add("Uptime", "uptime_seconds", Cell(up, sessiond::FormatDurationMillis(up * 1000)));
  r.Add("Sessions", "sessions", Cell(st["sessions"], st["sessions"].dump()));
  r.Add("Apps", "apps", Cell(st["apps"], st["apps"].dump()));
  r.Add("State transfer", "state_transfer", Cell(st["state_transfer"], TransferText(st["state_transfer"])));
  // A node without the member list answers null: shown as "-" (JSON passes the null through).
  if (st.contains("members")) {
    const nlohmann::json& m = st["members"];
    r.Add("Members", "members", Cell(m, m.is_object() ? MembersText(m) : "-"));
  }
  return r;
}

Status Run(Context& ctx, const StatusOptions&) {
  auto client = ctx.Connect();
  if (!client.ok()) return client.status();
  auto st = (*client)->Get("/v1/status");
  if (!st.ok()) return st.status();
  ctx.MakePrinter().Print(StatusRecord(*st));
  return Status::Ok();
}

}  // namespace

void RegisterStatus(CLI::App& app, Context& ctx) {
  auto opts = std::make_shared<StatusOptions>();
  CLI::App* cmd = app.add_subcommand(
      "status", "show this node: name, version, mode, sessions, apps, members");
  cmd->callback([&ctx, opts] { ctx.action = [&ctx, opts] { return Run(ctx, *opts); }; });
}

}  // namespace sessctl
