// transport: the cluster's framed, authenticated TCP channel (Tomcat's NioReceiver +
// PooledParallelSender, DESIGN.md §5), and the event loop that owns cluster state.
//
// EventLoop wraps one Boost.Asio io_context run by one thread ("cluster loop"): membership and
// replication state live on it, timers fire on it, and other threads hand it work with Post().
// Asio types stay behind the pimpl.
//
// Wire format (version 1), every integer big-endian:
//   0  u32  magic 0x53534E44 ("SSND")
//   4  u8   format version (1)
//   5  u8   flags: 0x01 encrypted (AES-256-GCM), 0x02 ack requested, 0x04 reply (ack/response),
//                  0x08 authenticated (HMAC-SHA256 under the cluster secret; else a SHA-256 checksum)
//                  0x10 receipt ack (with 0x02: the receiving transport replies on receipt, before
//                       the handler runs — SendMode::kAcknowledged),
//                  0x20 error reply (with 0x04: body = u8 Code + message, e.g. no handler)
//                  other bits: malformed
//   6  u16  message type (0x01xx membership, 0x02xx replication, 0x03xx deploy, 0x04xx node
//           control: drain, 0x00xx transport)
//   8  u64  correlation id (0 = none; a reply carries its request's id)
//   16 u32  body length L (at most kMaxFrameBody)
//   20 L    body: the payload, or when encrypted: 12-byte nonce | ciphertext | 16-byte GCM tag
//   20+L 32 trailer: HMAC-SHA256(key, bytes 0..20+L) when authenticated, else SHA-256 of them
// The first frame on every connection is HELLO (type 0x0001) carrying the sender's node name;
// a connection whose frame fails its MAC/checksum or does not parse is closed and counted.
// Encryption always comes with authentication (0x01 without 0x08 is malformed); the GCM
// additional data is header bytes 0..20 as sent (flags and length included), and the trailer
// MAC covers the ciphertext. A frame whose 0x08 bit disagrees with whether this node has a
// secret is kUnauthorized. Replies travel on the connection the request came in on.
//
// Connections: a sender keeps up to connections_per_peer connections per peer, opening another
// only while every open one has writes queued, and spreads frames round-robin over them: frames
// to one peer keep their order only with connections_per_peer = 1. Writes are gathered (every
// frame queued during a write goes out in the next one). Messages sent on Lane::kControl take a
// connection of their own to the peer (opened on demand, one per peer): a node-control command
// never queues behind megabytes of deltas in the data connection's send queue or socket buffers,
// and its reply comes back on that connection too. Frames on the two lanes are not ordered with
// respect to each other; the wire format is the same. Sibling modules reach the loop's
// io_context through transport/loop_internal.h (IoContextOf).
//
// Thread-safety: EventLoop::Post/After/Every/Cancel/Stop are thread-safe. Transport::Send/
// Request/Disconnect/Handle/OnPeerFailure/stats are thread-safe (Send and Request encode on the
// calling thread, then post to the loop); handlers and completion callbacks run on the loop
// thread. Destroying a Transport closes every connection; callbacks still pending then are
// dropped, never run.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/base.h"

namespace sessiond::transport {

class EventLoop {
 public:
  EventLoop();
  ~EventLoop();
  EventLoop(const EventLoop&) = delete;
  EventLoop& operator=(const EventLoop&) = delete;

  /// Starts the loop thread. Idempotent.
  void Start();
  /// Stops the loop and joins its thread (from the loop thread itself: stops without joining;
  /// the destructor joins); pending work is dropped. Idempotent.
  void Stop();
  /// Runs `fn` on the loop thread, soon; posts from one thread run in order. Work posted before
  /// Start runs once the loop starts.
  void Post(std::function<void()> fn);
  /// Runs `fn` once after `delay_ms`; the returned id cancels it.
  uint64_t After(int64_t delay_ms, std::function<void()> fn);
  /// Runs `fn` every `period_ms` until cancelled.
  uint64_t Every(int64_t period_ms, std::function<void()> fn);
  /// After Cancel returns on the loop thread the callback never runs again; from another
  /// thread, a run already in progress may finish. Unknown ids are ignored.
  void Cancel(uint64_t timer_id);
  /// True on the loop thread.
  bool InLoop() const;

  class Impl;
  Impl& impl() { return *impl_; }

 private:
  std::unique_ptr<Impl> impl_;
};

struct PeerAddress {
  std::string host;
  uint16_t port = 0;
  std::string ToString() const { return host + ":" + std::to_string(port); }
  friend bool operator==(const PeerAddress&, const PeerAddress&) = default;
  friend bool operator<(const PeerAddress& a, const PeerAddress& b) {
    return a.host != b.host ? a.host < b.host : a.port < b.port;
  }
};

/// Tomcat's channelSendOptions: 8 asynchronous (written to the socket), 2 acknowledged (the
/// peer received it), 4 synchronized-ack (the peer's handler finished applying it).
enum class SendMode : uint8_t { kAsynchronous = 8, kAcknowledged = 2, kSynchronizedAck = 4 };
/// Maps channelSendOptions bits (4 wins over 2 wins over 8); anything else is asynchronous.
SendMode SendModeFromChannelOptions(int channel_send_options);

/// Which connection to a peer a message takes (see the file comment): kData, the pool that
/// carries replication and deploys in order; kControl, a connection of its own for the few
/// messages that must not wait behind them (a forwarded drain).
enum class Lane : uint8_t { kData, kControl };

struct Message {
  uint16_t type = 0;
  std::string body;
};

/// The cluster secret, read from clusterSecretFile: keys for HMAC-SHA256 and AES-256-GCM are
/// derived from it (SHA-256 of a purpose label + the secret).
struct Secret {
  std::string hmac_key;  ///< empty: unauthenticated cluster (checksums only)
  std::string aes_key;
  bool present() const { return !hmac_key.empty(); }
};
/// Reads the secret file (trailing whitespace trimmed; fewer than 16 bytes is kBadRequest).
Result<Secret> LoadSecret(const std::string& path);
/// Derives the keys from secret bytes (tests).
Secret DeriveSecret(std::string_view secret_bytes);

/// Encodes one frame (see the file comment). Exposed for tests and fuzzing.
std::string EncodeFrame(const Message& message, uint8_t flags, uint64_t correlation,
                        const Secret& secret, bool encrypt);
inline constexpr uint32_t kMaxFrameBody = 64u << 20;
inline constexpr size_t kFrameHeaderBytes = 20;
inline constexpr size_t kFrameTrailerBytes = 32;
struct DecodedFrame {
  Message message;
  uint8_t flags = 0;
  uint64_t correlation = 0;
  size_t consumed = 0;  ///< bytes of input this frame took
};
/// Decodes the first frame of `bytes`. kNotFound when more bytes are needed (incomplete),
/// kUnauthorized when the MAC or checksum fails, kBadRequest when malformed.
Result<DecodedFrame> DecodeFrame(std::string_view bytes, const Secret& secret);

struct TransportOptions {
  std::string node_name;
  std::string address = "127.0.0.1";
  uint16_t port = 4000;
  int auto_bind = 100;          ///< try port, port+1, … port+auto_bind-1
  Secret secret;
  bool encrypt = false;
  bool insecure = false;        ///< allow no secret on a non-loopback address
  int64_t connect_timeout_ms = 1000;
  int64_t ack_timeout_ms = 3000;
  int connections_per_peer = 2;  ///< the sender pool
};

struct TransportStats {
  uint64_t frames_sent = 0, frames_received = 0, bytes_sent = 0, bytes_received = 0;
  uint64_t auth_failures = 0, parse_failures = 0, connections_closed_bad = 0;
};

/// Who sent a message, as its HELLO said.
struct Sender {
  std::string node;
  PeerAddress remote;
};

class Transport {
 public:
  /// Binds the receiver (autoBind: the next free port in range; kUnavailable when none is free)
  /// and accepts on the loop. Without a secret on a non-loopback address and without `insecure`:
  /// kForbidden ("refusing an unauthenticated cluster on 10.0.0.5: set clusterSecretFile
  /// (--cluster-secret-file) or pass --insecure"), checked before binding. kBadRequest when the
  /// address is not an IP literal or `encrypt` is set without a secret. Port 0 binds an ephemeral
  /// port (tests). `loop` must outlive the Transport.
  static Result<std::unique_ptr<Transport>> Start(EventLoop* loop, TransportOptions options);
  ~Transport();

  /// The bound receiver port.
  uint16_t port() const;

  /// A handler answers a message. For requests (and ack-mode sends), `reply` must be called
  /// exactly once (maybe later, from the loop thread) — for synchronized-ack the reply means
  /// "applied". A handler that never replies makes the sender time out.
  using Reply = std::function<void(Message response)>;
  using Handler = std::function<void(const Sender& from, Message message, Reply reply)>;
  /// Registers the handler for a message type. Call before traffic starts (loop thread or
  /// before Start of the loop).
  void Handle(uint16_t type, Handler handler);

  /// Sends one message to one peer over a pooled persistent connection (opened on demand).
  /// `done` (may be empty) runs on the loop thread: OK once written (asynchronous) or once the
  /// reply came (acknowledged / synchronized-ack); kUnavailable on connect failure, reset or
  /// timeout.
  void Send(const PeerAddress& to, Message message, SendMode mode,
            std::function<void(Status)> done, Lane lane = Lane::kData);
  /// Sends and waits up to `timeout_ms` for the handler's reply body: kUnavailable on timeout
  /// (how a SIGSTOPped peer shows), connect failure or reset; kNotFound when the peer has no
  /// handler for the type.
  void Request(const PeerAddress& to, Message message, int64_t timeout_ms,
               std::function<void(Result<Message>)> done, Lane lane = Lane::kData);
  /// Called (loop thread) when a connection to a peer is refused, times out connecting, is reset
  /// or closed by the peer, or carries a bad frame — once per failed connection — so membership
  /// can suspect it at once. Not called for Disconnect or our own shutdown.
  void OnPeerFailure(std::function<void(const PeerAddress&, const Status&)> callback);
  /// Closes every connection to the peer (both lanes); their pending callbacks get kUnavailable.
  /// The next Send opens a fresh connection.
  void Disconnect(const PeerAddress& peer);

  TransportStats stats() const;

  class Impl;

 private:
  explicit Transport(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace sessiond::transport
