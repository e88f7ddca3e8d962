// Farm deploy end to end (DESIGN.md §5 "Farm deploy"): real sessiond nodes from the seed-style
// server.xml on 127.0.0.2-4 in the test's private namespace, WARs built at test time, `sessctl
// deploy/undeploy/apps` run as an operator would, and every node's data plane checked over HTTP.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "cluster_fixture.h"
#include "node_fixture.h"
#include "support/zip.h"

namespace sessiond::testing {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

class FarmE2eTest : public ClusterTest {
 protected:
  /// A WAR whose index.html says `text` (distributable, so its sessions replicate).
  std::string War(const std::string& file, const std::string& text) {
    std::string path = wars_.Path(file);
    BuildZip(path, {{"index.html", text},
                    {"WEB-INF/web.xml", "<web-app><distributable/></web-app>"}});
    return path;
  }
  std::string Hostile(const std::string& file, const std::vector<ZipEntry>& entries) {
    std::string path = wars_.Path(file);
    BuildZip(path, entries);
    return path;
  }
  /// What `node` serves at `path` ("<status>" when not 200, "" when it does not answer).
  static std::string Serves(ClusterNode& node, const std::string& path) {
    httplib::Client c(node.Address(), kClusterHttpPort);
    c.set_connection_timeout(2);
    auto r = c.Get(path);
    if (!r) return "";
    return r->status == 200 ? r->body : "<" + std::to_string(r->status) + ">";
  }
  void ExpectEveryNodeServes(const std::string& path, const std::string& body) {
    for (auto& n : nodes_) {
      if (n->Running()) EXPECT_EQ(Serves(*n, path), body) << n->name();
    }
  }
  CommandResult Deploy(ClusterNode& via, const std::string& war, const std::string& ctx) {
    return via.Sessctl({"deploy", war, "--path", ctx, "--wait", "--wait-timeout", "20s", "-o", "json"});
  }
  /// The version every node's /v1/apps lists for `name` ("" when absent).
  static std::string VersionOn(ClusterNode& node, const std::string& name) {
    auto r = node.Admin().Get("/v1/apps");
    if (!r || r->status != 200) return "?";
    for (auto& a : json::parse(r->body))
      if (a.value("name", "") == name) return a.value("sha256", "");
    return "";
  }

  TempDir wars_;
};

TEST_F(FarmE2eTest, DeployWithWaitServesTheWarOnEveryNode) {
  ASSERT_NO_FATAL_FAILURE(StartThree());
  std::string war = War("shop.war", "shop v1");
  CommandResult r = Deploy(*nodes_[0], war, "/shop");
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  json result = json::parse(r.out);
  EXPECT_EQ(result["name"], "shop");
  ASSERT_EQ(result["nodes"].size(), 3u) << r.out;
  std::string sha = result["sha256"];
  for (auto& n : result["nodes"]) {
    EXPECT_TRUE(n["ok"].get<bool>()) << n;
    EXPECT_EQ(n["sha256"], sha);
  }
  // --wait returned: every node serves it now, no polling.
  ExpectEveryNodeServes("/shop/index.html", "shop v1");
  for (auto& n : nodes_) EXPECT_EQ(VersionOn(*n, "shop"), sha) << n->name();
  // sessctl apps: one row, every node on the same version.
  CommandResult apps = nodes_[1]->Sessctl({"apps", "-o", "json"});
  ASSERT_EQ(apps.exit_code, 0) << apps.err;
  json list = json::parse(apps.out);
  auto shop = std::find_if(list.begin(), list.end(), [](const json& a) { return a["name"] == "shop"; });
  ASSERT_NE(shop, list.end()) << apps.out;
  EXPECT_FALSE((*shop)["skew"].get<bool>()) << apps.out;
  EXPECT_EQ((*shop)["nodes"].size(), 3u);
  CommandResult table = nodes_[1]->Sessctl({"apps"});
  EXPECT_NE(table.out.find("3/3 ok"), std::string::npos) << table.out;
  // Every node logged it.
  for (auto& n : nodes_) {
    bool logged = false;
    for (auto& e : n->Events())
      logged = logged || (e.value("kind", "") == "deploy" && e.value("message", "").find("shop") != std::string::npos);
    EXPECT_TRUE(logged) << n->name();
  }
}

TEST_F(FarmE2eTest, HostileWarsAreRefusedAndTheRunningVersionKeepsServing) {
  ASSERT_NO_FATAL_FAILURE(StartThree());
  ASSERT_EQ(Deploy(*nodes_[0], War("shop.war", "shop v1"), "/shop").exit_code, 0);
  std::string sha = VersionOn(*nodes_[0], "shop");
  std::string good = War("good.war", "shop v2");
  std::string truncated = wars_.Path("truncated.war");
  std::string bytes = ReadFile(good);
  WriteFile(truncated, bytes.substr(0, bytes.size() / 2));
  struct Case {
    std::string war, entry, reason;
  } cases[] = {
      {Hostile("slip.war", {{"index.html", "x"}, {"../../evil.txt", "pwned"}}), "../../evil.txt", "escapes"},
      {Hostile("abs.war", {{"index.html", "x"}, {"/etc/evil", "pwned"}}), "/etc/evil", "absolute"},
      {Hostile("link.war", {{"index.html", "x"}, {"link", "/etc/passwd", 0120777}}), "link", "symbolic link"},
      {truncated, "", ""},
  };
  for (const Case& c : cases) {
    CommandResult r = Deploy(*nodes_[1], c.war, "/shop");
    EXPECT_EQ(r.exit_code, 1) << c.war << "\n" << r.out << r.err;
    EXPECT_NE(r.err.find("shop.war"), std::string::npos) << r.err;
    if (!c.entry.empty()) {
      EXPECT_NE(r.err.find(c.entry), std::string::npos) << r.err;
      EXPECT_NE(r.err.find(c.reason), std::string::npos) << r.err;
    }
    ExpectEveryNodeServes("/shop/index.html", "shop v1");
    for (auto& n : nodes_) EXPECT_EQ(VersionOn(*n, "shop"), sha) << n->name();
  }
  for (auto& n : nodes_) {
    EXPECT_FALSE(fs::exists(n->BasePath("evil.txt")));
    EXPECT_FALSE(fs::exists(n->BasePath("webapps/evil.txt")));
  }
}

TEST_F(FarmE2eTest, RedeployKeepsSessionsAndUndeployRemovesTheAppEverywhere) {
  ASSERT_NO_FATAL_FAILURE(StartThree());
  ASSERT_EQ(Deploy(*nodes_[0], War("shop.war", "shop v1"), "/shop").exit_code, 0);
  httplib::Client a(nodes_[0]->Address(), kClusterHttpPort);
  CookieJar jar(&a);
  auto put = jar.Put("/shop/.session/attributes/cart", "[\"book\"]");
  ASSERT_TRUE(put && put->status == 204) << (put ? put->body : "no answer");
  std::string id = jar.session_id();

  CommandResult r = Deploy(*nodes_[2], War("shop2.war", "shop v2"), "/shop");
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  ExpectEveryNodeServes("/shop/index.html", "shop v2");
  for (auto& n : nodes_) {
    httplib::Client c(n->Address(), kClusterHttpPort);
    CookieJar on(&c);
    on.set_session_id(id);
    bool replicated = WaitUntil([&] {
      auto got = on.Get("/shop/.session/attributes/cart");
      return got && got->status == 200 && got->body == "[\"book\"]";
    }, 3000);
    EXPECT_TRUE(replicated) << n->name() << " lost the session across the redeploy";
  }

  CommandResult u = nodes_[1]->Sessctl({"undeploy", "/shop", "--wait", "-o", "json"});
  ASSERT_EQ(u.exit_code, 0) << u.out << u.err;
  EXPECT_EQ(json::parse(u.out)["nodes"].size(), 3u);
  ExpectEveryNodeServes("/shop/index.html", "<404>");
  for (auto& n : nodes_) EXPECT_EQ(VersionOn(*n, "shop"), "") << n->name();
  CommandResult again = nodes_[1]->Sessctl({"undeploy", "/shop"});
  EXPECT_EQ(again.exit_code, 4) << again.out << again.err;
}

TEST_F(FarmE2eTest, LateJoinerServesTheAppsBeforeItIsReady) {
  NodeSpec a{"nodeA", 2}, b{"nodeB", 3}, c{"nodeC", 4};
  ASSERT_NO_FATAL_FAILURE(AddStarted(a));
  ASSERT_NO_FATAL_FAILURE(AddStarted(b));
  ASSERT_TRUE(WaitUntil([&] { return AllSeeAllAlive(); }, 5000)) << Views();
  ASSERT_EQ(Deploy(*nodes_[0], War("shop.war", "shop v1"), "/shop").exit_code, 0);
  ASSERT_EQ(Deploy(*nodes_[1], War("blog.war", "blog v1"), "/blog").exit_code, 0);

  ClusterNode& late = Add(c);
  ASSERT_NO_FATAL_FAILURE(late.Start(/*wait=*/false));
  ASSERT_TRUE(WaitUntil([&] {
    auto r = late.Admin().Get("/readyz");
    return r && r->status == 200;
  }, 15000)) << late.Log();
  // Ready means it serves the cluster's apps already.
  EXPECT_EQ(Serves(late, "/shop/index.html"), "shop v1");
  EXPECT_EQ(Serves(late, "/blog/index.html"), "blog v1");

  // A restart redeploys from its own data dir (and converges again).
  late.Stop();
  ASSERT_NO_FATAL_FAILURE(late.Start());
  EXPECT_EQ(Serves(late, "/shop/index.html"), "shop v1");
}

TEST_F(FarmE2eTest, DeployToOneNodeLeavesTheOthersAloneAndAppsShowsTheSkew) {
  ASSERT_NO_FATAL_FAILURE(StartThree());
  ClusterNode &a = *nodes_[0], &b = *nodes_[1], &c = *nodes_[2];
  ASSERT_EQ(Deploy(a, War("shop.war", "shop v1"), "/shop").exit_code, 0);
  std::string v1 = VersionOn(a, "shop");

  // Given to nodeA, deployed by nodeB only: nodeA stores it for nodeB's pull but keeps v1.
  std::string war2 = War("shop2.war", "shop v2");
  CommandResult r = a.Sessctl({"deploy", war2, "--path", "/shop", "--node", "nodeB", "--wait",
                               "--wait-timeout", "20s", "-o", "json"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  json result = json::parse(r.out);
  std::string v2 = result["sha256"];
  EXPECT_EQ(result["only_node"], "nodeB");
  ASSERT_EQ(result["nodes"].size(), 1u) << r.out;
  EXPECT_EQ(result["nodes"][0]["node"], "nodeB");
  EXPECT_TRUE(result["nodes"][0]["ok"].get<bool>()) << r.out;
  EXPECT_EQ(result["nodes"][0]["sha256"], v2);
  EXPECT_EQ(Serves(a, "/shop/index.html"), "shop v1");
  EXPECT_EQ(Serves(b, "/shop/index.html"), "shop v2");
  EXPECT_EQ(Serves(c, "/shop/index.html"), "shop v1");
  EXPECT_EQ(VersionOn(a, "shop"), v1);
  EXPECT_EQ(VersionOn(b, "shop"), v2);
  EXPECT_EQ(VersionOn(c, "shop"), v1);
  EXPECT_TRUE(WaitUntil([&] { return !fs::exists(a.BasePath("sessiond-data/wars/" + v2 + ".war")); }, 5000))
      << "nodeA keeps a WAR it only passed on";
  EXPECT_TRUE(fs::exists(a.BasePath("sessiond-data/wars/" + v1 + ".war")));

  // sessctl apps on nodeC: the skew, against nodeC's own version.
  CommandResult apps = c.Sessctl({"apps", "-o", "json"});
  ASSERT_EQ(apps.exit_code, 0) << apps.err;
  json shop;
  for (auto& app : json::parse(apps.out))
    if (app["name"] == "shop") shop = app;
  ASSERT_TRUE(shop.is_object()) << apps.out;
  EXPECT_TRUE(shop["skew"].get<bool>()) << apps.out;
  std::map<std::string, std::string> status;
  for (auto& n : shop["nodes"]) status[n["node"]] = n["status"].get<std::string>() + " " + n["sha256"].get<std::string>();
  EXPECT_EQ(status, (std::map<std::string, std::string>{
                        {"nodeA", "ok " + v1}, {"nodeB", "other_version " + v2}, {"nodeC", "ok " + v1}}))
      << apps.out;
  CommandResult table = c.Sessctl({"apps"});
  EXPECT_NE(table.out.find("skew: nodeB " + v2.substr(0, 12)), std::string::npos) << table.out;

  // --node naming the node sessctl talks to: it deploys without telling anyone.
  r = c.Sessctl({"deploy", war2, "--path", "/shop", "--node", "nodeC", "--wait", "-o", "json"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(json::parse(r.out)["nodes"].size(), 1u) << r.out;
  EXPECT_EQ(Serves(c, "/shop/index.html"), "shop v2");
  EXPECT_EQ(Serves(a, "/shop/index.html"), "shop v1");
  table = b.Sessctl({"apps"});
  EXPECT_NE(table.out.find("skew: nodeA " + v1.substr(0, 12)), std::string::npos) << table.out;

  // A hostile WAR is refused by the node it was given to: nothing reaches nodeC.
  size_t c_deploys = 0;
  for (auto& e : c.Events()) c_deploys += e.value("kind", "") == "deploy";
  r = a.Sessctl({"deploy", Hostile("shop.war", {{"index.html", "x"}, {"../evil", "x"}}), "--node", "nodeC", "--wait"});
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_NE(r.err.find("../evil"), std::string::npos) << r.err;
  size_t c_deploys_after = 0;
  for (auto& e : c.Events()) c_deploys_after += e.value("kind", "") == "deploy";
  EXPECT_EQ(c_deploys_after, c_deploys) << "the refused WAR was announced to nodeC";
  EXPECT_EQ(Serves(c, "/shop/index.html"), "shop v2");

  // Nodes that cannot take it: named, with sessctl's exit codes (4 unknown, 3 not alive).
  r = a.Sessctl({"deploy", war2, "--path", "/shop", "--node", "nodeX"});
  EXPECT_EQ(r.exit_code, 4) << r.out << r.err;
  EXPECT_NE(r.err.find("nodeX"), std::string::npos) << r.err;
  c.Stop();
  ASSERT_TRUE(WaitUntil([&] { return a.StateOf("nodeC") == "left"; }, 5000)) << Views();
  r = a.Sessctl({"deploy", war2, "--path", "/shop", "--node", "nodeC"});
  EXPECT_EQ(r.exit_code, 3) << r.out << r.err;
  EXPECT_NE(r.err.find("nodeC is left"), std::string::npos) << r.err;

  // A farm deploy ends the skew.
  ASSERT_EQ(Deploy(b, war2, "/shop").exit_code, 0);
  ExpectEveryNodeServes("/shop/index.html", "shop v2");
}

// The rule deploy.h and sessctl(1) give for skew: a node that restarts takes the app set of the
// first alive member by name, whatever it served before.
TEST_F(FarmE2eTest, ANodeRestartedDuringSkewTakesTheFirstAliveMembersVersion) {
  ASSERT_NO_FATAL_FAILURE(StartThree());
  ClusterNode &a = *nodes_[0], &c = *nodes_[2];
  ASSERT_EQ(Deploy(a, War("shop.war", "shop v1"), "/shop").exit_code, 0);
  std::string war2 = War("shop2.war", "shop v2");
  auto restart = [&](ClusterNode& n) {
    n.Stop();
    ASSERT_NO_FATAL_FAILURE(n.Start());
    ASSERT_TRUE(WaitUntil([&] {
      auto r = n.Admin().Get("/readyz");
      return r && r->status == 200;
    }, 15000)) << n.Log();
  };
  auto deploy_on = [&](const std::string& node) {
    CommandResult r = a.Sessctl({"deploy", war2, "--path", "/shop", "--node", node, "--wait"});
    ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  };

  // Only nodeA has v2: restarted, it takes nodeB's set (the first alive member it sees) — v1.
  ASSERT_NO_FATAL_FAILURE(deploy_on("nodeA"));
  ASSERT_NO_FATAL_FAILURE(restart(a));
  EXPECT_EQ(Serves(a, "/shop/index.html"), "shop v1");

  // Once the roll passed nodeA and nodeB, a restarted nodeC takes v2, its own registry's v1
  // notwithstanding. (Which member counts as first is the first by name among those it sees
  // alive when it starts, so this case has both others on v2.)
  ASSERT_NO_FATAL_FAILURE(deploy_on("nodeA"));
  ASSERT_NO_FATAL_FAILURE(deploy_on("nodeB"));
  EXPECT_EQ(Serves(c, "/shop/index.html"), "shop v1");
  ASSERT_NO_FATAL_FAILURE(restart(c));
  EXPECT_EQ(Serves(c, "/shop/index.html"), "shop v2");
}

TEST_F(FarmE2eTest, WatchDirDropDeploysEverywhereAndRemovalUndeploys) {
  ClusterNode& a = Add({"nodeA", 2});
  ClusterNode& b = Add({"nodeB", 3});
  std::string xml = ReadFile(a.BasePath("conf/server.xml"));
  ReplaceOnce(xml, "watchEnabled=\"false\"", "watchEnabled=\"true\"");
  WriteFile(a.BasePath("conf/server.xml"), xml);
  ASSERT_NO_FATAL_FAILURE(a.Start());
  ASSERT_NO_FATAL_FAILURE(b.Start());
  ASSERT_TRUE(WaitUntil([&] { return AllSeeAllAlive(); }, 5000)) << Views();
  // Written under a hidden name, then renamed into place: never picked up half-written.
  std::string hidden = a.BasePath("war-listen/.shop.war");
  fs::copy_file(War("shop.war", "dropped v1"), hidden);
  fs::rename(hidden, a.BasePath("war-listen/shop.war"));
  EXPECT_TRUE(WaitUntil([&] { return Serves(b, "/shop/index.html") == "dropped v1"; }, 10000)) << a.Log();
  EXPECT_EQ(Serves(a, "/shop/index.html"), "dropped v1");
  fs::remove(a.BasePath("war-listen/shop.war"));
  EXPECT_TRUE(WaitUntil([&] { return Serves(b, "/shop/index.html") == "<404>"; }, 10000)) << a.Log();
  EXPECT_EQ(Serves(a, "/shop/index.html"), "<404>");
}

}  // namespace
}  // namespace sessiond::testing
