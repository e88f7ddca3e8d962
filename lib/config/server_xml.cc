// server.xml outside the cluster: Server, Listener, Service, Connector, Engine, Host, Context,
// Valve and our <Sessiond> element. Tomcat 7-era and Tomcat 10 class names are both accepted.
#include <strings.h>

#include <cctype>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <map>
#include <system_error>

#include "config/config_internal.h"

namespace sessiond::config::internal {
namespace {

constexpr int64_t kMaxInt = std::numeric_limits<int64_t>::max();

// Lifecycle listeners of both eras: JVM/JNDI housekeeping that has no meaning without a JVM.
const std::set<std::string> kIgnoredListeners = {
    "org.apache.catalina.startup.VersionLoggerListener",
    "org.apache.catalina.core.AprLifecycleListener",
    "org.apache.catalina.core.JasperListener",  // Tomcat 7
    "org.apache.catalina.core.JreMemoryLeakPreventionListener",
    "org.apache.catalina.mbeans.GlobalResourcesLifecycleListener",
    "org.apache.catalina.core.ThreadLocalLeakPreventionListener",
    "org.apache.catalina.security.SecurityListener",
    "org.apache.catalina.mbeans.JmxRemoteLifecycleListener",
    "org.apache.catalina.core.OpenSSLLifecycleListener",
    "org.apache.catalina.startup.UserConfig",
    "org.apache.catalina.core.PropertiesRoleMappingListener",
};

// Valves Tomcat ships that sessiond does not implement.
const std::set<std::string> kIgnoredValves = {
    "org.apache.catalina.valves.ErrorReportValve",
    "org.apache.catalina.valves.RemoteIpValve",
    "org.apache.catalina.valves.RemoteAddrValve",
    "org.apache.catalina.valves.RemoteHostValve",
    "org.apache.catalina.valves.RemoteCIDRValve",
    "org.apache.catalina.valves.RequestDumperValve",
    "org.apache.catalina.valves.StuckThreadDetectionValve",
    "org.apache.catalina.valves.CrawlerSessionManagerValve",
    "org.apache.catalina.valves.HealthCheckValve",
    "org.apache.catalina.valves.ExtendedAccessLogValve",
    "org.apache.catalina.valves.JDBCAccessLogValve",
    "org.apache.catalina.valves.SemaphoreValve",
    "org.apache.catalina.valves.rewrite.RewriteValve",
    "org.apache.catalina.authenticator.SingleSignOn",
    "org.apache.catalina.ha.authenticator.ClusterSingleSignOn",
};

const std::set<std::string> kHttpProtocols = {
    "HTTP/1.1",
    "org.apache.coyote.http11.Http11Protocol",  // Tomcat 7 BIO
    "org.apache.coyote.http11.Http11NioProtocol",
    "org.apache.coyote.http11.Http11Nio2Protocol",
    "org.apache.coyote.http11.Http11AprProtocol",
};

// Walk state that spans elements: only the first HTTP connector and Host are used.
struct Walk {
  Loader& loader;
  bool saw_connector = false;
  bool saw_host = false;
  std::map<std::string, int> context_lines;  // path -> line, to refuse duplicates
};

void IgnoreListener(Loader& l, const XmlElement& e) {
  Attrs a(l, e);
  std::string cls = a.ClassName();
  if (kIgnoredListeners.count(cls))
    l.Ignored(e.line, cls, "<Listener className=\"" + cls + "\"> is ignored (JVM housekeeping)");
  else
    l.Unknown(e.line, "unknown <Listener className=\"" + cls + "\">, skipped");
}

void IgnoreRealm(Loader& l, const XmlElement& e) {
  std::string cls = Attrs(l, e).ClassName("(no className)");
  l.Ignored(e.line, "Realm",
            "<Realm className=\"" + cls +
                "\"> is ignored (sessiond has no container authentication; the admin API uses "
                "its token)");
}

Status LoadConnector(Walk& w, const XmlElement& e) {
  Loader& l = w.loader;
  Attrs a(l, e);
  std::string protocol = "HTTP/1.1";
  SESSIOND_RETURN_IF_ERROR(a.Str("protocol", &protocol));
  if (protocol.find("AJP") != std::string::npos || protocol.find("Ajp") != std::string::npos) {
    l.Ignored(e.line, "AJP",
              "<Connector protocol=\"" + protocol +
                  "\"> is ignored (sessiond has no AJP; put nginx or HAProxy in front over HTTP)");
    return Status::Ok();
  }
  if (!kHttpProtocols.count(protocol)) {
    l.Unknown(e.line, "unknown <Connector protocol=\"" + protocol + "\">, skipped");
    return Status::Ok();
  }
  if (w.saw_connector) {
    l.Warn(e.line, "only the first HTTP <Connector> is used; this one is skipped");
    return Status::Ok();
  }
  w.saw_connector = true;
  ConnectorConfig& c = l.config().connector;
  c.address = "0.0.0.0";  // Tomcat listens on all interfaces when the Connector names none
  SESSIOND_RETURN_IF_ERROR(a.Port("port", &c.port));
  SESSIOND_RETURN_IF_ERROR(a.Str("address", &c.address));
  SESSIOND_RETURN_IF_ERROR(a.Int("connectionTimeout", &c.connection_timeout_ms, -1, kMaxInt));
  SESSIOND_RETURN_IF_ERROR(a.Int("maxThreads", &c.max_threads, 1, 100000));
  int64_t max_post = 0;
  SESSIOND_RETURN_IF_ERROR(a.Int("maxPostSize", &max_post, -1, kMaxInt));
  if (max_post > 0) c.max_body_bytes = max_post;
  a.Quiet({"className", "executor", "server", "xpoweredBy"});
  a.Ignore({"redirectPort", "SSLEnabled", "scheme", "secure", "proxyName", "proxyPort",
            "sslProtocol", "keystoreFile", "keystorePass", "clientAuth", "compression",
            "compressibleMimeType", "URIEncoding", "useBodyEncodingForURI", "enableLookups",
            "acceptCount", "maxConnections", "minSpareThreads", "keepAliveTimeout",
            "maxKeepAliveRequests", "maxHttpHeaderSize", "relaxedQueryChars",
            "relaxedPathChars", "allowTrace", "disableUploadTimeout", "connectionUploadTimeout"},
           "not implemented by sessiond's connector");
  a.Finish();
  return Status::Ok();
}

Status LoadContext(Walk& w, const XmlElement& e) {
  Loader& l = w.loader;
  Attrs a(l, e);
  ContextConfig ctx;
  ctx.line = e.line;
  SESSIOND_RETURN_IF_ERROR(a.Str("path", &ctx.path));
  if (ctx.path == "/") ctx.path = "";
  while (!ctx.path.empty() && ctx.path.back() == '/') ctx.path.pop_back();
  if (!ctx.path.empty() && ctx.path[0] != '/') {
    l.Warn(e.line, "<Context path=\"" + ctx.path + "\"> does not start with '/'; using /" + ctx.path);
    ctx.path = "/" + ctx.path;
  }
  auto [it, fresh] = w.context_lines.emplace(ctx.path, e.line);
  if (!fresh)
    return Status::BadRequest(l.Where(e.line) + ": <Context path=\"" + ctx.path +
                              "\">: duplicate context path (first at line " +
                              std::to_string(it->second) + ")");
  // Tomcat: a relative docBase is relative to appBase; none means appBase/<name> (ROOT for "").
  std::string doc_base = ctx.path.empty() ? "ROOT" : ctx.path.substr(1);
  SESSIOND_RETURN_IF_ERROR(a.Str("docBase", &doc_base));
  ctx.doc_base = ResolvePath(l.config().host.app_base, doc_base);
  a.Quiet({"className", "sessionCookieName", "sessionCookiePath", "useHttpOnly"});
  a.Ignore({"reloadable", "crossContext", "privileged", "cookies", "antiResourceLocking",
            "cachingAllowed", "swallowOutput", "workDir", "unpackWAR", "override"},
           "not meaningful for sessiond's static apps");
  a.Finish();
  for (const XmlElement& child : e.children)
    l.Ignored(child.line, "Context/" + child.name,
              "<" + child.name + "> inside <Context> is ignored (sessiond reads web.xml itself)");
  l.config().host.contexts.push_back(std::move(ctx));
  return Status::Ok();
}

Status LoadAccessLog(Loader& l, Attrs& a) {
  AccessLogConfig& log = l.config().host.access_log;
  log.enabled = true;
  SESSIOND_RETURN_IF_ERROR(a.Bool("enabled", &log.enabled));
  SESSIOND_RETURN_IF_ERROR(a.Path("directory", &log.directory));
  SESSIOND_RETURN_IF_ERROR(a.Str("prefix", &log.prefix));
  SESSIOND_RETURN_IF_ERROR(a.Str("suffix", &log.suffix));
  SESSIOND_RETURN_IF_ERROR(a.Str("pattern", &log.pattern));
  a.Ignore({"rotatable", "fileDateFormat", "buffered", "renameOnRotate", "resolveHosts",
            "requestAttributesEnabled", "condition", "conditionIf", "conditionUnless", "maxDays",
            "encoding", "locale", "checkExists", "ipv6Canonical"},
           "not implemented by sessiond's access log");
  return Status::Ok();
}

Status LoadHost(Walk& w, const XmlElement& e) {
  Loader& l = w.loader;
  if (w.saw_host) {
    l.Warn(e.line, "only the first <Host> is used; this one is skipped (sessiond serves one host)");
    return Status::Ok();
  }
  w.saw_host = true;
  Attrs a(l, e);
  HostConfig& h = l.config().host;
  SESSIOND_RETURN_IF_ERROR(a.Str("name", &h.name));
  SESSIOND_RETURN_IF_ERROR(a.Path("appBase", &h.app_base));
  SESSIOND_RETURN_IF_ERROR(a.Bool("unpackWARs", &h.unpack_wars));
  SESSIOND_RETURN_IF_ERROR(a.Bool("autoDeploy", &h.auto_deploy));
  a.Quiet({"className", "xmlValidation", "xmlNamespaceAware", "deployOnStartup",
           "startStopThreads", "backgroundProcessorDelay"});
  a.Ignore({"workDir", "deployXML", "copyXML", "createDirs", "errorReportValveClass",
            "deployIgnore", "failCtxIfServletStartFails", "undeployOldVersions"},
           "not implemented by sessiond");
  a.Finish();
  for (const XmlElement& c : e.children) {
    if (c.name == "Valve") SESSIOND_RETURN_IF_ERROR(LoadValve(l, c));
    else if (c.name == "Context") SESSIOND_RETURN_IF_ERROR(LoadContext(w, c));
    else if (c.name == "Cluster") SESSIOND_RETURN_IF_ERROR(LoadCluster(l, c));
    else if (c.name == "Realm") IgnoreRealm(l, c);
    else if (c.name == "Listener") IgnoreListener(l, c);
    else if (c.name == "Alias") l.Ignored(c.line, "Alias", "<Alias> is ignored (one host)");
    else l.UnknownElement(c, e.name);
  }
  return Status::Ok();
}

Status LoadEngine(Walk& w, const XmlElement& e) {
  Loader& l = w.loader;
  Attrs a(l, e);
  SESSIOND_RETURN_IF_ERROR(a.Str("jvmRoute", &l.config().jvm_route));
  a.Quiet({"name", "defaultHost", "className", "backgroundProcessorDelay", "startStopThreads"});
  a.Finish();
  for (const XmlElement& c : e.children) {
    if (c.name == "Host") SESSIOND_RETURN_IF_ERROR(LoadHost(w, c));
    else if (c.name == "Valve") SESSIOND_RETURN_IF_ERROR(LoadValve(l, c));
    else if (c.name == "Cluster") SESSIOND_RETURN_IF_ERROR(LoadCluster(l, c));
    else if (c.name == "Realm") IgnoreRealm(l, c);
    else if (c.name == "Listener") IgnoreListener(l, c);
    else l.UnknownElement(c, e.name);
  }
  return Status::Ok();
}

Status LoadService(Walk& w, const XmlElement& e) {
  Loader& l = w.loader;
  Attrs a(l, e);
  a.Quiet({"name", "className"});
  a.Finish();
  for (const XmlElement& c : e.children) {
    if (c.name == "Connector") SESSIOND_RETURN_IF_ERROR(LoadConnector(w, c));
    else if (c.name == "Engine") SESSIOND_RETURN_IF_ERROR(LoadEngine(w, c));
    else if (c.name == "Executor")
      l.Ignored(c.line, "Executor", "<Executor> is ignored (the connector sizes its own threads)");
    else if (c.name == "Listener") IgnoreListener(l, c);
    else l.UnknownElement(c, e.name);
  }
  return Status::Ok();
}

// "512M", "1g", "1048576": bytes with an optional binary suffix.
std::optional<int64_t> ParseByteSize(std::string text) {
  int shift = 0;
  char last = text.empty() ? '\0' : static_cast<char>(std::tolower(text.back()));
  if (last == 'k' || last == 'm' || last == 'g') {
    shift = last == 'k' ? 10 : last == 'm' ? 20 : 30;
    text.pop_back();
  }
  std::optional<int64_t> n = ParseInteger(text);
  if (!n || *n < 1 || *n > (int64_t{1} << (62 - shift))) return std::nullopt;
  return *n << shift;
}

Status LoadSessiondEnums(Loader& l, Attrs& a) {
  SessiondConfig& s = l.config().sessiond;
  if (const XmlAttr* level = a.Get("logLevel")) {
    std::optional<std::string> parsed = CanonicalLogLevel(level->value);
    if (!parsed) return l.Bad(a.element(), *level, "unknown log level (debug, info, warn, error)");
    s.log_level = *parsed;
  }
  if (const XmlAttr* site = a.Get("cookieSameSite")) {
    std::string v = site->value;
    for (const char* name : {"Lax", "Strict", "None"})
      if (strcasecmp(v.c_str(), name) == 0) v = name;
    if (v != "Lax" && v != "Strict" && v != "None")
      return l.Bad(a.element(), *site, "expected Lax, Strict or None");
    s.cookie_same_site = v;
  }
  if (const XmlAttr* size = a.Get("maxWarBytes")) {
    std::optional<int64_t> n = ParseByteSize(size->value);
    if (!n) return l.Bad(a.element(), *size, "not a size in bytes (e.g. 536870912 or 512M)");
    s.max_war_bytes = *n;
  }
  return Status::Ok();
}

Status LoadSessiond(Loader& l, const XmlElement& e) {
  Attrs a(l, e);
  SessiondConfig& s = l.config().sessiond;
  SESSIOND_RETURN_IF_ERROR(a.Str("adminAddress", &s.admin_address));
  SESSIOND_RETURN_IF_ERROR(a.Port("adminPort", &s.admin_port));
  SESSIOND_RETURN_IF_ERROR(a.Path("tokenFile", &s.token_file));
  SESSIOND_RETURN_IF_ERROR(a.Path("dataDir", &s.data_dir));
  SESSIOND_RETURN_IF_ERROR(a.Path("clusterSecretFile", &s.cluster_secret_file));
  SESSIOND_RETURN_IF_ERROR(a.Port("agentPort", &s.agent_port, /*allow_zero=*/true));
  SESSIOND_RETURN_IF_ERROR(a.Str("agentAddress", &s.agent_address));
  SESSIOND_RETURN_IF_ERROR(a.Int("drainGrace", &s.drain_grace_ms, 0, 24 * 3600 * 1000));
  SESSIOND_RETURN_IF_ERROR(a.Int("drainDeadline", &s.drain_deadline_ms, 0, 24 * 3600 * 1000));
  SESSIOND_RETURN_IF_ERROR(a.Path("logFile", &s.log_file));
  SESSIOND_RETURN_IF_ERROR(a.Bool("insecure", &s.insecure));
  SESSIOND_RETURN_IF_ERROR(a.Int("flushInterval", &s.flush_interval_ms, 1, 3600 * 1000));
  SESSIOND_RETURN_IF_ERROR(a.Int("antiEntropyPeriod", &s.anti_entropy_period_ms, 0,
                                 internal::kMaxAntiEntropyPeriodMs));
  SESSIOND_RETURN_IF_ERROR(
      a.Int("maxClockSkew", &s.max_clock_skew_ms, 0, internal::kMaxClockSkewMs));
  SESSIOND_RETURN_IF_ERROR(a.Bool("cookieSecure", &s.cookie_secure));
  SESSIOND_RETURN_IF_ERROR(LoadSessiondEnums(l, a));
  a.Finish();
  for (const XmlElement& c : e.children) l.UnknownElement(c, e.name);
  return Status::Ok();
}

Status LoadServer(Walk& w, const XmlElement& e) {
  Loader& l = w.loader;
  Attrs a(l, e);
  if (const XmlAttr* port = a.Get("port"); port && port->value != "-1")
    l.Ignored(port->line, "shutdown port",
              "<Server port=\"" + port->value +
                  "\"> (the shutdown port) is ignored: stop sessiond with SIGTERM");
  a.Quiet({"shutdown", "address", "className"});
  a.Finish();
  bool saw_service = false;
  for (const XmlElement& c : e.children) {
    if (c.name == "Listener") {
      IgnoreListener(l, c);
    } else if (c.name == "GlobalNamingResources") {
      l.Ignored(c.line, "GlobalNamingResources",
                "<GlobalNamingResources> is ignored (no JNDI in sessiond)");
    } else if (c.name == "Service") {
      if (saw_service) l.Warn(c.line, "only the first <Service> is used; this one is skipped");
      else SESSIOND_RETURN_IF_ERROR(LoadService(w, c));
      saw_service = true;
    } else if (c.name == "Sessiond") {
      SESSIOND_RETURN_IF_ERROR(LoadSessiond(l, c));
    } else {
      l.UnknownElement(c, e.name);
    }
  }
  if (!w.saw_connector)
    l.Warn(e.line, "no HTTP <Connector>; serving on 127.0.0.1:8080 (the embedded default)");
  return Status::Ok();
}

// Tomcat substitutes ${catalina.base} and ${catalina.home} (common in logging and appBase paths);
// both are the node's base dir here. Other ${...} stay literal, as Tomcat leaves unknown ones.
void SubstituteProperties(XmlElement* e, const std::string& base) {
  for (XmlAttr& a : e->attrs) {
    for (const char* key : {"${catalina.base}", "${catalina.home}"}) {
      for (size_t at = a.value.find(key); at != std::string::npos; at = a.value.find(key, at)) {
        a.value.replace(at, std::strlen(key), base);
        at += base.size();
      }
    }
  }
  for (XmlElement& c : e->children) SubstituteProperties(&c, base);
}

}  // namespace

Status LoadValve(Loader& l, const XmlElement& e) {
  Attrs a(l, e);
  std::string cls = a.ClassName();
  ClusterConfig& cluster = l.config().cluster;
  if (cls == "org.apache.catalina.valves.AccessLogValve") {
    SESSIOND_RETURN_IF_ERROR(LoadAccessLog(l, a));
  } else if (cls == "org.apache.catalina.ha.tcp.ReplicationValve") {
    SESSIOND_RETURN_IF_ERROR(a.Str("filter", &cluster.replication_filter));
    a.Quiet({"primaryIndicator", "primaryIndicatorName", "statistics"});
  } else if (cls == "org.apache.catalina.ha.session.JvmRouteBinderValve") {
    cluster.jvm_route_binder = true;
    SESSIOND_RETURN_IF_ERROR(a.Bool("enabled", &cluster.jvm_route_binder));
    a.Quiet({"sessionIdAttribute"});
  } else if (kIgnoredValves.count(cls)) {
    l.Ignored(e.line, cls, "<Valve className=\"" + cls + "\"> is ignored (not implemented)");
    return Status::Ok();
  } else {
    l.Unknown(e.line, "unknown <Valve className=\"" + cls + "\">, skipped");
    return Status::Ok();
  }
  a.Quiet({"asyncSupported"});
  a.Finish();
  for (const XmlElement& c : e.children) l.UnknownElement(c, e.name);
  return Status::Ok();
}

}  // namespace sessiond::config::internal

namespace sessiond::config {

Result<LoadedConfig> ParseServerXml(const std::string& xml, const std::string& file_label,
                                    const std::string& base_dir) {
  using namespace internal;
  Result<XmlElement> root = ParseXmlDocument(xml, file_label);
  if (!root.ok()) return root.status();
  std::string base = AbsoluteDir(base_dir);
  SubstituteProperties(&*root, base);
  LoadedConfig out;
  out.config = EmbeddedDefault(base);
  out.config.cluster.enabled = false;  // only a <Cluster> element makes a cluster member
  out.config.source = file_label;
  Loader loader(file_label, base, &out);
  if (root->name != "Server")
    return Status::BadRequest(loader.Where(root->line) + ": the root element is <" + root->name +
                              ">; a server.xml starts with <Server>");
  Walk walk{loader, false, false, {}};
  SESSIOND_RETURN_IF_ERROR(LoadServer(walk, *root));
  return out;
}

Result<LoadedConfig> LoadServerXml(const std::string& path, const std::string& base_dir) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::NotFound("cannot read " + path + ": " + std::strerror(errno));
  std::string xml((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) return Status::NotFound("cannot read " + path + ": " + std::strerror(errno));
  return ParseServerXml(xml, path, base_dir);
}

}  // namespace sessiond::config
