// Cluster end-to-end fixture: real sessiond processes, each started from a seed-style server.xml
// generated from tests/data/seed-server-fixed.xml (the tutorial's config with its quotes
// escaped): jvmRoute nodeX, Receiver 127.0.0.x:4000, Connector 8080 on --http-address 127.0.0.x,
// <Sessiond adminAddress="127.0.0.x"/>, the tutorial's <Context> removed, Deployer dirs under the
// node's base dir, Membership `bind` empty so it joins on the receiver's interface.
//
// Every e2e test process runs in its own loopback-only network namespace (tests/support/netns-run),
// so the seed's multicast group 228.0.0.4:45564 and the fixed ports never clash between tests.
//
// How a node's view is read: GET /v1/members when the node answers it, else the event log
// replayed (the latest membership event per member). Transition times come from the event log's
// timestamps, so they do not depend on the 50 ms polling.
//
// Thread-safety: none; one test thread uses these.
#pragma once

#include <gtest/gtest.h>
#include <httplib.h>
#include <nlohmann/json.hpp>
#include <signal.h>
#include <sys/stat.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "base/base.h"
#include "support/files.h"
#include "support/process.h"

namespace sessiond::testing {

inline constexpr uint16_t kClusterHttpPort = 8080;
inline constexpr uint16_t kClusterAdminPort = 8099;
inline constexpr uint16_t kReceiverPort = 4000;

/// What differs between the nodes of one test.
struct NodeSpec {
  std::string name;                ///< jvmRoute, "nodeA"
  int host = 2;                    ///< listens on 127.0.0.<host>
  int64_t frequency_ms = 100;      ///< tests run fast; the seed says 500
  int64_t drop_time_ms = 600;      ///< the seed says 3000
  uint16_t mcast_port = 45564;
  std::string domain;              ///< Membership domain ("" = none, as the seed)
  std::string secret_file;         ///< <Sessiond clusterSecretFile>; "" = unauthenticated
  std::vector<std::string> flags;  ///< extra sessiond flags
  std::map<std::string, std::string> env;  ///< extra environment (LD_PRELOAD=libfaketime, …)
  std::string Address() const { return "127.0.0." + std::to_string(host); }
};

/// Replaces the one occurrence of `from` in `text`; a seed that no longer has it fails the test.
inline void ReplaceOnce(std::string& text, const std::string& from, const std::string& to) {
  size_t at = text.find(from);
  ASSERT_NE(at, std::string::npos) << "seed-server-fixed.xml has no '" << from << "'";
  text.replace(at, from.size(), to);
}

/// The seed's server.xml, adapted for `spec` as the header comment says.
inline std::string SeedStyleServerXml(const NodeSpec& spec, const std::string& token_file) {
  std::string xml = ReadFile(TestData("seed-server-fixed.xml"));
  std::string sessiond = "<Sessiond adminAddress=\"" + spec.Address() + "\" tokenFile=\"" +
                         token_file + "\"";
  if (!spec.secret_file.empty()) sessiond += " clusterSecretFile=\"" + spec.secret_file + "\"";
  sessiond += "/>";
  ReplaceOnce(xml, "<Server port=\"8005\" shutdown=\"SHUTDOWN\">",
              "<Server port=\"8005\" shutdown=\"SHUTDOWN\">\n" + sessiond);
  ReplaceOnce(xml, "jvmRoute=\"tomcatA\"", "jvmRoute=\"" + spec.name + "\"");
  ReplaceOnce(xml, "<Context path=\"/myapp\" docBase=\"/webapps/myapp\" reloadable=\"\"/>", "");
  std::string membership = "port=\"" + std::to_string(spec.mcast_port) + "\"\nfrequency=\"" +
                           std::to_string(spec.frequency_ms) + "\"\ndropTime=\"" +
                           std::to_string(spec.drop_time_ms) + "\"\nbind=\"\"";
  if (!spec.domain.empty()) membership += " domain=\"" + spec.domain + "\"";
  ReplaceOnce(xml, "port=\"45564\"\nfrequency=\"500\"\ndropTime=\"3000\"", membership);
  ReplaceOnce(xml, "address=\"192.168.0.42\"", "address=\"" + spec.Address() + "\"");
  ReplaceOnce(xml, "tempDir=\"/tmp/war-temp/\"", "tempDir=\"war-temp/\"");
  ReplaceOnce(xml, "deployDir=\"/tmp/war-deploy/\"", "deployDir=\"war-deploy/\"");
  ReplaceOnce(xml, "watchDir=\"/tmp/war-listen/\"", "watchDir=\"war-listen/\"");
  return xml;
}

/// One member as a node sees it.
struct MemberView {
  std::string state;    ///< alive | suspect | dead | left
  std::string address;  ///< receiver "host:port"
  int64_t incarnation = 0;  ///< 0 when only the event log was available
};

/// Polls `done` every 50 ms until it holds or `timeout_ms` passes.
inline bool WaitUntil(const std::function<bool()>& done, int timeout_ms) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (true) {
    if (done()) return true;
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

/// One real sessiond from a seed-style server.xml, in its own base directory.
class ClusterNode {
 public:
  ClusterNode(NodeSpec spec, std::string token_file)
      : spec_(std::move(spec)), token_file_(std::move(token_file)) {
    std::filesystem::create_directories(base_.Path("webapps"));
    WriteFile(base_.Path("conf/server.xml"), SeedStyleServerXml(spec_, token_file_));
  }

  const NodeSpec& spec() const { return spec_; }
  NodeSpec& mutable_spec() { return spec_; }
  const std::string& name() const { return spec_.name; }
  std::string Address() const { return spec_.Address(); }
  std::string BasePath(const std::string& rel) const { return base_.Path(rel); }
  std::string Log() const { return ReadFile(base_.Path("sessiond.log")); }
  Child* child() { return child_.get(); }

  /// Starts the process; `wait` waits until the admin endpoint answers.
  void Start(bool wait = true) {
    std::vector<std::string> argv = {SESSIOND_BIN,    "--config",       base_.Path("conf/server.xml"),
                                     "--base-dir",    base_.path(),     "--http-address",
                                     Address()};
    argv.insert(argv.end(), spec_.flags.begin(), spec_.flags.end());
    child_ = std::make_unique<Child>(argv, base_.Path("sessiond.log"), spec_.env);
    if (wait) ASSERT_TRUE(WaitReady(10000)) << name() << " did not start:\n" << Log();
  }
  bool WaitReady(int timeout_ms) {
    return WaitForPort(Address(), kClusterAdminPort, timeout_ms) &&
           WaitForPort(Address(), kClusterHttpPort, timeout_ms);
  }
  void Signal(int sig) { child_->Signal(sig); }
  /// Sends `sig` and waits for the exit; returns the exit code.
  int Stop(int sig = SIGTERM) {
    child_->Signal(sig);
    int code = child_->Wait(15000);
    child_.reset();
    return code;
  }
  bool Running() { return child_ && child_->Running(); }

  httplib::Client Admin() const {
    httplib::Client c(Address(), kClusterAdminPort);
    c.set_bearer_token_auth(Token());
    c.set_connection_timeout(2);
    c.set_read_timeout(5);
    return c;
  }
  std::string Token() const {
    std::string t = ReadFile(token_file_);
    while (!t.empty() && (t.back() == '\n' || t.back() == ' ')) t.pop_back();
    return t;
  }

  /// The whole event log (every page), oldest first.
  std::vector<nlohmann::json> Events() const {
    std::vector<nlohmann::json> out;
    auto admin = Admin();
    int64_t since = 0;
    while (true) {
      auto r = admin.Get("/v1/events?limit=1000&since=" + std::to_string(since));
      if (!r || r->status != 200) return out;
      auto page = nlohmann::json::parse(r->body, nullptr, false);
      if (page.is_discarded() || !page["items"].is_array() || page["items"].empty()) return out;
      for (auto& e : page["items"]) out.push_back(e);
      int64_t next = page.value("next_since", since);
      if (next <= since) return out;
      since = next;
    }
  }

  /// Membership events about `member`, oldest first.
  std::vector<nlohmann::json> MembershipEvents(const std::string& member) const {
    std::vector<nlohmann::json> out;
    for (auto& e : Events())
      if (e.value("kind", "") == "membership" && e.value("node", "") == member) out.push_back(e);
    return out;
  }

  /// When `member` last entered `state` at or after `after_ms` (wall ms), per the event log.
  std::optional<int64_t> TransitionTime(const std::string& member, const std::string& state,
                                        int64_t after_ms) const {
    std::optional<int64_t> found;
    for (auto& e : MembershipEvents(member)) {
      if (e["fields"].value("state", "") != state) continue;
      auto t = ParseRfc3339Millis(e.value("time", ""));
      if (t && *t >= after_ms) found = *t;
    }
    return found;
  }

  /// GET /v1/members as JSON, or nullopt while the node does not answer it (not wired yet).
  std::optional<nlohmann::json> MembersJson() const {
    auto r = Admin().Get("/v1/members");
    if (!r || r->status != 200) return std::nullopt;
    auto j = nlohmann::json::parse(r->body, nullptr, false);
    if (!j.is_array()) return std::nullopt;
    return j;
  }

  /// The other members as this node sees them, by name: /v1/members, else the event log.
  std::map<std::string, MemberView> Members() const {
    std::map<std::string, MemberView> out;
    if (auto j = MembersJson()) {
      for (auto& m : *j) {
        if (m.value("self", false) || m.value("name", "") == name()) continue;
        out[m.value("name", "")] = {m.value("state", ""), m.value("address", ""),
                                    m.value("incarnation", int64_t{0})};
      }
      return out;
    }
    for (auto& e : Events()) {
      if (e.value("kind", "") != "membership") continue;
      MemberView& v = out[e.value("node", "")];
      v.state = e["fields"].value("state", "");
      v.address = e["fields"].value("address", "");
    }
    return out;
  }
  /// sessiond_members{state="alive"} from /metrics (this node included): the membership
  /// table's own count, right even when the event log missed a change; -1 when unreadable.
  int AliveCount() const {
    auto r = Admin().Get("/metrics");
    if (!r || r->status != 200) return -1;
    std::string key = "sessiond_members{state=\"alive\"} ";
    size_t at = r->body.find(key);
    if (at == std::string::npos) return -1;
    return std::atoi(r->body.c_str() + at + key.size());
  }
  std::string StateOf(const std::string& member) const {
    auto all = Members();
    auto it = all.find(member);
    return it == all.end() ? "" : it->second.state;
  }

  /// Runs sessctl against this node.
  CommandResult Sessctl(std::vector<std::string> args) const {
    std::vector<std::string> argv = {SESSCTL_BIN};
    argv.insert(argv.end(), args.begin(), args.end());
    return RunCommand(argv, SessctlEnv());
  }
  std::map<std::string, std::string> SessctlEnv() const {
    return {{"SESSCTL_TOKEN_FILE", token_file_},
            {"SESSCTL_ENDPOINT", "http://" + Address() + ":" + std::to_string(kClusterAdminPort)}};
  }

 private:
  NodeSpec spec_;
  std::string token_file_;
  TempDir base_;
  std::unique_ptr<Child> child_;
};

/// A set of nodes sharing one admin token file (so one sessctl token works on every node).
class ClusterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    token_file_ = shared_.Path("admin.token");
    WriteFile(token_file_, "cluster-e2e-" + std::string(52, '7') + "\n");
    chmod(token_file_.c_str(), 0600);
  }

  /// A secret file holding `text` (at least 16 bytes), 0600.
  std::string SecretFile(const std::string& label, const std::string& text) {
    std::string path = shared_.Path("secret-" + label);
    WriteFile(path, text + "\n");
    chmod(path.c_str(), 0600);
    return path;
  }

  /// Adds a node (not started). Names nodeA, nodeB, ... map to 127.0.0.2, .3, ... unless
  /// `spec.host` says otherwise.
  ClusterNode& Add(NodeSpec spec) {
    nodes_.push_back(std::make_unique<ClusterNode>(std::move(spec), token_file_));
    return *nodes_.back();
  }
  ClusterNode& AddStarted(NodeSpec spec) {
    ClusterNode& n = Add(std::move(spec));
    n.Start();
    return n;
  }

  /// Starts nodeA/B/C on .2/.3/.4 with the given timings and waits until all see each other.
  void StartThree(int64_t frequency_ms = 100, int64_t drop_time_ms = 600,
                  const std::string& secret_file = "") {
    for (int i = 0; i < 3; ++i) {
      NodeSpec s;
      s.name = std::string("node") + char('A' + i);
      s.host = 2 + i;
      s.frequency_ms = frequency_ms;
      s.drop_time_ms = drop_time_ms;
      s.secret_file = secret_file;
      ASSERT_NO_FATAL_FAILURE(AddStarted(s));
    }
    ASSERT_TRUE(WaitUntil([&] { return AllSeeAllAlive(); }, 5000)) << Views();
  }

  /// Every running node sees every other running node alive. Without GET /v1/members, by each
  /// node's alive count in /metrics (its event log can miss a join: see the report on
  /// daemon/node.cc's OnChange registration).
  bool AllSeeAllAlive() {
    int running = 0;
    for (auto& n : nodes_) running += n->Running() ? 1 : 0;
    for (auto& n : nodes_) {
      if (!n->Running()) continue;
      if (!n->MembersJson()) {
        if (n->AliveCount() != running) return false;
        continue;
      }
      auto members = n->Members();
      for (auto& other : nodes_) {
        if (other.get() == n.get() || !other->Running()) continue;
        auto it = members.find(other->name());
        if (it == members.end() || it->second.state != "alive") return false;
      }
    }
    return true;
  }

  /// `observers` all see `member` in `state`.
  bool AllSee(const std::vector<ClusterNode*>& observers, const std::string& member,
              const std::string& state) {
    for (ClusterNode* o : observers)
      if (o->StateOf(member) != state) return false;
    return true;
  }

  /// Every node's view, for failure messages.
  std::string Views() {
    std::string out;
    for (auto& n : nodes_) {
      out += n->name() + (n->Running() ? "" : " (not running)") + " sees:";
      for (auto& [name, v] : n->Members()) out += " " + name + "=" + v.state + "@" + v.address;
      out += "\n";
    }
    return out;
  }

  ClusterNode& node(size_t i) { return *nodes_.at(i); }

  TempDir shared_;
  std::string token_file_;
  std::vector<std::unique_ptr<ClusterNode>> nodes_;
};

}  // namespace sessiond::testing
