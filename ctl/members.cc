// `sessctl members [--state S] [--watch]`: this node's view of the cluster (GET /v1/members), as
// `consul members` shows it, or — with --watch — one line per change as the node sees it.

#include "ctl/members.h"

#include <algorithm>
#include <csignal>
#include <cstdio>
#include <ctime>
#include <map>

#include "ctl/cli.h"

namespace sessctl {

using nlohmann::json;

namespace {

struct MembersOptions {
  std::string state;           // comma list, validated at parse time
  bool watch = false;
  std::string interval = "1s";  // DUR between polls
  size_t count = 0;             // --watch stops after this many changes; 0 = until interrupted
};

std::string Str(const json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : "";
}

json Field(const json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() ? *it : json();
}

std::string PadTo(const std::string& s, size_t width) {
  return s.size() >= width ? s : s + std::string(width - s.size(), ' ');
}

Cell IncarnationCell(const json& m) {
  json v = Field(m, "incarnation");
  int64_t ms = v.is_number() ? v.get<int64_t>() : 0;
  return Cell(v, ms > 0 ? sessiond::FormatRfc3339Millis(ms) : "-");
}

}  // namespace

sessiond::Result<std::vector<std::string>> ParseStateList(const std::string& text) {
  std::vector<std::string> states;
  for (size_t start = 0; start <= text.size();) {
    size_t comma = std::min(text.find(',', start), text.size());
    std::string word = text.substr(start, comma - start);
    if (std::find(kMemberStates.begin(), kMemberStates.end(), word) == kMemberStates.end()) {
      return Status::BadRequest("--state: '" + word +
                                "' is not a member state (alive, suspect, dead, left)");
    }
    states.push_back(word);
    start = comma + 1;
  }
  return states;
}

std::string LastSeenText(const json& m) {
  if (m.value("self", false)) return "now";
  json ago = Field(m, "last_seen_seconds_ago");
  if (!ago.is_number()) return "never";
  double seconds = ago.get<double>();
  // Tenths under 10 s: heartbeats come every 500 ms, so "0.4s" vs "2.9s" is the signal.
  if (seconds < 10) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.1fs ago", seconds);
    return buf;
  }
  return sessiond::FormatDurationMillis(static_cast<int64_t>(seconds * 1000)) + " ago";
}

Table MembersTable(const json& members) {
  Table t({{"NAME", "name"},
           {"ADDRESS", "address"},
           {"STATE", "state"},
           {"MODE", "mode"},
           {"SESSIONS", "sessions", false, true},
           {"LAST-SEEN", "last_seen"},
           {"VERSION", "version"},
           {"ADMIN-URL", "admin_url", true},
           {"INCARNATION", "incarnation", true},
           {"STATIC", "static", true},
           {"", "last_seen_seconds_ago", false, false, true},
           {"", "state_since", false, false, true},
           {"", "protocol", false, false, true},
           {"", "self", false, false, true}});
  for (const json& m : members) {
    bool is_static = m.value("static", false);
    json sessions = Field(m, "sessions");
    t.AddRow({Cell(Str(m, "name")), Cell(Str(m, "address")), Cell(Str(m, "state")),
              Cell(Str(m, "mode")), Cell(sessions, sessions.is_null() ? "-" : sessions.dump()),
              Cell(Field(m, "last_seen"), LastSeenText(m)), Cell(Str(m, "version")),
              Cell(Field(m, "admin_url"), Str(m, "admin_url").empty() ? "-" : Str(m, "admin_url")),
              IncarnationCell(m), Cell(is_static, is_static ? "yes" : "no"),
              Cell(Field(m, "last_seen_seconds_ago"), ""), Cell(Field(m, "state_since"), ""),
              Cell(Field(m, "protocol"), ""), Cell(Field(m, "self"), "")});
  }
  return t;
}

// ---- --watch: the diff and its output ------------------------------------------------------

std::vector<MemberChange> DiffMembers(const json& previous, const json& current) {
  std::map<std::string, const json*> before;
  for (const json& m : previous) before[Str(m, "name")] = &m;
  std::vector<MemberChange> changes;
  for (const json& m : current) {
    MemberChange c{Str(m, "name"), Str(m, "state"), Str(m, "mode"), std::nullopt, std::nullopt};
    auto it = before.find(c.name);
    if (it != before.end()) {
      std::string state = Str(*it->second, "state"), mode = Str(*it->second, "mode");
      before.erase(it);
      if (state == c.state && mode == c.mode) continue;
      c.previous_state = state;
      c.previous_mode = mode;
    }
    changes.push_back(std::move(c));
  }
  // What is left in `before` is no longer listed (the node forgot it): say so once.
  for (const auto& [name, m] : before)
    changes.push_back({name, "gone", "", Str(*m, "state"), Str(*m, "mode")});
  return changes;
}

nlohmann::ordered_json ChangeJson(const MemberChange& c, int64_t time_ms) {
  using nlohmann::ordered_json;
  auto opt = [](const std::optional<std::string>& s) {
    return s ? ordered_json(*s) : ordered_json();
  };
  return {{"time", sessiond::FormatRfc3339Millis(time_ms)},
          {"name", c.name},
          {"state", c.state},
          {"mode", c.mode.empty() ? ordered_json() : ordered_json(c.mode)},
          {"previous_state", opt(c.previous_state)},
          {"previous_mode", opt(c.previous_mode)}};
}

namespace {

constexpr size_t kNameWidth = 16, kStateWidth = 8, kModeWidth = 9;

// "2026-11-25T01:02:03.456Z" -> "01:02:03.456" for 80 columns (UTC, as every sessctl time).
std::string WatchTime(int64_t time_ms, bool wide) {
  std::string t = sessiond::FormatRfc3339Millis(time_ms);
  return wide || t.size() < 23 ? t : t.substr(11, 12);
}

std::string ChangeRow(const std::string& time, const std::string& name, const std::string& state,
                      const std::string& mode, const std::string& previous, size_t time_width) {
  return PadTo(time, time_width) + "  " + PadTo(name, kNameWidth) + "  " +
         PadTo(state, kStateWidth) + "  " + PadTo(mode, kModeWidth) + "  " + previous;
}

}  // namespace

std::string ChangeHeader(bool wide) {
  return ChangeRow("TIME", "NAME", "STATE", "MODE", "PREVIOUS", WatchTime(0, wide).size());
}

std::string ChangeLine(const MemberChange& c, int64_t time_ms, bool wide) {
  std::string previous = !c.previous_state ? "appeared"
                                           : *c.previous_state + "/" + c.previous_mode.value_or("");
  std::string time = WatchTime(time_ms, wide);
  return ChangeRow(time, c.name, c.state, c.mode.empty() ? "-" : c.mode, previous, time.size());
}

namespace {

// SIGINT ends --watch with exit 0: the handler only sets a flag, which the poll loop checks.
volatile std::sig_atomic_t g_interrupted = 0;

extern "C" void OnInterrupt(int) { g_interrupted = 1; }

// Installs OnInterrupt for SIGINT and SIGTERM for the lifetime of the watch, then restores the
// previous handlers (sessctl is also run in-process by the tests).
class InterruptScope {
 public:
  InterruptScope() {
    g_interrupted = 0;
    struct sigaction sa = {};
    sa.sa_handler = OnInterrupt;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &old_int_);
    sigaction(SIGTERM, &sa, &old_term_);
  }
  ~InterruptScope() {
    sigaction(SIGINT, &old_int_, nullptr);
    sigaction(SIGTERM, &old_term_, nullptr);
  }
  static bool interrupted() { return g_interrupted != 0; }

  /// Sleeps `ms` in short slices; false as soon as an interrupt arrived.
  static bool Sleep(int64_t ms) {
    for (int64_t left = ms; left > 0 && !interrupted(); left -= 50) {
      int64_t slice = std::min<int64_t>(left, 50);
      timespec ts{0, static_cast<long>(slice * 1000000)};
      nanosleep(&ts, nullptr);
    }
    return !interrupted();
  }

 private:
  struct sigaction old_int_ = {}, old_term_ = {};
};

class ChangePrinter {
 public:
  explicit ChangePrinter(const Context& ctx)
      : out_(*ctx.out), format_(ctx.MakePrinter().format()), headers_(!ctx.global.no_headers) {}
  // After the first answer, so an unreachable node prints only its error.
  void PrintHeader() {
    if (format_ != OutputFormat::kJson && headers_)
      out_ << ChangeHeader(format_ == OutputFormat::kWide) << "\n" << std::flush;
  }
  // One line per change, flushed at once: the consumer is often a pipe (jq, a log).
  void Print(const MemberChange& c, int64_t time_ms) {
    if (format_ == OutputFormat::kJson)
      out_ << ChangeJson(c, time_ms).dump(-1, ' ', false, json::error_handler_t::replace);
    else
      out_ << ChangeLine(c, time_ms, format_ == OutputFormat::kWide);
    out_ << "\n" << std::flush;
  }

 private:
  std::ostream& out_;
  OutputFormat format_;
  bool headers_;
};

bool Wanted(const MemberChange& c, const std::vector<std::string>& states) {
  return states.empty() || std::find(states.begin(), states.end(), c.state) != states.end();
}

Status Lost(const Context& ctx, const Status& why) {
  if (why.code() != sessiond::Code::kUnavailable) return why;
  return Status::Unavailable("lost the connection to " + ctx.global.endpoint +
                             " while watching members: " + why.message());
}

// Polls until interrupted or `count` changes were printed. The node's list is fetched whole and
// the filter applies to each change's new state, so a member leaving the filtered set is seen.
Status Watch(Context& ctx, Client& client, const MembersOptions& o,
             const std::vector<std::string>& states) {
  auto interval = sessiond::ParseDurationMillis(o.interval);
  if (!interval.ok()) return interval.status();
  InterruptScope scope;
  ChangePrinter printer(ctx);
  json previous = json::array();
  size_t printed = 0;
  for (bool first = true;; first = false) {
    auto current = client.Get("/v1/members");
    if (scope.interrupted()) return Status::Ok();
    if (!current.ok()) return first ? current.status() : Lost(ctx, current.status());
    if (first) printer.PrintHeader();
    int64_t now = sessiond::WallMillis();
    for (const MemberChange& c : DiffMembers(previous, *current)) {
      if (!Wanted(c, states)) continue;
      printer.Print(c, now);
      if (o.count > 0 && ++printed >= o.count) return Status::Ok();
    }
    previous = std::move(*current);
    if (!scope.Sleep(*interval)) return Status::Ok();
  }
}

// Polling a node faster than its heartbeats (500 ms by default) shows nothing more; under 100 ms
// it only loads the node.
CLI::Validator IntervalCheck() {
  return CLI::Validator(
      [](std::string& text) {
        auto ms = sessiond::ParseDurationMillis(text);
        return !ms.ok() || *ms >= 100 ? std::string() : "--interval must be at least 100ms";
      },
      "");
}

Status Run(Context& ctx, const MembersOptions& o) {
  std::vector<std::string> states;
  if (!o.state.empty()) {
    auto parsed = ParseStateList(o.state);
    if (!parsed.ok()) return parsed.status();
    states = std::move(*parsed);
  }
  auto client = ctx.Connect();
  if (!client.ok()) return client.status();
  if (o.watch) return Watch(ctx, **client, o, states);
  std::string path = "/v1/members";
  if (!o.state.empty()) path += "?state=" + UrlEncode(o.state);
  auto members = (*client)->Get(path);
  if (!members.ok()) return members.status();
  ctx.MakePrinter().Print(MembersTable(*members));
  return Status::Ok();
}

}  // namespace

void RegisterMembers(CLI::App& app, Context& ctx) {
  auto o = std::make_shared<MembersOptions>();
  CLI::App* cmd = app.add_subcommand("members", "show this node's view of the cluster members");
  CLI::Option* state =
      cmd->add_option("--state", o->state, "only members in these states: alive,suspect,dead,left")
          ->type_name("S[,S...]")
          ->check(CLI::Validator(
              [](std::string& text) {
                auto parsed = ParseStateList(text);
                return parsed.ok() ? std::string() : parsed.status().message();
              },
              ""));
  ctx.choices[state] = kMemberStates;  // completion offers them (a comma list: no IsMember)
  CLI::Option* watch = cmd->add_flag(
      "-w,--watch", o->watch, "keep polling; print one line per change (appeared, state, mode)");
  cmd->add_option("--interval", o->interval, "with --watch: time between polls (at least 100ms)")
      ->type_name("DUR")
      ->check(DurationCheck() & IntervalCheck())
      ->capture_default_str()
      ->needs(watch);
  cmd->add_option("--count", o->count, "with --watch: exit 0 after N changes (0 = never)")
      ->type_name("N")
      ->capture_default_str()
      ->needs(watch);
  cmd->callback([&ctx, o] { ctx.action = [&ctx, o] { return Run(ctx, *o); }; });
}

}  // namespace sessctl
