// The routing valves of DESIGN.md §5: JvmRouteBinderValve re-issues an id whose node is not
// alive, and the ReplicationValve filter keeps matching requests' events from replicating.
#include <atomic>
#include <set>

#include "container_fixture.h"

namespace sessiond::container::testing {
namespace {

class ValvesTest : public ContainerTest {
 protected:
  /// Like StartContainer, with the cluster valves on and the fake membership below as the hook.
  void StartWithValves(bool binder, const std::string& filter) {
    sessiond::testing::WriteFile(dir_.Path("webapps/myapp/index.html"), "<h1>hello</h1>\n");
    sessiond::testing::WriteFile(dir_.Path("webapps/myapp/logo.png"), "png");
    sessiond::testing::WriteFile(dir_.Path("webapps/myapp/WEB-INF/web.xml"),
                                 "<web-app><distributable/></web-app>\n");
    config_ = config::EmbeddedDefault(dir_.path());
    config_.jvm_route = "nodeA";
    config_.connector.address = "127.0.0.1";
    config_.connector.port = 0;
    config_.connector.max_threads = 2;
    config_.cluster.enabled = true;
    config_.cluster.jvm_route_binder = binder;
    config_.cluster.replication_filter = filter;
    session::SessionStore::Options o;
    o.node_name = config_.jvm_route;
    o.clock = &clock_;
    store_ = std::make_unique<session::SessionStore>(o);
    store_->AddSink(&sink_);
    Container::Hooks hooks;
    hooks.route_alive = [this](std::string_view route) {
      std::lock_guard lock(mu_);
      return alive_.count(std::string(route)) > 0;
    };
    auto c = Container::Create(config_, store_.get(), &registry_, std::move(hooks));
    ASSERT_TRUE(c.ok()) << c.status().ToString();
    container_ = std::move(c.value());
    ASSERT_TRUE(container_->Start().ok());
    port_ = container_->http_port();
  }

  /// A session created as if on `route` (a replicated one: its id carries that route).
  std::string SessionFrom(const std::string& route) {
    session::SessionStore::Options o;
    o.node_name = route;
    session::SessionStore other(o);
    session::EventBatch batch;
    auto s = other.Create("/myapp", 1800, true, &batch);
    EXPECT_TRUE(s.ok());
    EXPECT_TRUE(other.SetAttribute(s->id, "cart", "[1,2]", &batch).ok());
    for (const session::Event& e : batch) EXPECT_TRUE(store_->Apply(e, false).ok());
    return s->id;
  }

  void SetAlive(std::set<std::string> routes) {
    std::lock_guard lock(mu_);
    alive_ = std::move(routes);
  }

  std::mutex mu_;
  std::set<std::string> alive_ = {"nodeA", "nodeB"};
};

TEST_F(ValvesTest, IdStaysWhileItsNodeIsAlive) {
  StartWithValves(true, "");
  cookie_ = SessionFrom("nodeB");
  std::string before = cookie_;
  auto r = Send("GET", "/myapp/.session");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_FALSE(r->has_header("Set-Cookie")) << r->get_header_value("Set-Cookie");
  EXPECT_EQ(cookie_, before);
}

TEST_F(ValvesTest, IdOfADeadNodeIsReissuedWithThisNodesRouteAndKeepsItsData) {
  StartWithValves(true, "");
  std::string old_id = SessionFrom("nodeB");
  cookie_ = old_id;
  SetAlive({"nodeA"});
  sink_.Take();
  auto r = Send("GET", "/myapp/.session");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200);
  EXPECT_EQ(cookie_, std::string(session::BaseOf(old_id)) + ".nodeA");
  EXPECT_NE(r->body.find("\"cart\":[1,2]"), std::string::npos) << r->body;
  EXPECT_NE(r->body.find(cookie_), std::string::npos) << "the body names the new id: " << r->body;
  // The change is an event of the request's batch, so it replicates like any other.
  bool change_id = false;
  for (const auto& batch : sink_.Take())
    for (const auto& e : batch)
      if (e.type == session::EventType::kChangeId && e.value == cookie_) change_id = e.distributable;
  EXPECT_TRUE(change_id);
  // An in-flight request with the old id still reaches the same session (and keeps the new id).
  std::string new_id = cookie_;
  cookie_ = old_id;
  auto late = Send("GET", "/myapp/.session/attributes/cart");
  ASSERT_TRUE(late);
  EXPECT_EQ(late->status, 200);
  EXPECT_EQ(late->body, "[1,2]");
}

TEST_F(ValvesTest, UnknownRouteCountsAsNotAlive) {
  StartWithValves(true, "");
  cookie_ = SessionFrom("nodeZ");
  auto r = Send("GET", "/myapp/.session");
  ASSERT_TRUE(r);
  EXPECT_EQ(session::RouteOf(cookie_), "nodeA");
}

TEST_F(ValvesTest, BinderOffKeepsTheIdOfADeadNode) {
  StartWithValves(false, "");
  std::string old_id = SessionFrom("nodeB");
  cookie_ = old_id;
  SetAlive({"nodeA"});
  auto r = Send("GET", "/myapp/.session");
  ASSERT_TRUE(r);
  EXPECT_EQ(cookie_, old_id);
}

TEST_F(ValvesTest, FilteredRequestsCommitButNeverReplicate) {
  StartWithValves(false, R"(.*\.(gif|js|css|png|jpg|ico)$)");
  ASSERT_EQ(Send("GET", "/myapp/.session")->status, 200);
  sink_.Take();
  auto png = Send("GET", "/myapp/logo.png");
  ASSERT_TRUE(png);
  EXPECT_EQ(png->status, 200);
  auto batches = sink_.Take();
  ASSERT_EQ(batches.size(), 1u) << "the access is still committed (persisted)";
  for (const auto& e : batches[0]) EXPECT_FALSE(e.distributable);
  ASSERT_EQ(Send("GET", "/myapp/.session")->status, 200);
  batches = sink_.Take();
  ASSERT_EQ(batches.size(), 1u);
  for (const auto& e : batches[0]) EXPECT_TRUE(e.distributable) << "unfiltered requests replicate";
}

TEST_F(ValvesTest, ABadFilterIsAnErrorThatNamesIt) {
  config_ = config::EmbeddedDefault(dir_.path());
  config_.cluster.enabled = true;
  config_.cluster.replication_filter = "(unclosed";
  session::SessionStore::Options o;
  o.node_name = "nodeA";
  session::SessionStore store(o);
  auto c = Container::Create(config_, &store, &registry_);
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("ReplicationValve filter"), std::string::npos);
}

}  // namespace
}  // namespace sessiond::container::testing
