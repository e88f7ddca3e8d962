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

// A split brain: b re-issued a's session under its own route (JvmRouteBinderValve, a seen dead)
// while a kept writing to the old id. Anti-entropy pulls both ways: both must end with one
// session under b's id (the only id change wins), the old id an alias, the writes of both sides
// kept, and equal digests (no endless re-pulls).
TEST_F(MergeTest, ASplitBrainRenameConvergesOnTheRenamedId) {
  EventBatch batch;
  b_.wall.Advance(10);
  std::string id_b = *b_.store->ChangeRoute(id_, "b", &batch);
  ASSERT_NE(id_b, id_);
  Set(a_, "from_a", "1");
  batch.clear();
  ASSERT_TRUE(b_.store->SetAttribute(id_b, "from_b", "2", &batch).ok());
  RecordingSink sink;
  a_.store->AddSink(&sink);

  Session sa = *a_.store->Get(id_), sb = *b_.store->Get(id_b);
  EXPECT_TRUE(b_.store->Merge(sa, false)) << "b must take a's writes to the old id";
  EXPECT_TRUE(a_.store->Merge(sb, true)) << "a must learn the rename";
  for (Node* n : {&a_, &b_}) {
    EXPECT_EQ(n->store->Count(), 1u);
    ASSERT_TRUE(n->store->Get(id_b));
    EXPECT_EQ(n->store->Get(id_b)->id, id_b);
    EXPECT_EQ(n->store->Get(id_)->id, id_b) << "the old cookie keeps working";
    EXPECT_EQ(n->store->Get(id_b)->attributes.size(), 2u);
  }
  EXPECT_EQ(*a_.store->Get(id_b), *b_.store->Get(id_b));
  EXPECT_EQ(SortedDigest(a_), SortedDigest(b_));
  EXPECT_FALSE(a_.store->Merge(*b_.store->Get(id_b), false));
  EXPECT_FALSE(b_.store->Merge(sa, false)) << "the old copy, pulled again, changes nothing";
  // Persistence learns the rename: a kChangeId old -> new, then the merged session.
  ASSERT_EQ(sink.batches().size(), 1u);
  ASSERT_EQ(sink.batches()[0].size(), 2u);
  EXPECT_EQ(sink.batches()[0][0].type, EventType::kChangeId);
  EXPECT_EQ(sink.batches()[0][0].session_id, id_);
  EXPECT_EQ(sink.batches()[0][0].value, id_b);
  EXPECT_TRUE(sink.batches()[0][0].stamp.node.empty()) << "replication never re-sends a merge";
}

// Both sides re-issued the same session (three nodes, its own one dead): in whatever order the
// copies meet, every node keeps the id changed last and the other as an alias.
TEST_F(MergeTest, TwoRenamesOfOneSessionPickTheLaterChangeEverywhere) {
  Node c{"c"};
  ASSERT_TRUE(c.store->Merge(*a_.store->Get(id_), false));
  EventBatch batch;
  std::string id_b = *b_.store->ChangeRoute(id_, "b", &batch);
  c.wall.Advance(20);  // c's change is later
  std::string id_c = *c.store->ChangeRoute(id_, "c", &batch);
  Session sb = *b_.store->Get(id_b), sc = *c.store->Get(id_c), sa = *a_.store->Get(id_);
  EXPECT_TRUE(b_.store->Merge(sc, false));
  b_.store->Merge(sa, false);  // a's unrenamed copy: b keeps c's id either way
  EXPECT_TRUE(c.store->Merge(sb, false));
  EXPECT_TRUE(a_.store->Merge(sb, false));
  EXPECT_TRUE(a_.store->Merge(sc, false));
  c.store->Merge(sa, false);
  for (Node* n : {&a_, &b_, &c}) {
    EXPECT_EQ(n->store->Count(), 1u);
    for (const std::string& id : {id_, id_b, id_c}) {
      ASSERT_TRUE(n->store->Get(id)) << id;
      EXPECT_EQ(n->store->Get(id)->id, id_c) << id;
    }
  }
  EXPECT_EQ(SortedDigest(a_), SortedDigest(c));
  EXPECT_EQ(SortedDigest(b_), SortedDigest(c));
}

// The same two renames meeting as deltas (each side's kChangeId reaches the other).
TEST_F(MergeTest, CrossingIdChangesPickTheSameWinnerAsMerge) {
  EventBatch to_b, to_a;
  Node c{"c"};
  ASSERT_TRUE(c.store->Merge(*a_.store->Get(id_), false));
  std::string id_a = *a_.store->ChangeRoute(id_, "x", &to_b);  // a re-issues under "x"
  c.wall.Advance(20);
  std::string id_c = *c.store->ChangeRoute(id_, "c", &to_a);
  for (const Event& ev : to_a) ASSERT_TRUE(a_.store->Apply(ev, false).ok());
  for (const Event& ev : to_b) ASSERT_TRUE(c.store->Apply(ev, false).ok());
  for (Node* n : {&a_, &c}) {
    EXPECT_EQ(n->store->Get(id_a)->id, id_c);
    EXPECT_EQ(n->store->Get(id_c)->id, id_c);
    EXPECT_EQ(n->store->Get(id_)->id, id_c);
  }
  EXPECT_EQ(SortedDigest(a_), SortedDigest(c));
}

// An invalidation on one side buries the session on the other by whatever id it has there.
TEST_F(MergeTest, ATombstoneOfTheRenamedIdBuriesTheOldOne) {
  EventBatch batch;
  std::string id_b = *b_.store->ChangeRoute(id_, "b", &batch);
  batch.clear();
  b_.wall.Advance(5);
  ASSERT_TRUE(b_.store->Invalidate(id_b, &batch).ok());
  std::optional<Stamp> t = b_.store->TombstoneOf(id_b);
  ASSERT_TRUE(t);
  EXPECT_TRUE(a_.store->RestoreTombstone(id_b, *t, false));
  EXPECT_FALSE(a_.store->Get(id_));
  EXPECT_EQ(a_.store->Count(), 0u);
}

// A peer with a far-future clock (broken or hostile) cannot drag this node's clock, nor win
// every later write, through a delta, a merged session or a tombstone: each is refused (nothing
// changes here) until this node's wall clock is within maxClockSkew of the stamp.
TEST(ClockSkewGuardTest, FarFutureStampsAreRefusedEverywhere) {
  Node a{"a"}, b{"b"};
  b.clock->set_max_skew_ms(60'000);
  EventBatch created;
  const std::string id = a.store->Create("/app", 0, true, &created)->id;  // never expires
  for (const Event& ev : created) ASSERT_TRUE(b.store->Apply(ev, false).ok());

  a.wall.Advance(3'600'000);  // a's clock runs an hour ahead
  EventBatch set;
  ASSERT_TRUE(a.store->SetAttribute(id, "k", "\"future\"", &set).ok());
  Status applied = b.store->Apply(set[0], false);
  EXPECT_EQ(applied.code(), Code::kBadRequest);
  EXPECT_NE(applied.message().find("maxClockSkew"), std::string::npos) << applied.ToString();
  EXPECT_FALSE(b.store->Get(id)->attributes.count("k"));
  EXPECT_FALSE(b.store->Merge(*a.store->Get(id), false));
  EXPECT_FALSE(b.store->Get(id)->attributes.count("k"));
  EXPECT_FALSE(b.store->RestoreTombstone(id, Stamp{a.clock->Now(), "a"}, false));
  EXPECT_TRUE(b.store->Get(id));
  EXPECT_EQ(b.clock->refused(), 3u);
  EXPECT_LT(HlcWallMillis(b.clock->Now()), b.wall.ms.load() + 1000) << "b's clock stayed put";

  EventBatch local;
  ASSERT_TRUE(b.store->SetAttribute(id, "mine", "1", &local).ok());  // still writes normally
  b.wall.Advance(3'600'000);  // now within the bound: anti-entropy's next pull is taken
  EXPECT_TRUE(b.store->Merge(*a.store->Get(id), false));
  EXPECT_EQ(b.store->Get(id)->attributes.at("k").json, "\"future\"");
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
