// container internals: the data-plane HTTP/1.1 connector (Boost.Beast on Boost.Asio). No Beast or
// Asio type appears here; http_server.cc owns them.
//
// Design (measured, see bench/): N event-loop threads, each running its own single-threaded
// io_context, so a connection lives on one thread and needs no strand or lock. One acceptor (on
// loop 0) hands accepted sockets round-robin to the loops — no SO_REUSEPORT, so a second process
// can never silently share the port. Idle and slow connections are closed by a once-a-second
// sweep per loop (no timer operation per request). Handlers run synchronously on the loop thread.
//
// Thread-safety: Start/Shutdown/port are called by the owner (any one thread at a time). The
// handler is called on loop threads, concurrently from different loops.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "base/base.h"
#include "container/http_internal.h"

namespace sessiond::container {

struct HttpServerOptions {
  std::string address = "127.0.0.1";
  uint16_t port = 0;                  ///< 0: an ephemeral port (see HttpServer::port())
  int threads = 0;                    ///< 0: hardware concurrency
  int64_t idle_timeout_ms = 20000;    ///< keep-alive idle, and no progress on a read or write
  uint64_t max_header_bytes = 16 * 1024;   ///< 431 past it
  uint64_t max_body_bytes = 1 << 20;       ///< 413 past it
  size_t small_file_bytes = 64 * 1024;     ///< file bodies up to this are sent with one write
};

/// Per-request facts only the connector knows (for the access log).
struct ConnectionInfo {
  std::string local_addr;
  uint16_t local_port = 0;
  uint16_t remote_port = 0;
  int loop_index = 0;
};

/// Fills `response` for `request`. Runs on a loop thread; must not block for long.
using HttpHandler =
    std::function<void(Request& request, const ConnectionInfo& conn, Response* response)>;
/// Called for requests the connector rejects itself (400, 413, 431), for metrics and logs.
using HttpRejectHook = std::function<void(int status)>;

class HttpServer {
 public:
  HttpServer(HttpServerOptions options, HttpHandler handler, HttpRejectHook on_reject = nullptr);
  ~HttpServer();  ///< Shutdown(0) if still running
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  /// Binds and listens (kUnavailable "cannot listen on ADDR:PORT: reason"), starts the loops.
  Status Start();
  /// The bound port; 0 before Start.
  uint16_t port() const;
  /// Stops accepting, closes idle keep-alive connections, lets requests in flight finish for up
  /// to `grace_ms` (their connections then close), stops the loops and joins them. Idempotent.
  void Shutdown(int64_t grace_ms);
  /// Open connections right now (tests, metrics).
  size_t open_connections() const;

  class Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

/// The index of the connector loop running on this thread; -1 on any other thread.
int CurrentLoopIndex();

/// "Tue, 15 Nov 1994 08:12:31 GMT" for the current second (cached per thread).
const std::string& HttpDateNow();

}  // namespace sessiond::container
