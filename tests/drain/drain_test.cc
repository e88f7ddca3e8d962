// drain: the forwarded command's codec, the Drainer's steps with recording hooks (the data
// plane, replication and the store are the daemon's; e2e tests drive the real ones), and the
// agent-check listener over a real loopback socket.
#include <arpa/inet.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <thread>
#include <vector>

#include "drain/drain.h"

namespace sessiond::drain {
namespace {

using ::testing::HasSubstr;

TEST(DrainCodecTest, RequestRoundTrips) {
  for (const DrainRequest& r :
       {DrainRequest{false, {}, "nodeA"}, DrainRequest{true, {}, ""},
        DrainRequest{false, {int64_t{0}, int64_t{250}, true}, "nodeB"},
        DrainRequest{false, {int64_t{5000}, std::nullopt, false}, std::string(128, 'x')}}) {
    Result<DrainRequest> back = DecodeDrainRequest(EncodeDrainRequest(r));
    ASSERT_TRUE(back.ok()) << back.status().ToString();
    EXPECT_EQ(*back, r);
    EXPECT_EQ(EncodeDrainRequest(*back), EncodeDrainRequest(r));
  }
}

TEST(DrainCodecTest, ReplyRoundTrips) {
  DrainReply ok{Code::kOk, "", DrainState{Mode::kDraining, 5000, 35000, true, true}};
  DrainReply bad{Code::kBadRequest, "deadline (1s) must not be shorter than the grace (5s)", {}};
  for (const DrainReply& r : {ok, bad}) {
    Result<DrainReply> back = DecodeDrainReply(EncodeDrainReply(r));
    ASSERT_TRUE(back.ok()) << back.status().ToString();
    EXPECT_EQ(*back, r);
  }
}

TEST(DrainCodecTest, MalformedRequestsNameTheField) {
  std::string good = EncodeDrainRequest({false, {int64_t{1}, int64_t{2}, false}, "nodeA"});
  EXPECT_THAT(DecodeDrainRequest(good.substr(0, 5)).status().message(), HasSubstr("truncated"));
  EXPECT_THAT(DecodeDrainRequest(good + "x").status().message(), HasSubstr("trailing"));
  std::string op = good;
  op[1] = 9;
  EXPECT_THAT(DecodeDrainRequest(op).status().message(), HasSubstr("op"));
  std::string format = good;
  format[0] = 2;
  EXPECT_THAT(DecodeDrainRequest(format).status().message(), HasSubstr("format"));
  std::string negative = good;
  negative[3] = static_cast<char>(0x80);  // grace_ms's top byte
  EXPECT_THAT(DecodeDrainRequest(negative).status().message(), HasSubstr("grace_ms"));
  EXPECT_FALSE(DecodeDrainRequest("").ok());
  std::string mode = EncodeDrainReply({});
  mode[2] = 7;
  EXPECT_THAT(DecodeDrainReply(mode).status().message(), HasSubstr("mode"));
}

TEST(DrainModeTest, WordsAndAgentAnswers) {
  EXPECT_EQ(ParseMode("drained"), Mode::kDrained);
  EXPECT_EQ(ParseMode("paused"), std::nullopt);
  EXPECT_EQ(AgentAnswer(Mode::kActive), "up ready\n");
  EXPECT_EQ(AgentAnswer(Mode::kDraining), "drain\n");
  EXPECT_EQ(AgentAnswer(Mode::kDrained), "maint\n");
}

/// Hooks that record what the Drainer asked for.
struct Recorder {
  std::mutex mu;
  std::vector<std::string> steps;  // GUARDED_BY(mu)
  std::atomic<bool> refusing{false};
  std::atomic<uint64_t> in_flight{0};
  std::atomic<int> flushes{0}, shutdowns{0};
  std::atomic<Mode> mode{Mode::kActive};

  Drainer::Hooks Hooks() {
    Drainer::Hooks h;
    h.set_refusing = [this](bool r) { refusing = r; };
    h.in_flight = [this] { return in_flight.load(); };
    h.flush = [this](int64_t) { ++flushes; return Status::Ok(); };
    h.mode_changed = [this](Mode m) { mode = m; };
    h.record = [this](std::string message, std::map<std::string, std::string>) {
      std::lock_guard lock(mu);
      steps.push_back(std::move(message));
    };
    h.shutdown = [this] { ++shutdowns; };
    return h;
  }
};

bool WaitFor(const std::function<bool()>& done, int ms = 3000) {
  auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
  while (!done()) {
    if (std::chrono::steady_clock::now() > until) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return true;
}

TEST(DrainerTest, DrainsAfterTheGraceThenWaitsForRunningRequestsAndFlushes) {
  Recorder rec;
  rec.in_flight = 2;
  Drainer d({}, rec.Hooks());
  auto started = d.Drain({int64_t{100}, int64_t{5000}, false}, "nodeA");
  ASSERT_TRUE(started.ok());
  EXPECT_EQ(started->mode, Mode::kDraining);
  EXPECT_EQ(rec.mode.load(), Mode::kDraining);
  EXPECT_FALSE(rec.refusing.load()) << "the data plane serves during the grace";
  ASSERT_TRUE(WaitFor([&] { return rec.refusing.load(); }));
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_EQ(d.mode(), Mode::kDraining) << "requests are still running";
  EXPECT_EQ(rec.flushes.load(), 0);
  rec.in_flight = 0;
  ASSERT_TRUE(WaitFor([&] { return d.mode() == Mode::kDrained; }));
  EXPECT_EQ(rec.mode.load(), Mode::kDrained);
  EXPECT_EQ(rec.flushes.load(), 1);
  EXPECT_EQ(rec.shutdowns.load(), 0);
  EXPECT_GE(d.last_drain_ms(), 100);
}

TEST(DrainerTest, TheDeadlineEndsTheWaitForLongRequests) {
  Recorder rec;
  rec.in_flight = 1;  // never finishes
  Drainer d({}, rec.Hooks());
  ASSERT_TRUE(d.Drain({int64_t{0}, int64_t{200}, true}, "nodeA").ok());
  ASSERT_TRUE(WaitFor([&] { return d.mode() == Mode::kDrained; }));
  EXPECT_GE(d.last_drain_ms(), 200);
  ASSERT_TRUE(WaitFor([&] { return rec.shutdowns.load() == 1; }));
  std::lock_guard lock(rec.mu);
  EXPECT_THAT(rec.steps, ::testing::Contains(HasSubstr("1 requests still running at the deadline")));
}

TEST(DrainerTest, UndrainCancelsADrainInProgressAndItsShutdown) {
  Recorder rec;
  Drainer d({}, rec.Hooks());
  ASSERT_TRUE(d.Drain({int64_t{300}, std::nullopt, true}, "nodeA").ok());
  DrainState back = d.Undrain("nodeB");
  EXPECT_TRUE(back.changed);
  EXPECT_EQ(d.mode(), Mode::kActive);
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  EXPECT_EQ(d.mode(), Mode::kActive);
  EXPECT_FALSE(rec.refusing.load());
  EXPECT_EQ(rec.shutdowns.load(), 0);
  EXPECT_EQ(rec.mode.load(), Mode::kActive);
}

TEST(DrainerTest, RepeatedCommandsChangeNothingAndBadTimingsAreRefused) {
  Recorder rec;
  Drainer d({}, rec.Hooks());
  EXPECT_FALSE(d.Undrain("x").changed);
  EXPECT_EQ(d.Drain({int64_t{5000}, int64_t{1000}, false}, "x").status().code(), Code::kBadRequest);
  auto first = d.Drain({int64_t{60000}, std::nullopt, false}, "x");
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(first->deadline_ms, 60000 + kDefaultDeadlineAfterGraceMs);
  auto again = d.Drain({int64_t{0}, std::nullopt, true}, "x");
  ASSERT_TRUE(again.ok());
  EXPECT_FALSE(again->changed);
  EXPECT_EQ(again->grace_ms, 60000) << "the drain in progress is untouched";
}

TEST(DrainerTest, ARestartWhileDrainingComesBackDrained) {
  Recorder rec;
  Drainer d({}, rec.Hooks());
  d.Restore(Mode::kDraining);
  EXPECT_EQ(d.mode(), Mode::kDrained);
  EXPECT_TRUE(rec.refusing.load());
  EXPECT_EQ(rec.mode.load(), Mode::kDrained);
  d.Undrain("x");
  EXPECT_FALSE(rec.refusing.load());
}

std::string AgentSays(uint16_t port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(port);
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) {
    close(fd);
    return "(refused)";
  }
  std::string out;
  char buf[64];
  for (ssize_t n; (n = read(fd, buf, sizeof buf)) > 0;) out.append(buf, n);
  close(fd);
  return out;
}

TEST(AgentServerTest, AnswersEveryConnectionWithTheCurrentLineAndStops) {
  std::atomic<Mode> mode{Mode::kActive};
  auto agent = AgentServer::Start("127.0.0.1", 0, [&] { return AgentAnswer(mode.load()); });
  ASSERT_TRUE(agent.ok()) << agent.status().ToString();
  uint16_t port = (*agent)->port();
  EXPECT_EQ(AgentSays(port), "up ready\n");
  mode = Mode::kDraining;
  EXPECT_EQ(AgentSays(port), "drain\n");
  (*agent)->Stop();
  EXPECT_EQ(AgentSays(port), "(refused)");
}

TEST(AgentServerTest, ABusyPortIsAClearError) {
  auto first = AgentServer::Start("127.0.0.1", 0, [] { return std::string("x\n"); });
  ASSERT_TRUE(first.ok());
  auto second = AgentServer::Start("127.0.0.1", (*first)->port(), [] { return std::string("x\n"); });
  ASSERT_FALSE(second.ok());
  EXPECT_THAT(second.status().message(), HasSubstr("127.0.0.1:" + std::to_string((*first)->port())));
}

}  // namespace
}  // namespace sessiond::drain
