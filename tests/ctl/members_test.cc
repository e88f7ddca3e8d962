// `sessctl members`: the table of a canned /v1/members answer, the --state parser, the --watch
// diff as a pure function, and the command end to end against a fake endpoint (httplib::Server
// answering canned JSON), including a watch that loses its connection.
#include "ctl/members.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <httplib.h>

#include <atomic>
#include <mutex>
#include <sstream>
#include <thread>

#include "ctl/cli.h"

namespace sessctl {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using nlohmann::json;

json Member(const std::string& name, const std::string& state, const std::string& mode) {
  return {{"name", name},
          {"address", "127.0.0.2:4000"},
          {"admin_url", "http://127.0.0.2:8099"},
          {"state", state},
          {"mode", mode},
          {"sessions", 7},
          {"last_seen", "2026-11-25T01:02:03.456Z"},
          {"last_seen_seconds_ago", 0.412},
          {"state_since", "2026-11-25T01:00:00.000Z"},
          {"version", "0.1.0"},
          {"protocol", 1},
          {"incarnation", 1700000000000},
          {"self", false},
          {"static", false}};
}

json Canned() {
  json self = Member("tomcatA", "alive", "active");
  self["address"] = "127.0.0.1:4000";
  self["self"] = true;
  self["last_seen_seconds_ago"] = 0.0;
  json b = Member("tomcatB", "alive", "draining");
  json c = Member("tomcatC", "dead", "active");
  c["last_seen"] = nullptr;
  c["last_seen_seconds_ago"] = nullptr;
  c["admin_url"] = "";
  c["static"] = true;
  return json::array({self, b, c});
}

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

std::string Render(const Table& t, OutputFormat format) {
  std::ostringstream out;
  Printer(out, format, false).Print(t);
  return out.str();
}

// ---- table ---------------------------------------------------------------------------------

TEST(MembersTableTest, ColumnsLikeConsulMembersInEightyColumns) {
  auto lines = Lines(Render(MembersTable(Canned()), OutputFormat::kTable));
  ASSERT_EQ(lines.size(), 4u);
  EXPECT_EQ(lines[0],
            "NAME     ADDRESS         STATE  MODE      SESSIONS  LAST-SEEN  VERSION");
  EXPECT_EQ(lines[1],
            "tomcatA  127.0.0.1:4000  alive  active           7  now        0.1.0");
  EXPECT_EQ(lines[2],
            "tomcatB  127.0.0.2:4000  alive  draining         7  0.4s ago   0.1.0");
  EXPECT_EQ(lines[3],
            "tomcatC  127.0.0.2:4000  dead   active           7  never      0.1.0");
  for (const auto& line : lines) EXPECT_LE(line.size(), 80u);
}

TEST(MembersTableTest, WideAddsAdminUrlIncarnationAndStatic) {
  auto lines = Lines(Render(MembersTable(Canned()), OutputFormat::kWide));
  EXPECT_THAT(lines[0], HasSubstr("ADMIN-URL"));
  EXPECT_THAT(lines[0], HasSubstr("INCARNATION"));
  EXPECT_THAT(lines[0], HasSubstr("STATIC"));
  EXPECT_THAT(lines[2], HasSubstr("http://127.0.0.2:8099"));
  EXPECT_THAT(lines[2], HasSubstr("2023-11-14T22:13:20.000Z"));
  EXPECT_THAT(lines[3], HasSubstr("yes"));
  EXPECT_THAT(lines[0], ::testing::Not(HasSubstr("PROTOCOL")));  // JSON only
}

TEST(MembersTableTest, JsonHasTheApisKeysAndValues) {
  json out = json::parse(Render(MembersTable(Canned()), OutputFormat::kJson));
  EXPECT_EQ(out, Canned());
}

TEST(MembersTableTest, LastSeenText) {
  json m = Member("b", "alive", "active");
  EXPECT_EQ(LastSeenText(m), "0.4s ago");
  m["last_seen_seconds_ago"] = 12.3;
  EXPECT_EQ(LastSeenText(m), "12s ago");
  m["last_seen_seconds_ago"] = 90.0;
  EXPECT_EQ(LastSeenText(m), "1m30s ago");
  m["last_seen_seconds_ago"] = nullptr;
  EXPECT_EQ(LastSeenText(m), "never");
  m["self"] = true;
  EXPECT_EQ(LastSeenText(m), "now");
}

TEST(MembersStateTest, ParsesACommaListOfKnownStates) {
  EXPECT_THAT(*ParseStateList("alive"), ElementsAre("alive"));
  EXPECT_THAT(*ParseStateList("suspect,dead,left"), ElementsAre("suspect", "dead", "left"));
  for (const char* bad : {"zombie", "alive,", ",alive", "", "Alive", "alive suspect"}) {
    auto parsed = ParseStateList(bad);
    EXPECT_FALSE(parsed.ok()) << bad;
    EXPECT_THAT(parsed.status().message(), HasSubstr("--state")) << bad;
  }
}

// ---- the watch diff ------------------------------------------------------------------------

TEST(MembersDiffTest, EveryMemberOfTheFirstListAppeared) {
  auto changes = DiffMembers(json::array(), Canned());
  ASSERT_EQ(changes.size(), 3u);
  EXPECT_EQ(changes[1], (MemberChange{"tomcatB", "alive", "draining", std::nullopt, std::nullopt}));
}

TEST(MembersDiffTest, StateAndModeChangesCarryThePreviousValues) {
  json before = Canned();
  json after = Canned();
  after[1]["mode"] = "drained";
  after[2]["state"] = "alive";
  after[0]["sessions"] = 99;               // not a change the watch reports
  after[0]["last_seen_seconds_ago"] = 3.0;
  auto changes = DiffMembers(before, after);
  EXPECT_THAT(changes,
              ElementsAre(MemberChange{"tomcatB", "alive", "drained", "alive", "draining"},
                          MemberChange{"tomcatC", "alive", "active", "dead", "active"}));
  EXPECT_TRUE(DiffMembers(after, after).empty());
}

TEST(MembersDiffTest, NewAndForgottenMembers) {
  json before = Canned();
  json after = json::array({before[0], before[1], Member("tomcatD", "alive", "active")});
  EXPECT_THAT(DiffMembers(before, after),
              ElementsAre(MemberChange{"tomcatD", "alive", "active", std::nullopt, std::nullopt},
                          MemberChange{"tomcatC", "gone", "", "dead", "active"}));
}

TEST(MembersDiffTest, ChangeJsonKeysAndNulls) {
  int64_t t = 1700000000000;
  std::string line = ChangeJson({"tomcatB", "suspect", "active", "alive", "active"}, t).dump();
  EXPECT_EQ(line.rfind(R"({"time":)", 0), 0u) << line;  // time first, as documented
  EXPECT_EQ(json::parse(line),
            json({{"time", "2023-11-14T22:13:20.000Z"}, {"name", "tomcatB"}, {"state", "suspect"},
                  {"mode", "active"}, {"previous_state", "alive"}, {"previous_mode", "active"}}));
  auto appeared = ChangeJson({"tomcatD", "alive", "active", std::nullopt, std::nullopt}, t);
  EXPECT_TRUE(appeared["previous_state"].is_null());
  EXPECT_TRUE(appeared["previous_mode"].is_null());
  EXPECT_TRUE(ChangeJson({"tomcatC", "gone", "", "dead", "active"}, t)["mode"].is_null());
}

TEST(MembersDiffTest, WatchLinesAlignUnderTheHeader) {
  int64_t t = 1700000000000;
  std::string header = ChangeHeader(false);
  std::string appeared =
      ChangeLine({"tomcatB", "alive", "active", std::nullopt, std::nullopt}, t, false);
  std::string changed = ChangeLine({"tomcatB", "suspect", "active", "alive", "active"}, t, false);
  EXPECT_EQ(header, "TIME          NAME              STATE     MODE       PREVIOUS");
  EXPECT_EQ(appeared, "22:13:20.000  tomcatB           alive     active     appeared");
  EXPECT_EQ(changed, "22:13:20.000  tomcatB           suspect   active     alive/active");
  EXPECT_EQ(ChangeLine({"x", "alive", "active", std::nullopt, std::nullopt}, t, true)
                .rfind("2023-11-14T22:13:20.000Z  x", 0), 0u);
  EXPECT_EQ(ChangeHeader(true).find("NAME"), std::string("2023-11-14T22:13:20.000Z  ").size());
}

// ---- the command against a fake endpoint ---------------------------------------------------

int RunCtl(std::vector<std::string> args, std::string* out, std::string* err = nullptr) {
  args.insert(args.begin(), "sessctl");
  std::vector<const char*> argv;
  for (const auto& a : args) argv.push_back(a.c_str());
  std::ostringstream o, e;
  int code = Main(static_cast<int>(argv.size()), argv.data(), o, e);
  if (out) *out = o.str();
  if (err) *err = e.str();
  return code;
}

// Answers /v1/members with the next of `answers_` (the last one repeats), /v1/status and /v1/apps
// (`apps_`); stops
// listening after `stop_after_` member requests, as a node that went away would.
class FakeEndpoint : public ::testing::Test {
 protected:
  void SetUp() override {
    setenv("SESSCTL_TOKEN", "t", 1);
    server_.Get("/v1/members", [this](const httplib::Request& req, httplib::Response& res) {
      std::lock_guard lock(mu_);
      queries_.push_back(req.has_param("state") ? req.get_param_value("state") : "");
      size_t i = std::min(served_++, answers_.size() - 1);
      res.set_content(answers_[i].dump(), "application/json");
      if (stop_after_ > 0 && served_ >= stop_after_) stop_ = true;
    });
    server_.Get("/v1/status", [](const httplib::Request&, httplib::Response& res) {
      json st = {{"name", "tomcatA"}, {"version", "0.1.0"}, {"mode", "active"}, {"ready", true},
                 {"started", nullptr}, {"uptime_seconds", 5}, {"sessions", 0}, {"apps", 0},
                 {"state_transfer", {{"state", "none"}}},
                 {"members", {{"alive", 2}, {"suspect", 1}, {"dead", 0}, {"left", 0}}}};
      res.set_content(st.dump(), "application/json");
    });
    server_.Get("/v1/apps", [this](const httplib::Request&, httplib::Response& res) {
      std::lock_guard lock(mu_);
      res.set_content(apps_.dump(), "application/json");
    });
    port_ = server_.bind_to_any_port("127.0.0.1");
    listener_ = std::thread([this] { server_.listen_after_bind(); });
    stopper_ = std::thread([this] {
      while (!stop_ && !done_) std::this_thread::sleep_for(std::chrono::milliseconds(5));
      server_.stop();
    });
  }
  void TearDown() override {
    done_ = true;
    stopper_.join();
    listener_.join();
    unsetenv("SESSCTL_TOKEN");
  }
  std::string Endpoint() const { return "http://127.0.0.1:" + std::to_string(port_); }

  httplib::Server server_;
  int port_ = 0;
  std::thread listener_, stopper_;
  std::mutex mu_;
  std::vector<json> answers_{Canned()};
  std::vector<std::string> queries_;
  json apps_ = json::array();
  size_t served_ = 0;
  size_t stop_after_ = 0;
  std::atomic<bool> stop_{false}, done_{false};
};

TEST_F(FakeEndpoint, MembersPrintsTheTableAndPassesTheStateFilter) {
  std::string out;
  ASSERT_EQ(RunCtl({"-e", Endpoint(), "members", "--state", "alive,dead"}, &out), 0);
  auto lines = Lines(out);
  ASSERT_EQ(lines.size(), 4u);
  EXPECT_EQ(lines[0].rfind("NAME", 0), 0u);
  EXPECT_THAT(queries_, ElementsAre("alive,dead"));
  EXPECT_EQ(RunCtl({"-e", Endpoint(), "-o", "json", "members"}, &out), 0);
  EXPECT_EQ(json::parse(out), Canned());
}

TEST_F(FakeEndpoint, WatchPrintsCurrentMembersThenChangesAsJsonLines) {
  json changed = Canned();
  changed[1]["state"] = "suspect";
  answers_ = {Canned(), Canned(), changed};
  std::string out;
  ASSERT_EQ(RunCtl({"-e", Endpoint(), "members", "--watch", "-o", "json", "--interval", "100ms",
                    "--count", "4"},
                   &out),
            0);
  auto lines = Lines(out);
  ASSERT_EQ(lines.size(), 4u) << out;
  EXPECT_EQ(json::parse(lines[0])["name"], "tomcatA");
  EXPECT_TRUE(json::parse(lines[0])["previous_state"].is_null());
  json last = json::parse(lines[3]);
  EXPECT_EQ(last["name"], "tomcatB");
  EXPECT_EQ(last["state"], "suspect");
  EXPECT_EQ(last["previous_state"], "alive");
  EXPECT_EQ(last["previous_mode"], "draining");
  EXPECT_TRUE(last["time"].is_string());
}

TEST_F(FakeEndpoint, WatchFiltersChangesByTheirNewState) {
  json changed = Canned();
  changed[1]["state"] = "suspect";
  answers_ = {Canned(), changed};
  std::string out;
  ASSERT_EQ(RunCtl({"-e", Endpoint(), "members", "-w", "--state", "suspect", "--interval",
                    "100ms", "--count", "1", "--no-headers"},
                   &out),
            0);
  auto lines = Lines(out);
  ASSERT_EQ(lines.size(), 1u) << out;
  EXPECT_THAT(lines[0], HasSubstr("tomcatB           suspect   draining   alive/draining"));
}

TEST_F(FakeEndpoint, WatchThatLosesTheEndpointExits3) {
  stop_after_ = 2;
  std::string out, err;
  EXPECT_EQ(RunCtl({"-e", Endpoint(), "members", "--watch", "--interval", "100ms"}, &out, &err), 3);
  EXPECT_THAT(err, HasSubstr("lost the connection to " + Endpoint()));
  EXPECT_EQ(Lines(out).size(), 4u) << out;  // header + the three members that appeared
}

TEST_F(FakeEndpoint, StatusShowsThisNodesViewOfTheMembers) {
  std::string out;
  ASSERT_EQ(RunCtl({"-e", Endpoint(), "status"}, &out), 0);
  EXPECT_THAT(out, ::testing::ContainsRegex("Members: +2 alive, 1 suspect, 0 dead\n"));
  ASSERT_EQ(RunCtl({"-e", Endpoint(), "-o", "json", "status"}, &out), 0);
  EXPECT_EQ(json::parse(out)["members"]["suspect"], 1);
}

// ---- usage and completion ------------------------------------------------------------------

TEST(MembersUsageTest, BadOptionsExit2) {
  std::string out, err;
  EXPECT_EQ(RunCtl({"members", "--state", "zombie"}, &out, &err), kExitUsage);
  EXPECT_THAT(err, HasSubstr("zombie"));
  EXPECT_EQ(RunCtl({"members", "--state", "alive,"}, &out, &err), kExitUsage);
  EXPECT_EQ(RunCtl({"members", "--count", "3"}, &out, &err), kExitUsage);  // needs --watch
  EXPECT_EQ(RunCtl({"members", "-w", "--interval", "10ms"}, &out, &err), kExitUsage);
  EXPECT_EQ(RunCtl({"members", "-w", "--interval", "soon"}, &out, &err), kExitUsage);
}

TEST(MembersUsageTest, CompletesStatesAlsoAfterAComma) {
  auto complete = [](std::vector<std::string> words) {
    words.insert(words.begin(), {"__complete", "--"});
    std::string out;
    EXPECT_EQ(RunCtl(words, &out), 0);
    return Lines(out);
  };
  EXPECT_THAT(complete({"members", "--state", ""}),
              ElementsAre("alive", "suspect", "dead", "left"));
  EXPECT_THAT(complete({"members", "--state", "alive,s"}), ElementsAre("alive,suspect"));
  EXPECT_THAT(complete({"members", "--"}),
              ::testing::IsSupersetOf({"--state", "--watch", "--interval", "--count"}));
}

TEST_F(FakeEndpoint, AnAnswerOfAnotherShapeIsAnErrorNamingTheEndpointNotAnAbort) {
  // Valid JSON, wrong types: an app whose path is a number, a member list that is an object.
  apps_ = json::array({{{"name", "app"}, {"path", 5}}});
  std::string out, err;
  EXPECT_EQ(RunCtl({"-e", Endpoint(), "apps"}, &out, &err), 1);
  EXPECT_THAT(err, HasSubstr("the answer from " + Endpoint() + " is not what sessctl expects"));
  EXPECT_THAT(err, HasSubstr("type must be string, but is number"));
  answers_ = {json{{"name", 5}}};
  EXPECT_EQ(RunCtl({"-e", Endpoint(), "members"}, &out, &err), 1);
  EXPECT_THAT(err, HasSubstr(Endpoint()));
}

}  // namespace
}  // namespace sessctl
