// The cpp-httplib adapter: the only file that sees httplib. It turns httplib requests into
// admin::Request values, hands them to Api::Handle, and owns the listener thread.

#include <httplib.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <chrono>
#include <thread>

#include "admin/admin_internal.h"

namespace sessiond::admin {

namespace {

// Bounded: the admin API is for operators and scrapers, not for traffic; a few workers keep a
// burst of sessctl calls from starving anything else on a 2-core node.
constexpr size_t kWorkerThreads = 4;
constexpr std::chrono::milliseconds kStartPoll{1};

Request ToRequest(const httplib::Request& in) {
  Request out;
  out.method = in.method;
  out.path = in.path;
  for (const auto& [k, v] : in.params) out.params.emplace(k, v);
  out.body = in.body;
  out.authorization = in.get_header_value("Authorization");
  return out;
}

void FromResponse(const Response& in, httplib::Response& out) {
  out.status = in.status;
  for (const auto& [k, v] : in.headers) out.set_header(k, v);
  out.set_content(in.body, in.content_type.c_str());
}

bool IsUpload(const httplib::Request& req) {
  return req.method == "PUT" && req.path.rfind("/v1/apps/", 0) == 0;
}

/// Streams the request body into `file` as it arrives: a WAR never sits in memory.
Status ReceiveToFile(const httplib::ContentReader& read, const std::string& file, int64_t limit) {
  std::FILE* out = std::fopen(file.c_str(), "wb");
  if (!out) return Status::Internal("cannot write " + file);
  int64_t total = 0;
  bool too_large = false, write_failed = false;
  bool complete = read([&](const char* data, size_t len) {
    total += static_cast<int64_t>(len);
    if (total > limit) return !(too_large = true);
    if (std::fwrite(data, 1, len, out) != len) return !(write_failed = true);
    return true;
  });
  bool closed = std::fclose(out) == 0;
  if (too_large) return Status::TooLarge("WAR over " + std::to_string(limit) + " bytes (maxWarBytes)");
  if (write_failed || !closed) return Status::Internal("cannot write " + file);
  if (!complete) return Status::BadRequest("the upload was cut short");
  return Status::Ok();
}

// httplib's own refusals (413 for big bodies, 400 for broken requests) get our JSON shape; our
// router's answers already have a body and pass through.
httplib::Server::HandlerResponse FillErrorBody(const httplib::Request& req, httplib::Response& res,
                                               int64_t max_upload) {
  if (!res.body.empty()) return httplib::Server::HandlerResponse::Unhandled;
  int64_t limit = IsUpload(req) ? max_upload : static_cast<int64_t>(kMaxBodyBytes);
  std::string message = res.status == 413
                            ? "request body over " + std::to_string(limit) + " bytes" +
                                  (IsUpload(req) ? " (maxWarBytes)" : "")
                            : "HTTP " + std::to_string(res.status);
  Response body = ErrorResponse(Status(CodeOfHttpStatus(res.status), message));
  res.set_content(body.body, body.content_type.c_str());
  return httplib::Server::HandlerResponse::Handled;
}

}  // namespace

class AdminServer::Impl {
 public:
  Impl(std::string token, AdminServices services)
      : max_upload_(std::max<int64_t>(services.max_upload_bytes, kMaxBodyBytes)),
        api_(std::move(token), std::move(services)) {}
  ~Impl() { Stop(); }

  Status Start(const std::string& address, uint16_t port);
  uint16_t port() const { return port_; }
  void Stop();

 private:
  void Configure();

  int64_t max_upload_;
  Api api_;
  httplib::Server server_;
  std::thread listener_;
  std::atomic<bool> listener_done_{false};
  uint16_t port_ = 0;
};

void AdminServer::Impl::Configure() {
  // SO_REUSEADDR only: httplib's default adds SO_REUSEPORT, which would let a second daemon bind
  // the same admin port and silently take half of the requests.
  server_.set_socket_options([](socket_t sock) {
    int yes = 1;
    ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
  });
  server_.set_tcp_nodelay(true);  // without it, Nagle stalls each keep-alive reply ~40 ms
  server_.new_task_queue = [] { return new httplib::ThreadPool(kWorkerThreads); };
  // The WAR upload may be large (maxWarBytes) and is streamed to a file; every other body must
  // fit kMaxBodyBytes, refused before it is read.
  server_.set_payload_max_length(static_cast<size_t>(max_upload_));
  server_.set_pre_routing_handler([](const httplib::Request& req, httplib::Response& res) {
    if (IsUpload(req) || req.get_header_value<uint64_t>("Content-Length") <= kMaxBodyBytes)
      return httplib::Server::HandlerResponse::Unhandled;
    Response body = ErrorResponse(Status::TooLarge("request body over " + std::to_string(kMaxBodyBytes) + " bytes"));
    FromResponse(body, res);
    return httplib::Server::HandlerResponse::Handled;
  });
  server_.set_keep_alive_timeout(5);
  server_.set_read_timeout(10, 0);
  server_.set_write_timeout(10, 0);
  auto handler = [this](const httplib::Request& req, httplib::Response& res) {
    FromResponse(api_.Handle(ToRequest(req)), res);
  };
  server_.Put("/v1/apps/.*", [this](const httplib::Request& req, httplib::Response& res,
                                     const httplib::ContentReader& read) {
    Request r = ToRequest(req);
    r.receive_body = [&read](const std::string& file, int64_t limit) {
      return ReceiveToFile(read, file, limit);
    };
    FromResponse(api_.Handle(r), res);
  });
  // Every method and path goes to our router, which tells 404 from 405 itself.
  server_.Get(".*", handler);
  server_.Post(".*", handler);
  server_.Put(".*", handler);
  server_.Patch(".*", handler);
  server_.Delete(".*", handler);
  server_.Options(".*", handler);
  // httplib's own refusals (413 for big bodies, 400 for broken requests) get our JSON shape.
  server_.set_error_handler(httplib::Server::HandlerWithResponse(
      [this](const httplib::Request& req, httplib::Response& res) { return FillErrorBody(req, res, max_upload_); }));
  server_.set_exception_handler(
      [](const httplib::Request&, httplib::Response& res, std::exception_ptr) {
        Response body = ErrorResponse(Status::Internal("unexpected error"));
        FromResponse(body, res);
      });
}

Status AdminServer::Impl::Start(const std::string& address, uint16_t port) {
  Configure();
  int bound = port == 0 ? server_.bind_to_any_port(address) : server_.bind_to_port(address, port)
                                                                  ? port
                                                                  : -1;
  if (bound <= 0) {
    return Status::Unavailable("cannot listen on " + address + ":" + std::to_string(port) +
                               " for the admin endpoint");
  }
  port_ = static_cast<uint16_t>(bound);
  listener_ = std::thread([this] {
    server_.listen_after_bind();
    listener_done_ = true;
  });
  // httplib's stop() is a no-op until the accept loop runs; wait for it, so a Stop() right after
  // Start() cannot leave the listener blocked in accept().
  while (!server_.is_running() && !listener_done_) std::this_thread::sleep_for(kStartPoll);
  if (listener_done_) {
    listener_.join();
    return Status::Unavailable("the admin endpoint on " + address + ":" + std::to_string(port_) +
                               " stopped at once");
  }
  return Status::Ok();
}

void AdminServer::Impl::Stop() {
  if (!listener_.joinable()) return;
  server_.stop();
  listener_.join();
}

Result<std::unique_ptr<AdminServer>> AdminServer::Start(const std::string& address,
                                                        uint16_t port, std::string token,
                                                        AdminServices services) {
  if (token.empty()) return Status::BadRequest("the admin token is empty");
  auto impl = std::make_unique<Impl>(std::move(token), std::move(services));
  SESSIOND_RETURN_IF_ERROR(impl->Start(address, port));
  return std::unique_ptr<AdminServer>(new AdminServer(std::move(impl)));
}

AdminServer::AdminServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
AdminServer::~AdminServer() = default;
uint16_t AdminServer::port() const { return impl_->port(); }
void AdminServer::Stop() { impl_->Stop(); }

}  // namespace sessiond::admin
