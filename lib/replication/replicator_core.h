// The Replicator's state, shared by its parts: sending (replicator.cc), receiving deltas and gap
// repair (replicator_receive.cc), state transfer (state_transfer.cc), anti-entropy and holders
// (anti_entropy.cc).
//
// Lifetime: Core lives in a shared_ptr. Transport callbacks and handlers capture a weak_ptr, so a
// reply or timer that fires after the Replicator is gone finds nothing and does nothing (the
// transport cannot unregister handlers).
//
// Threads: fields marked "loop only" are touched on the EventLoop thread only; the rest are
// atomics or guarded by the mutex named beside them.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "replication/replication_internal.h"

namespace sessiond::replication::internal {

/// A received delta whose synchronized-ack reply waits until every event of it was applied
/// (some may wait for a gap to close). Loop only.
struct PendingAck {
  transport::Transport::Reply reply;
  int outstanding = 1;  ///< the handler's own share, released when it finishes
};

/// Events of one session (by id base) held back because an earlier version has not arrived:
/// a reordering (two pooled connections, two HTTP threads committing one session) closes within
/// microseconds; a real loss is repaired by fetching the session when the hold times out.
struct Held {
  std::string origin;
  std::vector<session::Event> events;
  std::vector<std::shared_ptr<PendingAck>> acks;
  uint64_t timer = 0;
  bool fetching = false;
  int repairs = 0;  ///< fetches done for it so far
};

struct MetricHandles {
  metrics::Counter* deltas_sent = nullptr;
  metrics::Counter* deltas_applied = nullptr;
  metrics::Counter* bytes_sent = nullptr;
  metrics::Counter* bytes_received = nullptr;
  metrics::Counter* misses_fetched = nullptr;
  metrics::Counter* anti_entropy_rounds = nullptr;
  metrics::Counter* anti_entropy_repaired = nullptr;
  metrics::Histogram* lag = nullptr;
  metrics::Gauge* transfer_seconds = nullptr;
};

inline constexpr int64_t kGapHoldMs = 30;          ///< wait for a missing version before fetching
inline constexpr int64_t kFetchTimeoutMs = 3000;
inline constexpr int64_t kRoundTimeoutMs = 10000;  ///< one anti-entropy request

class Core : public std::enable_shared_from_this<Core> {
 public:
  Core(transport::EventLoop* loop, transport::Transport* transport, session::SessionStore* store,
       ReplicationOptions options);
  void RegisterHandlers();
  void Shutdown();  ///< from ~Replicator: stops timers, wakes waiters

  // sending (replicator.cc)
  void OnCommit(const session::EventBatch& batch);
  Status Flush(int64_t timeout_ms);

  // receiving (replicator_receive.cc), loop only
  void OnDelta(const transport::Sender& from, transport::Message m, transport::Transport::Reply r);
  void OnFetch(transport::Message m, transport::Transport::Reply reply);
  /// Applies one fetched item (session merge or tombstone); returns whether it changed state.
  bool ApplyFetched(const FetchItem& item);
  /// Asks `peer` for `ids` and applies what comes back; `done` (loop) gets how many changed
  /// something here, or why the fetch failed.
  void Fetch(const Peer& peer, std::vector<std::string> ids,
             std::function<void(Result<uint64_t>)> done);
  /// Replicator::FetchMissing (any thread but the loop's).
  bool FetchMissing(const std::string& id, const std::string& owner, int64_t timeout_ms);

  // state transfer (state_transfer.cc)
  void OnStateBatch(transport::Message m, transport::Transport::Reply reply);
  Status TransferState();
  /// One attempt from `peer`, until `deadline`.
  Status TransferStateFrom(const Peer& peer, std::chrono::steady_clock::time_point deadline);

  // anti-entropy and holders (anti_entropy.cc)
  void OnDigest(const transport::Sender& from, transport::Message m, transport::Transport::Reply r);
  void OnBucket(transport::Message m, transport::Transport::Reply reply);
  void OnHolders(transport::Message m, transport::Transport::Reply reply);
  void StartRound(const Peer& peer, bool ask_back);  ///< loop only
  void CompareBuckets(const Peer& peer, BucketRequest differ,
                      std::function<void(uint64_t)> finish);
  void PullAll(const Peer& peer, std::vector<std::string> ids, size_t from, uint64_t repaired,
               std::function<void(uint64_t)> finish);
  void StartAntiEntropyTimer();
  std::vector<Holder> Holders(const std::string& id, int64_t timeout_ms);

  /// The alive peer named `node`, if any.
  std::optional<Peer> PeerNamed(const std::string& node) const;

  transport::EventLoop* const loop;
  transport::Transport* const transport;
  session::SessionStore* const store;
  const ReplicationOptions options;
  MetricHandles metrics;

  std::atomic<bool> stopped{false};
  std::atomic<uint64_t> deltas_sent{0}, deltas_applied{0}, delta_bytes_sent{0},
      delta_bytes_received{0}, gaps_fetched{0}, misses_fetched{0}, send_failures{0}, ack_timeouts{0},
      anti_entropy_rounds{0}, anti_entropy_repaired{0};

  std::mutex inflight_mu;
  std::condition_variable inflight_cv;
  uint64_t inflight = 0;  // GUARDED_BY(inflight_mu): sends whose callback has not run yet

  mutable std::mutex progress_mu;
  StateTransferProgress progress;  // GUARDED_BY(progress_mu)

  std::map<std::string, Held> held;  ///< loop only; by id base
  uint64_t anti_entropy_timer = 0;   ///< loop only
  std::vector<std::string> transfer_ids;  ///< loop only: sorted ids for state-transfer batches
  int64_t transfer_ids_ms = 0;            ///< loop only: when they were taken (monotonic)
  std::map<std::string, int64_t> rounds_running;  ///< loop only: peer -> round start (monotonic)

 private:
  void ApplyDelta(const Delta& d, const std::shared_ptr<PendingAck>& ack);
  /// Applies events of one session base in order; returns the index of the first that gapped
  /// (events.size() when all applied).
  size_t ApplyRun(const std::vector<session::Event>& events, size_t from);
  void Hold(const std::string& base, const std::string& origin,
            std::vector<session::Event> events, const std::shared_ptr<PendingAck>& ack);
  void RetryHeld(const std::string& base);
  void RepairHeld(const std::string& base);
  void ReleaseHeld(const std::string& base);
  void ObserveLag(const Delta& d);
};

void Release(const std::shared_ptr<PendingAck>& ack);

}  // namespace sessiond::replication::internal

namespace sessiond::replication {
class Replicator::Impl {
 public:
  std::shared_ptr<internal::Core> core;
};
}  // namespace sessiond::replication
