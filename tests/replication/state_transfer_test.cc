// State transfer to a joining node: everything arrives, in batches, with tombstones; a transfer
// that cannot finish is an error that says how far it got.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>

#include "cluster_fixture.h"
#include "replication/replication_internal.h"

namespace sessiond::replication {
namespace {

using testing::Cluster;
using testing::Eventually;
using testing::TestNode;

// `n` sessions of about `value_bytes` each, written straight into the store (no replication).
void Fill(TestNode& node, size_t n, size_t value_bytes) {
  const std::string value = "\"" + std::string(value_bytes, 'v') + "\"";
  for (size_t i = 0; i < n; ++i) {
    session::EventBatch ignored;
    auto s = node.store->Create("/app", 1800, true, &ignored);
    ASSERT_TRUE(node.store->SetAttribute(s->id, "data", value, &ignored).ok());
  }
}

int64_t TimeTransfer(TestNode& joiner, Status* status) {
  auto start = std::chrono::steady_clock::now();
  *status = joiner.replicator->TransferState();
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                               start).count();
}

TEST(StateTransferTest, FirstNodeHasNothingToPull) {
  Cluster cluster;
  TestNode& a = cluster.Add("A", {});
  EXPECT_TRUE(a.replicator->TransferState().ok());
  EXPECT_EQ(a.replicator->progress().state, StateTransferProgress::State::kNone);
}

TEST(StateTransferTest, JoinerReceivesTenThousandSessions) {
  Cluster cluster;
  Cluster::Config small_batches;
  small_batches.state_batch_bytes = 256 << 10;  // many batches: the cursor is exercised
  TestNode& a = cluster.Add("A", small_batches);
  Fill(a, 10000, 1000);
  TestNode& b = cluster.Add("B", small_batches);
  Status status;
  int64_t ms = TimeTransfer(b, &status);
  ASSERT_TRUE(status.ok()) << status.ToString();
  EXPECT_EQ(b.store->Count(), 10000u);
  StateTransferProgress p = b.replicator->progress();
  EXPECT_EQ(p.state, StateTransferProgress::State::kDone);
  EXPECT_EQ(p.from, "A");
  EXPECT_EQ(p.received, 10000u);
  EXPECT_EQ(p.expected, 10000u);
  EXPECT_NE(b.registry.RenderPrometheus().find("sessiond_state_transfer_seconds"), std::string::npos);
  std::printf("state transfer: 10,000 sessions of 1 KB in %lld ms\n", static_cast<long long>(ms));
  auto one = a.store->List({});
  ASSERT_FALSE(one.empty());
  EXPECT_EQ(b.store->Get(one[0].id), one[0]);
}

// 100,000 × 1 KB (the target: <= 1 s). Slow to fill, so opt-in:
// SESSIOND_BIG_TRANSFER=1 tests/support/netns-run build/tests/replication_tests
//   --gtest_filter='*HundredThousand*'
TEST(StateTransferTest, HundredThousandSessionsOfOneKilobyte) {
  if (!std::getenv("SESSIOND_BIG_TRANSFER")) GTEST_SKIP() << "set SESSIOND_BIG_TRANSFER=1";
  Cluster cluster;
  Cluster::Config config;
  if (const char* bytes = std::getenv("SESSIOND_BATCH_BYTES")) config.state_batch_bytes = std::atoi(bytes);
  TestNode& a = cluster.Add("A", config);
  Fill(a, 100000, 1000);
  TestNode& b = cluster.Add("B", config);
  Status status;
  int64_t ms = TimeTransfer(b, &status);
  ASSERT_TRUE(status.ok()) << status.ToString();
  EXPECT_EQ(b.store->Count(), 100000u);
  std::printf("state transfer: 100,000 sessions of 1 KB in %lld ms\n", static_cast<long long>(ms));
  EXPECT_LE(ms, 1000) << "target: 100,000 sessions in <= 1 s";
}

TEST(StateTransferTest, MergesWithRestoredSessionsAndHonoursTombstones) {
  Cluster cluster;
  TestNode& a = cluster.Add("A", {});
  std::string kept = a.CreateWith("v", "\"new\"");
  std::string dead = a.CreateWith("v", "\"doomed\"");
  TestNode& b = cluster.Add("B", {});
  cluster.Hide("B");
  // B restarts with SQLite copies: `kept` is older than the cluster's, `dead` was invalidated
  // while B was down.
  session::Session stale = *a.store->Get(kept);
  stale.version = 1;
  stale.attributes["v"] = session::Attribute{"\"old\"", session::Stamp{1, "A"}};
  stale.attributes["local_only"] = session::Attribute{"1", session::Stamp{2, "A"}};
  ASSERT_TRUE(b.store->Restore(stale));
  ASSERT_TRUE(b.store->Restore(*a.store->Get(dead)));
  session::EventBatch gone;
  ASSERT_TRUE(a.store->Invalidate(dead, &gone).ok());
  a.store->Commit(&gone);
  cluster.Unhide("B");
  ASSERT_TRUE(b.replicator->TransferState().ok());
  EXPECT_EQ(b.Value(kept, "v"), "\"new\"");
  EXPECT_EQ(b.Value(kept, "local_only"), "1") << "a merge keeps what only the joiner had";
  EXPECT_FALSE(b.store->Get(dead).has_value()) << "the stale SQLite copy must not resurrect";
}

// The first member by name cannot answer (here: a malformed reply; in tests/chaos it was SIGSTOPped
// or partitioned away); the joiner pulls from the next one instead of staying out for good.
TEST(StateTransferTest, AMemberThatCannotAnswerIsSkippedForTheNext) {
  Cluster cluster;
  TestNode& a = cluster.Add("A", {});
  a.transport->Handle(kStateBatchType, [](const transport::Sender&, transport::Message,
                                          transport::Transport::Reply reply) {
    reply(transport::Message{kStateBatchType, "garbage"});
  });
  TestNode& b = cluster.Add("B", {});
  ASSERT_NO_FATAL_FAILURE(Fill(b, 20, 10));
  TestNode& c = cluster.Add("C", {});
  Status status;
  TimeTransfer(c, &status);
  ASSERT_TRUE(status.ok()) << status.message();
  EXPECT_EQ(c.store->Count(), 20u);
  EXPECT_EQ(c.replicator->progress().from, "B");
}

TEST(StateTransferTest, TimeoutNamesThePeerAndProgress) {
  Cluster cluster;
  Cluster::Config quick;
  quick.state_transfer_timeout_ms = 500;
  TestNode& a = cluster.Add("A", quick);
  // A answers the first batch (2 of 10 sessions) and then never again.
  auto asked = std::make_shared<std::atomic<int>>(0);
  a.transport->Handle(kStateBatchType, [asked](const transport::Sender&, transport::Message,
                                               transport::Transport::Reply reply) {
    if (++*asked > 1) return;  // a hung peer: no reply
    internal::StateBatchReply r;
    r.total = 10;
    r.next_cursor = "B";
    session::Session s;
    for (const char* id : {"A", "B"}) {
      s.id = id;
      r.sessions.push_back(session::EncodeSession(s));
    }
    reply(transport::Message{kStateBatchType, internal::EncodeStateBatchReply(r)});
  });
  TestNode& b = cluster.Add("B", quick);
  Status status;
  int64_t ms = TimeTransfer(b, &status);
  EXPECT_EQ(status.code(), Code::kUnavailable);
  EXPECT_NE(status.message().find("from A failed after 2 of 10 sessions"), std::string::npos)
      << status.message();
  EXPECT_LT(ms, 2000);
  StateTransferProgress p = b.replicator->progress();
  EXPECT_EQ(p.state, StateTransferProgress::State::kFailed);
  EXPECT_EQ(p.error, status.message());
}

}  // namespace
}  // namespace sessiond::replication
