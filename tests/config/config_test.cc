// config: server.xml (the seed's, both Tomcat eras, bad input), <Sessiond>, the embedded default,
// flag overrides and --member parsing.
#include "config/config.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdlib>

#include "config/config_internal.h"
#include "support/files.h"

namespace sessiond::config {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;
using testing::TempDir;
using testing::TestData;

// Host facts without DNS: "node7.example.org" resolving to a chosen address.
class FakeHost : public internal::HostInfo {
 public:
  std::string name = "node7.example.org";
  std::optional<std::string> address = "10.1.2.3";
  std::string HostName() override { return name; }
  std::optional<std::string> Resolve(const std::string&) override { return address; }
  bool IsLocalAddress(const std::string& ip) override { return ip == "10.1.2.3"; }
};

class ConfigTest : public ::testing::Test {
 protected:
  void SetUp() override { internal::SetHostInfoForTesting(&host_); }
  void TearDown() override { internal::SetHostInfoForTesting(nullptr); }

  // A <Server> around `body` (one Service/Engine/Host unless the body brings its own).
  static std::string Server(const std::string& body) {
    return "<?xml version='1.0'?>\n<Server port=\"-1\">\n" + body + "\n</Server>\n";
  }
  static std::string InHost(const std::string& body) {
    return Server("<Service name=\"Catalina\">\n<Connector port=\"8080\"/>\n"
                  "<Engine name=\"Catalina\" jvmRoute=\"n1\">\n<Host appBase=\"webapps\">\n" +
                  body + "\n</Host>\n</Engine>\n</Service>");
  }
  Result<LoadedConfig> Parse(const std::string& xml) {
    return ParseServerXml(xml, "server.xml", "/srv/node1");
  }
  static int Count(const LoadedConfig& c, Diagnostic::Kind kind, const std::string& needle) {
    int n = 0;
    for (const Diagnostic& d : c.diagnostics)
      if (d.kind == kind && d.message.find(needle) != std::string::npos) ++n;
    return n;
  }
  static int CountKind(const LoadedConfig& c, Diagnostic::Kind kind) { return Count(c, kind, ""); }

  FakeHost host_;
};

// ---- the seed's file ------------------------------------------------------------------------

TEST_F(ConfigTest, SeedAsPublishedFailsAtLine30SuggestingQuot) {
  std::string path = TestData("seed-server.xml");
  Result<LoadedConfig> r = LoadServerXml(path, "/srv/node1");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kBadRequest);
  EXPECT_THAT(r.status().message(), StartsWith(path + ":30:22: "));
  EXPECT_THAT(r.status().message(), HasSubstr("&quot;"));
}

TEST_F(ConfigTest, FixedSeedLoadsWithTheTutorialsValues) {
  Result<LoadedConfig> r = LoadServerXml(TestData("seed-server-fixed.xml"), "/srv/node1");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  const NodeConfig& c = r->config;
  EXPECT_EQ(c.jvm_route, "tomcatA");
  EXPECT_EQ(c.connector.address, "0.0.0.0");
  EXPECT_EQ(c.connector.port, 8080);
  EXPECT_EQ(c.connector.connection_timeout_ms, 20000);
  EXPECT_EQ(c.host.app_base, "/srv/node1/webapps");
  ASSERT_EQ(c.host.contexts.size(), 1u);
  EXPECT_EQ(c.host.contexts[0].path, "/myapp");
  EXPECT_EQ(c.host.contexts[0].doc_base, "/webapps/myapp");
  EXPECT_EQ(c.host.contexts[0].line, 31);
  EXPECT_TRUE(c.host.access_log.enabled);
  EXPECT_EQ(c.host.access_log.directory, "/srv/node1/logs");
  EXPECT_EQ(c.host.access_log.pattern, "%h %l %u %t \"%r\" %s %b");
  EXPECT_TRUE(c.cluster.enabled);
  EXPECT_EQ(c.cluster.channel_send_options, 8);
}

TEST_F(ConfigTest, FixedSeedClusterValues) {
  Result<LoadedConfig> r = LoadServerXml(TestData("seed-server-fixed.xml"), "/srv/node1");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  const ClusterConfig& c = r->config.cluster;
  EXPECT_FALSE(c.manager.expire_sessions_on_shutdown);
  EXPECT_TRUE(c.manager.notify_listeners_on_replication);
  EXPECT_EQ(c.membership.address, "228.0.0.4");
  EXPECT_EQ(c.membership.port, 45564);
  EXPECT_EQ(c.membership.frequency_ms, 500);
  EXPECT_EQ(c.membership.drop_time_ms, 3000);
  EXPECT_TRUE(c.membership.enabled);
  EXPECT_EQ(c.receiver.address, "192.168.0.42");
  EXPECT_EQ(c.receiver.port, 4000);
  EXPECT_EQ(c.receiver.auto_bind, 100);
  EXPECT_EQ(c.receiver.selector_timeout_ms, 5000);
  EXPECT_EQ(c.receiver.max_threads, 6);
  EXPECT_EQ(c.replication_filter, "");
  EXPECT_TRUE(c.jvm_route_binder);
  EXPECT_TRUE(c.farm.enabled);
  EXPECT_EQ(c.farm.temp_dir, "/tmp/war-temp");
  EXPECT_EQ(c.farm.deploy_dir, "/tmp/war-deploy");
  EXPECT_EQ(c.farm.watch_dir, "/tmp/war-listen");
  EXPECT_FALSE(c.farm.watch_enabled);
}

TEST_F(ConfigTest, FixedSeedDiagnostics) {
  Result<LoadedConfig> r = LoadServerXml(TestData("seed-server-fixed.xml"), "/srv/node1");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(Count(*r, Diagnostic::Kind::kIgnored, "AJP/1.3"), 1);
  EXPECT_EQ(Count(*r, Diagnostic::Kind::kIgnored, ":20: "), 1);
  EXPECT_EQ(Count(*r, Diagnostic::Kind::kIgnored, "shutdown port"), 1);
  EXPECT_EQ(Count(*r, Diagnostic::Kind::kIgnored, "Realm"), 1);
  EXPECT_EQ(Count(*r, Diagnostic::Kind::kIgnored, "JasperListener"), 1);
  EXPECT_EQ(Count(*r, Diagnostic::Kind::kIgnored, "GlobalNamingResources"), 1);
  // Nothing in the tutorial's file is unknown: the Tomcat 7 names are accepted.
  for (const Diagnostic& d : r->diagnostics)
    EXPECT_NE(d.kind, Diagnostic::Kind::kUnknown) << d.message;
  EXPECT_EQ(Count(*r, Diagnostic::Kind::kIgnored, "MessageDispatch15Interceptor"), 0);
  EXPECT_EQ(Count(*r, Diagnostic::Kind::kIgnored, "JvmRouteSessionIDBinderListener"), 0);
  // Its receiver address is the tutorial's: a warning, not an error.
  EXPECT_EQ(Count(*r, Diagnostic::Kind::kWarning, "192.168.0.42"), 1);
  EXPECT_EQ(Count(*r, Diagnostic::Kind::kIgnored, "reloadable"), 0);  // reloadable="" = default
}

TEST_F(ConfigTest, FixedSeedPassesOverrides) {
  Result<LoadedConfig> r = LoadServerXml(TestData("seed-server-fixed.xml"), "/srv/node1");
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(ApplyOverrides({}, &r->config).ok());
  EXPECT_EQ(r->config.jvm_route, "tomcatA");
}

// ---- malformed XML --------------------------------------------------------------------------

TEST_F(ConfigTest, MalformedXmlNamesLineAndColumn) {
  Result<LoadedConfig> r = Parse("<Server>\n  <Service>\n</Server>\n");
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.status().message(), StartsWith("server.xml:3:"));
}

TEST_F(ConfigTest, ApostropheInsideSingleQuotedValueSuggestsApos) {
  Result<LoadedConfig> r = Parse("<Server>\n<Sessiond logFile='it's.log'/>\n</Server>");
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.status().message(), StartsWith("server.xml:2:"));
  EXPECT_THAT(r.status().message(), HasSubstr("&apos;"));
}

TEST_F(ConfigTest, EmptyDocumentAndWrongRootAreErrors) {
  EXPECT_EQ(Parse("").status().code(), Code::kBadRequest);
  Result<LoadedConfig> r = Parse("<?xml version='1.0'?>\n<Context/>");
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.status().message(), HasSubstr("server.xml:2: the root element is <Context>"));
}

TEST_F(ConfigTest, LoadServerXmlMissingFileIsNotFound) {
  EXPECT_EQ(LoadServerXml("/nonexistent/server.xml", "/srv").status().code(), Code::kNotFound);
}

// ---- both Tomcat eras, unknowns, defaults ---------------------------------------------------

TEST_F(ConfigTest, Tomcat10NamesAreAccepted) {
  std::string xml = InHost(R"xml(
<Cluster className="org.apache.catalina.ha.tcp.SimpleTcpCluster" channelSendOptions="use_ack,sync">
  <Manager className="org.apache.catalina.ha.session.DeltaManager" stateTransferTimeout="30"
           maxActiveSessions="5000"/>
  <Channel className="org.apache.catalina.tribes.group.GroupChannel">
    <Membership className="org.apache.catalina.tribes.membership.McastService" address="228.0.0.9"
                port="45999" frequency="250" dropTime="2000" bind="127.0.0.1" ttl="2" domain="blue"/>
    <Receiver className="org.apache.catalina.tribes.transport.nio.NioReceiver" address="127.0.0.2"/>
    <Sender className="org.apache.catalina.tribes.transport.ReplicationTransmitter">
      <Transport className="org.apache.catalina.tribes.transport.nio.PooledParallelSender" timeout="3000"/>
    </Sender>
    <Interceptor className="org.apache.catalina.tribes.group.interceptors.TcpPingInterceptor" interval="1000"/>
    <Interceptor className="org.apache.catalina.tribes.group.interceptors.TcpFailureDetector"/>
    <Interceptor className="org.apache.catalina.tribes.group.interceptors.MessageDispatchInterceptor"/>
  </Channel>
  <Valve className="org.apache.catalina.ha.tcp.ReplicationValve" filter=".*\.(gif|css)"/>
  <ClusterListener className="org.apache.catalina.ha.session.ClusterSessionListener"/>
</Cluster>)xml");
  Result<LoadedConfig> r = Parse(xml);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(CountKind(*r, Diagnostic::Kind::kUnknown), 0);
  const ClusterConfig& c = r->config.cluster;
  EXPECT_EQ(c.channel_send_options, 2 | 4);
  EXPECT_EQ(c.manager.state_transfer_timeout_ms, 30000);  // Tomcat's seconds, stored as ms
  EXPECT_EQ(c.manager.max_active_sessions, 5000);
  EXPECT_EQ(c.membership.address, "228.0.0.9");
  EXPECT_EQ(c.membership.port, 45999);
  EXPECT_EQ(c.membership.frequency_ms, 250);
  EXPECT_EQ(c.membership.drop_time_ms, 2000);
  EXPECT_EQ(c.membership.bind, "127.0.0.1");
  EXPECT_EQ(c.membership.ttl, 2);
  EXPECT_EQ(c.membership.domain, "blue");
  EXPECT_EQ(c.receiver.address, "127.0.0.2");
  EXPECT_EQ(c.replication_filter, ".*\\.(gif|css)");
  EXPECT_FALSE(c.jvm_route_binder);
}

TEST_F(ConfigTest, SendOptionNamesAndNumbers) {
  EXPECT_EQ(internal::ParseSendOptions("asynchronous"), 8);
  EXPECT_EQ(internal::ParseSendOptions("8"), 8);
  EXPECT_EQ(internal::ParseSendOptions("ASYNC, use_ack"), 10);
  EXPECT_EQ(internal::ParseSendOptions("synchronized_ack"), 4);
  EXPECT_FALSE(internal::ParseSendOptions("fast").has_value());
  EXPECT_FALSE(internal::ParseSendOptions("256").has_value());
  Result<LoadedConfig> r = Parse(InHost("<Cluster channelSendOptions=\"sometimes\"/>"));
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.status().message(), HasSubstr("<Cluster channelSendOptions=\"sometimes\">"));
}

TEST_F(ConfigTest, StaticMembershipBothEras) {
  // Tomcat 7/8: the interceptor with StaticMember children, no multicast service named.
  std::string seven = InHost(R"xml(<Cluster><Channel>
<Interceptor className="org.apache.catalina.tribes.group.interceptors.StaticMembershipInterceptor">
  <Member className="org.apache.catalina.tribes.membership.StaticMember" host="127.0.0.2"
          port="4000" uniqueId="{0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15}"/>
</Interceptor></Channel></Cluster>)xml");
  Result<LoadedConfig> r = Parse(seven);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(r->config.cluster.static_members.size(), 1u);
  EXPECT_EQ(r->config.cluster.static_members[0].host, "127.0.0.2");
  EXPECT_EQ(r->config.cluster.static_members[0].port, 4000);
  EXPECT_FALSE(r->config.cluster.membership.enabled);
  EXPECT_EQ(CountKind(*r, Diagnostic::Kind::kUnknown), 0);
  // Tomcat 9+: StaticMembershipService with LocalMember and Member children.
  std::string ten = InHost(R"xml(<Cluster><Channel>
<Membership className="org.apache.catalina.tribes.membership.StaticMembershipService">
  <LocalMember className="org.apache.catalina.tribes.membership.StaticMember" uniqueId="{1}"/>
  <Member className="org.apache.catalina.tribes.membership.StaticMember" host="127.0.0.3" port="4001"/>
  <Member host="127.0.0.4" port="4002"/>
</Membership></Channel></Cluster>)xml");
  r = Parse(ten);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(r->config.cluster.static_members.size(), 2u);
  EXPECT_EQ(r->config.cluster.static_members[1].port, 4002);
  EXPECT_FALSE(r->config.cluster.membership.enabled);
  EXPECT_EQ(CountKind(*r, Diagnostic::Kind::kUnknown), 0);
}

TEST_F(ConfigTest, UnknownElementsAttributesAndClassesWarnWithLine) {
  std::string xml = InHost(
      "<Frobnicator/>\n"
      "<Context path=\"/a\" colour=\"blue\"/>\n"
      "<Valve className=\"com.example.MyValve\"/>");
  Result<LoadedConfig> r = Parse(xml);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(Count(*r, Diagnostic::Kind::kUnknown, "server.xml:7: unknown element <Frobnicator>"), 1);
  EXPECT_EQ(Count(*r, Diagnostic::Kind::kUnknown, "server.xml:8: unknown attribute colour"), 1);
  EXPECT_EQ(Count(*r, Diagnostic::Kind::kUnknown, "server.xml:9: unknown <Valve className=\"com.example.MyValve\">"), 1);
}

TEST_F(ConfigTest, IgnoredKindsAreReportedOnce) {
  std::string xml = Server(
      "<Service>\n<Connector port=\"8009\" protocol=\"AJP/1.3\"/>\n"
      "<Connector port=\"8010\" protocol=\"AJP/1.3\"/>\n<Connector port=\"9090\"/>\n"
      "<Engine><Realm className=\"org.apache.catalina.realm.LockOutRealm\"/>\n"
      "<Host><Realm className=\"org.apache.catalina.realm.UserDatabaseRealm\"/></Host></Engine>\n"
      "</Service>");
  Result<LoadedConfig> r = Parse(xml);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(Count(*r, Diagnostic::Kind::kIgnored, "AJP"), 1);
  EXPECT_EQ(Count(*r, Diagnostic::Kind::kIgnored, "Realm"), 1);
  EXPECT_EQ(r->config.connector.port, 9090);
}

TEST_F(ConfigTest, EmptyAttributesMeanTheDefault) {
  Result<LoadedConfig> r = Parse(Server(
      "<Service><Connector port=\"\" address=\"\" connectionTimeout=\"\"/>\n"
      "<Engine jvmRoute=\"\"><Host appBase=\"\" unpackWARs=\"\">\n"
      "<Context path=\"/x\" docBase=\"\" reloadable=\"\"/>\n"
      "<Cluster channelSendOptions=\"\"><Manager stateTransferTimeout=\"\" maxActiveSessions=\"\"/>"
      "</Cluster></Host></Engine></Service>"));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  const NodeConfig& c = r->config;
  EXPECT_EQ(c.connector.port, 8080);
  EXPECT_EQ(c.connector.address, "0.0.0.0");
  EXPECT_EQ(c.connector.connection_timeout_ms, 20000);
  EXPECT_EQ(c.jvm_route, "");
  EXPECT_EQ(c.host.app_base, "/srv/node1/webapps");
  EXPECT_EQ(c.host.contexts.at(0).doc_base, "/srv/node1/webapps/x");  // Tomcat: appBase/<name>
  EXPECT_EQ(c.cluster.channel_send_options, 8);
  EXPECT_EQ(c.cluster.manager.state_transfer_timeout_ms, 60000);
  EXPECT_EQ(c.cluster.manager.max_active_sessions, -1);
  EXPECT_EQ(CountKind(*r, Diagnostic::Kind::kIgnored), 0);
}

// ---- bad values -----------------------------------------------------------------------------

TEST_F(ConfigTest, BadPortNamesElementAttributeAndLine) {
  Result<LoadedConfig> r = Parse(Server("<Service>\n<Connector\n   port=\"80x\"/>\n</Service>"));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kBadRequest);
  EXPECT_THAT(r.status().message(), StartsWith("server.xml:5: <Connector port=\"80x\">: "));
  EXPECT_THAT(r.status().message(), HasSubstr("port"));
}

TEST_F(ConfigTest, BadValuesAreErrors) {
  auto message = [&](const std::string& body) { return Parse(InHost(body)).status().message(); };
  EXPECT_THAT(message("<Cluster><Channel><Membership frequency=\"-1\"/></Channel></Cluster>"),
              HasSubstr("<Membership frequency=\"-1\">: out of range"));
  EXPECT_THAT(message("<Cluster><Channel><Membership address=\"10.0.0.1\"/></Channel></Cluster>"),
              HasSubstr("not a multicast address"));
  EXPECT_THAT(message("<Cluster><Channel><Receiver port=\"70000\"/></Channel></Cluster>"),
              HasSubstr("<Receiver port=\"70000\">"));
  EXPECT_THAT(message("<Cluster><Manager expireSessionsOnShutdown=\"maybe\"/></Cluster>"),
              HasSubstr("not a boolean"));
  EXPECT_THAT(message("<Context path=\"/a\"/><Context path=\"/a/\"/>"),
              HasSubstr("duplicate context path (first at line 7)"));
  Result<LoadedConfig> r = Parse(Server("<Sessiond logLevel=\"chatty\"/>"));
  EXPECT_THAT(r.status().message(), StartsWith("server.xml:3: <Sessiond logLevel=\"chatty\">"));
}

// ---- paths, receiver address -----------------------------------------------------------------

TEST_F(ConfigTest, RelativePathsResolveAgainstBaseDir) {
  Result<LoadedConfig> r = Parse(Server(
      "<Sessiond dataDir=\"state\" tokenFile=\"conf/admin.token\" clusterSecretFile=\"/etc/s\" "
      "logFile=\"logs/sessiond.log\"/>\n"
      "<Service><Engine><Host appBase=\"apps\">\n"
      "<Valve className=\"org.apache.catalina.valves.AccessLogValve\" directory=\"../access\"/>\n"
      "<Context path=\"\" docBase=\"site\"/>\n"
      "<Cluster><Deployer className=\"org.apache.catalina.ha.deploy.FarmWarDeployer\" "
      "tempDir=\"tmp/\" deployDir=\"deploy\" watchDir=\"/var/watch/\" watchEnabled=\"true\"/>"
      "</Cluster></Host></Engine></Service>"));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  const NodeConfig& c = r->config;
  EXPECT_EQ(c.sessiond.data_dir, "/srv/node1/state");
  EXPECT_EQ(c.sessiond.token_file, "/srv/node1/conf/admin.token");
  EXPECT_EQ(c.sessiond.cluster_secret_file, "/etc/s");
  EXPECT_EQ(c.sessiond.log_file, "/srv/node1/logs/sessiond.log");
  EXPECT_EQ(c.host.app_base, "/srv/node1/apps");
  EXPECT_EQ(c.host.access_log.directory, "/srv/access");
  EXPECT_EQ(c.host.contexts.at(0).path, "");
  EXPECT_EQ(c.host.contexts.at(0).doc_base, "/srv/node1/apps/site");
  EXPECT_EQ(c.cluster.farm.temp_dir, "/srv/node1/tmp");
  EXPECT_EQ(c.cluster.farm.deploy_dir, "/srv/node1/deploy");
  EXPECT_EQ(c.cluster.farm.watch_dir, "/var/watch");
  EXPECT_TRUE(c.cluster.farm.watch_enabled);
}

TEST_F(ConfigTest, CatalinaBasePropertyIsTheBaseDir) {
  Result<LoadedConfig> r = Parse(InHost(
      "<Valve className=\"org.apache.catalina.valves.AccessLogValve\" "
      "directory=\"${catalina.base}/access\"/>"));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->config.host.access_log.directory, "/srv/node1/access");
}

TEST_F(ConfigTest, ReceiverAutoResolvesTheHostName) {
  std::string xml = InHost("<Cluster><Channel><Receiver address=\"auto\"/></Channel></Cluster>");
  Result<LoadedConfig> r = Parse(xml);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->config.cluster.receiver.address, "10.1.2.3");
  EXPECT_EQ(CountKind(*r, Diagnostic::Kind::kWarning), 0);
  host_.address = "127.0.1.1";  // Debian's /etc/hosts entry for the host name
  r = Parse(xml);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->config.cluster.receiver.address, "127.0.1.1");
  EXPECT_EQ(Count(*r, Diagnostic::Kind::kWarning, "other hosts cannot reach this node"), 1);
  host_.address.reset();
  EXPECT_THAT(Parse(xml).status().message(), HasSubstr("does not resolve"));
}

TEST_F(ConfigTest, SessiondElement) {
  Result<LoadedConfig> r = Parse(Server(
      "<Sessiond adminAddress=\"127.0.0.5\" adminPort=\"9099\" agentPort=\"9777\" "
      "logLevel=\"WARNING\" insecure=\"true\" flushInterval=\"50\" maxWarBytes=\"64M\" "
      "cookieSecure=\"yes\" cookieSameSite=\"strict\" antiEntropyPeriod=\"2500\" "
      "maxClockSkew=\"0\"/>"));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  const SessiondConfig& s = r->config.sessiond;
  EXPECT_EQ(s.admin_address, "127.0.0.5");
  EXPECT_EQ(s.admin_port, 9099);
  EXPECT_EQ(s.agent_port, 9777);
  EXPECT_EQ(s.log_level, "warn");
  EXPECT_TRUE(s.insecure);
  EXPECT_EQ(s.flush_interval_ms, 50);
  EXPECT_EQ(s.max_war_bytes, 64 << 20);
  EXPECT_TRUE(s.cookie_secure);
  EXPECT_EQ(s.cookie_same_site, "Strict");
  EXPECT_EQ(s.anti_entropy_period_ms, 2500);
  EXPECT_EQ(s.max_clock_skew_ms, 0);
  EXPECT_EQ(CountKind(*r, Diagnostic::Kind::kUnknown), 0);
}

TEST_F(ConfigTest, SessiondTimingsHaveDefaultsAndBounds) {
  Result<LoadedConfig> r = Parse(Server("<Sessiond/>"));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->config.sessiond.anti_entropy_period_ms, 10000);
  EXPECT_EQ(r->config.sessiond.max_clock_skew_ms, 60000);
  for (const char* bad : {"antiEntropyPeriod=\"-1\"", "antiEntropyPeriod=\"soon\"",
                          "maxClockSkew=\"86400001\""}) {
    Result<LoadedConfig> e = Parse(Server(std::string("<Sessiond ") + bad + "/>"));
    ASSERT_FALSE(e.ok()) << bad;
    EXPECT_THAT(e.status().message(), HasSubstr(std::string(bad).substr(0, 8))) << bad;
  }
}

// ---- embedded default, overrides, members ---------------------------------------------------

TEST_F(ConfigTest, EmbeddedDefaultMatchesTheDesignTable) {
  NodeConfig c = EmbeddedDefault("/srv/node1");
  EXPECT_EQ(c.base_dir, "/srv/node1");
  EXPECT_EQ(c.connector.address, "127.0.0.1");
  EXPECT_EQ(c.connector.port, 8080);
  EXPECT_EQ(c.sessiond.admin_address, "127.0.0.1");
  EXPECT_EQ(c.sessiond.admin_port, 8099);
  EXPECT_EQ(c.cluster.receiver.address, "127.0.0.1");
  EXPECT_EQ(c.cluster.receiver.port, 4000);
  EXPECT_EQ(c.cluster.receiver.auto_bind, 100);
  EXPECT_EQ(c.cluster.membership.address, "228.0.0.4");
  EXPECT_EQ(c.cluster.membership.port, 45564);
  EXPECT_EQ(c.cluster.membership.frequency_ms, 500);
  EXPECT_EQ(c.cluster.membership.drop_time_ms, 3000);
  EXPECT_EQ(c.cluster.manager.session_timeout_s, 1800);
  EXPECT_EQ(c.cluster.manager.max_active_sessions, -1);
  EXPECT_EQ(c.cluster.channel_send_options, 8);
  EXPECT_EQ(c.host.app_base, "/srv/node1/webapps");
  EXPECT_EQ(c.jvm_route, "");
}

TEST_F(ConfigTest, OverridesResolveDataDirTokenAndRoute) {
  unsetenv("STATE_DIRECTORY");
  NodeConfig c = EmbeddedDefault("/srv/node1");
  ASSERT_TRUE(ApplyOverrides({}, &c).ok());
  EXPECT_EQ(c.sessiond.data_dir, "/srv/node1/sessiond-data");
  EXPECT_EQ(c.sessiond.token_file, "/srv/node1/sessiond-data/admin.token");
  EXPECT_EQ(c.jvm_route, "node7");  // the short host name
  EXPECT_TRUE(c.cluster.enabled);   // the embedded default clusters on loopback

  setenv("STATE_DIRECTORY", "/var/lib/sessiond:/var/lib/other", 1);
  c = EmbeddedDefault("/srv/node1");
  ASSERT_TRUE(ApplyOverrides({}, &c).ok());
  EXPECT_EQ(c.sessiond.data_dir, "/var/lib/sessiond");
  unsetenv("STATE_DIRECTORY");

  Overrides o;
  o.data_dir = "d";
  o.jvm_route = "nodeB";
  o.http_address = "127.0.0.9";
  o.http_port = 18080;
  o.admin_port = 18099;
  o.receiver_port = 4100;
  o.log_level = "debug";
  o.insecure = true;
  o.anti_entropy_period_ms = 1000;
  o.max_clock_skew_ms = 5000;
  c = EmbeddedDefault("/srv/node1");
  ASSERT_TRUE(ApplyOverrides(o, &c).ok());
  EXPECT_EQ(c.sessiond.data_dir, "/srv/node1/d");
  EXPECT_EQ(c.sessiond.token_file, "/srv/node1/d/admin.token");
  EXPECT_EQ(c.jvm_route, "nodeB");
  EXPECT_EQ(c.connector.address, "127.0.0.9");
  EXPECT_EQ(c.connector.port, 18080);
  EXPECT_EQ(c.sessiond.admin_port, 18099);
  EXPECT_EQ(c.cluster.receiver.port, 4100);
  EXPECT_TRUE(c.cluster.enabled);
  EXPECT_EQ(c.sessiond.log_level, "debug");
  EXPECT_TRUE(c.sessiond.insecure);
  EXPECT_EQ(c.sessiond.anti_entropy_period_ms, 1000);
  EXPECT_EQ(c.sessiond.max_clock_skew_ms, 5000);
}

TEST_F(ConfigTest, OverrideErrorsNameTheFlag) {
  NodeConfig c = EmbeddedDefault("/srv/node1");
  Overrides o;
  o.log_level = "loud";
  EXPECT_THAT(ApplyOverrides(o, &c).message(), StartsWith("--log-level loud"));
  o = {};
  o.members = {"127.0.0.2:4000", "127.0.0.3:x"};
  Status s = ApplyOverrides(o, &c);
  EXPECT_EQ(s.code(), Code::kBadRequest);
  EXPECT_THAT(s.message(), StartsWith("--member 127.0.0.3:x"));
  o = {};
  o.jvm_route = "bad route";
  EXPECT_THAT(ApplyOverrides(o, &c).message(), StartsWith("--jvm-route"));
  o = {};
  o.anti_entropy_period_ms = -5;
  EXPECT_THAT(ApplyOverrides(o, &c).message(), StartsWith("--anti-entropy-period -5"));
  o = {};
  o.max_clock_skew_ms = 86400001;
  EXPECT_THAT(ApplyOverrides(o, &c).message(), StartsWith("--max-clock-skew 86400001"));
}

TEST_F(ConfigTest, MemberFlagsMakeAStaticCluster) {
  NodeConfig c = EmbeddedDefault("/srv/node1");
  Overrides o;
  o.members = {"127.0.0.2:4000", "[::1]:4001"};
  ASSERT_TRUE(ApplyOverrides(o, &c).ok());
  EXPECT_TRUE(c.cluster.enabled);
  EXPECT_FALSE(c.cluster.membership.enabled);
  ASSERT_EQ(c.cluster.static_members.size(), 2u);
  EXPECT_EQ(c.cluster.static_members[1].host, "::1");
  o.mcast_address = "228.0.0.5";
  c = EmbeddedDefault("/srv/node1");
  ASSERT_TRUE(ApplyOverrides(o, &c).ok());
  EXPECT_TRUE(c.cluster.membership.enabled);
  EXPECT_EQ(c.cluster.membership.address, "228.0.0.5");
}

TEST_F(ConfigTest, ParseMember) {
  Result<StaticMember> m = ParseMember("127.0.0.2:4000");
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(m->host, "127.0.0.2");
  EXPECT_EQ(m->port, 4000);
  m = ParseMember("node-b.lan:4001");
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(m->host, "node-b.lan");
  m = ParseMember("[::1]:4000");
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(m->host, "::1");
  for (const char* bad : {"127.0.0.2", "127.0.0.2:", "127.0.0.2:0", "127.0.0.2:65536",
                          "127.0.0.2:40x", ":4000", "::1:4000", "[::1]4000", "[nope]:4000"})
    EXPECT_EQ(ParseMember(bad).status().code(), Code::kBadRequest) << bad;
}

TEST_F(ConfigTest, LineColumnCountsCharacters) {
  EXPECT_EQ(internal::LineColumnOf("ab\ncd", 4), std::make_pair(2, 2));
  EXPECT_EQ(internal::LineColumnOf("\xc3\xa9x", 2), std::make_pair(1, 2));
}

}  // namespace
}  // namespace sessiond::config
