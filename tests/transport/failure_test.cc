// Hostile and failing peers in one process: garbage, wrong MACs and missing HELLOs close the
// connection and are counted while the receiver keeps serving; a closed or absent peer fails
// pending work at once and is reported to OnPeerFailure.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>

#include "transport/frame_internal.h"
#include "transport_fixture.h"

namespace sessiond::transport {
namespace {

constexpr uint16_t kType = 0x0201;

int ConnectRaw(uint16_t port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  sa.sin_port = htons(port);
  if (connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

// True when the server closes the connection within `ms` (EOF or reset).
bool ClosedByServer(int fd, int ms = 2000) {
  pollfd p{fd, POLLIN, 0};
  if (poll(&p, 1, ms) <= 0) return false;
  char c;
  return recv(fd, &c, 1, 0) <= 0;
}

void SendRaw(int fd, const std::string& bytes) {
  ASSERT_EQ(send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL), static_cast<ssize_t>(bytes.size()));
}

class HostileClientTest : public TransportTest {
 protected:
  void SetUp() override {
    TransportTest::SetUp();
    StartPair();
    b->Handle(kType, [](const Sender&, Message m, Transport::Reply reply) { reply(m); });
  }
  // B still answers A after whatever the hostile client did.
  void ExpectBStillServes() {
    std::promise<Result<Message>> done;
    a->Request(AddrOf(*b), {kType, "still there?"}, 2000,
               [&](Result<Message> r) { done.set_value(r); });
    auto d = done.get_future();
    ASSERT_TRUE(WaitFor(d));
    EXPECT_TRUE(d.get().ok());
  }
  std::string Hello(const Secret& s) { return EncodeFrame({kHelloType, "mallory"}, 0, 0, s, false); }
};

TEST_F(HostileClientTest, GarbageClosesTheConnectionAndIsCounted) {
  int fd = ConnectRaw(b->port());
  ASSERT_GE(fd, 0);
  SendRaw(fd, "GET / HTTP/1.1\r\nHost: sessiond\r\n\r\n");
  EXPECT_TRUE(ClosedByServer(fd));
  close(fd);
  EXPECT_EQ(b->stats().parse_failures, 1u);
  EXPECT_EQ(b->stats().connections_closed_bad, 1u);
  ExpectBStillServes();
}

TEST_F(HostileClientTest, WrongMacClosesTheConnectionAndIsCounted) {
  int fd = ConnectRaw(b->port());
  ASSERT_GE(fd, 0);
  SendRaw(fd, Hello(kTestSecret));
  std::string frame = EncodeFrame({kType, "forged"}, kFlagAckRequested, 7, kTestSecret, false);
  frame[kFrameHeaderBytes] ^= 1;  // flip one body bit: the MAC no longer matches
  SendRaw(fd, frame);
  EXPECT_TRUE(ClosedByServer(fd));
  close(fd);
  EXPECT_EQ(b->stats().auth_failures, 1u);
  ExpectBStillServes();
}

TEST_F(HostileClientTest, AnotherSecretIsRejectedAtHello) {
  int fd = ConnectRaw(b->port());
  ASSERT_GE(fd, 0);
  SendRaw(fd, Hello(DeriveSecret("some-other-clusters-secret!!")));
  EXPECT_TRUE(ClosedByServer(fd));
  close(fd);
  EXPECT_EQ(b->stats().auth_failures, 1u);
  ExpectBStillServes();
}

TEST_F(HostileClientTest, UnauthenticatedFrameIsRejected) {
  int fd = ConnectRaw(b->port());
  ASSERT_GE(fd, 0);
  SendRaw(fd, Hello(Secret{}));
  EXPECT_TRUE(ClosedByServer(fd));
  close(fd);
  EXPECT_EQ(b->stats().auth_failures, 1u);
}

TEST_F(HostileClientTest, AFirstFrameOtherThanHelloIsRejected) {
  int fd = ConnectRaw(b->port());
  ASSERT_GE(fd, 0);
  SendRaw(fd, EncodeFrame({kType, "no hello"}, kFlagAckRequested, 1, kTestSecret, false));
  EXPECT_TRUE(ClosedByServer(fd));
  close(fd);
  EXPECT_EQ(b->stats().parse_failures, 1u);
  ExpectBStillServes();
}

TEST_F(HostileClientTest, AnOversizeLengthIsRejectedWithoutWaitingForTheBody) {
  int fd = ConnectRaw(b->port());
  ASSERT_GE(fd, 0);
  SendRaw(fd, Hello(kTestSecret));
  std::string header = EncodeFrame({kType, ""}, 0, 0, kTestSecret, false).substr(0, 20);
  header[16] = '\x7f';
  SendRaw(fd, header);
  EXPECT_TRUE(ClosedByServer(fd));
  close(fd);
  EXPECT_EQ(b->stats().parse_failures, 1u);
}

TEST_F(TransportTest, SenderWithAnotherSecretSeesItsPeerFail) {
  a = StartOrDie(TestOptions("A", DeriveSecret("secret-of-cluster-number-one")));
  b = StartOrDie(TestOptions("B"));
  std::promise<PeerAddress> failed;
  std::atomic<bool> once{false};
  a->OnPeerFailure([&](const PeerAddress& p, const Status&) {
    if (!once.exchange(true)) failed.set_value(p);
  });
  std::promise<Status> done;
  a->Send(AddrOf(*b), {kType, "x"}, SendMode::kAcknowledged, [&](Status s) { done.set_value(s); });
  auto d = done.get_future();
  ASSERT_TRUE(WaitFor(d));
  EXPECT_EQ(d.get().code(), Code::kUnavailable);
  auto f = failed.get_future();
  ASSERT_TRUE(WaitFor(f));
  EXPECT_EQ(f.get(), AddrOf(*b));
  EXPECT_EQ(b->stats().auth_failures, 1u);
  a.reset();  // the pool's other connection may still report: its callback uses this stack
}

// ---- peer failures ---------------------------------------------------------------------------

TEST_F(TransportTest, ClosedPeerFailsPendingWorkAndIsReportedFast) {
  StartPair();
  b->Handle(kType, [](const Sender&, Message, Transport::Reply) {});  // never replies
  std::promise<Status> failure;
  std::atomic<bool> once{false};
  a->OnPeerFailure([&](const PeerAddress&, const Status& s) {
    if (!once.exchange(true)) failure.set_value(s);
  });
  std::promise<Result<Message>> request;
  a->Request(AddrOf(*b), {kType, "hang"}, 10000, [&](Result<Message> r) { request.set_value(r); });
  std::promise<Status> ack;
  a->Send(AddrOf(*b), {kType, "sync"}, SendMode::kSynchronizedAck,
          [&](Status s) { ack.set_value(s); });
  // Wait until B holds both, then take B away.
  for (int i = 0; i < 200 && b->stats().frames_received < 3; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  auto t0 = std::chrono::steady_clock::now();
  b.reset();
  auto r = request.get_future();
  auto k = ack.get_future();
  auto f = failure.get_future();
  ASSERT_TRUE(WaitFor(r, 1000));
  ASSERT_TRUE(WaitFor(k, 1000));
  ASSERT_TRUE(WaitFor(f, 1000));
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::milliseconds(500));
  EXPECT_EQ(r.get().status().code(), Code::kUnavailable);
  EXPECT_EQ(k.get().code(), Code::kUnavailable);
  EXPECT_EQ(f.get().code(), Code::kUnavailable);
  a.reset();  // the pool's other connection may still report: its callback uses this stack
}

TEST_F(TransportTest, RefusedConnectionFailsTheSendAndReportsThePeer) {
  a = StartOrDie(TestOptions("A"));
  // A port that was free a moment ago: nothing listens there.
  auto probe = StartOrDie(TestOptions("probe"));
  PeerAddress nobody = AddrOf(*probe);
  probe.reset();
  std::promise<PeerAddress> failed;
  std::atomic<bool> once{false};
  a->OnPeerFailure([&](const PeerAddress& p, const Status&) {
    if (!once.exchange(true)) failed.set_value(p);
  });
  std::promise<Status> done;
  a->Send(nobody, {kType, "x"}, SendMode::kAsynchronous, [&](Status s) { done.set_value(s); });
  auto d = done.get_future();
  ASSERT_TRUE(WaitFor(d));
  EXPECT_EQ(d.get().code(), Code::kUnavailable);
  auto f = failed.get_future();
  ASSERT_TRUE(WaitFor(f));
  EXPECT_EQ(f.get(), nobody);
  a.reset();
}

TEST_F(TransportTest, DisconnectClosesThePoolWithoutReportingAFailureAndReconnects) {
  StartPair();
  std::atomic<int> failures{0};
  a->OnPeerFailure([&](const PeerAddress&, const Status&) { ++failures; });
  b->Handle(kType, [](const Sender&, Message m, Transport::Reply reply) { reply(m); });
  for (int round = 0; round < 2; ++round) {
    std::promise<Result<Message>> done;
    a->Request(AddrOf(*b), {kType, "r"}, 1000, [&](Result<Message> r) { done.set_value(r); });
    auto d = done.get_future();
    ASSERT_TRUE(WaitFor(d));
    EXPECT_TRUE(d.get().ok());
    a->Disconnect(AddrOf(*b));
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_EQ(failures.load(), 0);
}

}  // namespace
}  // namespace sessiond::transport
