// transport internals: the receiver/sender implementation behind Transport.
//
// Everything here runs on the loop thread unless a comment says otherwise. Async operations hold
// a shared_ptr to their Connection, and every Connection holds one to the Impl, so a Transport
// destroyed while operations are in flight only closes sockets; the memory goes when the last
// handler has run (or was dropped with the io_context).
#pragma once

#include <atomic>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>

#include "transport/frame_internal.h"
#include "transport/loop_internal.h"
#include "transport/transport.h"

namespace sessiond::transport {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

class Connection;

/// A reply-awaiting send or request: completes with the reply or kUnavailable.
using ReplyCallback = std::function<void(Result<Message>)>;

/// How a connection ends: a failure the peer caused (reported to OnPeerFailure), a local close
/// (Disconnect, a bad inbound frame), or the Transport going away (callbacks are dropped: their
/// owners may be gone too).
enum class CloseKind { kPeerFailure, kLocal, kShutdown };

/// The shared state behind Transport (Transport::Impl holds it by shared_ptr).
class TransportCore : public std::enable_shared_from_this<TransportCore> {
 public:
  TransportCore(EventLoop* loop, TransportOptions options);

  Status Bind();          // caller's thread, before any async work
  void StartAccepting();  // loop thread
  void Close();           // loop thread: closes the acceptor and every connection

  /// Queues an encoded frame to `to` on `lane` (loop thread). `written` runs when it is on the
  /// wire (or failed); `reply` (when set) waits up to timeout_ms for the reply with `correlation`.
  void Dispatch(const PeerAddress& to, Lane lane, std::string frame, uint64_t correlation,
                std::function<void(Status)> written, ReplyCallback reply, int64_t timeout_ms);
  void Disconnect(const PeerAddress& peer);

  // Called by connections (loop thread).
  void OnInboundFrame(const std::shared_ptr<Connection>& conn, DecodedFrame frame);
  void Forget(const std::shared_ptr<Connection>& conn);
  void NotifyPeerFailure(const PeerAddress& peer, const Status& why);
  void CountBadFrame(const Status& why);

  std::shared_ptr<Transport::Handler> FindHandler(uint16_t type);
  Transport::Reply MakeReply(const std::shared_ptr<Connection>& conn, uint64_t correlation);
  /// Queues a reply frame on an inbound connection (loop thread).
  void SendReply(Connection& conn, uint64_t correlation, const Message& response, uint8_t flags);

  EventLoop* loop;
  asio::io_context& io;
  TransportOptions options;
  uint16_t bound_port = 0;

  std::mutex mu;  // guards handlers, peer_failure (registered from any thread)
  std::unordered_map<uint16_t, std::shared_ptr<Transport::Handler>> handlers;
  std::function<void(const PeerAddress&, const Status&)> peer_failure;

  std::atomic<uint64_t> next_correlation{1};
  std::atomic<uint64_t> frames_sent{0}, frames_received{0}, bytes_sent{0}, bytes_received{0};
  std::atomic<uint64_t> auth_failures{0}, parse_failures{0}, connections_closed_bad{0};

 private:
  struct Pool {
    std::vector<std::shared_ptr<Connection>> conns;
    size_t next = 0;
  };
  using PoolKey = std::pair<PeerAddress, Lane>;
  std::shared_ptr<Connection> PickConnection(const PeerAddress& to, Lane lane);
  void Accept();

  tcp::acceptor acceptor_;
  bool closed_ = false;
  std::map<PoolKey, Pool> pools_;  // a peer's data pool and its control connection
  std::set<std::shared_ptr<Connection>> inbound_;
};

class Transport::Impl {
 public:
  std::shared_ptr<TransportCore> core;
};

/// One TCP connection, either accepted (inbound: HELLO first, frames go to handlers) or opened
/// by the sender pool (outbound: replies are matched to pending sends by correlation id). Writes
/// are queued and gathered: at most one async_write is in flight, and it carries every frame
/// queued while the previous one was on the wire.
class Connection : public std::enable_shared_from_this<Connection> {
 public:
  enum class Role { kInbound, kOutbound };
  Connection(std::shared_ptr<TransportCore> owner, Role role, tcp::socket socket,
             PeerAddress peer, Lane lane = Lane::kData);

  /// Outbound: resolves/connects with the connect timeout, then writes HELLO and reads replies.
  void Connect();
  /// Outbound, before connecting: binds the socket to the receiver address (see connection.cc).
  void BindToOwnAddress(const asio::ip::address& peer_address);
  /// Inbound: starts the read loop on an accepted socket.
  void StartReading();
  /// Queues a frame; `written` (may be empty) gets OK once written or the failure.
  void Enqueue(std::string frame, std::function<void(Status)> written);
  /// Registers a pending reply with its own timeout timer.
  void ExpectReply(uint64_t correlation, int64_t timeout_ms, ReplyCallback callback);
  /// Closes the socket and fails everything pending with `why` (idempotent).
  void Close(const Status& why, CloseKind kind);

  bool closed() const { return closed_; }
  size_t queued() const { return queue_.size() + inflight_.size(); }
  Role role() const { return role_; }
  Lane lane() const { return lane_; }  ///< outbound: the pool it belongs to
  const PeerAddress& peer() const { return peer_; }
  const Sender& sender() const { return sender_; }

 private:
  struct Pending {
    ReplyCallback callback;
    std::unique_ptr<asio::steady_timer> timer;
  };
  struct Outgoing {
    std::string frame;
    std::function<void(Status)> written;
  };
  void OnConnect(const boost::system::error_code& ec);
  void Read();
  void OnRead(size_t n);
  bool HandleFrame(DecodedFrame frame);
  void OnReply(DecodedFrame frame);
  void Write();

  std::shared_ptr<TransportCore> owner_;
  Role role_;
  Lane lane_;
  tcp::socket socket_;
  PeerAddress peer_;
  Sender sender_;
  bool hello_seen_ = false;
  bool connected_ = false;
  bool closed_ = false;
  asio::steady_timer connect_timer_;
  std::vector<char> buf_;
  size_t have_ = 0;
  std::deque<Outgoing> queue_;
  std::vector<Outgoing> inflight_;
  std::unordered_map<uint64_t, Pending> pending_;
};

}  // namespace sessiond::transport
