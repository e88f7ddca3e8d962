// The data-plane connector over real sockets: keep-alive, pipelining, HEAD, limits, malformed
// input, idle timeouts, many idle connections and graceful shutdown.
#include <thread>

#include "container/http_server_internal.h"
#include "container_fixture.h"

namespace sessiond::container {
namespace {

using testing::ContainerTest;

class HttpServerTest : public ContainerTest {
 protected:
  void SetUp() override {
    StartContainer([](config::NodeConfig& c) { c.connector.connection_timeout_ms = 1500; });
  }
  static int StatusOf(const std::string& response) {
    if (response.rfind("HTTP/1.1 ", 0) != 0 || response.size() < 12) return -1;
    return std::stoi(response.substr(9, 3));
  }
  static size_t Count(const std::string& text, const std::string& what) {
    size_t n = 0;
    for (size_t p = text.find(what); p != std::string::npos; p = text.find(what, p + 1)) ++n;
    return n;
  }
};

TEST_F(HttpServerTest, ServesStaticFilesWithDateServerAndLength) {
  auto r = Send("GET", "/myapp/index.html");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "<h1>hello</h1>\n");
  EXPECT_EQ(r->get_header_value("Server"), "sessiond");
  EXPECT_TRUE(r->get_header_value("Date").ends_with(" GMT"));
  EXPECT_EQ(r->get_header_value("Content-Length"), "15");
}

TEST_F(HttpServerTest, StreamsLargeFilesAndRanges) {
  auto c = Client();
  auto r = c->Get("/myapp/big.bin");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->body, std::string(300000, 'b'));
  r = c->Get("/myapp/big.bin", {{"Range", "bytes=100000-299999"}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 206);
  EXPECT_EQ(r->body.size(), 200000u);
}

TEST_F(HttpServerTest, UnknownAppIs404) {
  auto r = Send("GET", "/nothing/here");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 404);
}

TEST_F(HttpServerTest, HeadAnswersHeadersOnly) {
  int fd = Connect();
  SendAll(fd, "HEAD /myapp/index.html HTTP/1.1\r\nHost: x\r\n\r\n"
              "GET /myapp/index.html HTTP/1.1\r\nHost: x\r\n\r\n");
  std::string out = ReadSome(fd, "<h1>hello</h1>\n", 1);
  ::close(fd);
  EXPECT_EQ(Count(out, "HTTP/1.1 200"), 2u) << out;
  EXPECT_EQ(Count(out, "Content-Length: 15"), 2u);
  EXPECT_EQ(Count(out, "<h1>hello</h1>"), 1u) << "the HEAD answer has no body";
}

TEST_F(HttpServerTest, PipelinedRequestsAreAnsweredInOrder) {
  int fd = Connect();
  std::string batch;
  for (int i = 0; i < 20; ++i) {
    batch += "GET /myapp/.session/attributes/a" + std::to_string(i) + " HTTP/1.1\r\nHost: x\r\n\r\n";
  }
  batch += "GET /myapp/index.html HTTP/1.1\r\nHost: x\r\n\r\n";
  SendAll(fd, batch);
  std::string out = ReadSome(fd, "<h1>hello</h1>", 1);
  ::close(fd);
  EXPECT_EQ(Count(out, "HTTP/1.1 404"), 20u);
  EXPECT_EQ(Count(out, "HTTP/1.1 200"), 1u);
  EXPECT_EQ(out.find("HTTP/1.1 200"), out.rfind("HTTP/1.1 ")) << "the last answer is the last request's";
}

TEST_F(HttpServerTest, MalformedRequestIs400AndTheServerKeepsServing) {
  for (const char* junk : {"GARBAGE\r\n\r\n", "GET /x HTTP/9.9\r\n\r\n", "GET /x HTTP/1.1\r\nbad header\r\n\r\n",
                           "\x01\x02\x03\r\n\r\n", "GET /myapp/%zz HTTP/1.1\r\nHost: x\r\n\r\n",
                           "GET /myapp/a%00b HTTP/1.1\r\nHost: x\r\n\r\n",
                           "POST /x HTTP/1.1\r\nContent-Length: abc\r\n\r\n"}) {
    std::string out = RawExchange(junk);
    EXPECT_EQ(StatusOf(out), 400) << junk << " -> " << out;
    EXPECT_NE(out.find("Connection: close"), std::string::npos);
  }
  auto r = Send("GET", "/myapp/index.html");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_NE(registry_.RenderPrometheus().find("sessiond_http_requests_total{code=\"400\"}"), std::string::npos);
}

TEST_F(HttpServerTest, OversizeHeadersAndBodiesAreRejected) {
  std::string big_header = "GET /myapp/index.html HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(20000, 'a') + "\r\n\r\n";
  EXPECT_EQ(StatusOf(RawExchange(big_header)), 431);
  std::string big_body = "PUT /myapp/.session/attributes/x HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n";
  EXPECT_EQ(StatusOf(RawExchange(big_body)), 413);
  std::string chunked = "PUT /myapp/.session/attributes/x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n";
  for (int i = 0; i < 3; ++i) chunked += "800\r\n" + std::string(0x800, 'a') + "\r\n";
  chunked += "0\r\n\r\n";
  EXPECT_EQ(StatusOf(RawExchange(chunked)), 413);
}

TEST_F(HttpServerTest, ExpectContinueIsHonoured) {
  int fd = Connect();
  SendAll(fd, "PUT /myapp/.session/attributes/x HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n"
              "Expect: 100-continue\r\n\r\n");
  std::string out = ReadSome(fd, "\r\n\r\n", 1);
  EXPECT_EQ(out, "HTTP/1.1 100 Continue\r\n\r\n");
  SendAll(fd, "7");
  out = ReadSome(fd, "\r\n\r\n", 1);
  ::close(fd);
  EXPECT_EQ(StatusOf(out), 204) << out;
}

TEST_F(HttpServerTest, Http10ClosesUnlessKeepAliveIsAsked) {
  std::string out = RawExchange("GET /myapp/index.html HTTP/1.0\r\n\r\n");
  EXPECT_EQ(StatusOf(out), 200);
  EXPECT_NE(out.find("<h1>hello</h1>"), std::string::npos);
  int fd = Connect();
  SendAll(fd, "GET /myapp/index.html HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
  out = ReadSome(fd, "<h1>hello</h1>", 1);
  EXPECT_NE(out.find("Connection: keep-alive"), std::string::npos) << out;
  SendAll(fd, "GET /myapp/index.html HTTP/1.0\r\n\r\n");
  EXPECT_NE(ReadSome(fd, "<h1>hello</h1>", 1).find("200 OK"), std::string::npos);
  ::close(fd);
}

TEST_F(HttpServerTest, IdleConnectionsCloseAfterTheConnectionTimeout) {
  int fd = Connect();
  SendAll(fd, "GET /myapp/index.html HTTP/1.1\r\nHost: x\r\n\r\n");
  ReadSome(fd, "<h1>hello</h1>", 1);
  int64_t start = MonotonicMillis();
  std::string rest = ReadSome(fd, "never", 1, 5000);  // returns when the server closes
  int64_t waited = MonotonicMillis() - start;
  ::close(fd);
  EXPECT_TRUE(rest.empty());
  EXPECT_GE(waited, 1000);
  EXPECT_LT(waited, 4000);
}

TEST_F(HttpServerTest, HundredsOfIdleKeepAliveConnectionsDoNotStarveRequests) {
  std::vector<int> idle;
  for (int i = 0; i < 500; ++i) {
    int fd = Connect();
    ASSERT_GE(fd, 0);
    SendAll(fd, "GET /myapp/index.html HTTP/1.1\r\nHost: x\r\n\r\n");
    idle.push_back(fd);
  }
  for (int fd : idle) ASSERT_NE(ReadSome(fd, "<h1>hello</h1>", 1).find("200 OK"), std::string::npos);
  for (int i = 0; i < 50; ++i) {
    auto r = Send("GET", "/myapp/.session");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
  }
  for (int fd : idle) ::close(fd);
}

TEST_F(HttpServerTest, ShutdownClosesIdleConnectionsAndFinishesInFlightOnes) {
  int idle = Connect();
  SendAll(idle, "GET /myapp/index.html HTTP/1.1\r\nHost: x\r\n\r\n");
  ReadSome(idle, "<h1>hello</h1>", 1);
  int half = Connect();  // a request in flight: headers sent, body pending
  SendAll(half, "PUT /myapp/.session/attributes/x HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n\r\n");
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  std::thread finisher([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    SendAll(half, "1");
  });
  int64_t start = MonotonicMillis();
  container_->Shutdown(3000);
  finisher.join();
  EXPECT_LT(MonotonicMillis() - start, 2500);
  EXPECT_TRUE(ReadSome(idle, "never", 1, 500).empty()) << "idle connection closed";
  std::string out = ReadSome(half, "\r\n\r\n", 1, 1000);
  EXPECT_EQ(StatusOf(out), 204) << out;
  EXPECT_NE(out.find("Connection: close"), std::string::npos);
  ::close(idle);
  ::close(half);
  EXPECT_LT(Connect(), 0) << "no longer accepting";
}

TEST(HttpServerUnitTest, PortInUseIsUnavailable) {
  HttpServer first({}, [](Request&, const ConnectionInfo&, Response*) {});
  ASSERT_TRUE(first.Start().ok());
  HttpServerOptions o;
  o.port = first.port();
  HttpServer second(o, [](Request&, const ConnectionInfo&, Response*) {});
  Status s = second.Start();
  EXPECT_EQ(s.code(), Code::kUnavailable);
  EXPECT_NE(s.message().find("127.0.0.1:" + std::to_string(first.port())), std::string::npos) << s.message();
}

TEST(HttpServerUnitTest, HttpDateLooksRight) {
  const std::string& d = HttpDateNow();
  EXPECT_EQ(d.size(), 29u) << d;
  EXPECT_TRUE(d.ends_with(" GMT"));
}

}  // namespace
}  // namespace sessiond::container
