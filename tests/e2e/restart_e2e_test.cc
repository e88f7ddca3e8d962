// Persistence through real restarts: SIGTERM persists everything; kill -9 loses at most what the
// write-behind had not flushed, and the database always opens again.
#include <nlohmann/json.hpp>

#include <sys/stat.h>

#include <thread>

#include "e2e/node_fixture.h"

namespace sessiond::testing {
namespace {

using nlohmann::json;

TEST_F(NodeTest, SigtermPersistsAndRestartRestoresSessions) {
  StartNode();
  auto http = Http();
  CookieJar jar(&http);
  ASSERT_EQ(jar.Put("/myapp/.session/attributes/color", "\"blue\"")->status, 204);
  std::string id = jar.session_id();
  std::string created = json::parse(jar.Get("/myapp/.session")->body)["created"];
  ASSERT_EQ(StopNode(SIGTERM), 0) << Log();

  StartNode();
  auto http2 = Http();
  CookieJar jar2(&http2);
  jar2.set_session_id(id);
  auto r = jar2.Get("/myapp/.session?create=false");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << Log();
  json s = json::parse(r->body);
  EXPECT_EQ(s["id"], id);
  EXPECT_EQ(s["created"], created);
  EXPECT_EQ(s["attributes"]["color"], "blue");
}

TEST_F(NodeTest, KillNineThenRestartKeepsWhatWasFlushed) {
  StartNode();
  auto http = Http();
  std::vector<std::string> ids;
  for (int i = 0; i < 50; ++i) {
    CookieJar jar(&http);
    ASSERT_EQ(jar.Put("/myapp/.session/attributes/n", std::to_string(i))->status, 204);
    ids.push_back(jar.session_id());
  }
  // The write-behind period is 200 ms: after a second everything above is on disk.
  std::this_thread::sleep_for(std::chrono::milliseconds(1000));
  // Keep writing while the kill lands, so the WAL is mid-use.
  std::thread writer([&] {
    auto c = Http();
    for (int i = 0; i < 200; ++i) CookieJar(&c).Put("/myapp/.session/attributes/x", "1");
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_EQ(StopNode(SIGKILL), 128 + SIGKILL);
  writer.join();

  StartNode();
  auto again = Http();
  for (size_t i = 0; i < ids.size(); ++i) {
    CookieJar jar(&again);
    jar.set_session_id(ids[i]);
    auto r = jar.Get("/myapp/.session/attributes/n");
    ASSERT_TRUE(r);
    ASSERT_EQ(r->status, 200) << "session " << ids[i] << " lost after kill -9\n" << Log();
    EXPECT_EQ(r->body, std::to_string(i));
  }
}

TEST_F(NodeTest, AdminTokenIsCreatedPrivateAndReused) {
  StartNode();
  struct stat st {};
  ASSERT_EQ(stat(TokenFile().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600);
  std::string token = Token();
  EXPECT_EQ(token.size(), 64u);
  ASSERT_EQ(StopNode(), 0);
  StartNode();
  EXPECT_EQ(Token(), token);
}

TEST_F(NodeTest, SighupKeepsServing) {
  StartNode();
  node_->Signal(SIGHUP);
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  EXPECT_TRUE(node_->Running());
  EXPECT_EQ(Http().Get("/myapp/.session")->status, 200);
  EXPECT_NE(Log().find("reopened log files"), std::string::npos);
}

}  // namespace
}  // namespace sessiond::testing
