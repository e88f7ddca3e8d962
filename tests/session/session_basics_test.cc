// The session module's small pieces: HLC, ids, the session JSON, Session helpers.
#include <gtest/gtest.h>

#include <set>
#include <thread>

#include "session/session.h"
#include "session_test_util.h"

namespace sessiond::session {
namespace {

using testing::FakeWall;

TEST(HybridClockTest, FollowsTheWallClockWhenItMovesAhead) {
  FakeWall wall;
  HybridClock clock(wall.Source());
  HlcTime a = clock.Now();
  EXPECT_EQ(HlcWallMillis(a), wall.ms.load());
  EXPECT_EQ(HlcLogical(a), 0u);
  wall.Advance(5);
  HlcTime b = clock.Now();
  EXPECT_EQ(HlcWallMillis(b), wall.ms.load());
  EXPECT_EQ(HlcLogical(b), 0u);
}

TEST(HybridClockTest, NeverGoesBackwardsWhenTheWallClockDoes) {
  FakeWall wall;
  HybridClock clock(wall.Source());
  HlcTime last = clock.Now();
  const int64_t start = wall.ms.load();
  for (int i = 0; i < 100; ++i) {
    wall.Advance(i % 3 == 0 ? -250 : 1);  // a clock stepped backwards now and then
    HlcTime next = clock.Now();
    ASSERT_GT(next, last);
    last = next;
  }
  EXPECT_EQ(HlcWallMillis(last), start);  // stayed at the highest wall time seen
}

TEST(HybridClockTest, LogicalOverflowBorrowsAMillisecond) {
  FakeWall wall;
  HybridClock clock(wall.Source());
  HlcTime last = clock.Now();
  for (int i = 0; i < 0x10000 + 10; ++i) {
    HlcTime next = clock.Now();
    ASSERT_GT(next, last);
    last = next;
  }
  EXPECT_EQ(HlcWallMillis(last), wall.ms.load() + 1);
}

TEST(HybridClockTest, StampsAfterObserveOrderAfterTheRemoteStamp) {
  FakeWall behind;  // this node's clock runs 10 s behind the sender's
  behind.Advance(-10'000);
  HybridClock local(behind.Source());
  HlcTime remote = MakeHlc(behind.ms.load() + 10'000, 7);
  EXPECT_TRUE(local.Observe(remote));
  HlcTime next = local.Now();
  EXPECT_GT(next, remote);
  EXPECT_EQ(HlcWallMillis(next), HlcWallMillis(remote));
  EXPECT_TRUE(local.Observe(MakeHlc(1, 0)));  // an old stamp changes nothing
  EXPECT_GT(local.Now(), next);
}

TEST(HybridClockTest, AStampBeyondTheMaxSkewIsRefusedAndCounted) {
  FakeWall wall;
  HybridClock clock(wall.Source());
  std::vector<int64_t> hooked;
  clock.set_max_skew_ms(1000, [&](HlcTime, int64_t ahead) { hooked.push_back(ahead); });
  EXPECT_TRUE(clock.Observe(MakeHlc(wall.ms.load() + 1000, 3)));  // at the bound: taken
  EXPECT_EQ(HlcWallMillis(clock.Now()), wall.ms.load() + 1000);
  const HlcTime year_3000 = MakeHlc(32'503'680'000'000, 0);
  EXPECT_FALSE(clock.WithinSkew(year_3000));
  EXPECT_FALSE(clock.Observe(year_3000));
  EXPECT_FALSE(clock.Observe(MakeHlc(wall.ms.load() + 1001, 0)));
  EXPECT_EQ(clock.refused(), 2u);
  ASSERT_EQ(hooked.size(), 2u);
  EXPECT_EQ(hooked[1], 1001);
  EXPECT_EQ(HlcWallMillis(clock.Now()), wall.ms.load() + 1000) << "the clock did not move";
  wall.Advance(5000);  // once the wall clock is within the bound, the same stamp is taken
  EXPECT_TRUE(clock.Observe(MakeHlc(wall.ms.load() - 3999, 0)));
  HybridClock unbounded(wall.Source());
  EXPECT_TRUE(unbounded.Observe(year_3000)) << "no bound by default (maxClockSkew=0)";
}

TEST(HybridClockTest, ConcurrentNowCallsAreUnique) {
  FakeWall wall;
  HybridClock clock(wall.Source());
  std::vector<std::vector<HlcTime>> seen(4);
  std::vector<std::thread> threads;
  for (auto& out : seen) {
    threads.emplace_back([&clock, &out] {
      for (int i = 0; i < 5000; ++i) out.push_back(clock.Now());
    });
  }
  for (auto& t : threads) t.join();
  std::set<HlcTime> all;
  for (const auto& out : seen) all.insert(out.begin(), out.end());
  EXPECT_EQ(all.size(), 4u * 5000u);
}

TEST(StampTest, TimeFirstThenNodeName) {
  EXPECT_LT((Stamp{1, "z"}), (Stamp{2, "a"}));
  EXPECT_LT((Stamp{2, "a"}), (Stamp{2, "b"}));
  EXPECT_FALSE((Stamp{2, "b"}) < (Stamp{2, "b"}));
}

TEST(SessionIdTest, NewIdsAreWellFormedAndCarryTheRoute) {
  std::string id = NewSessionId("tomcatA");
  ASSERT_EQ(id.size(), 32u + 1 + 7);
  EXPECT_TRUE(IsWellFormedId(id));
  EXPECT_EQ(RouteOf(id), "tomcatA");
  EXPECT_EQ(BaseOf(id), id.substr(0, 32));
  for (char c : BaseOf(id)) EXPECT_TRUE(std::isdigit(c) || (c >= 'A' && c <= 'F')) << id;
  EXPECT_NE(NewSessionId("tomcatA"), id);
}

TEST(SessionIdTest, NoRouteMeansNoSuffix) {
  std::string id = NewSessionId("");
  EXPECT_EQ(id.size(), 32u);
  EXPECT_TRUE(IsWellFormedId(id));
  EXPECT_EQ(RouteOf(id), "");
  EXPECT_EQ(BaseOf(id), id);
}

TEST(SessionIdTest, RejectsIdsWeCouldNotHaveIssued) {
  const std::string base = "0123456789abcdefABCDEF0123456789";
  EXPECT_TRUE(IsWellFormedId(base));
  EXPECT_TRUE(IsWellFormedId(base + ".node_1-b"));
  EXPECT_FALSE(IsWellFormedId(""));
  EXPECT_FALSE(IsWellFormedId(base.substr(1)));
  EXPECT_FALSE(IsWellFormedId(base + "."));
  EXPECT_FALSE(IsWellFormedId(base + "0"));
  EXPECT_FALSE(IsWellFormedId(base + "./../etc"));
  EXPECT_FALSE(IsWellFormedId(base + ".a.b"));
  EXPECT_FALSE(IsWellFormedId("G123456789abcdefABCDEF0123456789"));
  EXPECT_FALSE(IsWellFormedId(base + "." + std::string(96, 'a')));  // 129 bytes
  EXPECT_TRUE(IsWellFormedId(base + "." + std::string(95, 'a')));   // 128 bytes
}

TEST(EventTypeTest, Names) {
  EXPECT_EQ(EventTypeName(EventType::kCreate), "create");
  EXPECT_EQ(EventTypeName(EventType::kSetAttribute), "set_attribute");
  EXPECT_EQ(EventTypeName(EventType::kRemoveAttribute), "remove_attribute");
  EXPECT_EQ(EventTypeName(EventType::kAccess), "access");
  EXPECT_EQ(EventTypeName(EventType::kInvalidate), "invalidate");
  EXPECT_EQ(EventTypeName(EventType::kChangeId), "change_id");
}

TEST(SessionJsonTest, ExactKeysOrderAndRawAttributeValues) {
  Session s;
  s.id = "ABC.tomcatA";
  s.created_ms = 1764032523456;
  s.last_accessed_ms = 1764032524000;
  s.max_inactive_s = 1800;
  s.attributes["count"] = Attribute{"3", {}};
  s.attributes["user \"x\""] = Attribute{"{\"name\": \"ann\"}", {}};
  s.removed["gone"] = Stamp{1, "a"};
  EXPECT_EQ(SessionToJson(s, "tomcatB"),
            "{\"id\":\"ABC.tomcatA\",\"node\":\"tomcatB\","
            "\"created\":\"2025-11-25T01:02:03.456Z\","
            "\"last_accessed\":\"2025-11-25T01:02:04.000Z\","
            "\"max_inactive_seconds\":1800,"
            "\"attributes\":{\"count\":3,\"user \\\"x\\\"\":{\"name\": \"ann\"}}}");
}

TEST(SessionJsonTest, EmptyAttributesAndOddNames) {
  Session s;
  s.id = "X";
  EXPECT_NE(SessionToJson(s, "n").find("\"attributes\":{}}"), std::string::npos);
  s.attributes[std::string("\xff\n", 2)] = Attribute{"1", {}};  // invalid UTF-8 must not throw
  std::string json = SessionToJson(s, "n");
  EXPECT_NE(json.find("\\n"), std::string::npos);
}

TEST(SessionTest, ExpiredAtUsesTheMaxInactiveInterval) {
  Session s;
  s.last_accessed_ms = 1000;
  s.max_inactive_s = 2;
  EXPECT_FALSE(s.ExpiredAt(2999));
  EXPECT_TRUE(s.ExpiredAt(3000));
  s.max_inactive_s = 0;
  EXPECT_FALSE(s.ExpiredAt(1'000'000'000));
  s.max_inactive_s = -1;
  EXPECT_FALSE(s.ExpiredAt(1'000'000'000));
}

TEST(SessionTest, SizeBytesCountsIdsNamesAndValues) {
  Session s;
  s.id = "0123456789";
  s.app = "/app";
  s.attributes["k"] = Attribute{"12345", {}};
  EXPECT_EQ(s.SizeBytes(), 10u + 4u + 1u + 5u);
}

}  // namespace
}  // namespace sessiond::session
