// `sessctl events`: the event log (membership, deploy, drain, admin) from GET /v1/events.

#include <algorithm>
#include <cctype>

#include "ctl/cli.h"

namespace sessctl {

using nlohmann::json;

namespace {

constexpr size_t kPageMax = 1000;

struct EventsOptions {
  std::string since;  // DUR ago, RFC 3339 time, or a sequence number
  size_t limit = 100;
};

/// Where the log starts: a bare number is a sequence number (events after it), an RFC 3339 time
/// or a duration ("1h" = the last hour) is a time.
struct Since {
  int64_t seq = 0;
  int64_t ms = 0;
};

Result<Since> ParseSince(const std::string& text, int64_t now_ms) {
  Since since;
  if (text.empty()) return since;
  if (std::all_of(text.begin(), text.end(), [](unsigned char c) { return std::isdigit(c); })) {
    since.seq = std::stoll(text);
    return since;
  }
  if (auto t = sessiond::ParseRfc3339Millis(text)) {
    since.ms = *t;
    return since;
  }
  auto ago = sessiond::ParseDurationMillis(text);
  if (!ago.ok()) {
    return Status::BadRequest("--since '" + text +
                              "' is neither a duration (1h), an RFC 3339 time nor a sequence number");
  }
  since.ms = std::max<int64_t>(1, now_ms - *ago);
  return since;
}

Table EventsTable() {
  return Table({{"SEQ", "seq", false, true},
                {"TIME", "time"},
                {"KIND", "kind"},
                {"NODE", "node"},
                {"MESSAGE", "message"},
                {"FIELDS", "fields", true}});
}

void AddEventRow(Table& t, const json& e) {
  std::string time = e.value("time", "");
  json fields = e.contains("fields") ? e["fields"] : json::object();
  t.AddRow({Cell(e["seq"], std::to_string(e.value("seq", int64_t{0}))),
            Cell(time, time, ShortTime(time)), Cell(e.value("kind", "")),
            Cell(e.value("node", "")), Cell(e.value("message", "")),
            Cell(fields, fields.dump(-1, ' ', false, json::error_handler_t::replace))});
}

Status Run(Context& ctx, const EventsOptions& o) {
  auto since = ParseSince(o.since, sessiond::WallMillis());
  if (!since.ok()) return since.status();
  auto client = ctx.Connect();
  if (!client.ok()) return client.status();
  Table t = EventsTable();
  int64_t seq = since->seq;
  bool first = true;
  while (o.limit == 0 || t.size() < o.limit) {
    size_t want = o.limit == 0 ? kPageMax : std::min(kPageMax, o.limit - t.size());
    std::string path = "/v1/events?since=" + std::to_string(seq) + "&limit=" + std::to_string(want);
    if (first && since->ms > 0) path += "&since_ms=" + std::to_string(since->ms);
    first = false;
    auto page = (*client)->Get(path);
    if (!page.ok()) return page.status();
    const json& items = (*page)["items"];
    for (const json& e : items) AddEventRow(t, e);
    int64_t next = page->value("next_since", seq);
    if (items.empty() || next <= seq) break;
    seq = next;
  }
  ctx.MakePrinter().Print(t);
  return Status::Ok();
}

}  // namespace

void RegisterEvents(CLI::App& app, Context& ctx) {
  auto o = std::make_shared<EventsOptions>();
  CLI::App* cmd = app.add_subcommand("events", "show the event log: membership, deploy, drain, admin");
  cmd->add_option("--since", o->since,
                  "start after a sequence number, at an RFC 3339 time, or DUR ago (e.g. 1h)")
      ->type_name("SINCE");
  cmd->add_option("--limit", o->limit, "at most N events; 0 = all")
      ->type_name("N")->capture_default_str();
  cmd->callback([&ctx, o] { ctx.action = [&ctx, o] { return Run(ctx, *o); }; });
}

}  // namespace sessctl
