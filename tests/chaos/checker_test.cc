// The chaos checker on hand-made histories: each kind of finding is reported, and what the
// definition excuses (a later or concurrent overwrite, removal or invalidation, unanswered
// requests that may have been applied) is not.
#include "chaos/checker.h"

#include <gtest/gtest.h>

namespace sessiond::chaos {
namespace {

using nlohmann::json;

const std::string kId = "0123456789ABCDEF0123456789ABCDEF.n1";
const std::string kBase = "0123456789ABCDEF0123456789ABCDEF";

Op Put(const std::string& attr, const std::string& value, int64_t start, int64_t end,
       Outcome outcome = Outcome::kOk) {
  Op op;
  op.kind = OpKind::kPut;
  op.base = kBase;
  op.id = kId;
  op.attribute = attr;
  op.value = "\"" + value + "\"";
  op.start_us = start;
  op.end_us = end;
  op.outcome = outcome;
  return op;
}
Op Invalidate(int64_t start, int64_t end, Outcome outcome = Outcome::kOk) {
  Op op = Put("", "", start, end, outcome);
  op.kind = OpKind::kInvalidate;
  op.attribute.clear();
  op.value.clear();
  return op;
}
std::map<std::string, NodeState> Live(const json& attrs, int nodes = 2) {
  std::map<std::string, NodeState> live;
  for (int i = 1; i <= nodes; ++i) live["n" + std::to_string(i)][kId] = attrs;
  return live;
}

TEST(ChaosChecker, AVisibleWriteIsNotLost) {
  Verdict v = Check({Put("a", "v1", 0, 10)}, Live({{"a", "v1"}}));
  EXPECT_TRUE(v.ok());
  EXPECT_EQ(v.acked_writes, 1);
  EXPECT_EQ(v.lost, 0);
}

TEST(ChaosChecker, AnAcknowledgedWriteOverwrittenByAnEarlierOneIsLost) {
  // v2 started after v1 was acknowledged, yet v1 is what the nodes show.
  Verdict v = Check({Put("a", "v1", 0, 10), Put("a", "v2", 20, 30)}, Live({{"a", "v1"}}));
  EXPECT_EQ(v.lost, 1);
  ASSERT_EQ(v.findings.size(), 1u);
  EXPECT_EQ(v.findings[0].kind, "lost_write");
  EXPECT_NE(v.findings[0].detail.find("\"v2\""), std::string::npos);
}

TEST(ChaosChecker, ConcurrentWritesMayLandInEitherOrder) {
  Verdict v = Check({Put("a", "v1", 0, 30), Put("a", "v2", 10, 20)}, Live({{"a", "v1"}}));
  EXPECT_TRUE(v.ok()) << v.findings[0].detail;
}

TEST(ChaosChecker, AnUnansweredLaterWriteMayHaveWon) {
  Verdict v = Check({Put("a", "v1", 0, 10), Put("a", "v2", 20, 30, Outcome::kUnknown)},
                    Live({{"a", "v2"}}));
  EXPECT_TRUE(v.ok());
  EXPECT_EQ(v.acked_writes, 1);
}

TEST(ChaosChecker, ARefusedWriteExcusesNothing) {
  Verdict v = Check({Put("a", "v1", 0, 10), Put("a", "v2", 20, 30, Outcome::kFailed)},
                    Live(json::object()));
  EXPECT_EQ(v.lost, 1);
}

TEST(ChaosChecker, AWriteOfAnotherAttributeExcusesNothing) {
  Verdict v = Check({Put("a", "v1", 0, 10), Put("b", "v2", 20, 30)}, Live({{"b", "v2"}}));
  EXPECT_EQ(v.lost, 1);
}

TEST(ChaosChecker, AnInvalidatedSessionTakesItsWritesWithIt) {
  Verdict v = Check({Put("a", "v1", 0, 10), Invalidate(20, 30)}, {{"n1", {}}, {"n2", {}}});
  EXPECT_TRUE(v.ok()) << v.findings[0].detail;
}

TEST(ChaosChecker, ASessionHeldAfterAnAcknowledgedInvalidationIsAResurrection) {
  Verdict v = Check({Put("a", "v1", 0, 10), Invalidate(20, 30)}, Live({{"a", "v1"}}));
  ASSERT_EQ(v.findings.size(), 1u);
  EXPECT_EQ(v.findings[0].kind, "resurrected");
}

TEST(ChaosChecker, ASessionOnNoLiveNodeIsLost) {
  Verdict v = Check({Put("a", "v1", 0, 10)}, {{"n1", {}}, {"n2", {}}});
  EXPECT_EQ(v.lost, 1);
  ASSERT_EQ(v.findings.size(), 2u);
  EXPECT_EQ(v.findings[0].kind, "lost_session");
}

TEST(ChaosChecker, ASessionIdleLongerThanItsTimeoutMayHaveExpired) {
  Verdict v = Check({Put("a", "v1", 0, 10)}, {{"n1", {}}, {"n2", {}}}, /*idle_expired_before_us=*/11);
  EXPECT_TRUE(v.ok());
  EXPECT_EQ(v.lost, 0);
  v = Check({Put("a", "v1", 0, 10)}, {{"n1", {}}, {"n2", {}}}, /*idle_expired_before_us=*/10);
  EXPECT_EQ(v.lost, 1);  // touched at the bound: not idle long enough
}

TEST(ChaosChecker, NodesHoldingDifferentValuesHaveDiverged) {
  std::map<std::string, NodeState> live = Live({{"a", "v1"}});
  live["n2"][kId] = {{"a", "v0"}};
  EXPECT_FALSE(Converged(live));
  Verdict v = Check({Put("a", "v1", 0, 10)}, live);
  ASSERT_FALSE(v.findings.empty());
  EXPECT_EQ(v.findings[0].kind, "diverged");
  EXPECT_EQ(v.lost, 0);  // n1 shows it
}

TEST(ChaosChecker, ARenamedSessionIsTheSameSession) {
  std::map<std::string, NodeState> live;
  live["n1"][kBase + ".n2"] = {{"a", "v1"}};
  Verdict v = Check({Put("a", "v1", 0, 10)}, live);
  EXPECT_TRUE(v.ok());
}

}  // namespace
}  // namespace sessiond::chaos
