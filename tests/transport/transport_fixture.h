// Shared helpers for the transport tests: a running loop, transports on 127.0.0.1 with
// ephemeral ports, and waiting on callbacks with a deadline.
#pragma once

#include <chrono>
#include <future>
#include <memory>
#include <string>

#include <gtest/gtest.h>

#include "transport/transport.h"

namespace sessiond::transport {

inline const Secret kTestSecret = DeriveSecret("transport-test-secret-0123456789");

/// Waits up to `ms` for the future; false on timeout.
template <typename T>
bool WaitFor(std::future<T>& f, int ms = 3000) {
  return f.wait_for(std::chrono::milliseconds(ms)) == std::future_status::ready;
}

inline TransportOptions TestOptions(const std::string& name, Secret secret = kTestSecret) {
  TransportOptions o;
  o.node_name = name;
  o.address = "127.0.0.1";
  o.port = 0;  // ephemeral: tests never collide
  o.auto_bind = 1;
  o.secret = std::move(secret);
  o.connect_timeout_ms = 1000;
  o.ack_timeout_ms = 2000;
  return o;
}

class TransportTest : public ::testing::Test {
 protected:
  void SetUp() override { loop.Start(); }
  void TearDown() override {
    a.reset();
    b.reset();
    loop.Stop();
  }
  std::unique_ptr<Transport> StartOrDie(TransportOptions o) {
    auto t = Transport::Start(&loop, std::move(o));
    EXPECT_TRUE(t.ok()) << t.status().ToString();
    return t.ok() ? std::move(t).value() : nullptr;
  }
  void StartPair(Secret secret = kTestSecret, bool encrypt = false) {
    auto oa = TestOptions("A", secret), ob = TestOptions("B", secret);
    oa.encrypt = ob.encrypt = encrypt;
    a = StartOrDie(oa);
    b = StartOrDie(ob);
  }
  PeerAddress AddrOf(const Transport& t) { return {"127.0.0.1", t.port()}; }

  EventLoop loop;
  std::unique_ptr<Transport> a, b;
};

}  // namespace sessiond::transport
