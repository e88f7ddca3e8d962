// sessiond --check on the seed's own file, and a node started from a server.xml.
#include <regex>

#include "e2e/node_fixture.h"

namespace sessiond::testing {
namespace {

TEST(CheckTest, SeedFileAsPublishedFailsNamingLine30AndQuot) {
  auto r = RunCommand({SESSIOND_BIN, "--config", TestData("seed-server.xml"), "--check"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("seed-server.xml:30:"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("&quot;"), std::string::npos) << r.err;
}

TEST(CheckTest, SeedFileWithQuotesEscapedPasses) {
  TempDir base;
  auto r = RunCommand({SESSIOND_BIN, "--config", TestData("seed-server-fixed.xml"), "--check",
                       "--base-dir", base.path()});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("tomcatA"), std::string::npos) << r.out;
}

TEST(CheckTest, BadFlagValueIsAUsageError) {
  auto r = RunCommand({SESSIOND_BIN, "--http-port", "eighty", "--check"});
  EXPECT_EQ(r.exit_code, 2);
}

TEST_F(NodeTest, ServerXmlNodeWritesTheSeedsAccessLog) {
  std::string xml = ReadFile(TestData("seed-server-fixed.xml"));
  // The tutorial's Context points at /webapps/myapp; here the WAR in appBase deploys instead.
  xml = std::regex_replace(xml, std::regex("<Context [^>]*/>"), "");
  WriteFile(base_.Path("conf/server.xml"), xml);
  // The tutorial's receiver (192.168.0.42) is not on this machine; the node must run on loopback.
  StartNode({"--config", base_.Path("conf/server.xml"), "--http-address", "127.0.0.1",
             "--receiver-address", "127.0.0.1"});
  auto http = Http();
  auto r = http.Get("/myapp/.session");
  ASSERT_TRUE(r) << Log();
  ASSERT_EQ(r->status, 200);
  ASSERT_EQ(StopNode(), 0);
  bool found = false;
  for (const auto& entry : std::filesystem::directory_iterator(base_.Path("logs"))) {
    std::string name = entry.path().filename().string();
    if (name.rfind("localhost_access_log.", 0) != 0) continue;
    std::string log = ReadFile(entry.path().string());
    found = std::regex_search(log, std::regex(R"(127\.0\.0\.1 - - \[[^\]]+\] "GET /myapp/\.session HTTP/1\.1" 200 \d+)"));
    EXPECT_TRUE(found) << log;
  }
  EXPECT_TRUE(found) << "no access log in " << base_.Path("logs");
}

TEST_F(NodeTest, SeedReceiverAddressWithoutSecretIsRefused) {
  // The seed's cluster on a LAN address with no clusterSecretFile: refused, naming the fix.
  WriteFile(base_.Path("conf/server.xml"), ReadFile(TestData("seed-server-fixed.xml")));
  auto r = RunCommand({SESSIOND_BIN, "--config", base_.Path("conf/server.xml"), "--base-dir",
                       base_.path(), "--http-address", "127.0.0.1"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("192.168.0.42"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("--insecure"), std::string::npos) << r.err;
}

TEST_F(NodeTest, HostileWarIsRefusedAndOtherAppsServe) {
  // A WAR that is not a zip at all: reported, skipped; myapp still serves.
  WriteFile(base_.Path("webapps/broken.war"), "this is not a zip archive");
  StartNode();
  EXPECT_EQ(Http().Get("/myapp/.session")->status, 200);
  EXPECT_EQ(Http().Get("/broken/")->status, 404);
  EXPECT_NE(Log().find("broken.war"), std::string::npos);
}

}  // namespace
}  // namespace sessiond::testing
