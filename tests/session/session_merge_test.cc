// SessionStore::Merge, RestoreTombstone, TombstoneOf/Tombstones and Digest: the operations
// replication's gap repair, state transfer and anti-entropy rely on.
#include <gtest/gtest.h>

#include <algorithm>

#include "session/session.h"
#include "session_test_util.h"

namespace sessiond::session {
namespace {

using testing::Node;
using testing::RecordingSink;

std::vector<DigestEntry> SortedDigest(const Node& n) {
  auto d = n.store->Digest();
  std::sort(d.begin(), d.end(), [](const auto& a, const auto& b) { return a.id < b.id; });
  return d;
}

class MergeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    EventBatch batch;
    id_ = a_.store->Create("/app", 1800, true, &batch)->id;
    ASSERT_TRUE(b_.store->Merge(*a_.store->Get(id_), false));
  }
  void Set(Node& n, std::string_view name, std::string json) {
    EventBatch batch;
    ASSERT_TRUE(n.store->SetAttribute(id_, name, std::move(json), &batch).ok());
  }
  Node a_{"a"};
  Node b_{"b"};
  std::string id_;
};

TEST_F(MergeTest, IsSymmetricAndConverges) {
  Set(a_, "k", "1");
  b_.wall.Advance(5);
  Set(b_, "k", "2");  // later: wins on both
  Set(a_, "only_a", "true");
  Set(b_, "only_b", "true");
  EventBatch batch;
  ASSERT_TRUE(b_.store->RemoveAttribute(id_, "only_b", &batch).ok());
  Session sa = *a_.store->Get(id_), sb = *b_.store->Get(id_);
  EXPECT_TRUE(a_.store->Merge(sb, false));
  EXPECT_TRUE(b_.store->Merge(sa, false));
  EXPECT_EQ(*a_.store->Get(id_), *b_.store->Get(id_));
  EXPECT_EQ(a_.store->Get(id_)->attributes.at("k").json, "2");
  EXPECT_TRUE(a_.store->Get(id_)->removed.count("only_b"));
  EXPECT_EQ(SortedDigest(a_), SortedDigest(b_));
  EXPECT_FALSE(a_.store->Merge(*b_.store->Get(id_), false)) << "merging again changes nothing";
}

TEST_F(MergeTest, InsertsAbsentSessionsAndPublishesWithoutAWriter) {
  Node c{"c"};
  RecordingSink sink;
  c.store->AddSink(&sink);
  EXPECT_TRUE(c.store->Merge(*a_.store->Get(id_), true));
  EXPECT_EQ(c.store->Count(), 1u);
  ASSERT_EQ(sink.batches().size(), 1u);
  EXPECT_EQ(sink.batches()[0][0].session_id, id_);
  EXPECT_TRUE(sink.batches()[0][0].stamp.node.empty());
}

TEST_F(MergeTest, TombstoneBeatsAnyMergedState) {
  EventBatch batch;
  ASSERT_TRUE(a_.store->Invalidate(id_, &batch).ok());
  ASSERT_TRUE(a_.store->TombstoneOf(id_).has_value());
  EXPECT_FALSE(a_.store->Merge(*b_.store->Get(id_), false));
  EXPECT_FALSE(a_.store->Get(id_).has_value());
  Stamp stamp = *a_.store->TombstoneOf(id_);
  EXPECT_TRUE(b_.store->RestoreTombstone(id_, stamp, false));
  EXPECT_FALSE(b_.store->Get(id_).has_value());
  EXPECT_EQ(b_.store->Count(), 0u);
  EXPECT_EQ(SortedDigest(a_), SortedDigest(b_));
  ASSERT_EQ(b_.store->Tombstones().size(), 1u);
  EXPECT_EQ(b_.store->Tombstones()[0].first, id_);
}

TEST_F(MergeTest, RestoredTombstoneLastsFromItsStampNotFromNow) {
  EventBatch batch;
  ASSERT_TRUE(a_.store->Invalidate(id_, &batch).ok());
  Stamp stamp = *a_.store->TombstoneOf(id_);
  b_.wall.Advance(11 * 60 * 1000);  // past the 10-minute tombstone period of that stamp
  EXPECT_FALSE(b_.store->RestoreTombstone(id_, stamp, false));
  EXPECT_FALSE(b_.store->TombstoneOf(id_).has_value());
}

TEST_F(MergeTest, ContentHashFollowsStampsNotValues) {
  Session s = *a_.store->Get(id_);
  uint64_t before = ContentHash(s);
  s.attributes["x"] = Attribute{"1", Stamp{5, "a"}};
  EXPECT_NE(ContentHash(s), before);
  EXPECT_EQ(StableHash("abc"), StableHash("abc"));
  EXPECT_NE(StableHash("abc"), StableHash("abd"));
}

}  // namespace
}  // namespace sessiond::session
