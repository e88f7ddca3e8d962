// Anti-entropy: after a partition heals (or deltas were lost) nodes converge by digest, without a
// restart, and tombstones win.
#include <gtest/gtest.h>

#include <algorithm>
#include <thread>

#include "cluster_fixture.h"

namespace sessiond::replication {
namespace {

using testing::Cluster;
using testing::Eventually;
using testing::TestNode;

std::vector<session::DigestEntry> Sorted(std::vector<session::DigestEntry> d) {
  std::sort(d.begin(), d.end(), [](const auto& a, const auto& b) { return a.id < b.id; });
  return d;
}

bool SameState(const TestNode& a, const TestNode& b) {
  return Sorted(a.store->Digest()) == Sorted(b.store->Digest());
}

TEST(AntiEntropyTest, PartitionHealsAndBothSidesConverge) {
  Cluster cluster;
  TestNode& a = cluster.Add("A", {});
  TestNode& b = cluster.Add("B", {});
  std::string shared = a.CreateWith("k", "0");
  std::string doomed = a.CreateWith("k", "0");
  ASSERT_TRUE(Eventually([&] { return b.store->Count() == 2; }));
  cluster.Cut(a, b);
  // Each side writes on its own: new sessions, the same attribute, other attributes.
  std::string only_a = a.CreateWith("side", "\"a\"");
  std::string only_b = b.CreateWith("side", "\"b\"");
  a.Set(shared, "k", "\"from a\"");
  std::this_thread::sleep_for(std::chrono::milliseconds(3));  // a later wall ms: B's stamp is higher
  b.Set(shared, "k", "\"from b, later\"");  // the later HLC stamp wins everywhere
  a.Set(shared, "a_only", "1");
  b.Set(shared, "b_only", "2");
  session::EventBatch gone;
  ASSERT_TRUE(b.store->Invalidate(doomed, &gone).ok());
  b.store->Commit(&gone);
  a.Set(doomed, "k", "\"written on A after B invalidated it\"");
  EXPECT_FALSE(SameState(a, b));
  cluster.Heal(a, b);
  a.replicator->ReconcileWith(b.peer());  // B runs a round back on its own
  EXPECT_TRUE(Eventually([&] { return SameState(a, b); })) << "did not converge";
  for (TestNode* n : {&a, &b}) {
    EXPECT_EQ(n->Value(only_a, "side"), "\"a\"") << n->name;
    EXPECT_EQ(n->Value(only_b, "side"), "\"b\"") << n->name;
    EXPECT_EQ(n->Value(shared, "k"), "\"from b, later\"") << n->name;
    EXPECT_EQ(n->Value(shared, "a_only"), "1") << n->name;
    EXPECT_EQ(n->Value(shared, "b_only"), "2") << n->name;
    EXPECT_FALSE(n->store->Get(doomed).has_value()) << n->name << ": the tombstone must win";
  }
  EXPECT_GE(a.replicator->stats().anti_entropy_repaired, 1u);
  EXPECT_GE(b.replicator->stats().anti_entropy_repaired, 1u);
}

TEST(AntiEntropyTest, PeriodicRoundsRepairLostDeltas) {
  Cluster cluster;
  Cluster::Config periodic;
  periodic.anti_entropy_period_ms = 100;
  TestNode& a = cluster.Add("A", periodic);
  TestNode& b = cluster.Add("B", periodic);
  cluster.Cut(a, b);
  for (int i = 0; i < 300; ++i) a.CreateWith("i", std::to_string(i));
  cluster.Heal(a, b);  // nothing re-sends those 300 creates: only the digest rounds
  EXPECT_TRUE(Eventually([&] { return b.store->Count() == 300 && SameState(a, b); }));
  EXPECT_GE(b.replicator->stats().anti_entropy_rounds, 1u);
}

TEST(AntiEntropyTest, EqualNodesExchangeOnlyDigests) {
  Cluster cluster;
  TestNode& a = cluster.Add("A", {});
  TestNode& b = cluster.Add("B", {});
  for (int i = 0; i < 20; ++i) a.CreateWith("i", std::to_string(i));
  ASSERT_TRUE(Eventually([&] { return SameState(a, b); }));
  a.replicator->ReconcileWith(b.peer());
  ASSERT_TRUE(Eventually([&] {
    return a.replicator->stats().anti_entropy_rounds == 1 &&
           b.replicator->stats().anti_entropy_rounds == 1;
  }));
  EXPECT_EQ(a.replicator->stats().anti_entropy_repaired, 0u);
  EXPECT_EQ(b.replicator->stats().anti_entropy_repaired, 0u);
}

}  // namespace
}  // namespace sessiond::replication
