// The node's cluster side: the event loop, the transport receiver, membership and the
// Replicator (DESIGN.md §5), wired together for one sessiond. node.cc owns one Cluster when a
// <Cluster> is configured and decides when to call Join (before the data plane serves) and Stop.
//
// Start-up (Join): give membership a moment to find the others (the first heartbeats come within
// one `frequency`; we wait up to 2 × frequency, or until a member is alive), then pull every
// session from one alive member (Replicator::TransferState). A member that comes back (dead,
// suspect or left -> alive, or a new incarnation) gets an anti-entropy round at once.
//
// Thread-safety: Start, Join and Stop run on the daemon's main thread. Everything else is
// thread-safe: HTTP, admin and drain threads call the views (RouteAlive, MemberRows, Counts,
// progress, Holders, AliveMember, FlushAcknowledged, AlivePeers, …) and the loop thread calls
// AlivePeers (the Replicator's alive_peers) and SelfHeartbeat. They reach membership, the
// Replicator and the transport only through a Parts lease (Use): the parts are published under
// a mutex as each starts — the loop may ask for alive peers before membership exists — and Stop
// waits for the leases in use before it destroys them, so a view answers from live parts or
// from none, never from freed ones.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "admin/admin.h"
#include "base/base.h"
#include "config/config.h"
#include "membership/membership.h"
#include "metrics/metrics.h"
#include "replication/replication.h"
#include "session/session.h"
#include "transport/transport.h"

namespace sessiond {

class Cluster {
 public:
  /// What the cluster borrows from the node; every pointer must outlive the Cluster.
  struct Deps {
    const config::NodeConfig* config = nullptr;
    session::SessionStore* sessions = nullptr;
    session::HybridClock* clock = nullptr;
    metrics::Registry* metrics = nullptr;
    /// This process's incarnation (heartbeat start_ms): greater than every earlier one of this
    /// node even when the wall clock went back (NextIncarnation in node.cc); 0 = wall time.
    int64_t incarnation = 0;
    /// "http://host:port" of this node's admin endpoint (for heartbeats); called on the loop.
    std::function<std::string()> admin_url;
    /// Appends to the node's event log (kind, node, message, fields). Thread-safe.
    std::function<void(std::string kind, std::string node, std::string message,
                       std::map<std::string, std::string> fields)>
        record_event;
    /// This node's drain mode, for heartbeats and its own member row. Thread-safe.
    std::function<membership::Mode()> mode;
  };

  /// Starts the loop, the receiver, membership and the Replicator, and registers the Replicator
  /// as a sink of the store (so every commit from here on replicates). Errors name the part
  /// ("cluster receiver: …", "membership: …", "replication: …").
  static Result<std::unique_ptr<Cluster>> Start(Deps deps);
  ~Cluster();

  /// Waits for the first heartbeats, then pulls the cluster's sessions. OK at once when no
  /// member is alive; otherwise the Replicator's error ("state transfer from B failed after …").
  Status Join();
  /// SIGTERM: waits up to `flush_ms` for queued deltas, says goodbye, stops the loop. Idempotent.
  void Stop(int64_t flush_ms);

  /// True when `route` names this node or a member that is alive now (JvmRouteBinderValve).
  bool RouteAlive(std::string_view route) const;
  /// Container::Hooks::fetch_missing: the session from its owner, waiting at most
  /// kMissFetchTimeoutMs (a frozen owner must not hold the request for long).
  void FetchMissing(std::string_view id, std::string_view owner) const;
  /// Every member this node knows plus its own row (is_self), for GET /v1/members.
  std::vector<admin::MemberInfo> MemberRows(uint64_t own_sessions) const;
  /// Members by state, this node included as alive.
  admin::MemberCounts Counts() const;
  replication::StateTransferProgress progress() const;
  /// Which version of `id` each member holds (this node first); see Replicator::Holders.
  std::vector<replication::Holder> Holders(const std::string& id, int64_t timeout_ms) const;
  replication::ReplicationStats stats() const;
  /// The alive member named `node`: kNotFound when no such member is known, kUnavailable when it
  /// is not alive (the message says it cannot take `what`, e.g. "a drain command", now).
  Result<replication::Peer> AliveMember(const std::string& node, std::string_view what) const;
  /// Drain's flush: every queued delta is sent, and then every alive member answers a request
  /// that travels behind them on the same connection (frames to a peer keep their order, and a
  /// peer handles them in order), so each has received and applied them. kUnavailable naming
  /// the members that did not answer within `timeout_ms`.
  Status FlushAcknowledged(int64_t timeout_ms) const;
  /// Alive members (not this node). Thread-safe.
  std::vector<replication::Peer> AlivePeers() const;
  /// The cluster's loop and transport, for the farm deployer's and the drain relay's messages
  /// (valid until Stop).
  transport::EventLoop* loop() const { return loop_.get(); }
  transport::Transport* transport() const { return transport_.get(); }
  /// Milliseconds the state transfer took (0 before it ran or when there was nothing to pull).
  int64_t transfer_ms() const { return transfer_ms_; }

 private:
  explicit Cluster(Deps deps) : deps_(std::move(deps)) {}
  Status StartTransport(const transport::Secret& secret);
  Status StartMembership(const transport::Secret& secret);
  Status StartReplicator();
  membership::MembershipOptions MembershipOptionsFor(const transport::Secret& secret) const;
  membership::Heartbeat SelfHeartbeat() const;
  void OnMemberChange(const membership::Member& m, std::optional<membership::State> before);
  void WaitForFirstHeartbeats() const;
  void RegisterMetrics();
  void RefreshReplicationMetrics();

  /// The started parts, as other threads may see them (null: not started yet, or stopping).
  struct Parts {
    transport::Transport* transport = nullptr;
    membership::Membership* members = nullptr;
    replication::Replicator* replicator = nullptr;
  };
  /// A lease on the parts for one call: while any lease lives, Stop does not destroy them.
  class Use {
   public:
    explicit Use(const Cluster& cluster);
    ~Use();
    Use(const Use&) = delete;
    Use& operator=(const Use&) = delete;
    const Parts* operator->() const { return &parts_; }

   private:
    const Cluster& cluster_;
    Parts parts_;
  };
  /// Publishes the parts started so far (main thread, after each Start*).
  void PublishParts();
  /// Withdraws the parts and waits for every lease to end (main thread, Stop).
  void WithdrawParts();

  Deps deps_;
  std::unique_ptr<transport::EventLoop> loop_;
  // Owned and written by the main thread only; other threads go through Use.
  std::unique_ptr<transport::Transport> transport_;
  std::unique_ptr<membership::Membership> members_;
  std::unique_ptr<replication::Replicator> replicator_;
  mutable std::mutex parts_mu_;
  mutable std::condition_variable parts_released_;
  Parts parts_;                  // GUARDED_BY(parts_mu_)
  mutable int leases_ = 0;       // GUARDED_BY(parts_mu_)
  /// The bound receiver port: set before membership starts (whose posts order it before the
  /// loop's reads) and before Start returns; constant from then on.
  uint16_t receiver_port_ = 0;
  int64_t transfer_ms_ = 0;
  bool stopped_ = false;
  /// The incarnation (start time) last seen per member: a restart that membership reports
  /// without a dead phase still gets an anti-entropy round. Loop thread only.
  std::map<std::string, int64_t> incarnations_;
};

}  // namespace sessiond
