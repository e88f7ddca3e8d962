// The seed's proof through real nginx (Debian's /usr/sbin/nginx, examples/nginx.conf as shipped):
// round-robin in front of the two demo nodes, one cookie jar keeps one session id while the
// serving node alternates; kill -9 of a node under load fails no request through nginx
// (proxy_next_upstream) and, in synchronized-ack mode, loses no acknowledged write.
#include <atomic>
#include <set>
#include <filesystem>
#include <thread>

#include "replication_fixture.h"

namespace sessiond::testing {
namespace {

using nlohmann::json;

constexpr const char* kNginx = "/usr/sbin/nginx";
constexpr uint16_t kProxyPort = 8088;

class NginxE2eTest : public DemoClusterTest {
 protected:
  /// Runs nginx in the foreground as our child, with a prefix under the run directory.
  void StartNginx() {
    if (!std::filesystem::exists(kNginx)) GTEST_SKIP() << "nginx is not installed (scripts/bootstrap)";
    std::string prefix = run_.Path("nginx");
    std::filesystem::create_directories(prefix + "/logs");
    std::filesystem::create_directories(prefix + "/temp");
    std::string conf = std::string(SESSIOND_SOURCE_DIR) + "/examples/nginx.conf";
    nginx_ = std::make_unique<Child>(
        std::vector<std::string>{kNginx, "-p", prefix + "/", "-c", conf, "-e", "logs/error.log",
                                 "-g", "daemon off; master_process off;"},
        prefix + "/logs/stdout.log");
    ASSERT_TRUE(WaitForPort("127.0.0.1", kProxyPort, 5000))
        << ReadFile(prefix + "/logs/stdout.log") << ReadFile(prefix + "/logs/error.log");
  }
  httplib::Client Proxy() {
    httplib::Client c("127.0.0.1", kProxyPort);
    c.set_connection_timeout(2);
    c.set_read_timeout(10);
    return c;
  }
  void TearDown() override {
    if (nginx_) nginx_->Signal(SIGTERM);
  }

  std::unique_ptr<Child> nginx_;
};

TEST_F(NginxE2eTest, TenRequestsKeepOneSessionWhileTheServingNodeAlternates) {
  DemoNode& a = Add("A");
  DemoNode& b = Add("B");
  ASSERT_NO_FATAL_FAILURE(StartBoth(a, b));
  ASSERT_NO_FATAL_FAILURE(StartNginx());
  auto proxy = Proxy();
  CookieJar jar(&proxy);
  std::set<std::string> ids, nodes;
  std::vector<std::string> served_by;
  std::string trace;
  for (int i = 1; i <= 10; ++i) {
    // One request per visit (a merge patch answers with the session), so round-robin sends
    // consecutive visits to different nodes, as the seed's browser reloads did.
    auto r = jar.Patch("/myapp/.session", R"({"visits":)" + std::to_string(i) + "}");
    ASSERT_TRUE(r);
    ASSERT_EQ(r->status, 200);
    json s = json::parse(r->body);
    ids.insert(s["id"].get<std::string>());
    nodes.insert(s["node"].get<std::string>());
    served_by.push_back(s["node"]);
    trace += std::to_string(i) + " " + s["node"].get<std::string>() + " " + s["id"].get<std::string>() + "\n";
    EXPECT_EQ(s["attributes"]["visits"], i) << "request " << i << " on " << s["node"];
  }
  EXPECT_EQ(ids.size(), 1u) << "one session id through all ten requests:\n" << trace << Logs();
  EXPECT_EQ(nodes, (std::set<std::string>{"demoA", "demoB"})) << "round-robin reached both";
  for (size_t i = 1; i < served_by.size(); ++i)
    EXPECT_NE(served_by[i], served_by[i - 1]) << "visit " << i + 1 << " was served by the same node";
}

TEST_F(NginxE2eTest, KillNineUnderLoadFailsNoRequestAndLosesNoAcknowledgedWrite) {
  const Edits sync_ack = {{"channelSendOptions=\"8\"", "channelSendOptions=\"4\""}};
  DemoNode& a = Add("A", sync_ack);
  DemoNode& b = Add("B", sync_ack);
  ASSERT_NO_FATAL_FAILURE(StartBoth(a, b));
  ASSERT_NO_FATAL_FAILURE(StartNginx());

  constexpr int kClients = 4;
  std::atomic<bool> stop{false};
  std::atomic<int> failures{0};
  std::vector<std::string> last_id(kClients);
  std::vector<int> acknowledged(kClients, 0);  // writes 1..n of client c answered 204
  std::vector<std::string> first_failure(kClients);
  std::vector<std::thread> clients;
  for (int c = 0; c < kClients; ++c) {
    clients.emplace_back([&, c] {
      auto proxy = Proxy();
      CookieJar jar(&proxy);
      for (int n = 1; !stop; ++n) {
        auto r = jar.Put("/myapp/.session/attributes/w" + std::to_string(n), std::to_string(n));
        if (!r || r->status != 204) {
          if (failures++ == 0) first_failure[c] = r ? std::to_string(r->status) + " " + r->body : "no answer";
          continue;
        }
        acknowledged[c] = n;
        last_id[c] = jar.session_id();
      }
    });
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(700));
  a.Stop(SIGKILL);
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  stop = true;
  for (auto& t : clients) t.join();

  EXPECT_EQ(failures.load(), 0) << "first failure: " << first_failure[0] << first_failure[1]
                                << first_failure[2] << first_failure[3];
  for (int c = 0; c < kClients; ++c) {
    ASSERT_GT(acknowledged[c], 5) << "client " << c << " hardly ran";
    auto http_b = b.Http();
    CookieJar on_b(&http_b);
    on_b.set_session_id(last_id[c]);
    auto r = on_b.Get("/myapp/.session");
    ASSERT_TRUE(r);
    ASSERT_EQ(r->status, 200) << "client " << c << "'s session is gone from B";
    json attrs = json::parse(r->body)["attributes"];
    int missing = 0;
    for (int n = 1; n <= acknowledged[c]; ++n)
      if (attrs.value("w" + std::to_string(n), 0) != n) ++missing;
    EXPECT_EQ(missing, 0) << "client " << c << ": " << missing << " of " << acknowledged[c]
                          << " acknowledged writes are not on B";
  }
}

}  // namespace
}  // namespace sessiond::testing
