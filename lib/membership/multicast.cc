// McastChannel over Boost.Asio UDP on the cluster loop's io_context.
//
// Several nodes on one host share the group port, so the socket binds the group port with
// SO_REUSEADDR on INADDR_ANY (binding the group address itself would also work on Linux, but
// any-address is portable) and joins the group on the configured interface only. Sending goes
// out of that same interface (IP_MULTICAST_IF), with loopback on so that nodes on one host hear
// each other. A 127.0.0.x interface therefore keeps every heartbeat on the loopback device; if the
// kernel refuses 127.0.0.x as a multicast interface we fall back to 127.0.0.1, never to
// INADDR_ANY (which would route by the multicast route, possibly onto a LAN).
#include <netinet/in.h>

#include <array>
#include <boost/asio/ip/multicast.hpp>
#include <boost/asio/ip/udp.hpp>

#include "membership/membership_internal.h"
#include "transport/loop_internal.h"

namespace sessiond::membership {

namespace {

namespace asio = boost::asio;
using asio::ip::udp;

using Options = McastChannel::Options;

constexpr size_t kMaxDatagram = 64 * 1024;

class AsioMcastChannel final : public McastChannel {
 public:
  AsioMcastChannel(asio::io_context& io, std::function<void(std::string_view)> on_datagram)
      : state_(std::make_shared<State>(io, std::move(on_datagram))) {}
  ~AsioMcastChannel() override { Close(); }

  Status Open(const Options& options);
  Status Send(std::string_view bytes) override;
  void Close() override;
  std::string interface() const override { return interface_; }

 private:
  // Shared with the pending receive, so the buffer outlives the socket's last operation.
  struct State {
    State(asio::io_context& io, std::function<void(std::string_view)> fn)
        : socket(io), on_datagram(std::move(fn)) {}
    udp::socket socket;
    std::function<void(std::string_view)> on_datagram;
    std::array<char, kMaxDatagram> buffer{};
    udp::endpoint from;
    bool closed = false;
  };
  static void Receive(const std::shared_ptr<State>& state);
  Status SetInterface(const asio::ip::address_v4& address);

  std::shared_ptr<State> state_;
  udp::endpoint group_;
  std::string interface_;
};

Status Fail(const Options& options, std::string_view what, const boost::system::error_code& ec) {
  return Status::Unavailable("multicast " + options.group + ":" + std::to_string(options.port) +
                             " on " + options.interface + ": " + std::string(what) + ": " +
                             ec.message());
}

Status AsioMcastChannel::SetInterface(const asio::ip::address_v4& address) {
  boost::system::error_code ec;
  state_->socket.set_option(asio::ip::multicast::outbound_interface(address), ec);
  if (ec && address.is_loopback() && address != asio::ip::address_v4::loopback()) {
    ec.clear();  // some kernels want the device's primary address: stay on loopback regardless
    state_->socket.set_option(
        asio::ip::multicast::outbound_interface(asio::ip::address_v4::loopback()), ec);
    if (!ec) interface_ = "127.0.0.1";
  }
  if (ec) return Status::Unavailable("IP_MULTICAST_IF " + address.to_string() + ": " + ec.message());
  return Status::Ok();
}

Status AsioMcastChannel::Open(const Options& options) {
  boost::system::error_code ec;
  asio::ip::address_v4 group = asio::ip::make_address_v4(options.group, ec);
  if (ec || !group.is_multicast())
    return Status::BadRequest("multicast address " + options.group + " is not an IPv4 group");
  asio::ip::address_v4 iface = asio::ip::make_address_v4(options.interface, ec);
  if (ec || iface.is_unspecified())
    return Status::BadRequest("multicast interface " + options.interface +
                              " is not an IPv4 interface address");
  interface_ = options.interface;
  group_ = udp::endpoint(group, options.port);
  udp::socket& s = state_->socket;
  if (s.open(udp::v4(), ec); ec) return Fail(options, "socket", ec);
  if (s.set_option(udp::socket::reuse_address(true), ec); ec) return Fail(options, "SO_REUSEADDR", ec);
  if (s.bind(udp::endpoint(asio::ip::address_v4::any(), options.port), ec); ec)
    return Fail(options, "bind", ec);
  if (s.set_option(asio::ip::multicast::join_group(group, iface), ec); ec)
    return Fail(options, "IP_ADD_MEMBERSHIP", ec);
  SESSIOND_RETURN_IF_ERROR(SetInterface(iface));
  if (s.set_option(asio::ip::multicast::hops(options.ttl), ec); ec)
    return Fail(options, "IP_MULTICAST_TTL", ec);
  if (s.set_option(asio::ip::multicast::enable_loopback(true), ec); ec)
    return Fail(options, "IP_MULTICAST_LOOP", ec);
  Receive(state_);
  return Status::Ok();
}

void AsioMcastChannel::Receive(const std::shared_ptr<State>& state) {
  state->socket.async_receive_from(
      asio::buffer(state->buffer), state->from,
      [state](const boost::system::error_code& ec, size_t n) {
        if (state->closed) return;
        if (!ec) state->on_datagram(std::string_view(state->buffer.data(), n));
        // Transient errors (e.g. ICMP feedback) must not end reception; closing does.
        if (ec != asio::error::operation_aborted && ec != asio::error::bad_descriptor)
          Receive(state);
      });
}

Status AsioMcastChannel::Send(std::string_view bytes) {
  if (state_->closed) return Status::Unavailable("multicast channel closed");
  boost::system::error_code ec;
  state_->socket.send_to(asio::buffer(bytes.data(), bytes.size()), group_, 0, ec);
  if (ec) return Status::Unavailable("multicast send to " + group_.address().to_string() + ": " +
                                     ec.message());
  return Status::Ok();
}

void AsioMcastChannel::Close() {
  if (state_->closed) return;
  state_->closed = true;
  state_->on_datagram = nullptr;
  boost::system::error_code ec;
  state_->socket.close(ec);
}

}  // namespace

Result<std::unique_ptr<McastChannel>> McastChannel::Open(
    transport::EventLoop& loop, Options options,
    std::function<void(std::string_view)> on_datagram) {
  auto channel = std::make_unique<AsioMcastChannel>(transport::IoContextOf(loop),
                                                    std::move(on_datagram));
  Status st = channel->Open(options);
  if (!st.ok()) return st;
  return std::unique_ptr<McastChannel>(std::move(channel));
}

}  // namespace sessiond::membership
