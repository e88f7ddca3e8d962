// The embedded default, command-line overrides and the resolution of what is left unset
// (data dir, token file, jvmRoute), and --member parsing.
#include <cctype>
#include <cstdlib>

#include "config/config.h"
#include "config/config_internal.h"

namespace sessiond::config {
namespace {

using internal::ResolvePath;

Status ApplyNetworkOverrides(const Overrides& o, NodeConfig* c) {
  if (o.http_address) c->connector.address = *o.http_address;
  if (o.http_port) c->connector.port = *o.http_port;
  if (o.admin_address) c->sessiond.admin_address = *o.admin_address;
  if (o.admin_port) c->sessiond.admin_port = *o.admin_port;
  if (o.agent_port) c->sessiond.agent_port = *o.agent_port;
  ClusterConfig& cluster = c->cluster;
  if (o.receiver_address) {
    cluster.receiver.address = *o.receiver_address;
    if (*o.receiver_address == "auto") {  // as the Receiver attribute: the host name's address
      std::string host = internal::CurrentHostInfo().HostName();
      std::optional<std::string> ip = internal::CurrentHostInfo().Resolve(host);
      if (!ip) return Status::BadRequest("--receiver-address auto: this host's name \"" + host +
                                         "\" does not resolve; give the address itself");
      cluster.receiver.address = *ip;
    }
  }
  if (o.receiver_port) cluster.receiver.port = *o.receiver_port;
  if (o.mcast_address) cluster.membership.address = *o.mcast_address;
  if (o.mcast_port) cluster.membership.port = *o.mcast_port;
  if (o.mcast_bind) cluster.membership.bind = *o.mcast_bind;
  bool mcast = o.mcast_address || o.mcast_port || o.mcast_bind;
  if (o.receiver_address || o.receiver_port || mcast || !o.members.empty()) cluster.enabled = true;
  if (mcast) cluster.membership.enabled = true;
  return Status::Ok();
}

// --member replaces the file's static list; without an --mcast-* flag it also turns multicast
// off, so "--member a --member b" alone is a static cluster.
Status ApplyMemberOverrides(const Overrides& o, NodeConfig* c) {
  if (o.members.empty()) return Status::Ok();
  std::vector<StaticMember> members;
  for (const std::string& text : o.members) {
    Result<StaticMember> m = ParseMember(text);
    if (!m.ok()) return m.status().Annotate("--member " + text);
    members.push_back(std::move(*m));
  }
  c->cluster.static_members = std::move(members);
  if (!o.mcast_address && !o.mcast_port && !o.mcast_bind) c->cluster.membership.enabled = false;
  return Status::Ok();
}

void ApplyPathOverrides(const Overrides& o, NodeConfig* c) {
  SessiondConfig& s = c->sessiond;
  if (o.data_dir) s.data_dir = ResolvePath(c->base_dir, *o.data_dir);
  if (o.token_file) s.token_file = ResolvePath(c->base_dir, *o.token_file);
  if (o.cluster_secret_file) s.cluster_secret_file = ResolvePath(c->base_dir, *o.cluster_secret_file);
  if (s.data_dir.empty()) {
    // systemd's StateDirectory= may list several, separated by ':'; the first is ours.
    const char* state = std::getenv("STATE_DIRECTORY");
    std::string dir = state ? std::string(state).substr(0, std::string(state).find(':')) : "";
    s.data_dir = ResolvePath(c->base_dir, dir.empty() ? "sessiond-data" : dir);
  }
  if (s.token_file.empty()) s.token_file = s.data_dir + "/admin.token";
}

// A route ends up in session ids and cookies ("<hex>.<route>"): keep it to cookie-safe text.
bool IsValidRoute(const std::string& route) {
  if (route.empty() || route.size() > 64) return false;
  for (unsigned char ch : route)
    if (!std::isalnum(ch) && ch != '-' && ch != '_' && ch != '.') return false;
  return true;
}

// A milliseconds flag: 0..max, the same range as its <Sessiond> attribute.
Status ApplyMillis(const char* flag, const std::optional<int64_t>& value, int64_t max,
                   int64_t* out) {
  if (!value) return Status::Ok();
  if (*value < 0 || *value > max)
    return Status::BadRequest(std::string(flag) + " " + std::to_string(*value) +
                              ": expected milliseconds from 0 to " + std::to_string(max));
  *out = *value;
  return Status::Ok();
}

}  // namespace

NodeConfig EmbeddedDefault(const std::string& base_dir) {
  NodeConfig c;
  c.base_dir = internal::AbsoluteDir(base_dir);  // contract says absolute; be kind anyway
  c.host.app_base = ResolvePath(c.base_dir, "webapps");
  c.host.access_log.directory = ResolvePath(c.base_dir, "logs");
  // With no file at all the node is a cluster member on loopback (receiver 127.0.0.1:4000,
  // multicast on 127.0.0.1): nodes started on one machine find each other, and nothing can leave
  // the machine. A server.xml clusters only when it has a <Cluster>, as Tomcat.
  c.cluster.enabled = true;
  return c;  // every other default is the struct's own (DESIGN.md §4 table)
}

Status ApplyOverrides(const Overrides& o, NodeConfig* c) {
  SESSIOND_RETURN_IF_ERROR(ApplyNetworkOverrides(o, c));
  SESSIOND_RETURN_IF_ERROR(ApplyMemberOverrides(o, c));
  ApplyPathOverrides(o, c);
  if (o.insecure) c->sessiond.insecure = true;
  if (o.log_level) {
    std::optional<std::string> level = internal::CanonicalLogLevel(*o.log_level);
    if (!level)
      return Status::BadRequest("--log-level " + *o.log_level +
                                ": unknown level (debug, info, warn, error)");
    c->sessiond.log_level = *level;
  }
  SESSIOND_RETURN_IF_ERROR(ApplyMillis("--anti-entropy-period", o.anti_entropy_period_ms,
                                       internal::kMaxAntiEntropyPeriodMs,
                                       &c->sessiond.anti_entropy_period_ms));
  SESSIOND_RETURN_IF_ERROR(ApplyMillis("--max-clock-skew", o.max_clock_skew_ms,
                                       internal::kMaxClockSkewMs, &c->sessiond.max_clock_skew_ms));
  if (o.jvm_route) c->jvm_route = *o.jvm_route;
  if (c->jvm_route.empty()) c->jvm_route = internal::ShortHostName();
  if (!IsValidRoute(c->jvm_route))
    return Status::BadRequest(std::string(o.jvm_route ? "--jvm-route " : "jvmRoute ") +
                              c->jvm_route +
                              ": use letters, digits, '-', '_' or '.' (at most 64)");
  return Status::Ok();
}

Result<StaticMember> ParseMember(const std::string& text) {
  std::string host, port;
  if (!text.empty() && text[0] == '[') {  // [v6]:port
    size_t close = text.find(']');
    if (close == std::string::npos || close + 1 >= text.size() || text[close + 1] != ':')
      return Status::BadRequest("expected [IPV6]:PORT");
    host = text.substr(1, close - 1);
    port = text.substr(close + 2);
    if (!internal::IsNumericAddress(host) || host.find(':') == std::string::npos)
      return Status::BadRequest("\"" + host + "\" is not an IPv6 address");
  } else {
    size_t colon = text.rfind(':');
    if (colon == std::string::npos) return Status::BadRequest("expected HOST:PORT");
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
    if (host.find(':') != std::string::npos)
      return Status::BadRequest("write an IPv6 member as [ADDRESS]:PORT");
  }
  if (host.empty()) return Status::BadRequest("expected HOST:PORT (the host is missing)");
  std::optional<int64_t> n = internal::ParseInteger(port);
  if (!n || *n < 1 || *n > 65535 || port.find_first_of(" \t+") != std::string::npos)
    return Status::BadRequest("\"" + port + "\" is not a port number (1-65535)");
  StaticMember m;
  m.host = host;
  m.port = static_cast<uint16_t>(*n);
  return m;
}

}  // namespace sessiond::config
