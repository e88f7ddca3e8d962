// MemberTable: the failure-detection rules with a fake clock — no sockets, no threads.
#include <gtest/gtest.h>

#include "membership/membership_internal.h"

namespace sessiond::membership {
namespace {

constexpr int64_t kDrop = 3000;
constexpr int64_t kProbeDeadline = 2000;

class MemberTableTest : public ::testing::Test {
 protected:
  Clock At(int64_t ms) { return {ms, 1'700'000'000'000 + ms}; }
  Heartbeat Beat(std::string name = "B", int64_t start = 100) {
    Heartbeat hb;
    hb.name = std::move(name);
    hb.receiver_host = "127.0.0.2";
    hb.receiver_port = 4000;
    hb.start_ms = start;
    return hb;
  }
  State StateOf(const std::string& name) { return table_.Find(name)->state; }

  MemberTable table_{kDrop, kProbeDeadline};
};

TEST_F(MemberTableTest, FirstHeartbeatAddsAnAliveMember) {
  Effects fx = table_.OnHeartbeat(Beat(), false, At(0));
  ASSERT_EQ(fx.changes.size(), 1u);
  EXPECT_FALSE(fx.changes[0].before.has_value());
  EXPECT_EQ(fx.changes[0].member.state, State::kAlive);
  EXPECT_EQ(fx.changes[0].member.last_seen_ms, At(0).wall_ms);
  EXPECT_TRUE(fx.probes.empty());
  // Further heartbeats change nothing visible.
  EXPECT_TRUE(table_.OnHeartbeat(Beat(), false, At(500)).changes.empty());
  EXPECT_EQ(table_.Find("B")->last_seen_ms, At(500).wall_ms);
}

TEST_F(MemberTableTest, SilenceForDropTimeMakesSuspectAndProbes) {
  table_.OnHeartbeat(Beat(), false, At(0));
  EXPECT_TRUE(table_.Tick(At(kDrop - 1)).changes.empty());
  Effects fx = table_.Tick(At(kDrop));
  ASSERT_EQ(fx.changes.size(), 1u);
  EXPECT_EQ(fx.changes[0].before, State::kAlive);
  EXPECT_EQ(fx.changes[0].member.state, State::kSuspect);
  ASSERT_EQ(fx.probes.size(), 1u);
  EXPECT_EQ(fx.probes[0].name, "B");
  EXPECT_EQ(fx.probes[0].address, (transport::PeerAddress{"127.0.0.2", 4000}));
  EXPECT_TRUE(table_.Tick(At(kDrop + 100)).probes.empty());  // one probe per suspicion
}

TEST_F(MemberTableTest, FailedProbeMakesDead) {
  table_.OnHeartbeat(Beat(), false, At(0));
  Probe probe = table_.Tick(At(kDrop)).probes.at(0);
  Effects fx = table_.OnProbeFailed("B", probe.id, At(kDrop + 500));
  ASSERT_EQ(fx.changes.size(), 1u);
  EXPECT_EQ(fx.changes[0].before, State::kSuspect);
  EXPECT_EQ(StateOf("B"), State::kDead);
  EXPECT_EQ(table_.Find("B")->state_since_ms, At(kDrop + 500).wall_ms);
}

TEST_F(MemberTableTest, ProbeReplyMakesAliveAgainAndStaleFailureIsIgnored) {
  table_.OnHeartbeat(Beat(), false, At(0));
  Probe probe = table_.Tick(At(kDrop)).probes.at(0);
  Effects fx = table_.OnHeartbeat(Beat(), false, At(kDrop + 10));  // the PING reply
  ASSERT_EQ(fx.changes.size(), 1u);
  EXPECT_EQ(fx.changes[0].before, State::kSuspect);
  EXPECT_EQ(StateOf("B"), State::kAlive);
  EXPECT_TRUE(table_.OnProbeFailed("B", probe.id, At(kDrop + 20)).changes.empty());
  EXPECT_EQ(StateOf("B"), State::kAlive);
}

TEST_F(MemberTableTest, OnlyTheLatestProbeCounts) {
  table_.OnHeartbeat(Beat(), false, At(0));
  Probe first = table_.Tick(At(kDrop)).probes.at(0);
  table_.OnHeartbeat(Beat(), false, At(kDrop + 10));
  Probe second = table_.Tick(At(2 * kDrop + 10)).probes.at(0);
  EXPECT_NE(first.id, second.id);
  EXPECT_TRUE(table_.OnProbeFailed("B", first.id, At(2 * kDrop + 20)).changes.empty());
  EXPECT_EQ(StateOf("B"), State::kSuspect);
  table_.OnProbeFailed("B", second.id, At(2 * kDrop + 30));
  EXPECT_EQ(StateOf("B"), State::kDead);
}

TEST_F(MemberTableTest, LostProbeOutcomeStillEndsDead) {
  table_.OnHeartbeat(Beat(), false, At(0));
  table_.Tick(At(kDrop));
  EXPECT_TRUE(table_.Tick(At(kDrop + kProbeDeadline - 1)).changes.empty());
  table_.Tick(At(kDrop + kProbeDeadline));
  EXPECT_EQ(StateOf("B"), State::kDead);
}

TEST_F(MemberTableTest, PeerFailureSuspectsAtOnce) {
  table_.OnHeartbeat(Beat(), false, At(0));
  table_.OnHeartbeat(Beat("C"), false, At(0));  // C has the same address: both suspected
  EXPECT_TRUE(table_.OnPeerFailure({"127.0.0.9", 4000}, At(10)).changes.empty());
  Effects fx = table_.OnPeerFailure({"127.0.0.2", 4000}, At(10));
  EXPECT_EQ(fx.changes.size(), 2u);
  EXPECT_EQ(fx.probes.size(), 2u);
  EXPECT_EQ(StateOf("B"), State::kSuspect);
  // Already suspect: a second failure report sends no second probe.
  EXPECT_TRUE(table_.OnPeerFailure({"127.0.0.2", 4000}, At(20)).probes.empty());
}

TEST_F(MemberTableTest, DeadMemberResumingSameIncarnationIsAliveAgain) {
  table_.OnHeartbeat(Beat(), false, At(0));
  Probe probe = table_.Tick(At(kDrop)).probes.at(0);
  table_.OnProbeFailed("B", probe.id, At(kDrop + 500));
  Effects fx = table_.OnHeartbeat(Beat(), false, At(10000));  // SIGCONT
  ASSERT_EQ(fx.changes.size(), 1u);
  EXPECT_EQ(fx.changes[0].before, State::kDead);
  EXPECT_EQ(StateOf("B"), State::kAlive);
  EXPECT_EQ(table_.max_lag_ms(), 0);  // gaps while not alive are not heartbeat lag
}

TEST_F(MemberTableTest, GoodbyeMakesLeftAndLaterBeatsOfThatLifeAreIgnored) {
  table_.OnHeartbeat(Beat(), false, At(0));
  Heartbeat bye = Beat();
  bye.goodbye = true;
  Effects fx = table_.OnHeartbeat(bye, false, At(100));
  ASSERT_EQ(fx.changes.size(), 1u);
  EXPECT_EQ(StateOf("B"), State::kLeft);
  EXPECT_TRUE(table_.OnHeartbeat(Beat(), false, At(110)).changes.empty());
  EXPECT_TRUE(table_.Tick(At(100000)).changes.empty());  // left is final for that life
  EXPECT_EQ(StateOf("B"), State::kLeft);
}

TEST_F(MemberTableTest, NewIncarnationIsAliveAgainAndOldOneIsIgnored) {
  table_.OnHeartbeat(Beat("B", 100), false, At(0));
  Heartbeat bye = Beat("B", 100);
  bye.goodbye = true;
  table_.OnHeartbeat(bye, false, At(10));
  Effects fx = table_.OnHeartbeat(Beat("B", 200), false, At(20));
  ASSERT_EQ(fx.changes.size(), 1u);
  EXPECT_EQ(fx.changes[0].before, State::kLeft);
  EXPECT_EQ(table_.Find("B")->info.start_ms, 200);
  EXPECT_TRUE(table_.OnHeartbeat(Beat("B", 100), false, At(30)).changes.empty());
  EXPECT_EQ(table_.Find("B")->info.start_ms, 200);
  // An alive member restarting within dropTime still reports the new incarnation.
  fx = table_.OnHeartbeat(Beat("B", 300), false, At(40));
  ASSERT_EQ(fx.changes.size(), 1u);
  EXPECT_EQ(fx.changes[0].before, State::kAlive);
}

TEST_F(MemberTableTest, AppearingRestartingOrReturningMembersAreGreeted) {
  EXPECT_TRUE(table_.OnHeartbeat(Beat("B", 100), false, At(0)).greet) << "appeared";
  EXPECT_FALSE(table_.OnHeartbeat(Beat("B", 100), false, At(500)).greet) << "a routine beat";
  EXPECT_TRUE(table_.OnHeartbeat(Beat("B", 200), false, At(600)).greet) << "restarted";
  table_.Tick(At(600 + kDrop + 1));
  ASSERT_EQ(StateOf("B"), State::kSuspect);
  EXPECT_TRUE(table_.OnHeartbeat(Beat("B", 200), false, At(600 + kDrop + 2)).greet) << "back";
  Heartbeat bye = Beat("B", 200);
  bye.goodbye = true;
  EXPECT_FALSE(table_.OnHeartbeat(bye, false, At(5000)).greet) << "said goodbye";
}

// Every heartbeat carries a fresh HLC stamp of its sender: one that is not newer than the last
// of the same life is a duplicate or a replay and must not revive a dead member.
TEST_F(MemberTableTest, ReplayedHeartbeatDoesNotReviveADeadMember) {
  Heartbeat first = Beat();
  first.hlc = 1000;
  table_.OnHeartbeat(first, false, At(0));
  Heartbeat second = Beat();
  second.hlc = 2000;
  table_.OnHeartbeat(second, false, At(500));
  Probe probe = table_.Tick(At(500 + kDrop)).probes.at(0);
  table_.OnProbeFailed("B", probe.id, At(500 + kDrop + 100));
  ASSERT_EQ(StateOf("B"), State::kDead);
  for (const Heartbeat& replay : {first, second}) {
    Effects fx = table_.OnHeartbeat(replay, false, At(9000));
    EXPECT_TRUE(fx.stale);
    EXPECT_TRUE(fx.changes.empty());
    EXPECT_EQ(StateOf("B"), State::kDead);
  }
  Heartbeat resumed = Beat();
  resumed.hlc = 2001;  // the same process, SIGCONTed: a newer stamp
  EXPECT_FALSE(table_.OnHeartbeat(resumed, false, At(9100)).stale);
  EXPECT_EQ(StateOf("B"), State::kAlive);
}

TEST_F(MemberTableTest, ModeChangeIsReported) {
  table_.OnHeartbeat(Beat(), false, At(0));
  Heartbeat draining = Beat();
  draining.mode = Mode::kDraining;
  Effects fx = table_.OnHeartbeat(draining, false, At(500));
  ASSERT_EQ(fx.changes.size(), 1u);
  EXPECT_EQ(fx.changes[0].before, State::kAlive);
  EXPECT_EQ(fx.changes[0].member.info.mode, Mode::kDraining);
}

TEST_F(MemberTableTest, LagAndStaticFlagAreRecorded) {
  table_.OnHeartbeat(Beat(), true, At(0));
  table_.OnHeartbeat(Beat(), false, At(400));
  table_.OnHeartbeat(Beat(), false, At(1100));
  EXPECT_EQ(table_.max_lag_ms(), 700);
  EXPECT_EQ(table_.Find("B")->heartbeat_lag_ms, 700);
  EXPECT_TRUE(table_.Find("B")->is_static);  // sticky: once learned through a PING
}

TEST_F(MemberTableTest, MembersAreSortedByName) {
  table_.OnHeartbeat(Beat("tomcatC"), false, At(0));
  table_.OnHeartbeat(Beat("tomcatA"), false, At(0));
  table_.OnHeartbeat(Beat("tomcatB"), false, At(0));
  std::vector<Member> m = table_.Members();
  ASSERT_EQ(m.size(), 3u);
  EXPECT_EQ(m[0].info.name, "tomcatA");
  EXPECT_EQ(m[2].info.name, "tomcatC");
}

}  // namespace
}  // namespace sessiond::membership
