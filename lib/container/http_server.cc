// The data-plane HTTP/1.1 connector: Boost.Beast's parser on Boost.Asio sockets, responses
// serialized by hand into a reused buffer (status line + headers, then the body as a second
// buffer: no copy of the body, no Beast fields allocation per response).
//
// Threads: see http_server_internal.h. Every Connection and everything in a Loop except `ctx`
// (which is thread-safe for post/stop) is touched only by that loop's thread.
#include "container/http_server_internal.h"

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <charconv>
#include <ctime>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_set>
#include <vector>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

namespace sessiond::container {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using error_code = boost::system::error_code;

thread_local int t_loop_index = -1;

constexpr int64_t kLingerMs = 2000;       // how long a closing connection may drain input
constexpr size_t kFileChunk = 64 * 1024;  // streamed file bodies go out in chunks of this size

std::string_view SV(beast::string_view s) { return {s.data(), s.size()}; }

void AppendNumber(std::string* out, uint64_t n) {
  char buf[24];
  auto r = std::to_chars(buf, buf + sizeof buf, n);
  out->append(buf, r.ptr);
}

class Connection;

/// One event loop: a single-threaded io_context and the connections it owns.
struct Loop {
  explicit Loop(int i) : index(i) {}
  int index;
  std::unordered_set<Connection*> conns;  // declared before ctx: outlives its handlers
  bool draining = false;
  asio::io_context ctx{1};
  asio::steady_timer sweep{ctx};
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work;
  std::thread thread;
};

}  // namespace

class HttpServer::Impl {
 public:
  Impl(HttpServerOptions o, HttpHandler h, HttpRejectHook r)
      : opts(std::move(o)), handler(std::move(h)), on_reject(std::move(r)) {}

  Status Start();
  void Shutdown(int64_t grace_ms);
  void Accept();
  void Sweep(Loop* loop);
  void StartConnection(Loop* loop, tcp::socket socket);

  HttpServerOptions opts;
  HttpHandler handler;
  HttpRejectHook on_reject;
  std::vector<std::unique_ptr<Loop>> loops;
  std::unique_ptr<tcp::acceptor> acceptor;  // runs on loops[0]
  std::unique_ptr<asio::steady_timer> accept_retry;
  size_t next_loop = 0;  // loops[0] thread only
  std::atomic<uint16_t> port{0};
  std::atomic<size_t> open{0};
  std::atomic<size_t> lingering{0};  // of `open`: responses done, only draining the client's input
  std::mutex lifecycle_mu;
  bool started = false, stopped = false;  // GUARDED_BY(lifecycle_mu)
};

namespace {

/// One client connection: read a request, handle it, write the response, repeat (keep-alive);
/// pipelined requests wait in `buffer_` and are served in order. Loop thread only.
class Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(HttpServer::Impl* server, Loop* loop, tcp::socket socket)
      : server_(server), loop_(loop), socket_(std::move(socket)) {
    loop_->conns.insert(this);
    server_->open.fetch_add(1, std::memory_order_relaxed);
    Touch();
  }
  ~Connection() {
    if (counted_lingering_) server_->lingering.fetch_sub(1, std::memory_order_relaxed);
    loop_->conns.erase(this);
    server_->open.fetch_sub(1, std::memory_order_relaxed);
  }

  void Start();
  /// Closes the socket; pending operations complete with operation_aborted and release us.
  void Close() {
    state_ = State::kClosed;
    error_code ignored;
    socket_.close(ignored);
  }
  /// Waiting for the next request with no byte of it received.
  bool idle() const { return state_ == State::kIdle && buffer_.size() == 0; }
  /// Closed by the sweep when it made no progress for this long.
  bool StalledAt(int64_t now, int64_t timeout) const {
    if (state_ == State::kLingering) return now - last_activity_ms_ > kLingerMs;
    return timeout > 0 && now - last_activity_ms_ > timeout;  // <= 0: none, as Tomcat's -1
  }

 private:
  enum class State { kIdle, kReading, kWriting, kLingering, kClosed };

  void Touch() { last_activity_ms_ = MonotonicMillis(); }
  void ReadHeader();
  void OnHeader(error_code ec);
  void ReadBody();
  void OnBody(error_code ec);
  void OnReadError(error_code ec);
  void Reject(int status, std::string_view message);
  void Handle();
  bool FillRequest();
  void BuildHead(uint64_t content_length, bool send_length);
  void WriteResponse();
  Status OpenFile(const FileBody& file);
  void WriteFileChunk();
  void OnWritten(error_code ec);
  void Linger();

  HttpServer::Impl* server_;
  Loop* loop_;
  tcp::socket socket_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  Request request_;
  Response response_;
  ConnectionInfo info_;
  std::string head_;
  std::string chunk_;
  std::shared_ptr<const OwnedFd> file_;  ///< the file body being streamed
  uint64_t file_offset_ = 0, file_left_ = 0;
  bool keep_alive_ = true;
  bool head_request_ = false;
  bool counted_lingering_ = false;
  State state_ = State::kIdle;
  int64_t last_activity_ms_ = 0;
};

}  // namespace

void Connection::Start() {
  error_code ec;
  socket_.set_option(tcp::no_delay(true), ec);
  auto local = socket_.local_endpoint(ec);
  if (!ec) {
    info_.local_addr = local.address().to_string();
    info_.local_port = local.port();
  }
  auto remote = socket_.remote_endpoint(ec);
  if (ec) return Close();  // the peer is already gone
  request_.remote_addr = remote.address().to_string();
  info_.remote_port = remote.port();
  info_.loop_index = loop_->index;
  ReadHeader();
}

void Connection::ReadHeader() {
  state_ = State::kIdle;
  parser_.emplace();
  parser_->header_limit(static_cast<uint32_t>(server_->opts.max_header_bytes));
  parser_->body_limit(server_->opts.max_body_bytes);
  http::async_read_header(socket_, buffer_, *parser_,
                          [self = shared_from_this()](error_code ec, size_t) { self->OnHeader(ec); });
}

void Connection::OnHeader(error_code ec) {
  if (state_ == State::kClosed) return;
  Touch();
  if (ec) return OnReadError(ec);
  state_ = State::kReading;
  if (parser_->is_done()) return Handle();
  auto expect = parser_->get().find(http::field::expect);
  if (expect != parser_->get().end() && EqualsIgnoreCase(SV(expect->value()), "100-continue")) {
    static constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
    asio::async_write(socket_, asio::buffer(kContinue.data(), kContinue.size()),
                      [self = shared_from_this()](error_code ec, size_t) {
                        if (ec || self->state_ == State::kClosed) return self->Close();
                        self->ReadBody();
                      });
    return;
  }
  ReadBody();
}

void Connection::ReadBody() {
  http::async_read(socket_, buffer_, *parser_,
                   [self = shared_from_this()](error_code ec, size_t) { self->OnBody(ec); });
}

void Connection::OnBody(error_code ec) {
  if (state_ == State::kClosed) return;
  Touch();
  if (ec) return OnReadError(ec);
  Handle();
}

void Connection::OnReadError(error_code ec) {
  if (ec == http::error::header_limit) return Reject(431, "request header too large");
  if (ec == http::error::body_limit) return Reject(413, "request body too large");
  if (ec == http::error::end_of_stream || ec == http::error::partial_message ||
      ec == asio::error::operation_aborted) {
    return Close();
  }
  if (ec.category() == http::make_error_code(http::error::bad_method).category()) {
    return Reject(400, "malformed request: " + ec.message());
  }
  Close();  // a network error: reset, timeout
}

/// Answers an error the connector found itself, then closes (the stream may be out of sync).
void Connection::Reject(int status, std::string_view message) {
  if (server_->on_reject) server_->on_reject(status);
  keep_alive_ = false;
  head_request_ = false;
  response_ = Response::Error(status, message);
  WriteResponse();
}

/// Converts the parsed message into request_ (reusing its capacity). False: a bad target.
bool Connection::FillRequest() {
  auto& msg = parser_->get();
  Request& r = request_;
  r.method.assign(msg.method_string().data(), msg.method_string().size());
  r.target.assign(msg.target().data(), msg.target().size());
  if (!SplitRequestTarget(&r)) return false;
  size_t n = 0;
  for (const auto& field : msg) {
    if (n == r.headers.size()) r.headers.emplace_back();
    r.headers[n].first.assign(field.name_string().data(), field.name_string().size());
    r.headers[n].second.assign(field.value().data(), field.value().size());
    ++n;
  }
  r.headers.resize(n);
  r.body = std::move(msg.body());
  r.http_minor = static_cast<int>(msg.version() % 10);
  r.received_ms = WallMillis();
  keep_alive_ = msg.keep_alive();
  head_request_ = msg.method() == http::verb::head;
  return true;
}

void Connection::Handle() {
  if (!FillRequest()) return Reject(400, "malformed request target");
  response_.status = 200;
  response_.headers.clear();
  response_.body.clear();
  response_.file.reset();
  try {
    server_->handler(request_, info_, &response_);
  } catch (...) {  // handlers should not throw; never let one take the loop down
    response_ = Response::Error(500, "internal error");
  }
  WriteResponse();
}

/// Status line and headers into head_. Server, Date, Content-Length and Connection are ours;
/// the handler's copies of them are dropped.
void Connection::BuildHead(uint64_t content_length, bool send_length) {
  head_.clear();
  head_ += "HTTP/1.1 ";
  AppendNumber(&head_, static_cast<uint64_t>(response_.status));
  head_ += ' ';
  head_ += SV(http::obsolete_reason(static_cast<http::status>(response_.status)));
  head_ += "\r\nServer: sessiond\r\nDate: ";
  head_ += HttpDateNow();
  for (const auto& [name, value] : response_.headers) {
    if (EqualsIgnoreCase(name, "Content-Length") || EqualsIgnoreCase(name, "Connection") ||
        EqualsIgnoreCase(name, "Date") || EqualsIgnoreCase(name, "Server") || EqualsIgnoreCase(name, "Transfer-Encoding")) {
      continue;
    }
    head_ += "\r\n";
    head_ += name;
    head_ += ": ";
    head_ += value;
  }
  if (send_length) {
    head_ += "\r\nContent-Length: ";
    AppendNumber(&head_, content_length);
  }
  if (!keep_alive_) {
    head_ += "\r\nConnection: close";
  } else if (request_.http_minor == 0) {
    head_ += "\r\nConnection: keep-alive";
  }
  head_ += "\r\n\r\n";
}

Status Connection::OpenFile(const FileBody& file) {
  if (file.fd) {
    file_ = file.fd;
  } else {
    int fd = ::open(file.path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return Status::NotFound("cannot open " + file.path);
    file_ = std::make_shared<const OwnedFd>(fd);
  }
  file_offset_ = file.offset;
  file_left_ = file.length;
  return Status::Ok();
}

void Connection::WriteResponse() {
  state_ = State::kWriting;
  if (loop_->draining) keep_alive_ = false;
  int status = response_.status;
  bool no_body = status == 204 || status == 304 || (status >= 100 && status < 200);
  uint64_t length = response_.BodySize();
  if (head_request_ && !response_.file && response_.body.empty()) {
    // A HEAD handler may state the length of the body it did not produce.
    if (auto cl = response_.Header("Content-Length")) {
      std::from_chars(cl->data(), cl->data() + cl->size(), length);
    }
  }
  bool send_body = !no_body && !head_request_;
  if (send_body && response_.file) {
    if (!OpenFile(*response_.file).ok()) {
      response_ = Response::Error(404, "not found");
      length = response_.BodySize();
    }
  }
  BuildHead(length, !no_body);
  if (!send_body) {
    return asio::async_write(socket_, asio::buffer(head_),
                             [self = shared_from_this()](error_code ec, size_t) { self->OnWritten(ec); });
  }
  if (file_) return WriteFileChunk();
  std::array<asio::const_buffer, 2> buffers{asio::buffer(head_), asio::buffer(response_.body)};
  asio::async_write(socket_, buffers,
                    [self = shared_from_this()](error_code ec, size_t) { self->OnWritten(ec); });
}

/// Sends the next piece of a file body (the first one together with the head). The page cache
/// makes pread cheap enough for the loop thread; a large file never sits in memory whole.
void Connection::WriteFileChunk() {
  size_t want = static_cast<size_t>(std::min<uint64_t>(file_left_, kFileChunk));
  chunk_.resize(want);
  ssize_t got = want == 0 ? 0 : ::pread(file_->get(), chunk_.data(), want, static_cast<off_t>(file_offset_));
  if (got <= 0 && want > 0) {  // truncated under us: the promised length cannot be kept
    keep_alive_ = false;
    return Close();
  }
  chunk_.resize(static_cast<size_t>(got));
  file_offset_ += static_cast<uint64_t>(got);
  file_left_ -= static_cast<uint64_t>(got);
  std::array<asio::const_buffer, 2> buffers{asio::buffer(head_), asio::buffer(chunk_)};
  asio::async_write(socket_, buffers, [self = shared_from_this()](error_code ec, size_t) {
    if (ec || self->state_ == State::kClosed) return self->Close();
    self->Touch();
    self->head_.clear();
    if (self->file_left_ > 0) return self->WriteFileChunk();
    self->file_.reset();
    self->OnWritten(ec);
  });
}

void Connection::OnWritten(error_code ec) {
  if (ec || state_ == State::kClosed) return Close();
  Touch();
  if (chunk_.capacity() > kFileChunk * 2) std::string().swap(chunk_);
  if (!keep_alive_) return Linger();
  ReadHeader();
}

/// Half-closes and drains what the client still sends, so our last response is not destroyed by
/// a reset (closing with unread input sends RST). The sweep ends it after kLingerMs.
void Connection::Linger() {
  state_ = State::kLingering;
  if (!counted_lingering_) {
    counted_lingering_ = true;
    server_->lingering.fetch_add(1, std::memory_order_relaxed);
  }
  error_code ignored;
  socket_.shutdown(tcp::socket::shutdown_send, ignored);
  buffer_.clear();
  socket_.async_read_some(buffer_.prepare(4096), [self = shared_from_this()](error_code ec, size_t) {
    if (ec || self->state_ == State::kClosed) return self->Close();
    self->Linger();
  });
}

// ---- the server ------------------------------------------------------------------------------

Status HttpServer::Impl::Start() {
  int n = opts.threads > 0 ? opts.threads : static_cast<int>(std::thread::hardware_concurrency());
  if (n <= 0) n = 1;
  for (int i = 0; i < n; ++i) loops.push_back(std::make_unique<Loop>(i));
  std::string where = opts.address + ":" + std::to_string(opts.port);
  error_code ec;
  auto address = asio::ip::make_address(opts.address, ec);
  if (ec) {
    tcp::resolver resolver(loops[0]->ctx);
    auto results = resolver.resolve(opts.address, "", ec);
    if (ec || results.empty()) return Status::Unavailable("cannot resolve " + opts.address);
    address = results.begin()->endpoint().address();
  }
  tcp::endpoint endpoint(address, opts.port);
  acceptor = std::make_unique<tcp::acceptor>(loops[0]->ctx);
  accept_retry = std::make_unique<asio::steady_timer>(loops[0]->ctx);
  if (!acceptor->open(endpoint.protocol(), ec) &&
      !acceptor->set_option(tcp::acceptor::reuse_address(true), ec) &&
      !acceptor->bind(endpoint, ec) && !acceptor->listen(asio::socket_base::max_listen_connections, ec)) {
    port = acceptor->local_endpoint(ec).port();
  }
  if (ec) return Status::Unavailable("cannot listen on " + where + ": " + ec.message());
  Accept();
  for (auto& loop : loops) {
    Loop* l = loop.get();
    l->work.emplace(l->ctx.get_executor());
    Sweep(l);
    l->thread = std::thread([l] {
      t_loop_index = l->index;
      l->ctx.run();
    });
  }
  return Status::Ok();
}

void HttpServer::Impl::Accept() {
  Loop* target = loops[next_loop].get();
  next_loop = (next_loop + 1) % loops.size();
  acceptor->async_accept(target->ctx, [this, target](error_code ec, tcp::socket socket) {
    if (ec == asio::error::operation_aborted || !acceptor->is_open()) return;
    if (ec) {  // EMFILE and friends: back off instead of spinning
      accept_retry->expires_after(std::chrono::milliseconds(100));
      accept_retry->async_wait([this](error_code e) { if (!e && acceptor->is_open()) Accept(); });
      return;
    }
    asio::post(target->ctx, [this, target, s = std::move(socket)]() mutable {
      StartConnection(target, std::move(s));
    });
    Accept();
  });
}

void HttpServer::Impl::StartConnection(Loop* loop, tcp::socket socket) {
  auto conn = std::make_shared<Connection>(this, loop, std::move(socket));
  if (loop->draining) return conn->Close();
  conn->Start();
}

/// Once a second: close connections that made no progress within the idle timeout.
void HttpServer::Impl::Sweep(Loop* loop) {
  int64_t now = MonotonicMillis();
  std::vector<Connection*> stalled;
  for (Connection* c : loop->conns) {
    if (c->StalledAt(now, opts.idle_timeout_ms)) stalled.push_back(c);
  }
  for (Connection* c : stalled) c->Close();
  loop->sweep.expires_after(std::chrono::seconds(1));
  loop->sweep.async_wait([this, loop](error_code ec) { if (!ec) Sweep(loop); });
}

void HttpServer::Impl::Shutdown(int64_t grace_ms) {
  {
    std::lock_guard lock(lifecycle_mu);
    if (!started || stopped) return;
    stopped = true;
  }
  asio::post(loops[0]->ctx, [this] {
    error_code ignored;
    acceptor->close(ignored);
    accept_retry->cancel();
  });
  for (auto& loop : loops) {
    asio::post(loop->ctx, [l = loop.get()] {
      l->draining = true;
      std::vector<Connection*> idle;
      for (Connection* c : l->conns) if (c->idle()) idle.push_back(c);
      for (Connection* c : idle) c->Close();
    });
  }
  int64_t deadline = MonotonicMillis() + std::max<int64_t>(grace_ms, 0);
  // Lingering connections have had their last response; they do not hold up the shutdown.
  while (open.load() > lingering.load() && MonotonicMillis() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  for (auto& loop : loops) loop->ctx.stop();
  for (auto& loop : loops) if (loop->thread.joinable()) loop->thread.join();
  // Whatever is left is closed now; running the aborted handlers releases the connections.
  for (auto& loop : loops) {
    std::vector<Connection*> rest(loop->conns.begin(), loop->conns.end());
    for (Connection* c : rest) c->Close();
    loop->sweep.cancel();
    loop->work.reset();
    loop->ctx.restart();
    loop->ctx.poll();
  }
}

// ---- public face -------------------------------------------------------------------------------

HttpServer::HttpServer(HttpServerOptions options, HttpHandler handler, HttpRejectHook on_reject)
    : impl_(std::make_unique<Impl>(std::move(options), std::move(handler), std::move(on_reject))) {}

HttpServer::~HttpServer() { Shutdown(0); }

Status HttpServer::Start() {
  std::lock_guard lock(impl_->lifecycle_mu);
  if (impl_->started) return Status::Conflict("the HTTP connector is already started");
  Status s = impl_->Start();
  if (s.ok()) impl_->started = true;
  return s;
}

uint16_t HttpServer::port() const { return impl_->port.load(); }

void HttpServer::Shutdown(int64_t grace_ms) { impl_->Shutdown(grace_ms); }

size_t HttpServer::open_connections() const { return impl_->open.load(); }

int CurrentLoopIndex() { return t_loop_index; }

const std::string& HttpDateNow() {
  thread_local std::time_t cached_second = 0;
  thread_local std::string cached;
  std::time_t now = std::time(nullptr);
  if (now != cached_second || cached.empty()) {
    std::tm tm{};
    gmtime_r(&now, &tm);
    char buf[64];
    size_t n = std::strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S GMT", &tm);
    cached.assign(buf, n);
    cached_second = now;
  }
  return cached;
}

}  // namespace sessiond::container
