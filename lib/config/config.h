// config: the node's configuration — Tomcat's server.xml (both eras' class names), the
// <Sessiond> extension element, command-line overrides, and the embedded default used when there
// is no config at all (DESIGN.md §4).
//
// Thread-safety: pure functions over values. NodeConfig is a plain value, built once at start.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "base/base.h"

namespace sessiond::config {

struct ConnectorConfig {
  std::string address = "127.0.0.1";  ///< embedded default; with a server.xml: the Connector's own, "0.0.0.0" when it names none
  uint16_t port = 8080;
  int64_t connection_timeout_ms = 20000;  ///< keep-alive idle and request read timeout
  int max_threads = 0;                   ///< 0: one per core
  int64_t max_body_bytes = 1 << 20;      ///< session API bodies (413 past it)
};

struct AccessLogConfig {
  bool enabled = false;
  std::string directory = "logs";  ///< resolved against base_dir
  std::string prefix = "localhost_access_log.";
  std::string suffix = ".txt";
  std::string pattern = "common";  ///< "common", "combined" or a Tomcat pattern
};

struct ContextConfig {
  std::string path;      ///< "/myapp"; "" for ROOT
  std::string doc_base;  ///< absolute after loading (resolved against appBase when relative)
  int line = 0;          ///< where it was declared, for messages
};

struct HostConfig {
  std::string name = "localhost";
  std::string app_base = "webapps";  ///< absolute after loading
  bool unpack_wars = true;
  bool auto_deploy = true;
  std::vector<ContextConfig> contexts;
  AccessLogConfig access_log;
};

struct ManagerConfig {
  bool expire_sessions_on_shutdown = false;
  bool notify_listeners_on_replication = true;
  int64_t state_transfer_timeout_ms = 60000;
  int64_t max_active_sessions = -1;
  int32_t session_timeout_s = 1800;       ///< default when web.xml does not say
};

struct MembershipConfig {
  std::string address = "228.0.0.4";
  uint16_t port = 45564;
  int64_t frequency_ms = 500;
  int64_t drop_time_ms = 3000;
  std::string bind;     ///< empty: the receiver address's interface
  int ttl = 1;
  std::string domain;
  bool enabled = true;  ///< false when only static members are configured
};

struct StaticMember {
  std::string host;
  uint16_t port = 0;
  std::string name;  ///< optional
};

struct ReceiverConfig {
  std::string address = "127.0.0.1";  ///< "auto" resolved at load (host name's address)
  uint16_t port = 4000;
  int auto_bind = 100;
  int64_t selector_timeout_ms = 5000;
  int max_threads = 6;
};

struct ClusterConfig {
  bool enabled = false;  ///< a <Cluster> was configured (or cluster flags were given)
  int channel_send_options = 8;  ///< 8 async, 2 acknowledged, 4 synchronized-ack (bit flags)
  ManagerConfig manager;
  MembershipConfig membership;
  std::vector<StaticMember> static_members;
  ReceiverConfig receiver;
  std::string replication_filter;  ///< ReplicationValve filter regex ("" = none)
  bool jvm_route_binder = false;
  struct Farm {
    bool enabled = false;
    std::string temp_dir, deploy_dir, watch_dir;
    bool watch_enabled = false;
  } farm;
};

/// Our own settings: the <Sessiond> element (documented in sessiond.xml(5)).
struct SessiondConfig {
  std::string admin_address = "127.0.0.1";
  uint16_t admin_port = 8099;
  std::string token_file;           ///< empty: DATA_DIR/admin.token
  std::string data_dir;             ///< empty until resolved: $STATE_DIRECTORY or ./sessiond-data
  std::string cluster_secret_file;
  uint16_t agent_port = 0;          ///< HAProxy agent-check; 0 = off
  std::string agent_address;        ///< where the agent port listens; "" = the HTTP connector's
  int64_t drain_grace_ms = 5000;    ///< drainGrace: default grace of `sessctl drain`
  int64_t drain_deadline_ms = 0;    ///< drainDeadline: default deadline; 0 = grace + 30 s
  std::string log_level = "info";
  std::string log_file;             ///< empty = stderr
  bool insecure = false;
  int64_t flush_interval_ms = 200;  ///< SQLite write-behind period
  int64_t anti_entropy_period_ms = 10000;  ///< periodic anti-entropy rounds; 0 = only on rejoin
  int64_t max_clock_skew_ms = 60000;  ///< remote HLC stamps further ahead are refused; 0 = no bound
  int64_t max_war_bytes = 512LL << 20;
  bool cookie_secure = false;
  std::string cookie_same_site;     ///< "", "Lax", "Strict", "None"
};

struct NodeConfig {
  std::string source = "(embedded default)";  ///< the file it came from
  std::string base_dir;   ///< absolute
  std::string jvm_route;  ///< default: the short host name
  ConnectorConfig connector;
  HostConfig host;
  ClusterConfig cluster;
  SessiondConfig sessiond;
};

/// What loading noticed: implemented-but-ignored Tomcat elements (reported once), unknown ones
/// (warnings with line numbers), and notes such as the receiver "auto" loopback warning.
struct Diagnostic {
  enum class Kind { kIgnored, kUnknown, kWarning } kind;
  std::string message;  ///< "server.xml:19: <Connector protocol="AJP/1.3"> is ignored (AJP …)"
};

struct LoadedConfig {
  NodeConfig config;
  std::vector<Diagnostic> diagnostics;
};

/// The embedded default: a working single node with no file at all (DESIGN.md §4 table).
/// `base_dir` must be absolute.
NodeConfig EmbeddedDefault(const std::string& base_dir);

/// Parses server.xml text. `file_label` names the file in messages. Malformed XML is kBadRequest
/// "FILE:LINE:COL: message" (with a hint such as `&quot;` when a quote ends an attribute early);
/// a bad attribute value names its element, attribute and line. Relative paths resolve against
/// `base_dir` (appBase, AccessLogValve directory, Deployer dirs, dataDir, tokenFile, …).
Result<LoadedConfig> ParseServerXml(const std::string& xml, const std::string& file_label,
                                    const std::string& base_dir);
/// Reads and parses a file (kNotFound when it cannot be read).
Result<LoadedConfig> LoadServerXml(const std::string& path, const std::string& base_dir);

/// Command-line overrides (DESIGN.md §4); unset fields leave the file's value.
struct Overrides {
  std::optional<std::string> data_dir, jvm_route, http_address, admin_address, token_file,
      receiver_address, mcast_address, mcast_bind, cluster_secret_file, log_level;
  std::optional<uint16_t> http_port, admin_port, receiver_port, mcast_port, agent_port;
  std::optional<int64_t> anti_entropy_period_ms, max_clock_skew_ms;
  /// "HOST:PORT" each; replaces the file's static members and, unless an mcast flag is given
  /// too, turns multicast off. Any receiver, mcast or member flag sets cluster.enabled.
  std::vector<std::string> members;
  bool insecure = false;
};
/// Applies the overrides and resolves what is left (data dir from $STATE_DIRECTORY or
/// ./sessiond-data, token file under it, host name for jvmRoute). kBadRequest names the flag.
Status ApplyOverrides(const Overrides& overrides, NodeConfig* config);

/// Parses "HOST:PORT" (static members, --member).
Result<StaticMember> ParseMember(const std::string& text);

}  // namespace sessiond::config
