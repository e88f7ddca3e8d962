// examples/sessiond.service is Type=notify: systemd calls the node started when it sends READY=1.
// Here a real sessiond joins a node that holds sessions, with NOTIFY_SOCKET pointing at our own
// datagram socket (what systemd gives a Type=notify service): READY=1 must come only once the
// state transfer is done and the node serves, and STOPPING=1 on SIGTERM.
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "replication_fixture.h"

namespace sessiond::testing {
namespace {

/// A bound AF_UNIX datagram socket, as systemd's notify socket.
class NotifySocket {
 public:
  explicit NotifySocket(const std::string& path) : path_(path) {
    fd_ = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_un sa{};
    sa.sun_family = AF_UNIX;
    path.copy(sa.sun_path, sizeof sa.sun_path - 1);
    EXPECT_EQ(bind(fd_, reinterpret_cast<sockaddr*>(&sa), sizeof sa), 0) << path;
  }
  ~NotifySocket() { close(fd_); }
  /// The next datagram, or "" after `timeout_ms`.
  std::string Next(int timeout_ms) {
    timeval tv{timeout_ms / 1000, (timeout_ms % 1000) * 1000};
    setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    char buf[4096];
    ssize_t n = recv(fd_, buf, sizeof buf, 0);
    return n > 0 ? std::string(buf, n) : "";
  }
  /// Waits for a datagram containing `word`; returns it, or "" on timeout.
  std::string WaitFor(const std::string& word, int timeout_ms) {
    auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    while (std::chrono::steady_clock::now() < until) {
      std::string d = Next(200);
      if (d.find(word) != std::string::npos) return d;
    }
    return "";
  }

 private:
  std::string path_;
  int fd_ = -1;
};

class SystemdNotifyE2eTest : public DemoClusterTest {};

TEST_F(SystemdNotifyE2eTest, ReadyIsSentOnlyAfterTheStateTransferAndStoppingOnSigterm) {
  DemoNode& a = Add("A");
  ASSERT_NO_FATAL_FAILURE(a.Start());
  std::vector<std::string> ids = a.CreateSessions(300);

  NotifySocket notify(run_.Path("notify.sock"));
  DemoNode& b = Add("B");
  ASSERT_NO_FATAL_FAILURE(b.Start(/*wait_ready=*/false, {{"NOTIFY_SOCKET", run_.Path("notify.sock")}}));
  std::string ready = notify.WaitFor("READY=1", 20000);
  ASSERT_FALSE(ready.empty()) << "no READY=1\n" << b.Log();
  // Right when systemd would call the unit started: everything is here and it serves.
  nlohmann::json status = b.Status();
  EXPECT_EQ(status["state_transfer"]["state"], "done") << status.dump();
  EXPECT_GE(status["state_transfer"]["received"].get<int>(), 300) << status.dump();
  EXPECT_EQ(status["ready"], true);
  EXPECT_TRUE(b.HasSession(ids.front()));
  EXPECT_TRUE(b.HasSession(ids.back()));

  b.child()->Signal(SIGTERM);
  EXPECT_FALSE(notify.WaitFor("STOPPING=1", 10000).empty()) << b.Log();
  EXPECT_EQ(b.child()->Wait(20000), 0);
}

}  // namespace
}  // namespace sessiond::testing
