// The session API over real HTTP with a cookie jar, against a real sessiond on its defaults.
#include <nlohmann/json.hpp>

#include <regex>

#include "e2e/node_fixture.h"

namespace sessiond::testing {
namespace {

using nlohmann::json;

TEST_F(NodeTest, DemoPageIsServedFromTheWar) {
  StartNode();
  auto http = Http();
  auto redirect = http.Get("/myapp");
  ASSERT_TRUE(redirect);
  EXPECT_EQ(redirect->status, 302);
  auto page = http.Get("/myapp/");
  ASSERT_TRUE(page) << Log();
  EXPECT_EQ(page->status, 200);
  EXPECT_NE(page->body.find(".session"), std::string::npos);
  EXPECT_EQ(page->get_header_value("Content-Type").rfind("text/html", 0), 0u);
}

TEST_F(NodeTest, SessionKeepsItsIdAndDataAcrossRequests) {
  StartNode();
  auto http = Http();
  CookieJar jar(&http);
  auto first = jar.Get("/myapp/.session");
  ASSERT_TRUE(first);
  ASSERT_EQ(first->status, 200) << first->body;
  std::string cookie = first->get_header_value("Set-Cookie");
  EXPECT_TRUE(std::regex_search(cookie, std::regex("^JSESSIONID=[0-9A-F]{32}\\.nodeA; Path=/myapp; HttpOnly")))
      << cookie;
  json s = json::parse(first->body);
  EXPECT_EQ(s["id"], jar.session_id());
  EXPECT_EQ(s["node"], "nodeA");
  EXPECT_EQ(s["max_inactive_seconds"], 1800);
  EXPECT_TRUE(s["attributes"].empty());

  ASSERT_EQ(jar.Put("/myapp/.session/attributes/cart", R"({"items":[1,2]})")->status, 204);
  auto value = jar.Get("/myapp/.session/attributes/cart");
  EXPECT_EQ(json::parse(value->body), json::parse(R"({"items":[1,2]})"));

  auto again = jar.Get("/myapp/.session");
  json s2 = json::parse(again->body);
  EXPECT_EQ(s2["id"], s["id"]);
  EXPECT_EQ(s2["created"], s["created"]);
  EXPECT_EQ(s2["attributes"]["cart"]["items"][1], 2);
  EXPECT_FALSE(again->has_header("Set-Cookie"));
}

TEST_F(NodeTest, MergePatchAndDeleteFollowRfc7396) {
  StartNode();
  auto http = Http();
  CookieJar jar(&http);
  jar.Put("/myapp/.session/attributes/user", R"({"name":"ann","tags":["a"]})");
  jar.Put("/myapp/.session/attributes/gone", "1");
  auto patched = jar.Patch("/myapp/.session", R"({"user":{"tags":null,"age":3},"gone":null,"n":5})");
  ASSERT_EQ(patched->status, 200) << patched->body;
  json attrs = json::parse(patched->body)["attributes"];
  EXPECT_EQ(attrs["user"], json::parse(R"({"name":"ann","age":3})"));
  EXPECT_FALSE(attrs.contains("gone"));
  EXPECT_EQ(attrs["n"], 5);
  EXPECT_EQ(jar.Delete("/myapp/.session/attributes/n")->status, 204);
  EXPECT_EQ(jar.Get("/myapp/.session/attributes/n")->status, 404);

  std::string old_id = jar.session_id();
  auto invalidated = jar.Delete("/myapp/.session");
  EXPECT_EQ(invalidated->status, 204);
  EXPECT_NE(invalidated->get_header_value("Set-Cookie").find("Max-Age=0"), std::string::npos);
  jar.set_session_id(old_id);
  EXPECT_EQ(jar.Get("/myapp/.session?create=false")->status, 404);
}

TEST_F(NodeTest, UnknownCookieGetsANewSessionNotAnError) {
  StartNode();
  auto http = Http();
  CookieJar jar(&http);
  jar.set_session_id("0123456789ABCDEF0123456789ABCDEF.elsewhere");
  auto r = jar.Get("/myapp/.session");
  ASSERT_EQ(r->status, 200);
  EXPECT_NE(jar.session_id(), "0123456789ABCDEF0123456789ABCDEF.elsewhere");
  jar.set_session_id("../../etc/passwd");
  EXPECT_EQ(jar.Get("/myapp/.session")->status, 200);
}

TEST_F(NodeTest, BadBodiesAreRefusedAndTheNodeKeepsServing) {
  StartNode();
  auto http = Http();
  CookieJar jar(&http);
  auto bad = jar.Put("/myapp/.session/attributes/x", "{not json");
  ASSERT_EQ(bad->status, 400);
  EXPECT_EQ(json::parse(bad->body)["error"], "bad_request");
  EXPECT_NE(json::parse(bad->body)["message"].get<std::string>().find("JSON"), std::string::npos);
  auto big = jar.Put("/myapp/.session/attributes/x", "\"" + std::string(2 << 20, 'a') + "\"");
  ASSERT_TRUE(big);
  EXPECT_EQ(big->status, 413);
  auto patch = jar.Patch("/myapp/.session", "[1,2]");
  EXPECT_EQ(patch->status, 400);
  // A malformed request line on a raw connection: 400, and the node still serves.
  httplib::Client raw(kHost, kHttpPort);
  auto garbage = raw.Get("/myapp/%zz");
  ASSERT_TRUE(garbage);
  EXPECT_EQ(garbage->status, 400);
  EXPECT_EQ(Http().Get("/myapp/.session")->status, 200);
}

}  // namespace
}  // namespace sessiond::testing
