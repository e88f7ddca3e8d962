// Replicator: state transfer to a joining node.
//
// The joiner asks one alive member (the first by name) for batches: "sessions with ids after
// CURSOR, about MAX bytes". The sender answers from a sorted snapshot of its ids, taken when a
// transfer starts (empty cursor), so each batch costs a binary search and the batch's own
// sessions instead of a scan of the whole store; ids created after the snapshot reach the joiner
// as deltas (it is a member by then; a delta for a session it lacks is a gap and fetches it).
// The last batch carries the sender's tombstones, so a session invalidated in the cluster is
// buried on the joiner even when its SQLite data still had it.
//
// The joiner pipelines: as soon as a batch arrives it asks for the next one, then merges the
// batch (SessionStore::Merge, so sessions restored from SQLite keep whatever is newer) while
// the sender builds the next.
#include <algorithm>
#include <chrono>
#include <future>

#include "replication/replicator_core.h"

namespace sessiond::replication::internal {
namespace {

constexpr uint32_t kMinBatchBytes = 64 << 10;
constexpr uint32_t kMaxBatchBytes = 32 << 20;
constexpr int64_t kSnapshotMaxAgeMs = 5 * 60 * 1000;

std::vector<std::string> SortedIds(const session::SessionStore& store) {
  std::vector<session::DigestEntry> entries = store.Digest();
  std::vector<std::string> ids;
  ids.reserve(entries.size());
  for (auto& e : entries) {
    if (!e.tombstone) ids.push_back(std::move(e.id));
  }
  std::sort(ids.begin(), ids.end());
  return ids;
}

using Clock = std::chrono::steady_clock;

}  // namespace

void Core::OnStateBatch(transport::Message m, transport::Transport::Reply reply) {
  Result<StateBatchRequest> req = DecodeStateBatchRequest(m.body);
  if (!req.ok()) return reply(transport::Message{kStateBatchType, {}});  // the asker fails to decode
  // One snapshot per node is enough: a second joiner's cursor still works on a newer one
  // (ids are compared, not positions).
  const int64_t now = MonotonicMillis();
  if (req->after_id.empty() || now - transfer_ids_ms > kSnapshotMaxAgeMs) {
    transfer_ids = SortedIds(*store);
    transfer_ids_ms = now;
  }
  const std::vector<std::string>& ids = transfer_ids;
  const size_t max_bytes = std::clamp(req->max_bytes, kMinBatchBytes, kMaxBatchBytes);
  StateBatchReply out;
  out.total = store->Count();
  size_t bytes = 0;
  auto it = std::upper_bound(ids.begin(), ids.end(), req->after_id);
  for (; it != ids.end() && bytes < max_bytes; ++it) {
    std::string encoded;  // straight from the store's entry: no Session copy on this hot path
    if (!store->EncodeInto(*it, &encoded)) continue;  // invalidated or expired since the snapshot
    bytes += encoded.size();
    out.sessions.push_back(std::move(encoded));
  }
  out.next_cursor = it == ids.begin() ? req->after_id : *std::prev(it);
  out.done = it == ids.end();
  if (out.done) out.tombstones = store->Tombstones();
  reply(transport::Message{kStateBatchType, EncodeStateBatchReply(out)});
}

namespace {

/// One outstanding batch request, waited on from the joining thread.
std::future<Result<transport::Message>> AskBatch(transport::Transport* t, const Peer& peer,
                                                 const std::string& cursor, uint32_t max_bytes,
                                                 int64_t timeout_ms) {
  auto promise = std::make_shared<std::promise<Result<transport::Message>>>();
  auto future = promise->get_future();
  StateBatchRequest req{cursor, max_bytes};
  t->Request(peer.address, transport::Message{kStateBatchType, EncodeStateBatchRequest(req)},
             std::max<int64_t>(1, timeout_ms),
             [promise](Result<transport::Message> r) { promise->set_value(std::move(r)); });
  return future;
}

}  // namespace

// Members are asked in name order; one that cannot answer (stopped, partitioned, just died) is
// skipped for the next while time is left, so one bad member cannot keep a joiner out for good.
Status Core::TransferState() {
  if (loop->InLoop()) return Status::Internal("state transfer must not run on the cluster loop");
  std::vector<Peer> peers = options.alive_peers ? options.alive_peers() : std::vector<Peer>{};
  if (peers.empty()) return Status::Ok();  // the first node: nothing to pull
  std::sort(peers.begin(), peers.end(), [](const Peer& a, const Peer& b) { return a.name < b.name; });
  const auto deadline = Clock::now() + std::chrono::milliseconds(options.state_transfer_timeout_ms);
  Status last;
  for (const Peer& peer : peers) {
    last = TransferStateFrom(peer, deadline);
    if (last.ok() || Clock::now() >= deadline) return last;
    SESSIOND_LOG(kWarn, "state transfer: trying the next member", {"error", last.message()});
  }
  return last;
}

Status Core::TransferStateFrom(const Peer& peer, std::chrono::steady_clock::time_point deadline) {
  const auto start = Clock::now();
  {
    std::lock_guard lock(progress_mu);
    progress = StateTransferProgress{StateTransferProgress::State::kRunning, peer.name, 0, 0, 0, {}};
  }
  auto left_ms = [&] {
    return std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
  };
  const uint32_t max_bytes = static_cast<uint32_t>(
      std::clamp<size_t>(options.state_batch_bytes, kMinBatchBytes, kMaxBatchBytes));
  auto pending = AskBatch(transport, peer, "", max_bytes, left_ms());
  Status failure;
  while (true) {
    if (pending.wait_until(deadline) != std::future_status::ready) {
      failure = Status::Unavailable("timed out");
      break;
    }
    Result<transport::Message> r = pending.get();
    if (!r.ok()) {
      failure = r.status();
      break;
    }
    Result<StateBatchReply> batch = DecodeStateBatchReply(r->body);
    if (!batch.ok()) {
      failure = batch.status();
      break;
    }
    if (!batch->done) pending = AskBatch(transport, peer, batch->next_cursor, max_bytes, left_ms());
    for (const std::string& bytes : batch->sessions) {
      Result<session::Session> s = session::DecodeSession(bytes);
      if (s.ok()) store->Merge(*s, /*republish=*/true);
    }
    for (const auto& [id, stamp] : batch->tombstones) store->RestoreTombstone(id, stamp, true);
    std::lock_guard lock(progress_mu);
    if (progress.expected == 0) progress.expected = batch->total;
    progress.received += batch->sessions.size();
    progress.duration_ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start).count();
    if (batch->done) {
      progress.state = StateTransferProgress::State::kDone;
      if (metrics.transfer_seconds) metrics.transfer_seconds->Set(progress.duration_ms / 1000.0);
      return Status::Ok();
    }
  }
  std::lock_guard lock(progress_mu);
  progress.state = StateTransferProgress::State::kFailed;
  progress.duration_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start).count();
  progress.error = "state transfer from " + peer.name + " failed after " +
                   std::to_string(progress.received) + " of " + std::to_string(progress.expected) +
                   " sessions: " + failure.message();
  if (metrics.transfer_seconds) metrics.transfer_seconds->Set(progress.duration_ms / 1000.0);
  return Status::Unavailable(progress.error);
}

}  // namespace sessiond::replication::internal
