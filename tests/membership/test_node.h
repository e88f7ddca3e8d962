// A cluster node for membership tests: its own EventLoop, Transport (127.0.0.1, a free port) and
// Membership, with the fast timings of the tests (frequency 100 ms, dropTime 600 ms).
//
// Multicast must only ever run inside the private namespace of tests/support/netns-run:
// InNetns() says whether we are there, and multicast tests skip otherwise.
#pragma once

#include <cstdlib>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "membership/membership.h"
#include "support/process.h"
#include "transport/transport.h"

namespace sessiond::membership::testing {

inline bool InNetns() {
  const char* v = std::getenv("SESSIOND_IN_NETNS");
  return v != nullptr && std::string(v) == "1";
}

inline transport::Secret TestSecret() {
  return transport::DeriveSecret("membership-tests fixed secret 0123456789");
}

struct NodeSpec {
  std::string name;
  uint16_t mcast_port = 45564;
  bool multicast = true;
  std::string domain = "test";
  transport::Secret secret = TestSecret();
  std::vector<transport::PeerAddress> statics = {};
  uint16_t port = 0;  ///< 0: a free port
  std::string address = "127.0.0.1";  ///< receiver and multicast interface
  int64_t frequency_ms = 100;
  int64_t drop_time_ms = 600;
  int64_t probe_timeout_ms = 300;
};

/// One node. Construction asserts nothing: check ok() (tests print status()).
class TestNode {
 public:
  explicit TestNode(NodeSpec spec) : spec_(std::move(spec)) {
    loop_ = std::make_unique<transport::EventLoop>();
    loop_->Start();
    transport::TransportOptions t;
    t.node_name = spec_.name;
    t.address = spec_.address;
    t.port = spec_.port != 0 ? spec_.port : sessiond::testing::FreePort();
    t.auto_bind = 1;
    t.secret = spec_.secret;
    t.connect_timeout_ms = 300;
    auto transport = transport::Transport::Start(loop_.get(), t);
    if (!transport.ok()) {
      status_ = transport.status();
      return;
    }
    transport_ = std::move(transport).value();
    start_ms_ = WallMillis();
    auto m = Membership::Start(loop_.get(), transport_.get(), Options(), [this] { return Self(); });
    if (!m.ok()) {
      status_ = m.status();
      return;
    }
    membership_ = std::move(m).value();
  }
  ~TestNode() { Crash(); }

  /// Disappears without a goodbye: the sockets close as the kernel would close them on kill -9.
  void Crash() {
    membership_.reset();
    transport_.reset();
    if (loop_) loop_->Stop();
    loop_.reset();
  }

  bool ok() const { return status_.ok(); }
  const Status& status() const { return status_; }
  Membership& membership() { return *membership_; }
  transport::Transport& transport() { return *transport_; }
  transport::PeerAddress address() const { return {spec_.address, transport_->port()}; }
  const std::string& name() const { return spec_.name; }

  /// The member's state as this node sees it, or "absent".
  std::string StateOf(const std::string& name) const {
    auto m = membership_->Find(name);
    return m ? std::string(StateName(m->state)) : "absent";
  }

 private:
  MembershipOptions Options() const {
    MembershipOptions o;
    o.multicast = spec_.multicast;
    o.port = spec_.mcast_port;
    o.frequency_ms = spec_.frequency_ms;
    o.drop_time_ms = spec_.drop_time_ms;
    o.probe_timeout_ms = spec_.probe_timeout_ms;
    o.bind = spec_.address;
    o.domain = spec_.domain;
    o.static_members = spec_.statics;
    o.secret = spec_.secret;
    return o;
  }
  Heartbeat Self() const {
    Heartbeat hb;
    hb.name = spec_.name;
    hb.receiver_host = spec_.address;
    hb.receiver_port = transport_->port();
    hb.admin_url = "http://127.0.0.1:8099";
    hb.start_ms = start_ms_;
    hb.build = "test";
    return hb;
  }

  NodeSpec spec_;
  Status status_;
  int64_t start_ms_ = 0;
  std::unique_ptr<transport::EventLoop> loop_;
  std::unique_ptr<transport::Transport> transport_;
  std::unique_ptr<Membership> membership_;
};

/// Polls `done` every 5 ms; returns the milliseconds it took, or -1 after `timeout_ms`.
inline int64_t WaitFor(const std::function<bool()>& done, int64_t timeout_ms) {
  int64_t start = MonotonicMillis();
  while (MonotonicMillis() - start <= timeout_ms) {
    if (done()) return MonotonicMillis() - start;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return -1;
}

}  // namespace sessiond::membership::testing
