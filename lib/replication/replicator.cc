// Replicator: wiring, and the sending side of deltas (OnCommit, Flush).
//
// Sending: one delta per committed batch, encoded once, Sent to every alive peer. Order per peer
// is not guaranteed by the transport when it pools two connections, nor between two HTTP threads
// committing the same session; receivers hold an out-of-order event for a moment instead
// (replicator_receive.cc), so no ordering is needed here and OnCommit takes no global lock.
#include <chrono>

#include "replication/replicator_core.h"

namespace sessiond::replication {
namespace internal {
namespace {

int64_t WallMicros() {
  using namespace std::chrono;
  return duration_cast<microseconds>(system_clock::now().time_since_epoch()).count();
}

MetricHandles MetricsOf(metrics::Registry* r) {
  MetricHandles m;
  if (!r) return m;
  m.deltas_sent = r->GetCounter("sessiond_deltas_sent_total", "Deltas sent to peers (one per peer)");
  m.deltas_applied = r->GetCounter("sessiond_deltas_applied_total", "Deltas received and applied");
  m.bytes_sent = r->GetCounter("sessiond_delta_bytes_sent_total", "Delta bytes sent to peers");
  m.bytes_received = r->GetCounter("sessiond_delta_bytes_received_total", "Delta bytes received");
  m.misses_fetched = r->GetCounter(
      "sessiond_session_misses_fetched_total",
      "Requests for a session not held here, fetched from the alive member its route names");
  m.anti_entropy_rounds = r->GetCounter("sessiond_anti_entropy_rounds_total",
                                       "Anti-entropy rounds run with a peer");
  m.anti_entropy_repaired = r->GetCounter(
      "sessiond_anti_entropy_repaired_total",
      "Sessions and tombstones anti-entropy pulled from a peer that changed state here");
  m.lag = r->GetHistogram("sessiond_replication_lag_seconds",
                          "Commit on the writer to applied here, from the nodes' wall clocks");
  m.transfer_seconds = r->GetGauge("sessiond_state_transfer_seconds",
                                   "Duration of this node's last state transfer");
  return m;
}

/// What a synchronized/acknowledged OnCommit waits for: one answer per peer.
struct AckWait {
  std::mutex mu;
  std::condition_variable cv;
  size_t remaining = 0;  // GUARDED_BY(mu)
};

}  // namespace

Core::Core(transport::EventLoop* loop_in, transport::Transport* transport_in,
           session::SessionStore* store_in, ReplicationOptions options_in)
    : loop(loop_in),
      transport(transport_in),
      store(store_in),
      options(std::move(options_in)),
      metrics(MetricsOf(options.metrics)) {}

std::optional<Peer> Core::PeerNamed(const std::string& node) const {
  if (!options.alive_peers) return std::nullopt;
  for (Peer& p : options.alive_peers()) {
    if (p.name == node) return std::move(p);
  }
  return std::nullopt;
}

// Handlers capture a weak_ptr: the transport outlives us and cannot forget a handler.
void Core::RegisterHandlers() {
  std::weak_ptr<Core> weak = weak_from_this();
  auto bind = [weak](auto member) {
    return [weak, member](const transport::Sender& from, transport::Message m,
                          transport::Transport::Reply reply) {
      auto self = weak.lock();
      if (!self || self->stopped) return reply(transport::Message{m.type, {}});
      member(*self, from, std::move(m), std::move(reply));
    };
  };
  using Msg = transport::Message;
  using Rep = transport::Transport::Reply;
  using From = const transport::Sender&;
  transport->Handle(kDeltaType, bind([](Core& c, From f, Msg m, Rep r) {
                      c.OnDelta(f, std::move(m), std::move(r));
                    }));
  transport->Handle(kFetchSessionType, bind([](Core& c, From, Msg m, Rep r) {
                      c.OnFetch(std::move(m), std::move(r));
                    }));
  transport->Handle(kStateBatchType, bind([](Core& c, From, Msg m, Rep r) {
                      c.OnStateBatch(std::move(m), std::move(r));
                    }));
  transport->Handle(kDigestType, bind([](Core& c, From f, Msg m, Rep r) {
                      c.OnDigest(f, std::move(m), std::move(r));
                    }));
  transport->Handle(kBucketType, bind([](Core& c, From, Msg m, Rep r) {
                      c.OnBucket(std::move(m), std::move(r));
                    }));
  transport->Handle(kHoldersType, bind([](Core& c, From, Msg m, Rep r) {
                      c.OnHolders(std::move(m), std::move(r));
                    }));
}

void Core::Shutdown() {
  stopped = true;
  std::shared_ptr<Core> self = shared_from_this();
  loop->Post([self] {
    if (self->anti_entropy_timer) self->loop->Cancel(self->anti_entropy_timer);
    for (auto& [base, h] : self->held) {
      if (h.timer) self->loop->Cancel(h.timer);
      for (auto& ack : h.acks) Release(ack);
    }
    self->held.clear();
  });
  inflight_cv.notify_all();
}

void Core::OnCommit(const session::EventBatch& batch) {
  if (stopped) return;
  Delta delta;
  for (const session::Event& e : batch) {
    if (e.distributable && e.stamp.node == options.node_name) delta.events.push_back(e);
  }
  if (delta.events.empty() || !options.alive_peers) return;
  std::vector<Peer> peers = options.alive_peers();
  if (peers.empty()) return;
  delta.origin = options.node_name;
  delta.committed_us = WallMicros();
  delta.committed_ms = delta.committed_us / 1000;
  const std::string body = EncodeDelta(delta);
  // On the loop thread (an expiry sweep) nobody may wait: the replies need this very thread.
  const bool wait = options.mode != transport::SendMode::kAsynchronous && !loop->InLoop();
  auto waiter = std::make_shared<AckWait>();
  waiter->remaining = peers.size();
  {
    std::lock_guard lock(inflight_mu);
    inflight += peers.size();
  }
  std::weak_ptr<Core> weak = weak_from_this();
  for (const Peer& peer : peers) {
    transport->Send(peer.address, transport::Message{kDeltaType, body}, options.mode,
                    [weak, waiter](Status s) {
                      // Counted before the waiter is released: a caller that returns from a
                      // sync-ack commit sees its failure in stats().
                      auto self = weak.lock();
                      if (self && !s.ok()) ++self->send_failures;
                      {
                        std::lock_guard lock(waiter->mu);
                        --waiter->remaining;
                      }
                      waiter->cv.notify_all();
                      if (!self) return;
                      std::lock_guard lock(self->inflight_mu);
                      --self->inflight;
                      self->inflight_cv.notify_all();
                    });
  }
  deltas_sent += peers.size();
  delta_bytes_sent += body.size() * peers.size();
  if (metrics.deltas_sent) metrics.deltas_sent->Inc(peers.size());
  if (metrics.bytes_sent) metrics.bytes_sent->Inc(body.size() * peers.size());
  if (!wait) return;
  std::unique_lock lock(waiter->mu);
  bool all = waiter->cv.wait_for(lock, std::chrono::milliseconds(options.ack_timeout_ms),
                                 [&] { return waiter->remaining == 0 || stopped; });
  if (!all) ++ack_timeouts;
}

Status Core::Flush(int64_t timeout_ms) {
  std::unique_lock lock(inflight_mu);
  if (loop->InLoop()) {  // the callbacks we would wait for run on this thread
    return inflight == 0 ? Status::Ok()
                         : Status::Unavailable("cannot wait for deltas on the cluster loop");
  }
  bool done = inflight_cv.wait_for(lock, std::chrono::milliseconds(std::max<int64_t>(0, timeout_ms)),
                                   [&] { return inflight == 0 || stopped; });
  if (done && inflight == 0) return Status::Ok();
  return Status::Unavailable(std::to_string(inflight) + " deltas still in flight after " +
                             std::to_string(timeout_ms) + " ms");
}

}  // namespace internal

std::string_view StateTransferStateName(StateTransferProgress::State s) {
  switch (s) {
    case StateTransferProgress::State::kNone: return "none";
    case StateTransferProgress::State::kRunning: return "running";
    case StateTransferProgress::State::kDone: return "done";
    case StateTransferProgress::State::kFailed: return "failed";
  }
  return "none";
}

Result<std::unique_ptr<Replicator>> Replicator::Start(transport::EventLoop* loop,
                                                      transport::Transport* transport,
                                                      session::SessionStore* store,
                                                      ReplicationOptions options) {
  if (!loop || !transport || !store) return Status::BadRequest("replicator: missing loop/transport/store");
  if (options.node_name.empty()) return Status::BadRequest("replicator: empty node name");
  auto impl = std::make_unique<Impl>();
  impl->core = std::make_shared<internal::Core>(loop, transport, store, std::move(options));
  impl->core->RegisterHandlers();
  impl->core->StartAntiEntropyTimer();
  return std::unique_ptr<Replicator>(new Replicator(std::move(impl)));
}

Replicator::Replicator(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Replicator::~Replicator() { impl_->core->Shutdown(); }

void Replicator::OnCommit(const session::EventBatch& batch) { impl_->core->OnCommit(batch); }
Status Replicator::TransferState() { return impl_->core->TransferState(); }
Status Replicator::Flush(int64_t timeout_ms) { return impl_->core->Flush(timeout_ms); }

StateTransferProgress Replicator::progress() const {
  std::lock_guard lock(impl_->core->progress_mu);
  return impl_->core->progress;
}

void Replicator::ReconcileWith(const Peer& peer) {
  std::shared_ptr<internal::Core> core = impl_->core;
  core->loop->Post([core, peer] { core->StartRound(peer, /*ask_back=*/true); });
}

std::vector<Holder> Replicator::Holders(const std::string& id, int64_t timeout_ms) {
  return impl_->core->Holders(id, timeout_ms);
}

bool Replicator::FetchMissing(const std::string& id, const std::string& owner, int64_t timeout_ms) {
  return impl_->core->FetchMissing(id, owner, timeout_ms);
}

ReplicationStats Replicator::stats() const {
  const internal::Core& c = *impl_->core;
  ReplicationStats s;
  s.deltas_sent = c.deltas_sent;
  s.deltas_applied = c.deltas_applied;
  s.delta_bytes_sent = c.delta_bytes_sent;
  s.delta_bytes_received = c.delta_bytes_received;
  s.gaps_fetched = c.gaps_fetched;
  s.misses_fetched = c.misses_fetched;
  s.send_failures = c.send_failures;
  s.ack_timeouts = c.ack_timeouts;
  s.anti_entropy_rounds = c.anti_entropy_rounds;
  s.anti_entropy_repaired = c.anti_entropy_repaired;
  return s;
}

}  // namespace sessiond::replication
