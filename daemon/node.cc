#include "daemon/node.h"

#include <signal.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <unistd.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <map>
#include <optional>
#include <memory>
#include <string>

#ifdef SESSIOND_HAVE_SYSTEMD
#include <systemd/sd-daemon.h>
#endif

#include "admin/admin.h"
#include "base/base.h"
#include "container/container.h"
#include "membership/membership.h"
#include "metrics/metrics.h"
#include "session/session.h"
#include "store/store.h"
#include "transport/transport.h"

namespace sessiond {
namespace {

constexpr int64_t kShutdownGraceMs = 10000;

void Notify(const char* state) {
#ifdef SESSIOND_HAVE_SYSTEMD
  sd_notify(0, state);
#else
  (void)state;
#endif
}

/// Raises the soft open-file limit to the hard limit: every keep-alive connection is a file.
void RaiseOpenFileLimit() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0 || limit.rlim_cur >= limit.rlim_max) return;
  rlim_t before = limit.rlim_cur;
  limit.rlim_cur = limit.rlim_max;
  if (setrlimit(RLIMIT_NOFILE, &limit) == 0) {
    SESSIOND_LOG(kDebug, "raised open-file limit", {"from", std::to_string(before)},
                 {"to", std::to_string(limit.rlim_max)});
  }
}

/// Blocks the signals we handle in this thread and in every thread started after it, so that
/// only WaitForStop's sigwait receives them.
sigset_t BlockHandledSignals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  signal(SIGPIPE, SIG_IGN);
  return set;
}

Status EnsureDataDir(const std::string& dir) {
  std::error_code ec;
  if (std::filesystem::create_directories(dir, ec)) chmod(dir.c_str(), 0700);
  if (ec) return Status::Internal("cannot create data dir " + dir + ": " + ec.message());
  return Status::Ok();
}

/// Takes an exclusive lock on DATA_DIR/sessiond.lock for the life of the process, so two nodes
/// never share one data dir (they would overwrite each other's sessions). The kernel drops the
/// lock when the process dies, even by kill -9.
Status LockDataDir(const std::string& dir) {
  std::string path = dir + "/sessiond.lock";
  int fd = open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) return Status::Internal("cannot open " + path + ": " + std::strerror(errno));
  if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
    close(fd);
    return Status::Conflict("data dir " + dir + " is in use by another sessiond; give each node its own --data-dir");
  }
  std::string pid = std::to_string(getpid()) + "\n";
  if (ftruncate(fd, 0) == 0) (void)!write(fd, pid.data(), pid.size());
  return Status::Ok();  // fd stays open on purpose: it holds the lock
}

/// Everything one node owns, in construction order; destroyed in reverse.
struct Node {
  const config::NodeConfig& config;
  int64_t started_ms = WallMillis();
  std::unique_ptr<store::Database> db;
  session::HybridClock clock;
  std::unique_ptr<session::SessionStore> sessions;
  std::unique_ptr<store::SessionPersister> persister;
  metrics::Registry metrics;
  std::unique_ptr<container::Container> container;
  // The cluster: one event loop owns membership (and, later, replication) state.
  std::unique_ptr<transport::EventLoop> loop;
  std::unique_ptr<transport::Transport> transport;
  std::unique_ptr<membership::Membership> members;
  std::unique_ptr<admin::AdminServer> admin;

  explicit Node(const config::NodeConfig& c) : config(c) {}

  void RecordEvent(const std::string& kind, const std::string& message) {
    store::EventRecord event;
    event.kind = kind;
    event.node = config.jvm_route;
    event.message = message;
    auto appended = db->AppendEvent(event);
    if (!appended.ok()) {
      SESSIOND_LOG(kWarn, "cannot record event", {"error", appended.status().message()});
    }
  }

  Status OpenStore() {
    SESSIOND_RETURN_IF_ERROR(EnsureDataDir(config.sessiond.data_dir));
    SESSIOND_RETURN_IF_ERROR(LockDataDir(config.sessiond.data_dir));
    auto opened = store::Database::Open(store::Database::PathIn(config.sessiond.data_dir));
    if (!opened.ok()) return opened.status();
    db = std::move(opened).value();
    return Status::Ok();
  }

  Status StartSessions() {
    session::SessionStore::Options options;
    options.node_name = config.jvm_route;
    options.max_active_sessions = config.cluster.manager.max_active_sessions;
    options.clock = &clock;
    sessions = std::make_unique<session::SessionStore>(options);
    store::SessionPersister::Options persist;
    persist.flush_interval_ms = config.sessiond.flush_interval_ms;
    persister = std::make_unique<store::SessionPersister>(db.get(), sessions.get(), persist);
    store::RestoreReport report;
    SESSIOND_RETURN_IF_ERROR(store::RestoreSessions(*db, *sessions, nullptr, &report));
    SESSIOND_LOG(kInfo, "sessions restored", {"restored", std::to_string(report.restored)},
                 {"expired", std::to_string(report.expired)},
                 {"undecodable", std::to_string(report.undecodable)});
    sessions->AddSink(persister.get());
    return persister->Start();
  }

  Status StartContainer() {
    auto created = container::Container::Create(config, sessions.get(), &metrics);
    if (!created.ok()) return created.status();
    container = std::move(created).value();
    for (const std::string& error : container->deploy_errors()) {
      SESSIOND_LOG(kError, "app not deployed", {"error", error});
      RecordEvent("deploy", "app not deployed: " + error);
    }
    return container->Start();
  }

  Result<transport::Secret> LoadClusterSecret() const {
    const std::string& file = config.sessiond.cluster_secret_file;
    if (!file.empty()) return transport::LoadSecret(file);
    SESSIOND_LOG(kWarn, "cluster is unauthenticated: frames carry a checksum only; set clusterSecretFile",
                 {"receiver", config.cluster.receiver.address});
    return transport::Secret{};
  }

  Status StartTransport(const transport::Secret& secret) {
    const config::ReceiverConfig& r = config.cluster.receiver;
    transport::TransportOptions options;
    options.node_name = config.jvm_route;
    options.address = r.address;
    options.port = r.port;
    options.auto_bind = r.auto_bind;
    options.secret = secret;
    options.insecure = config.sessiond.insecure;
    auto started = transport::Transport::Start(loop.get(), options);
    if (!started.ok()) return started.status().Annotate("cluster receiver");
    transport = std::move(started).value();
    return Status::Ok();
  }

  membership::MembershipOptions MembershipOptionsFor(const transport::Secret& secret) {
    const config::MembershipConfig& m = config.cluster.membership;
    membership::MembershipOptions options;
    options.multicast = m.enabled;
    options.group = m.address;
    options.port = m.port;
    options.frequency_ms = m.frequency_ms;
    options.drop_time_ms = m.drop_time_ms;
    // Multicast joins and sends on the receiver's interface unless `bind` says otherwise: a
    // loopback node never multicasts onto a LAN.
    options.bind = m.bind.empty() ? config.cluster.receiver.address : m.bind;
    options.ttl = m.ttl;
    options.domain = m.domain;
    for (const config::StaticMember& s : config.cluster.static_members) {
      options.static_members.push_back({s.host, s.port});
    }
    options.secret = secret;
    options.observe_clock = [this](uint64_t hlc) { clock.Observe(hlc); };
    return options;
  }

  membership::Heartbeat SelfHeartbeat() {
    membership::Heartbeat hb;
    hb.name = config.jvm_route;
    hb.receiver_host = config.cluster.receiver.address;
    hb.receiver_port = transport->port();
    hb.admin_url = AdminUrl();
    hb.build = SESSIOND_VERSION;
    hb.sessions = sessions->Count();
    hb.hlc = clock.Now();
    return hb;
  }

  std::string AdminUrl() const {
    return "http://" + config.sessiond.admin_address + ":" +
           std::to_string(admin ? admin->port() : config.sessiond.admin_port);
  }

  void OnMemberChange(const membership::Member& m, std::optional<membership::State> before) {
    std::string now(membership::StateName(m.state));
    std::string message = before ? m.info.name + " is " + now + " (was " +
                                       std::string(membership::StateName(*before)) + ")"
                                 : m.info.name + " joined";
    SESSIOND_LOG(kInfo, "member", {"peer", m.info.name}, {"state", now},
                 {"address", m.address().ToString()});
    store::EventRecord event;
    event.kind = "membership";
    event.node = m.info.name;
    event.message = message;
    event.fields = {{"state", now}, {"address", m.address().ToString()},
                    {"mode", std::string(membership::ModeName(m.info.mode))}};
    (void)db->AppendEvent(event);
  }

  Status StartCluster() {
    if (!config.cluster.enabled) return Status::Ok();
    auto secret = LoadClusterSecret();
    if (!secret.ok()) return secret.status().Annotate("clusterSecretFile");
    loop = std::make_unique<transport::EventLoop>();
    loop->Start();
    SESSIOND_RETURN_IF_ERROR(StartTransport(*secret));
    auto started = membership::Membership::Start(loop.get(), transport.get(),
                                                 MembershipOptionsFor(*secret),
                                                 [this] { return SelfHeartbeat(); });
    if (!started.ok()) return started.status().Annotate("membership");
    members = std::move(started).value();
    members->OnChange([this](const membership::Member& m, std::optional<membership::State> before) {
      OnMemberChange(m, before);
    });
    SESSIOND_LOG(kInfo, "cluster member", {"receiver", config.cluster.receiver.address + ":" +
                                                           std::to_string(transport->port())},
                 {"multicast", config.cluster.membership.enabled
                                   ? config.cluster.membership.address + ":" +
                                         std::to_string(config.cluster.membership.port)
                                   : std::string("off")},
                 {"authenticated", secret->present() ? "yes" : "no"});
    return Status::Ok();
  }

  void RegisterClusterMetrics() {
    if (!members) return;
    metrics.AddRefresher([this] {
      std::map<std::string, int> by_state = {{"alive", 1}, {"suspect", 0}, {"dead", 0}, {"left", 0}};
      for (const membership::Member& m : members->Members()) ++by_state[std::string(membership::StateName(m.state))];
      for (const auto& [state, count] : by_state) {
        metrics.GetGauge("sessiond_members", "Cluster members by state, this node included", {{"state", state}})
            ->Set(count);
      }
      transport::TransportStats t = transport->stats();
      metrics.GetGauge("sessiond_cluster_frames_sent", "Cluster frames sent since start")->Set(double(t.frames_sent));
      metrics.GetGauge("sessiond_cluster_frames_received", "Cluster frames received since start")->Set(double(t.frames_received));
      metrics.GetGauge("sessiond_cluster_bytes_sent", "Cluster bytes sent since start")->Set(double(t.bytes_sent));
      metrics.GetGauge("sessiond_cluster_bytes_received", "Cluster bytes received since start")->Set(double(t.bytes_received));
      membership::MembershipStats ms = members->stats();
      metrics.GetGauge("sessiond_cluster_auth_failures", "Frames and heartbeats that failed authentication since start")
          ->Set(double(t.auth_failures + ms.heartbeats_rejected));
      metrics.GetGauge("sessiond_heartbeat_lag_seconds", "Largest gap between heartbeats of alive members")
          ->Set(double(ms.max_heartbeat_lag_ms) / 1000.0);
    });
  }

  admin::StatusInfo StatusNow() const {
    admin::StatusInfo info;
    info.name = config.jvm_route;
    info.version = SESSIOND_VERSION;
    info.started_ms = started_ms;
    info.uptime_ms = WallMillis() - started_ms;
    info.sessions = sessions->Count();
    info.apps = container->Apps().size();
    return info;
  }

  Result<admin::EventPage> Events(int64_t since_seq, int64_t since_ms, size_t limit) const {
    store::EventQuery query;
    query.since_seq = since_seq;
    query.since_ms = since_ms;
    query.limit = limit;
    auto listed = db->ListEvents(query);
    if (!listed.ok()) return listed.status();
    admin::EventPage page;
    page.next_since = since_seq;
    for (const store::EventRecord& e : *listed) {
      page.items.push_back(ToAdminEvent(e));
      page.next_since = e.seq;
    }
    return page;
  }

  static admin::EventRecord ToAdminEvent(const store::EventRecord& e) {
    std::string fields = "{";
    for (const auto& [key, value] : e.fields) {
      if (fields.size() > 1) fields += ",";
      fields += "\"" + key + "\":\"" + value + "\"";  // keys and values are our own words
    }
    fields += "}";
    return admin::EventRecord{e.seq, e.time_ms, e.kind, e.node, e.message, fields};
  }

  admin::AdminServices Services() {
    admin::AdminServices services;
    services.sessions = sessions.get();
    services.metrics = &metrics;
    services.node_name = config.jvm_route;
    services.status = [this] { return StatusNow(); };
    services.apps = [this] { return container->Apps(); };
    services.events = [this](int64_t seq, int64_t ms, size_t limit) { return Events(seq, ms, limit); };
    services.record_event = [this](std::string kind, std::string message) {
      RecordEvent(kind, message);
    };
    services.ready = [] { return true; };
    return services;
  }

  Status StartAdmin() {
    auto token = admin::LoadOrCreateToken(config.sessiond.token_file);
    if (!token.ok()) return token.status();
    if (token->created) {
      SESSIOND_LOG(kInfo, "admin token created", {"file", config.sessiond.token_file});
    }
    if (token->too_open) {
      SESSIOND_LOG(kWarn, "admin token file is readable by others; chmod 600 it",
                   {"file", config.sessiond.token_file});
    }
    auto started = admin::AdminServer::Start(config.sessiond.admin_address,
                                             config.sessiond.admin_port, token->token, Services());
    if (!started.ok()) return started.status();
    admin = std::move(started).value();
    return Status::Ok();
  }

  void RegisterStoreMetrics() {
    metrics.AddRefresher([this] {
      store::PersisterStats stats = persister->stats();
      metrics.GetGauge("sessiond_store_pending_sessions", "Sessions waiting for the next write-behind flush")
          ->Set(static_cast<double>(stats.pending));
      metrics.GetGauge("sessiond_store_flushes", "Write-behind transactions committed since start")
          ->Set(static_cast<double>(stats.flushes));
      metrics.GetGauge("sessiond_store_flush_errors", "Write-behind flushes that failed since start")
          ->Set(static_cast<double>(stats.errors));
      metrics.GetGauge("sessiond_uptime_seconds", "Seconds since this node started")
          ->Set(static_cast<double>(WallMillis() - started_ms) / 1000.0);
    });
  }

  Status Start() {
    SESSIOND_RETURN_IF_ERROR(OpenStore());
    SESSIOND_RETURN_IF_ERROR(StartSessions());
    SESSIOND_RETURN_IF_ERROR(StartContainer());
    SESSIOND_RETURN_IF_ERROR(StartAdmin());
    SESSIOND_RETURN_IF_ERROR(StartCluster());
    RegisterStoreMetrics();
    RegisterClusterMetrics();
    RecordEvent("node", "node " + config.jvm_route + " started");
    return Status::Ok();
  }

  /// The order of DESIGN.md §8: stop accepting and finish in-flight requests, persist, exit.
  void Stop() {
    Notify("STOPPING=1");
    if (container) container->Shutdown(kShutdownGraceMs);
    if (members) members->Leave();  // members mark us `left` at once, not dead after dropTime
    if (admin) admin->Stop();
    if (persister) {
      Status flushed = persister->Stop();
      if (!flushed.ok()) SESSIOND_LOG(kError, "final session flush failed", {"error", flushed.message()});
    }
    members.reset();
    transport.reset();
    if (loop) loop->Stop();
    if (db) {
      RecordEvent("node", "node " + config.jvm_route + " stopped");
      (void)db->Checkpoint();
    }
  }
};

void WaitForStop(const sigset_t& handled, Node& node) {
  while (true) {
    int sig = 0;
    if (sigwait(&handled, &sig) != 0) continue;
    if (sig == SIGHUP) {
      ReopenLog();
      if (node.container) node.container->ReopenLogs();
      SESSIOND_LOG(kInfo, "reopened log files");
      continue;
    }
    SESSIOND_LOG(kInfo, "stopping", {"signal", sig == SIGTERM ? "SIGTERM" : "SIGINT"});
    return;
  }
}

}  // namespace

int RunNode(const config::NodeConfig& config) {
  sigset_t handled = BlockHandledSignals();
  RaiseOpenFileLimit();
  if (!config.sessiond.log_file.empty()) {
    Status redirected = RedirectLog(config.sessiond.log_file);
    if (!redirected.ok()) SESSIOND_LOG(kError, "cannot open log file", {"error", redirected.message()});
  }
  Node node(config);
  Status started = node.Start();
  if (!started.ok()) {
    SESSIOND_LOG(kError, "cannot start", {"error", started.message()});
    node.Stop();
    return 1;
  }
  Notify("READY=1");
  SESSIOND_LOG(kInfo, "serving", {"node", config.jvm_route},
               {"http", config.connector.address + ":" + std::to_string(node.container->http_port())},
               {"admin", config.sessiond.admin_address + ":" + std::to_string(node.admin->port())},
               {"data_dir", config.sessiond.data_dir},
               {"startup_ms", std::to_string(WallMillis() - node.started_ms)});
  WaitForStop(handled, node);
  node.Stop();
  SESSIOND_LOG(kInfo, "stopped");
  return 0;
}

}  // namespace sessiond
