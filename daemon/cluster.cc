#include "daemon/cluster.h"

#include <chrono>
#include <thread>

namespace sessiond {
namespace {

/// Frames to one peer keep their order only over one connection (transport.h), and deltas of
/// one session must arrive in version order, or every reordering costs a gap fetch.
constexpr int kConnectionsPerPeer = 1;

std::string_view StateWord(membership::State s) { return membership::StateName(s); }

admin::MemberInfo ToMemberInfo(const membership::Member& m) {
  admin::MemberInfo row;
  row.name = m.info.name;
  row.address = m.address().ToString();
  row.admin_url = m.info.admin_url;
  row.state = std::string(StateWord(m.state));
  row.mode = std::string(membership::ModeName(m.info.mode));
  row.sessions = m.info.sessions;
  row.last_seen_ms = m.last_seen_ms;
  row.state_since_ms = m.state_since_ms;
  row.version = m.info.build;
  row.protocol = m.info.protocol;
  row.incarnation = m.info.start_ms;
  row.is_static = m.is_static;
  return row;
}

}  // namespace

Result<std::unique_ptr<Cluster>> Cluster::Start(Deps deps) {
  std::unique_ptr<Cluster> cluster(new Cluster(std::move(deps)));
  const config::NodeConfig& config = *cluster->deps_.config;
  transport::Secret secret;
  if (!config.sessiond.cluster_secret_file.empty()) {
    auto loaded = transport::LoadSecret(config.sessiond.cluster_secret_file);
    if (!loaded.ok()) return loaded.status().Annotate("clusterSecretFile");
    secret = *loaded;
  } else {
    SESSIOND_LOG(kWarn, "cluster is unauthenticated: frames carry a checksum only; set clusterSecretFile",
                 {"receiver", config.cluster.receiver.address});
  }
  cluster->loop_ = std::make_unique<transport::EventLoop>();
  cluster->loop_->Start();
  SESSIOND_RETURN_IF_ERROR(cluster->StartTransport(secret));
  // The replicator's handlers before the first heartbeat: a peer that hears us may ask for a
  // state transfer at once, and "no handler" would fail its join for good.
  SESSIOND_RETURN_IF_ERROR(cluster->StartReplicator());
  SESSIOND_RETURN_IF_ERROR(cluster->StartMembership(secret));
  cluster->RegisterMetrics();
  SESSIOND_LOG(kInfo, "cluster member",
               {"receiver", config.cluster.receiver.address + ":" +
                                std::to_string(cluster->transport_->port())},
               {"multicast", config.cluster.membership.enabled
                                 ? config.cluster.membership.address + ":" +
                                       std::to_string(config.cluster.membership.port)
                                 : std::string("off")},
               {"authenticated", secret.present() ? "yes" : "no"},
               {"send_mode", std::to_string(config.cluster.channel_send_options)});
  return cluster;
}

Cluster::~Cluster() { Stop(0); }

Cluster::Use::Use(const Cluster& cluster) : cluster_(cluster) {
  std::lock_guard lock(cluster_.parts_mu_);
  ++cluster_.leases_;
  parts_ = cluster_.parts_;
}

Cluster::Use::~Use() {
  std::lock_guard lock(cluster_.parts_mu_);
  if (--cluster_.leases_ == 0) cluster_.parts_released_.notify_all();
}

void Cluster::PublishParts() {
  std::lock_guard lock(parts_mu_);
  parts_ = Parts{transport_.get(), members_.get(), replicator_.get()};
}

void Cluster::WithdrawParts() {
  std::unique_lock lock(parts_mu_);
  parts_ = Parts{};
  parts_released_.wait(lock, [this] { return leases_ == 0; });
}

Status Cluster::StartTransport(const transport::Secret& secret) {
  const config::ReceiverConfig& r = deps_.config->cluster.receiver;
  transport::TransportOptions options;
  options.node_name = deps_.config->jvm_route;
  options.address = r.address;
  options.port = r.port;
  options.auto_bind = r.auto_bind;
  options.secret = secret;
  options.insecure = deps_.config->sessiond.insecure;
  options.connections_per_peer = kConnectionsPerPeer;
  auto started = transport::Transport::Start(loop_.get(), options);
  if (!started.ok()) return started.status().Annotate("cluster receiver");
  transport_ = std::move(started).value();
  receiver_port_ = transport_->port();
  PublishParts();
  return Status::Ok();
}

membership::MembershipOptions Cluster::MembershipOptionsFor(const transport::Secret& secret) const {
  const config::MembershipConfig& m = deps_.config->cluster.membership;
  membership::MembershipOptions options;
  options.multicast = m.enabled;
  options.group = m.address;
  options.port = m.port;
  options.frequency_ms = m.frequency_ms;
  options.drop_time_ms = m.drop_time_ms;
  // Multicast joins and sends on the receiver's interface unless `bind` says otherwise: a
  // loopback node never multicasts onto a LAN.
  options.bind = m.bind.empty() ? deps_.config->cluster.receiver.address : m.bind;
  options.ttl = m.ttl;
  options.domain = m.domain;
  for (const config::StaticMember& s : deps_.config->cluster.static_members) {
    options.static_members.push_back({s.host, s.port});
  }
  options.secret = secret;
  // A heartbeat stamped beyond maxClockSkew is not merged (HybridClock counts it).
  options.observe_clock = [clock = deps_.clock](uint64_t hlc) { (void)clock->Observe(hlc); };
  return options;
}

membership::Heartbeat Cluster::SelfHeartbeat() const {
  membership::Heartbeat hb;
  hb.name = deps_.config->jvm_route;
  hb.receiver_host = deps_.config->cluster.receiver.address;
  hb.receiver_port = receiver_port_;
  hb.admin_url = deps_.admin_url ? deps_.admin_url() : "";
  hb.build = SESSIOND_VERSION;
  hb.sessions = deps_.sessions->Count();
  if (deps_.mode) hb.mode = deps_.mode();
  hb.hlc = deps_.clock->Now();
  hb.start_ms = deps_.incarnation;
  return hb;
}

Status Cluster::StartMembership(const transport::Secret& secret) {
  auto started = membership::Membership::Start(loop_.get(), transport_.get(),
                                               MembershipOptionsFor(secret),
                                               [this] { return SelfHeartbeat(); });
  if (!started.ok()) return started.status().Annotate("membership");
  members_ = std::move(started).value();
  // The Replicator started first and may already ask the loop for alive peers: members_ becomes
  // visible to it (and to every other thread) only through PublishParts.
  PublishParts();
  members_->OnChange([this](const membership::Member& m, std::optional<membership::State> before) {
    OnMemberChange(m, before);
  });
  return Status::Ok();
}

Status Cluster::StartReplicator() {
  const config::ClusterConfig& c = deps_.config->cluster;
  replication::ReplicationOptions options;
  options.node_name = deps_.config->jvm_route;
  options.mode = transport::SendModeFromChannelOptions(c.channel_send_options);
  options.state_transfer_timeout_ms = c.manager.state_transfer_timeout_ms;
  options.anti_entropy_period_ms = deps_.config->sessiond.anti_entropy_period_ms;
  options.alive_peers = [this] { return AlivePeers(); };
  options.metrics = deps_.metrics;
  auto started = replication::Replicator::Start(loop_.get(), transport_.get(), deps_.sessions,
                                                std::move(options));
  if (!started.ok()) return started.status().Annotate("replication");
  replicator_ = std::move(started).value();
  PublishParts();
  deps_.sessions->AddSink(replicator_.get());  // before the data plane serves (node.cc)
  return Status::Ok();
}

std::vector<replication::Peer> Cluster::AlivePeers() const {
  std::vector<replication::Peer> peers;
  Use use(*this);
  if (!use->members) return peers;
  for (const membership::Member& m : use->members->Members()) {
    if (m.state == membership::State::kAlive) peers.push_back({m.info.name, m.address()});
  }
  return peers;
}

/// Logs and records the change; a member that is alive again (after dead/suspect/left, or as a
/// new incarnation) gets an anti-entropy round now rather than at the next periodic one.
void Cluster::OnMemberChange(const membership::Member& m, std::optional<membership::State> before) {
  std::string now(StateWord(m.state));
  std::string message = before ? m.info.name + " is " + now + " (was " +
                                     std::string(StateWord(*before)) + ")"
                               : m.info.name + " joined";
  SESSIOND_LOG(kInfo, "member", {"peer", m.info.name}, {"state", now},
               {"address", m.address().ToString()});
  if (deps_.record_event) {
    deps_.record_event("membership", m.info.name, message,
                       {{"state", now}, {"address", m.address().ToString()},
                        {"mode", std::string(membership::ModeName(m.info.mode))}});
  }
  auto [it, first_seen] = incarnations_.try_emplace(m.info.name, m.info.start_ms);
  bool new_incarnation = !first_seen && it->second != m.info.start_ms;
  it->second = m.info.start_ms;
  bool back = before && *before != membership::State::kAlive;
  Use use(*this);
  if (m.state == membership::State::kAlive && (back || new_incarnation) && use->replicator) {
    SESSIOND_LOG(kInfo, "reconciling with a returning member", {"peer", m.info.name});
    use->replicator->ReconcileWith({m.info.name, m.address()});
  }
}

/// The first heartbeats arrive within one `frequency` (static members answer the first PING
/// round); waiting up to twice that finds the members that are up, and one alive member is
/// enough to pull the state from.
void Cluster::WaitForFirstHeartbeats() const {
  const config::MembershipConfig& m = deps_.config->cluster.membership;
  int64_t wait_ms = 2 * m.frequency_ms + 100;
  if (!deps_.config->cluster.static_members.empty()) wait_ms = std::max<int64_t>(wait_ms, 1500);
  int64_t deadline = MonotonicMillis() + wait_ms;
  while (MonotonicMillis() < deadline) {
    if (!AlivePeers().empty()) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

Status Cluster::Join() {
  WaitForFirstHeartbeats();
  std::vector<replication::Peer> peers = AlivePeers();
  SESSIOND_LOG(kInfo, "state transfer", {"alive_members", std::to_string(peers.size())});
  int64_t start = MonotonicMillis();
  Status transferred = replicator_->TransferState();
  transfer_ms_ = MonotonicMillis() - start;  // the Replicator sets sessiond_state_transfer_seconds
  return transferred;
}

void Cluster::Stop(int64_t flush_ms) {
  if (stopped_) return;
  stopped_ = true;
  if (replicator_ && flush_ms > 0) {
    Status flushed = replicator_->Flush(flush_ms);
    if (!flushed.ok()) {
      SESSIOND_LOG(kWarn, "replication queue not flushed before shutdown", {"error", flushed.message()});
    }
  }
  if (members_) members_->Leave();  // members mark us `left` at once, not dead after dropTime
  WithdrawParts();  // admin threads may still be asking: they get no parts from here on
  // The replicator borrows the transport and the loop: it goes first, the loop last.
  replicator_.reset();
  members_.reset();
  transport_.reset();
  if (loop_) loop_->Stop();
}

void Cluster::FetchMissing(std::string_view id, std::string_view owner) const {
  constexpr int64_t kMissFetchTimeoutMs = 250;
  Use use(*this);
  if (use->replicator) use->replicator->FetchMissing(std::string(id), std::string(owner), kMissFetchTimeoutMs);
}

bool Cluster::RouteAlive(std::string_view route) const {
  if (route == deps_.config->jvm_route) return true;
  Use use(*this);
  if (!use->members) return false;
  std::optional<membership::Member> m = use->members->Find(route);
  return m && m->state == membership::State::kAlive;
}

std::vector<admin::MemberInfo> Cluster::MemberRows(uint64_t own_sessions) const {
  std::vector<admin::MemberInfo> rows;
  if (Use use(*this); use->members) {
    for (const membership::Member& m : use->members->Members()) rows.push_back(ToMemberInfo(m));
  }
  membership::Heartbeat self = SelfHeartbeat();
  admin::MemberInfo me;
  me.name = self.name;
  me.address = self.receiver_host + ":" + std::to_string(self.receiver_port);
  me.admin_url = self.admin_url;
  me.sessions = own_sessions;
  me.last_seen_ms = WallMillis();
  me.version = self.build;
  me.protocol = membership::kProtocolVersion;
  me.is_self = true;
  me.mode = std::string(membership::ModeName(self.mode));
  rows.push_back(std::move(me));
  return rows;
}

admin::MemberCounts Cluster::Counts() const {
  admin::MemberCounts counts;
  counts.alive = 1;  // this node
  Use use(*this);
  if (!use->members) return counts;
  for (const membership::Member& m : use->members->Members()) {
    switch (m.state) {
      case membership::State::kAlive: ++counts.alive; break;
      case membership::State::kSuspect: ++counts.suspect; break;
      case membership::State::kDead: ++counts.dead; break;
      case membership::State::kLeft: ++counts.left; break;
    }
  }
  return counts;
}

replication::StateTransferProgress Cluster::progress() const {
  Use use(*this);
  return use->replicator ? use->replicator->progress() : replication::StateTransferProgress{};
}

std::vector<replication::Holder> Cluster::Holders(const std::string& id, int64_t timeout_ms) const {
  Use use(*this);
  if (!use->replicator) return {};
  return use->replicator->Holders(id, timeout_ms);
}

void Cluster::RegisterMetrics() {
  metrics::Registry& r = *deps_.metrics;
  r.AddRefresher([this, &r] {
    Use use(*this);
    if (!use->members) return;
    admin::MemberCounts c = Counts();
    const std::map<std::string, uint64_t> by_state = {
        {"alive", c.alive}, {"suspect", c.suspect}, {"dead", c.dead}, {"left", c.left}};
    for (const auto& [state, count] : by_state) {
      r.GetGauge("sessiond_members", "Cluster members by state, this node included", {{"state", state}})
          ->Set(double(count));
    }
    transport::TransportStats t = use->transport->stats();
    r.GetGauge("sessiond_cluster_frames_sent", "Cluster frames sent since start")->Set(double(t.frames_sent));
    r.GetGauge("sessiond_cluster_frames_received", "Cluster frames received since start")->Set(double(t.frames_received));
    r.GetGauge("sessiond_cluster_bytes_sent", "Cluster bytes sent since start")->Set(double(t.bytes_sent));
    r.GetGauge("sessiond_cluster_bytes_received", "Cluster bytes received since start")->Set(double(t.bytes_received));
    membership::MembershipStats ms = use->members->stats();
    r.GetGauge("sessiond_cluster_auth_failures", "Frames and heartbeats that failed authentication since start")
        ->Set(double(t.auth_failures + ms.heartbeats_rejected));
    r.GetGauge("sessiond_heartbeats_replayed", "Authentic heartbeats refused as duplicates or replays since start")
        ->Set(double(ms.heartbeats_replayed));
    r.GetGauge("sessiond_heartbeat_lag_seconds", "Largest gap between heartbeats of alive members")
        ->Set(double(ms.max_heartbeat_lag_ms) / 1000.0);
    RefreshReplicationMetrics();
  });
}

/// State-transfer progress as gauges. The Replicator registers the rest itself (deltas and bytes
/// sent/applied, replication lag, sessiond_state_transfer_seconds).
void Cluster::RefreshReplicationMetrics() {
  metrics::Registry& r = *deps_.metrics;
  replication::StateTransferProgress p = progress();
  r.GetGauge("sessiond_state_transfer_received_sessions", "Sessions received by this node's state transfer")
      ->Set(double(p.received));
  r.GetGauge("sessiond_state_transfer_expected_sessions", "Sessions the state transfer's source held when it began")
      ->Set(double(p.expected));
  for (auto s : {replication::StateTransferProgress::State::kNone, replication::StateTransferProgress::State::kRunning,
                 replication::StateTransferProgress::State::kDone, replication::StateTransferProgress::State::kFailed}) {
    r.GetGauge("sessiond_state_transfer_state", "1 for the state this node's state transfer is in",
               {{"state", std::string(replication::StateTransferStateName(s))}})
        ->Set(p.state == s ? 1 : 0);
  }
}

Result<replication::Peer> Cluster::AliveMember(const std::string& node, std::string_view what) const {
  Use use(*this);
  std::optional<membership::Member> m = use->members ? use->members->Find(node) : std::nullopt;
  if (!m) return Status::NotFound("no member named " + node + " (see sessctl members)");
  if (m->state != membership::State::kAlive) {
    return Status::Unavailable("member " + node + " is " + std::string(StateWord(m->state)) +
                               ", not alive: it cannot take " + std::string(what) + " now");
  }
  return replication::Peer{m->info.name, m->address()};
}

Status Cluster::FlushAcknowledged(int64_t timeout_ms) const {
  Use use(*this);
  if (!use->replicator) return Status::Ok();
  int64_t until = MonotonicMillis() + timeout_ms;
  SESSIOND_RETURN_IF_ERROR(use->replicator->Flush(timeout_ms));
  // The barrier: a holders question about no session, answered by each peer only after the
  // deltas queued ahead of it on the same connection (kConnectionsPerPeer = 1).
  std::string missing;
  for (const replication::Holder& h : use->replicator->Holders("", std::max<int64_t>(1, until - MonotonicMillis()))) {
    if (!h.answered) missing += (missing.empty() ? "" : ", ") + h.node;
  }
  if (!missing.empty()) return Status::Unavailable("no acknowledgement from " + missing);
  return Status::Ok();
}

replication::ReplicationStats Cluster::stats() const {
  Use use(*this);
  return use->replicator ? use->replicator->stats() : replication::ReplicationStats{};
}

}  // namespace sessiond
