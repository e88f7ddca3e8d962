// Connection: one TCP stream of frames. The read side decodes frames out of a buffer that grows
// to the size of the frame being read (up to kMaxFrameBody); the write side gathers every frame
// queued since the last write into one async_write, so a burst of small frames costs one
// syscall, and never has two writes in flight.
#include <algorithm>
#include <cstring>

#include <boost/asio/connect.hpp>
#include <boost/asio/write.hpp>

#include "transport/transport_internal.h"

namespace sessiond::transport {

namespace {
constexpr size_t kReadChunk = 64 * 1024;
constexpr size_t kMaxGather = 128;  // frames per async_write (iovec count stays sane)
}  // namespace

Connection::Connection(std::shared_ptr<TransportCore> owner, Role role, tcp::socket socket,
                       PeerAddress peer, Lane lane)
    : owner_(std::move(owner)),
      role_(role),
      lane_(lane),
      socket_(std::move(socket)),
      peer_(std::move(peer)),
      connected_(role == Role::kInbound),
      connect_timer_(owner_->io) {
  sender_.remote = peer_;
}

void Connection::Connect() {
  auto self = shared_from_this();
  connect_timer_.expires_after(std::chrono::milliseconds(owner_->options.connect_timeout_ms));
  connect_timer_.async_wait([self](const boost::system::error_code& ec) {
    if (ec || self->connected_ || self->closed_) return;
    self->Close(Status::Unavailable("connect to " + self->peer_.ToString() + " timed out"),
                CloseKind::kPeerFailure);
  });
  boost::system::error_code ec;
  auto address = asio::ip::make_address(peer_.host, ec);
  if (!ec) {
    BindToOwnAddress(address);
    socket_.async_connect(tcp::endpoint(address, peer_.port),
                          [self](const boost::system::error_code& e) { self->OnConnect(e); });
    return;
  }
  // A host name (static members may be given as names): resolve off the loop thread.
  auto resolver = std::make_shared<tcp::resolver>(owner_->io);
  resolver->async_resolve(
      peer_.host, std::to_string(peer_.port),
      [self, resolver](const boost::system::error_code& e, tcp::resolver::results_type results) {
        if (e) return self->OnConnect(e);
        asio::async_connect(self->socket_, results,
                            [self](const boost::system::error_code& e2, const tcp::endpoint&) {
                              self->OnConnect(e2);
                            });
      });
}

// Outbound connections leave from this node's receiver address (port chosen by the kernel), so
// the peer, its logs and a firewall see which node a connection comes from; on loopback the
// kernel would otherwise pick 127.0.0.1 for every node. A wildcard receiver address, another
// address family or a failed bind leaves the choice to the kernel, as before.
void Connection::BindToOwnAddress(const asio::ip::address& peer_address) {
  boost::system::error_code ec;
  auto own = asio::ip::make_address(owner_->options.address, ec);
  if (ec || own.is_unspecified() || own.is_v4() != peer_address.is_v4()) return;
  if (socket_.open(own.is_v4() ? tcp::v4() : tcp::v6(), ec); ec) return;
  socket_.bind(tcp::endpoint(own, 0), ec);
  if (ec) {
    socket_.close(ec);
    SESSIOND_LOG(kWarn, "outbound connection cannot bind its source address",
                 {"address", owner_->options.address}, {"error", ec.message()});
  }
}

void Connection::OnConnect(const boost::system::error_code& ec) {
  if (closed_) return;
  if (ec) {
    Close(Status::Unavailable("connect to " + peer_.ToString() + ": " + ec.message()),
          CloseKind::kPeerFailure);
    return;
  }
  connected_ = true;
  connect_timer_.cancel();
  boost::system::error_code ignored;
  socket_.set_option(tcp::no_delay(true), ignored);
  Read();
  Write();
}

void Connection::StartReading() { Read(); }

void Connection::Enqueue(std::string frame, std::function<void(Status)> written) {
  if (closed_) {
    if (written) written(Status::Unavailable("connection to " + peer_.ToString() + " closed"));
    return;
  }
  queue_.push_back({std::move(frame), std::move(written)});
  Write();
}

void Connection::ExpectReply(uint64_t correlation, int64_t timeout_ms, ReplyCallback callback) {
  if (closed_) {
    callback(Status::Unavailable("connection to " + peer_.ToString() + " closed"));
    return;
  }
  auto timer = std::make_unique<asio::steady_timer>(owner_->io);
  timer->expires_after(std::chrono::milliseconds(timeout_ms));
  timer->async_wait([self = shared_from_this(), correlation, timeout_ms](
                        const boost::system::error_code& ec) {
    if (ec) return;
    auto it = self->pending_.find(correlation);
    if (it == self->pending_.end()) return;
    ReplyCallback cb = std::move(it->second.callback);
    self->pending_.erase(it);
    cb(Status::Unavailable("no reply from " + self->peer_.ToString() + " within " +
                           std::to_string(timeout_ms) + " ms"));
  });
  pending_[correlation] = Pending{std::move(callback), std::move(timer)};
}

void Connection::Write() {
  if (closed_ || !connected_ || !inflight_.empty() || queue_.empty()) return;
  while (!queue_.empty() && inflight_.size() < kMaxGather) {
    inflight_.push_back(std::move(queue_.front()));
    queue_.pop_front();
  }
  std::vector<asio::const_buffer> buffers;
  buffers.reserve(inflight_.size());
  for (const Outgoing& o : inflight_) buffers.push_back(asio::buffer(o.frame));
  asio::async_write(socket_, buffers, [self = shared_from_this()](
                                          const boost::system::error_code& ec, size_t n) {
    if (self->closed_) return;
    if (ec) {
      self->Close(Status::Unavailable("write to " + self->peer_.ToString() + ": " + ec.message()),
                  self->role_ == Role::kOutbound ? CloseKind::kPeerFailure : CloseKind::kLocal);
      return;
    }
    self->owner_->frames_sent += self->inflight_.size();
    self->owner_->bytes_sent += n;
    std::vector<Outgoing> done = std::move(self->inflight_);
    self->inflight_.clear();
    for (Outgoing& o : done) {
      if (o.written) o.written(Status::Ok());
    }
    self->Write();
  });
}

void Connection::Read() {
  if (buf_.size() - have_ < kReadChunk / 4) buf_.resize(have_ + kReadChunk);
  socket_.async_read_some(
      asio::buffer(buf_.data() + have_, buf_.size() - have_),
      [self = shared_from_this()](const boost::system::error_code& ec, size_t n) {
        if (self->closed_) return;
        if (ec) {
          std::string what = ec == asio::error::eof ? "closed by peer" : ec.message();
          self->Close(Status::Unavailable("connection to " + self->peer_.ToString() + ": " + what),
                      self->role_ == Role::kOutbound ? CloseKind::kPeerFailure : CloseKind::kLocal);
          return;
        }
        self->OnRead(n);
      });
}

void Connection::OnRead(size_t n) {
  have_ += n;
  owner_->bytes_received += n;
  size_t offset = 0;
  while (!closed_) {
    auto frame = DecodeFrame(std::string_view(buf_.data() + offset, have_ - offset),
                             owner_->options.secret);
    if (!frame.ok()) {
      if (frame.status().code() == Code::kNotFound) break;
      owner_->CountBadFrame(frame.status());
      Close(frame.status().Annotate("bad frame from " + peer_.ToString()),
            role_ == Role::kOutbound ? CloseKind::kPeerFailure : CloseKind::kLocal);
      return;
    }
    offset += frame->consumed;
    ++owner_->frames_received;
    if (!HandleFrame(std::move(frame).value())) return;
  }
  if (closed_) return;
  // Nothing consumed (a large frame still arriving): no move. Moving the whole partial frame
  // onto itself after every 64 KiB read made a 10 MiB frame quadratic in its size.
  if (offset > 0) {
    std::memmove(buf_.data(), buf_.data() + offset, have_ - offset);
    have_ -= offset;
  }
  // Size the buffer for a large frame at once; give the memory back after one went through.
  auto total = FrameTotalSize(std::string_view(buf_.data(), have_));
  if (total && *total > buf_.size()) {
    buf_.resize(*total);
  } else if (buf_.size() > 4 * kReadChunk && have_ < kReadChunk) {
    buf_.resize(kReadChunk);
    buf_.shrink_to_fit();
  }
  Read();
}

// Returns false when the frame closed the connection.
bool Connection::HandleFrame(DecodedFrame frame) {
  if (role_ == Role::kOutbound) {
    OnReply(std::move(frame));
    return !closed_;
  }
  if (!hello_seen_) {
    if (frame.message.type != kHelloType || (frame.flags & kFlagReply)) {
      Status why = Status::BadRequest("first frame from " + peer_.ToString() + " is not HELLO");
      owner_->CountBadFrame(why);
      Close(why, CloseKind::kLocal);
      return false;
    }
    hello_seen_ = true;
    sender_.node = std::move(frame.message.body);
    return true;
  }
  owner_->OnInboundFrame(shared_from_this(), std::move(frame));
  return !closed_;
}

void Connection::OnReply(DecodedFrame frame) {
  if (!(frame.flags & kFlagReply)) return;  // a peer only ever answers on our connections
  auto it = pending_.find(frame.correlation);
  if (it == pending_.end()) return;  // late: the caller already timed out
  ReplyCallback cb = std::move(it->second.callback);
  it->second.timer->cancel();
  pending_.erase(it);
  if (frame.flags & kFlagError) {
    const std::string& body = frame.message.body;
    uint8_t code = body.empty() ? static_cast<uint8_t>(Code::kInternal) : body[0];
    if (code == 0 || code > static_cast<uint8_t>(Code::kInternal))
      code = static_cast<uint8_t>(Code::kInternal);
    cb(Status(static_cast<Code>(code), body.empty() ? "" : body.substr(1)));
    return;
  }
  cb(std::move(frame.message));
}

void Connection::Close(const Status& why, CloseKind kind) {
  if (closed_) return;
  closed_ = true;
  boost::system::error_code ignored;
  socket_.close(ignored);
  connect_timer_.cancel();
  auto self = shared_from_this();
  owner_->Forget(self);
  // The frames of a write in flight stay alive until its handler ran; only callbacks go.
  std::vector<std::function<void(Status)>> written;
  for (Outgoing& o : inflight_) written.push_back(std::move(o.written));
  for (Outgoing& o : queue_) written.push_back(std::move(o.written));
  queue_.clear();
  auto pending = std::move(pending_);
  pending_.clear();
  for (auto& [id, p] : pending) p.timer->cancel();
  if (kind == CloseKind::kShutdown) return;
  for (auto& cb : written) {
    if (cb) cb(why);
  }
  for (auto& [id, p] : pending) p.callback(why);
  if (kind == CloseKind::kPeerFailure && role_ == Role::kOutbound)
    owner_->NotifyPeerFailure(peer_, why);
}

}  // namespace sessiond::transport
