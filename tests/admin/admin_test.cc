// The admin endpoint over real sockets: a real SessionStore behind an AdminServer on 127.0.0.1
// port 0, driven with httplib::Client as sessctl and curl would.
#include "admin/admin.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>

#include "support/files.h"

namespace sessiond::admin {
namespace {

using nlohmann::json;
using ::testing::HasSubstr;

constexpr char kToken[] = "s3cret-token";
constexpr int64_t kHour = 3600 * 1000;

class AdminTest : public ::testing::Test {
 protected:
  void SetUp() override {
    now_ms_ = WallMillis();
    session::SessionStore::Options opts;
    opts.node_name = "tomcatA";
    opts.wall_ms = [this] { return now_ms_.load(); };
    store_ = std::make_unique<session::SessionStore>(opts);
    AdminServices services;
    services.sessions = store_.get();
    services.metrics = &metrics_;
    services.node_name = "tomcatA";
    services.status = [this] { return Status(); };
    services.apps = [] { return Apps(); };
    services.events = [this](int64_t since, int64_t since_ms, size_t limit) {
      return Events(since, since_ms, limit);
    };
    services.record_event = [this](std::string kind, std::string message) {
      std::lock_guard lock(mu_);
      recorded_.push_back(kind + ": " + message);
    };
    services.ready = [this] { return ready_.load(); };
    services.members = [this] { return Members(); };
    auto server = AdminServer::Start("127.0.0.1", 0, kToken, std::move(services));
    ASSERT_TRUE(server.ok()) << server.status().ToString();
    server_ = std::move(server.value());
    client_ = std::make_unique<httplib::Client>("127.0.0.1", server_->port());
  }
  void TearDown() override { server_.reset(); }

  StatusInfo Status() const {
    StatusInfo info;
    info.name = "tomcatA";
    info.version = "9.9.9";
    info.started_ms = 1000;
    info.uptime_ms = 61500;
    info.sessions = store_->Count();
    info.apps = 2;
    return info;
  }
  static std::vector<container::AppInfo> Apps() {
    container::AppInfo war{"myapp", "/myapp", "/x/myapp.war", std::string(64, 'a'), 1234,
                           1700000000000, true, 1800};
    container::AppInfo folder{"ROOT", "", "/x/ROOT", "", 0, 1700000000000, false, 600};
    return {war, folder};
  }
  // Unsorted on purpose: the API sorts by name.
  std::vector<MemberInfo> Members() const {
    int64_t now = now_ms_.load();
    MemberInfo self{"tomcatA", "127.0.0.1:4000", "http://127.0.0.1:8099", "alive", "active",
                    3, now, 1000, "9.9.9", 1, 1000, true, false};
    MemberInfo c{"tomcatC", "127.0.0.3:4000", "", "suspect", "draining",
                 0, now - 3500, now - 500, "9.9.8", 1, 2000, false, true};
    MemberInfo b{"tomcatB", "127.0.0.2:4000", "http://127.0.0.2:8099", "alive", "active",
                 7, now - 400, 1700000000000, "9.9.9", 1, 1700000000000, false, false};
    MemberInfo d{"tomcatD", "127.0.0.4:4000", "", "dead", "active", 0, 0, 0, "", 0, 0, false, false};
    return {self, c, b, d};
  }
  Result<EventPage> Events(int64_t since, int64_t since_ms, size_t limit) {
    EventPage page;
    for (int64_t seq = since + 1; seq <= 5 && page.items.size() < limit; ++seq) {
      if (since_ms > 0 && seq * 1000 < since_ms) continue;
      page.items.push_back({seq, seq * 1000, "member", "tomcatA", "event " + std::to_string(seq),
                            seq == 1 ? R"({"peer":"tomcatB"})" : ""});
    }
    page.next_since = page.items.empty() ? since : page.items.back().seq;
    return page;
  }

  // n sessions of `app`, created and last accessed `age_ms` ago.
  std::vector<std::string> MakeSessions(int n, const std::string& app, int64_t age_ms) {
    int64_t real_now = now_ms_.load();
    now_ms_ = real_now - age_ms;
    std::vector<std::string> ids;
    session::EventBatch batch;
    for (int i = 0; i < n; ++i) {
      auto s = store_->Create(app, 24 * 3600, true, &batch);
      EXPECT_TRUE(s.ok());
      ids.push_back(s->id);
    }
    store_->Commit(&batch);
    now_ms_ = real_now;
    return ids;
  }

  httplib::Headers Auth(const std::string& token = kToken) {
    return {{"Authorization", "Bearer " + token}};
  }
  httplib::Result Get(const std::string& path) { return client_->Get(path.c_str(), Auth()); }
  json GetJson(const std::string& path, int want_status = 200) {
    auto res = Get(path);
    EXPECT_TRUE(res) << path;
    if (!res) return json();
    EXPECT_EQ(res->status, want_status) << path << ": " << res->body;
    return json::parse(res->body);
  }

  std::atomic<int64_t> now_ms_{0};
  std::atomic<bool> ready_{true};
  metrics::Registry metrics_;
  std::unique_ptr<session::SessionStore> store_;
  std::unique_ptr<AdminServer> server_;
  std::unique_ptr<httplib::Client> client_;
  std::mutex mu_;
  std::vector<std::string> recorded_;
};

TEST_F(AdminTest, HealthzReadyzAndMetricsNeedNoToken) {
  auto health = client_->Get("/healthz");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200);
  EXPECT_EQ(health->body, "ok\n");

  auto ready = client_->Get("/readyz");
  ASSERT_TRUE(ready);
  EXPECT_EQ(ready->status, 200);
  EXPECT_EQ(json::parse(ready->body)["ready"], true);
  EXPECT_EQ(json::parse(ready->body)["node"], "tomcatA");  // undrain --wait checks whom it asked
  ready_ = false;
  ready = client_->Get("/readyz");
  EXPECT_EQ(ready->status, 503);
  EXPECT_EQ(json::parse(ready->body)["ready"], false);

  auto metrics = client_->Get("/metrics");
  ASSERT_TRUE(metrics);
  EXPECT_EQ(metrics->status, 200);
  EXPECT_THAT(metrics->get_header_value("Content-Type"), HasSubstr("version=0.0.4"));
  EXPECT_THAT(metrics->body, HasSubstr("# TYPE sessiond_admin_auth_failures_total counter"));
}

TEST_F(AdminTest, V1RoutesRefuseMissingAndWrongTokens) {
  for (const char* path :
       {"/v1/status", "/v1/members", "/v1/sessions", "/v1/apps", "/v1/events", "/v1/nope"}) {
    auto none = client_->Get(path);
    ASSERT_TRUE(none);
    EXPECT_EQ(none->status, 401) << path;
    EXPECT_THAT(none->get_header_value("WWW-Authenticate"), HasSubstr("Bearer"));
    EXPECT_EQ(json::parse(none->body)["error"], "unauthorized");

    auto wrong = client_->Get(path, Auth("s3cret-tokem"));
    ASSERT_TRUE(wrong);
    EXPECT_EQ(wrong->status, 401) << path;
  }
  auto basic = client_->Get("/v1/status", {{"Authorization", std::string("Basic ") + kToken}});
  EXPECT_EQ(basic->status, 401);
  EXPECT_EQ(Get("/v1/status")->status, 200);
  EXPECT_THAT(metrics_.RenderPrometheus(), HasSubstr("sessiond_admin_auth_failures_total 13\n"));
}

TEST_F(AdminTest, UnknownRouteIs404AndWrongMethodIs405) {
  auto unknown = Get("/v1/nope");
  EXPECT_EQ(unknown->status, 404);
  EXPECT_EQ(json::parse(unknown->body)["error"], "not_found");
  EXPECT_EQ(client_->Get("/nope")->status, 404);

  auto post = client_->Post("/v1/status", Auth(), "{}", "application/json");
  EXPECT_EQ(post->status, 405);
  EXPECT_EQ(post->get_header_value("Allow"), "GET");
  EXPECT_EQ(json::parse(post->body)["error"], "bad_request");
  EXPECT_EQ(Get("/v1/sessions/expire")->status, 405);
  auto put = client_->Put("/v1/sessions/0123456789ABCDEF0123456789ABCDEF", Auth(), "", "text/plain");
  EXPECT_EQ(put->status, 405);
  EXPECT_EQ(put->get_header_value("Allow"), "GET, DELETE");
}

TEST_F(AdminTest, StatusDescribesThisNode) {
  MakeSessions(3, "/myapp", 0);
  json st = GetJson("/v1/status");
  EXPECT_EQ(st["name"], "tomcatA");
  EXPECT_EQ(st["version"], "9.9.9");
  EXPECT_EQ(st["uptime_seconds"], 61);
  EXPECT_EQ(st["started"], "1970-01-01T00:00:01.000Z");
  EXPECT_EQ(st["mode"], "active");
  EXPECT_EQ(st["ready"], true);
  EXPECT_EQ(st["sessions"], 3);
  EXPECT_EQ(st["apps"], 2);
  EXPECT_EQ(st["state_transfer"]["state"], "none");
}

TEST_F(AdminTest, ListPagesThrough250SessionsWithCursor) {
  auto made = MakeSessions(250, "/myapp", 0);
  std::set<std::string> want(made.begin(), made.end());
  std::vector<std::string> seen;
  std::string cursor;
  int pages = 0;
  for (;;) {
    json page = GetJson("/v1/sessions" + (cursor.empty() ? "" : "?cursor=" + cursor));
    ++pages;
    for (const json& item : page["items"]) seen.push_back(item["id"]);
    if (page["next_cursor"].is_null()) break;
    cursor = page["next_cursor"];
    ASSERT_LT(pages, 10);
  }
  EXPECT_EQ(pages, 3);  // 100 + 100 + 50 at the default limit
  EXPECT_TRUE(std::is_sorted(seen.begin(), seen.end()));
  EXPECT_EQ(std::set<std::string>(seen.begin(), seen.end()), want);
  EXPECT_EQ(seen.size(), 250u);

  json small = GetJson("/v1/sessions?limit=7");
  EXPECT_EQ(small["items"].size(), 7u);
  EXPECT_EQ(small["next_cursor"], small["items"][6]["id"]);
}

TEST_F(AdminTest, ListItemHasEveryField) {
  MakeSessions(1, "/myapp", 90 * 1000);
  json item = GetJson("/v1/sessions")["items"][0];
  for (const char* key : {"id", "app", "last_node", "created", "last_accessed", "idle_seconds",
                          "size_bytes", "max_inactive_seconds", "distributable", "version"}) {
    EXPECT_TRUE(item.contains(key)) << key;
  }
  EXPECT_EQ(item["app"], "/myapp");
  EXPECT_EQ(item["last_node"], "tomcatA");
  EXPECT_GE(item["idle_seconds"].get<int>(), 89);
  EXPECT_EQ(item["max_inactive_seconds"], 24 * 3600);
  EXPECT_TRUE(ParseRfc3339Millis(item["created"].get<std::string>()).has_value());
}

TEST_F(AdminTest, ListFiltersByAppNodeAndIdle) {
  MakeSessions(20, "/old", 2 * kHour);
  MakeSessions(30, "/myapp", 0);
  session::Session remote;
  remote.id = session::NewSessionId("tomcatB");
  remote.app = "/myapp";
  remote.created_ms = remote.last_accessed_ms = now_ms_.load();
  remote.last_node = "tomcatB";
  remote.version = 1;
  ASSERT_TRUE(store_->Restore(remote));

  EXPECT_EQ(GetJson("/v1/sessions?app=/old&limit=1000")["items"].size(), 20u);
  EXPECT_EQ(GetJson("/v1/sessions?app=myapp&limit=1000")["items"].size(), 31u);
  json by_node = GetJson("/v1/sessions?node=tomcatB");
  ASSERT_EQ(by_node["items"].size(), 1u);
  EXPECT_EQ(by_node["items"][0]["id"], remote.id);
  EXPECT_EQ(GetJson("/v1/sessions?idle_over=3600&limit=1000")["items"].size(), 20u);
  EXPECT_EQ(GetJson("/v1/sessions?idle_over=3600&app=/myapp")["items"].size(), 0u);
}

// ROOT's context path is "": app=ROOT and app=/ name it, and must not mean "every app".
TEST_F(AdminTest, ListFilterAppRootMeansTheRootApp) {
  std::vector<std::string> root = MakeSessions(2, "", 0);
  MakeSessions(3, "/myapp", 0);
  for (const char* query : {"app=ROOT", "app=/", "app=%2F"}) {
    json items = GetJson(std::string("/v1/sessions?") + query)["items"];
    ASSERT_EQ(items.size(), 2u) << query;
    for (const json& item : items) EXPECT_EQ(item["app"], "") << query;
  }
  EXPECT_EQ(GetJson("/v1/sessions?app=myapp")["items"].size(), 3u);
  EXPECT_EQ(GetJson("/v1/sessions?app=/myapp")["items"].size(), 3u);
  EXPECT_EQ(GetJson("/v1/sessions?app=")["items"].size(), 5u);  // empty: every app
  EXPECT_EQ(GetJson("/v1/sessions")["items"].size(), 5u);
}

TEST_F(AdminTest, BulkExpireOfRootLeavesOtherApps) {
  MakeSessions(2, "", 2 * kHour);
  MakeSessions(3, "/myapp", 2 * kHour);
  auto res = client_->Post("/v1/sessions/expire", Auth(),
                           R"({"app":"ROOT","idle_over_seconds":3600})", "application/json");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200) << res->body;
  EXPECT_EQ(json::parse(res->body)["expired"], 2);
  EXPECT_EQ(store_->Count(), 3u);
}

TEST_F(AdminTest, BadListParametersAre400NamingTheParameter) {
  const std::pair<const char*, const char*> cases[] = {
      {"limit=0", "limit"},         {"limit=1001", "limit"},  {"limit=abc", "limit"},
      {"idle_over=-5", "idle_over"}, {"idle_over=1h", "idle_over"},
      {"cursor=..%2F..%2Fetc", "cursor"},
  };
  for (const auto& [query, name] : cases) {
    json err = GetJson(std::string("/v1/sessions?") + query, 400);
    EXPECT_EQ(err["error"], "bad_request") << query;
    EXPECT_THAT(err["message"].get<std::string>(), HasSubstr(name)) << query;
  }
}

TEST_F(AdminTest, ShowSessionWithAttributesAndHolders) {
  std::string id = MakeSessions(1, "/myapp", 0)[0];
  session::EventBatch batch;
  ASSERT_TRUE(store_->SetAttribute(id, "cart", R"({"items":[1,2]})", &batch).ok());
  ASSERT_TRUE(store_->SetAttribute(id, "user", R"("alice")", &batch).ok());
  store_->Commit(&batch);

  json s = GetJson("/v1/sessions/" + id);
  EXPECT_EQ(s["id"], id);
  EXPECT_EQ(s["attributes"]["cart"]["items"][1], 2);
  EXPECT_EQ(s["attributes"]["user"], "alice");
  ASSERT_EQ(s["holders"].size(), 1u);
  EXPECT_EQ(s["holders"][0]["node"], "tomcatA");
  EXPECT_EQ(s["holders"][0]["version"], s["version"]);

  EXPECT_EQ(GetJson("/v1/sessions/0123456789ABCDEF0123456789ABCDEF.tomcatA", 404)["error"],
            "not_found");
}

TEST_F(AdminTest, JunkAndTraversalIdsAre400) {
  for (const char* id : {"junk", "..%2F..%2Fetc%2Fpasswd", "../../etc/passwd",
                         "0123456789ABCDEF0123456789ABCDEF.a%2Fb", "%00"}) {
    auto show = Get(std::string("/v1/sessions/") + id);
    ASSERT_TRUE(show) << id;
    EXPECT_EQ(show->status, 400) << id << ": " << show->body;
    auto del = client_->Delete((std::string("/v1/sessions/") + id).c_str(), Auth());
    EXPECT_EQ(del->status, 400) << id;
  }
}

TEST_F(AdminTest, DeleteInvalidatesAndRecordsAnAdminEvent) {
  std::string id = MakeSessions(2, "/myapp", 0)[0];
  auto del = client_->Delete(("/v1/sessions/" + id).c_str(), Auth());
  ASSERT_TRUE(del);
  EXPECT_EQ(del->status, 200) << del->body;
  EXPECT_FALSE(store_->Get(id).has_value());
  EXPECT_EQ(store_->Count(), 1u);
  {
    std::lock_guard lock(mu_);
    ASSERT_EQ(recorded_.size(), 1u);
    EXPECT_THAT(recorded_[0], HasSubstr("admin: session " + id + " invalidated by operator"));
  }
  EXPECT_EQ(client_->Delete(("/v1/sessions/" + id).c_str(), Auth())->status, 404);
}

TEST_F(AdminTest, BulkExpireByIdleTimeAndApp) {
  MakeSessions(10, "/old", 2 * kHour);
  MakeSessions(5, "/myapp", 2 * kHour);
  MakeSessions(7, "/myapp", 0);
  auto post = [&](const std::string& body) {
    return client_->Post("/v1/sessions/expire", Auth(), body, "application/json");
  };
  auto res = post(R"({"app":"/old","idle_over_seconds":3600})");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200) << res->body;
  EXPECT_EQ(json::parse(res->body)["expired"], 10);
  EXPECT_EQ(json::parse(post(R"({"idle_over_seconds":3600})")->body)["expired"], 5);
  EXPECT_EQ(json::parse(post(R"({"idle_over_seconds":3600})")->body)["expired"], 0);
  EXPECT_EQ(store_->Count(), 7u);
  std::lock_guard lock(mu_);
  EXPECT_EQ(recorded_.size(), 2u);
}

TEST_F(AdminTest, BulkExpireBadBodiesAre400NamingTheField) {
  const std::pair<const char*, const char*> cases[] = {
      {"not json", "JSON object"},
      {"[1]", "JSON object"},
      {"{}", "idle_over_seconds"},
      {R"({"idle_over_seconds":"1h"})", "idle_over_seconds"},
      {R"({"idle_over_seconds":-1})", "idle_over_seconds"},
      {R"({"idle_over_seconds":0})", "idle_over_seconds"},
      {R"({"idle_over_seconds":1,"app":5})", "app"},
      {R"({"idle_over_seconds":1,"ap":"x"})", "ap"},
  };
  for (const auto& [body, field] : cases) {
    auto res = client_->Post("/v1/sessions/expire", Auth(), body, "application/json");
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 400) << body;
    EXPECT_THAT(json::parse(res->body)["message"].get<std::string>(), HasSubstr(field)) << body;
  }
}

// The server refuses on the announced Content-Length, before reading the body. A client that
// sends the whole body may have its connection reset before it reads the answer (that made this
// test flaky), so this one announces the size, sends nothing more and reads the answer.
TEST_F(AdminTest, BodiesOver1MiBAre413) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(server_->port());
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  std::string token = Auth().find("Authorization")->second;
  std::string request = "POST /v1/sessions/expire HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: " +
                        token + "\r\nContent-Type: application/json\r\nContent-Length: " +
                        std::to_string(kMaxBodyBytes + 1) + "\r\n\r\n";
  ASSERT_EQ(send(fd, request.data(), request.size(), MSG_NOSIGNAL), static_cast<ssize_t>(request.size()));
  std::string answer;
  char buf[4096];
  for (ssize_t n; (n = recv(fd, buf, sizeof buf, 0)) > 0;) answer.append(buf, static_cast<size_t>(n));
  close(fd);
  ASSERT_EQ(answer.rfind("HTTP/1.1 413", 0), 0u) << answer;
  EXPECT_NE(answer.find(R"("error":"bad_request")"), std::string::npos) << answer;
}

TEST_F(AdminTest, AppsListEveryField) {
  json apps = GetJson("/v1/apps");
  ASSERT_EQ(apps.size(), 2u);
  EXPECT_EQ(apps[0]["name"], "myapp");
  EXPECT_EQ(apps[0]["path"], "/myapp");
  EXPECT_EQ(apps[0]["sha256"], std::string(64, 'a'));
  EXPECT_EQ(apps[0]["version"], "aaaaaaaaaaaa");
  EXPECT_EQ(apps[0]["size_bytes"], 1234);
  EXPECT_EQ(apps[0]["deployed"], "2023-11-14T22:13:20.000Z");
  EXPECT_EQ(apps[0]["distributable"], true);
  EXPECT_EQ(apps[0]["session_timeout_seconds"], 1800);
  EXPECT_EQ(apps[1]["version"], "folder");
}

TEST_F(AdminTest, EventsSinceSeqAndTime) {
  json all = GetJson("/v1/events");
  ASSERT_EQ(all["items"].size(), 5u);
  EXPECT_EQ(all["next_since"], 5);
  EXPECT_EQ(all["items"][0]["fields"]["peer"], "tomcatB");
  EXPECT_EQ(all["items"][0]["time"], "1970-01-01T00:00:01.000Z");
  EXPECT_EQ(all["items"][1]["fields"], json::object());

  json page = GetJson("/v1/events?since=2&limit=2");
  ASSERT_EQ(page["items"].size(), 2u);
  EXPECT_EQ(page["items"][0]["seq"], 3);
  EXPECT_EQ(page["next_since"], 4);
  EXPECT_EQ(GetJson("/v1/events?since=5")["items"].size(), 0u);
  EXPECT_EQ(GetJson("/v1/events?since_ms=4000")["items"].size(), 2u);
  EXPECT_THAT(GetJson("/v1/events?since=x", 400)["message"].get<std::string>(), HasSubstr("since"));
}

TEST_F(AdminTest, MembersListEveryFieldSortedByName) {
  json members = GetJson("/v1/members");
  ASSERT_TRUE(members.is_array());
  ASSERT_EQ(members.size(), 4u);
  EXPECT_EQ(members[0]["name"], "tomcatA");
  EXPECT_EQ(members[1]["name"], "tomcatB");
  EXPECT_EQ(members[3]["name"], "tomcatD");
  const json& b = members[1];
  EXPECT_EQ(b["address"], "127.0.0.2:4000");
  EXPECT_EQ(b["admin_url"], "http://127.0.0.2:8099");
  EXPECT_EQ(b["state"], "alive");
  EXPECT_EQ(b["mode"], "active");
  EXPECT_EQ(b["sessions"], 7);
  EXPECT_TRUE(b["last_seen"].is_string());
  EXPECT_NEAR(b["last_seen_seconds_ago"].get<double>(), 0.4, 0.3);
  EXPECT_EQ(b["state_since"], "2023-11-14T22:13:20.000Z");
  EXPECT_EQ(b["version"], "9.9.9");
  EXPECT_EQ(b["protocol"], 1);
  EXPECT_EQ(b["incarnation"], 1700000000000);
  EXPECT_EQ(b["self"], false);
  EXPECT_EQ(b["static"], false);
  EXPECT_EQ(b.size(), 14u) << b.dump();
  EXPECT_EQ(members[0]["self"], true);
  EXPECT_EQ(members[0]["last_seen_seconds_ago"], 0.0);
  EXPECT_EQ(members[2]["static"], true);
  EXPECT_EQ(members[2]["mode"], "draining");
  // Never seen: null times rather than 1970.
  EXPECT_TRUE(members[3]["last_seen"].is_null());
  EXPECT_TRUE(members[3]["last_seen_seconds_ago"].is_null());
  EXPECT_TRUE(members[3]["state_since"].is_null());
}

TEST_F(AdminTest, MembersFilterByState) {
  auto names = [](const json& list) {
    std::vector<std::string> out;
    for (const json& m : list) out.push_back(m["name"]);
    return out;
  };
  EXPECT_THAT(names(GetJson("/v1/members?state=alive")), ::testing::ElementsAre("tomcatA", "tomcatB"));
  EXPECT_THAT(names(GetJson("/v1/members?state=suspect,dead")),
              ::testing::ElementsAre("tomcatC", "tomcatD"));
  EXPECT_THAT(names(GetJson("/v1/members?state=dead&state=suspect")),
              ::testing::ElementsAre("tomcatC", "tomcatD"));
  EXPECT_EQ(GetJson("/v1/members?state=left"), json::array());
}

TEST_F(AdminTest, BadStateFilterIs400NamingTheParameter) {
  for (const char* query : {"state=zombie", "state=alive,", "state=", "state=Alive"}) {
    json err = GetJson(std::string("/v1/members?") + query, 400);
    EXPECT_EQ(err["error"], "bad_request") << query;
    EXPECT_THAT(err["message"].get<std::string>(), HasSubstr("'state'")) << query;
  }
  EXPECT_EQ(client_->Get("/v1/members")->status, 401);
}

TEST_F(AdminTest, StatusCountsMembersByState) {
  json counts = GetJson("/v1/status")["members"];
  EXPECT_EQ(counts, json({{"alive", 2}, {"suspect", 1}, {"dead", 1}, {"left", 0}}));
}

TEST(AdminUnwiredTest, MissingServicesAnswer503) {
  auto server = AdminServer::Start("127.0.0.1", 0, kToken, AdminServices{});
  ASSERT_TRUE(server.ok());
  httplib::Client client("127.0.0.1", (*server)->port());
  httplib::Headers auth = {{"Authorization", std::string("Bearer ") + kToken}};
  EXPECT_EQ(client.Get("/v1/apps", auth)->status, 503);
  EXPECT_EQ(client.Get("/v1/events", auth)->status, 503);
  EXPECT_EQ(client.Get("/v1/sessions", auth)->status, 503);
  EXPECT_EQ(client.Get("/v1/members", auth)->status, 503);
  auto status = client.Get("/v1/status", auth);
  EXPECT_EQ(status->status, 200);
  EXPECT_TRUE(json::parse(status->body)["members"].is_null());
  EXPECT_EQ(client.Get("/readyz")->status, 200);
}

TEST(AdminDeployTest, NodeParameterMakesAPerNodeDeployAndIsChecked) {
  testing::TempDir uploads;
  std::string only_node = "(not called)";
  AdminServices services;
  services.upload_dir = uploads.path();
  services.deploy_app = [&](const std::string& name, const std::string&, const std::string& node,
                            int64_t) -> Result<DeployResult> {
    only_node = node;
    return DeployResult{name, std::string(64, 'b'), 1, {{node.empty() ? "tomcatA" : node, true, "", "", 3}}, node};
  };
  auto server = AdminServer::Start("127.0.0.1", 0, kToken, std::move(services));
  ASSERT_TRUE(server.ok());
  httplib::Client client("127.0.0.1", (*server)->port());
  httplib::Headers auth = {{"Authorization", std::string("Bearer ") + kToken}};

  auto r = client.Put("/v1/apps/shop?node=tomcatB", auth, "PK-war-bytes", "application/java-archive");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(only_node, "tomcatB");
  EXPECT_EQ(json::parse(r->body)["only_node"], "tomcatB");
  EXPECT_EQ(json::parse(r->body)["nodes"][0]["node"], "tomcatB");

  r = client.Put("/v1/apps/shop", auth, "PK-war-bytes", "application/java-archive");
  ASSERT_TRUE(r);
  EXPECT_EQ(only_node, "");
  EXPECT_TRUE(json::parse(r->body)["only_node"].is_null()) << r->body;

  only_node = "(not called)";
  for (const char* bad : {"/v1/apps/shop?node=", "/v1/apps/shop?node=a%20b", "/v1/apps/shop?node=a%0Ab"}) {
    r = client.Put(bad, auth, "PK-war-bytes", "application/java-archive");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 400) << bad;
    EXPECT_THAT(r->body, HasSubstr("'node'")) << bad;
  }
  EXPECT_EQ(only_node, "(not called)");
}

TEST(AdminStartTest, RefusesEmptyTokenAndBusyPort) {
  EXPECT_EQ(AdminServer::Start("127.0.0.1", 0, "", {}).status().code(), Code::kBadRequest);
  auto first = AdminServer::Start("127.0.0.1", 0, kToken, {});
  ASSERT_TRUE(first.ok());
  auto second = AdminServer::Start("127.0.0.1", (*first)->port(), kToken, {});
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), Code::kUnavailable);
  EXPECT_THAT(second.status().message(), HasSubstr("127.0.0.1:"));
}

// ---- token file ----------------------------------------------------------------------------

mode_t ModeOf(const std::string& path) {
  struct stat st {};
  EXPECT_EQ(::stat(path.c_str(), &st), 0) << path;
  return st.st_mode & 0777;
}

TEST(TokenFileTest, CreatedWith0600InA0700FolderAndReused) {
  testing::TempDir dir;
  std::string path = dir.Path("data/admin.token");
  auto first = LoadOrCreateToken(path);
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  EXPECT_TRUE(first->created);
  EXPECT_FALSE(first->too_open);
  EXPECT_EQ(first->token.size(), 64u);
  EXPECT_EQ(first->token.find_first_not_of("0123456789abcdef"), std::string::npos);
  EXPECT_EQ(ModeOf(path), 0600u);
  EXPECT_EQ(ModeOf(dir.Path("data")), 0700u);

  auto second = LoadOrCreateToken(path);
  ASSERT_TRUE(second.ok());
  EXPECT_FALSE(second->created);
  EXPECT_EQ(second->token, first->token);
}

TEST(TokenFileTest, ExistingFileIsTrimmedAndLooseModeFlagged) {
  testing::TempDir dir;
  std::string path = dir.Path("admin.token");
  testing::WriteFile(path, "  shared-token \n");
  ::chmod(path.c_str(), 0644);
  auto token = LoadOrCreateToken(path);
  ASSERT_TRUE(token.ok());
  EXPECT_EQ(token->token, "shared-token");
  EXPECT_TRUE(token->too_open);
  EXPECT_FALSE(token->created);
}

TEST(TokenFileTest, EmptyFileIsAnErrorNamingIt) {
  testing::TempDir dir;
  std::string path = dir.Path("admin.token");
  testing::WriteFile(path, "\n");
  auto token = LoadOrCreateToken(path);
  ASSERT_FALSE(token.ok());
  EXPECT_THAT(token.status().message(), HasSubstr(path));
}

}  // namespace
}  // namespace sessiond::admin
