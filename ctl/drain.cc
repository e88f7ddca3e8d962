// `sessctl drain NODE [--grace DUR] [--deadline DUR] [--wait] [--shutdown]` and
// `sessctl undrain NODE [--wait] [--wait-timeout DUR]`: POST/DELETE /v1/nodes/{NODE}/drain on
// any node's endpoint, which forwards the command to NODE over the cluster (DESIGN.md §5
// "Drain", §7).
//
// --wait polls GET /v1/members on the same endpoint until NODE's mode is drained (heartbeats
// carry it) or, with --shutdown, until NODE has left (or the endpoint itself stops answering,
// when NODE is the node it talks to: the command's answer says so, `forwarded` false — that is
// the success the operator asked for, said as such, not a connection error). It gives up at the
// drain's deadline plus kWaitSlackMs.
// `undrain --wait` polls the same member list until NODE is active there, then NODE's own
// /readyz (at the admin URL its heartbeats carry) until 200; it gives up after --wait-timeout.
// Both fail with exit 1 saying what they saw last.

#include <chrono>
#include <functional>
#include <thread>

#include "ctl/cli.h"

namespace sessctl {

namespace {

using nlohmann::json;

/// Heartbeats and goodbyes take a moment to reach the endpoint's member table.
constexpr int64_t kWaitSlackMs = 15000;
constexpr int64_t kPollMs = 100;

struct DrainOptions {
  std::string node;
  std::string grace;
  std::string deadline;
  bool wait = false;
  bool shutdown = false;
};

struct UndrainOptions {
  std::string node;
  bool wait = false;
  std::string wait_timeout = "30s";
};

/// "1m30s" for a number of seconds in the API's JSON.
std::string SecondsText(const json& seconds) {
  if (!seconds.is_number()) return "-";
  return sessiond::FormatDurationMillis(static_cast<int64_t>(seconds.get<double>() * 1000.0 + 0.5));
}

Record DrainRecord(const json& d) {
  Record r;
  r.Add("Node", "node", Cell(d.value("node", "")));
  r.Add("Mode", "mode", Cell(d.value("mode", "")));
  r.Add("Grace", "grace_seconds", Cell(d["grace_seconds"], SecondsText(d["grace_seconds"])));
  r.Add("Deadline", "deadline_seconds", Cell(d["deadline_seconds"], SecondsText(d["deadline_seconds"])));
  bool shutdown = d.value("shutdown", false);
  r.Add("Shutdown", "shutdown", Cell(shutdown, shutdown ? "yes" : "no"));
  bool changed = d.value("changed", false);
  r.Add("Changed", "changed", Cell(changed, changed ? "yes" : "no (it already was)"));
  bool forwarded = d.value("forwarded", false);
  r.Add("Forwarded", "forwarded", Cell(forwarded, forwarded ? "yes" : "no"));
  return r;
}

std::string DrainPath(const std::string& node) { return "/v1/nodes/" + UrlEncode(node) + "/drain"; }

Result<json> DrainBody(const DrainOptions& o) {
  json body = json::object();
  auto seconds = [](const std::string& dur) -> Result<double> {
    auto ms = sessiond::ParseDurationMillis(dur);
    if (!ms.ok()) return ms.status();
    return static_cast<double>(*ms) / 1000.0;
  };
  if (!o.grace.empty()) {
    auto s = seconds(o.grace);
    if (!s.ok()) return s.status();
    body["grace_seconds"] = *s;
  }
  if (!o.deadline.empty()) {
    auto s = seconds(o.deadline);
    if (!s.ok()) return s.status();
    body["deadline_seconds"] = *s;
  }
  if (o.shutdown) body["shutdown"] = true;
  return body;
}

/// NODE's row in the endpoint's member table, or null when it is not there.
json RowOf(const json& members, const std::string& node) {
  for (const json& m : members)
    if (m.value("name", "") == node) return m;
  return json();
}

/// Whether the wait is over: drained, or (with shutdown) gone.
bool WaitDone(const json& row, bool shutdown) {
  if (row.is_null()) return false;
  if (shutdown) {
    std::string state = row.value("state", "");
    return state == "left" || state == "dead";
  }
  return row.value("mode", "") == "drained";
}

/// Calls `step` every kPollMs until it says done (true) or fails, or until `until` (monotonic
/// ms) passes: then kConflict "timed out waiting for <goal> (<last()>)" — what it saw last.
Status PollUntil(int64_t until, const std::function<Result<bool>()>& step, const std::string& goal,
                 const std::function<std::string()>& last) {
  while (sessiond::MonotonicMillis() < until) {
    Result<bool> done = step();
    if (!done.ok()) return done.status();
    if (*done) return Status::Ok();
    std::this_thread::sleep_for(std::chrono::milliseconds(kPollMs));
  }
  return Status::Conflict("timed out waiting for " + goal + " (" + last() + ")");
}

/// How a wait ended well.
enum class WaitEnd { kDone, kEndpointStopped };

Result<WaitEnd> WaitForDrain(Client& client, const DrainOptions& o, const json& answer) {
  double deadline_s = answer.value("deadline_seconds", 0.0);
  int64_t until = sessiond::MonotonicMillis() + static_cast<int64_t>(deadline_s * 1000) + kWaitSlackMs;
  // NODE is the node this endpoint belongs to (it ran the command itself). Known from the
  // answer: with a short grace the node may be gone before the first poll.
  const bool self = !answer.value("forwarded", true);
  bool endpoint_stopped = false;
  std::string last_mode = answer.value("mode", "");
  auto step = [&]() -> Result<bool> {
    auto members = client.Get("/v1/members");
    if (!members.ok()) {
      // The endpoint's own node exited (drain --shutdown of the node we talk to): done.
      endpoint_stopped = self && o.shutdown && members.status().code() == sessiond::Code::kUnavailable;
      if (endpoint_stopped) return true;
      return members.status();
    }
    json row = RowOf(*members, o.node);
    if (!row.is_null()) last_mode = row.value("mode", last_mode);
    return WaitDone(row, o.shutdown);
  };
  SESSIOND_RETURN_IF_ERROR(PollUntil(until, step, o.node + " to " + (o.shutdown ? "drain and exit" : "be drained"),
                                     [&] { return "mode " + last_mode; }));
  return endpoint_stopped ? WaitEnd::kEndpointStopped : WaitEnd::kDone;
}

/// NODE's /readyz, asked where NODE answers: the endpoint itself, or the admin URL NODE's
/// heartbeats carry (without the token: probes need none). kConflict when that URL answers as
/// another node (an admin endpoint on 127.0.0.1 seen from another host).
Result<ProbeAnswer> NodeReadiness(Client& endpoint, const Context& ctx, const json& row) {
  std::string node = row.value("name", "");
  if (row.value("self", false)) return endpoint.Probe("/readyz");
  std::string url = row.value("admin_url", "");
  if (url.empty()) return Status::Conflict(node + " announces no admin URL: its /readyz cannot be checked");
  auto timeout = sessiond::ParseDurationMillis(ctx.global.timeout);
  auto client = Client::Create(url, "", timeout.ok() ? *timeout : 10000);
  if (!client.ok()) return client.status().Annotate(node + "'s admin URL");
  auto answer = (*client)->Probe("/readyz");
  if (!answer.ok()) return answer.status();
  std::string answered_as = answer->body.is_object() ? answer->body.value("node", "") : "";
  if (!answered_as.empty() && answered_as != node) {
    return Status::Conflict(node + "'s admin URL " + url + " (from its heartbeats) answers as " + answered_as +
                            ": its /readyz cannot be checked from here");
  }
  return answer;
}

/// Until NODE is active in the endpoint's member table (its heartbeats) and its /readyz is 200.
Status WaitForUndrain(Client& client, const Context& ctx, const UndrainOptions& o) {
  auto wait = sessiond::ParseDurationMillis(o.wait_timeout);
  if (!wait.ok()) return wait.status();
  int64_t until = sessiond::MonotonicMillis() + *wait;
  std::string last = "no answer yet";
  auto step = [&]() -> Result<bool> {
    auto members = client.Get("/v1/members");
    if (!members.ok()) return members.status();
    json row = RowOf(*members, o.node);
    if (row.is_null() || row.value("state", "") != "alive") {
      last = row.is_null() ? "not in the member list" : "state " + row.value("state", "");
      return false;
    }
    if (row.value("mode", "") != "active") {
      last = "mode " + row.value("mode", "");
      return false;
    }
    auto ready = NodeReadiness(client, ctx, row);
    if (!ready.ok() && ready.status().code() == sessiond::Code::kConflict) return ready.status();
    last = ready.ok() ? "mode active, /readyz " + std::to_string(ready->status)
                      : "mode active, /readyz: " + ready.status().message();
    return ready.ok() && ready->status == 200;
  };
  return PollUntil(until, step, o.node + " to be active and ready", [&] { return last; });
}

Status RunDrain(Context& ctx, const DrainOptions& o) {
  auto body = DrainBody(o);
  if (!body.ok()) return body.status();
  auto client = ctx.Connect();
  if (!client.ok()) return client.status();
  auto answer = (*client)->Post(DrainPath(o.node), *body);
  if (!answer.ok()) return answer.status();
  if (o.wait) {
    Result<WaitEnd> end = WaitForDrain(**client, o, *answer);
    if (!end.ok()) return end.status();
    (*answer)["mode"] = "drained";
    if (*end == WaitEnd::kEndpointStopped) {
      *ctx.err << o.node << " is drained and has stopped; its endpoint went away with it, as "
               << "--shutdown asks\n";
    }
  }
  ctx.MakePrinter().Print(DrainRecord(*answer));
  return Status::Ok();
}

Status RunUndrain(Context& ctx, const UndrainOptions& o) {
  auto client = ctx.Connect();
  if (!client.ok()) return client.status();
  auto answer = (*client)->Delete(DrainPath(o.node));
  if (!answer.ok()) return answer.status();
  if (o.wait) SESSIOND_RETURN_IF_ERROR(WaitForUndrain(**client, ctx, o));
  ctx.MakePrinter().Print(DrainRecord(*answer));
  return Status::Ok();
}

}  // namespace

void RegisterDrain(CLI::App& app, Context& ctx) {
  auto o = std::make_shared<DrainOptions>();
  CLI::App* drain = app.add_subcommand(
      "drain", "take NODE out of service: /readyz 503 and agent 'drain' for the grace, then 503 to "
               "new requests once replication is flushed");
  drain->add_option("NODE", o->node, "the node's name (jvmRoute), as sessctl members shows it")->required();
  drain->add_option("--grace", o->grace, "how long load balancers get to notice (default: the node's, 5s)")
      ->type_name("DUR")->check(DurationCheck());
  drain->add_option("--deadline", o->deadline,
                    "the longest the drain may take from now (default: grace + 30s)")
      ->type_name("DUR")->check(DurationCheck());
  drain->add_flag("--wait", o->wait, "return when NODE is drained (with --shutdown: when it has exited)");
  drain->add_flag("--shutdown", o->shutdown, "stop NODE's process (exit 0) once it is drained");
  drain->callback([&ctx, o] { ctx.action = [&ctx, o] { return RunDrain(ctx, *o); }; });

  auto u = std::make_shared<UndrainOptions>();
  CLI::App* undrain = app.add_subcommand("undrain", "put NODE back in service (mode active)");
  undrain->add_option("NODE", u->node, "the node's name (jvmRoute)")->required();
  undrain->add_flag("--wait", u->wait, "return when NODE is active in the member list and its /readyz is 200");
  undrain->add_option("--wait-timeout", u->wait_timeout, "how long --wait waits, e.g. 30s, 2m")
      ->type_name("DUR")
      ->check(DurationCheck())
      ->capture_default_str();
  undrain->callback([&ctx, u] { ctx.action = [&ctx, u] { return RunUndrain(ctx, *u); }; });
}

}  // namespace sessctl
