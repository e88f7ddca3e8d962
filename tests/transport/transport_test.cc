// Two transports in one process on 127.0.0.1: every send mode, requests, bind rules, hostile
// clients and peer failures. (Tests that need a second process are in process_test.cc.)
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

#include "transport/frame_internal.h"
#include "transport_fixture.h"

namespace sessiond::transport {
namespace {

constexpr uint16_t kType = 0x0201;

TEST_F(TransportTest, AsynchronousSendReachesTheHandlerWithTheSenderName) {
  StartPair();
  std::promise<std::pair<std::string, std::string>> got;
  b->Handle(kType, [&](const Sender& from, Message m, Transport::Reply) {
    got.set_value({from.node, m.body});
  });
  std::promise<Status> written;
  a->Send(AddrOf(*b), {kType, "delta-1"}, SendMode::kAsynchronous,
          [&](Status s) { written.set_value(s); });
  auto w = written.get_future();
  ASSERT_TRUE(WaitFor(w));
  EXPECT_TRUE(w.get().ok());
  auto g = got.get_future();
  ASSERT_TRUE(WaitFor(g));
  EXPECT_EQ(g.get(), std::make_pair(std::string("A"), std::string("delta-1")));
}

// Connections leave from the sender's receiver address, so the peer (and nftables, in
// tests/chaos's one-way partitions) can tell which node a connection comes from; on loopback the
// kernel would pick 127.0.0.1 for every node.
TEST_F(TransportTest, OutboundConnectionsComeFromTheReceiverAddress) {
  auto oa = TestOptions("A"), ob = TestOptions("B");
  oa.address = "127.0.0.2";
  ob.address = "127.0.0.3";
  a = StartOrDie(oa);
  b = StartOrDie(ob);
  ASSERT_TRUE(a && b);
  std::promise<std::string> from_host;
  b->Handle(kType, [&](const Sender& from, Message, Transport::Reply) {
    from_host.set_value(from.remote.host);
  });
  a->Send({"127.0.0.3", b->port()}, {kType, "x"}, SendMode::kAsynchronous, nullptr);
  auto h = from_host.get_future();
  ASSERT_TRUE(WaitFor(h));
  EXPECT_EQ(h.get(), "127.0.0.2");
}

TEST_F(TransportTest, AcknowledgedSendCompletesOnReceiptWithoutTheHandlerReplying) {
  StartPair();
  std::atomic<int> handled{0};
  b->Handle(kType, [&](const Sender&, Message, Transport::Reply) { ++handled; });
  std::promise<Status> done;
  a->Send(AddrOf(*b), {kType, "x"}, SendMode::kAcknowledged, [&](Status s) { done.set_value(s); });
  auto d = done.get_future();
  ASSERT_TRUE(WaitFor(d));
  EXPECT_TRUE(d.get().ok());
  EXPECT_EQ(handled.load(), 1);
}

TEST_F(TransportTest, SynchronizedAckWaitsForTheHandlersReply) {
  StartPair();
  b->Handle(kType, [&](const Sender&, Message, Transport::Reply reply) {
    loop.After(200, [reply] { reply(Message{}); });  // "applied" later, e.g. after a disk write
  });
  auto t0 = std::chrono::steady_clock::now();
  std::promise<Status> done;
  a->Send(AddrOf(*b), {kType, "x"}, SendMode::kSynchronizedAck,
          [&](Status s) { done.set_value(s); });
  auto d = done.get_future();
  ASSERT_TRUE(WaitFor(d));
  EXPECT_TRUE(d.get().ok());
  EXPECT_GE(std::chrono::steady_clock::now() - t0, std::chrono::milliseconds(190));
}

TEST_F(TransportTest, SynchronizedAckWithoutReplyTimesOut) {
  auto oa = TestOptions("A");
  oa.ack_timeout_ms = 300;
  a = StartOrDie(oa);
  b = StartOrDie(TestOptions("B"));
  b->Handle(kType, [](const Sender&, Message, Transport::Reply) {});
  std::promise<Status> done;
  a->Send(AddrOf(*b), {kType, "x"}, SendMode::kSynchronizedAck,
          [&](Status s) { done.set_value(s); });
  auto d = done.get_future();
  ASSERT_TRUE(WaitFor(d));
  EXPECT_EQ(d.get().code(), Code::kUnavailable);
}

TEST_F(TransportTest, RequestGetsTheReplyBody) {
  StartPair();
  b->Handle(kType, [](const Sender& from, Message m, Transport::Reply reply) {
    reply(Message{kType, "pong from B to " + from.node + ": " + m.body});
  });
  std::promise<Result<Message>> done;
  a->Request(AddrOf(*b), {kType, "ping"}, 1000, [&](Result<Message> r) { done.set_value(r); });
  auto d = done.get_future();
  ASSERT_TRUE(WaitFor(d));
  auto r = d.get();
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->body, "pong from B to A: ping");
}

TEST_F(TransportTest, ReplyFromAnotherThreadIsDelivered) {
  StartPair();
  b->Handle(kType, [](const Sender&, Message m, Transport::Reply reply) {
    std::thread([reply, body = m.body] { reply(Message{kType, body + "!"}); }).detach();
  });
  std::promise<Result<Message>> done;
  a->Request(AddrOf(*b), {kType, "hi"}, 1000, [&](Result<Message> r) { done.set_value(r); });
  auto d = done.get_future();
  ASSERT_TRUE(WaitFor(d));
  auto r = d.get();
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->body, "hi!");
}

TEST_F(TransportTest, RequestForAnUnhandledTypeIsNotFound) {
  StartPair();
  std::promise<Result<Message>> done;
  a->Request(AddrOf(*b), {0x0999, "?"}, 1000, [&](Result<Message> r) { done.set_value(r); });
  auto d = done.get_future();
  ASSERT_TRUE(WaitFor(d));
  auto r = d.get();
  EXPECT_EQ(r.status().code(), Code::kNotFound);
  EXPECT_NE(r.status().message().find("0x0999"), std::string::npos);
}

TEST_F(TransportTest, EncryptedAndUnauthenticatedClustersExchange) {
  for (auto [secret, encrypt] : {std::pair{kTestSecret, true}, std::pair{Secret{}, false}}) {
    StartPair(secret, encrypt);
    b->Handle(kType, [](const Sender&, Message m, Transport::Reply reply) { reply(m); });
    std::promise<Result<Message>> done;
    a->Request(AddrOf(*b), {kType, "body"}, 1000, [&](Result<Message> r) { done.set_value(r); });
    auto d = done.get_future();
    ASSERT_TRUE(WaitFor(d));
    auto r = d.get();
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_EQ(r->body, "body");
    a.reset();
    b.reset();
  }
}

void ExpectEcho(TransportTest* t, Transport& from, Transport& to, size_t size) {
  std::string body(size, '\0');
  for (size_t i = 0; i < size; ++i) body[i] = static_cast<char>(i * 131 + (i >> 9));
  std::promise<Result<Message>> done;
  from.Request({"127.0.0.1", to.port()}, {kType, body}, 10000,
               [&](Result<Message> r) { done.set_value(std::move(r)); });
  auto d = done.get_future();
  ASSERT_TRUE(WaitFor(d, 15000));
  auto r = d.get();
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->body.size(), size);
  EXPECT_TRUE(r->body == body);
}

TEST_F(TransportTest, LargeBodiesRoundTrip) {
  StartPair(kTestSecret, true);
  b->Handle(kType, [](const Sender&, Message m, Transport::Reply reply) { reply(std::move(m)); });
  ExpectEcho(this, *a, *b, 100 * 1024);
  ExpectEcho(this, *a, *b, 10 * 1024 * 1024);
  ExpectEcho(this, *a, *b, 10);  // the buffer shrinks back and small frames still flow
}

TEST_F(TransportTest, ManySmallFramesArriveInOrderOnOneConnection) {
  auto oa = TestOptions("A");
  oa.connections_per_peer = 1;
  a = StartOrDie(oa);
  b = StartOrDie(TestOptions("B"));
  constexpr int kCount = 20000;
  std::vector<int> seen;
  seen.reserve(kCount);
  std::promise<void> all;
  b->Handle(kType, [&](const Sender&, Message m, Transport::Reply) {
    seen.push_back(std::stoi(m.body));
    if (seen.size() == kCount) all.set_value();
  });
  auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < kCount; ++i) a->Send(AddrOf(*b), {kType, std::to_string(i)},
                                           SendMode::kAsynchronous, nullptr);
  auto f = all.get_future();
  ASSERT_TRUE(WaitFor(f, 20000));
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  for (int i = 0; i < kCount; ++i) ASSERT_EQ(seen[i], i);
  RecordProperty("frames_per_second", static_cast<int>(kCount / secs));
  std::printf("[ figures  ] %d authenticated frames in %.3f s (%.0f/s)\n", kCount, secs,
              kCount / secs);
  EXPECT_EQ(b->stats().frames_received, static_cast<uint64_t>(kCount + 1));  // + HELLO
}

TEST_F(TransportTest, PoolSpreadsABurstOverSeveralConnections) {
  auto oa = TestOptions("A");
  oa.connections_per_peer = 3;
  a = StartOrDie(oa);
  b = StartOrDie(TestOptions("B"));
  std::mutex mu;
  std::set<uint16_t> remote_ports;
  std::atomic<int> count{0};
  std::promise<void> all;
  b->Handle(kType, [&](const Sender& from, Message, Transport::Reply) {
    {
      std::lock_guard l(mu);
      remote_ports.insert(from.remote.port);
    }
    if (++count == 300) all.set_value();
  });
  for (int i = 0; i < 300; ++i)
    a->Send(AddrOf(*b), {kType, std::string(4096, 'x')}, SendMode::kAsynchronous, nullptr);
  auto f = all.get_future();
  ASSERT_TRUE(WaitFor(f));
  std::lock_guard l(mu);
  EXPECT_GE(remote_ports.size(), 2u);
  EXPECT_LE(remote_ports.size(), 3u);
}

// A slow receiver with a deep backlog on the data connection (tens of MB queued in A's send
// queue and the socket buffers, B's loop taking 2 ms a frame): a request on the control lane is
// handled after a few deltas, while the same request on the data lane waits for all of them
// (frames on one connection keep their order). Counts, not clocks: B's first delta holds its
// loop until the whole backlog and the request are queued, so how fast A encodes (slow under
// ThreadSanitizer) does not decide how many deltas B handled before the request was sent.
class LaneTest : public ::testing::Test {
 protected:
  static constexpr int kDeltas = 200;
  static constexpr uint16_t kControlType = 0x0401;
  void SetUp() override {
    loop_a.Start();
    loop_b.Start();
    auto oa = TestOptions("A");
    oa.connections_per_peer = 1;  // as the cluster runs it: deltas keep their order
    auto ta = Transport::Start(&loop_a, oa);
    auto tb = Transport::Start(&loop_b, TestOptions("B"));
    ASSERT_TRUE(ta.ok() && tb.ok());
    a = std::move(ta).value();
    b = std::move(tb).value();
    b->Handle(kType, [this](const Sender&, Message, Transport::Reply) {
      queued.wait_for(std::chrono::seconds(20));
      std::this_thread::sleep_for(std::chrono::milliseconds(2));  // applying a delta, slowly
      ++deltas_handled;
    });
    b->Handle(kControlType, [this](const Sender&, Message, Transport::Reply reply) {
      handled_before_control = deltas_handled.load();
      reply(Message{kControlType, "ok"});
    });
  }
  void TearDown() override {
    a.reset();
    b.reset();
    loop_a.Stop();
    loop_b.Stop();
  }
  /// Queues the backlog, then one request on `lane`; returns how many deltas B had handled
  /// when the request reached its handler (-1: no answer).
  int DeltasAheadOfARequestOn(Lane lane) {
    PeerAddress to{"127.0.0.1", b->port()};
    for (int i = 0; i < kDeltas; ++i)
      a->Send(to, {kType, std::string(128 * 1024, 'd')}, SendMode::kAsynchronous, nullptr);
    std::promise<Result<Message>> answered;
    a->Request(to, {kControlType, "drain"}, 20000,
               [&](Result<Message> r) { answered.set_value(std::move(r)); }, lane);
    all_queued.set_value();
    auto f = answered.get_future();
    if (!WaitFor(f, 20000) || !f.get().ok()) return -1;
    return handled_before_control.load();
  }

  EventLoop loop_a, loop_b;
  std::unique_ptr<Transport> a, b;
  std::atomic<int> deltas_handled{0};
  std::atomic<int> handled_before_control{-1};
  std::promise<void> all_queued;
  std::shared_future<void> queued = all_queued.get_future().share();
};

TEST_F(LaneTest, AControlRequestOvertakesADeepReplicationBacklog) {
  int ahead = DeltasAheadOfARequestOn(Lane::kControl);
  ASSERT_GE(ahead, 0) << "no answer on the control lane";
  EXPECT_LT(ahead, kDeltas / 2) << "the control request waited behind the deltas";
  std::printf("[ figures  ] control request handled after %d of %d queued 128 KB deltas\n", ahead,
              kDeltas);
}

TEST_F(LaneTest, TheSameRequestOnTheDataLaneWaitsForEveryDeltaAheadOfIt) {
  EXPECT_EQ(DeltasAheadOfARequestOn(Lane::kData), kDeltas);
}

// ---- receiver binding and the no-secret rule ------------------------------------------------

// A plain listening socket on 127.0.0.1 (port 0 = any); returns the fd, port in `port`.
int Listen(uint16_t* port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  sa.sin_port = htons(*port);
  if (bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0 || listen(fd, 4) != 0) {
    close(fd);
    return -1;
  }
  socklen_t len = sizeof sa;
  getsockname(fd, reinterpret_cast<sockaddr*>(&sa), &len);
  *port = ntohs(sa.sin_port);
  return fd;
}

TEST_F(TransportTest, AutoBindTakesTheNextFreePort) {
  uint16_t taken = 0;
  int fd = -1;
  // Find a port whose successor is free too, so the expectation is exact.
  for (int attempt = 0; attempt < 20; ++attempt) {
    taken = 0;
    fd = Listen(&taken);
    uint16_t next = taken + 1;
    int probe = taken < 65535 ? Listen(&next) : -1;
    if (probe >= 0) {
      close(probe);
      break;
    }
    close(fd);
    fd = -1;
  }
  ASSERT_GE(fd, 0);
  auto o = TestOptions("A");
  o.port = taken;
  o.auto_bind = 10;
  a = StartOrDie(o);
  ASSERT_TRUE(a);
  EXPECT_EQ(a->port(), taken + 1);
  o.auto_bind = 1;
  auto refused = Transport::Start(&loop, o);
  EXPECT_EQ(refused.status().code(), Code::kUnavailable);
  EXPECT_NE(refused.status().message().find(std::to_string(taken)), std::string::npos);
  close(fd);
}

TEST_F(TransportTest, NoSecretOnANonLoopbackAddressIsRefusedBeforeBinding) {
  // Only the check runs: Start must refuse before it binds (nothing listens or sends).
  for (const char* address : {"10.0.0.5", "0.0.0.0", "::"}) {
    auto o = TestOptions("A", Secret{});
    o.address = address;
    auto t = Transport::Start(&loop, o);
    EXPECT_EQ(t.status().code(), Code::kForbidden) << address;
    EXPECT_NE(t.status().message().find(address), std::string::npos);
    EXPECT_NE(t.status().message().find("clusterSecretFile"), std::string::npos);
    EXPECT_NE(t.status().message().find("--insecure"), std::string::npos);
  }
  for (const char* address : {"127.0.0.2", "::1"}) {
    auto o = TestOptions("A", Secret{});
    o.address = address;
    auto t = Transport::Start(&loop, o);
    EXPECT_NE(t.status().code(), Code::kForbidden) << address;  // ::1 may be absent: unavailable
  }
  auto o = TestOptions("A", Secret{});
  o.encrypt = true;
  EXPECT_EQ(Transport::Start(&loop, o).status().code(), Code::kBadRequest);
}

}  // namespace
}  // namespace sessiond::transport
