// In-process clusters: several Membership instances, each with its own EventLoop and Transport
// on 127.0.0.1, sharing one multicast group on the loopback device of a private namespace.
// Timings (frequency 100 ms, dropTime 600 ms, probe 300 ms) are printed for the issue note.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdio>
#include <mutex>
#include <thread>

#include "test_node.h"

namespace sessiond::membership {
namespace {

using testing::InNetns;
using testing::NodeSpec;
using testing::TestNode;
using testing::WaitFor;

// Each test its own multicast port, so nothing of one test reaches the next.
uint16_t NextMcastPort() {
  static std::atomic<uint16_t> next{46000};
  return next++;
}

class ClusterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!InNetns()) GTEST_SKIP() << "multicast runs only inside tests/support/netns-run";
    mcast_port_ = NextMcastPort();
  }
  std::unique_ptr<TestNode> Start(NodeSpec spec) {
    if (spec.mcast_port == 45564) spec.mcast_port = mcast_port_;
    auto node = std::make_unique<TestNode>(std::move(spec));
    EXPECT_TRUE(node->ok()) << node->status().ToString();
    return node;
  }
  // Every node sees every other as alive.
  static bool Formed(const std::vector<TestNode*>& nodes) {
    for (TestNode* a : nodes)
      for (TestNode* b : nodes)
        if (a != b && a->StateOf(b->name()) != "alive") return false;
    return true;
  }

  uint16_t mcast_port_ = 0;
};

TEST_F(ClusterTest, ThreeNodesFormAClusterQuickly) {
  int64_t t0 = MonotonicMillis();
  auto a = Start({.name = "nodeA"});
  auto b = Start({.name = "nodeB"});
  auto c = Start({.name = "nodeC"});
  int64_t took = WaitFor([&] { return Formed({a.get(), b.get(), c.get()}); }, 3000);
  ASSERT_GE(took, 0) << "A sees C: " << a->StateOf("nodeC");
  std::printf("[ measure  ] 3-node cluster formed %lld ms after the first start\n",
              static_cast<long long>(MonotonicMillis() - t0));
  std::vector<Member> members = a->membership().Members();
  ASSERT_EQ(members.size(), 2u);
  EXPECT_EQ(members[0].info.name, "nodeB");
  EXPECT_EQ(members[0].info.domain, "test");
  EXPECT_EQ(members[0].info.admin_url, "http://127.0.0.1:8099");
  EXPECT_EQ(members[0].info.receiver_port, b->address().port);
  EXPECT_FALSE(members[0].is_static);
  EXPECT_GT(a->membership().stats().heartbeats_received, 0u);
  EXPECT_GT(a->membership().stats().heartbeats_sent, 0u);
}

TEST_F(ClusterTest, LateOnChangeCallbackIsToldOfMembersAlreadyKnown) {
  auto a = Start({.name = "nodeA"});
  auto b = Start({.name = "nodeB"});
  ASSERT_GE(WaitFor([&] { return Formed({a.get(), b.get()}); }, 3000), 0);
  // Registered after B was seen: the daemon registers once Start returned, and a heartbeat
  // can land in between. The callback must still hear of B, once.
  std::mutex mu;
  std::vector<std::string> appeared;
  a->membership().OnChange([&](const Member& m, std::optional<State> before) {
    std::lock_guard lock(mu);
    if (!before) appeared.push_back(m.info.name);
  });
  std::lock_guard lock(mu);
  ASSERT_EQ(appeared.size(), 1u);
  EXPECT_EQ(appeared[0], "nodeB");
}

TEST_F(ClusterTest, NineNodesFormACluster) {
  int64_t t0 = MonotonicMillis();
  std::vector<std::unique_ptr<TestNode>> nodes;
  std::vector<TestNode*> all;
  for (int i = 0; i < 9; ++i) {
    nodes.push_back(Start({.name = "node" + std::to_string(i)}));
    all.push_back(nodes.back().get());
  }
  ASSERT_GE(WaitFor([&] { return Formed(all); }, 5000), 0);
  std::printf("[ measure  ] 9-node cluster formed %lld ms after the first start\n",
              static_cast<long long>(MonotonicMillis() - t0));
  for (TestNode* n : all) EXPECT_EQ(n->membership().Members().size(), 8u);
}

// A node that starts hears the members at once (they answer its first heartbeat with theirs),
// not at their next `frequency` tick; with a long frequency the cluster would otherwise take
// that long to form around the newcomer (and its state transfer would find nobody).
TEST_F(ClusterTest, ANewcomerIsAnsweredAtOnceNotAtTheNextTick) {
  const int64_t kLong = 20000;  // no routine heartbeat goes out during the test after the first
  auto a = Start({.name = "nodeA", .frequency_ms = kLong, .drop_time_ms = 3 * kLong});
  std::this_thread::sleep_for(std::chrono::milliseconds(200));  // A's first beat is long gone
  auto b = Start({.name = "nodeB", .frequency_ms = kLong, .drop_time_ms = 3 * kLong});
  EXPECT_GE(WaitFor([&] { return Formed({a.get(), b.get()}); }, 5000), 0)
      << "B sees A: " << b->StateOf("nodeA") << ", A sees B: " << a->StateOf("nodeB");
}

TEST_F(ClusterTest, CrashedNodeIsFoundDead) {
  auto a = Start({.name = "nodeA"});
  auto b = Start({.name = "nodeB"});
  auto c = Start({.name = "nodeC"});
  ASSERT_GE(WaitFor([&] { return Formed({a.get(), b.get(), c.get()}); }, 3000), 0);
  std::mutex mu;  // the callback runs on A's loop thread
  std::vector<std::string> seen;
  a->membership().OnChange([&](const Member& m, std::optional<State>) {
    std::lock_guard lock(mu);
    seen.push_back(m.info.name + ":" + std::string(StateName(m.state)));
  });
  int64_t crashed = MonotonicMillis();
  c->Crash();
  ASSERT_GE(WaitFor([&] {
    return a->StateOf("nodeC") == "dead" && b->StateOf("nodeC") == "dead";
  }, 3000), 0) << a->StateOf("nodeC");
  int64_t took = MonotonicMillis() - crashed;
  std::printf("[ measure  ] crash without an open connection: dead after %lld ms (dropTime 600)\n",
              static_cast<long long>(took));
  EXPECT_LT(took, 600 + 500);  // dropTime + 0.5 s
  EXPECT_EQ(a->StateOf("nodeB"), "alive");
  EXPECT_GE(a->membership().stats().probes_failed, 1u);
  // The callback saw suspect, then dead.
  ASSERT_GE(WaitFor([&] {
    std::lock_guard lock(mu);
    return !seen.empty() && seen.back() == "nodeC:dead";
  }, 1000), 0);
  std::lock_guard lock(mu);
  ASSERT_GE(seen.size(), 2u);
  EXPECT_EQ(seen[seen.size() - 2], "nodeC:suspect");
  EXPECT_EQ(seen.back(), "nodeC:dead");
}

TEST_F(ClusterTest, CrashWithAnOpenConnectionIsFoundAtOnce) {
  auto a = Start({.name = "nodeA"});
  auto c = Start({.name = "nodeC"});
  ASSERT_GE(WaitFor([&] { return Formed({a.get(), c.get()}); }, 3000), 0);
  // A replication connection A -> C is open (a request went over it).
  std::atomic<bool> answered{false};
  a->transport().Request(c->address(), {kPingType, {}}, 1000,
                         [&](Result<transport::Message> r) { answered = r.ok(); });
  ASSERT_GE(WaitFor([&] { return answered.load(); }, 2000), 0);
  int64_t crashed = MonotonicMillis();
  c->Crash();
  ASSERT_GE(WaitFor([&] { return a->StateOf("nodeC") == "dead"; }, 3000), 0);
  int64_t took = MonotonicMillis() - crashed;
  std::printf("[ measure  ] crash with an open connection: dead after %lld ms\n",
              static_cast<long long>(took));
  EXPECT_LT(took, 500);
}

TEST_F(ClusterTest, LeaveMakesLeftAtOnce) {
  auto a = Start({.name = "nodeA"});
  auto b = Start({.name = "nodeB"});
  ASSERT_GE(WaitFor([&] { return Formed({a.get(), b.get()}); }, 3000), 0);
  b->membership().Leave();
  int64_t took = WaitFor([&] { return a->StateOf("nodeB") == "left"; }, 2000);
  ASSERT_GE(took, 0) << a->StateOf("nodeB");
  std::printf("[ measure  ] goodbye: left after %lld ms\n", static_cast<long long>(took));
  EXPECT_LT(took, 100);
  b->Crash();  // a left member never turns suspect or dead
  std::this_thread::sleep_for(std::chrono::milliseconds(1200));
  EXPECT_EQ(a->StateOf("nodeB"), "left");
}

TEST_F(ClusterTest, NodesOnOtherLoopbackAddressesHearEachOther) {
  // IP_MULTICAST_IF / IP_ADD_MEMBERSHIP on 127.0.0.2 and .3 (or the 127.0.0.1 fallback).
  auto a = Start({.name = "nodeA", .address = "127.0.0.2"});
  auto b = Start({.name = "nodeB", .address = "127.0.0.3"});
  ASSERT_GE(WaitFor([&] { return Formed({a.get(), b.get()}); }, 3000), 0);
  EXPECT_EQ(a->membership().Find("nodeB")->info.receiver_host, "127.0.0.3");
}

TEST_F(ClusterTest, RestartIsANewIncarnation) {
  auto a = Start({.name = "nodeA"});
  auto b = Start({.name = "nodeB"});
  ASSERT_GE(WaitFor([&] { return Formed({a.get(), b.get()}); }, 3000), 0);
  int64_t first_start = a->membership().Find("nodeB")->info.start_ms;
  b->Crash();
  ASSERT_GE(WaitFor([&] { return a->StateOf("nodeB") == "dead"; }, 3000), 0);
  std::this_thread::sleep_for(std::chrono::milliseconds(5));  // a later start time
  b = Start({.name = "nodeB"});
  ASSERT_GE(WaitFor([&] { return a->StateOf("nodeB") == "alive"; }, 2000), 0);
  EXPECT_GT(a->membership().Find("nodeB")->info.start_ms, first_start);
}

TEST_F(ClusterTest, OtherDomainSecretOrPortNeverAppears) {
  auto a = Start({.name = "nodeA"});
  auto b = Start({.name = "nodeB"});
  auto d = Start({.name = "otherDomain", .domain = "elsewhere"});
  auto e = Start({.name = "otherSecret",
                  .secret = transport::DeriveSecret("a different cluster secret, 32b")});
  auto f = Start({.name = "otherPort", .mcast_port = static_cast<uint16_t>(mcast_port_ + 500)});
  auto g = Start({.name = "noSecret", .secret = transport::Secret{}});
  ASSERT_GE(WaitFor([&] { return Formed({a.get(), b.get()}); }, 3000), 0);
  std::this_thread::sleep_for(std::chrono::milliseconds(1000));  // ten heartbeat rounds
  for (TestNode* n : {a.get(), b.get()}) {
    std::vector<Member> m = n->membership().Members();
    ASSERT_EQ(m.size(), 1u) << n->name() << " sees " << m.back().info.name;
  }
  // They were heard and dropped: the domain check and the MAC.
  EXPECT_GT(a->membership().stats().heartbeats_rejected, 20u);
  EXPECT_TRUE(d->membership().Members().empty());
  EXPECT_TRUE(f->membership().Members().empty());
}

TEST_F(ClusterTest, FailuresOfOtherNodesDoNotDisturbTheRest) {
  auto a = Start({.name = "nodeA"});
  auto b = Start({.name = "nodeB"});
  ASSERT_GE(WaitFor([&] { return Formed({a.get(), b.get()}); }, 3000), 0);
  // Two seconds of steady heartbeats: no state change, heartbeat lag near the frequency.
  std::atomic<int> changes{0};
  a->membership().OnChange([&](const Member&, std::optional<State> before) {
    if (before) ++changes;  // the replay of B as appeared is not a change
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(2000));
  EXPECT_EQ(changes, 0);
  int64_t lag = a->membership().stats().max_heartbeat_lag_ms;
  std::printf("[ measure  ] max heartbeat lag %lld ms at frequency 100\n",
              static_cast<long long>(lag));
  EXPECT_LT(lag, 600);
}

// ---- static membership: no multicast at all (runs outside the namespace too: TCP only) ---------

TEST(StaticMembershipTest, NodesFindEachOtherByPing) {
  uint16_t pa = sessiond::testing::FreePort(), pb = sessiond::testing::FreePort();
  uint16_t pc = sessiond::testing::FreePort();
  TestNode a({.name = "nodeA", .multicast = false, .statics = {{"127.0.0.1", pb}}, .port = pa});
  TestNode b({.name = "nodeB", .multicast = false, .statics = {{"127.0.0.1", pa}}, .port = pb});
  // C lists only A; A learns C from the heartbeat C's PING carries.
  TestNode c({.name = "nodeC", .multicast = false, .statics = {{"127.0.0.1", pa}}, .port = pc});
  ASSERT_TRUE(a.ok() && b.ok() && c.ok()) << a.status().ToString() << b.status().ToString();
  int64_t took = WaitFor([&] {
    return a.StateOf("nodeB") == "alive" && b.StateOf("nodeA") == "alive" &&
           a.StateOf("nodeC") == "alive" && c.StateOf("nodeA") == "alive";
  }, 3000);
  ASSERT_GE(took, 0) << a.StateOf("nodeB") << " " << a.StateOf("nodeC");
  std::printf("[ measure  ] static members found each other in %lld ms\n",
              static_cast<long long>(took));
  EXPECT_TRUE(a.membership().Find("nodeB")->is_static);
  EXPECT_EQ(a.membership().Find("nodeB")->info.admin_url, "http://127.0.0.1:8099");
  // A static member that leaves says so over the transport.
  b.membership().Leave();
  EXPECT_GE(WaitFor([&] { return a.StateOf("nodeB") == "left"; }, 1000), 0);
  // One that crashes: its PINGs stop, A's probe is refused.
  c.Crash();
  int64_t dead = WaitFor([&] { return a.StateOf("nodeC") == "dead"; }, 3000);
  EXPECT_GE(dead, 0) << a.StateOf("nodeC");
  std::printf("[ measure  ] static member crash: dead after %lld ms\n",
              static_cast<long long>(dead));
}

TEST(StaticMembershipTest, StartRefusesABadNameOrInterface) {
  transport::EventLoop loop;
  loop.Start();
  transport::TransportOptions t;
  t.node_name = "x";
  t.port = sessiond::testing::FreePort();
  auto transport = transport::Transport::Start(&loop, t);
  ASSERT_TRUE(transport.ok()) << transport.status().ToString();
  MembershipOptions o;
  o.multicast = false;
  auto no_name = Membership::Start(&loop, transport->get(), o, [] { return Heartbeat{}; });
  EXPECT_EQ(no_name.status().code(), Code::kBadRequest);
  o.multicast = true;  // refused before any socket is opened: no interface to send on
  o.bind = "0.0.0.0";
  auto any = Membership::Start(&loop, transport->get(), o, [] {
    Heartbeat hb;
    hb.name = "x";
    return hb;
  });
  EXPECT_EQ(any.status().code(), Code::kBadRequest) << any.status().ToString();
}

}  // namespace
}  // namespace sessiond::membership
