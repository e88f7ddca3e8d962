// Transport: the receiver (bind with autoBind, accept on the loop), the sender pools, and the
// public entry points. Frames are encoded on the calling thread (HMAC and AES work spreads over
// the callers, e.g. HTTP workers) and handed to the loop, which owns every socket.
#include <algorithm>
#include <cstdio>

#include "transport/transport_internal.h"

namespace sessiond::transport {

namespace {

bool IsLoopback(const asio::ip::address& a) {
  if (a.is_v4()) return (a.to_v4().to_uint() >> 24) == 127;
  const auto v6 = a.to_v6();
  if (v6.is_v4_mapped()) return (v6.to_v4().to_uint() >> 24) == 127;
  return v6.is_loopback();
}

std::string HexType(uint16_t type) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "0x%04x", type);
  return buf;
}

}  // namespace

TransportCore::TransportCore(EventLoop* loop_in, TransportOptions options_in)
    : loop(loop_in),
      io(IoContextOf(*loop_in)),
      options(std::move(options_in)),
      acceptor_(io) {}

Status TransportCore::Bind() {
  boost::system::error_code ec;
  auto address = asio::ip::make_address(options.address, ec);
  if (ec) return Status::BadRequest("receiver address '" + options.address + "' is not an IP address");
  // Checked before binding: an unauthenticated receiver must never listen off-host, even briefly.
  if (!options.secret.present() && !options.insecure && !IsLoopback(address)) {
    return Status::Forbidden("refusing an unauthenticated cluster on " + options.address +
                             ": set clusterSecretFile (--cluster-secret-file) or pass --insecure");
  }
  if (options.encrypt && !options.secret.present())
    return Status::BadRequest("cluster encryption needs a cluster secret (clusterSecretFile)");
  if (options.connections_per_peer < 1) options.connections_per_peer = 1;
  int tries = options.port == 0 ? 1 : std::max(options.auto_bind, 1);
  int last = std::min<int>(options.port + tries - 1, 65535);
  for (int port = options.port; port <= last; ++port) {
    tcp::endpoint endpoint(address, static_cast<uint16_t>(port));
    boost::system::error_code ignored;
    acceptor_.open(endpoint.protocol(), ec);
    if (!ec) acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec) acceptor_.bind(endpoint, ec);
    if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
    if (!ec) {
      bound_port = acceptor_.local_endpoint(ignored).port();
      return Status::Ok();
    }
    acceptor_.close(ignored);
    if (ec != asio::error::address_in_use) {
      return Status::Unavailable("cannot listen on " + options.address + ":" +
                                 std::to_string(port) + ": " + ec.message());
    }
  }
  return Status::Unavailable("no free receiver port on " + options.address + " in " +
                             std::to_string(options.port) + ".." + std::to_string(last));
}

void TransportCore::StartAccepting() {
  if (!closed_) Accept();
}

void TransportCore::Accept() {
  acceptor_.async_accept([self = shared_from_this()](const boost::system::error_code& ec,
                                                     tcp::socket socket) {
    if (self->closed_ || ec == asio::error::operation_aborted) return;
    if (ec) {  // EMFILE and friends: back off instead of spinning
      self->loop->After(100, [self] { self->StartAccepting(); });
      return;
    }
    boost::system::error_code ignored;
    socket.set_option(tcp::no_delay(true), ignored);
    auto remote = socket.remote_endpoint(ignored);
    PeerAddress peer{remote.address().to_string(), remote.port()};
    auto conn = std::make_shared<Connection>(self, Connection::Role::kInbound, std::move(socket),
                                             std::move(peer));
    self->inbound_.insert(conn);
    conn->StartReading();
    self->Accept();
  });
}

void TransportCore::Close() {
  if (closed_) return;
  closed_ = true;
  boost::system::error_code ignored;
  acceptor_.close(ignored);
  std::vector<std::shared_ptr<Connection>> all(inbound_.begin(), inbound_.end());
  for (auto& [peer, pool] : pools_) all.insert(all.end(), pool.conns.begin(), pool.conns.end());
  for (auto& conn : all) conn->Close(Status::Unavailable("transport closed"), CloseKind::kShutdown);
  inbound_.clear();
  pools_.clear();
}

std::shared_ptr<Connection> TransportCore::PickConnection(const PeerAddress& to, Lane lane) {
  Pool& pool = pools_[{to, lane}];
  // Grow the pool only while every connection is busy writing: idle peers keep one connection.
  // The control lane is one connection: its messages are few and small.
  size_t limit = lane == Lane::kControl ? 1 : static_cast<size_t>(options.connections_per_peer);
  bool all_busy = std::all_of(pool.conns.begin(), pool.conns.end(),
                              [](const auto& c) { return c->queued() > 0; });
  if (pool.conns.empty() || (all_busy && pool.conns.size() < limit)) {
    auto conn = std::make_shared<Connection>(shared_from_this(), Connection::Role::kOutbound,
                                             tcp::socket(io), to, lane);
    pool.conns.push_back(conn);
    conn->Enqueue(EncodeFrame(Message{kHelloType, options.node_name}, 0, 0, options.secret,
                              options.encrypt),
                  nullptr);
    conn->Connect();
    return conn;
  }
  return pool.conns[pool.next++ % pool.conns.size()];
}

void TransportCore::Dispatch(const PeerAddress& to, Lane lane, std::string frame,
                             uint64_t correlation, std::function<void(Status)> written,
                             ReplyCallback reply, int64_t timeout_ms) {
  if (closed_) return;
  auto conn = PickConnection(to, lane);
  if (reply) conn->ExpectReply(correlation, timeout_ms, std::move(reply));
  conn->Enqueue(std::move(frame), std::move(written));
}

void TransportCore::Disconnect(const PeerAddress& peer) {
  for (Lane lane : {Lane::kData, Lane::kControl}) {
    auto it = pools_.find({peer, lane});
    if (it == pools_.end()) continue;
    auto conns = it->second.conns;  // Close() erases from the pool
    for (auto& conn : conns) {
      conn->Close(Status::Unavailable("disconnected from " + peer.ToString()), CloseKind::kLocal);
    }
  }
}

void TransportCore::Forget(const std::shared_ptr<Connection>& conn) {
  if (conn->role() == Connection::Role::kInbound) {
    inbound_.erase(conn);
    return;
  }
  auto it = pools_.find({conn->peer(), conn->lane()});
  if (it == pools_.end()) return;
  auto& conns = it->second.conns;
  conns.erase(std::remove(conns.begin(), conns.end(), conn), conns.end());
  if (conns.empty()) pools_.erase(it);
}

void TransportCore::NotifyPeerFailure(const PeerAddress& peer, const Status& why) {
  std::function<void(const PeerAddress&, const Status&)> cb;
  {
    std::lock_guard lock(mu);
    cb = peer_failure;
  }
  if (cb) cb(peer, why);
}

void TransportCore::CountBadFrame(const Status& why) {
  if (why.code() == Code::kUnauthorized) {
    ++auth_failures;
  } else {
    ++parse_failures;
  }
  ++connections_closed_bad;
}

std::shared_ptr<Transport::Handler> TransportCore::FindHandler(uint16_t type) {
  std::lock_guard lock(mu);
  auto it = handlers.find(type);
  return it == handlers.end() ? nullptr : it->second;
}

void TransportCore::SendReply(Connection& conn, uint64_t correlation, const Message& response,
                              uint8_t flags) {
  conn.Enqueue(EncodeFrame(response, kFlagReply | flags, correlation, options.secret,
                           options.encrypt),
               nullptr);
}

Transport::Reply TransportCore::MakeReply(const std::shared_ptr<Connection>& conn,
                                          uint64_t correlation) {
  std::weak_ptr<Connection> weak = conn;
  auto used = std::make_shared<std::atomic<bool>>(false);
  return [self = shared_from_this(), weak, correlation, used](Message response) {
    if (used->exchange(true)) return;  // exactly once, whatever the handler does
    auto send = [self, weak, correlation, response = std::move(response)] {
      auto c = weak.lock();
      if (c && !c->closed()) self->SendReply(*c, correlation, response, 0);
    };
    if (self->loop->InLoop()) {
      send();
    } else {
      self->loop->Post(std::move(send));
    }
  };
}

void TransportCore::OnInboundFrame(const std::shared_ptr<Connection>& conn, DecodedFrame frame) {
  if (frame.flags & kFlagReply) return;  // nothing of ours is awaited on an inbound connection
  bool wants_reply = frame.flags & kFlagAckRequested;
  if (frame.flags & kFlagReceiptAck) {  // acknowledged mode: "received" is the whole answer
    SendReply(*conn, frame.correlation, Message{frame.message.type, {}}, 0);
    wants_reply = false;
  }
  auto handler = FindHandler(frame.message.type);
  if (!handler) {
    if (wants_reply) {
      std::string body(1, static_cast<char>(Code::kNotFound));
      body += options.node_name + " has no handler for message type " + HexType(frame.message.type);
      SendReply(*conn, frame.correlation, Message{frame.message.type, std::move(body)},
                kFlagError);
    }
    return;
  }
  Transport::Reply reply = wants_reply ? MakeReply(conn, frame.correlation)
                                       : Transport::Reply([](Message) {});
  (*handler)(conn->sender(), std::move(frame.message), std::move(reply));
}

// ---- Transport: the public face ------------------------------------------------------------

Result<std::unique_ptr<Transport>> Transport::Start(EventLoop* loop, TransportOptions options) {
  auto core = std::make_shared<TransportCore>(loop, std::move(options));
  SESSIOND_RETURN_IF_ERROR(core->Bind());
  if (loop->InLoop()) {
    core->StartAccepting();
  } else {
    loop->Post([core] { core->StartAccepting(); });
  }
  auto impl = std::make_unique<Impl>();
  impl->core = std::move(core);
  return std::unique_ptr<Transport>(new Transport(std::move(impl)));
}

Transport::Transport(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Transport::~Transport() {
  auto core = impl_->core;
  core->loop->impl().RunAndWait([core] { core->Close(); });
}

uint16_t Transport::port() const { return impl_->core->bound_port; }

void Transport::Handle(uint16_t type, Handler handler) {
  auto& core = *impl_->core;
  std::lock_guard lock(core.mu);
  core.handlers[type] = std::make_shared<Handler>(std::move(handler));
}

void Transport::OnPeerFailure(std::function<void(const PeerAddress&, const Status&)> callback) {
  auto& core = *impl_->core;
  std::lock_guard lock(core.mu);
  core.peer_failure = std::move(callback);
}

namespace {
// Runs `fn` on the loop: inline when already there (keeps the caller's order without a post).
void OnLoop(TransportCore& core, std::function<void()> fn) {
  if (core.loop->InLoop()) {
    fn();
  } else {
    core.loop->Post(std::move(fn));
  }
}
}  // namespace

void Transport::Send(const PeerAddress& to, Message message, SendMode mode,
                     std::function<void(Status)> done, Lane lane) {
  auto core = impl_->core;
  const TransportOptions& o = core->options;
  if (mode == SendMode::kAsynchronous) {
    std::string frame = EncodeFrame(message, 0, 0, o.secret, o.encrypt);
    OnLoop(*core, [core, to, lane, frame = std::move(frame), done = std::move(done)]() mutable {
      core->Dispatch(to, lane, std::move(frame), 0, std::move(done), nullptr, 0);
    });
    return;
  }
  uint64_t id = core->next_correlation++;
  uint8_t flags = kFlagAckRequested | (mode == SendMode::kAcknowledged ? kFlagReceiptAck : 0);
  std::string frame = EncodeFrame(message, flags, id, o.secret, o.encrypt);
  ReplyCallback on_reply = [done = std::move(done)](Result<Message> r) {
    if (done) done(r.status());
  };
  OnLoop(*core, [core, to, lane, id, frame = std::move(frame), cb = std::move(on_reply)]() mutable {
    core->Dispatch(to, lane, std::move(frame), id, nullptr, std::move(cb),
                   core->options.ack_timeout_ms);
  });
}

void Transport::Request(const PeerAddress& to, Message message, int64_t timeout_ms,
                        std::function<void(Result<Message>)> done, Lane lane) {
  auto core = impl_->core;
  uint64_t id = core->next_correlation++;
  std::string frame =
      EncodeFrame(message, kFlagAckRequested, id, core->options.secret, core->options.encrypt);
  OnLoop(*core, [core, to, lane, id, timeout_ms, frame = std::move(frame),
                 done = std::move(done)]() mutable {
    core->Dispatch(to, lane, std::move(frame), id, nullptr, std::move(done), timeout_ms);
  });
}

void Transport::Disconnect(const PeerAddress& peer) {
  auto core = impl_->core;
  OnLoop(*core, [core, peer] { core->Disconnect(peer); });
}

TransportStats Transport::stats() const {
  const TransportCore& c = *impl_->core;
  TransportStats s;
  s.frames_sent = c.frames_sent;
  s.frames_received = c.frames_received;
  s.bytes_sent = c.bytes_sent;
  s.bytes_received = c.bytes_received;
  s.auth_failures = c.auth_failures;
  s.parse_failures = c.parse_failures;
  s.connections_closed_bad = c.connections_closed_bad;
  return s;
}

}  // namespace sessiond::transport
