// sessctl as an operator runs it, against a live sessiond, with its JSON parsed.
#include <nlohmann/json.hpp>

#include <chrono>
#include <thread>

#include "e2e/node_fixture.h"

namespace sessiond::testing {
namespace {

using nlohmann::json;

class SessctlTest : public NodeTest {
 protected:
  /// Creates a session with one attribute and returns its id.
  std::string MakeSession(const std::string& value) {
    auto http = Http();
    CookieJar jar(&http);
    EXPECT_EQ(jar.Put("/myapp/.session/attributes/v", value)->status, 204);
    return jar.session_id();
  }
};

TEST_F(SessctlTest, StatusShowsThisNode) {
  StartNode();
  auto r = Sessctl({"status", "-o", "json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  json j = json::parse(r.out);
  EXPECT_EQ(j["name"], "nodeA");
  EXPECT_EQ(j["mode"], "active");
  auto table = Sessctl({"status"});
  EXPECT_EQ(table.exit_code, 0);
  EXPECT_NE(table.out.find("nodeA"), std::string::npos);
}

TEST_F(SessctlTest, SessionsListShowAndExpire) {
  StartNode();
  std::string a = MakeSession("1");
  std::string b = MakeSession("\"two\"");
  auto list = Sessctl({"sessions", "list", "-o", "json"});
  ASSERT_EQ(list.exit_code, 0) << list.err;
  json items = json::parse(list.out);
  ASSERT_TRUE(items.is_array());
  EXPECT_EQ(items.size(), 2u);
  std::set<std::string> ids;
  for (const auto& s : items) {
    ids.insert(s["id"].get<std::string>());
    EXPECT_EQ(s["app"], "/myapp");
    EXPECT_EQ(s["last_node"], "nodeA");
  }
  EXPECT_TRUE(ids.count(a) && ids.count(b));

  auto filtered = Sessctl({"sessions", "list", "--app", "/other", "-o", "json"});
  EXPECT_TRUE(json::parse(filtered.out).empty());
  auto idle = Sessctl({"sessions", "list", "--idle-over", "1h", "-o", "json"});
  EXPECT_TRUE(json::parse(idle.out).empty());

  auto show = Sessctl({"sessions", "show", b, "-o", "json"});
  ASSERT_EQ(show.exit_code, 0) << show.err;
  EXPECT_EQ(json::parse(show.out)["attributes"]["v"], "two");

  auto table = Sessctl({"sessions", "list", "--no-headers"});
  EXPECT_EQ(std::count(table.out.begin(), table.out.end(), '\n'), 2);

  auto expire = Sessctl({"sessions", "expire", a});
  EXPECT_EQ(expire.exit_code, 0) << expire.err;
  auto gone = Sessctl({"sessions", "show", a});
  EXPECT_EQ(gone.exit_code, 4);
  EXPECT_EQ(json::parse(Sessctl({"sessions", "list", "-o", "json"}).out).size(), 1u);
}

TEST_F(SessctlTest, AppsAndEvents) {
  StartNode();
  auto apps = Sessctl({"apps", "-o", "json"});
  ASSERT_EQ(apps.exit_code, 0) << apps.err;
  json list = json::parse(apps.out);
  ASSERT_EQ(list.size(), 1u);
  EXPECT_EQ(list[0]["name"], "myapp");
  EXPECT_EQ(list[0]["distributable"], true);
  auto events = Sessctl({"events", "-o", "json"});
  ASSERT_EQ(events.exit_code, 0) << events.err;
  EXPECT_NE(events.out.find("started"), std::string::npos);
}

TEST_F(SessctlTest, MissingOrWrongTokenExitsThree) {
  StartNode();
  auto missing = Sessctl({"status"}, {{"SESSCTL_TOKEN_FILE", "/nonexistent/token"}});
  EXPECT_EQ(missing.exit_code, 3);
  EXPECT_NE(missing.err.find("/nonexistent/token"), std::string::npos);
  auto wrong = Sessctl({"status"}, {{"SESSCTL_TOKEN", "not-the-token"}, {"SESSCTL_TOKEN_FILE", ""}});
  EXPECT_EQ(wrong.exit_code, 3) << wrong.out << wrong.err;
  auto unreachable = Sessctl({"status", "-e", "http://127.0.0.1:1"});
  EXPECT_EQ(unreachable.exit_code, 3);
  auto usage = Sessctl({"sessions", "frobnicate"});
  EXPECT_EQ(usage.exit_code, 2);
}

TEST_F(SessctlTest, AdminApiRefusesWithoutTheToken) {
  StartNode();
  auto anonymous = Admin(false);
  EXPECT_EQ(anonymous.Get("/healthz")->status, 200);
  // The connector (whose port StartNode waits for) listens a moment before the node calls
  // itself ready: wait for /readyz to say so rather than hope the moment has passed.
  int readyz = 0;
  for (int i = 0; i < 200 && readyz != 200; ++i) {
    if (i > 0) std::this_thread::sleep_for(std::chrono::milliseconds(50));
    auto r = anonymous.Get("/readyz");
    readyz = r ? r->status : 0;
  }
  EXPECT_EQ(readyz, 200);
  EXPECT_EQ(anonymous.Get("/metrics")->status, 200);
  auto denied = anonymous.Get("/v1/sessions");
  EXPECT_EQ(denied->status, 401);
  EXPECT_EQ(json::parse(denied->body)["error"], "unauthorized");
  EXPECT_EQ(anonymous.Delete("/v1/sessions/0123456789ABCDEF0123456789ABCDEF.nodeA")->status, 401);
  httplib::Client wrong(kHost, kAdminPort);
  wrong.set_bearer_token_auth(std::string(64, '0'));
  EXPECT_EQ(wrong.Get("/v1/status")->status, 401);
  EXPECT_EQ(Admin().Get("/v1/sessions/..%2F..%2Fetc")->status, 400);
}

}  // namespace
}  // namespace sessiond::testing
