// A peer in another process, so the faults are real: SIGSTOP (the kernel still accepts and
// acks TCP, only a request can tell) and SIGKILL (the kernel closes its sockets). These fork, so
// they run only inside a private namespace (tests/support/netns-run sets SESSIOND_IN_NETNS=1).
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <cstring>

#include "transport_fixture.h"

namespace sessiond::transport {
namespace {

constexpr uint16_t kEcho = 0x0201;
constexpr uint16_t kNeverReplies = 0x0202;

// Forks a child that serves kEcho and swallows kNeverReplies on 127.0.0.1 until killed.
class PeerProcess {
 public:
  PeerProcess() {
    int fds[2];
    if (pipe(fds) != 0) return;
    pid_ = fork();
    if (pid_ == 0) {
      close(fds[0]);
      RunChild(fds[1]);
    }
    close(fds[1]);
    if (read(fds[0], &port_, sizeof port_) != sizeof port_) port_ = 0;
    close(fds[0]);
  }
  ~PeerProcess() {
    if (pid_ <= 0) return;
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
  }
  pid_t pid() const { return pid_; }
  PeerAddress address() const { return {"127.0.0.1", port_}; }

 private:
  [[noreturn]] static void RunChild(int fd) {
    EventLoop loop;
    loop.Start();
    auto t = Transport::Start(&loop, TestOptions("child"));
    if (!t.ok()) _exit(2);
    (*t)->Handle(kEcho, [](const Sender&, Message m, Transport::Reply r) { r(std::move(m)); });
    (*t)->Handle(kNeverReplies, [](const Sender&, Message, Transport::Reply) {});
    uint16_t port = (*t)->port();
    if (write(fd, &port, sizeof port) != sizeof port) _exit(3);
    for (;;) pause();
  }
  pid_t pid_ = -1;
  uint16_t port_ = 0;
};

class ProcessTest : public TransportTest {
 protected:
  void SetUp() override {
    const char* in_netns = std::getenv("SESSIOND_IN_NETNS");
    if (!in_netns || std::strcmp(in_netns, "1") != 0)
      GTEST_SKIP() << "forks a peer: run under tests/support/netns-run (ctest does)";
    peer = std::make_unique<PeerProcess>();  // before our loop thread exists: fork is simple
    ASSERT_GT(peer->pid(), 0);
    ASSERT_NE(peer->address().port, 0);
    TransportTest::SetUp();
    a = StartOrDie(TestOptions("A"));
  }
  void TearDown() override {
    TransportTest::TearDown();
    peer.reset();
  }
  Result<Message> RequestOf(uint16_t type, int64_t timeout_ms, int wait_ms) {
    std::promise<Result<Message>> done;
    a->Request(peer->address(), {type, "ping"}, timeout_ms,
               [&](Result<Message> r) { done.set_value(std::move(r)); });
    auto d = done.get_future();
    if (!WaitFor(d, wait_ms)) return Status::Internal("the callback never ran");
    return d.get();
  }
  std::unique_ptr<PeerProcess> peer;
};

TEST_F(ProcessTest, StoppedPeerMakesRequestsTimeOut) {
  ASSERT_TRUE(RequestOf(kEcho, 1000, 3000).ok());
  std::atomic<int> failures{0};
  a->OnPeerFailure([&](const PeerAddress&, const Status&) { ++failures; });
  ASSERT_EQ(kill(peer->pid(), SIGSTOP), 0);
  // kill() only queues the signal: a child running on the other core could still answer.
  int status = 0;
  ASSERT_EQ(waitpid(peer->pid(), &status, WUNTRACED), peer->pid());
  ASSERT_TRUE(WIFSTOPPED(status));
  auto t0 = std::chrono::steady_clock::now();
  auto r = RequestOf(kEcho, 500, 3000);
  auto took = std::chrono::steady_clock::now() - t0;
  EXPECT_EQ(r.status().code(), Code::kUnavailable) << r.status().ToString();
  EXPECT_GE(took, std::chrono::milliseconds(450));
  EXPECT_LT(took, std::chrono::milliseconds(1500));
  EXPECT_EQ(failures.load(), 0);  // the connection itself is fine: only the timeout tells
  // Continued, it answers again on the same connection.
  ASSERT_EQ(kill(peer->pid(), SIGCONT), 0);
  EXPECT_TRUE(RequestOf(kEcho, 1000, 3000).ok());
  a.reset();
}

TEST_F(ProcessTest, KilledPeerFailsPendingWorkAndIsReportedFast) {
  ASSERT_TRUE(RequestOf(kEcho, 1000, 3000).ok());  // a pooled connection is open
  std::promise<Status> failure;
  std::atomic<bool> once{false};
  a->OnPeerFailure([&](const PeerAddress&, const Status& s) {
    if (!once.exchange(true)) failure.set_value(s);
  });
  std::promise<Result<Message>> pending;
  a->Request(peer->address(), {kNeverReplies, "hang"}, 10000,
             [&](Result<Message> r) { pending.set_value(std::move(r)); });
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  auto t0 = std::chrono::steady_clock::now();
  ASSERT_EQ(kill(peer->pid(), SIGKILL), 0);
  auto p = pending.get_future();
  auto f = failure.get_future();
  ASSERT_TRUE(WaitFor(p, 2000));
  ASSERT_TRUE(WaitFor(f, 2000));
  auto took = std::chrono::steady_clock::now() - t0;
  EXPECT_EQ(p.get().status().code(), Code::kUnavailable);
  EXPECT_LT(took, std::chrono::milliseconds(500));
  std::printf("[ figures  ] kill -9 noticed after %lld ms\n",
              static_cast<long long>(
                  std::chrono::duration_cast<std::chrono::milliseconds>(took).count()));
  a.reset();
}

}  // namespace
}  // namespace sessiond::transport
