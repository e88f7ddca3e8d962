// Real faults on a real process: a forked child runs a node (its own loop, transport and
// membership); the test stops it (SIGSTOP), resumes it (SIGCONT) and kills it (SIGKILL), and
// measures how long this process's membership takes to notice. Namespace only (multicast).
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>

#include "test_node.h"

namespace sessiond::membership {
namespace {

using testing::InNetns;
using testing::NodeSpec;
using testing::TestNode;
using testing::WaitFor;

constexpr int64_t kDrop = 600;

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

TEST_F(ProcessTest, StoppedNodeIsSuspectThenDeadAndAliveAfterSigcont) {
  NodeSpec child_spec{.name = "child", .mcast_port = 47000};
  ChildNode child(child_spec);  // forked before this process starts any thread
  ASSERT_GT(child.pid(), 0);
  TestNode a({.name = "parent", .mcast_port = 47000});
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  ASSERT_GE(WaitFor([&] { return a.StateOf("child") == "alive"; }, 5000), 0);

  int64_t stopped = MonotonicMillis();
  ASSERT_EQ(kill(child.pid(), SIGSTOP), 0);
  int64_t suspect = WaitFor([&] { return a.StateOf("child") != "alive"; }, 5000);
  int64_t dead = WaitFor([&] { return a.StateOf("child") == "dead"; }, 5000);
  ASSERT_GE(suspect, 0);
  ASSERT_GE(dead, 0) << a.StateOf("child");
  dead = MonotonicMillis() - stopped;
  std::printf("[ measure  ] SIGSTOP: suspect after %lld ms, dead after %lld ms "
              "(dropTime %lld, probe 300)\n", static_cast<long long>(suspect),
              static_cast<long long>(dead), static_cast<long long>(kDrop));
  EXPECT_GE(suspect, kDrop - 150);  // not before dropTime (less one heartbeat interval)
  EXPECT_LT(dead, kDrop + 1000);

  int64_t resumed = MonotonicMillis();
  ASSERT_EQ(kill(child.pid(), SIGCONT), 0);
  ASSERT_GE(WaitFor([&] { return a.StateOf("child") == "alive"; }, 3000), 0);
  std::printf("[ measure  ] SIGCONT: alive again after %lld ms\n",
              static_cast<long long>(MonotonicMillis() - resumed));
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

}  // namespace
}  // namespace sessiond::membership
