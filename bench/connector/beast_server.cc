// Minimal Boost.Beast async HTTP/1.1 server: every request gets the same 50-byte JSON reply.
// One io_context run by N threads; one strand per connection; keep-alive.
// usage: beast_server ADDRESS PORT THREADS [msg|sock|raw]
//   msg (default): beast::tcp_stream, http::async_read into a request, a response message built
//                  per request and written by http::async_write — the textbook Beast server.
//   sock:          as msg, but on a plain tcp::socket (no tcp_stream timers).
//   raw:           plain tcp::socket, Beast's request parser, but the reply is pre-serialized
//                  bytes written with asio::async_write — shows what Beast's serializer costs.
// It is the lower bound of what our connector can cost per request (bench/connector.sh).
#include <utility>  // Boost 1.74 asio/awaitable.hpp needs std::exchange under C++20

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <type_traits>
#include <vector>

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

static const std::string kBody = R"({"status":"ok","node":"bench1","value":1234567890})";

template <class Stream>
class Session : public std::enable_shared_from_this<Session<Stream>> {
 public:
  explicit Session(tcp::socket s) : stream_(std::move(s)) {}
  void Start() { Read(); }

 private:
  void Read() {
    req_ = {};
    http::async_read(stream_, buf_, req_,
                     [self = this->shared_from_this()](beast::error_code ec, std::size_t) {
                       if (ec) return self->Close();
                       self->Reply();
                     });
  }
  void Reply() {
    res_ = {};
    res_.result(http::status::ok);
    res_.version(req_.version());
    res_.set(http::field::server, "beast-bench");
    res_.set(http::field::content_type, "application/json");
    res_.keep_alive(req_.keep_alive());
    res_.body() = kBody;
    res_.prepare_payload();
    http::async_write(stream_, res_,
                      [self = this->shared_from_this()](beast::error_code ec, std::size_t) {
                        if (ec || !self->res_.keep_alive()) return self->Close();
                        self->Read();
                      });
  }
  void Close() {
    beast::error_code ec;
    if constexpr (std::is_same_v<Stream, tcp::socket>)
      stream_.shutdown(tcp::socket::shutdown_send, ec);
    else
      stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
  }

  Stream stream_;
  beast::flat_buffer buf_;
  http::request<http::string_body> req_;
  http::response<http::string_body> res_;
};

// Beast parses the request; the reply is the same bytes each time (keep-alive or close).
class RawSession : public std::enable_shared_from_this<RawSession> {
 public:
  explicit RawSession(tcp::socket s) : sock_(std::move(s)) {}
  void Start() { Read(); }

 private:
  static const std::string& Reply(bool keep_alive) {
    static const std::string ka = Build(true), close = Build(false);
    return keep_alive ? ka : close;
  }
  static std::string Build(bool keep_alive) {
    return std::string("HTTP/1.1 200 OK\r\nServer: beast-bench\r\nContent-Type: application/json\r\n") +
           (keep_alive ? "" : "Connection: close\r\n") +
           "Content-Length: " + std::to_string(kBody.size()) + "\r\n\r\n" + kBody;
  }
  void Read() {
    parser_.emplace();
    http::async_read(sock_, buf_, *parser_,
                     [self = shared_from_this()](beast::error_code ec, std::size_t) {
                       if (ec) return self->Close();
                       self->Write(self->parser_->get().keep_alive());
                     });
  }
  void Write(bool keep_alive) {
    asio::async_write(sock_, asio::buffer(Reply(keep_alive)),
                      [self = shared_from_this(), keep_alive](beast::error_code ec, std::size_t) {
                        if (ec || !keep_alive) return self->Close();
                        self->Read();
                      });
  }
  void Close() {
    beast::error_code ec;
    sock_.shutdown(tcp::socket::shutdown_send, ec);
  }

  tcp::socket sock_;
  beast::flat_buffer buf_;
  std::optional<http::request_parser<http::empty_body>> parser_;
};

class Listener : public std::enable_shared_from_this<Listener> {
 public:
  Listener(asio::io_context& ioc, tcp::endpoint ep, std::string mode)
      : ioc_(ioc), acc_(asio::make_strand(ioc)), mode_(std::move(mode)) {
    acc_.open(ep.protocol());
    acc_.set_option(asio::socket_base::reuse_address(true));
    acc_.bind(ep);
    acc_.listen(asio::socket_base::max_listen_connections);
  }
  void Accept() {
    acc_.async_accept(asio::make_strand(ioc_),
                      [self = shared_from_this()](beast::error_code ec, tcp::socket s) {
                        if (!ec) {
                          s.set_option(tcp::no_delay(true));
                          if (self->mode_ == "raw")
                            std::make_shared<RawSession>(std::move(s))->Start();
                          else if (self->mode_ == "sock")
                            std::make_shared<Session<tcp::socket>>(std::move(s))->Start();
                          else
                            std::make_shared<Session<beast::tcp_stream>>(std::move(s))->Start();
                        }
                        self->Accept();
                      });
  }

 private:
  asio::io_context& ioc_;
  tcp::acceptor acc_;
  std::string mode_;
};

int main(int argc, char** argv) {
  if (argc != 4 && argc != 5) {
    std::fprintf(stderr, "usage: %s ADDRESS PORT THREADS [msg|sock|raw]\n", argv[0]);
    return 2;
  }
  int threads = std::max(1, std::atoi(argv[3]));
  asio::io_context ioc(threads);
  auto ep = tcp::endpoint(asio::ip::make_address(argv[1]),
                          static_cast<unsigned short>(std::atoi(argv[2])));
  std::make_shared<Listener>(ioc, ep, argc == 5 ? argv[4] : "msg")->Accept();
  asio::signal_set sigs(ioc, SIGINT, SIGTERM);
  sigs.async_wait([&](beast::error_code, int) { ioc.stop(); });
  std::vector<std::thread> pool;
  for (int i = 1; i < threads; ++i) pool.emplace_back([&] { ioc.run(); });
  ioc.run();
  for (auto& t : pool) t.join();
  return 0;
}
