// server.xml's <Cluster>: SimpleTcpCluster, DeltaManager, GroupChannel with multicast or static
// membership, the NIO receiver, sender, interceptors, valves, FarmWarDeployer and listeners.
// Tomcat 7-era names (MessageDispatch15Interceptor, JvmRouteSessionIDBinderListener, the bio
// receiver and sender) are accepted next to today's.
#include <arpa/inet.h>

#include <limits>
#include <map>

#include "config/config_internal.h"

namespace sessiond::config::internal {
namespace {

constexpr int64_t kMaxInt = std::numeric_limits<int64_t>::max();
const std::string kTribes = "org.apache.catalina.tribes.";
const std::string kInterceptors = "org.apache.catalina.tribes.group.interceptors.";

// What sessiond does for each Tomcat interceptor: "" = our transport/membership does it already;
// otherwise why it is ignored.
const std::map<std::string, std::string> kInterceptorNotes = {
    {"TcpFailureDetector", ""},
    {"MessageDispatch15Interceptor", ""},  // Tomcat 7
    {"MessageDispatchInterceptor", ""},
    {"TcpPingInterceptor", ""},
    {"StaticMembershipInterceptor", ""},
    {"DomainFilterInterceptor", ""},
    {"ThroughputInterceptor", "statistics are on /metrics"},
    {"GzipInterceptor", "frames are not compressed"},
    {"OrderInterceptor", "per-session versions order deltas"},
    {"FragmentationInterceptor", "frames are length-prefixed"},
    {"TwoPhaseCommitInterceptor", "not implemented"},
    {"SimpleCoordinator", "not implemented"},
    {"NonBlockingCoordinator", "not implemented"},
    {"EncryptInterceptor", "set <Sessiond clusterSecretFile> for authenticated, encrypted frames"},
};

// Channel-level state: static members may come from an interceptor or a membership service.
struct ChannelWalk {
  Loader& loader;
  bool saw_mcast = false;
};

bool IsMulticastAddress(const std::string& ip) {
  in_addr v4;
  if (inet_pton(AF_INET, ip.c_str(), &v4) == 1) return (ntohl(v4.s_addr) >> 28) == 0xE;
  in6_addr v6;
  return inet_pton(AF_INET6, ip.c_str(), &v6) == 1 && v6.s6_addr[0] == 0xFF;
}

void QuietAll(Attrs& a) {
  for (const XmlAttr& attr : a.element().attrs) a.Quiet({attr.name.c_str()});
}

Status LoadMember(Loader& l, const XmlElement& e) {
  Attrs a(l, e);
  std::string cls = a.ClassName("org.apache.catalina.tribes.membership.StaticMember");
  if (cls != kTribes + "membership.StaticMember") {
    l.Unknown(e.line, "unknown <Member className=\"" + cls + "\">, skipped");
    return Status::Ok();
  }
  StaticMember m;
  SESSIOND_RETURN_IF_ERROR(a.Str("host", &m.host));
  SESSIOND_RETURN_IF_ERROR(a.Port("port", &m.port));
  a.Quiet({"uniqueId", "domain", "securePort", "udpPort", "className", "payload", "command"});
  a.Finish();
  if (m.host.empty() || m.port == 0)
    return Status::BadRequest(l.Where(e.line) + ": <Member> needs both host and port");
  l.config().cluster.static_members.push_back(std::move(m));
  return Status::Ok();
}

Status LoadMcast(ChannelWalk& w, Attrs& a) {
  MembershipConfig& m = w.loader.config().cluster.membership;
  w.saw_mcast = true;
  m.enabled = true;
  if (const XmlAttr* addr = a.Get("address")) {
    if (!IsMulticastAddress(addr->value))
      return w.loader.Bad(a.element(), *addr, "not a multicast address (224.0.0.0/4 or ff00::/8)");
    m.address = addr->value;
  }
  SESSIOND_RETURN_IF_ERROR(a.Port("port", &m.port));
  SESSIOND_RETURN_IF_ERROR(a.Int("frequency", &m.frequency_ms, 1, 3600 * 1000));
  SESSIOND_RETURN_IF_ERROR(a.Int("dropTime", &m.drop_time_ms, 1, 24 * 3600 * 1000));
  SESSIOND_RETURN_IF_ERROR(a.Str("bind", &m.bind));
  SESSIOND_RETURN_IF_ERROR(a.Str("domain", &m.domain));
  int ttl = -1;  // Tomcat's "not set": keep ours
  SESSIOND_RETURN_IF_ERROR(a.Int("ttl", &ttl, -1, 255));
  if (ttl >= 0) m.ttl = ttl;
  if (m.drop_time_ms <= m.frequency_ms)
    w.loader.Warn(a.element().line, "<Membership dropTime> is not above frequency; members will "
                                    "flap between alive and suspect");
  a.Quiet({"soTimeout", "recoveryEnabled", "recoveryCounter", "recoverySleepTime",
           "localLoopbackDisabled", "mcastBindAddress"});
  return Status::Ok();
}

Status LoadMembership(ChannelWalk& w, const XmlElement& e) {
  Loader& l = w.loader;
  Attrs a(l, e);
  std::string cls = a.ClassName("org.apache.catalina.tribes.membership.McastService");
  if (cls == kTribes + "membership.McastService") {
    SESSIOND_RETURN_IF_ERROR(LoadMcast(w, a));
  } else if (cls == kTribes + "membership.StaticMembershipService") {
    a.Quiet({"connectTimeout", "expirationTime", "rpcTimeout", "pingInterval"});
    for (const XmlElement& c : e.children) {
      if (c.name == "Member") SESSIOND_RETURN_IF_ERROR(LoadMember(l, c));
      else if (c.name != "LocalMember") l.UnknownElement(c, e.name);  // LocalMember = this node
    }
  } else if (cls.rfind(kTribes + "membership.cloud.", 0) == 0) {
    l.Ignored(e.line, cls, "<Membership className=\"" + cls +
                               "\"> is ignored (cloud membership is not implemented; list "
                               "static members instead)");
    return Status::Ok();
  } else {
    l.Unknown(e.line, "unknown <Membership className=\"" + cls + "\">, skipped");
    return Status::Ok();
  }
  a.Finish();
  return Status::Ok();
}

// Tomcat's NioReceiver: address="auto" is InetAddress.getLocalHost(), the host name's address.
Status LoadReceiverAddress(Loader& l, Attrs& a) {
  const XmlAttr* addr = a.Get("address");
  if (!addr) return Status::Ok();
  ReceiverConfig& r = l.config().cluster.receiver;
  if (addr->value != "auto") {
    r.address = addr->value;
    if (std::string w = ForeignAddressWarning(r.address); !w.empty()) l.Warn(addr->line, w);
    return Status::Ok();
  }
  std::string host = CurrentHostInfo().HostName();
  std::optional<std::string> ip = host.empty() ? std::nullopt : CurrentHostInfo().Resolve(host);
  if (!ip)
    return l.Bad(a.element(), *addr,
                 "this host's name \"" + host + "\" does not resolve; give the address itself");
  r.address = *ip;
  if (IsLoopbackAddress(*ip))
    l.Warn(addr->line, "<Receiver address=\"auto\"> resolved to " + *ip + " (host name " + host +
                           "), a loopback address: other hosts cannot reach this node");
  return Status::Ok();
}

Status LoadReceiver(Loader& l, const XmlElement& e) {
  Attrs a(l, e);
  std::string cls = a.ClassName("org.apache.catalina.tribes.transport.nio.NioReceiver");
  if (cls != kTribes + "transport.nio.NioReceiver" && cls != kTribes + "transport.bio.BioReceiver") {
    l.Unknown(e.line, "unknown <Receiver className=\"" + cls + "\">, skipped");
    return Status::Ok();
  }
  ReceiverConfig& r = l.config().cluster.receiver;
  SESSIOND_RETURN_IF_ERROR(LoadReceiverAddress(l, a));
  SESSIOND_RETURN_IF_ERROR(a.Port("port", &r.port));
  SESSIOND_RETURN_IF_ERROR(a.Int("autoBind", &r.auto_bind, 1, 65535));
  SESSIOND_RETURN_IF_ERROR(a.Int("selectorTimeout", &r.selector_timeout_ms, 1, 3600 * 1000));
  SESSIOND_RETURN_IF_ERROR(a.Int("maxThreads", &r.max_threads, 1, 10000));
  a.Quiet({"minThreads", "maxIdleTime", "rxBufSize", "txBufSize", "udpRxBufSize",
           "udpTxBufSize", "direct", "tcpNoDelay", "soKeepAlive", "ooBInline", "soReuseAddress",
           "soLingerOn", "soLingerTime", "soTrafficClass", "timeout", "useBufferPool"});
  a.Ignore({"securePort", "udpPort"}, "sessiond's receiver is plain TCP");
  a.Finish();
  for (const XmlElement& c : e.children) l.UnknownElement(c, e.name);
  return Status::Ok();
}

// Sender and Transport: accepted; their tuning is sessiond's own (pooled persistent senders).
void LoadSender(Loader& l, const XmlElement& e) {
  Attrs a(l, e);
  std::string cls = a.ClassName(e.name == "Sender"
                                    ? "org.apache.catalina.tribes.transport.ReplicationTransmitter"
                                    : "org.apache.catalina.tribes.transport.nio.PooledParallelSender");
  static const std::set<std::string> kKnown = {
      kTribes + "transport.ReplicationTransmitter",
      kTribes + "transport.nio.PooledParallelSender",
      kTribes + "transport.bio.PooledMultiSender",  // Tomcat 7
  };
  if (!kKnown.count(cls)) {
    l.Unknown(e.line, "unknown <" + e.name + " className=\"" + cls + "\">, skipped");
    return;
  }
  QuietAll(a);
  for (const XmlElement& c : e.children) {
    if (e.name == "Sender" && c.name == "Transport") LoadSender(l, c);
    else l.UnknownElement(c, e.name);
  }
}

Status LoadInterceptor(ChannelWalk& w, const XmlElement& e) {
  Loader& l = w.loader;
  Attrs a(l, e);
  std::string cls = a.ClassName();
  std::string name = cls.rfind(kInterceptors, 0) == 0 ? cls.substr(kInterceptors.size()) : "";
  auto note = kInterceptorNotes.find(name);
  if (note == kInterceptorNotes.end()) {
    l.Unknown(e.line, "unknown <Interceptor className=\"" + cls + "\">, skipped");
    return Status::Ok();
  }
  if (!note->second.empty()) {
    l.Ignored(e.line, cls, "<Interceptor className=\"" + cls + "\"> is ignored (" + note->second + ")");
    return Status::Ok();
  }
  QuietAll(a);  // intervals and thresholds: sessiond's failure detection has its own
  for (const XmlElement& c : e.children) {
    if (name == "StaticMembershipInterceptor" && c.name == "Member")
      SESSIOND_RETURN_IF_ERROR(LoadMember(l, c));
    else l.UnknownElement(c, e.name);
  }
  return Status::Ok();
}

Status LoadChannel(Loader& l, const XmlElement& e) {
  Attrs a(l, e);
  std::string cls = a.ClassName("org.apache.catalina.tribes.group.GroupChannel");
  if (cls != kTribes + "group.GroupChannel") {
    l.Unknown(e.line, "unknown <Channel className=\"" + cls + "\">, skipped");
    return Status::Ok();
  }
  a.Quiet({"heartbeat", "heartbeatSleeptime", "optionCheck"});
  a.Finish();
  ChannelWalk w{l};
  for (const XmlElement& c : e.children) {
    if (c.name == "Membership") SESSIOND_RETURN_IF_ERROR(LoadMembership(w, c));
    else if (c.name == "Receiver") SESSIOND_RETURN_IF_ERROR(LoadReceiver(l, c));
    else if (c.name == "Sender") LoadSender(l, c);
    else if (c.name == "Interceptor") SESSIOND_RETURN_IF_ERROR(LoadInterceptor(w, c));
    else if (c.name == "ChannelListener" || c.name == "MembershipListener")
      l.Ignored(c.line, c.name, "<" + c.name + "> is ignored (no Java listeners)");
    else l.UnknownElement(c, e.name);
  }
  // Only static members and no multicast service named: the contract says multicast is off.
  ClusterConfig& cluster = l.config().cluster;
  if (!w.saw_mcast && !cluster.static_members.empty()) cluster.membership.enabled = false;
  return Status::Ok();
}

Status LoadManager(Loader& l, const XmlElement& e) {
  Attrs a(l, e);
  std::string cls = a.ClassName("org.apache.catalina.ha.session.DeltaManager");
  if (cls == "org.apache.catalina.ha.session.BackupManager") {
    l.Warn(e.line, "BackupManager is not implemented; every session replicates to every member, "
                   "as with DeltaManager");
  } else if (cls != "org.apache.catalina.ha.session.DeltaManager") {
    l.Unknown(e.line, "unknown <Manager className=\"" + cls + "\">, skipped");
    return Status::Ok();
  }
  ManagerConfig& m = l.config().cluster.manager;
  SESSIOND_RETURN_IF_ERROR(a.Bool("expireSessionsOnShutdown", &m.expire_sessions_on_shutdown));
  SESSIOND_RETURN_IF_ERROR(
      a.Bool("notifyListenersOnReplication", &m.notify_listeners_on_replication));
  int64_t transfer_s = 0;  // Tomcat counts seconds; -1 waits forever
  SESSIOND_RETURN_IF_ERROR(a.Int("stateTransferTimeout", &transfer_s, -1, 24 * 3600));
  if (transfer_s != 0) m.state_transfer_timeout_ms = transfer_s < 0 ? -1 : transfer_s * 1000;
  SESSIOND_RETURN_IF_ERROR(a.Int("maxActiveSessions", &m.max_active_sessions, -1, kMaxInt));
  int64_t inactive_s = 0;  // Tomcat 7's Manager attribute; web.xml still wins per app
  SESSIOND_RETURN_IF_ERROR(a.Int("maxInactiveInterval", &inactive_s, 1, INT32_MAX));
  if (inactive_s > 0) m.session_timeout_s = static_cast<int32_t>(inactive_s);
  a.Quiet({"name", "sendAllSessions", "sendAllSessionsSize", "sendAllSessionsWaitTime",
           "stateTimestampDrop", "notifySessionListenersOnReplication",
           "notifyContainerListenersOnReplication", "processExpiresFrequency", "mapSendOptions",
           "rpcTimeout", "terminateOnStartFailure", "recordAllActions"});
  a.Ignore({"sessionAttributeNameFilter", "sessionAttributeValueClassNameFilter",
            "warnOnSessionAttributeFilterFailure", "pathname", "secureRandomClass"},
           "not implemented");
  a.Finish();
  for (const XmlElement& c : e.children) l.UnknownElement(c, e.name);
  return Status::Ok();
}

Status LoadDeployer(Loader& l, const XmlElement& e) {
  Attrs a(l, e);
  std::string cls = a.ClassName();
  if (cls != "org.apache.catalina.ha.deploy.FarmWarDeployer") {
    l.Unknown(e.line, "unknown <Deployer className=\"" + cls + "\">, skipped");
    return Status::Ok();
  }
  ClusterConfig::Farm& f = l.config().cluster.farm;
  f.enabled = true;
  SESSIOND_RETURN_IF_ERROR(a.Path("tempDir", &f.temp_dir));
  SESSIOND_RETURN_IF_ERROR(a.Path("deployDir", &f.deploy_dir));
  SESSIOND_RETURN_IF_ERROR(a.Path("watchDir", &f.watch_dir));
  SESSIOND_RETURN_IF_ERROR(a.Bool("watchEnabled", &f.watch_enabled));
  a.Quiet({"processDeployFrequency", "maxValidTime"});
  a.Finish();
  if (f.watch_enabled && f.watch_dir.empty())
    return Status::BadRequest(l.Where(e.line) + ": <Deployer watchEnabled=\"true\"> needs a watchDir");
  for (const XmlElement& c : e.children) l.UnknownElement(c, e.name);
  return Status::Ok();
}

void LoadClusterListener(Loader& l, const XmlElement& e) {
  Attrs a(l, e);
  std::string cls = a.ClassName();
  // Both are what sessiond's replication does anyway (the first is Tomcat 7's id-change relay).
  if (cls != "org.apache.catalina.ha.session.JvmRouteSessionIDBinderListener" &&
      cls != "org.apache.catalina.ha.session.ClusterSessionListener") {
    l.Unknown(e.line, "unknown <ClusterListener className=\"" + cls + "\">, skipped");
    return;
  }
  a.Finish();
}

}  // namespace

Status LoadCluster(Loader& l, const XmlElement& e) {
  Attrs a(l, e);
  std::string cls = a.ClassName("org.apache.catalina.ha.tcp.SimpleTcpCluster");
  ClusterConfig& cluster = l.config().cluster;
  if (cls != "org.apache.catalina.ha.tcp.SimpleTcpCluster") {
    l.Unknown(e.line, "unknown <Cluster className=\"" + cls + "\">, skipped");
    return Status::Ok();
  }
  if (cluster.enabled) {
    l.Warn(e.line, "only the first <Cluster> is used; this one is skipped");
    return Status::Ok();
  }
  cluster.enabled = true;
  if (const XmlAttr* opt = a.Get("channelSendOptions")) {
    std::optional<int> bits = ParseSendOptions(opt->value);
    if (!bits)
      return l.Bad(e, *opt, "not a send mode (8 or asynchronous, 2 or use_ack, 4 or "
                            "synchronized_ack; names may be joined by ',')");
    cluster.channel_send_options = *bits;
  }
  a.Quiet({"channelStartOptions", "heartbeatBackgroundEnabled",
           "notifyLifecycleListenerOnFailure", "clusterName"});
  a.Finish();
  for (const XmlElement& c : e.children) {
    if (c.name == "Manager") SESSIOND_RETURN_IF_ERROR(LoadManager(l, c));
    else if (c.name == "Channel") SESSIOND_RETURN_IF_ERROR(LoadChannel(l, c));
    else if (c.name == "Valve") SESSIOND_RETURN_IF_ERROR(LoadValve(l, c));
    else if (c.name == "Deployer") SESSIOND_RETURN_IF_ERROR(LoadDeployer(l, c));
    else if (c.name == "ClusterListener") LoadClusterListener(l, c);
    else l.UnknownElement(c, e.name);
  }
  return Status::Ok();
}

}  // namespace sessiond::config::internal
