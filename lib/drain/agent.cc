// The HAProxy agent-check listener: a blocking accept loop on its own thread (a check every few
// seconds per load balancer needs nothing more), woken for Stop() by an eventfd.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <mutex>
#include <thread>

#include "drain/drain.h"

namespace sessiond::drain {

class AgentServer::Impl {
 public:
  ~Impl() { Stop(); }
  Status Bind(const std::string& address, uint16_t port);
  void Serve();
  void Stop();

  std::function<std::string()> answer;
  int listen_fd = -1;
  int wake_fd = -1;
  uint16_t port = 0;
  std::once_flag stopped;
  std::thread thread;
};

Status AgentServer::Impl::Bind(const std::string& address, uint16_t want_port) {
  std::string where = address + ":" + std::to_string(want_port);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(want_port);
  if (inet_pton(AF_INET, address.c_str(), &sa.sin_addr) != 1) {
    return Status::BadRequest("agent port: " + address + " is not an IPv4 address");
  }
  listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int one = 1;
  setsockopt(listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (bind(listen_fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0 || listen(listen_fd, 64) != 0) {
    return Status::Unavailable("agent port: cannot listen on " + where + ": " + std::strerror(errno));
  }
  socklen_t len = sizeof sa;
  getsockname(listen_fd, reinterpret_cast<sockaddr*>(&sa), &len);
  port = ntohs(sa.sin_port);
  wake_fd = eventfd(0, EFD_CLOEXEC);
  return Status::Ok();
}

/// One line per connection, then close: HAProxy speaks no request first (agent-send aside, which
/// we do not need), so nothing is read.
void AgentServer::Impl::Serve() {
  pollfd fds[2] = {{listen_fd, POLLIN, 0}, {wake_fd, POLLIN, 0}};
  while (true) {
    if (poll(fds, 2, -1) < 0 && errno != EINTR) return;
    if (fds[1].revents) return;
    if (!(fds[0].revents & POLLIN)) continue;
    int fd = accept4(listen_fd, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) continue;
    std::string line = answer();
    (void)!send(fd, line.data(), line.size(), MSG_NOSIGNAL);
    close(fd);
  }
}

void AgentServer::Impl::Stop() {
  std::call_once(stopped, [this] {
    if (wake_fd >= 0) {
      uint64_t one = 1;
      (void)!write(wake_fd, &one, sizeof one);
    }
    if (thread.joinable()) thread.join();
    if (listen_fd >= 0) close(listen_fd);
    if (wake_fd >= 0) close(wake_fd);
  });
}

Result<std::unique_ptr<AgentServer>> AgentServer::Start(const std::string& address, uint16_t port,
                                                        std::function<std::string()> answer) {
  auto impl = std::make_unique<Impl>();
  impl->answer = std::move(answer);
  SESSIOND_RETURN_IF_ERROR(impl->Bind(address, port));
  Impl* raw = impl.get();
  impl->thread = std::thread([raw] { raw->Serve(); });
  return std::unique_ptr<AgentServer>(new AgentServer(std::move(impl)));
}

AgentServer::AgentServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
AgentServer::~AgentServer() = default;
uint16_t AgentServer::port() const { return impl_->port; }
void AgentServer::Stop() { impl_->Stop(); }

}  // namespace sessiond::drain
