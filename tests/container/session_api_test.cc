// The session API over real HTTP (DESIGN.md §6), the JSESSIONID cookie, and the events each
// request commits; plus the handler on its own, without a socket.
#include <nlohmann/json.hpp>

#include "container/session_api_internal.h"
#include "container_fixture.h"

namespace sessiond::container {
namespace {

using nlohmann::json;
using testing::ContainerTest;

class SessionApiTest : public ContainerTest {
 protected:
  void SetUp() override { StartContainer(); }
  json SessionJson() {
    auto r = Send("GET", "/myapp/.session");
    EXPECT_TRUE(r && r->status == 200);
    return r ? json::parse(r->body) : json();
  }
};

TEST_F(SessionApiTest, CreatesASessionAndKeepsItsIdThroughTheCookie) {
  json first = SessionJson();
  ASSERT_FALSE(cookie_.empty());
  EXPECT_EQ(first["id"], cookie_);
  EXPECT_EQ(first["node"], "nodeA");
  EXPECT_EQ(first["max_inactive_seconds"], 1800);
  EXPECT_TRUE(first["attributes"].is_object());
  EXPECT_NE(last_set_cookie_.find("Path=/myapp"), std::string::npos) << last_set_cookie_;
  EXPECT_NE(last_set_cookie_.find("HttpOnly"), std::string::npos);
  EXPECT_TRUE(std::string(first["id"]).ends_with(".nodeA"));

  json second = SessionJson();
  EXPECT_EQ(second["id"], first["id"]);
  EXPECT_TRUE(last_set_cookie_.empty()) << "no new cookie for a known session";
}

TEST_F(SessionApiTest, CreateFalseAnswers404WithoutASession) {
  auto r = Send("GET", "/myapp/.session?create=false");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 404);
  EXPECT_TRUE(cookie_.empty());
  SessionJson();
  r = Send("GET", "/myapp/.session?create=false");
  EXPECT_EQ(r->status, 200);
}

TEST_F(SessionApiTest, AttributesCanBeSetReadAndDeleted) {
  auto put = Send("PUT", "/myapp/.session/attributes/cart", R"({"items": [1, 2], "total" : 3.5})");
  ASSERT_TRUE(put);
  EXPECT_EQ(put->status, 204);
  ASSERT_FALSE(cookie_.empty()) << "PUT creates the session";
  auto get = Send("GET", "/myapp/.session/attributes/cart");
  EXPECT_EQ(get->status, 200);
  EXPECT_EQ(get->body, R"({"items":[1,2],"total":3.5})") << "stored compact";
  EXPECT_EQ(get->get_header_value("Content-Type"), "application/json");
  EXPECT_EQ(SessionJson()["attributes"]["cart"]["total"], 3.5);

  EXPECT_EQ(Send("DELETE", "/myapp/.session/attributes/cart")->status, 204);
  EXPECT_EQ(Send("GET", "/myapp/.session/attributes/cart")->status, 404);
  EXPECT_EQ(Send("DELETE", "/myapp/.session/attributes/cart")->status, 404);
}

TEST_F(SessionApiTest, AttributeNamesArePercentDecodedAndBounded) {
  EXPECT_EQ(Send("PUT", "/myapp/.session/attributes/a%2Fb%20c", "1")->status, 204);
  EXPECT_TRUE(SessionJson()["attributes"].contains("a/b c"));
  EXPECT_EQ(Send("PUT", "/myapp/.session/attributes/" + std::string(257, 'n'), "1")->status, 400);
  EXPECT_EQ(Send("PUT", "/myapp/.session/attributes/" + std::string(256, 'n'), "1")->status, 204);
  EXPECT_EQ(Send("PUT", "/myapp/.session/attributes/", "1")->status, 400);
}

TEST_F(SessionApiTest, PatchIsAJsonMergePatchOnTheAttributes) {
  Send("PUT", "/myapp/.session/attributes/profile", R"({"name":"ann","prefs":{"a":1,"b":2}})");
  Send("PUT", "/myapp/.session/attributes/gone", "true");
  Send("PUT", "/myapp/.session/attributes/scalar", "5");
  auto r = Send("PATCH", "/myapp/.session",
                R"({"profile":{"prefs":{"b":null,"c":3}},"gone":null,"scalar":{"x":null,"y":1},"new":[1]})");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  json attrs = json::parse(r->body)["attributes"];
  EXPECT_EQ(attrs["profile"], json::parse(R"({"name":"ann","prefs":{"a":1,"c":3}})"));
  EXPECT_FALSE(attrs.contains("gone"));
  EXPECT_EQ(attrs["scalar"], json::parse(R"({"y":1})")) << "an object replaces a scalar, nulls dropped";
  EXPECT_EQ(attrs["new"], json::parse("[1]"));
}

TEST_F(SessionApiTest, PatchBodyMustBeAnObject) {
  auto r = Send("PATCH", "/myapp/.session", "[1,2]");
  EXPECT_EQ(r->status, 400);
  EXPECT_EQ(json::parse(r->body)["error"], "bad_request");
}

TEST_F(SessionApiTest, DeleteInvalidatesAndClearsTheCookie) {
  std::string id = SessionJson()["id"];
  auto r = Send("DELETE", "/myapp/.session");
  EXPECT_EQ(r->status, 204);
  EXPECT_NE(last_set_cookie_.find("Max-Age=0"), std::string::npos) << last_set_cookie_;
  EXPECT_FALSE(store_->Get(id).has_value());
  cookie_ = id;  // a client that ignores the clearing cookie gets a new session
  EXPECT_NE(SessionJson()["id"], id);
}

TEST_F(SessionApiTest, AnUnknownCookieGetsANewSessionNotAnError) {
  cookie_ = "0123456789ABCDEF0123456789ABCDEF.nodeX";
  json s = SessionJson();
  EXPECT_NE(s["id"], "0123456789ABCDEF0123456789ABCDEF.nodeX");
  EXPECT_EQ(cookie_, s["id"]);
  cookie_ = "../../etc/passwd";
  EXPECT_EQ(Send("GET", "/myapp/.session")->status, 200);
}

TEST_F(SessionApiTest, BadJsonIs400WithWhereItBroke) {
  auto r = Send("PUT", "/myapp/.session/attributes/x", "{\"a\": tru}");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400);
  json body = json::parse(r->body);
  EXPECT_EQ(body["error"], "bad_request");
  std::string message = body["message"];
  EXPECT_EQ(message.rfind("invalid JSON body: ", 0), 0u) << message;
  EXPECT_NE(message.find("at byte"), std::string::npos) << message;
  EXPECT_EQ(Send("PATCH", "/myapp/.session", "")->status, 400);
  EXPECT_EQ(Send("PUT", "/myapp/.session/attributes/x", std::string(100, '[') + std::string(100, ']'))->status, 400);
}

TEST_F(SessionApiTest, OversizeBodiesAre413) {
  std::string big = "\"" + std::string(5000, 'x') + "\"";
  auto r = Send("PUT", "/myapp/.session/attributes/x", big);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 413);
}

TEST_F(SessionApiTest, UnsupportedMethodsAre405) {
  auto r = Send("POST", "/myapp/.session", "{}");
  EXPECT_EQ(r->status, 405);
  EXPECT_FALSE(r->get_header_value("Allow").empty());
}

TEST_F(SessionApiTest, StaticRequestsDoNotCreateSessionsButTouchThem) {
  auto r = Send("GET", "/myapp/index.html");
  EXPECT_EQ(r->status, 200);
  EXPECT_TRUE(cookie_.empty());
  EXPECT_EQ(store_->Count(), 0u);
  SessionJson();
  sink_.Take();
  Send("GET", "/myapp/index.html");
  auto batches = sink_.Take();
  ASSERT_EQ(batches.size(), 1u);
  EXPECT_EQ(batches[0].at(0).type, session::EventType::kAccess);
}

TEST_F(SessionApiTest, EachRequestCommitsOneBatchOfItsEvents) {
  Send("PUT", "/myapp/.session/attributes/a", "1");
  auto batches = sink_.Take();
  ASSERT_EQ(batches.size(), 1u);
  ASSERT_EQ(batches[0].size(), 2u);
  EXPECT_EQ(batches[0][0].type, session::EventType::kCreate);
  EXPECT_EQ(batches[0][1].type, session::EventType::kSetAttribute);
  EXPECT_EQ(batches[0][1].value, "1");
  EXPECT_EQ(batches[0][0].app, "/myapp");
  EXPECT_TRUE(batches[0][0].distributable);

  Send("PATCH", "/myapp/.session", R"({"a":null,"b":2})");
  batches = sink_.Take();
  ASSERT_EQ(batches.size(), 1u);
  std::vector<session::EventType> types;
  for (const auto& e : batches[0]) types.push_back(e.type);
  EXPECT_EQ(types, (std::vector<session::EventType>{session::EventType::kAccess,
                                                     session::EventType::kRemoveAttribute,
                                                     session::EventType::kSetAttribute}));
  Send("DELETE", "/myapp/.session");
  batches = sink_.Take();
  ASSERT_EQ(batches.size(), 1u);
  EXPECT_EQ(batches[0].back().type, session::EventType::kInvalidate);
}

TEST_F(SessionApiTest, SessionMetricsAreExported) {
  SessionJson();
  std::string text = registry_.RenderPrometheus();
  EXPECT_NE(text.find("sessiond_sessions{app=\"myapp\"} 1"), std::string::npos) << text;
  EXPECT_NE(text.find("sessiond_sessions_created_total 1"), std::string::npos);
  EXPECT_NE(text.find("sessiond_http_requests_total{code=\"200\"}"), std::string::npos);
  EXPECT_NE(text.find("sessiond_http_request_duration_seconds_count"), std::string::npos);
}

// ---- the handler alone -----------------------------------------------------------------------

class SessionApiHandlerTest : public ::testing::Test {
 protected:
  SessionApiHandlerTest() : store_(Options()) {
    app_.path = "/shop";
    app_.name = "shop";
    options_.node_name = "nodeA";
  }
  session::SessionStore::Options Options() {
    session::SessionStore::Options o;
    o.node_name = "nodeA";
    o.clock = &clock_;
    return o;
  }
  Response Call(const std::string& method, const std::string& target, const std::string& body,
                const std::string& cookie = "") {
    Request r;
    r.method = method;
    r.target = target;
    r.path = *PercentDecode(target.substr(0, target.find('?')), false);
    if (target.find('?') != std::string::npos) r.query = target.substr(target.find('?') + 1);
    r.body = body;
    session::EventBatch batch;
    RequestSession rs(&store_, app_, cookie.empty() ? std::nullopt : std::optional<std::string_view>(cookie),
                      &batch);
    Response resp = HandleSessionApi(options_, r, std::string_view(r.path).substr(app_.path.size()), &rs);
    rs.AddCookie({}, &resp);
    store_.Commit(&batch);
    if (!rs.id().empty()) last_id_ = rs.id();
    return resp;
  }
  session::HybridClock clock_;
  session::SessionStore store_;
  App app_;
  SessionApiOptions options_;
  std::string last_id_;
};

TEST_F(SessionApiHandlerTest, WorksWithoutASocket) {
  Response r = Call("PUT", "/shop/.session/attributes/n", "42");
  EXPECT_EQ(r.status, 204);
  ASSERT_TRUE(r.Header("Set-Cookie"));
  EXPECT_NE(r.Header("Set-Cookie")->find("Path=/shop"), std::string_view::npos);
  r = Call("GET", "/shop/.session/attributes/n", "", last_id_);
  EXPECT_EQ(r.body, "42");
  EXPECT_FALSE(r.Header("Set-Cookie"));
}

TEST_F(SessionApiHandlerTest, CookieOptionsAreHonoured) {
  CookieOptions o{true, "Strict"};
  std::string c = SessionCookie(app_, "X", o, false);
  EXPECT_EQ(c, "JSESSIONID=X; Path=/shop; HttpOnly; Secure; SameSite=Strict");
  App root;
  EXPECT_NE(SessionCookie(root, "", {}, true).find("Path=/; Max-Age=0"), std::string::npos);
}

TEST_F(SessionApiHandlerTest, UnknownSessionResourcesAre404) {
  EXPECT_EQ(Call("GET", "/shop/.session/other", "").status, 404);
  EXPECT_TRUE(IsSessionApiPath("/.session"));
  EXPECT_TRUE(IsSessionApiPath("/.session/attributes/x"));
  EXPECT_FALSE(IsSessionApiPath("/.sessions"));
  EXPECT_FALSE(IsSessionApiPath("/a/.session"));
}

}  // namespace
}  // namespace sessiond::container
