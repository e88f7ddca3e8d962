// CommandRelay over two real transports on 127.0.0.1 (each with its own loop, as two nodes):
// forwarding, the worker thread that runs the commands in order, and Stop — which must leave no
// command running (the forwarded drain used to run on a detached thread that could outlive the
// node it captured).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "drain/drain.h"

namespace sessiond::drain {
namespace {

using ::testing::HasSubstr;
using transport::EventLoop;
using transport::Lane;
using transport::Message;
using transport::PeerAddress;
using transport::Transport;

const transport::Secret kSecret = transport::DeriveSecret("relay-test-secret-0123456789abcdef");

std::unique_ptr<Transport> StartTransport(EventLoop* loop, const std::string& name) {
  transport::TransportOptions o;
  o.node_name = name;
  o.address = "127.0.0.1";
  o.port = 0;
  o.auto_bind = 1;
  o.secret = kSecret;
  auto t = Transport::Start(loop, o);
  EXPECT_TRUE(t.ok()) << t.status().ToString();
  return t.ok() ? std::move(t).value() : nullptr;
}

/// A gate the handler can be held at: Wait() blocks until Open().
class Gate {
 public:
  void Open() {
    {
      std::lock_guard lock(mu_);
      open_ = true;
    }
    cv_.notify_all();
  }
  void Wait() {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return open_; });
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool open_ = false;
};

DrainRequest DrainVia(const std::string& via, int64_t grace_ms = 1000) {
  DrainRequest r;
  r.params.grace_ms = grace_ms;
  r.via = via;
  return r;
}

/// Node A forwards to node B; B's relay runs `on_command` for every command.
class RelayTest : public ::testing::Test {
 protected:
  void SetUp() override {
    loop_a_.Start();
    loop_b_.Start();
    ta_ = StartTransport(&loop_a_, "A");
    tb_ = StartTransport(&loop_b_, "B");
    ASSERT_TRUE(ta_ && tb_);
    relay_a_ = std::make_unique<CommandRelay>(&loop_a_, ta_.get(), "A",
                                              [](const DrainRequest&) { return DrainReply{}; });
    relay_b_ = std::make_unique<CommandRelay>(&loop_b_, tb_.get(), "B", [this](const DrainRequest& r) {
      return on_command(r);
    });
  }
  void TearDown() override {
    relay_a_.reset();
    relay_b_.reset();
    ta_.reset();
    tb_.reset();
    loop_a_.Stop();
    loop_b_.Stop();
  }
  PeerAddress B() const { return {"127.0.0.1", tb_->port()}; }
  /// A raw request from A on the control lane (returns at once; the answer comes to the future).
  std::future<Result<DrainReply>> SendRaw(const DrainRequest& r) {
    auto answer = std::make_shared<std::promise<Result<DrainReply>>>();
    auto f = answer->get_future();
    ta_->Request(B(), Message{kDrainType, EncodeDrainRequest(r)}, 5000,
                 [answer](Result<Message> m) {
                   if (!m.ok()) return answer->set_value(m.status());
                   answer->set_value(DecodeDrainReply(m->body));
                 },
                 Lane::kControl);
    return f;
  }

  EventLoop loop_a_, loop_b_;
  std::unique_ptr<Transport> ta_, tb_;
  std::unique_ptr<CommandRelay> relay_a_, relay_b_;
  std::function<DrainReply(const DrainRequest&)> on_command = [](const DrainRequest&) {
    return DrainReply{};
  };
  /// Where a test holds B's handler. A member: the handler may still be leaving Wait() when the
  /// test body ends, and TearDown joins it (Stop) before the gate goes.
  Gate release_;
};

TEST_F(RelayTest, ForwardRunsTheCommandOnTheMemberAndReturnsItsAnswer) {
  std::promise<DrainRequest> seen;
  on_command = [&](const DrainRequest& r) {
    seen.set_value(r);
    DrainReply reply;
    reply.state = DrainState{Mode::kDraining, r.params.grace_ms.value_or(0), 31000, false, true};
    return reply;
  };
  DrainRequest request = DrainVia("A", 1000);
  request.params.shutdown = true;
  Result<DrainReply> answer = relay_a_->Forward("B", B(), request, 5000);
  ASSERT_TRUE(answer.ok()) << answer.status().ToString();
  EXPECT_EQ(answer->code, Code::kOk);
  EXPECT_EQ(answer->state, (DrainState{Mode::kDraining, 1000, 31000, false, true}));
  EXPECT_EQ(seen.get_future().get(), request);
}

TEST_F(RelayTest, TheMembersErrorComesBackAsItsAnswer) {
  on_command = [](const DrainRequest&) {
    return DrainReply{Code::kBadRequest, "deadline (1s) must not be shorter than the grace (5s)", {}};
  };
  Result<DrainReply> answer = relay_a_->Forward("B", B(), DrainVia("A"), 5000);
  ASSERT_TRUE(answer.ok()) << answer.status().ToString();
  EXPECT_EQ(answer->code, Code::kBadRequest);
  EXPECT_THAT(answer->message, HasSubstr("must not be shorter"));
}

TEST_F(RelayTest, AMalformedCommandIsAnsweredBadRequestWithoutRunningIt) {
  std::atomic<int> ran{0};
  on_command = [&](const DrainRequest&) {
    ++ran;
    return DrainReply{};
  };
  std::promise<Result<Message>> answered;
  ta_->Request(B(), Message{kDrainType, std::string("\x01\x07", 2)}, 5000,
               [&](Result<Message> m) { answered.set_value(std::move(m)); }, Lane::kControl);
  Result<Message> m = answered.get_future().get();
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  Result<DrainReply> reply = DecodeDrainReply(m->body);
  ASSERT_TRUE(reply.ok());
  EXPECT_EQ(reply->code, Code::kBadRequest);
  EXPECT_EQ(ran.load(), 0);
}

TEST_F(RelayTest, AMemberThatDoesNotAnswerTimesOutNamingIt) {
  on_command = [&](const DrainRequest&) {
    release_.Wait();
    return DrainReply{};
  };
  Result<DrainReply> answer = relay_a_->Forward("B", B(), DrainVia("A"), 300);
  release_.Open();
  ASSERT_FALSE(answer.ok());
  EXPECT_EQ(answer.status().code(), Code::kUnavailable);
  EXPECT_THAT(answer.status().message(), HasSubstr("B"));
}

// Commands run one at a time, in the order they arrived, on one thread that is not the loop
// (a command writes SQLite: the loop must not wait for it).
TEST_F(RelayTest, CommandsRunOneAtATimeInArrivalOrderOffTheLoop) {
  std::mutex mu;
  std::vector<std::string> order;
  std::set<std::thread::id> threads;
  std::atomic<int> running{0}, overlapped{0};
  std::atomic<bool> on_loop{false};
  on_command = [&](const DrainRequest& r) {
    if (++running > 1) ++overlapped;
    if (loop_b_.InLoop()) on_loop = true;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    {
      std::lock_guard lock(mu);
      order.push_back(r.via);
      threads.insert(std::this_thread::get_id());
    }
    --running;
    return DrainReply{};
  };
  std::vector<std::future<Result<DrainReply>>> answers;
  std::vector<std::string> sent;
  for (int i = 0; i < 20; ++i) {
    sent.push_back("n" + std::to_string(i));
    answers.push_back(SendRaw(DrainVia(sent.back())));
  }
  for (auto& f : answers) {
    ASSERT_EQ(f.wait_for(std::chrono::seconds(10)), std::future_status::ready);
    Result<DrainReply> r = f.get();
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_EQ(r->code, Code::kOk);
  }
  EXPECT_EQ(order, sent);
  EXPECT_EQ(threads.size(), 1u);
  EXPECT_EQ(overlapped.load(), 0);
  EXPECT_FALSE(on_loop.load());
}

// The old problem: a command still running when the node stops must not outlive the stop. Stop
// waits for the running command, answers the queued ones "stopping" at once (no timeout for the
// node that sent them), and the handler is never called again.
TEST_F(RelayTest, StopWaitsForTheRunningCommandAndAnswersTheRestStopping) {
  Gate entered, release;
  std::atomic<int> calls{0};
  auto node_state = std::make_unique<std::string>("what the daemon's node owns");
  std::atomic<bool> finished{false};
  on_command = [&](const DrainRequest&) {
    ++calls;
    entered.Open();
    release.Wait();
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    finished = node_state->size() > 0;  // touches what the owner frees after Stop (ASan)
    return DrainReply{};
  };
  auto first = SendRaw(DrainVia("first"));
  entered.Wait();
  auto queued1 = SendRaw(DrainVia("queued-1"));
  auto queued2 = SendRaw(DrainVia("queued-2"));
  std::this_thread::sleep_for(std::chrono::milliseconds(100));  // both reach B's queue

  std::thread stopper([&] { relay_b_->Stop(); });
  for (auto* f : {&queued1, &queued2}) {
    ASSERT_EQ(f->wait_for(std::chrono::seconds(3)), std::future_status::ready)
        << "a queued command must be answered at Stop, not left to time out";
    Result<DrainReply> r = f->get();
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_EQ(r->code, Code::kUnavailable);
    EXPECT_THAT(r->message, HasSubstr("B is stopping"));
  }
  release.Open();
  stopper.join();
  EXPECT_TRUE(finished.load()) << "Stop returned while a command was still running";
  node_state.reset();  // the owner tears down right after Stop, as the daemon does

  ASSERT_EQ(first.wait_for(std::chrono::seconds(3)), std::future_status::ready);
  EXPECT_TRUE(first.get().ok());
  auto late = SendRaw(DrainVia("late"));
  ASSERT_EQ(late.wait_for(std::chrono::seconds(3)), std::future_status::ready);
  Result<DrainReply> r = late.get();
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->code, Code::kUnavailable);
  EXPECT_EQ(calls.load(), 1);
}

// A relay whose node stops while one of its admin threads waits for a member's answer: the wait
// ends at once, and nothing is sent after Stop.
TEST_F(RelayTest, StopEndsAForwardThatIsStillWaiting) {
  on_command = [&](const DrainRequest&) {
    release_.Wait();
    return DrainReply{};
  };
  auto waiting = std::async(std::launch::async, [&] { return relay_a_->Forward("B", B(), DrainVia("A"), 20000); });
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  auto t0 = std::chrono::steady_clock::now();
  relay_a_->Stop();
  ASSERT_EQ(waiting.wait_for(std::chrono::seconds(3)), std::future_status::ready);
  Result<DrainReply> r = waiting.get();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(3));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kUnavailable);
  EXPECT_THAT(r.status().message(), HasSubstr("A is stopping"));
  Result<DrainReply> after = relay_a_->Forward("B", B(), DrainVia("A"), 1000);
  EXPECT_EQ(after.status().code(), Code::kUnavailable);
  release_.Open();
}

}  // namespace
}  // namespace sessiond::drain
