// Deltas between in-process nodes over loopback: async and synchronized-ack delivery, every node
// holding every session, gap repair, convergence of concurrent writes, tombstones, local apps.
#include <gtest/gtest.h>

#include <thread>

#include "cluster_fixture.h"

namespace sessiond::replication {
namespace {

using testing::Cluster;
using testing::Eventually;
using testing::TestNode;
using transport::SendMode;

Cluster::Config Mode(SendMode mode) {
  Cluster::Config c;
  c.mode = mode;
  return c;
}

TEST(DeltaTest, AsyncWriteOnAIsVisibleOnB) {
  Cluster cluster;
  TestNode& a = cluster.Add("A", Mode(SendMode::kAsynchronous));
  TestNode& b = cluster.Add("B", Mode(SendMode::kAsynchronous));
  std::string id = a.CreateWith("greeting", "\"hello\"");
  EXPECT_TRUE(Eventually([&] { return b.Value(id, "greeting") == "\"hello\""; }));
  a.Set(id, "greeting", "\"again\"");
  EXPECT_TRUE(Eventually([&] { return b.Value(id, "greeting") == "\"again\""; }));
  EXPECT_TRUE(a.replicator->Flush(2000).ok());
  EXPECT_EQ(a.replicator->stats().deltas_sent, 2u);
  EXPECT_TRUE(Eventually([&] { return b.replicator->stats().deltas_applied == 2u; }));
  EXPECT_EQ(b.store->Get(id)->version, a.store->Get(id)->version);
}

TEST(DeltaTest, SyncAckValueIsOnBWhenCommitReturns) {
  Cluster cluster;
  TestNode& a = cluster.Add("A", Mode(SendMode::kSynchronizedAck));
  TestNode& b = cluster.Add("B", Mode(SendMode::kSynchronizedAck));
  for (int i = 0; i < 50; ++i) {
    std::string id = a.CreateWith("n", std::to_string(i));
    ASSERT_EQ(b.Value(id, "n"), std::to_string(i)) << "not on B when OnCommit returned";
  }
  EXPECT_EQ(a.replicator->stats().ack_timeouts, 0u);
  EXPECT_EQ(a.replicator->stats().send_failures, 0u);
}

TEST(DeltaTest, AcknowledgedModeDelivers) {
  Cluster cluster;
  TestNode& a = cluster.Add("A", Mode(SendMode::kAcknowledged));
  TestNode& b = cluster.Add("B", Mode(SendMode::kAcknowledged));
  std::string id = a.CreateWith("k", "1");
  EXPECT_TRUE(Eventually([&] { return b.Value(id, "k") == "1"; }));
  EXPECT_EQ(a.replicator->stats().ack_timeouts, 0u);
}

TEST(DeltaTest, SyncAckDoesNotHangOnADeadPeer) {
  Cluster cluster;
  TestNode& a = cluster.Add("A", Mode(SendMode::kSynchronizedAck));
  // A port nothing listens on any more: B died, membership has not noticed yet.
  uint16_t dead_port = 0;
  {
    auto t = transport::Transport::Start(&a.loop, {.node_name = "B", .port = 0, .auto_bind = 1,
                                                   .secret = testing::kSecret});
    ASSERT_TRUE(t.ok());
    dead_port = (*t)->port();
  }
  cluster.AddGhost(Peer{"B", {"127.0.0.1", dead_port}});
  auto start = std::chrono::steady_clock::now();
  a.CreateWith("k", "1");
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                std::chrono::steady_clock::now() - start).count();
  EXPECT_LT(ms, 2000) << "a refused connection must fail fast";
  EXPECT_EQ(a.replicator->stats().send_failures, 1u);
}

TEST(DeltaTest, ThreeNodesEachHoldEverySession) {
  Cluster cluster;
  std::vector<TestNode*> nodes{&cluster.Add("A", {}), &cluster.Add("B", {}), &cluster.Add("C", {})};
  std::vector<std::string> ids;
  for (int i = 0; i < 30; ++i) ids.push_back(nodes[i % 3]->CreateWith("i", std::to_string(i)));
  for (TestNode* n : nodes) {
    EXPECT_TRUE(Eventually([&] { return n->store->Count() == ids.size(); })) << n->name;
    for (size_t i = 0; i < ids.size(); ++i) EXPECT_EQ(n->Value(ids[i], "i"), std::to_string(i));
  }
}

TEST(DeltaTest, WritesFromEveryNodeToOneSessionReachEveryNode) {
  Cluster cluster;
  TestNode& a = cluster.Add("A", {});
  TestNode& b = cluster.Add("B", {});
  std::string id = a.CreateWith("from_a", "1");
  ASSERT_TRUE(Eventually([&] { return b.Value(id, "from_a") == "1"; }));
  for (int i = 0; i < 20; ++i) {  // round-robin through nginx: alternate nodes
    TestNode& n = i % 2 ? b : a;
    ASSERT_TRUE(Eventually([&] { return n.store->Get(id)->version == a.store->Get(id)->version &&
                                        n.store->Get(id)->version == b.store->Get(id)->version; }));
    n.Set(id, "counter", std::to_string(i));
  }
  EXPECT_TRUE(Eventually([&] { return a.Value(id, "counter") == "19" && b.Value(id, "counter") == "19"; }));
  EXPECT_EQ(a.replicator->stats().gaps_fetched + b.replicator->stats().gaps_fetched, 0u);
}

TEST(DeltaTest, VersionGapFetchesTheWholeSession) {
  Cluster cluster;
  TestNode& a = cluster.Add("A", {});
  TestNode& b = cluster.Add("B", {});
  cluster.Cut(a, b);  // B misses the create and the first write
  std::string id = a.CreateWith("x", "1");
  a.Set(id, "y", "2");
  cluster.Heal(a, b);
  a.Set(id, "z", "3");  // version 4 at a node that has nothing: a gap
  EXPECT_TRUE(Eventually([&] {
    return b.Value(id, "x") == "1" && b.Value(id, "y") == "2" && b.Value(id, "z") == "3";
  }));
  EXPECT_GE(b.replicator->stats().gaps_fetched, 1u);
  EXPECT_EQ(b.store->Get(id)->version, a.store->Get(id)->version);
}

TEST(DeltaTest, ReorderedDeltasAreHeldNotFetched) {
  Cluster cluster;
  TestNode& a = cluster.Add("A", {});
  TestNode& b = cluster.Add("B", {});
  std::string id = a.CreateWith("x", "0");
  ASSERT_TRUE(Eventually([&] { return b.Value(id, "x") == "0"; }));
  // Two commits of one session whose sinks run in the opposite order (two HTTP threads).
  session::EventBatch first, second;
  ASSERT_TRUE(a.store->SetAttribute(id, "x", "1", &first).ok());
  ASSERT_TRUE(a.store->SetAttribute(id, "x", "2", &second).ok());
  a.store->Commit(&second);
  std::this_thread::sleep_for(std::chrono::milliseconds(5));
  a.store->Commit(&first);
  EXPECT_TRUE(Eventually([&] { return b.Value(id, "x") == "2"; }));
  EXPECT_EQ(b.replicator->stats().gaps_fetched, 0u);
}

TEST(DeltaTest, ConcurrentWritesToOneAttributeConverge) {
  Cluster cluster;
  TestNode& a = cluster.Add("A", {});
  TestNode& b = cluster.Add("B", {});
  TestNode& c = cluster.Add("C", {});
  std::string id = a.CreateWith("k", "0");
  ASSERT_TRUE(Eventually([&] { return b.store->Get(id) && c.store->Get(id); }));
  std::thread ta([&] { for (int i = 0; i < 200; ++i) a.Set(id, "k", "\"a" + std::to_string(i) + "\""); });
  std::thread tb([&] { for (int i = 0; i < 200; ++i) b.Set(id, "k", "\"b" + std::to_string(i) + "\""); });
  ta.join();
  tb.join();
  EXPECT_TRUE(Eventually([&] {
    std::string v = a.Value(id, "k");
    return v == b.Value(id, "k") && v == c.Value(id, "k");
  })) << a.Value(id, "k") << " " << b.Value(id, "k") << " " << c.Value(id, "k");
  auto sa = a.store->Get(id), sb = b.store->Get(id), sc = c.store->Get(id);
  EXPECT_EQ(sa->attributes, sb->attributes);
  EXPECT_EQ(sa->attributes, sc->attributes);
}

TEST(DeltaTest, InvalidationNeverResurrectsThroughALateDelta) {
  Cluster cluster;
  TestNode& a = cluster.Add("A", {});
  TestNode& b = cluster.Add("B", {});
  std::string id = a.CreateWith("k", "1");
  ASSERT_TRUE(Eventually([&] { return b.store->Get(id).has_value(); }));
  session::EventBatch late;
  ASSERT_TRUE(a.store->SetAttribute(id, "k", "2", &late).ok());  // held back: arrives last
  session::EventBatch gone;
  ASSERT_TRUE(a.store->Invalidate(id, &gone).ok());
  a.store->Commit(&gone);
  ASSERT_TRUE(Eventually([&] { return !b.store->Get(id).has_value(); }));
  a.store->Commit(&late);
  ASSERT_TRUE(a.replicator->Flush(2000).ok());
  std::this_thread::sleep_for(std::chrono::milliseconds(100));  // past the gap hold
  EXPECT_FALSE(b.store->Get(id).has_value());
  EXPECT_FALSE(a.store->Get(id).has_value());
}

TEST(DeltaTest, NonDistributableSessionsNeverLeaveTheNode) {
  Cluster cluster;
  TestNode& a = cluster.Add("A", {});
  TestNode& b = cluster.Add("B", {});
  std::string local = a.CreateWith("secret", "1", /*dist=*/false);
  a.Set(local, "more", "2");
  std::string shared = a.CreateWith("public", "1");
  ASSERT_TRUE(Eventually([&] { return b.store->Get(shared).has_value(); }));
  EXPECT_FALSE(b.store->Get(local).has_value());
  EXPECT_EQ(a.replicator->stats().deltas_sent, 1u);
}

TEST(DeltaTest, FlushWaitsForQueuedDeltasAndMetricsCount) {
  Cluster cluster;
  TestNode& a = cluster.Add("A", {});
  TestNode& b = cluster.Add("B", {});
  std::string id = a.CreateWith("k", "0");
  for (int i = 0; i < 500; ++i) a.Set(id, "k", std::to_string(i));
  EXPECT_TRUE(a.replicator->Flush(5000).ok());
  EXPECT_TRUE(Eventually([&] { return b.Value(id, "k") == "499"; }));
  std::string text_a = a.registry.RenderPrometheus();
  EXPECT_NE(text_a.find("sessiond_deltas_sent_total 501"), std::string::npos) << text_a;
  EXPECT_NE(text_a.find("sessiond_delta_bytes_sent_total"), std::string::npos);
  EXPECT_TRUE(Eventually([&] {
    return b.registry.RenderPrometheus().find("sessiond_deltas_applied_total 501") != std::string::npos;
  }));
  std::string text_b = b.registry.RenderPrometheus();
  EXPECT_NE(text_b.find("sessiond_replication_lag_seconds_count 501"), std::string::npos) << text_b;
  EXPECT_NE(text_b.find("sessiond_delta_bytes_received_total"), std::string::npos);
}

TEST(DeltaTest, HoldersListsThisNodeFirst) {
  Cluster cluster;
  TestNode& a = cluster.Add("A", {});
  TestNode& b = cluster.Add("B", {});
  TestNode& c = cluster.Add("C", {});
  cluster.Cut(a, c);  // C never gets it; A does not ask C
  std::string id = a.CreateWith("k", "1");
  ASSERT_TRUE(Eventually([&] { return b.store->Get(id).has_value(); }));
  std::vector<Holder> holders = b.replicator->Holders(id, 2000);
  ASSERT_EQ(holders.size(), 3u);
  EXPECT_EQ(holders[0].node, "B");
  EXPECT_EQ(holders[0].version, a.store->Get(id)->version);
  EXPECT_EQ(holders[1].node, "A");
  EXPECT_TRUE(holders[1].answered);
  EXPECT_EQ(holders[1].version, a.store->Get(id)->version);
  EXPECT_EQ(holders[2].node, "C");
  EXPECT_TRUE(holders[2].answered);
  EXPECT_FALSE(holders[2].version.has_value());
}

}  // namespace
}  // namespace sessiond::replication
