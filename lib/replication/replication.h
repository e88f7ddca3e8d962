// replication: the DeltaManager — every session of every distributable app on every node
// (DESIGN.md §5 "Replication").
//
// Deltas: the Replicator is a session::EventSink. After each request the store commits the
// request's events; the Replicator keeps the ones this node wrote (stamp.node == self) of
// distributable apps and sends them to every alive member as ONE delta, in the configured send
// mode. In synchronized-ack mode OnCommit returns only after every alive peer applied the delta
// (or ack_timeout passed), so the HTTP response goes out after the change is everywhere.
// Receivers Apply each event (per-attribute LWW by HLC stamp, tombstones); a version gap makes
// the receiver fetch the whole session from the sender.
//
// State transfer: a joining node pulls every session from one alive member in batches before it
// reports ready; a transfer that cannot complete within stateTransferTimeout is an error that says
// so (never a silent partial state). Sessions restored from SQLite merge with the cluster's newer
// state (SessionStore::Restore keeps the newer version).
//
// Anti-entropy: periodically, and whenever a member (re)appears, nodes compare digests of their
// sessions (and tombstones) bucket by bucket and exchange what differs, so a healed partition
// or lost deltas converge without a restart.
//
// Wire messages (transport types 0x02xx; layouts in replication_codec.cc, versioned, each with
// a round-trip test and a fuzz target).
//
// Thread-safety: OnCommit is called on HTTP threads (thread-safe; blocks only in sync-ack mode).
// Message handlers, timers and anti-entropy run on the EventLoop thread. progress()/stats() are
// thread-safe snapshots. TransferState() blocks its caller (the daemon's main thread at start).
// Ownership: borrows the loop, transport and store; they must outlive the Replicator.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/base.h"
#include "metrics/metrics.h"
#include "session/session.h"
#include "transport/transport.h"

namespace sessiond::replication {

inline constexpr uint16_t kDeltaType = 0x0201;         ///< one request's events
inline constexpr uint16_t kFetchSessionType = 0x0202;  ///< id -> the whole session (gap repair)
inline constexpr uint16_t kStateBatchType = 0x0203;    ///< cursor -> a batch of sessions
inline constexpr uint16_t kDigestType = 0x0204;        ///< anti-entropy: bucket digests
inline constexpr uint16_t kBucketType = 0x0205;        ///< anti-entropy: one bucket's entries
inline constexpr uint16_t kHoldersType = 0x0206;       ///< id -> this member's version of it

/// One delta: the events of one request, in order, from one node.
struct Delta {
  std::string origin;          ///< the writing node
  int64_t committed_ms = 0;    ///< wall time at commit on the writer (replication lag metric)
  int64_t committed_us = 0;    ///< the same instant in microseconds (finer lag); 0: unknown
  session::EventBatch events;
};
std::string EncodeDelta(const Delta& delta);
/// kBadRequest when malformed; never trusts a length.
Result<Delta> DecodeDelta(std::string_view bytes);

/// A member replication talks to.
struct Peer {
  std::string name;
  transport::PeerAddress address;
};

struct ReplicationOptions {
  std::string node_name;
  transport::SendMode mode = transport::SendMode::kAsynchronous;
  int64_t ack_timeout_ms = 3000;
  int64_t state_transfer_timeout_ms = 60000;
  size_t state_batch_bytes = 4 << 20;      ///< target size of one state-transfer batch
  int64_t anti_entropy_period_ms = 10000;
  /// Alive members (not this node), from membership. Thread-safe; called often.
  std::function<std::vector<Peer>()> alive_peers;
  metrics::Registry* metrics = nullptr;    ///< not owned; may be null
};

/// Where the state transfer of a joining node stands (sessctl status, /metrics).
struct StateTransferProgress {
  enum class State { kNone, kRunning, kDone, kFailed } state = State::kNone;
  std::string from;        ///< the member it pulls from
  uint64_t received = 0;   ///< sessions received so far
  uint64_t expected = 0;   ///< the sender's count when the transfer began
  int64_t duration_ms = 0;
  std::string error;       ///< why it failed
};
std::string_view StateTransferStateName(StateTransferProgress::State s);  ///< none|running|done|failed

struct ReplicationStats {
  uint64_t deltas_sent = 0, deltas_applied = 0, delta_bytes_sent = 0, delta_bytes_received = 0;
  uint64_t gaps_fetched = 0, misses_fetched = 0, send_failures = 0, ack_timeouts = 0;
  uint64_t anti_entropy_rounds = 0, anti_entropy_repaired = 0;
};

/// Which version of a session one member holds (sessctl sessions show).
struct Holder {
  std::string node;
  std::optional<uint64_t> version;  ///< nullopt: that member does not have it (or did not answer)
  bool answered = false;
};

class Replicator : public session::EventSink {
 public:
  /// Registers the message handlers on `transport` and starts the anti-entropy timer. Does not
  /// add itself as a sink: the daemon calls store->AddSink(replicator) (before serving).
  static Result<std::unique_ptr<Replicator>> Start(transport::EventLoop* loop,
                                                   transport::Transport* transport,
                                                   session::SessionStore* store,
                                                   ReplicationOptions options);
  ~Replicator() override;

  /// Local events -> one delta to every alive peer (see the file comment).
  void OnCommit(const session::EventBatch& batch) override;
  /// Pulls every session from one alive member, in batches. OK at once when no member is alive.
  /// kUnavailable "state transfer from B failed after N of M sessions: <why>" on timeout or error.
  Status TransferState();
  StateTransferProgress progress() const;
  /// Runs an anti-entropy round with `peer` now (a member came back, a partition healed).
  void ReconcileWith(const Peer& peer);
  /// Waits until every delta queued so far was sent (and acknowledged in ack modes), at most
  /// `timeout_ms` (SIGTERM, drain). kUnavailable when time ran out.
  Status Flush(int64_t timeout_ms);
  /// Asks every alive member which version of `id` it holds (this node first), waiting at most
  /// `timeout_ms`. Called from admin threads.
  std::vector<Holder> Holders(const std::string& id, int64_t timeout_ms);
  /// A request names a session this node does not hold and whose route is the alive member
  /// `owner`: the owner wrote it moments ago and its delta is still on the way (async mode; nginx
  /// round-robin sends the very next request here). Fetches it from the owner and merges it,
  /// waiting at most `timeout_ms`. True when the session is here afterwards. Called from
  /// connector threads; false at once on the loop thread or when `owner` is not alive.
  bool FetchMissing(const std::string& id, const std::string& owner, int64_t timeout_ms);
  ReplicationStats stats() const;

  class Impl;

 private:
  explicit Replicator(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace sessiond::replication
