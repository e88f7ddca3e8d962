// Real faults on a real process: a forked child runs a node (its own loop, transport and
// membership); the test stops it (SIGSTOP), resumes it (SIGCONT) and kills it (SIGKILL), and
// measures how long this process's membership takes to notice. Namespace only (multicast).
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <thread>
#include <mutex>
#include <future>

#include "membership/membership_internal.h"
#include "test_node.h"

namespace sessiond::membership {
namespace {

using testing::InNetns;
using testing::NodeSpec;
using testing::TestNode;
using testing::WaitFor;

// The child process: a node that runs until it is killed. Reaped (SIGKILL) by the destructor.
class ChildNode {
 public:
  explicit ChildNode(NodeSpec spec) {
    pid_ = fork();
    if (pid_ == 0) {
      TestNode node(std::move(spec));
      if (!node.ok()) _exit(3);
      for (;;) pause();
    }
  }
  ~ChildNode() {
    if (pid_ <= 0) return;
    kill(pid_, SIGKILL);
    int status = 0;
    waitpid(pid_, &status, 0);
  }
  pid_t pid() const { return pid_; }

 private:
  pid_t pid_ = -1;
};

class ProcessTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!InNetns()) GTEST_SKIP() << "forks multicast nodes: only inside tests/support/netns-run";
  }
};

// Stops a forked node, checks suspect-then-dead within dropTime + 1 s, resumes it, checks alive.
void StopAndResume(uint16_t mcast_port, int64_t frequency, int64_t drop, int64_t probe) {
  NodeSpec spec{.name = "child", .mcast_port = mcast_port, .frequency_ms = frequency,
                .drop_time_ms = drop, .probe_timeout_ms = probe};
  ChildNode child(spec);  // forked before this process starts any thread
  ASSERT_GT(child.pid(), 0);
  spec.name = "parent";
  TestNode a(spec);
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  ASSERT_GE(WaitFor([&] { return a.StateOf("child") == "alive"; }, 5000), 0);

  int64_t stopped = MonotonicMillis();
  ASSERT_EQ(kill(child.pid(), SIGSTOP), 0);
  int64_t suspect = WaitFor([&] { return a.StateOf("child") != "alive"; }, drop + 5000);
  ASSERT_GE(WaitFor([&] { return a.StateOf("child") == "dead"; }, 5000), 0) << a.StateOf("child");
  int64_t dead = MonotonicMillis() - stopped;
  std::printf("[ measure  ] SIGSTOP: suspect after %lld ms, dead after %lld ms "
              "(frequency %lld, dropTime %lld, probe %lld)\n", static_cast<long long>(suspect),
              static_cast<long long>(dead), static_cast<long long>(frequency),
              static_cast<long long>(drop), static_cast<long long>(probe));
  EXPECT_GE(suspect, drop - frequency - 50);  // not before dropTime after the last heartbeat
  EXPECT_LT(dead, drop + 1000);

  int64_t resumed = MonotonicMillis();
  ASSERT_EQ(kill(child.pid(), SIGCONT), 0);
  ASSERT_GE(WaitFor([&] { return a.StateOf("child") == "alive"; }, 3000), 0);
  std::printf("[ measure  ] SIGCONT: alive again after %lld ms\n",
              static_cast<long long>(MonotonicMillis() - resumed));
}

TEST_F(ProcessTest, StoppedNodeIsSuspectThenDeadAndAliveAfterSigcont) {
  StopAndResume(47000, 100, 600, 300);
}

TEST_F(ProcessTest, StoppedNodeIsDeadWithinDropTimePlusOneSecondAtSeedTimings) {
  // The seed's frequency 500 / dropTime 3000 with the default probe timeout.
  StopAndResume(47002, 500, 3000, MembershipOptions{}.probe_timeout_ms);
}

TEST_F(ProcessTest, KilledNodeWithAnOpenConnectionIsDeadWithinHalfASecond) {
  uint16_t child_port = sessiond::testing::FreePort();
  ChildNode child({.name = "child", .mcast_port = 47001, .port = child_port});
  ASSERT_GT(child.pid(), 0);
  // The parent lists the child as a static member too: its PINGs keep a connection open, as
  // replication would.
  TestNode a({.name = "parent", .mcast_port = 47001, .statics = {{"127.0.0.1", child_port}}});
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  ASSERT_GE(WaitFor([&] { return a.StateOf("child") == "alive"; }, 5000), 0);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // a PING or two went over it

  int64_t killed = MonotonicMillis();
  ASSERT_EQ(kill(child.pid(), SIGKILL), 0);
  ASSERT_GE(WaitFor([&] { return a.StateOf("child") == "dead"; }, 3000), 0) << a.StateOf("child");
  int64_t took = MonotonicMillis() - killed;
  std::printf("[ measure  ] kill -9 with an open connection: dead after %lld ms\n",
              static_cast<long long>(took));
  EXPECT_LT(took, 500);
}

// An attacker on the segment records a node's authentic heartbeats and, once the node is dead,
// sends them again: they must not bring it back (a dead node "alive" keeps JvmRouteBinderValve
// from re-issuing its sessions and makes writes wait on it).
TEST_F(ProcessTest, ReplayedHeartbeatsOfAKilledNodeDoNotReviveIt) {
  constexpr uint16_t kPort = 47003;
  ChildNode child({.name = "child", .mcast_port = kPort});
  ASSERT_GT(child.pid(), 0);
  TestNode a({.name = "parent", .mcast_port = kPort});
  ASSERT_TRUE(a.ok()) << a.status().ToString();

  transport::EventLoop tap_loop;
  tap_loop.Start();
  std::mutex mu;
  std::vector<std::string> recorded;  // GUARDED_BY(mu)
  std::unique_ptr<McastChannel> tap;
  std::promise<Status> opened;
  tap_loop.Post([&] {
    auto channel = McastChannel::Open(tap_loop, {"228.0.0.4", kPort, "127.0.0.1", 1},
                                      [&](std::string_view bytes) {
      auto hb = DecodeHeartbeat(bytes, testing::TestSecret());
      std::lock_guard lock(mu);
      if (hb.ok() && hb->name == "child") recorded.emplace_back(bytes);
    });
    if (channel.ok()) tap = std::move(channel).value();
    opened.set_value(channel.status());
  });
  ASSERT_TRUE(opened.get_future().get().ok());
  ASSERT_GE(WaitFor([&] {
    std::lock_guard lock(mu);
    return recorded.size() >= 3 && a.StateOf("child") == "alive";
  }, 5000), 0);

  ASSERT_EQ(kill(child.pid(), SIGKILL), 0);
  ASSERT_GE(WaitFor([&] { return a.StateOf("child") == "dead"; }, 5000), 0) << a.StateOf("child");
  std::vector<std::string> replay;
  {
    std::lock_guard lock(mu);
    replay = recorded;
  }
  for (int round = 0; round < 5; ++round) {
    tap_loop.Post([&] {
      for (const std::string& bytes : replay) (void)tap->Send(bytes);
    });
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_EQ(a.StateOf("child"), "dead") << "a replayed heartbeat revived a killed node";
  EXPECT_GE(a.membership().stats().heartbeats_replayed, replay.size());
  std::promise<void> closed;
  tap_loop.Post([&] {
    tap->Close();
    closed.set_value();
  });
  closed.get_future().wait();
}

}  // namespace
}  // namespace sessiond::membership
