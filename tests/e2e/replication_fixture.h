// The demo's cluster as an e2e fixture: nodes started from examples/nodeA.xml and nodeB.xml
// (jvmRoute demoX on 127.0.0.x, Receiver 127.0.0.x:4000, Connector 127.0.0.x:8080, admin
// 127.0.0.x:8099, multicast 228.0.0.4:45564 on the receiver's interface), each in its own base
// directory under one run directory that holds the shared cluster.secret and admin.token — the
// layout scripts/demo uses. Heartbeats are sped up (frequency 100 ms, dropTime 600 ms) so failure
// detection fits a test; everything else is the example file as shipped, so these tests also
// check that the examples work.
//
// Thread-safety: none; one test thread uses these (CookieJar clients may be used per thread).
#pragma once

#include <gtest/gtest.h>
#include <httplib.h>
#include <nlohmann/json.hpp>
#include <signal.h>
#include <sys/stat.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <set>
#include <utility>
#include <vector>

#include "node_fixture.h"
#include "support/files.h"
#include "support/process.h"

namespace sessiond::testing {

/// Polls `done` every 20 ms until it holds or `timeout_ms` passes.
inline bool PollUntil(const std::function<bool()>& done, int timeout_ms) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (true) {
    if (done()) return true;
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

/// A session id's route ("demoA" of "3F…7A.demoA") and its base (e2e_tests link no lib/).
inline std::string RouteOfId(const std::string& id) {
  size_t dot = id.find('.');
  return dot == std::string::npos ? "" : id.substr(dot + 1);
}
inline std::string BaseOfId(const std::string& id) { return id.substr(0, id.find('.')); }

/// Text replacements applied to the example server.xml ("from" must occur).
using Edits = std::vector<std::pair<std::string, std::string>>;

/// One node of the demo cluster: "A" -> demoA on 127.0.0.2, "B" -> demoB on 127.0.0.3.
class DemoNode {
 public:
  DemoNode(const std::string& run_dir, const std::string& letter, const Edits& edits)
      : letter_(letter), host_("127.0.0." + std::to_string(2 + (letter[0] - 'A'))),
        base_(run_dir + "/node" + letter) {
    std::filesystem::create_directories(base_ + "/webapps");
    std::filesystem::copy_file(MYAPP_WAR, base_ + "/webapps/myapp.war");
    std::string xml = ReadFile(std::string(SESSIOND_SOURCE_DIR) + "/examples/node" + letter + ".xml");
    Edits all = {{"frequency=\"500\"", "frequency=\"100\""}, {"dropTime=\"3000\"", "dropTime=\"600\""}};
    all.insert(all.end(), edits.begin(), edits.end());
    for (const auto& [from, to] : all) {
      size_t at = xml.find(from);
      EXPECT_NE(at, std::string::npos) << "examples/node" << letter << ".xml has no " << from;
      if (at != std::string::npos) xml.replace(at, from.size(), to);
    }
    WriteFile(base_ + "/conf/server.xml", xml);
  }

  std::string name() const { return "demo" + letter_; }
  const std::string& host() const { return host_; }
  std::string Log() const { return "---- " + name() + " log ----\n" + ReadFile(base_ + "/sessiond.log"); }
  bool Running() { return child_ && child_->Running(); }
  Child* child() { return child_.get(); }

  /// Starts the process (with `env` added to its environment); with `wait_ready`, waits until
  /// /readyz answers 200.
  void Start(bool wait_ready = true, const std::map<std::string, std::string>& env = {}) {
    child_ = std::make_unique<Child>(
        std::vector<std::string>{SESSIOND_BIN, "--config", base_ + "/conf/server.xml", "--base-dir", base_},
        base_ + "/sessiond.log", env);
    ASSERT_TRUE(WaitForPort(host_, kAdminPort, 10000)) << Log();
    if (wait_ready) ASSERT_TRUE(WaitReady(20000)) << name() << " never became ready\n" << Log();
  }
  bool WaitReady(int timeout_ms) {
    return PollUntil([&] {
      auto r = AdminNoAuth().Get("/readyz");
      return r && r->status == 200;
    }, timeout_ms);
  }
  /// Sends `sig` and waits for the exit; returns the exit code.
  int Stop(int sig = SIGTERM) {
    child_->Signal(sig);
    int code = child_->Wait(20000);
    child_.reset();
    return code;
  }

  httplib::Client Http() const {
    httplib::Client c(host_, kHttpPort);
    c.set_connection_timeout(2);
    c.set_read_timeout(10);
    return c;
  }
  httplib::Client AdminNoAuth() const {
    httplib::Client c(host_, kAdminPort);
    c.set_connection_timeout(2);
    c.set_read_timeout(10);
    return c;
  }
  nlohmann::json AdminJson(const std::string& path) const {
    auto c = AdminNoAuth();
    c.set_bearer_token_auth(ReadFile(RunDir() + "/admin.token"));
    auto r = c.Get(path);
    if (!r || r->status != 200) return nullptr;
    return nlohmann::json::parse(r->body, nullptr, false);
  }
  nlohmann::json Status() const { return AdminJson("/v1/status"); }
  /// The /metrics page ("" when it does not answer).
  std::string Metrics() const {
    auto c = AdminNoAuth();
    c.set_bearer_token_auth(ReadFile(RunDir() + "/admin.token"));
    auto r = c.Get("/metrics");
    return r && r->status == 200 ? r->body : "";
  }
  /// How this node sees `member` ("" when it does not know it).
  std::string StateOf(const std::string& member) const {
    nlohmann::json members = AdminJson("/v1/members");
    if (!members.is_array()) return "";
    for (auto& m : members)
      if (m.value("name", "") == member) return m.value("state", "");
    return "";
  }
  /// The session is live here (asked through the data plane, without creating one).
  bool HasSession(const std::string& id) const {
    auto c = Http();
    auto r = c.Get("/myapp/.session?create=false", {{"Cookie", "JSESSIONID=" + id}});
    return r && r->status == 200;
  }
  /// Creates `n` sessions here, each with one attribute; returns their ids.
  std::vector<std::string> CreateSessions(int n) const {
    std::vector<std::string> ids;
    auto c = Http();
    for (int i = 0; i < n; ++i) {
      CookieJar jar(&c);
      auto r = jar.Put("/myapp/.session/attributes/i", std::to_string(i));
      EXPECT_TRUE(r && r->status == 204);
      ids.push_back(jar.session_id());
    }
    return ids;
  }
  CommandResult Sessctl(std::vector<std::string> args) const {
    std::vector<std::string> argv = {SESSCTL_BIN};
    argv.insert(argv.end(), args.begin(), args.end());
    return RunCommand(argv, {{"SESSCTL_TOKEN_FILE", RunDir() + "/admin.token"},
                             {"SESSCTL_ENDPOINT", "http://" + host_ + ":" + std::to_string(kAdminPort)}});
  }

 private:
  std::string RunDir() const { return std::filesystem::path(base_).parent_path().string(); }
  std::string letter_, host_, base_;
  std::unique_ptr<Child> child_;
};

/// A run directory with the shared secret and token, and the nodes added to it.
class DemoClusterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    WriteFile(run_.Path("cluster.secret"), "e2e-cluster-secret-" + std::string(24, 's') + "\n");
    WriteFile(run_.Path("admin.token"), "e2e-token-" + std::string(54, 't'));
    chmod(run_.Path("cluster.secret").c_str(), 0600);
    chmod(run_.Path("admin.token").c_str(), 0600);
  }

  DemoNode& Add(const std::string& letter, const Edits& edits = {}) {
    nodes_.push_back(std::make_unique<DemoNode>(run_.path(), letter, edits));
    return *nodes_.back();
  }
  static bool SeesAlive(const DemoNode& observer, const DemoNode& member) {
    return observer.StateOf(member.name()) == "alive";
  }
  /// Starts both and waits until each sees the other alive.
  void StartBoth(DemoNode& a, DemoNode& b) {
    ASSERT_NO_FATAL_FAILURE(a.Start());
    ASSERT_NO_FATAL_FAILURE(b.Start());
    ASSERT_TRUE(PollUntil([&] { return SeesAlive(a, b) && SeesAlive(b, a); }, 5000))
        << a.Log() << b.Log();
  }
  /// Every node's log, for failure messages.
  std::string Logs() const {
    std::string out;
    for (const auto& n : nodes_) out += n->Log();
    return out;
  }

  TempDir run_;
  std::vector<std::unique_ptr<DemoNode>> nodes_;
};

}  // namespace sessiond::testing
