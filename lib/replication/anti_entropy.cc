// Replicator: anti-entropy (digest rounds) and holders.
//
// A round with a peer PULLS what differs; both sides run rounds (each on its own timer, and
// ReconcileWith asks the peer to run one back at once), so each side only pulls:
//   1. ask the peer's digest: 256 buckets (by a stable hash of the id's base), each the XOR of
//      a mix of (id, ContentHash) of its sessions and tombstones;
//   2. for the buckets that differ from ours, ask the peer's entries (id, version, hash,
//      tombstone);
//   3. fetch every id whose entry differs from ours (absent here, other version or hash, or a
//      tombstone there) and merge it: SessionStore::Merge (per-attribute LWW, union of removal
//      markers, latest access) or RestoreTombstone (a tombstone beats any session state).
// Merging is a join, so both sides end with the same state whatever the order, and the next
// round finds equal digests.
#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <unordered_map>

#include "replication/replicator_core.h"

namespace sessiond::replication::internal {
namespace {

using transport::Message;

std::vector<session::DigestEntry> EntriesIn(const session::SessionStore& store,
                                            const std::vector<uint32_t>& buckets) {
  std::vector<bool> wanted(kDigestBuckets, false);
  for (uint32_t b : buckets) wanted[b] = true;
  std::vector<session::DigestEntry> all = store.Digest();
  std::erase_if(all, [&](const session::DigestEntry& e) { return !wanted[BucketOf(e.id)]; });
  return all;
}

/// The ids whose remote entry differs from ours and is worth pulling.
std::vector<std::string> ToPull(const std::vector<session::DigestEntry>& mine,
                                const std::vector<session::DigestEntry>& theirs) {
  std::unordered_map<std::string_view, const session::DigestEntry*> by_id;
  for (const auto& e : mine) by_id.emplace(e.id, &e);
  std::vector<std::string> pull;
  for (const auto& e : theirs) {
    auto it = by_id.find(e.id);
    if (it == by_id.end()) {
      pull.push_back(e.id);
    } else if (!it->second->tombstone && !(*it->second == e)) {
      pull.push_back(e.id);  // a tombstone here already beats whatever they hold
    }
  }
  return pull;
}

}  // namespace

void Core::OnDigest(const transport::Sender& from, Message m, transport::Transport::Reply reply) {
  Result<DigestRequest> req = DecodeDigestRequest(m.body);
  reply(Message{kDigestType, EncodeDigestReply(DigestOf(store->Digest()))});
  if (!req.ok() || !req->reconcile_back) return;
  if (std::optional<Peer> peer = PeerNamed(from.node)) StartRound(*peer, /*ask_back=*/false);
}

void Core::OnBucket(Message m, transport::Transport::Reply reply) {
  Result<BucketRequest> req = DecodeBucketRequest(m.body);
  BucketReply out;
  if (req.ok()) out.entries = EntriesIn(*store, req->buckets);
  reply(Message{kBucketType, EncodeBucketReply(out)});
}

// Each step is a Request whose callback (loop thread) starts the next; `finish` ends the round.
void Core::StartRound(const Peer& peer, bool ask_back) {
  if (stopped) return;
  const int64_t now = MonotonicMillis();
  auto running = rounds_running.find(peer.name);
  if (running != rounds_running.end() && now - running->second < 2 * kRoundTimeoutMs) return;
  rounds_running[peer.name] = now;
  std::weak_ptr<Core> weak = weak_from_this();
  auto finish = [weak, name = peer.name](uint64_t repaired) {
    if (auto self = weak.lock()) {
      self->rounds_running.erase(name);
      ++self->anti_entropy_rounds;
      self->anti_entropy_repaired += repaired;
      if (self->metrics.anti_entropy_rounds) self->metrics.anti_entropy_rounds->Inc();
      if (self->metrics.anti_entropy_repaired) self->metrics.anti_entropy_repaired->Inc(repaired);
    }
  };
  Message ask{kDigestType, EncodeDigestRequest(DigestRequest{ask_back})};
  transport->Request(peer.address, std::move(ask), kRoundTimeoutMs,
                     [weak, peer, finish](Result<Message> r) {
                       auto self = weak.lock();
                       if (!self) return;
                       Result<DigestReply> theirs =
                           r.ok() ? DecodeDigestReply(r->body) : Result<DigestReply>(r.status());
                       if (!theirs.ok()) return finish(0);
                       DigestReply mine = DigestOf(self->store->Digest());
                       BucketRequest differ;
                       for (uint32_t b = 0; b < kDigestBuckets; ++b) {
                         if (mine.buckets[b] != theirs->buckets[b]) differ.buckets.push_back(b);
                       }
                       if (differ.buckets.empty()) return finish(0);
                       self->CompareBuckets(peer, std::move(differ), finish);
                     });
}

void Core::CompareBuckets(const Peer& peer, BucketRequest differ,
                          std::function<void(uint64_t)> finish) {
  std::weak_ptr<Core> weak = weak_from_this();
  std::vector<uint32_t> buckets = differ.buckets;
  Message ask{kBucketType, EncodeBucketRequest(differ)};
  transport->Request(
      peer.address, std::move(ask), kRoundTimeoutMs,
      [weak, peer, buckets = std::move(buckets), finish](Result<Message> r) {
        auto self = weak.lock();
        if (!self) return;
        Result<BucketReply> theirs =
            r.ok() ? DecodeBucketReply(r->body) : Result<BucketReply>(r.status());
        if (!theirs.ok()) return finish(0);
        std::vector<std::string> pull = ToPull(EntriesIn(*self->store, buckets), theirs->entries);
        self->PullAll(peer, std::move(pull), 0, 0, finish);
      });
}

// Fetches `ids` in chunks of kMaxFetchIds, one after the other (a bounded load on the peer).
void Core::PullAll(const Peer& peer, std::vector<std::string> ids, size_t from, uint64_t repaired,
                   std::function<void(uint64_t)> finish) {
  if (from >= ids.size() || stopped) return finish(repaired);
  size_t end = std::min(ids.size(), from + kMaxFetchIds);
  std::vector<std::string> chunk(ids.begin() + from, ids.begin() + end);
  std::weak_ptr<Core> weak = weak_from_this();
  Fetch(peer, std::move(chunk),
        [weak, peer, ids = std::move(ids), end, repaired, finish](Result<uint64_t> changed) {
          auto self = weak.lock();
          if (!self) return;
          if (!changed.ok()) return finish(repaired);
          self->PullAll(peer, std::move(ids), end, repaired + *changed, finish);
        });
}

void Core::StartAntiEntropyTimer() {
  if (options.anti_entropy_period_ms <= 0) return;
  std::weak_ptr<Core> weak = weak_from_this();
  anti_entropy_timer = loop->Every(options.anti_entropy_period_ms, [weak] {
    auto self = weak.lock();
    if (!self || self->stopped || !self->options.alive_peers) return;
    for (const Peer& peer : self->options.alive_peers()) self->StartRound(peer, false);
  });
}

void Core::OnHolders(Message m, transport::Transport::Reply reply) {
  Result<HoldersRequest> req = DecodeHoldersRequest(m.body);
  HoldersReply out;
  if (req.ok()) {
    if (std::optional<session::Session> s = store->Get(req->id)) {
      out.has = true;
      out.version = s->version;
    }
  }
  reply(Message{kHoldersType, EncodeHoldersReply(out)});
}

std::vector<Holder> Core::Holders(const std::string& id, int64_t timeout_ms) {
  struct Answers {
    std::mutex mu;
    std::condition_variable cv;
    std::vector<Holder> holders;  // GUARDED_BY(mu); [0] is this node
    size_t pending = 0;           // GUARDED_BY(mu)
  };
  auto answers = std::make_shared<Answers>();
  Holder self_holder{options.node_name, std::nullopt, true};
  if (std::optional<session::Session> s = store->Get(id)) self_holder.version = s->version;
  std::vector<Peer> peers = options.alive_peers ? options.alive_peers() : std::vector<Peer>{};
  std::sort(peers.begin(), peers.end(), [](const Peer& a, const Peer& b) { return a.name < b.name; });
  answers->holders.push_back(self_holder);
  for (const Peer& p : peers) answers->holders.push_back(Holder{p.name, std::nullopt, false});
  if (loop->InLoop()) return answers->holders;  // cannot wait for replies on their own thread
  answers->pending = peers.size();
  for (size_t i = 0; i < peers.size(); ++i) {
    Message ask{kHoldersType, EncodeHoldersRequest(HoldersRequest{id})};
    transport->Request(peers[i].address, std::move(ask), std::max<int64_t>(1, timeout_ms),
                       [answers, slot = i + 1](Result<Message> r) {
                         std::lock_guard lock(answers->mu);
                         if (r.ok()) {
                           Result<HoldersReply> h = DecodeHoldersReply(r->body);
                           if (h.ok()) {
                             answers->holders[slot].answered = true;
                             if (h->has) answers->holders[slot].version = h->version;
                           }
                         }
                         --answers->pending;
                         answers->cv.notify_all();
                       });
  }
  std::unique_lock lock(answers->mu);
  answers->cv.wait_for(lock, std::chrono::milliseconds(std::max<int64_t>(0, timeout_ms)),
                       [&] { return answers->pending == 0; });
  return answers->holders;
}

}  // namespace sessiond::replication::internal
