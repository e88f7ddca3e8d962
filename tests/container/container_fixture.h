// A real Container on 127.0.0.1 (ephemeral port) over a temp appBase with one distributable
// folder app (/myapp), a session store, a metrics registry and a sink that records every batch;
// plus a tiny cookie jar over cpp-httplib and a raw-socket helper for bytes httplib won't send.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <httplib.h>

#include "base/base.h"
#include "config/config.h"
#include "container/container.h"
#include "metrics/metrics.h"
#include "session/session.h"
#include "support/files.h"

namespace sessiond::container::testing {

/// Records every committed batch (thread-safe: connector threads commit concurrently).
class RecordingSink : public session::EventSink {
 public:
  void OnCommit(const session::EventBatch& batch) override {
    std::lock_guard lock(mu_);
    batches_.push_back(batch);
  }
  std::vector<session::EventBatch> Take() {
    std::lock_guard lock(mu_);
    return std::exchange(batches_, {});
  }

 private:
  std::mutex mu_;
  std::vector<session::EventBatch> batches_;
};

class ContainerTest : public ::testing::Test {
 protected:
  /// Writes the app, builds the config (tweakable), creates and starts the container.
  void StartContainer(const std::function<void(config::NodeConfig&)>& tweak = {}) {
    sessiond::testing::WriteFile(dir_.Path("webapps/myapp/index.html"), "<h1>hello</h1>\n");
    sessiond::testing::WriteFile(dir_.Path("webapps/myapp/WEB-INF/web.xml"),
                                 "<web-app><distributable/></web-app>\n");
    sessiond::testing::WriteFile(dir_.Path("webapps/myapp/big.bin"), std::string(300000, 'b'));
    config_ = config::EmbeddedDefault(dir_.path());
    config_.jvm_route = "nodeA";
    config_.connector.address = "127.0.0.1";
    config_.connector.port = 0;
    config_.connector.max_threads = 2;
    config_.connector.max_body_bytes = 4096;
    if (tweak) tweak(config_);
    session::SessionStore::Options o;
    o.node_name = config_.jvm_route;
    o.clock = &clock_;
    store_ = std::make_unique<session::SessionStore>(o);
    store_->AddSink(&sink_);
    auto c = Container::Create(config_, store_.get(), &registry_);
    ASSERT_TRUE(c.ok()) << c.status().ToString();
    container_ = std::move(c.value());
    ASSERT_TRUE(container_->Start().ok());
    port_ = container_->http_port();
    ASSERT_NE(port_, 0);
  }
  void TearDown() override {
    if (container_) container_->Shutdown(1000);
  }

  std::unique_ptr<httplib::Client> Client() {
    auto c = std::make_unique<httplib::Client>("127.0.0.1", port_);
    c->set_read_timeout(5, 0);
    return c;
  }

  /// Sends one request with the jar's cookie and keeps any JSESSIONID it sets.
  httplib::Result Send(const std::string& method, const std::string& path, const std::string& body = "") {
    auto c = Client();
    httplib::Headers h;
    if (!cookie_.empty()) h.emplace("Cookie", "JSESSIONID=" + cookie_);
    httplib::Result r = method == "GET"      ? c->Get(path.c_str(), h)
                        : method == "PUT"    ? c->Put(path.c_str(), h, body, "application/json")
                        : method == "PATCH"  ? c->Patch(path.c_str(), h, body, "application/merge-patch+json")
                        : method == "DELETE" ? c->Delete(path.c_str(), h)
                        : method == "POST"   ? c->Post(path.c_str(), h, body, "application/json")
                                             : c->Head(path.c_str(), h);
    if (r && r->has_header("Set-Cookie")) {
      std::string sc = r->get_header_value("Set-Cookie");
      last_set_cookie_ = sc;
      size_t eq = sc.find('='), semi = sc.find(';');
      cookie_ = sc.substr(eq + 1, semi - eq - 1);
    } else {
      last_set_cookie_.clear();
    }
    return r;
  }

  /// Connects a raw TCP socket to the container (-1 on failure).
  int Connect() {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port_);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
      ::close(fd);
      return -1;
    }
    return fd;
  }
  static void SendAll(int fd, const std::string& bytes) {
    size_t off = 0;
    while (off < bytes.size()) {
      ssize_t n = ::send(fd, bytes.data() + off, bytes.size() - off, MSG_NOSIGNAL);
      if (n <= 0) return;
      off += static_cast<size_t>(n);
    }
  }
  /// Reads until the peer closes, `until` appears `count` times, or `timeout_ms` passes.
  static std::string ReadSome(int fd, const std::string& until = "", int count = 1, int timeout_ms = 3000) {
    std::string out;
    int64_t deadline = MonotonicMillis() + timeout_ms;
    for (;;) {
      if (!until.empty()) {
        int seen = 0;
        for (size_t p = out.find(until); p != std::string::npos; p = out.find(until, p + 1)) ++seen;
        if (seen >= count) return out;
      }
      int64_t left = deadline - MonotonicMillis();
      if (left <= 0) return out;
      pollfd p{fd, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(left)) <= 0) return out;
      char buf[65536];
      ssize_t n = ::recv(fd, buf, sizeof buf, 0);
      if (n <= 0) return out;
      out.append(buf, static_cast<size_t>(n));
    }
  }
  /// One raw exchange on a fresh connection; the answer until the server closes (or timeout).
  std::string RawExchange(const std::string& bytes, int timeout_ms = 3000) {
    int fd = Connect();
    if (fd < 0) return "";
    SendAll(fd, bytes);
    std::string out = ReadSome(fd, "", 1, timeout_ms);
    ::close(fd);
    return out;
  }

  sessiond::testing::TempDir dir_;
  config::NodeConfig config_;
  session::HybridClock clock_;
  std::unique_ptr<session::SessionStore> store_;
  metrics::Registry registry_;
  RecordingSink sink_;
  std::unique_ptr<Container> container_;
  uint16_t port_ = 0;
  std::string cookie_;           // the jar: the JSESSIONID value
  std::string last_set_cookie_;  // the last Set-Cookie seen
};

}  // namespace sessiond::container::testing
