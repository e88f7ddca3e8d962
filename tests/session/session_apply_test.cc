// SessionStore::Apply and Restore: remote events converge whatever order they arrive in.
#include <gtest/gtest.h>

#include <algorithm>

#include "session/session.h"
#include "session_test_util.h"

namespace sessiond::session {
namespace {

using testing::Node;
using testing::RecordingSink;

void Deliver(const EventBatch& batch, Node& to) {
  for (const Event& ev : batch) {
    Status s = to.store->Apply(ev, false);
    ASSERT_TRUE(s.ok()) << EventTypeName(ev.type) << " v" << ev.version << ": " << s.ToString();
  }
}

// A create event as node "a" would have sent it.
Event CreateEvent(const std::string& id) {
  Event ev;
  ev.type = EventType::kCreate;
  ev.app = "/app";
  ev.session_id = id;
  ev.version = 1;
  ev.stamp = Stamp{1, "a"};
  return ev;
}

std::map<std::string, std::string> Values(const Node& node, const std::string& id) {
  std::map<std::string, std::string> values;
  std::optional<Session> s = node.store->Get(id);
  if (!s) return {{"<gone>", ""}};
  for (const auto& [name, attr] : s->attributes) values[name] = attr.json;
  return values;
}

// Two nodes sharing one session, both wall clocks at the same time.
class ApplyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    EventBatch batch;
    id_ = a_.store->Create("/app", 1800, true, &batch)->id;
    Deliver(batch, b_);
    ASSERT_TRUE(b_.store->Get(id_));
  }
  EventBatch Set(Node& node, std::string_view name, std::string_view json) {
    EventBatch batch;
    EXPECT_TRUE(node.store->SetAttribute(id_, name, std::string(json), &batch).ok());
    return batch;
  }
  EventBatch Remove(Node& node, std::string_view name) {
    EventBatch batch;
    EXPECT_TRUE(node.store->RemoveAttribute(id_, name, &batch).ok());
    return batch;
  }
  Node a_{"a"};
  Node b_{"b"};
  std::string id_;
};

TEST_F(ApplyTest, ReplicatedCreateCopiesTheSession) {
  Session on_a = *a_.store->Get(id_);
  Session on_b = *b_.store->Get(id_);
  EXPECT_EQ(on_b.app, "/app");
  EXPECT_EQ(on_b.created_ms, on_a.created_ms);
  EXPECT_EQ(on_b.last_accessed_ms, on_a.created_ms);
  EXPECT_EQ(on_b.max_inactive_s, 1800);
  EXPECT_EQ(on_b.last_node, "a");
  EXPECT_EQ(on_b.version, 1u);
  EXPECT_EQ(b_.store->Count(), 1u);
}

TEST_F(ApplyTest, SequentialChangesReplicate) {
  EventBatch batch = Set(a_, "x", "1");
  a_.wall.Advance(500);
  ASSERT_TRUE(a_.store->Access("/app", id_, &batch).ok());
  ASSERT_TRUE(a_.store->SetAttribute(id_, "y", "[true]", &batch).ok());
  ASSERT_TRUE(a_.store->RemoveAttribute(id_, "x", &batch).ok());
  Deliver(batch, b_);
  EXPECT_EQ(*b_.store->Get(id_), *a_.store->Get(id_));
}

TEST_F(ApplyTest, ConcurrentWritesConvergeByStampWithTheNodeNameBreakingTies) {
  EventBatch from_a = Set(a_, "x", "\"a\"");
  EventBatch from_b = Set(b_, "x", "\"b\"");
  ASSERT_EQ(from_a[0].stamp.time, from_b[0].stamp.time);  // same HLC time: the name decides
  ASSERT_EQ(from_a[0].version, from_b[0].version);
  Deliver(from_b, a_);
  Deliver(from_a, b_);
  EXPECT_EQ(Values(a_, id_)["x"], "\"b\"");
  EXPECT_EQ(Values(b_, id_)["x"], "\"b\"");
}

TEST_F(ApplyTest, TheLaterStampWinsEvenWhenItArrivesFirst) {
  EventBatch from_b = Set(b_, "x", "\"b\"");
  a_.wall.Advance(10);
  EventBatch from_a = Set(a_, "x", "\"a\"");  // later: wins although "a" < "b"
  Node c("c"), d("d");
  for (Node* n : {&c, &d}) {
    EventBatch create;
    create.push_back(CreateEvent(id_));
    Deliver(create, *n);
  }
  Deliver(from_a, c);
  Deliver(from_b, c);
  Deliver(from_b, d);
  Deliver(from_a, d);
  Deliver(from_a, b_);
  Deliver(from_b, a_);
  for (Node* n : {&a_, &b_, &c, &d}) EXPECT_EQ(Values(*n, id_)["x"], "\"a\"") << n->store->Get(id_)->last_node;
}

TEST_F(ApplyTest, CausallyLaterWritesWinDespiteABackwardClock) {
  b_.wall.Advance(-60'000);  // b's clock is a minute behind
  EventBatch from_a = Set(a_, "x", "1");
  Deliver(from_a, b_);
  EventBatch from_b = Set(b_, "x", "2");  // written after seeing a's: must win everywhere
  EXPECT_LT(from_a[0].stamp, from_b[0].stamp);
  Deliver(from_b, a_);
  EXPECT_EQ(Values(a_, id_)["x"], "2");
  EXPECT_EQ(Values(b_, id_)["x"], "2");
}

TEST_F(ApplyTest, RemoveAndSetRaceConvergesInEitherOrder) {
  Deliver(Set(a_, "x", "0"), b_);
  EventBatch remove_on_a = Remove(a_, "x");
  EventBatch set_on_b = Set(b_, "x", "9");  // same HLC time as the removal, "b" > "a": set wins
  Deliver(set_on_b, a_);
  Deliver(remove_on_a, b_);
  EXPECT_EQ(Values(a_, id_), Values(b_, id_));
  EXPECT_EQ(Values(a_, id_)["x"], "9");

  b_.wall.Advance(5);
  EventBatch remove_on_b = Remove(b_, "x");  // now the removal is later
  EventBatch set_on_a = Set(a_, "x", "7");
  Deliver(set_on_a, b_);
  Deliver(remove_on_b, a_);
  EXPECT_EQ(Values(a_, id_), Values(b_, id_));
  EXPECT_EQ(Values(a_, id_).count("x"), 0u);
}

TEST_F(ApplyTest, AnOlderSetArrivingAfterARemovalDoesNotResurrect) {
  Deliver(Set(a_, "x", "1"), b_);
  EventBatch set_on_b = Set(b_, "x", "2");
  a_.wall.Advance(10);
  EventBatch removal_on_a = Remove(a_, "x");  // later than b's set
  Deliver(removal_on_a, b_);
  Deliver(set_on_b, a_);
  for (Node* n : {&a_, &b_}) {
    EXPECT_EQ(Values(*n, id_).count("x"), 0u);
    EXPECT_EQ(n->store->Get(id_)->removed.count("x"), 1u);
  }
}

TEST_F(ApplyTest, ARemovalOfAnUnknownAttributeLeavesAMarker) {
  Event removal = CreateEvent(id_);
  removal.type = EventType::kRemoveAttribute;
  removal.version = 2;
  removal.stamp = Stamp{a_.clock->Now(), "a"};
  removal.name = "other";
  ASSERT_TRUE(b_.store->Apply(removal, false).ok());
  Event older_set = removal;
  older_set.type = EventType::kSetAttribute;
  older_set.value = "1";
  older_set.stamp.time -= 1;
  ASSERT_TRUE(b_.store->Apply(older_set, false).ok());
  EXPECT_EQ(Values(b_, id_).count("other"), 0u);
  EXPECT_EQ(b_.store->Get(id_)->removed.count("other"), 1u);
}

TEST_F(ApplyTest, ReapplyingEventsIsHarmless) {
  EventBatch batch = Set(a_, "x", "1");
  ASSERT_TRUE(a_.store->SetAttribute(id_, "x", "2", &batch).ok());
  Deliver(batch, b_);
  Deliver(batch, b_);
  Deliver(EventBatch{batch[0]}, b_);
  EXPECT_EQ(Values(b_, id_)["x"], "2");
  EXPECT_EQ(b_.store->Get(id_)->version, 3u);
}

TEST_F(ApplyTest, InvalidationTombstonePreventsResurrection) {
  EventBatch late_set = Set(a_, "x", "1");
  EventBatch create_again;
  create_again.push_back(CreateEvent(id_));
  EventBatch invalidate;
  ASSERT_TRUE(a_.store->Invalidate(id_, &invalidate).ok());
  Deliver(invalidate, b_);
  EXPECT_FALSE(b_.store->Get(id_));
  EXPECT_EQ(b_.store->Count(), 0u);
  Deliver(late_set, b_);      // ignored, not a version gap
  Deliver(create_again, b_);  // ignored
  EXPECT_FALSE(b_.store->Get(id_));
  EXPECT_EQ(b_.store->Count(), 0u);
}

TEST_F(ApplyTest, InvalidationBeforeCreateStillWins) {
  Node c("c");
  EventBatch create;
  create.push_back(CreateEvent(id_));
  EventBatch invalidate;
  ASSERT_TRUE(a_.store->Invalidate(id_, &invalidate).ok());
  Deliver(invalidate, c);
  Deliver(create, c);
  EXPECT_FALSE(c.store->Get(id_));
  EXPECT_EQ(c.store->Count(), 0u);
}

TEST_F(ApplyTest, AVersionGapIsAConflict) {
  EventBatch batch = Set(a_, "x", "1");
  ASSERT_TRUE(a_.store->SetAttribute(id_, "y", "2", &batch).ok());
  Status s = b_.store->Apply(batch[1], false);  // version 3 while b has 1
  EXPECT_EQ(s.code(), Code::kConflict);
  EXPECT_NE(s.message().find("version gap: have 1, got 3"), std::string::npos) << s.message();
  EXPECT_EQ(Values(b_, id_).count("y"), 0u);

  Event unknown = batch[0];
  unknown.session_id = NewSessionId("a");
  s = b_.store->Apply(unknown, false);
  EXPECT_EQ(s.code(), Code::kConflict);
  EXPECT_NE(s.message().find("version gap: have 0, got 2"), std::string::npos) << s.message();
}

TEST_F(ApplyTest, RemoteAccessKeepsTheLatestTime) {
  a_.wall.Advance(1000);
  EventBatch later;
  ASSERT_TRUE(a_.store->Access("/app", id_, &later).ok());
  Deliver(later, b_);
  Event older = later[0];
  older.time_ms -= 500;
  older.stamp.node = "z";
  ASSERT_TRUE(b_.store->Apply(older, false).ok());
  Session s = *b_.store->Get(id_);
  EXPECT_EQ(s.last_accessed_ms, later[0].time_ms);
  EXPECT_EQ(s.last_node, "a");
}

TEST_F(ApplyTest, RemoteIdChangeKeepsTheOldIdAsAnAlias) {
  EventBatch batch;
  std::string new_id = *a_.store->ChangeRoute(id_, "b", &batch);
  Deliver(batch, b_);
  Deliver(batch, b_);  // a duplicate delivery is harmless
  EXPECT_EQ(b_.store->Get(new_id)->id, new_id);
  EXPECT_EQ(b_.store->Get(id_)->id, new_id);
  // An in-flight write through the old id on a reaches b's moved session.
  EventBatch set;
  ASSERT_TRUE(a_.store->SetAttribute(id_, "k", "1", &set).ok());
  Deliver(set, b_);
  EXPECT_EQ(Values(b_, new_id)["k"], "1");
}

TEST_F(ApplyTest, RepublishSendsOnlyEventsThatChangedSomething) {
  RecordingSink sink;
  b_.store->AddSink(&sink);
  EventBatch batch = Set(a_, "x", "1");
  ASSERT_TRUE(b_.store->Apply(batch[0], false).ok());
  EXPECT_TRUE(sink.batches().empty());
  ASSERT_TRUE(a_.store->SetAttribute(id_, "x", "2", &batch).ok());
  ASSERT_TRUE(b_.store->Apply(batch[1], true).ok());
  ASSERT_EQ(sink.batches().size(), 1u);
  EXPECT_EQ(sink.batches()[0][0].value, "2");
  ASSERT_TRUE(b_.store->Apply(batch[0], true).ok());  // older: ignored, not re-published
  EXPECT_EQ(sink.batches().size(), 1u);
}

TEST_F(ApplyTest, ApplyObservesTheRemoteStamp) {
  Event ev = Set(a_, "x", "1")[0];
  ev.stamp.time = MakeHlc(b_.wall.ms.load() + 3'600'000, 5);  // an hour ahead
  ASSERT_TRUE(b_.store->Apply(ev, false).ok());
  EventBatch mine = Set(b_, "x", "2");
  EXPECT_GT(mine[0].stamp.time, ev.stamp.time);
  EXPECT_EQ(Values(b_, id_)["x"], "2");
}

TEST_F(ApplyTest, MalformedEventsAreRejected) {
  Event ev;
  EXPECT_EQ(b_.store->Apply(ev, false).code(), Code::kBadRequest);  // no id
  ev.session_id = id_;
  ev.type = static_cast<EventType>(42);
  EXPECT_EQ(b_.store->Apply(ev, false).code(), Code::kBadRequest);
  ev.type = EventType::kSetAttribute;
  ev.version = 2;
  EXPECT_EQ(b_.store->Apply(ev, false).code(), Code::kBadRequest);  // no name
}

TEST_F(ApplyTest, RestoreTakesNewerVersionsOnly) {
  Session snapshot = *a_.store->Get(id_);
  EXPECT_FALSE(b_.store->Restore(snapshot));  // same version: already here
  Deliver(Set(a_, "x", "1"), b_);
  EXPECT_FALSE(b_.store->Restore(snapshot));  // older
  Session newer = *a_.store->Get(id_);
  newer.version = 10;
  newer.attributes["y"] = Attribute{"2", Stamp{newer.attributes["x"].stamp.time + 1, "a"}};
  EXPECT_TRUE(b_.store->Restore(newer));
  EXPECT_EQ(*b_.store->Get(id_), newer);
  EXPECT_EQ(b_.store->Count(), 1u);

  Node c("c");
  EXPECT_TRUE(c.store->Restore(newer));
  EXPECT_EQ(c.store->Count(), 1u);
  EXPECT_GT(c.clock->Now(), newer.attributes["y"].stamp.time);  // restored stamps are observed
}

TEST_F(ApplyTest, RestoreRespectsTombstones) {
  Session snapshot = *a_.store->Get(id_);
  snapshot.version = 99;
  EventBatch invalidate;
  ASSERT_TRUE(a_.store->Invalidate(id_, &invalidate).ok());
  Deliver(invalidate, b_);
  EXPECT_FALSE(b_.store->Restore(snapshot));
  EXPECT_FALSE(b_.store->Get(id_));
  EXPECT_EQ(b_.store->Count(), 0u);
}

TEST_F(ApplyTest, RestoreKeepsRemovalMarkers) {
  Deliver(Set(a_, "x", "1"), b_);
  Deliver(Remove(a_, "x"), b_);
  Session snapshot = *b_.store->Get(id_);
  ASSERT_EQ(snapshot.removed.size(), 1u);
  Node c("c");
  ASSERT_TRUE(c.store->Restore(snapshot));
  EXPECT_EQ(*c.store->Get(id_), snapshot);
}

}  // namespace
}  // namespace sessiond::session
