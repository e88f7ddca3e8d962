// `sessctl sessions list|show|expire`.

#include "ctl/cli.h"

namespace sessctl {

using nlohmann::json;

namespace {

constexpr size_t kPageMax = 1000;  // the API's largest page

struct ListOptions {
  std::string app;
  std::string node;
  std::string idle_over;  // DUR
  size_t limit = 0;       // 0 = all
};

struct ShowOptions {
  std::string id;
};

struct ExpireOptions {
  std::vector<std::string> ids;
  std::string idle_over;  // DUR
  std::string app;
  bool dry_run = false;
};

// "3F2A91C0D4E5F6A7…" -> "3F2A91C0D4.." for 80 columns; wide and JSON carry the full id.
std::string ShortId(const std::string& id) { return id.size() > 12 ? id.substr(0, 10) + ".." : id; }

std::string Str(const json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : "";
}

int64_t Int(const json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_number() ? it->get<int64_t>() : 0;
}

std::string AppText(const std::string& path) { return path.empty() ? "/" : path; }

Cell TimeCell(const json& s, const char* key) {
  std::string t = Str(s, key);
  return Cell(s.contains(key) ? s[key] : json(), t, ShortTime(t));
}

Table SessionTable() {
  return Table({{"APP", "app"},
                {"ID", "id"},
                {"LAST-NODE", "last_node"},
                {"CREATED", "created"},
                {"LAST-ACCESS", "last_accessed"},
                {"IDLE", "idle_seconds", false, true},
                {"SIZE", "size_bytes", false, true},
                {"MAX-INACTIVE", "max_inactive_seconds", true, true},
                {"DIST", "distributable", true},
                {"VERSION", "version", true, true}});
}

void AddSessionRow(Table& t, const json& s) {
  std::string id = Str(s, "id");
  int64_t idle = Int(s, "idle_seconds");
  int64_t max_inactive = Int(s, "max_inactive_seconds");
  bool dist = s.value("distributable", false);
  t.AddRow({Cell(s["app"], AppText(Str(s, "app"))), Cell(id, id, ShortId(id)),
            Cell(Str(s, "last_node")), TimeCell(s, "created"), TimeCell(s, "last_accessed"),
            Cell(idle, sessiond::FormatDurationMillis(idle * 1000)),
            Cell(s["size_bytes"], HumanBytes(static_cast<uint64_t>(Int(s, "size_bytes")))),
            Cell(max_inactive, max_inactive <= 0 ? "never" : sessiond::FormatDurationMillis(max_inactive * 1000)),
            Cell(dist, dist ? "yes" : "no"), Cell(s["version"], std::to_string(Int(s, "version")))});
}

// GET /v1/sessions page after page (following next_cursor) until `limit` items (0 = all).
Result<std::vector<json>> FetchSessions(Client& client, const ListOptions& o) {
  std::string query;
  if (!o.app.empty()) query += "&app=" + UrlEncode(o.app);
  if (!o.node.empty()) query += "&node=" + UrlEncode(o.node);
  if (!o.idle_over.empty()) {
    auto ms = sessiond::ParseDurationMillis(o.idle_over);
    if (!ms.ok()) return ms.status();
    query += "&idle_over=" + std::to_string(*ms / 1000);
  }
  std::vector<json> items;
  std::string cursor;
  for (;;) {
    size_t want = o.limit == 0 ? kPageMax : std::min(kPageMax, o.limit - items.size());
    std::string path = "/v1/sessions?limit=" + std::to_string(want) + query;
    if (!cursor.empty()) path += "&cursor=" + UrlEncode(cursor);
    auto page = client.Get(path);
    if (!page.ok()) return page.status();
    for (const json& s : (*page)["items"]) items.push_back(s);
    const json& next = (*page)["next_cursor"];
    if (!next.is_string() || (o.limit > 0 && items.size() >= o.limit)) break;
    cursor = next.get<std::string>();
  }
  return items;
}

Status RunList(Context& ctx, const ListOptions& o) {
  auto client = ctx.Connect();
  if (!client.ok()) return client.status();
  auto items = FetchSessions(**client, o);
  if (!items.ok()) return items.status();
  Table t = SessionTable();
  for (const json& s : *items) AddSessionRow(t, s);
  ctx.MakePrinter().Print(t);
  return Status::Ok();
}

Record SessionRecord(const json& s) {
  Table one = SessionTable();
  AddSessionRow(one, s);
  Record r;
  static const char* kLabels[] = {"App", "ID", "Last node", "Created", "Last access", "Idle",
                                  "Size", "Max inactive", "Distributable", "Version"};
  for (size_t i = 0; i < one.columns().size(); ++i) {
    Cell c = one.rows()[0][i];
    c.brief.clear();  // one record has room for full ids and times
    r.Add(kLabels[i], one.columns()[i].key, c);
  }
  r.AddObject("Attributes", "attributes", s.value("attributes", json::object()));
  Table holders({{"NODE", "node"}, {"VERSION", "version", false, true}});
  for (const json& h : s.value("holders", json::array()))
    holders.AddRow({Cell(Str(h, "node")), Cell(h["version"], std::to_string(Int(h, "version")))});
  r.AddTable("Holders", "holders", std::move(holders));
  return r;
}

Status RunShow(Context& ctx, const ShowOptions& o) {
  auto client = ctx.Connect();
  if (!client.ok()) return client.status();
  auto s = (*client)->Get("/v1/sessions/" + UrlEncode(o.id));
  if (!s.ok()) return s.status();
  ctx.MakePrinter().Print(SessionRecord(*s));
  return Status::Ok();
}

// Expire by id: one DELETE each (or a GET for --dry-run); every id is tried, the first failure
// decides the exit code.
Status ExpireIds(Context& ctx, Client& client, const ExpireOptions& o) {
  Table t({{"ID", "id"}, {"RESULT", "result"}});
  Status first;
  for (const std::string& id : o.ids) {
    std::string path = "/v1/sessions/" + UrlEncode(id);
    auto res = o.dry_run ? client.Get(path) : client.Delete(path);
    std::string result = o.dry_run ? "would expire" : "expired";
    if (!res.ok()) {
      result = std::string(sessiond::ErrorWordOf(res.status().code()));
      if (first.ok()) first = res.status();
    }
    t.AddRow({Cell(id), Cell(result)});
  }
  ctx.MakePrinter().Print(t);
  return first;
}

Status ExpireIdle(Context& ctx, Client& client, const ExpireOptions& o) {
  auto ms = sessiond::ParseDurationMillis(o.idle_over);
  if (!ms.ok()) return ms.status();
  if (o.dry_run) {
    auto items = FetchSessions(client, {o.app, "", o.idle_over, 0});
    if (!items.ok()) return items.status();
    Table t = SessionTable();
    for (const json& s : *items) AddSessionRow(t, s);
    ctx.MakePrinter().Print(t);
    return Status::Ok();
  }
  json body = {{"idle_over_seconds", *ms / 1000}};
  if (!o.app.empty()) body["app"] = o.app;
  auto res = client.Post("/v1/sessions/expire", body);
  if (!res.ok()) return res.status();
  Record r;
  r.Add("Expired", "expired", Cell((*res)["expired"], (*res)["expired"].dump()));
  ctx.MakePrinter().Print(r);
  return Status::Ok();
}

Status RunExpire(Context& ctx, const ExpireOptions& o) {
  auto client = ctx.Connect();
  if (!client.ok()) return client.status();
  return o.ids.empty() ? ExpireIdle(ctx, **client, o) : ExpireIds(ctx, **client, o);
}

template <typename Options, typename RunFn>
void Bind(CLI::App* cmd, Context& ctx, std::shared_ptr<Options> opts, RunFn run) {
  cmd->callback([&ctx, opts, run] { ctx.action = [&ctx, opts, run] { return run(ctx, *opts); }; });
}

void RegisterList(CLI::App& sessions, Context& ctx) {
  auto o = std::make_shared<ListOptions>();
  CLI::App* cmd = sessions.add_subcommand("list", "list sessions, sorted by id");
  cmd->add_option("--app", o->app, "only sessions of this app (context path, e.g. /myapp)")
      ->type_name("APP");
  cmd->add_option("--node", o->node, "only sessions last served by this node")
      ->type_name("NODE");
  cmd->add_option("--idle-over", o->idle_over, "only sessions idle longer than DUR")
      ->type_name("DUR")
      ->check(DurationCheck());
  cmd->add_option("--limit", o->limit, "at most N sessions (default: all)")
      ->type_name("N");
  Bind(cmd, ctx, o, RunList);
}

void RegisterShow(CLI::App& sessions, Context& ctx) {
  auto o = std::make_shared<ShowOptions>();
  CLI::App* cmd = sessions.add_subcommand("show", "show one session with its attributes and holders");
  cmd->add_option("ID", o->id, "the session id")->type_name("ID")->required();
  Bind(cmd, ctx, o, RunShow);
}

void RegisterExpire(CLI::App& sessions, Context& ctx) {
  auto o = std::make_shared<ExpireOptions>();
  CLI::App* cmd = sessions.add_subcommand(
      "expire", "invalidate sessions cluster-wide: the given IDs, or all idle over --idle-over");
  CLI::Option* ids = cmd->add_option("ID", o->ids, "session ids to invalidate")->type_name("ID");
  CLI::Option* idle = cmd->add_option("--idle-over", o->idle_over, "expire sessions idle longer than DUR")
                             ->type_name("DUR")
                             ->check(DurationCheck());
  cmd->add_option("--app", o->app, "with --idle-over: only this app")
      ->type_name("APP")->needs(idle);
  cmd->add_flag("--dry-run", o->dry_run, "list what would be expired; change nothing");
  ids->excludes(idle);
  cmd->parse_complete_callback([o] {
    if (o->ids.empty() && o->idle_over.empty())
      throw CLI::ValidationError("sessions expire", "give session IDs or --idle-over DUR");
    auto ms = sessiond::ParseDurationMillis(o->idle_over);
    if (!o->idle_over.empty() && ms.ok() && *ms < 1000)
      throw CLI::ValidationError("--idle-over", "must be at least 1s");
  });
  Bind(cmd, ctx, o, RunExpire);
}

}  // namespace

void RegisterSessions(CLI::App& app, Context& ctx) {
  CLI::App* sessions = app.add_subcommand("sessions", "list, show and expire sessions");
  sessions->require_subcommand(1);
  RegisterList(*sessions, ctx);
  RegisterShow(*sessions, ctx);
  RegisterExpire(*sessions, ctx);
}

}  // namespace sessctl
