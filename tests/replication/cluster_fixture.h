// In-process clusters for the replication tests: per node one EventLoop, Transport (127.0.0.1,
// ephemeral port), SessionStore and Replicator. Who is alive to whom is a list the test controls
// (Cut/Heal simulate a partition: membership stops reporting the other side and the pooled
// connections close).
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "replication/replication.h"

namespace sessiond::replication::testing {

inline const transport::Secret kSecret = transport::DeriveSecret("replication-test-secret-0123456789");

/// Polls `pred` until it holds or `ms` passed.
inline bool Eventually(const std::function<bool()>& pred, int ms = 5000) {
  auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
  while (std::chrono::steady_clock::now() < until) {
    if (pred()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return pred();
}

struct TestNode {
  std::string name;
  transport::EventLoop loop;
  std::unique_ptr<session::SessionStore> store;
  std::unique_ptr<transport::Transport> transport;
  std::unique_ptr<Replicator> replicator;
  metrics::Registry registry;

  transport::PeerAddress address() const { return {"127.0.0.1", transport->port()}; }
  Peer peer() const { return Peer{name, address()}; }

  /// A new session with one attribute, committed (so it replicates).
  std::string CreateWith(const std::string& name_, const std::string& json, bool dist = true) {
    session::EventBatch batch;
    auto s = store->Create("/app", 1800, dist, &batch);
    EXPECT_TRUE(s.ok()) << s.status().ToString();
    EXPECT_TRUE(store->SetAttribute(s->id, name_, json, &batch).ok());
    store->Commit(&batch);
    return s->id;
  }
  void Set(const std::string& id, const std::string& attr, const std::string& json) {
    session::EventBatch batch;
    Status st = store->SetAttribute(id, attr, json, &batch);
    EXPECT_TRUE(st.ok()) << st.ToString();
    store->Commit(&batch);
  }
  /// The attribute's JSON on this node; "<none>" when the session or attribute is absent.
  std::string Value(const std::string& id, const std::string& attr) const {
    auto s = store->Get(id);
    if (!s) return "<none>";
    auto it = s->attributes.find(attr);
    return it == s->attributes.end() ? "<none>" : it->second.json;
  }
};

class Cluster {
 public:
  struct Config {
    transport::SendMode mode = transport::SendMode::kAsynchronous;
    int64_t anti_entropy_period_ms = 0;  ///< 0: only ReconcileWith
    int64_t state_transfer_timeout_ms = 20000;
    size_t state_batch_bytes = 4 << 20;
    int connections_per_peer = 2;
  };

  // Loops first: once none runs, no handler or callback can reach a replicator being destroyed.
  ~Cluster() {
    for (auto& n : nodes_) n->loop.Stop();
    for (auto& n : nodes_) {
      n->replicator.reset();
      n->transport.reset();
    }
  }

  TestNode& Add(const std::string& name, const Config& config) {
    auto node = std::make_unique<TestNode>();
    node->name = name;
    node->loop.Start();
    session::SessionStore::Options so;
    so.node_name = name;
    node->store = std::make_unique<session::SessionStore>(so);
    transport::TransportOptions to;
    to.node_name = name;
    to.port = 0;
    to.auto_bind = 1;
    to.secret = kSecret;
    to.connections_per_peer = config.connections_per_peer;
    auto t = transport::Transport::Start(&node->loop, to);
    EXPECT_TRUE(t.ok()) << t.status().ToString();
    node->transport = std::move(t).value();
    ReplicationOptions ro;
    ro.node_name = name;
    ro.mode = config.mode;
    ro.ack_timeout_ms = 3000;
    ro.anti_entropy_period_ms = config.anti_entropy_period_ms;
    ro.state_transfer_timeout_ms = config.state_transfer_timeout_ms;
    ro.state_batch_bytes = config.state_batch_bytes;
    ro.alive_peers = [this, name] { return AlivePeersOf(name); };
    ro.metrics = &node->registry;
    auto r = Replicator::Start(&node->loop, node->transport.get(), node->store.get(), ro);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    node->replicator = std::move(r).value();
    node->store->AddSink(node->replicator.get());
    std::lock_guard lock(mu_);
    nodes_.push_back(std::move(node));
    return *nodes_.back();
  }

  /// Membership: `a` and `b` stop seeing each other; their connections close.
  void Cut(TestNode& a, TestNode& b) {
    {
      std::lock_guard lock(mu_);
      cut_.insert({a.name, b.name});
      cut_.insert({b.name, a.name});
    }
    a.transport->Disconnect(b.address());
    b.transport->Disconnect(a.address());
  }
  void Heal(TestNode& a, TestNode& b) {
    std::lock_guard lock(mu_);
    cut_.erase({a.name, b.name});
    cut_.erase({b.name, a.name});
  }
  /// `node` no longer exists for anyone (a node that has not joined yet).
  void Hide(const std::string& name) {
    std::lock_guard lock(mu_);
    hidden_.insert(name);
  }
  void Unhide(const std::string& name) {
    std::lock_guard lock(mu_);
    hidden_.erase(name);
  }

  /// A member membership still reports alive to everyone, though nothing answers there.
  void AddGhost(Peer ghost) {
    std::lock_guard lock(mu_);
    ghosts_.push_back(std::move(ghost));
  }

  std::vector<Peer> AlivePeersOf(const std::string& self) {
    std::lock_guard lock(mu_);
    std::vector<Peer> peers = ghosts_;
    for (auto& n : nodes_) {
      if (n->name == self || hidden_.count(n->name) || hidden_.count(self)) continue;
      if (cut_.count({self, n->name})) continue;
      peers.push_back(n->peer());
    }
    return peers;
  }

 private:
  std::mutex mu_;
  std::vector<std::unique_ptr<TestNode>> nodes_;  // GUARDED_BY(mu_) for AlivePeersOf
  std::set<std::pair<std::string, std::string>> cut_;
  std::set<std::string> hidden_;
  std::vector<Peer> ghosts_;
};

}  // namespace sessiond::replication::testing
