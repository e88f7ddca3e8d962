#include "daemon/node.h"

#include <signal.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <unistd.h>
#include <sys/stat.h>

#include <atomic>
#include <cerrno>
#include <cstdlib>
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
#include "drain/drain.h"
#include "deploy/deploy.h"
#include "metrics/metrics.h"
#include "session/session.h"
#include "store/store.h"
#include "daemon/cluster.h"

namespace sessiond {
namespace {

constexpr int64_t kShutdownGraceMs = 10000;
/// How long SIGTERM waits for queued deltas to reach the other members.
constexpr int64_t kReplicationFlushMs = 5000;
/// How long `sessctl sessions show` waits for the other members' versions.
constexpr int64_t kHoldersTimeoutMs = 1000;
/// How long a drain command forwarded to another member may take to be answered: it travels on
/// the control lane (never behind deltas), but the member's loop and its SQLite writes may lag
/// on a saturated machine.
constexpr int64_t kForwardDrainTimeoutMs = 10000;
/// The meta key that keeps a drain across a restart (absent: active).
constexpr const char* kDrainModeKey = "drain_mode";
/// How long `sessctl apps` waits for the other members' app sets.
constexpr int64_t kFarmAppsTimeoutMs = 1000;
/// After a failed state transfer, the pause before the node tries to join again (long enough
/// that `sessctl status` shows the failure and why between attempts).
constexpr int64_t kJoinRetryMs = 10000;

/// "myapp" -> "/myapp"; "ROOT" -> "" (the container's context paths).
std::string ContextPathOf(const std::string& app_name) {
  return app_name == "ROOT" ? "" : "/" + app_name;
}

admin::DeployResult ToAdminResult(const deploy::FarmReport& r) {
  admin::DeployResult out{r.app.name, r.app.sha256, r.app.size, {}, ""};
  for (const deploy::NodeResult& n : r.nodes) {
    out.nodes.push_back({n.node, n.ok, n.error, n.sha256, n.duration_ms});
  }
  return out;
}

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

/// A peer's clock stamp beyond maxClockSkew was refused (HybridClock): logged at most every
/// 10 s, since a broken peer sends one with every delta. Called under the store's locks.
void LogRefusedStamp(session::HlcTime remote, int64_t ahead_ms, int64_t max_skew_ms) {
  static std::atomic<int64_t> last_logged_ms{0};
  const int64_t now = MonotonicMillis();
  int64_t last = last_logged_ms.load();
  if ((last != 0 && now - last < 10000) || !last_logged_ms.compare_exchange_strong(last, now)) return;
  SESSIOND_LOG(kWarn, "remote clock stamp refused: beyond maxClockSkew",
               {"ahead_ms", std::to_string(ahead_ms)},
               {"max_clock_skew_ms", std::to_string(max_skew_ms)},
               {"stamp_wall_ms", std::to_string(session::HlcWallMillis(remote))});
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
  std::unique_ptr<Cluster> cluster;  // null without a <Cluster>
  std::unique_ptr<deploy::FarmDeployer> farm;
  std::unique_ptr<admin::AdminServer> admin;
  std::unique_ptr<drain::Drainer> drainer;     // after what its hooks use: destroyed first
  std::unique_ptr<drain::AgentServer> agent;   // null without agentPort
  std::unique_ptr<drain::CommandRelay> drain_relay;  // null without a <Cluster>; runs drainer's commands
  /// Where start-up stands: /readyz says ready only in kReady (DESIGN.md §7).
  enum class Phase { kJoining, kReady, kFailed };
  std::atomic<Phase> phase{Phase::kJoining};
  /// The admin endpoint's bound port once it listens (0 before). Atomic, not `admin->port()`:
  /// the cluster loop builds heartbeats (AdminUrl) while the main thread is still assigning
  /// `admin`.
  std::atomic<uint16_t> admin_port{0};

  explicit Node(const config::NodeConfig& c) : config(c) {}

  void RecordEvent(const std::string& kind, const std::string& message,
                   std::map<std::string, std::string> fields = {}) {
    store::EventRecord event;
    event.kind = kind;
    event.node = config.jvm_route;
    event.message = message;
    event.fields = std::move(fields);
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
    const int64_t max_skew = config.sessiond.max_clock_skew_ms;
    clock.set_max_skew_ms(max_skew, [max_skew](session::HlcTime remote, int64_t ahead_ms) {
      LogRefusedStamp(remote, ahead_ms, max_skew);
    });
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

  /// Deploys the apps; the connector listens only after the state transfer (ServeDataPlane),
  /// so a joining node never answers from a partial state: nginx moves those requests on.
  Status CreateContainer() {
    container::Container::Hooks hooks;
    if (config.cluster.enabled) {
      hooks.route_alive = [this](std::string_view route) {
        return !cluster || cluster->RouteAlive(route);
      };
      hooks.fetch_missing = [this](std::string_view id, std::string_view owner) {
        if (cluster) cluster->FetchMissing(id, owner);
      };
    }
    auto created = container::Container::Create(config, sessions.get(), &metrics, std::move(hooks));
    if (!created.ok()) return created.status();
    container = std::move(created).value();
    for (const std::string& error : container->deploy_errors()) {
      SESSIOND_LOG(kError, "app not deployed", {"error", error});
      RecordEvent("deploy", "app not deployed: " + error);
    }
    return Status::Ok();
  }

  /// Members ignore heartbeats whose incarnation is older than the one they know ("a datagram
  /// from a past life"), so a restart under a wall clock that went back (NTP step, skew) would
  /// never be seen alive again: the incarnation is the wall time, but always past the last one
  /// this data dir used (found by tests/chaos's clock-skewed restarts).
  int64_t NextIncarnation() {
    int64_t next = WallMillis();
    Result<std::string> last = db->GetMeta("incarnation");
    if (last.ok()) {
      char* end = nullptr;
      long long previous = std::strtoll(last->c_str(), &end, 10);
      if (end && *end == '\0' && previous >= next) next = previous + 1;
    }
    Status saved = db->SetMeta("incarnation", std::to_string(next));
    if (!saved.ok()) {
      SESSIOND_LOG(kWarn, "incarnation not saved: a restart under an earlier clock may be ignored",
                   {"error", saved.message()});
    }
    return next;
  }

  /// The cluster side (transport, membership, replication), started before the data plane
  /// serves so that the Replicator sees every commit.
  Status StartCluster() {
    if (!config.cluster.enabled) return Status::Ok();
    Cluster::Deps deps;
    deps.config = &config;
    deps.sessions = sessions.get();
    deps.clock = &clock;
    deps.metrics = &metrics;
    deps.incarnation = NextIncarnation();
    deps.admin_url = [this] { return AdminUrl(); };
    deps.record_event = [this](std::string kind, std::string node, std::string message,
                               std::map<std::string, std::string> fields) {
      store::EventRecord event;
      event.kind = std::move(kind);
      event.node = std::move(node);
      event.message = std::move(message);
      event.fields = std::move(fields);
      (void)db->AppendEvent(event);
    };
    deps.mode = [this] { return Mode(); };
    auto started = Cluster::Start(std::move(deps));
    if (!started.ok()) return started.status();
    cluster = std::move(started).value();
    // Drain commands other nodes forward here, and ours to them, from the first heartbeat on.
    drain_relay = std::make_unique<drain::CommandRelay>(
        cluster->loop(), cluster->transport(), config.jvm_route,
        [this](const drain::DrainRequest& r) { return HandleForwardedDrain(r); });
    return Status::Ok();
  }

  membership::Mode Mode() const { return drainer ? drainer->mode() : membership::Mode::kActive; }

  // ---- drain (DESIGN.md §5, lib/drain) ----------------------------------------------------

  drain::Drainer::Hooks DrainHooks() {
    drain::Drainer::Hooks hooks;
    hooks.set_refusing = [this](bool refusing) {
      container->SetRefusing(refusing, drain::kRetryAfterSeconds);
    };
    hooks.in_flight = [this] { return container->InFlight(); };
    hooks.flush = [this](int64_t ms) { return cluster ? cluster->FlushAcknowledged(ms) : Status::Ok(); };
    hooks.mode_changed = [this](membership::Mode m) { PersistMode(m); };
    hooks.record = [this](std::string message, std::map<std::string, std::string> fields) {
      store::EventRecord event;
      event.kind = "drain";
      event.node = config.jvm_route;
      event.message = std::move(message);
      event.fields = std::move(fields);
      (void)db->AppendEvent(event);
    };
    // The normal stop path (WaitForStop's sigwait takes it): finish, flush, goodbye, exit 0.
    hooks.shutdown = [] { kill(getpid(), SIGTERM); };
    return hooks;
  }

  void PersistMode(membership::Mode m) {
    Status saved = m == membership::Mode::kActive
                       ? db->DeleteMeta(kDrainModeKey)
                       : db->SetMeta(kDrainModeKey, std::string(drain::ModeWord(m)));
    if (!saved.ok()) SESSIOND_LOG(kError, "cannot persist the drain mode", {"error", saved.message()});
    SESSIOND_LOG(kInfo, "mode", {"mode", std::string(drain::ModeWord(m))});
  }

  /// The drainer, in the mode the last run left (a drain survives a restart until undrained).
  void StartDrainer() {
    drain::Drainer::Options options;
    options.default_grace_ms = config.sessiond.drain_grace_ms;
    options.default_deadline_ms = config.sessiond.drain_deadline_ms;
    drainer = std::make_unique<drain::Drainer>(options, DrainHooks());
    Result<std::string> persisted = db->GetMeta(kDrainModeKey);
    if (!persisted.ok()) return;  // absent: active
    if (std::optional<membership::Mode> m = drain::ParseMode(*persisted)) drainer->Restore(*m);
  }

  Status StartAgent() {
    if (config.sessiond.agent_port == 0) return Status::Ok();
    std::string address = config.sessiond.agent_address.empty() ? config.connector.address
                                                                : config.sessiond.agent_address;
    auto started = drain::AgentServer::Start(address, config.sessiond.agent_port,
                                             [this] { return drain::AgentAnswer(AgentMode()); });
    if (!started.ok()) return started.status();
    agent = std::move(started).value();
    return Status::Ok();
  }

  /// The agent says "drain" while the node joins too: HAProxy must not send it traffic before
  /// its state transfer is done.
  membership::Mode AgentMode() const {
    if (phase.load() != Phase::kReady && Mode() == membership::Mode::kActive) return membership::Mode::kDraining;
    return Mode();
  }

  admin::DrainInfo ToDrainInfo(const std::string& node, const drain::DrainState& s, bool forwarded) const {
    return admin::DrainInfo{node, std::string(drain::ModeWord(s.mode)), s.grace_ms, s.deadline_ms,
                            s.shutdown, s.changed, forwarded};
  }

  Result<drain::DrainState> DrainHere(const drain::DrainRequest& r) {
    if (r.undrain) return drainer->Undrain(r.via);
    return drainer->Drain(r.params, r.via);
  }

  drain::DrainReply HandleForwardedDrain(const drain::DrainRequest& r) {
    drain::DrainReply reply;
    Result<drain::DrainState> done = DrainHere(r);
    if (!done.ok()) {
      reply.code = done.status().code();
      reply.message = done.status().message();
    } else {
      reply.state = *done;
    }
    return reply;
  }

  /// POST|DELETE /v1/nodes/{name}/drain: here, or forwarded to that member.
  Result<admin::DrainInfo> DrainCommand(const std::string& name, const admin::DrainCommand& c) {
    drain::DrainRequest request;
    request.undrain = c.undrain;
    request.params = {c.grace_ms, c.deadline_ms, c.shutdown};
    request.via = config.jvm_route;
    if (name == config.jvm_route) {
      Result<drain::DrainState> done = DrainHere(request);
      if (!done.ok()) return done.status();
      return ToDrainInfo(name, *done, false);
    }
    if (!cluster) return Status::NotFound("no node named " + name + " (this node is " + config.jvm_route + ")");
    Result<replication::Peer> member = cluster->AliveMember(name, "a drain command");
    if (!member.ok()) return member.status();
    Result<drain::DrainReply> reply = drain_relay->Forward(name, member->address, request, kForwardDrainTimeoutMs);
    if (!reply.ok()) return reply.status();
    if (reply->code != Code::kOk) return Status(reply->code, name + ": " + reply->message);
    return ToDrainInfo(name, reply->state, true);
  }

  void RegisterDrainMetrics() {
    metrics.AddRefresher([this] {
      membership::Mode now = Mode();
      for (membership::Mode m : {membership::Mode::kActive, membership::Mode::kDraining, membership::Mode::kDrained}) {
        metrics.GetGauge("sessiond_node_mode", "1 for the drain mode this node is in",
                         {{"mode", std::string(drain::ModeWord(m))}})
            ->Set(m == now ? 1 : 0);
      }
      metrics.GetGauge("sessiond_drain_duration_seconds", "Time the last drain took from the command to drained")
          ->Set(static_cast<double>(drainer->last_drain_ms()) / 1000.0);
      metrics.GetGauge("sessiond_http_in_flight_requests", "Data-plane requests being handled now")
          ->Set(static_cast<double>(container->InFlight()));
    });
  }

  /// Farm deploy (DESIGN.md §5): always on (PUT /v1/apps deploys locally without a <Cluster>);
  /// the members' messages ride the cluster transport. Redeploys the registry's apps at once, so a
  /// restarted node serves what it served before it even joins.
  Status StartFarm() {
    deploy::FarmOptions options;
    options.node_name = config.jvm_route;
    options.data_dir = config.sessiond.data_dir;
    options.app_base = config.host.app_base;
    options.limits.max_archive_bytes = config.sessiond.max_war_bytes;
    const config::ClusterConfig::Farm& f = config.cluster.farm;
    if (f.enabled && f.watch_enabled) options.watch_dir = f.watch_dir;
    if (cluster) {
      options.alive_peers = [this] {
        return cluster ? cluster->AlivePeers() : std::vector<replication::Peer>{};
      };
    }
    options.host.deploy = [this](const deploy::AppVersion& app, const std::string& dir) {
      return container->DeployApp(ContextPathOf(app.name), dir, app.sha256, app.size);
    };
    options.host.undeploy = [this](const std::string& name) {
      return container->UndeployApp(ContextPathOf(name));
    };
    options.record_event = [this](std::string message, std::map<std::string, std::string> fields) {
      RecordEvent("deploy", message, std::move(fields));
    };
    auto started = deploy::FarmDeployer::Start(cluster ? cluster->loop() : nullptr,
                                               cluster ? cluster->transport() : nullptr, db.get(),
                                               std::move(options));
    if (!started.ok()) return started.status().Annotate("farm deploy");
    farm = std::move(started).value();
    for (const std::string& problem : farm->RestoreFromRegistry()) {
      SESSIOND_LOG(kError, "farm-deployed app not restored", {"error", problem});
      RecordEvent("deploy", "farm-deployed app not restored: " + problem);
    }
    return Status::Ok();
  }

  /// PUT /v1/apps/{name}?node=NODE: only NODE deploys the WAR — this node without announcing
  /// it, or that alive member, pulling it from here (a rolling deploy's step).
  Result<deploy::FarmReport> DeployOnNode(const std::string& name, const std::string& file,
                                          const std::string& node, int64_t wait_ms) {
    if (node == config.jvm_route) return farm->DeployOnNode(name, file, true, "api", std::nullopt, wait_ms);
    if (!cluster) return Status::NotFound("no node named " + node + " (this node is " + config.jvm_route + ")");
    Result<replication::Peer> member = cluster->AliveMember(node, "a deploy");
    if (!member.ok()) return member.status();
    return farm->DeployOnNode(name, file, true, "api", *member, wait_ms);
  }

  std::vector<admin::MemberFarm> FarmApps() const {
    std::vector<admin::MemberFarm> out;
    for (const deploy::MemberApps& m : farm->ClusterApps(kFarmAppsTimeoutMs)) {
      admin::MemberFarm row{m.node, m.answered, {}};
      for (const deploy::AppVersion& a : m.apps) row.apps.push_back({a.name, a.sha256, a.size, a.deployed_ms});
      out.push_back(std::move(row));
    }
    return out;
  }

  std::string AdminUrl() const {
    uint16_t bound = admin_port.load();
    return "http://" + config.sessiond.admin_address + ":" +
           std::to_string(bound != 0 ? bound : config.sessiond.admin_port);
  }

  admin::StatusInfo StatusNow() const {
    admin::StatusInfo info;
    info.name = config.jvm_route;
    info.version = SESSIOND_VERSION;
    info.started_ms = started_ms;
    info.uptime_ms = WallMillis() - started_ms;
    info.sessions = sessions->Count();
    info.apps = container->Apps().size();
    info.mode = std::string(drain::ModeWord(Mode()));
    if (cluster) {
      replication::StateTransferProgress p = cluster->progress();
      info.state_transfer.state = std::string(replication::StateTransferStateName(p.state));
      info.state_transfer.received = p.received;
      info.state_transfer.expected = p.expected;
      info.state_transfer.error = p.error;
      info.members = cluster->Counts();
    }
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

  /// Every member's version of `id` (sessctl sessions show), this node first.
  std::vector<admin::HolderInfo> Holders(const std::string& id) const {
    std::vector<admin::HolderInfo> out;
    if (!cluster) return out;
    for (const replication::Holder& h : cluster->Holders(id, kHoldersTimeoutMs)) {
      out.push_back({h.node, h.version, h.answered});
    }
    return out;
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
    services.ready = [this] {
      return phase.load() == Phase::kReady && Mode() == membership::Mode::kActive;
    };
    services.drain = [this](const std::string& name, const admin::DrainCommand& c) {
      return DrainCommand(name, c);
    };
    if (config.cluster.enabled) {
      services.members = [this] {
        return cluster ? cluster->MemberRows(sessions->Count()) : std::vector<admin::MemberInfo>{};
      };
      services.holders = [this](const std::string& id) { return Holders(id); };
    }
    services.deploy_app = [this](const std::string& name, const std::string& file,
                                 const std::string& only_node, int64_t wait_ms) -> Result<admin::DeployResult> {
      auto r = only_node.empty() ? farm->Deploy(name, file, /*take_file=*/true, "api", wait_ms)
                                 : DeployOnNode(name, file, only_node, wait_ms);
      if (!r.ok()) return r.status();
      admin::DeployResult out = ToAdminResult(*r);
      out.only_node = only_node;
      return out;
    };
    services.undeploy_app = [this](const std::string& name, int64_t wait_ms) -> Result<admin::DeployResult> {
      auto r = farm->Undeploy(name, wait_ms);
      if (!r.ok()) return r.status();
      return ToAdminResult(*r);
    };
    services.farm_apps = [this] { return FarmApps(); };
    services.upload_dir = config.sessiond.data_dir + "/wars";
    services.max_upload_bytes = config.sessiond.max_war_bytes;
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
    admin_port = admin->port();
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
      metrics::Counter* refused = metrics.GetCounter(
          "sessiond_hlc_stamps_refused_total",
          "Remote clock stamps refused for being beyond maxClockSkew ahead of this node's clock");
      refused->Inc(clock.refused() - refused->Value());
    });
  }

  /// Everything but the data plane: the cluster starts before the admin endpoint (which then
  /// answers /readyz 503 while this node joins) and before any request can commit.
  Status Start() {
    SESSIOND_RETURN_IF_ERROR(OpenStore());
    SESSIOND_RETURN_IF_ERROR(StartSessions());
    SESSIOND_RETURN_IF_ERROR(CreateContainer());
    StartDrainer();  // before the cluster: its heartbeats carry the mode
    SESSIOND_RETURN_IF_ERROR(StartCluster());
    SESSIOND_RETURN_IF_ERROR(StartAgent());
    SESSIOND_RETURN_IF_ERROR(StartFarm());
    SESSIOND_RETURN_IF_ERROR(StartAdmin());
    RegisterStoreMetrics();
    RegisterDrainMetrics();
    RecordEvent("node", "node " + config.jvm_route + " started");
    return Status::Ok();
  }

  /// Pulls the cluster's sessions (when clustered), then serves. A failed transfer leaves the
  /// node up but not ready and not serving, so `sessctl status` can say why (sessiond(8)).
  Status JoinAndServe() {
    if (cluster) {
      Status joined = cluster->Join();
      if (!joined.ok()) {
        phase = Phase::kFailed;
        RecordEvent("replication", "state transfer failed: " + joined.message());
        return joined;
      }
      // The cluster's app set before ready (DESIGN.md §5): Tomcat's FarmWarDeployer never
      // gives a late joiner the WARs deployed before it came.
      Status converged = farm->Converge(config.cluster.manager.state_transfer_timeout_ms);
      if (!converged.ok()) {
        phase = Phase::kFailed;
        RecordEvent("deploy", converged.message());
        return converged;
      }
      replication::StateTransferProgress p = cluster->progress();
      if (p.state == replication::StateTransferProgress::State::kDone) {
        SESSIOND_LOG(kInfo, "state transfer done", {"from", p.from},
                     {"sessions", std::to_string(p.received)},
                     {"ms", std::to_string(cluster->transfer_ms())});
        RecordEvent("replication", "state transfer from " + p.from + ": " +
                                       std::to_string(p.received) + " sessions in " +
                                       std::to_string(cluster->transfer_ms()) + " ms");
      }
    }
    SESSIOND_RETURN_IF_ERROR(container->Start());
    phase = Phase::kReady;
    return Status::Ok();
  }

  /// expireSessionsOnShutdown="true": this node invalidates every session of its distributable
  /// apps as it stops, and the invalidations replicate, so they end everywhere (Tomcat's
  /// meaning). Committed in batches so no one delta grows without bound.
  void ExpireSessionsOnShutdown() {
    if (!config.cluster.manager.expire_sessions_on_shutdown) return;
    size_t expired = 0;
    for (const container::AppInfo& app : container->Apps()) {
      if (!app.distributable) continue;
      session::ListFilter filter;
      filter.app = app.path;
      for (const session::Session& s : sessions->List(filter)) {
        session::EventBatch batch;
        if (sessions->Invalidate(s.id, &batch).ok()) ++expired;
        sessions->Commit(&batch);
      }
    }
    SESSIOND_LOG(kInfo, "expired sessions on shutdown", {"sessions", std::to_string(expired)});
  }

  /// The order of DESIGN.md §8: stop accepting and finish in-flight requests, flush replication,
  /// say goodbye, persist, exit.
  void Stop() {
    Notify("STOPPING=1");
    if (agent) agent->Stop();
    if (drain_relay) drain_relay->Stop();  // no forwarded command runs from here on
    if (drainer) drainer->Stop();  // joins its worker before what its hooks use stops
    if (container) container->Shutdown(kShutdownGraceMs);
    if (cluster && phase.load() == Phase::kReady) ExpireSessionsOnShutdown();
    if (farm) farm->Stop();  // before the transport it answers on goes away
    if (cluster) cluster->Stop(kReplicationFlushMs);
    if (admin) admin->Stop();
    if (persister) {
      Status flushed = persister->Stop();
      if (!flushed.ok()) SESSIOND_LOG(kError, "final session flush failed", {"error", flushed.message()});
    }
    if (db) {
      RecordEvent("node", "node " + config.jvm_route + " stopped");
      (void)db->Checkpoint();
    }
  }
};

/// Takes SIGHUP (reopen logs) until SIGTERM or SIGINT arrives (true) or, with `timeout_ms` >= 0,
/// until that much time passed (false).
bool WaitForStop(const sigset_t& handled, Node& node, int64_t timeout_ms = -1) {
  const int64_t deadline = MonotonicMillis() + timeout_ms;
  while (true) {
    int sig = 0;
    if (timeout_ms < 0) {
      if (sigwait(&handled, &sig) != 0) continue;
    } else {
      const int64_t left = deadline - MonotonicMillis();
      if (left <= 0) return false;
      timespec wait{static_cast<time_t>(left / 1000), static_cast<long>(left % 1000) * 1000000L};
      sig = sigtimedwait(&handled, nullptr, &wait);
      if (sig < 0) continue;  // EAGAIN (time is up: checked above) or EINTR
    }
    if (sig == SIGHUP) {
      ReopenLog();
      if (node.container) node.container->ReopenLogs();
      SESSIOND_LOG(kInfo, "reopened log files");
      continue;
    }
    SESSIOND_LOG(kInfo, "stopping", {"signal", sig == SIGTERM ? "SIGTERM" : "SIGINT"});
    return true;
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
  // SIGTERM during the state transfer stays pending (blocked) and is taken by WaitForStop as soon
  // as the transfer ends: at most stateTransferTimeout.
  Status joined = node.JoinAndServe();
  while (!joined.ok()) {
    // Not ready, not serving, still answering the admin API: `sessctl status` shows the state
    // transfer failed and why; never a silent partial state (sessiond(8), START-UP). It tries
    // again every kJoinRetryMs, so a node restarted inside a partition serves once it heals.
    SESSIOND_LOG(kError, "not serving: the node could not join the cluster", {"error", joined.message()},
                 {"retry_in_ms", std::to_string(kJoinRetryMs)});
    Notify(("STATUS=state transfer failed: " + joined.message()).c_str());
    if (WaitForStop(handled, node, kJoinRetryMs)) {
      node.Stop();
      SESSIOND_LOG(kInfo, "stopped");
      return 0;
    }
    SESSIOND_LOG(kInfo, "trying the state transfer again");
    node.phase = Node::Phase::kJoining;
    joined = node.JoinAndServe();
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
