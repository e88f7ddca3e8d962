// sessctl without a server: the docs-stay-true contract (every command and option is in --help,
// in man/sessctl.1 and reachable by completion), __complete, the table printer, exit codes.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <functional>
#include <sstream>

#include "ctl/cli.h"
#include "support/files.h"

namespace sessctl {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using nlohmann::json;

// Runs sessctl's Main in-process; returns the exit code and fills out/err.
int RunCtl(std::vector<std::string> args, std::string* out = nullptr, std::string* err = nullptr) {
  args.insert(args.begin(), "sessctl");
  std::vector<const char*> argv;
  for (const auto& a : args) argv.push_back(a.c_str());
  std::ostringstream o, e;
  int code = Main(static_cast<int>(argv.size()), argv.data(), o, e);
  if (out) *out = o.str();
  if (err) *err = e.str();
  return code;
}

// Visits every command of the tree with its path ("sessions list").
void Walk(const CLI::App* app, const std::string& path,
          const std::function<void(const CLI::App*, const std::string&)>& visit) {
  visit(app, path);
  for (const CLI::App* sub : app->get_subcommands([](const CLI::App*) { return true; })) {
    if (sub->get_group().empty()) continue;  // hidden: __complete
    Walk(sub, path.empty() ? sub->get_name() : path + " " + sub->get_name(), visit);
  }
}

// How roff writes a word: every '-' escaped.
std::string Roff(const std::string& text) {
  std::string out;
  for (char c : text) out += c == '-' ? std::string("\\-") : std::string(1, c);
  return out;
}

class CliTreeTest : public ::testing::Test {
 protected:
  CliTreeTest() : app_(BuildApp(ctx_)) {}
  Context ctx_;
  std::unique_ptr<CLI::App> app_;
};

TEST_F(CliTreeTest, EveryCommandAndOptionIsInTheManPage) {
  std::string man = sessiond::testing::ReadFile(std::string(SESSIOND_SOURCE_DIR) + "/man/sessctl.1");
  ASSERT_FALSE(man.empty());
  int checked = 0;
  Walk(app_.get(), "", [&](const CLI::App* app, const std::string& path) {
    if (!path.empty()) {
      EXPECT_THAT(man, HasSubstr(Roff(path))) << "command '" << path << "' not in sessctl(1)";
    }
    for (const CLI::Option* opt : app->get_options()) {
      for (const std::string& name : opt->get_lnames()) {
        EXPECT_THAT(man, HasSubstr(Roff("--" + name)))
            << "option --" << name << " of '" << path << "' not in sessctl(1)";
        ++checked;
      }
    }
  });
  EXPECT_GT(checked, 10);
  for (const char* env : {"SESSCTL_ENDPOINT", "SESSCTL_TOKEN_FILE", "SESSCTL_TOKEN"})
    EXPECT_THAT(man, HasSubstr(env));
}

TEST_F(CliTreeTest, EveryCommandAndOptionIsInHelp) {
  Walk(app_.get(), "", [&](const CLI::App* app, const std::string& path) {
    std::string help = app->help();
    for (const CLI::App* sub : app->get_subcommands([](const CLI::App* a) {
           return !a->get_group().empty();
         })) {
      EXPECT_THAT(help, HasSubstr(sub->get_name())) << "help of '" << path << "'";
    }
    for (const CLI::Option* opt : app->get_options()) {
      for (const std::string& name : opt->get_lnames())
        EXPECT_THAT(help, HasSubstr("--" + name)) << "help of '" << path << "'";
    }
  });
}

TEST_F(CliTreeTest, HelpExitsZeroOnStdout) {
  std::string out, err;
  EXPECT_EQ(RunCtl({"sessions", "list", "--help"}, &out, &err), 0);
  EXPECT_THAT(out, HasSubstr("--idle-over"));
  EXPECT_THAT(err, IsEmpty());
}

TEST(CompletionShimTest, EveryShimAsksTheBinaryAndMatchesTheEmbeddedScript) {
  const std::pair<const char*, const char*> shims[] = {
      {"bash", "sessctl.bash"}, {"zsh", "_sessctl"}, {"fish", "sessctl.fish"}};
  for (const auto& [shell, file] : shims) {
    std::string text =
        sessiond::testing::ReadFile(std::string(SESSIOND_SOURCE_DIR) + "/completions/" + file);
    EXPECT_THAT(text, HasSubstr("__complete --")) << file;
    EXPECT_EQ(CompletionScript(shell), text) << file << " differs from `sessctl completion "
                                             << shell << "` (rebuild)";
    std::string out;
    EXPECT_EQ(RunCtl({"completion", shell}, &out), 0);
    EXPECT_EQ(out, text);
  }
}

// ---- __complete ----------------------------------------------------------------------------

std::vector<std::string> Complete(std::vector<std::string> words) {
  words.insert(words.begin(), {"__complete", "--"});
  std::string out;
  EXPECT_EQ(RunCtl(words, &out), 0);
  std::vector<std::string> lines;
  std::istringstream in(out);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

TEST(CompleteTest, TopLevelCommandsWithoutHiddenOnes) {
  EXPECT_THAT(Complete({""}),
              ElementsAre("status", "members", "sessions", "apps", "deploy", "undeploy", "drain",
                          "undrain", "events", "version", "completion"));
  EXPECT_THAT(Complete({"s"}), ElementsAre("status", "sessions"));
}

TEST(CompleteTest, DrainOptions) {
  EXPECT_THAT(Complete({"drain", "nodeB", "--"}),
              ::testing::IsSupersetOf({"--grace", "--deadline", "--wait", "--shutdown"}));
  EXPECT_THAT(Complete({"u"}), ElementsAre("undeploy", "undrain"));
}

TEST(CompleteTest, SubcommandsAndTheirOptions) {
  EXPECT_THAT(Complete({"sessions", ""}), ElementsAre("list", "show", "expire"));
  auto opts = Complete({"sessions", "list", "--"});
  EXPECT_THAT(opts, ::testing::IsSupersetOf({"--app", "--node", "--idle-over", "--limit",
                                             "--endpoint", "--output", "--no-headers"}));
  EXPECT_THAT(Complete({"sessions", "expire", "--d"}), ElementsAre("--dry-run"));
}

TEST(CompleteTest, ValuesOfOptionsWithChoicesAndFreeFormValues) {
  EXPECT_THAT(Complete({"-o", ""}), ElementsAre("table", "wide", "json"));
  EXPECT_THAT(Complete({"sessions", "list", "--output", "w"}), ElementsAre("wide"));
  EXPECT_THAT(Complete({"completion", ""}), ElementsAre("bash", "zsh", "fish"));
  EXPECT_THAT(Complete({"--token-file", ""}), IsEmpty());  // the shell offers files
  // A global option's value is skipped, not taken for a command.
  EXPECT_THAT(Complete({"-e", "http://x:1", "sessions", ""}), ElementsAre("list", "show", "expire"));
}

// ---- usage errors, exit codes --------------------------------------------------------------

TEST(ExitCodeTest, UsageErrorsExit2WithOneMessage) {
  std::string out, err;
  EXPECT_EQ(RunCtl({}, &out, &err), kExitUsage);
  EXPECT_EQ(RunCtl({"nonsense"}, &out, &err), kExitUsage);
  EXPECT_EQ(RunCtl({"-o", "yaml", "status"}, &out, &err), kExitUsage);
  EXPECT_EQ(RunCtl({"--timeout", "5x", "status"}, &out, &err), kExitUsage);
  EXPECT_EQ(RunCtl({"sessions", "expire"}, &out, &err), kExitUsage);
  EXPECT_EQ(RunCtl({"sessions", "expire", "--idle-over", "500ms"}, &out, &err), kExitUsage);
  EXPECT_EQ(RunCtl({"sessions", "expire", "ID", "--idle-over", "1h"}, &out, &err), kExitUsage);
  EXPECT_EQ(RunCtl({"sessions", "expire", "--app", "/x"}, &out, &err), kExitUsage);
  EXPECT_EQ(err.rfind("sessctl: ", 0), 0u) << err;
  EXPECT_THAT(out, IsEmpty());
}

TEST(ExitCodeTest, MissingTokenFileExits3NamingFileAndEnvVars) {
  unsetenv("SESSCTL_TOKEN");
  std::string out, err;
  EXPECT_EQ(RunCtl({"--token-file", "/nonexistent/admin.token", "status"}, &out, &err), 3);
  EXPECT_THAT(err, HasSubstr("/nonexistent/admin.token"));
  EXPECT_THAT(err, HasSubstr("SESSCTL_TOKEN_FILE"));
  EXPECT_THAT(err, HasSubstr("SESSCTL_TOKEN"));
  EXPECT_EQ(std::count(err.begin(), err.end(), '\n'), 1) << "one error line: " << err;
}

TEST(ExitCodeTest, UnreachableEndpointExits3) {
  setenv("SESSCTL_TOKEN", "t", 1);
  std::string err;
  // Port 1 on loopback: nothing listens, the connection is refused at once.
  EXPECT_EQ(RunCtl({"-e", "http://127.0.0.1:1", "--timeout", "2s", "status"}, nullptr, &err), 3);
  EXPECT_THAT(err, HasSubstr("cannot reach http://127.0.0.1:1"));
  EXPECT_EQ(RunCtl({"-e", "not a url", "status"}, nullptr, &err), 1);
  // version still answers with the client's part.
  std::string out;
  EXPECT_EQ(RunCtl({"-e", "http://127.0.0.1:1", "-o", "json", "version"}, &out, &err), 0);
  json v = json::parse(out);
  EXPECT_EQ(v["client_version"], ClientVersion());
  EXPECT_TRUE(v["server_version"].is_null());
  unsetenv("SESSCTL_TOKEN");
}

TEST(ExitCodeTest, ErrorCodesMapAsTheManPageSays) {
  using sessiond::Code;
  using sessiond::ExitCodeOf;
  EXPECT_EQ(ExitCodeOf(Code::kOk), 0);
  EXPECT_EQ(ExitCodeOf(Code::kBadRequest), 1);
  EXPECT_EQ(ExitCodeOf(Code::kConflict), 1);
  EXPECT_EQ(ExitCodeOf(Code::kTooLarge), 1);
  EXPECT_EQ(ExitCodeOf(Code::kInternal), 1);
  EXPECT_EQ(ExitCodeOf(Code::kUnauthorized), 3);
  EXPECT_EQ(ExitCodeOf(Code::kForbidden), 3);
  EXPECT_EQ(ExitCodeOf(Code::kUnavailable), 3);
  EXPECT_EQ(ExitCodeOf(Code::kNotFound), 4);
  for (int http : {400, 401, 403, 404, 405, 409, 413, 500, 503}) {
    std::string man = sessiond::testing::ReadFile(std::string(SESSIOND_SOURCE_DIR) + "/man/sessctl.1");
    EXPECT_THAT(man, HasSubstr(std::to_string(http))) << "HTTP " << http << " not in the table";
  }
}

TEST(DurationTest, ParsesTheDocumentedForms) {
  EXPECT_EQ(*sessiond::ParseDurationMillis("90s"), 90000);
  EXPECT_EQ(*sessiond::ParseDurationMillis("5m"), 300000);
  EXPECT_EQ(*sessiond::ParseDurationMillis("1h"), 3600000);
  EXPECT_EQ(*sessiond::ParseDurationMillis("2d"), 172800000);
  EXPECT_EQ(*sessiond::ParseDurationMillis("250ms"), 250);
  EXPECT_FALSE(sessiond::ParseDurationMillis("5x").ok());
  std::string dummy = "1h";
  EXPECT_EQ(DurationCheck()(dummy), "");
  dummy = "soon";
  EXPECT_THAT(DurationCheck()(dummy), HasSubstr("invalid duration"));
}

// ---- table printer -------------------------------------------------------------------------

Table Sample() {
  Table t({{"APP", "app"},
           {"ID", "id"},
           {"SIZE", "size_bytes", false, true},
           {"VERSION", "version", true, true}});
  t.AddRow({Cell("/myapp"), Cell(std::string(40, 'A'), std::string(40, 'A'), "AAAAAAAAAA.."),
            Cell(2048, "2.0K"), Cell(3, "3")});
  t.AddRow({Cell(std::string(100, 'x')), Cell("B", "B"), Cell(1, "1B"), Cell(1, "1")});
  return t;
}

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

TEST(TableTest, TableFitsEightyColumnsWithHeader) {
  std::ostringstream out;
  Printer(out, OutputFormat::kTable, false).Print(Sample());
  auto lines = Lines(out.str());
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(lines[0].rfind("APP", 0), 0u);
  EXPECT_THAT(lines[0], HasSubstr("SIZE"));
  EXPECT_THAT(lines[0], ::testing::Not(HasSubstr("VERSION")));  // wide only
  for (const auto& line : lines) EXPECT_LE(line.size(), 80u) << line;
  EXPECT_THAT(lines[1], HasSubstr("AAAAAAAAAA.."));  // the brief id
  EXPECT_THAT(lines[2], HasSubstr("..."));           // the long app, truncated
}

TEST(TableTest, ColumnsAlign) {
  Table t({{"A", "a"}, {"N", "n", false, true}, {"B", "b"}});
  t.AddRow({Cell("x"), Cell(1, "1"), Cell("y")});
  t.AddRow({Cell("long"), Cell(100, "100"), Cell("z")});
  std::ostringstream out;
  Printer(out, OutputFormat::kTable, false).Print(t);
  EXPECT_EQ(out.str(), "A       N  B\nx       1  y\nlong  100  z\n");
}

TEST(TableTest, NoHeaders) {
  std::ostringstream out;
  Printer(out, OutputFormat::kTable, true).Print(Sample());
  auto lines = Lines(out.str());
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0].rfind("/myapp", 0), 0u);
}

TEST(TableTest, WideShowsEveryColumnInFull) {
  std::ostringstream out;
  Printer(out, OutputFormat::kWide, false).Print(Sample());
  auto lines = Lines(out.str());
  EXPECT_THAT(lines[0], HasSubstr("VERSION"));
  EXPECT_THAT(lines[1], HasSubstr(std::string(40, 'A')));
  EXPECT_THAT(lines[2], HasSubstr(std::string(100, 'x')));
}

TEST(TableTest, JsonIsOneArrayOfObjectsKeyedByColumnKey) {
  std::ostringstream out;
  Printer(out, OutputFormat::kJson, true).Print(Sample());
  json j = json::parse(out.str());
  ASSERT_TRUE(j.is_array());
  ASSERT_EQ(j.size(), 2u);
  EXPECT_EQ(j[0]["id"], std::string(40, 'A'));
  EXPECT_EQ(j[0]["size_bytes"], 2048);
  EXPECT_EQ(j[0]["version"], 3);
  EXPECT_EQ(j[0].size(), 4u);
  Table empty({Column{"A", "a"}});
  std::ostringstream none;
  Printer(none, OutputFormat::kJson, false).Print(empty);
  EXPECT_EQ(json::parse(none.str()), json::array());
}

TEST(TableTest, RecordPrintsLabelsOrOneJsonObject) {
  Record r;
  r.Add("Name", "name", Cell("tomcatA"));
  r.Add("Uptime", "uptime_seconds", Cell(90, "1m30s"));
  r.AddObject("Attributes", "attributes", json{{"user", "alice"}});
  Table holders({Column{"NODE", "node"}});
  holders.AddRow({Cell("tomcatA")});
  r.AddTable("Holders", "holders", std::move(holders));

  std::ostringstream text;
  Printer(text, OutputFormat::kTable, false).Print(r);
  EXPECT_EQ(text.str(),
            "Name:   tomcatA\nUptime: 1m30s\nAttributes:\n  user = \"alice\"\nHolders:\n"
            "  NODE\n  tomcatA\n");
  std::ostringstream js;
  Printer(js, OutputFormat::kJson, false).Print(r);
  EXPECT_EQ(json::parse(js.str()),
            json({{"name", "tomcatA"}, {"uptime_seconds", 90},
                  {"attributes", {{"user", "alice"}}}, {"holders", {{{"node", "tomcatA"}}}}}));
}

TEST(TableTest, CellTextHelpers) {
  EXPECT_EQ(HumanBytes(512), "512B");
  EXPECT_EQ(HumanBytes(2048), "2.0K");
  EXPECT_EQ(HumanBytes(50 * 1024 * 1024), "50M");
  EXPECT_EQ(ShortTime("2026-11-25T01:02:03.456Z"), "11-25 01:02");
  EXPECT_EQ(ShortTime("junk"), "junk");
  OutputFormat f;
  EXPECT_TRUE(ParseOutputFormat("wide", &f));
  EXPECT_EQ(f, OutputFormat::kWide);
  EXPECT_FALSE(ParseOutputFormat("yaml", &f));
}

}  // namespace
}  // namespace sessctl
