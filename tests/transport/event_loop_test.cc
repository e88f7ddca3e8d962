// EventLoop: posts run in order on the loop thread, timers fire once / repeatedly and can be
// cancelled from any thread, Stop joins and is idempotent.
#include <pthread.h>

#include <atomic>
#include <chrono>
#include <future>
#include <mutex>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "transport/loop_internal.h"
#include "transport/transport.h"

namespace sessiond::transport {
namespace {

// Blocks until `fn` ran on the loop (a barrier for the test thread).
void RunOnLoop(EventLoop& loop, std::function<void()> fn) {
  std::promise<void> done;
  loop.Post([&] {
    fn();
    done.set_value();
  });
  done.get_future().wait();
}

TEST(EventLoopTest, PostsRunInOrderOnTheNamedLoopThread) {
  EventLoop loop;
  loop.Start();
  std::vector<int> seen;
  for (int i = 0; i < 100; ++i) loop.Post([&seen, i] { seen.push_back(i); });
  std::string name;
  bool in_loop = false;
  RunOnLoop(loop, [&] {
    char buf[32] = {};
    pthread_getname_np(pthread_self(), buf, sizeof buf);
    name = buf;
    in_loop = loop.InLoop();
  });
  ASSERT_EQ(seen.size(), 100u);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(seen[i], i);
  EXPECT_EQ(name, "cluster loop");
  EXPECT_TRUE(in_loop);
  EXPECT_FALSE(loop.InLoop());
}

TEST(EventLoopTest, PostBeforeStartRunsAfterStart) {
  EventLoop loop;
  std::promise<void> ran;
  loop.Post([&] { ran.set_value(); });
  loop.Start();
  EXPECT_EQ(ran.get_future().wait_for(std::chrono::seconds(2)), std::future_status::ready);
}

TEST(EventLoopTest, AfterFiresOnceInDelayOrder) {
  EventLoop loop;
  loop.Start();
  std::mutex mu;
  std::vector<int> order;
  std::promise<void> done;
  auto t0 = std::chrono::steady_clock::now();
  loop.After(60, [&] {
    std::lock_guard l(mu);
    order.push_back(60);
    done.set_value();
  });
  loop.After(20, [&] {
    std::lock_guard l(mu);
    order.push_back(20);
  });
  ASSERT_EQ(done.get_future().wait_for(std::chrono::seconds(2)), std::future_status::ready);
  EXPECT_GE(std::chrono::steady_clock::now() - t0, std::chrono::milliseconds(60));
  std::lock_guard l(mu);
  EXPECT_EQ(order, (std::vector<int>{20, 60}));
}

TEST(EventLoopTest, EveryRepeatsUntilCancelled) {
  EventLoop loop;
  loop.Start();
  std::atomic<int> ticks{0};
  uint64_t id = loop.Every(10, [&] { ++ticks; });
  // Wait for ticks rather than sleeping a fixed time: the machine may be loaded.
  for (int i = 0; i < 500 && ticks < 4; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  loop.Cancel(id);
  RunOnLoop(loop, [] {});
  int at_cancel = ticks.load();
  EXPECT_GE(at_cancel, 4);
  std::this_thread::sleep_for(std::chrono::milliseconds(60));
  EXPECT_EQ(ticks.load(), at_cancel);
}

TEST(EventLoopTest, CancelBeforeFiringSuppressesTheCallback) {
  EventLoop loop;
  loop.Start();
  std::atomic<bool> fired{false};
  uint64_t id = loop.After(30, [&] { fired = true; });
  loop.Cancel(id);
  // Cancelling from the loop thread, including a timer armed in the same callback.
  RunOnLoop(loop, [&] {
    uint64_t inner = loop.After(0, [&] { fired = true; });
    loop.Cancel(inner);
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(80));
  EXPECT_FALSE(fired);
  loop.Cancel(12345);  // unknown ids are ignored
}

TEST(EventLoopTest, StopJoinsAndIsIdempotent) {
  EventLoop loop;
  loop.Start();
  loop.Start();
  std::atomic<bool> late{false};
  loop.After(5000, [&] { late = true; });
  loop.Stop();
  loop.Stop();
  EXPECT_FALSE(late);
}

TEST(EventLoopTest, IoContextIsSharedWithSiblingModules) {
  EventLoop loop;
  boost::asio::io_context& io = IoContextOf(loop);
  std::promise<bool> in_loop;
  boost::asio::post(io, [&] { in_loop.set_value(loop.InLoop()); });
  loop.Start();
  EXPECT_TRUE(in_loop.get_future().get());
}

}  // namespace
}  // namespace sessiond::transport
