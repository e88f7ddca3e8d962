// Replication end to end (DESIGN.md §5): real sessiond processes started from the demo's
// examples/nodeA.xml and nodeB.xml (jvmRoute demoA/demoB on 127.0.0.2/.3, multicast on the
// loopback interface, a shared cluster secret and admin token), with faster heartbeats. Each
// test process runs in its own private network namespace (tests/support/netns-run).
#include "replication_fixture.h"

namespace sessiond::testing {
namespace {

using nlohmann::json;

class ReplicationE2eTest : public DemoClusterTest {};

TEST_F(ReplicationE2eTest, WriteOnAReadOnB) {
  DemoNode& a = Add("A");
  DemoNode& b = Add("B");
  ASSERT_NO_FATAL_FAILURE(a.Start());
  ASSERT_NO_FATAL_FAILURE(b.Start());
  ASSERT_TRUE(PollUntil([&] { return SeesAlive(a, b) && SeesAlive(b, a); }, 5000)) << a.Log() << b.Log();

  auto http_a = a.Http();
  CookieJar jar(&http_a);
  auto put = jar.Put("/myapp/.session/attributes/cart", R"({"items":[1,2,3]})");
  ASSERT_TRUE(put);
  ASSERT_EQ(put->status, 204);
  ASSERT_EQ(RouteOfId(jar.session_id()), "demoA");

  auto http_b = b.Http();
  CookieJar on_b(&http_b);
  on_b.set_session_id(jar.session_id());
  std::string body;
  ASSERT_TRUE(PollUntil([&] {
    auto r = on_b.Get("/myapp/.session/attributes/cart");
    if (r && r->status == 200) body = r->body;
    return r && r->status == 200;
  }, 3000)) << "B never saw A's write\n" << b.Log();
  EXPECT_EQ(json::parse(body), json::parse(R"({"items":[1,2,3]})"));
  auto session = on_b.Get("/myapp/.session");
  ASSERT_TRUE(session);
  json s = json::parse(session->body);
  EXPECT_EQ(s["id"], jar.session_id()) << "the id stays: demoA is alive";
  EXPECT_EQ(s["node"], "demoB");

  // And back: B's write is visible on A.
  ASSERT_EQ(on_b.Put("/myapp/.session/attributes/step", "2")->status, 204);
  ASSERT_TRUE(PollUntil([&] {
    auto r = jar.Get("/myapp/.session/attributes/step");
    return r && r->status == 200 && r->body == "2";
  }, 3000));
}

TEST_F(ReplicationE2eTest, JvmRouteBinderKeepsTheIdWhileItsNodeIsAlive) {
  DemoNode& a = Add("A");
  DemoNode& b = Add("B");
  ASSERT_NO_FATAL_FAILURE(StartBoth(a, b));
  auto http_b = b.Http();
  CookieJar jar(&http_b);
  ASSERT_EQ(jar.Put("/myapp/.session/attributes/n", "1")->status, 204);
  std::string id = jar.session_id();
  auto http_a = a.Http();
  CookieJar on_a(&http_a);
  on_a.set_session_id(id);
  ASSERT_TRUE(PollUntil([&] {
    auto r = on_a.Get("/myapp/.session/attributes/n");
    return r && r->status == 200;
  }, 3000));
  for (int i = 0; i < 4; ++i) {
    auto r = on_a.Get("/myapp/.session");
    ASSERT_TRUE(r);
    EXPECT_FALSE(r->has_header("Set-Cookie"));
    EXPECT_EQ(on_a.session_id(), id);
  }
}

TEST_F(ReplicationE2eTest, JvmRouteBinderReissuesTheIdOfADeadNodeWithItsDataIntact) {
  DemoNode& a = Add("A");
  DemoNode& b = Add("B");
  ASSERT_NO_FATAL_FAILURE(StartBoth(a, b));
  auto http_b = b.Http();
  CookieJar jar(&http_b);
  ASSERT_EQ(jar.Put("/myapp/.session/attributes/cart", "[7,8]")->status, 204);
  std::string old_id = jar.session_id();
  ASSERT_EQ(RouteOfId(old_id), "demoB");
  ASSERT_TRUE(PollUntil([&] { return a.HasSession(old_id); }, 3000));

  b.Stop(SIGKILL);
  ASSERT_TRUE(PollUntil([&] { return a.StateOf("demoB") != "alive"; }, 8000)) << a.Log();

  auto http_a = a.Http();
  CookieJar on_a(&http_a);
  on_a.set_session_id(old_id);
  auto r = on_a.Get("/myapp/.session");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200);
  ASSERT_TRUE(r->has_header("Set-Cookie")) << r->body;
  EXPECT_EQ(on_a.session_id(), BaseOfId(old_id) + ".demoA");
  json s = json::parse(r->body);
  EXPECT_EQ(s["id"], on_a.session_id());
  EXPECT_EQ(s["attributes"]["cart"], json::parse("[7,8]"));
  // The old id keeps resolving for requests already on their way.
  CookieJar late(&http_a);
  late.set_session_id(old_id);
  auto again = late.Get("/myapp/.session/attributes/cart");
  ASSERT_TRUE(again);
  EXPECT_EQ(again->status, 200);
}

TEST_F(ReplicationE2eTest, LateJoinerIsReadyOnlyOnceItHoldsEverySession) {
  constexpr int kSessions = 2000;
  DemoNode& a = Add("A");
  ASSERT_NO_FATAL_FAILURE(a.Start());
  auto http_a = a.Http();
  for (int i = 0; i < kSessions; ++i) {
    CookieJar jar(&http_a);
    auto r = jar.Put("/myapp/.session/attributes/i", std::to_string(i));
    ASSERT_TRUE(r && r->status == 204) << "session " << i;
  }
  ASSERT_EQ(a.Status()["sessions"].get<int>(), kSessions);

  DemoNode& b = Add("B");
  ASSERT_NO_FATAL_FAILURE(b.Start(/*wait_ready=*/false));
  int not_ready_seen = 0;
  bool ready = PollUntil([&] {
    auto r = b.AdminNoAuth().Get("/readyz");
    if (!r) return false;
    if (r->status == 503) ++not_ready_seen;
    return r->status == 200;
  }, 30000);
  ASSERT_TRUE(ready) << b.Log();
  json status = b.Status();  // read right after the first 200: nothing may be missing by then
  EXPECT_GE(status["sessions"].get<int>(), kSessions);
  EXPECT_EQ(status["state_transfer"]["state"], "done");
  EXPECT_EQ(status["state_transfer"]["received"].get<int>(), kSessions);
  RecordProperty("readyz_503_observed", not_ready_seen);
  // The transferred sessions are the same sessions: any one answers on B with its data.
  auto listed = a.AdminJson("/v1/sessions?limit=1");
  std::string id = listed["items"][0]["id"];
  auto http_b = b.Http();
  CookieJar on_b(&http_b);
  on_b.set_session_id(id);
  auto r = on_b.Get("/myapp/.session/attributes/i");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
}

TEST_F(ReplicationE2eTest, SigtermOfOneNodeKeepsItsSessionsOnTheOther) {
  DemoNode& a = Add("A");
  DemoNode& b = Add("B");
  ASSERT_NO_FATAL_FAILURE(StartBoth(a, b));
  std::vector<std::string> ids = a.CreateSessions(20);
  ASSERT_TRUE(PollUntil([&] { return b.HasSession(ids.back()); }, 3000));
  EXPECT_EQ(a.Stop(SIGTERM), 0) << a.Log();
  for (const std::string& id : ids) EXPECT_TRUE(b.HasSession(id)) << id;
  ASSERT_TRUE(PollUntil([&] { return b.StateOf("demoA") == "left"; }, 3000));
}

TEST_F(ReplicationE2eTest, ExpireSessionsOnShutdownTrueEndsThemEverywhere) {
  DemoNode& a = Add("A", {{"expireSessionsOnShutdown=\"false\"", "expireSessionsOnShutdown=\"true\""}});
  DemoNode& b = Add("B");
  ASSERT_NO_FATAL_FAILURE(StartBoth(a, b));
  std::vector<std::string> ids = a.CreateSessions(20);
  ASSERT_TRUE(PollUntil([&] { return b.HasSession(ids.back()); }, 3000));
  EXPECT_EQ(a.Stop(SIGTERM), 0) << a.Log();
  ASSERT_TRUE(PollUntil([&] { return b.Status()["sessions"].get<int>() == 0; }, 3000))
      << b.Status().dump();
}

TEST_F(ReplicationE2eTest, MembersAndStatusShowTheCluster) {
  DemoNode& a = Add("A");
  DemoNode& b = Add("B");
  ASSERT_NO_FATAL_FAILURE(StartBoth(a, b));
  json members = a.AdminJson("/v1/members");
  ASSERT_TRUE(members.is_array());
  ASSERT_EQ(members.size(), 2u) << members.dump();
  json status = a.Status();
  EXPECT_EQ(status["members"]["alive"], 2);
  EXPECT_EQ(status["state_transfer"]["state"], "none") << "A started alone: nothing to pull";
  EXPECT_EQ(b.Status()["state_transfer"]["state"], "done") << "B joined A";
  CommandResult list = a.Sessctl({"members", "-o", "json"});
  EXPECT_EQ(list.exit_code, 0) << list.err;
  EXPECT_NE(list.out.find("demoB"), std::string::npos);
  std::string metrics = a.AdminNoAuth().Get("/metrics")->body;
  EXPECT_NE(metrics.find("sessiond_deltas_sent_total"), std::string::npos);
  EXPECT_NE(metrics.find("sessiond_state_transfer_seconds"), std::string::npos);
}

}  // namespace
}  // namespace sessiond::testing
