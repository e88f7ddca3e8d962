// SessionStore's local changes: the events they emit, sinks, caps, expiry, id changes, listing.
#include <gtest/gtest.h>

#include <thread>

#include "session/session.h"
#include "session/store_internal.h"
#include "session_test_util.h"

namespace sessiond::session {
namespace {

using testing::Node;
using testing::RecordingSink;

class SessionStoreTest : public ::testing::Test {
 protected:
  Session MustCreate(std::string_view app = "/app", int32_t max_inactive_s = 1800) {
    EventBatch batch;
    Result<Session> s = store().Create(app, max_inactive_s, true, &batch);
    EXPECT_TRUE(s.ok()) << s.status().ToString();
    return *s;
  }
  SessionStore& store() { return *node_.store; }
  Node node_{"tomcatA"};
};

TEST_F(SessionStoreTest, CreateEmitsOneCreateEventAtVersionOne) {
  EventBatch batch;
  Result<Session> s = store().Create("/app", 600, true, &batch);
  ASSERT_TRUE(s.ok());
  EXPECT_TRUE(IsWellFormedId(s->id));
  EXPECT_EQ(RouteOf(s->id), "tomcatA");
  EXPECT_EQ(s->version, 1u);
  EXPECT_EQ(s->created_ms, node_.wall.ms.load());
  EXPECT_EQ(s->last_node, "tomcatA");
  ASSERT_EQ(batch.size(), 1u);  // no separate access event
  const Event& ev = batch[0];
  EXPECT_EQ(ev.type, EventType::kCreate);
  EXPECT_EQ(ev.app, "/app");
  EXPECT_EQ(ev.session_id, s->id);
  EXPECT_EQ(ev.version, 1u);
  EXPECT_EQ(ev.time_ms, s->created_ms);
  EXPECT_EQ(ev.max_inactive_s, 600);
  EXPECT_EQ(ev.stamp.node, "tomcatA");
  EXPECT_TRUE(ev.distributable);
  EXPECT_EQ(store().Count(), 1u);
}

TEST_F(SessionStoreTest, EveryChangeEmitsItsEventWithTheNextVersion) {
  Session s = MustCreate();
  EventBatch batch;
  node_.wall.Advance(1000);
  ASSERT_TRUE(store().Access("/app", s.id, &batch).ok());
  ASSERT_TRUE(store().SetAttribute(s.id, "cart", "[1,2]", &batch).ok());
  ASSERT_TRUE(store().RemoveAttribute(s.id, "cart", &batch).ok());
  ASSERT_TRUE(store().Invalidate(s.id, &batch).ok());
  ASSERT_EQ(batch.size(), 4u);
  EXPECT_EQ(batch[0].type, EventType::kAccess);
  EXPECT_EQ(batch[0].time_ms, node_.wall.ms.load());
  EXPECT_EQ(batch[1].type, EventType::kSetAttribute);
  EXPECT_EQ(batch[1].name, "cart");
  EXPECT_EQ(batch[1].value, "[1,2]");
  EXPECT_EQ(batch[2].type, EventType::kRemoveAttribute);
  EXPECT_EQ(batch[2].name, "cart");
  EXPECT_EQ(batch[3].type, EventType::kInvalidate);
  for (size_t i = 0; i < batch.size(); ++i) {
    EXPECT_EQ(batch[i].version, i + 2) << i;
    EXPECT_EQ(batch[i].session_id, s.id);
    if (i > 0) {
      EXPECT_LT(batch[i - 1].stamp, batch[i].stamp);
    }
  }
  EXPECT_FALSE(store().Get(s.id).has_value());
  EXPECT_EQ(store().Count(), 0u);
}

TEST_F(SessionStoreTest, AttributesReadBackWithTheirStamps) {
  Session s = MustCreate();
  EventBatch batch;
  ASSERT_TRUE(store().SetAttribute(s.id, "a", "1", &batch).ok());
  ASSERT_TRUE(store().SetAttribute(s.id, "b", "\"x\"", &batch).ok());
  ASSERT_TRUE(store().SetAttribute(s.id, "a", "2", &batch).ok());
  std::optional<Session> got = store().Get(s.id);
  ASSERT_TRUE(got);
  ASSERT_EQ(got->attributes.size(), 2u);
  EXPECT_EQ(got->attributes["a"].json, "2");
  EXPECT_EQ(got->attributes["a"].stamp, batch[2].stamp);
  EXPECT_EQ(got->attributes["b"].json, "\"x\"");
  EXPECT_EQ(got->version, 4u);
}

TEST_F(SessionStoreTest, MissingThingsAreNotFound) {
  Session s = MustCreate();
  EventBatch batch;
  EXPECT_EQ(store().Access("/other", s.id, &batch).status().code(), Code::kNotFound);
  EXPECT_EQ(store().Access("/app", "nope", &batch).status().code(), Code::kNotFound);
  EXPECT_EQ(store().SetAttribute("nope", "a", "1", &batch).code(), Code::kNotFound);
  EXPECT_EQ(store().RemoveAttribute(s.id, "absent", &batch).code(), Code::kNotFound);
  EXPECT_EQ(store().Invalidate("nope", &batch).code(), Code::kNotFound);
  EXPECT_EQ(store().SetAttribute(s.id, "", "1", &batch).code(), Code::kBadRequest);
  EXPECT_TRUE(batch.empty());
}

TEST_F(SessionStoreTest, RemovedAttributeIsGoneButLeavesAMarker) {
  Session s = MustCreate();
  EventBatch batch;
  ASSERT_TRUE(store().SetAttribute(s.id, "a", "1", &batch).ok());
  ASSERT_TRUE(store().RemoveAttribute(s.id, "a", &batch).ok());
  EXPECT_EQ(store().RemoveAttribute(s.id, "a", &batch).code(), Code::kNotFound);
  std::optional<Session> got = store().Get(s.id);
  ASSERT_TRUE(got);
  EXPECT_TRUE(got->attributes.empty());
  ASSERT_EQ(got->removed.size(), 1u);
  EXPECT_EQ(got->removed["a"], batch[1].stamp);
  ASSERT_TRUE(store().SetAttribute(s.id, "a", "3", &batch).ok());  // set again after removal
  got = store().Get(s.id);
  EXPECT_EQ(got->attributes["a"].json, "3");
  EXPECT_TRUE(got->removed.empty());
}

TEST_F(SessionStoreTest, CommitHandsTheBatchToEverySinkAndClearsIt) {
  RecordingSink a, b;
  store().AddSink(&a);
  store().AddSink(&b);
  EventBatch batch;
  store().Commit(&batch);  // empty: nobody is called
  EXPECT_TRUE(a.batches().empty());
  ASSERT_TRUE(store().Create("/app", 60, true, &batch).ok());
  ASSERT_TRUE(store().SetAttribute(batch[0].session_id, "k", "1", &batch).ok());
  store().Commit(&batch);
  EXPECT_TRUE(batch.empty());
  ASSERT_EQ(a.batches().size(), 1u);
  ASSERT_EQ(b.batches().size(), 1u);
  EXPECT_EQ(a.batches()[0].size(), 2u);
  EXPECT_EQ(a.batches()[0][1].type, EventType::kSetAttribute);
}

TEST(SessionStoreCapTest, MaxActiveSessionsIsEnforced) {
  Node node("n", 2);
  EventBatch batch;
  ASSERT_TRUE(node.store->Create("/app", 60, true, &batch).ok());
  ASSERT_TRUE(node.store->Create("/app", 60, true, &batch).ok());
  Result<Session> third = node.store->Create("/app", 60, true, &batch);
  ASSERT_FALSE(third.ok());
  EXPECT_EQ(third.status().code(), Code::kUnavailable);
  EXPECT_EQ(third.status().message(), "too many active sessions (maxActiveSessions=2)");
  EXPECT_EQ(node.store->Count(), 2u);
  ASSERT_TRUE(node.store->Invalidate(batch[0].session_id, &batch).ok());
  EXPECT_TRUE(node.store->Create("/app", 60, true, &batch).ok());  // room again
}

TEST_F(SessionStoreTest, SessionsExpireByTheirOwnMaxInactiveInterval) {
  Session short_lived = MustCreate("/app", 60);
  Session forever = MustCreate("/app", 0);
  Session long_lived = MustCreate("/app", 3600);
  node_.wall.Advance(59'999);
  EXPECT_TRUE(store().Get(short_lived.id));
  node_.wall.Advance(1);
  EXPECT_FALSE(store().Get(short_lived.id));  // Get hides it without changing anything
  EXPECT_EQ(store().Count(), 3u);
  EventBatch batch;
  EXPECT_EQ(store().Expire(0, std::nullopt, &batch), 1u);
  ASSERT_EQ(batch.size(), 1u);
  EXPECT_EQ(batch[0].type, EventType::kInvalidate);
  EXPECT_EQ(batch[0].session_id, short_lived.id);
  EXPECT_EQ(store().Count(), 2u);
  EXPECT_TRUE(store().Get(forever.id));
  EXPECT_TRUE(store().Get(long_lived.id));
}

TEST_F(SessionStoreTest, AccessToAnExpiredSessionInvalidatesIt) {
  Session s = MustCreate("/app", 1);
  node_.wall.Advance(1000);
  EventBatch batch;
  Result<Session> r = store().Access("/app", s.id, &batch);
  EXPECT_EQ(r.status().code(), Code::kNotFound);
  ASSERT_EQ(batch.size(), 1u);
  EXPECT_EQ(batch[0].type, EventType::kInvalidate);
  EXPECT_EQ(store().Count(), 0u);
}

TEST_F(SessionStoreTest, AccessKeepsASessionAlive) {
  Session s = MustCreate("/app", 60);
  EventBatch batch;
  for (int i = 0; i < 5; ++i) {
    node_.wall.Advance(50'000);
    ASSERT_TRUE(store().Access("/app", s.id, &batch).ok()) << i;
  }
  EXPECT_EQ(store().Expire(0, std::nullopt, &batch), 0u);
}

TEST_F(SessionStoreTest, ExpireIdleOverPicksTheAppOrEveryApp) {
  Session a1 = MustCreate("/a");
  Session b1 = MustCreate("/b");
  node_.wall.Advance(10'000);
  Session a2 = MustCreate("/a");  // fresh
  EventBatch batch;
  EXPECT_EQ(store().Expire(5'000, "/a", &batch), 1u);
  EXPECT_FALSE(store().Get(a1.id));
  EXPECT_TRUE(store().Get(b1.id));
  EXPECT_TRUE(store().Get(a2.id));
  EXPECT_EQ(store().Expire(5'000, std::nullopt, &batch), 1u);
  EXPECT_FALSE(store().Get(b1.id));
  EXPECT_EQ(store().Count(), 1u);
}

// ROOT's context path is "": naming it must not mean "every app".
TEST_F(SessionStoreTest, ExpireIdleOverOfRootLeavesOtherApps) {
  Session root = MustCreate("");
  Session other = MustCreate("/a");
  node_.wall.Advance(10'000);
  EventBatch batch;
  EXPECT_EQ(store().Expire(5'000, std::string_view(""), &batch), 1u);
  EXPECT_FALSE(store().Get(root.id));
  EXPECT_TRUE(store().Get(other.id));
}

TEST_F(SessionStoreTest, ChangeRouteKeepsTheOldIdResolvingUntilTheTombstonePeriodEnds) {
  Session s = MustCreate();
  EventBatch batch;
  ASSERT_TRUE(store().SetAttribute(s.id, "k", "1", &batch).ok());
  Result<std::string> new_id = store().ChangeRoute(s.id, "tomcatB", &batch);
  ASSERT_TRUE(new_id.ok()) << new_id.status().ToString();
  EXPECT_EQ(*new_id, std::string(BaseOf(s.id)) + ".tomcatB");
  const Event& ev = batch.back();
  EXPECT_EQ(ev.type, EventType::kChangeId);
  EXPECT_EQ(ev.session_id, s.id);
  EXPECT_EQ(ev.value, *new_id);
  EXPECT_EQ(ev.version, 3u);
  // The old id still works for in-flight requests, and reaches the same session.
  ASSERT_TRUE(store().Access("/app", s.id, &batch).ok());
  ASSERT_TRUE(store().SetAttribute(s.id, "k", "2", &batch).ok());
  EXPECT_EQ(store().Get(*new_id)->attributes["k"].json, "2");
  EXPECT_EQ(store().Get(s.id)->id, *new_id);
  EXPECT_EQ(store().Count(), 1u);
  EXPECT_EQ(store().List({}).size(), 1u);
  // Same route: nothing to do.
  size_t events = batch.size();
  EXPECT_EQ(*store().ChangeRoute(*new_id, "tomcatB", &batch), *new_id);
  EXPECT_EQ(batch.size(), events);
  EXPECT_EQ(store().ChangeRoute(*new_id, "bad.route", &batch).status().code(), Code::kBadRequest);
  node_.wall.Advance(10 * 60 * 1000);
  EXPECT_FALSE(store().Get(s.id));
  EXPECT_TRUE(store().Get(*new_id));
}

TEST_F(SessionStoreTest, InvalidateThroughAnAliasRemovesTheSession) {
  Session s = MustCreate();
  EventBatch batch;
  std::string new_id = *store().ChangeRoute(s.id, "b", &batch);
  ASSERT_TRUE(store().Invalidate(s.id, &batch).ok());
  EXPECT_FALSE(store().Get(new_id));
  EXPECT_FALSE(store().Get(s.id));
  EXPECT_EQ(store().Count(), 0u);
}

TEST_F(SessionStoreTest, ListFiltersAndPagesByCursor) {
  std::vector<std::string> a_ids;
  for (int i = 0; i < 7; ++i) a_ids.push_back(MustCreate("/a").id);
  Session b = MustCreate("/b");
  std::sort(a_ids.begin(), a_ids.end());

  ListFilter f;
  f.app = "/a";
  f.limit = 3;
  std::vector<std::string> paged;
  for (int page = 0; page < 5; ++page) {
    std::vector<Session> got = store().List(f);
    if (got.empty()) break;
    EXPECT_LE(got.size(), 3u);
    for (const Session& s : got) paged.push_back(s.id);
    f.after_id = got.back().id;
  }
  EXPECT_EQ(paged, a_ids);

  EXPECT_EQ(store().List({}).size(), 8u);
  ListFilter by_node;
  by_node.node = "tomcatB";
  EXPECT_TRUE(store().List(by_node).empty());
  by_node.node = "tomcatA";
  EXPECT_EQ(store().List(by_node).size(), 8u);

  node_.wall.Advance(60'000);
  EventBatch batch;
  ASSERT_TRUE(store().Access("/b", b.id, &batch).ok());
  ListFilter idle;
  idle.idle_over_ms = 30'000;
  EXPECT_EQ(store().List(idle).size(), 7u);

  std::map<std::string, size_t> counts = store().CountByApp();
  EXPECT_EQ(counts["/a"], 7u);
  EXPECT_EQ(counts["/b"], 1u);
}

TEST_F(SessionStoreTest, ListFilterOfRootListsOnlyRoot) {
  Session root = MustCreate("");
  MustCreate("/a");
  MustCreate("/b");
  ListFilter f;
  f.app = "";
  std::vector<Session> got = store().List(f);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].id, root.id);
  EXPECT_EQ(store().List(ListFilter{}).size(), 3u);  // nullopt: every app
}

TEST_F(SessionStoreTest, PruneTombstonesForgetsOldInvalidations) {
  Session s = MustCreate();
  EventBatch batch;
  ASSERT_TRUE(store().Invalidate(s.id, &batch).ok());
  Session copy = s;
  copy.version = 100;
  EXPECT_FALSE(store().Restore(copy));  // tombstoned
  node_.wall.Advance(10 * 60 * 1000 + 1);
  store().PruneTombstones();
  EXPECT_TRUE(store().Restore(copy));
}

// Runs under TSan in the sanitizer build: several threads hammer the same and different sessions.
TEST_F(SessionStoreTest, ConcurrentChangesAreSafe) {
  Session shared = MustCreate();
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      EventBatch batch;
      Session own = *store().Create("/app", 60, true, &batch);
      for (int i = 0; i < 500; ++i) {
        std::string name = "k" + std::to_string(i % 5);
        if (!store().SetAttribute(shared.id, name, std::to_string(t), &batch).ok()) ++failures;
        if (!store().Access("/app", shared.id, &batch).ok()) ++failures;
        if (!store().SetAttribute(own.id, name, std::to_string(i), &batch).ok()) ++failures;
        if (i % 50 == 0) store().List({});
        store().Commit(&batch);
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(store().Count(), 5u);
  EXPECT_EQ(store().Get(shared.id)->version, 1u + 4 * 500 * 2);
}

// EncodeInto is the persister's path: the same bytes as EncodeSession of Get's snapshot, written
// from the store without building that snapshot.
TEST_F(SessionStoreTest, EncodeIntoWritesWhatEncodeSessionOfGetWrites) {
  Session s = MustCreate();
  EventBatch batch;
  ASSERT_TRUE(store().SetAttribute(s.id, "zeta", "{\"a\":1}", &batch).ok());
  ASSERT_TRUE(store().SetAttribute(s.id, "alpha", "\"x\"", &batch).ok());
  ASSERT_TRUE(store().SetAttribute(s.id, "mid", "[1,2]", &batch).ok());
  ASSERT_TRUE(store().RemoveAttribute(s.id, "mid", &batch).ok());  // a marker among live slots
  Event removal;
  removal.type = EventType::kRemoveAttribute;
  removal.app = "/app";
  removal.session_id = s.id;
  removal.version = 6;
  removal.stamp = Stamp{MakeHlc(node_.wall.ms.load() + 5, 0), "tomcatB"};
  removal.name = "never-set";  // a marker for a name that was never set
  ASSERT_TRUE(store().Apply(removal, false).ok());

  std::string out = "stale bytes that must go";
  EncodedSessionInfo info;
  ASSERT_TRUE(store().EncodeInto(s.id, &out, &info));
  std::optional<Session> snapshot = store().Get(s.id);
  ASSERT_TRUE(snapshot);
  EXPECT_EQ(snapshot->removed.size(), 2u);
  EXPECT_EQ(out, EncodeSession(*snapshot));
  EXPECT_EQ(info.id, s.id);
  EXPECT_EQ(info.app, "/app");
  EXPECT_EQ(info.last_accessed_ms, snapshot->last_accessed_ms);
  Result<Session> decoded = DecodeSession(out);
  ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
  EXPECT_EQ(*decoded, *snapshot);

  // One buffer serves session after session: a smaller one overwrites, nothing is left over.
  Session small = MustCreate("/other");
  ASSERT_TRUE(store().EncodeInto(small.id, &out, nullptr));
  EXPECT_EQ(out, EncodeSession(*store().Get(small.id)));
}

TEST_F(SessionStoreTest, EncodeIntoResolvesAnAliasAndReportsTheSessionsOwnId) {
  Session s = MustCreate();
  EventBatch batch;
  Result<std::string> moved = store().ChangeRoute(s.id, "tomcatB", &batch);
  ASSERT_TRUE(moved.ok());
  std::string out;
  EncodedSessionInfo info;
  ASSERT_TRUE(store().EncodeInto(s.id, &out, &info));  // the old id, still an alias
  EXPECT_EQ(info.id, *moved);
  EXPECT_EQ(out, EncodeSession(*store().Get(*moved)));
}

TEST_F(SessionStoreTest, EncodeIntoIsFalseAndLeavesTheBufferForAbsentOrExpiredSessions) {
  std::string out = "kept";
  EncodedSessionInfo info;
  info.id = "kept";
  EXPECT_FALSE(store().EncodeInto("0123456789ABCDEF0123456789ABCDEF.tomcatA", &out, &info));
  Session s = MustCreate("/app", 60);
  node_.wall.Advance(60'000);
  EXPECT_FALSE(store().EncodeInto(s.id, &out, &info));
  EXPECT_EQ(out, "kept");
  EXPECT_EQ(info.id, "kept");
  Session gone = MustCreate();
  EventBatch batch;
  ASSERT_TRUE(store().Invalidate(gone.id, &batch).ok());
  EXPECT_FALSE(store().EncodeInto(gone.id, &out, nullptr));
}

// A value lives as long as its session: the store must not keep a caller's spare capacity (a
// JSON serializer's 1 KB output has ~1.9 KB allocated, 900 bytes per session for nothing).
TEST(SessionEntryTest, StoredValuesKeepNoSpareCapacity) {
  std::string value = "\"" + std::string(1022, 'x') + "\"";
  std::string roomy = value;
  roomy.reserve(1920);
  internal::Entry e;
  ASSERT_TRUE(e.SetIfNewer("payload", roomy, Stamp{1, "tomcatA"}));
  ASSERT_EQ(e.slots.size(), 1u);
  EXPECT_EQ(e.slots[0].json, value);
  EXPECT_LE(e.slots[0].json.capacity(), value.size() + 32);
  std::string longer = value + value;
  longer.reserve(4000);
  ASSERT_TRUE(e.SetIfNewer("payload", longer, Stamp{2, "tomcatA"}));  // a replaced value too
  EXPECT_LE(e.slots[0].json.capacity(), longer.size() + 32);
  ASSERT_TRUE(e.SetIfNewer("small", std::string("1"), Stamp{3, "tomcatA"}));  // SSO stays as is
  EXPECT_EQ(e.FindLive("small")->json, "1");
}

}  // namespace
}  // namespace sessiond::session
