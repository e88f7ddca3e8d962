// The admin API's security against a real sessiond: every route that the router declares (so a
// route added later is covered without touching this file) refuses a missing or wrong token, no
// mutating route is reachable without one, the token file is 0600 (a too-open one is used with a
// warning, as sessiond(8) documents), and traversal in app paths and session ids is refused.
#include <sys/stat.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <thread>

#include "admin/admin_internal.h"
#include "e2e/node_fixture.h"

namespace sessiond::testing {
namespace {

using nlohmann::json;

class AdminSecurityTest : public NodeTest {
 protected:
  std::string MakeSession() {
    auto http = Http();
    CookieJar jar(&http);
    EXPECT_EQ(jar.Put("/myapp/.session/attributes/v", "1")->status, 204);
    return jar.session_id();
  }

  /// Sends `method` to `path` with exactly the Authorization header given ("" = none).
  httplib::Result Send(const std::string& method, const std::string& path,
                       const std::string& authorization) {
    httplib::Client c(kHost, kAdminPort);
    c.set_read_timeout(10);
    httplib::Headers headers;
    if (!authorization.empty()) headers.emplace("Authorization", authorization);
    // A body a mutating handler would accept (expire everything idle for over a second).
    const std::string body = R"({"idle_over_seconds": 1})";
    if (method == "GET") return c.Get(path, headers);
    if (method == "POST") return c.Post(path, headers, body, "application/json");
    if (method == "PUT") return c.Put(path, headers, body, "application/json");
    if (method == "PATCH") return c.Patch(path, headers, body, "application/json");
    if (method == "DELETE") return c.Delete(path, headers, body, "application/json");
    ADD_FAILURE() << "the router has a " << method << " route this test cannot send: " << path;
    return c.Get(path, headers);
  }

  /// The route's pattern as a real path: the "*" of a wildcard route becomes `id`.
  static std::string PathOf(const admin::RouteSpec& route, const std::string& id) {
    std::string p = route.pattern;
    if (!p.empty() && p.back() == '*') p.replace(p.size() - 1, 1, id);
    return p;
  }
};

TEST_F(AdminSecurityTest, EveryRouteOfTheRouterRefusesMissingAndWrongTokens) {
  StartNode();
  std::string id = MakeSession();
  // Idle for over a second: a refused POST /v1/sessions/expire would have expired it.
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  std::string token = Token();
  ASSERT_EQ(token.size(), 64u);
  std::string wrong_same_length = token;
  wrong_same_length.back() = wrong_same_length.back() == '0' ? '1' : '0';
  const std::vector<std::string> refused = {
      "",                                  // no Authorization header
      "Bearer ",                           // empty token
      "Bearer " + wrong_same_length,       // one byte off
      "Bearer " + token.substr(0, 32),     // a prefix
      "Bearer " + token + "0",             // the token and more
      "Basic " + token,                    // the right secret in the wrong scheme
      "Bearer " + token.substr(0, 63) + std::string(1, static_cast<char>(std::toupper(token.back()))),
  };
  std::vector<admin::RouteSpec> routes = admin::Api::Routes();
  ASSERT_GE(routes.size(), 5u);
  size_t mutating = 0;
  for (const admin::RouteSpec& route : routes) {
    bool mutates = route.method != "GET" && route.method != "HEAD";
    mutating += mutates;
    if (!route.needs_token) {
      EXPECT_FALSE(mutates) << route.method << " " << route.pattern
                            << " changes state but is reachable without the admin token";
      continue;
    }
    std::string path = PathOf(route, id);
    for (const std::string& auth : refused) {
      // Skip a case where uppercasing the last hex digit changed nothing (a digit).
      if (auth == "Bearer " + token) continue;
      auto r = Send(route.method, path, auth);
      ASSERT_TRUE(r) << route.method << " " << path;
      EXPECT_EQ(r->status, 401) << route.method << " " << path << " with '" << auth << "'";
      EXPECT_NE(r->get_header_value("WWW-Authenticate").find("Bearer"), std::string::npos);
    }
  }
  EXPECT_GE(mutating, 2u);  // DELETE a session, POST expire at least
  // Nothing the refused requests asked for happened: the session is still there, unchanged.
  auto show = Admin().Get("/v1/sessions/" + id);
  ASSERT_TRUE(show);
  EXPECT_EQ(show->status, 200) << show->body;
  EXPECT_EQ(json::parse(show->body)["attributes"]["v"], 1);
  // And each refusal was counted.
  auto metrics = Admin(false).Get("/metrics");
  ASSERT_TRUE(metrics);
  EXPECT_NE(metrics->body.find("sessiond_admin_auth_failures_total"), std::string::npos);
  EXPECT_EQ(metrics->body.find("sessiond_admin_auth_failures_total 0\n"), std::string::npos);
}

TEST_F(AdminSecurityTest, TokenFileIsCreated0600) {
  StartNode();
  struct stat st {};
  ASSERT_EQ(::stat(TokenFile().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_NE(Log().find("admin token created"), std::string::npos) << Log();
}

TEST_F(AdminSecurityTest, ATooOpenTokenFileIsUsedWithAWarningNamingIt) {
  // Decided (sessiond(8)): warn, not refuse — an operator's existing file keeps the node up, and
  // the log says which file to chmod.
  std::filesystem::create_directories(base_.Path("sessiond-data"));
  WriteFile(TokenFile(), "operator-chosen-token-0123456789\n");
  ::chmod(TokenFile().c_str(), 0644);
  StartNode();
  std::string log = Log();
  EXPECT_NE(log.find("admin token file is readable by others"), std::string::npos) << log;
  EXPECT_NE(log.find(TokenFile()), std::string::npos) << log;
  EXPECT_EQ(Admin().Get("/v1/status")->status, 200);
  struct stat st {};
  ASSERT_EQ(::stat(TokenFile().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0644u);  // the daemon warns; it does not silently rewrite it
}

TEST_F(AdminSecurityTest, TraversalInSessionIdsIsRefused) {
  StartNode();
  std::string id = MakeSession();
  for (const std::string& bad : std::vector<std::string>{"../../etc/passwd", "..%2F..%2Fetc%2Fpasswd", "%2e%2e/%2e%2e/etc/passwd",
        id + "/../" + id, "../" + id, id + "%00", id + "/x"}) {
    for (const char* method : {"GET", "DELETE"}) {
      auto r = Send(method, "/v1/sessions/" + bad, "Bearer " + Token());
      ASSERT_TRUE(r) << bad;
      EXPECT_TRUE(r->status == 400 || r->status == 404) << method << " " << bad << ": " << r->status;
      EXPECT_EQ(r->body.find("root:"), std::string::npos);
    }
  }
  auto still = Admin().Get("/v1/sessions/" + id);
  ASSERT_TRUE(still);
  EXPECT_EQ(still->status, 200);  // no traversal reached the real session
  // A traversal-shaped cookie is never taken as a session id: a fresh one is issued.
  auto http = Http();
  CookieJar jar(&http);
  jar.set_session_id("../../" + id);
  ASSERT_EQ(jar.Get("/myapp/.session")->status, 200);
  EXPECT_NE(jar.session_id(), "../../" + id);
  EXPECT_NE(jar.session_id(), id);
}

TEST_F(AdminSecurityTest, TraversalInAppPathsIsRefused) {
  StartNode();
  WriteFile(base_.Path("secret.txt"), "top-secret");
  auto http = Http();
  for (const char* path :
       {"/myapp/../secret.txt", "/myapp/../../secret.txt", "/myapp/%2e%2e/secret.txt",
        "/myapp/..%2fsecret.txt", "/../secret.txt", "/myapp/./../secret.txt",
        "/myapp/WEB-INF/web.xml", "/myapp/web-inf/web.xml", "/myapp/META-INF/MANIFEST.MF"}) {
    auto r = http.Get(path);
    ASSERT_TRUE(r) << path;
    EXPECT_GE(r->status, 400) << path;
    EXPECT_EQ(r->body.find("top-secret"), std::string::npos) << path;
  }
  // The admin API takes app names as filters only: a traversal-shaped one matches nothing (the
  // session is idle over a second, so an expire that matched it would remove it).
  MakeSession();
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  for (const char* app : {"../myapp", "..%2Fmyapp", "/myapp/..", "../../etc"}) {
    auto r = Admin().Get(std::string("/v1/sessions?app=") + app);
    ASSERT_TRUE(r);
    ASSERT_EQ(r->status, 200) << app;
    EXPECT_TRUE(json::parse(r->body)["items"].empty()) << app;
    auto expire = Admin().Post("/v1/sessions/expire",
                               json({{"app", app}, {"idle_over_seconds", 1}}).dump(),
                               "application/json");
    ASSERT_TRUE(expire);
    EXPECT_LT(expire->status, 500) << app;
  }
  auto all = Admin().Get("/v1/sessions");
  EXPECT_EQ(json::parse(all->body)["items"].size(), 1u);  // nothing expired through a bad app
}

}  // namespace
}  // namespace sessiond::testing
