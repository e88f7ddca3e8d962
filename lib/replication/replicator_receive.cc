// Replicator: receiving deltas, holding out-of-order events, and repairing gaps by fetching.
//
// A delta's events are applied in order with SessionStore::Apply(republish = true): the
// persister gets them; our own OnCommit ignores them (their stamp names another node). An event
// the store answers with kConflict (a version gap) is held with every later event of the same
// session (by id base, so id changes stay in order), and so is every event for that session that
// arrives while it is held. Each arrival retries the held events in version order; if the gap
// has not closed after kGapHoldMs the whole session is fetched from the delta's origin, merged
// (SessionStore::Merge: LWW per attribute, so a fetched copy never undoes a newer write), and
// the held events are applied on top. In synchronized-ack mode the reply waits until every
// event of the delta was applied (or given up, after which anti-entropy repairs).
#include <algorithm>
#include <chrono>

#include "replication/replicator_core.h"

namespace sessiond::replication::internal {
namespace {

int64_t WallMicros() {
  using namespace std::chrono;
  return duration_cast<microseconds>(system_clock::now().time_since_epoch()).count();
}

constexpr int kMaxRepairs = 3;  ///< fetch rounds per held session before anti-entropy takes over

}  // namespace

void Release(const std::shared_ptr<PendingAck>& ack) {
  if (--ack->outstanding == 0 && ack->reply) {
    auto reply = std::move(ack->reply);
    ack->reply = nullptr;
    reply(transport::Message{kDeltaType, {}});
  }
}

void Core::OnDelta(const transport::Sender&, transport::Message m, transport::Transport::Reply r) {
  auto ack = std::make_shared<PendingAck>();
  ack->reply = std::move(r);
  Result<Delta> delta = DecodeDelta(m.body);
  if (delta.ok()) {
    delta_bytes_received += m.body.size();
    if (metrics.bytes_received) metrics.bytes_received->Inc(m.body.size());
    ApplyDelta(*delta, ack);
    ++deltas_applied;
    if (metrics.deltas_applied) metrics.deltas_applied->Inc();
    ObserveLag(*delta);
  }
  Release(ack);  // a malformed delta is answered too: the sender must not hang on it
}

void Core::ObserveLag(const Delta& d) {
  if (!metrics.lag) return;
  int64_t lag_us = d.committed_us > 0 ? WallMicros() - d.committed_us
                                      : (WallMicros() / 1000 - d.committed_ms) * 1000;
  metrics.lag->Observe(static_cast<double>(std::max<int64_t>(0, lag_us)) / 1e6);
}

void Core::ApplyDelta(const Delta& d, const std::shared_ptr<PendingAck>& ack) {
  const std::vector<session::Event>& events = d.events;
  size_t i = 0;
  while (i < events.size()) {
    // A run: consecutive events of one session base, applied in order.
    const std::string base(session::BaseOf(events[i].session_id));
    size_t end = i + 1;
    while (end < events.size() && session::BaseOf(events[end].session_id) == base) ++end;
    auto h = held.find(base);
    if (h != held.end()) {  // earlier events wait: these join them, in version order
      h->second.events.insert(h->second.events.end(), events.begin() + i, events.begin() + end);
      ++ack->outstanding;
      h->second.acks.push_back(ack);
      if (!h->second.fetching) RetryHeld(base);
    } else {
      size_t gap = ApplyRun(std::vector<session::Event>(events.begin() + i, events.begin() + end), 0);
      if (gap < end - i) {
        Hold(base, d.origin,
             std::vector<session::Event>(events.begin() + i + gap, events.begin() + end), ack);
      }
    }
    i = end;
  }
}

size_t Core::ApplyRun(const std::vector<session::Event>& events, size_t from) {
  for (size_t i = from; i < events.size(); ++i) {
    Status s = store->Apply(events[i], /*republish=*/true);
    if (s.code() == Code::kConflict) return i;
    // Other errors (a malformed event, an id change onto an existing id) drop that event alone.
  }
  return events.size();
}

void Core::Hold(const std::string& base, const std::string& origin,
                std::vector<session::Event> events, const std::shared_ptr<PendingAck>& ack) {
  Held& h = held[base];
  h.origin = origin;
  h.events = std::move(events);
  ++ack->outstanding;
  h.acks.push_back(ack);
  std::weak_ptr<Core> weak = weak_from_this();
  h.timer = loop->After(kGapHoldMs, [weak, base] {
    if (auto self = weak.lock()) self->RepairHeld(base);
  });
}

void Core::RetryHeld(const std::string& base) {
  auto it = held.find(base);
  if (it == held.end()) return;
  Held& h = it->second;
  std::stable_sort(h.events.begin(), h.events.end(),
                   [](const auto& a, const auto& b) { return a.version < b.version; });
  size_t gap = ApplyRun(h.events, 0);
  h.events.erase(h.events.begin(), h.events.begin() + static_cast<ptrdiff_t>(gap));
  if (h.events.empty()) ReleaseHeld(base);
}

void Core::ReleaseHeld(const std::string& base) {
  auto it = held.find(base);
  if (it == held.end()) return;
  if (it->second.timer) loop->Cancel(it->second.timer);
  std::vector<std::shared_ptr<PendingAck>> acks = std::move(it->second.acks);
  held.erase(it);
  for (const auto& ack : acks) Release(ack);
}

// The hold timed out: fetch the session from the origin (any alive peer if the origin is gone).
void Core::RepairHeld(const std::string& base) {
  auto it = held.find(base);
  if (it == held.end() || stopped) return;
  Held& h = it->second;
  h.timer = 0;
  std::optional<Peer> peer = PeerNamed(h.origin);
  if (!peer && options.alive_peers) {
    std::vector<Peer> alive = options.alive_peers();
    if (!alive.empty()) peer = alive.front();
  }
  if (!peer || h.events.empty()) return ReleaseHeld(base);
  h.fetching = true;
  ++gaps_fetched;
  std::weak_ptr<Core> weak = weak_from_this();
  Fetch(*peer, {h.events.front().session_id}, [weak, base](Result<uint64_t>) {
    auto self = weak.lock();
    if (!self) return;
    auto it = self->held.find(base);
    if (it == self->held.end()) return;
    it->second.fetching = false;
    self->RetryHeld(base);
    it = self->held.find(base);
    if (it == self->held.end()) return;
    // Still a gap: events newer than the fetched copy whose predecessors are lost too. Drop
    // the ones the copy already covers and wait once more; give up after a few rounds.
    if (++it->second.repairs >= kMaxRepairs) return self->ReleaseHeld(base);
    it->second.timer = self->loop->After(kGapHoldMs, [weak, base] {
      if (auto s = weak.lock()) s->RepairHeld(base);
    });
  });
}

void Core::Fetch(const Peer& peer, std::vector<std::string> ids,
                 std::function<void(Result<uint64_t>)> done) {
  std::weak_ptr<Core> weak = weak_from_this();
  transport::Message m{kFetchSessionType, EncodeFetchRequest(FetchRequest{std::move(ids)})};
  transport->Request(peer.address, std::move(m), kFetchTimeoutMs,
                     [weak, done = std::move(done)](Result<transport::Message> r) {
                       auto self = weak.lock();
                       if (!self) return;
                       if (!r.ok()) return done(r.status());
                       Result<FetchReply> reply = DecodeFetchReply(r->body);
                       if (!reply.ok()) return done(reply.status());
                       uint64_t changed = 0;
                       for (const FetchItem& item : reply->items) changed += self->ApplyFetched(item);
                       done(changed);
                     });
}

bool Core::FetchMissing(const std::string& id, const std::string& owner, int64_t timeout_ms) {
  if (stopped || loop->InLoop()) return false;  // the reply needs the loop thread
  std::optional<Peer> peer = PeerNamed(owner);
  if (!peer) return false;
  ++misses_fetched;
  if (metrics.misses_fetched) metrics.misses_fetched->Inc();
  struct Done {
    std::mutex mu;
    std::condition_variable cv;
    bool done = false;  // GUARDED_BY(mu)
  };
  auto done = std::make_shared<Done>();
  Fetch(*peer, {id}, [done](Result<uint64_t>) {
    std::lock_guard lock(done->mu);
    done->done = true;
    done->cv.notify_all();
  });
  std::unique_lock lock(done->mu);
  done->cv.wait_for(lock, std::chrono::milliseconds(std::max<int64_t>(0, timeout_ms)),
                    [&] { return done->done; });
  return store->Contains(id);
}

bool Core::ApplyFetched(const FetchItem& item) {
  if (stopped) return false;  // the store's sinks may include a Replicator being destroyed
  switch (item.kind) {
    case FetchItem::Kind::kSession: {
      Result<session::Session> s = session::DecodeSession(item.session);
      return s.ok() && store->Merge(*s, /*republish=*/true);
    }
    case FetchItem::Kind::kTombstone:
      return store->RestoreTombstone(item.id, item.tombstone, /*republish=*/true);
    case FetchItem::Kind::kNotFound:
      return false;
  }
  return false;
}

void Core::OnFetch(transport::Message m, transport::Transport::Reply reply) {
  Result<FetchRequest> req = DecodeFetchRequest(m.body);
  FetchReply out;
  if (req.ok()) {
    for (std::string& id : req->ids) {
      FetchItem item;
      if (std::optional<session::Stamp> t = store->TombstoneOf(id)) {
        item.kind = FetchItem::Kind::kTombstone;
        item.tombstone = std::move(*t);
      } else if (std::optional<session::Session> s = store->Get(id)) {
        item.kind = FetchItem::Kind::kSession;
        item.session = session::EncodeSession(*s);
      }
      item.id = std::move(id);
      out.items.push_back(std::move(item));
    }
  }
  reply(transport::Message{kFetchSessionType, EncodeFetchReply(out)});
}

}  // namespace sessiond::replication::internal
