// Drain end to end (DESIGN.md §5 "Drain", §7): three demo nodes (examples/nodeA/B/C.xml as
// shipped, agentPort 9555), sessctl as an operator runs it, real nginx (examples/nginx-3node.conf)
// and real HAProxy (examples/haproxy.cfg) in front, wrk as the load: draining a node under load
// fails no request; and examples/rolling-deploy run as cron would run it (drain, deploy --node,
// undrain, node by node) under wrk through nginx. Grace periods are short so each test takes
// seconds.
#include <arpa/inet.h>
#include <gmock/gmock.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <sys/file.h>

#include <fcntl.h>

#include <atomic>
#include <filesystem>
#include <regex>
#include <thread>

#include "base/base.h"
#include "replication_fixture.h"
#include "support/zip.h"

namespace sessiond::testing {
namespace {

using nlohmann::json;

constexpr uint16_t kAgentPort = 9555;
constexpr uint16_t kNginxPort = 8089;
constexpr uint16_t kHaproxyPort = 8090;
constexpr const char* kNginx = "/usr/sbin/nginx";
constexpr const char* kHaproxy = "/usr/sbin/haproxy";
constexpr const char* kWrk = "/usr/bin/wrk";

/// What HAProxy's agent-check would read from `host`'s agent port ("(refused)" when closed).
std::string AgentSays(const std::string& host) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(kAgentPort);
  inet_pton(AF_INET, host.c_str(), &sa.sin_addr);
  if (connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) {
    close(fd);
    return "(refused)";
  }
  std::string out;
  char buf[64];
  for (ssize_t n; (n = read(fd, buf, sizeof buf)) > 0;) out.append(buf, n);
  close(fd);
  return out;
}

/// wrk's summary: requests, non-2xx/3xx answers, socket errors (all kinds).
struct WrkSummary {
  int64_t requests = -1;
  int64_t non_2xx = 0;
  int64_t socket_errors = 0;
  std::string text;
};

WrkSummary ParseWrk(const std::string& text) {
  WrkSummary s;
  s.text = text;
  std::smatch m;
  if (std::regex_search(text, m, std::regex(R"((\d+) requests in)"))) s.requests = std::stoll(m[1]);
  if (std::regex_search(text, m, std::regex(R"(Non-2xx or 3xx responses: (\d+))"))) s.non_2xx = std::stoll(m[1]);
  if (std::regex_search(text, m, std::regex(R"(Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+))"))) {
    s.socket_errors = std::stoll(m[1]) + std::stoll(m[2]) + std::stoll(m[3]) + std::stoll(m[4]);
  }
  return s;
}

/// A metric's value in a /metrics page (-1 when absent).
double MetricValue(const std::string& page, const std::string& series) {
  size_t at = page.find("\n" + series + " ");
  if (at == std::string::npos) return -1;
  return std::atof(page.c_str() + at + series.size() + 2);
}

class DrainE2eTest : public DemoClusterTest {
 protected:
  void StartThree() {
    a_ = &Add("A");
    b_ = &Add("B");
    c_ = &Add("C");
    for (DemoNode* n : {a_, b_, c_}) ASSERT_NO_FATAL_FAILURE(n->Start());
    ASSERT_TRUE(PollUntil([&] {
      for (DemoNode* o : {a_, b_, c_})
        for (DemoNode* m : {a_, b_, c_})
          if (o != m && !SeesAlive(*o, *m)) return false;
      return true;
    }, 8000)) << Logs();
  }
  void TearDown() override {
    for (auto& p : proxies_) p->Signal(SIGTERM);
    for (auto& p : proxies_) p->Wait(5000);
  }

  int Readyz(const DemoNode& n) {
    auto r = n.AdminNoAuth().Get("/readyz");
    return r ? r->status : -1;
  }
  /// The mode `observer` shows for `member` in GET /v1/members ("" when absent).
  std::string ModeOf(const DemoNode& observer, const std::string& member) {
    json members = observer.AdminJson("/v1/members");
    if (!members.is_array()) return "";
    for (auto& m : members)
      if (m.value("name", "") == member) return m.value("mode", "");
    return "";
  }
  int DataPlaneStatus(const DemoNode& n, std::string* retry_after = nullptr) {
    auto c = n.Http();
    auto r = c.Get("/myapp/.session");
    if (r && retry_after) *retry_after = r->get_header_value("Retry-After");
    return r ? r->status : -1;
  }
  /// The drain steps in `n`'s event log, in order.
  std::vector<std::string> DrainEvents(const DemoNode& n) {
    std::vector<std::string> out;
    json page = n.AdminJson("/v1/events?limit=1000");
    if (!page.is_object()) return out;
    for (auto& e : page["items"])
      if (e.value("kind", "") == "drain") out.push_back(e.value("message", ""));
    return out;
  }

  void StartNginx() {
    if (!std::filesystem::exists(kNginx)) GTEST_SKIP() << "nginx is not installed (scripts/bootstrap)";
    std::string prefix = run_.Path("nginx");
    std::filesystem::create_directories(prefix + "/logs");
    std::filesystem::create_directories(prefix + "/temp");
    std::string conf = std::string(SESSIOND_SOURCE_DIR) + "/examples/nginx-3node.conf";
    proxies_.push_back(std::make_unique<Child>(
        std::vector<std::string>{kNginx, "-p", prefix + "/", "-c", conf, "-e", "logs/error.log",
                                 "-g", "daemon off; master_process off;"},
        prefix + "/logs/stdout.log"));
    ASSERT_TRUE(WaitForPort("127.0.0.1", kNginxPort, 5000)) << ReadFile(prefix + "/logs/error.log");
  }
  void StartHaproxy() {
    if (!std::filesystem::exists(kHaproxy)) GTEST_SKIP() << "haproxy is not installed (scripts/bootstrap)";
    std::string conf = std::string(SESSIOND_SOURCE_DIR) + "/examples/haproxy.cfg";
    proxies_.push_back(std::make_unique<Child>(std::vector<std::string>{kHaproxy, "-f", conf, "-db"},
                                               run_.Path("haproxy.log")));
    ASSERT_TRUE(WaitForPort("127.0.0.1", kHaproxyPort, 5000)) << ReadFile(run_.Path("haproxy.log"));
  }
  /// Nodes that answered `n` session requests through the proxy on `port`.
  std::set<std::string> ServedBy(uint16_t port, int n) {
    httplib::Client c("127.0.0.1", port);
    c.set_read_timeout(5);
    std::set<std::string> nodes;
    for (int i = 0; i < n; ++i) {
      auto r = c.Get("/myapp/.session");
      if (r && r->status == 200) nodes.insert(json::parse(r->body, nullptr, false).value("node", ""));
    }
    return nodes;
  }

  /// Runs wrk against the proxy for `seconds` on another thread while `during` runs here.
  WrkSummary LoadWhile(uint16_t port, int seconds, const std::function<void()>& during) {
    if (!std::filesystem::exists(kWrk)) {
      ADD_FAILURE() << "wrk is not installed (scripts/bootstrap)";
      return {};
    }
    CommandResult wrk;
    std::thread load([&] {
      wrk = RunCommand({kWrk, "-t1", "-c8", "-d" + std::to_string(seconds) + "s",
                        "http://127.0.0.1:" + std::to_string(port) + "/myapp/.session"});
    });
    during();
    load.join();
    return ParseWrk(wrk.out + wrk.err);
  }

  DemoNode* a_ = nullptr;
  DemoNode* b_ = nullptr;
  DemoNode* c_ = nullptr;
  std::vector<std::unique_ptr<Child>> proxies_;
};

TEST_F(DrainE2eTest, DrainForwardedFromAnotherNodeWalksTheModesAndUndrainComesFromAThird) {
  ASSERT_NO_FATAL_FAILURE(StartThree());
  EXPECT_EQ(AgentSays(b_->host()), "up ready\n");

  CommandResult drain = a_->Sessctl({"drain", "demoB", "--grace", "1500ms", "-o", "json"});
  ASSERT_EQ(drain.exit_code, 0) << drain.out << drain.err << Logs();
  json answer = json::parse(drain.out);
  EXPECT_EQ(answer["mode"], "draining");
  EXPECT_EQ(answer["forwarded"], true);
  EXPECT_EQ(answer["grace_seconds"], 1.5);

  // The grace: out of rotation for load balancers, still serving everything.
  EXPECT_EQ(Readyz(*b_), 503);
  EXPECT_EQ(AgentSays(b_->host()), "drain\n");
  EXPECT_EQ(DataPlaneStatus(*b_), 200);
  EXPECT_EQ(b_->Status().value("mode", ""), "draining");

  ASSERT_TRUE(PollUntil([&] { return ModeOf(*c_, "demoB") == "drained"; }, 6000))
      << "demoC never saw demoB drained through its heartbeats\n" << Logs();
  EXPECT_EQ(AgentSays(b_->host()), "maint\n");
  std::string retry_after;
  EXPECT_EQ(DataPlaneStatus(*b_, &retry_after), 503);
  EXPECT_EQ(retry_after, "5");
  EXPECT_EQ(MetricValue(b_->Metrics(), "sessiond_node_mode{mode=\"drained\"}"), 1);
  CommandResult members = c_->Sessctl({"members"});
  EXPECT_THAT(members.out, ::testing::ContainsRegex("demoB +[0-9.:]+ +alive +drained"));
  std::vector<std::string> steps = DrainEvents(*b_);
  ASSERT_GE(steps.size(), 3u) << members.out;
  EXPECT_THAT(steps[0], ::testing::StartsWith("draining (via demoA)"));
  EXPECT_THAT(steps[1], ::testing::StartsWith("grace over"));
  EXPECT_THAT(steps[2], ::testing::StartsWith("drained in"));

  // Again: nothing changes. Undrain from the third node.
  CommandResult again = a_->Sessctl({"drain", "demoB", "-o", "json"});
  ASSERT_EQ(again.exit_code, 0) << again.err;
  EXPECT_EQ(json::parse(again.out)["changed"], false);
  CommandResult undrain = c_->Sessctl({"undrain", "demoB", "--wait", "--wait-timeout", "5s"});
  ASSERT_EQ(undrain.exit_code, 0) << undrain.out << undrain.err;
  EXPECT_EQ(ModeOf(*c_, "demoB"), "active") << "undrain --wait returned before demoC saw it active";
  EXPECT_EQ(Readyz(*b_), 200);
  EXPECT_EQ(AgentSays(b_->host()), "up ready\n");
  EXPECT_EQ(DataPlaneStatus(*b_), 200);
  EXPECT_THAT(DrainEvents(*b_).back(), ::testing::StartsWith("undrained (via demoC, was drained)"));
  ASSERT_TRUE(PollUntil([&] { return ModeOf(*a_, "demoB") == "active"; }, 3000));

  // Errors an operator can act on: exit 4 for an unknown node, 1 for a deadline under the grace.
  EXPECT_EQ(a_->Sessctl({"drain", "demoX"}).exit_code, 4);
  CommandResult bad = a_->Sessctl({"drain", "demoB", "--grace", "10s", "--deadline", "1s"});
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_THAT(bad.err, ::testing::HasSubstr("must not be shorter than the grace"));
}

TEST_F(DrainE2eTest, ShutdownExitsZeroOnceDrainedAndTheModeSurvivesTheRestartUntilUndrain) {
  ASSERT_NO_FATAL_FAILURE(StartThree());
  CommandResult drain = a_->Sessctl({"drain", "demoB", "--grace", "300ms", "--shutdown", "--wait"});
  ASSERT_EQ(drain.exit_code, 0) << drain.out << drain.err << Logs();
  EXPECT_EQ(b_->child()->Wait(5000), 0) << "drain --shutdown must end in a clean exit\n" << b_->Log();
  EXPECT_THAT(b_->Log(), ::testing::HasSubstr("drained with shutdown"));

  ASSERT_NO_FATAL_FAILURE(b_->Start(/*wait_ready=*/false));
  ASSERT_TRUE(PollUntil([&] { return b_->Status().value("mode", "") == "drained"; }, 10000)) << b_->Log();
  ASSERT_TRUE(PollUntil([&] { return DataPlaneStatus(*b_) == 503; }, 10000)) << b_->Log();
  EXPECT_EQ(Readyz(*b_), 503);
  EXPECT_EQ(AgentSays(b_->host()), "maint\n");
  ASSERT_TRUE(PollUntil([&] { return ModeOf(*a_, "demoB") == "drained"; }, 5000)) << Logs();

  // --wait through another node's endpoint: demoB's own /readyz, at its admin URL, says ready.
  CommandResult undrain = a_->Sessctl({"undrain", "demoB", "--wait"});
  ASSERT_EQ(undrain.exit_code, 0) << undrain.out << undrain.err;
  EXPECT_EQ(Readyz(*b_), 200);
  EXPECT_EQ(DataPlaneStatus(*b_), 200);

  // --wait --shutdown against the draining node's own endpoint ends when it stops answering,
  // and says so as the success it is (with no grace the node may be gone before the first poll).
  CommandResult self = c_->Sessctl({"drain", "demoC", "--grace", "0s", "--shutdown", "--wait"});
  EXPECT_EQ(self.exit_code, 0) << self.out << self.err;
  EXPECT_THAT(self.err, ::testing::HasSubstr("demoC is drained and has stopped")) << self.err;
  EXPECT_THAT(self.err, ::testing::Not(::testing::HasSubstr("cannot reach"))) << self.err;
  EXPECT_THAT(self.out, ::testing::ContainsRegex("drained"));
  EXPECT_EQ(c_->child()->Wait(5000), 0);
}

// Drain and undrain commands forwarded to a node while it stops: each is answered (taken, or
// "stopping" / not alive) well inside the forward timeout, and the node still stops cleanly —
// a command must never run on after the node tore down what it uses (under scripts/sanitize,
// ASan reports it if one does).
TEST_F(DrainE2eTest, CommandsForwardedToANodeThatIsStoppingAreAnsweredAndItExitsCleanly) {
  ASSERT_NO_FATAL_FAILURE(StartThree());
  std::atomic<bool> stop{false};
  std::vector<int> statuses;
  std::vector<std::string> errors;
  std::thread commands([&] {
    httplib::Client c(a_->host(), kAdminPort);
    c.set_bearer_token_auth(ReadFile(run_.Path("admin.token")));
    c.set_read_timeout(15);
    for (int i = 0; !stop; ++i) {
      auto r = i % 2 == 0 ? c.Post("/v1/nodes/demoB/drain", R"({"grace_seconds": 5})", "application/json")
                          : c.Delete("/v1/nodes/demoB/drain");
      statuses.push_back(r ? r->status : -1);
      if (r && r->status != 200) errors.push_back(r->body);
    }
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  auto t0 = std::chrono::steady_clock::now();
  int code = b_->Stop(SIGTERM);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // a few commands after it left
  stop = true;
  commands.join();
  EXPECT_EQ(code, 0) << Logs();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(8)) << "the stop waited for a command";
  ASSERT_GE(statuses.size(), 4u);
  EXPECT_EQ(statuses.front(), 200);
  for (size_t i = 0; i < statuses.size(); ++i) {
    EXPECT_THAT(statuses[i], ::testing::AnyOf(200, 503)) << "command " << i << ": "
                                                        << (errors.empty() ? "" : errors.back());
  }
  EXPECT_EQ(statuses.back(), 503) << "demoB has left: the command cannot reach it";
}

TEST_F(DrainE2eTest, NoFailedRequestThroughNginxWhileANodeDrainsUnderWrk) {
  ASSERT_NO_FATAL_FAILURE(StartThree());
  ASSERT_NO_FATAL_FAILURE(StartNginx());
  ASSERT_EQ(ServedBy(kNginxPort, 6).size(), 3u) << "nginx reaches all three nodes";
  CommandResult drain;
  WrkSummary load = LoadWhile(kNginxPort, 4, [&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(800));
    drain = a_->Sessctl({"drain", "demoB", "--grace", "500ms", "--wait"});
  });
  ASSERT_EQ(drain.exit_code, 0) << drain.out << drain.err << Logs();
  ASSERT_GT(load.requests, 0) << load.text;
  EXPECT_EQ(load.non_2xx, 0) << load.text;
  EXPECT_EQ(load.socket_errors, 0) << load.text;
  EXPECT_GT(MetricValue(b_->Metrics(), "sessiond_http_requests_total{code=\"503\"}"), 0)
      << "nginx kept offering demoB its share: those requests were refused and retried";
  EXPECT_EQ(ServedBy(kNginxPort, 6), (std::set<std::string>{"demoA", "demoC"}));
  std::cout << "[ drain under wrk through nginx ] " << load.requests << " requests, "
            << load.non_2xx << " non-2xx, " << load.socket_errors << " socket errors\n";
}

TEST_F(DrainE2eTest, NoFailedRequestThroughHaproxyWhileANodeDrainsUnderWrk) {
  ASSERT_NO_FATAL_FAILURE(StartThree());
  ASSERT_NO_FATAL_FAILURE(StartHaproxy());
  ASSERT_TRUE(PollUntil([&] { return ServedBy(kHaproxyPort, 6).size() == 3; }, 5000))
      << "HAProxy reaches all three nodes\n" << ReadFile(run_.Path("haproxy.log"));
  CommandResult drain;
  double served_by_b_when_drained = -1;
  WrkSummary load = LoadWhile(kHaproxyPort, 6, [&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(800));
    // Two agent-check intervals (agent-inter 1s) and a little more.
    drain = a_->Sessctl({"drain", "demoB", "--grace", "2500ms", "--wait"});
    served_by_b_when_drained = MetricValue(b_->Metrics(), "sessiond_sessions_created_total");
  });
  ASSERT_EQ(drain.exit_code, 0) << drain.out << drain.err << Logs();
  ASSERT_GT(load.requests, 0) << load.text;
  EXPECT_EQ(load.non_2xx, 0) << load.text << ReadFile(run_.Path("haproxy.log"));
  EXPECT_EQ(load.socket_errors, 0) << load.text;
  EXPECT_GT(served_by_b_when_drained, 0) << "demoB served part of the load before its drain";
  EXPECT_EQ(MetricValue(b_->Metrics(), "sessiond_sessions_created_total"), served_by_b_when_drained)
      << "HAProxy sent demoB no new work once it was drained";
  std::cout << "[ drain under wrk through HAProxy ] " << load.requests << " requests, "
            << load.non_2xx << " non-2xx, " << load.socket_errors << " socket errors\n";
}

/// examples/rolling-deploy as cron would run it, against the demo cluster behind nginx with wrk
/// as the load (sessions carried by cookies): drain, deploy to that node alone, check, undrain,
/// node by node.
class RollingDeployE2eTest : public DrainE2eTest {
 protected:
  /// A distributable app whose index.html says `text`.
  std::string War(const std::string& file, const std::string& text) {
    std::string path = run_.Path(file);
    BuildZip(path, {{"index.html", text}, {"WEB-INF/web.xml", "<web-app><distributable/></web-app>"}});
    return path;
  }
  /// Starts the cluster and nginx, and farm-deploys /shop v1 everywhere.
  void StartWithShop() {
    ASSERT_NO_FATAL_FAILURE(StartThree());
    ASSERT_NO_FATAL_FAILURE(StartNginx());
    CommandResult v1 = a_->Sessctl({"deploy", War("shop-v1.war", "shop v1"), "--path", "/shop", "--wait"});
    ASSERT_EQ(v1.exit_code, 0) << v1.out << v1.err;
  }
  CommandResult Roll(const std::string& war) {
    std::string script = std::string(SESSIOND_SOURCE_DIR) + "/examples/rolling-deploy";
    return RunCommand({script, "-e", "http://" + a_->host() + ":8099", "--path", "/shop", "--grace", "1s",
                       "--node-timeout", "30s", war},
                      {{"SESSCTL", SESSCTL_BIN}, {"SESSCTL_TOKEN_FILE", run_.Path("admin.token")},
                       {"ROLLING_DEPLOY_LOCK", run_.Path("rolling-deploy.lock")}});
  }
  std::string Serves(const DemoNode& n) {
    auto c = n.Http();
    auto r = c.Get("/shop/index.html");
    return r ? (r->status == 200 ? r->body : "<" + std::to_string(r->status) + ">") : "";
  }
  /// node -> the sha256 it serves /shop at, per `via`'s sessctl apps -o json.
  std::map<std::string, std::string> Versions(const DemoNode& via) {
    std::map<std::string, std::string> out;
    CommandResult apps = via.Sessctl({"apps", "-o", "json"});
    EXPECT_EQ(apps.exit_code, 0) << apps.err;
    for (auto& app : json::parse(apps.out, nullptr, false))
      if (app.value("name", "") == "shop")
        for (auto& n : app["nodes"]) out[n.value("node", "")] = n.value("sha256", "");
    return out;
  }
  /// Sessions created through nginx before the roll, each with attribute i.
  std::vector<std::string> CreateSessions(int n) {
    httplib::Client c("127.0.0.1", kNginxPort);
    std::vector<std::string> ids;
    for (int i = 0; i < n; ++i) {
      CookieJar jar(&c);
      auto r = jar.Put("/shop/.session/attributes/i", std::to_string(i));
      EXPECT_TRUE(r && r->status == 204) << (r ? r->body : "no answer");
      ids.push_back(jar.session_id());
    }
    return ids;
  }
  /// A wrk Lua script that spreads reads, page views and writes over the sessions `ids`.
  std::string WrkScript(const std::vector<std::string>& ids) {
    std::string lua = "local ids = {";
    for (auto& id : ids) lua += "\"" + id + "\",";
    lua += R"(}
local n = 0
request = function()
  n = n + 1
  local h = { ["Cookie"] = "JSESSIONID=" .. ids[(n % #ids) + 1], ["Content-Type"] = "application/json" }
  if n % 3 == 0 then return wrk.format("PUT", "/shop/.session/attributes/hits", h, tostring(n)) end
  if n % 3 == 1 then return wrk.format("GET", "/shop/.session?create=false", h) end
  return wrk.format("GET", "/shop/index.html", h)
end
)";
    std::string path = run_.Path("sessions.lua");
    WriteFile(path, lua);
    return path;
  }
  /// (time, message) of `n`'s drain and deploy events, oldest first.
  std::vector<std::pair<int64_t, std::string>> Steps(const DemoNode& n) {
    std::vector<std::pair<int64_t, std::string>> out;
    json page = n.AdminJson("/v1/events?limit=1000");
    for (auto& e : page["items"]) {
      std::string kind = e.value("kind", "");
      if (kind != "drain" && kind != "deploy") continue;
      out.emplace_back(ParseRfc3339Millis(e.value("time", "")).value_or(0), e.value("message", ""));
    }
    return out;
  }
  /// When `n` first logged a step starting with `prefix` at or after `after_ms` (-1: never).
  int64_t StepTime(const DemoNode& n, const std::string& prefix, int64_t after_ms) {
    for (auto& [t, message] : Steps(n))
      if (t >= after_ms && message.rfind(prefix, 0) == 0) return t;
    return -1;
  }
};

TEST_F(RollingDeployE2eTest, RollsANewVersionNodeByNodeUnderLoadWithoutAFailedRequest) {
  ASSERT_NO_FATAL_FAILURE(StartWithShop());
  std::vector<std::string> ids = CreateSessions(12);
  ASSERT_TRUE(std::filesystem::exists(kWrk)) << "wrk is not installed (scripts/bootstrap)";
  std::string war = War("shop-v2.war", "shop v2");
  int64_t before = WallMillis();

  Child wrk({kWrk, "-t1", "-c8", "-d120s", "-s", WrkScript(ids), "http://127.0.0.1:" + std::to_string(kNginxPort)},
            run_.Path("wrk.log"));
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  CommandResult roll = Roll(war);
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  wrk.Signal(SIGINT);  // wrk stops and prints its summary
  ASSERT_EQ(wrk.Wait(10000), 0) << ReadFile(run_.Path("wrk.log"));
  WrkSummary load = ParseWrk(ReadFile(run_.Path("wrk.log")));

  ASSERT_EQ(roll.exit_code, 0) << roll.out << roll.err << Logs();
  EXPECT_THAT(roll.err, ::testing::HasSubstr("done: every node serves shop"));
  ASSERT_GT(load.requests, 0) << load.text;
  EXPECT_EQ(load.non_2xx, 0) << load.text << roll.err;
  EXPECT_EQ(load.socket_errors, 0) << load.text;

  // Every node serves v2, over HTTP and by hash in sessctl apps; no skew is left.
  std::string sha = RunCommand({"/usr/bin/sha256sum", war}).out.substr(0, 64);
  ASSERT_EQ(sha.size(), 64u);
  for (DemoNode* n : {a_, b_, c_}) EXPECT_EQ(Serves(*n), "shop v2") << n->name();
  EXPECT_EQ(Versions(*b_), (std::map<std::string, std::string>{{"demoA", sha}, {"demoB", sha}, {"demoC", sha}}));
  EXPECT_TRUE(PollUntil([&] {
    for (DemoNode* n : {a_, b_, c_})
      if (ModeOf(*c_, n->name()) != "active") return false;
    return true;
  }, 2000)) << "demoC does not see every node active again";

  // The sessions from before the roll are still there, on every node.
  for (DemoNode* n : {a_, b_, c_}) {
    auto c = n->Http();
    for (size_t i = 0; i < ids.size(); ++i) {
      auto r = c.Get("/shop/.session/attributes/i", {{"Cookie", "JSESSIONID=" + ids[i]}});
      EXPECT_TRUE(r && r->status == 200 && r->body == std::to_string(i)) << n->name() << " lost " << ids[i];
    }
  }

  // Each node's log: drained, then v2 deployed, then undrained — and one node after the other.
  int64_t previous_undrain = before;
  for (DemoNode* n : {a_, b_, c_}) {
    int64_t drain = StepTime(*n, "draining (via", before);
    int64_t drained = StepTime(*n, "drained in", before);
    int64_t deployed = StepTime(*n, "deployed shop (" + sha.substr(0, 12), before);
    int64_t undrained = StepTime(*n, "undrained (via", before);
    EXPECT_GE(drain, previous_undrain) << n->name() << " was drained before the node before it was back";
    EXPECT_LE(drain, drained) << n->name();
    EXPECT_LE(drained, deployed) << n->name() << " got v2 before it was drained";
    EXPECT_LE(deployed, undrained) << n->name() << " was undrained before it served v2";
    EXPECT_GT(undrained, 0) << n->name();
    previous_undrain = undrained;
  }
  if (getenv("ROLLING_DEPLOY_SHOW_LOG")) std::cout << roll.err;
  std::cout << "[ rolling deploy under wrk through nginx ] " << load.requests << " requests, " << load.non_2xx
            << " non-2xx, " << load.socket_errors << " socket errors\n";
}

TEST_F(RollingDeployE2eTest, AHostileWarStopsAtTheFirstNodeWhichServesAgainAndTheLockAndLastNodeRulesHold) {
  ASSERT_NO_FATAL_FAILURE(StartWithShop());
  std::string v1 = Versions(*a_)["demoA"];
  std::string slip = run_.Path("shop-v3.war");
  BuildZip(slip, {{"index.html", "shop v3"}, {"../../evil.txt", "pwned"}});

  // Another run holds the lock: this one does not start.
  int fd = ::open(run_.Path("rolling-deploy.lock").c_str(), O_CREAT | O_RDWR, 0600);
  ASSERT_EQ(::flock(fd, LOCK_EX | LOCK_NB), 0);
  CommandResult locked = Roll(slip);
  ::close(fd);
  EXPECT_EQ(locked.exit_code, 1) << locked.err;
  EXPECT_THAT(locked.err, ::testing::HasSubstr("another rolling deploy holds"));

  CommandResult roll = Roll(slip);
  EXPECT_EQ(roll.exit_code, 1) << roll.out << roll.err;
  EXPECT_THAT(roll.err, ::testing::HasSubstr("stopped at demoA: deploy failed"));
  EXPECT_THAT(roll.err, ::testing::HasSubstr("../../evil.txt"));
  EXPECT_EQ(Readyz(*a_), 200) << "demoA is back in service";
  EXPECT_TRUE(PollUntil([&] { return ModeOf(*b_, "demoA") == "active"; }, 2000)) << "demoB never saw demoA back";
  for (DemoNode* n : {a_, b_, c_}) EXPECT_EQ(Serves(*n), "shop v1") << n->name();
  EXPECT_EQ(Versions(*c_), (std::map<std::string, std::string>{{"demoA", v1}, {"demoB", v1}, {"demoC", v1}}));
  EXPECT_EQ(StepTime(*b_, "draining", 0), -1) << "the roll went past demoA";

  // Never the last active node: with demoB and demoC drained, it refuses to start.
  for (const char* n : {"demoB", "demoC"})
    ASSERT_EQ(a_->Sessctl({"drain", n, "--grace", "200ms", "--wait"}).exit_code, 0);
  CommandResult last = Roll(War("shop-v2.war", "shop v2"));
  EXPECT_EQ(last.exit_code, 1) << last.err;
  EXPECT_THAT(last.err, ::testing::HasSubstr("refusing to roll: 1 alive active member"));
  EXPECT_EQ(Readyz(*a_), 200);
}

}  // namespace
}  // namespace sessiond::testing
