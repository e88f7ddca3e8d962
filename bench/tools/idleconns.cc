// idleconns: opens N keep-alive connections, makes one request on each (as an upstream pool
// or a browser would), then holds them all idle for HOLD seconds or until SIGTERM/SIGINT.
// usage: idleconns HOST PORT N HOLD_SECONDS [PATH]
// Prints `ready open=N` once every connection has had its response, then once a second
// `open=<still open> closed=<closed by the server>`, and a final line on exit.
#include <fcntl.h>
#include <signal.h>
#include <sys/epoll.h>

#include <chrono>
#include <cstdio>
#include <thread>
#include <vector>

#include "http_client.h"

static volatile sig_atomic_t g_stop = 0;

int main(int argc, char** argv) {
  if (argc < 5) {
    std::fprintf(stderr, "usage: %s HOST PORT N HOLD_SECONDS [PATH]\n", argv[0]);
    return 2;
  }
  const char* host = argv[1];
  const int port = std::atoi(argv[2]);
  const int n = std::atoi(argv[3]);
  const int hold = std::atoi(argv[4]);
  const std::string path = argc > 5 ? argv[5] : "/";
  const std::string req = "GET " + path + " HTTP/1.1\r\nHost: " + host + "\r\n\r\n";
  ::signal(SIGTERM, [](int) { g_stop = 1; });
  ::signal(SIGINT, [](int) { g_stop = 1; });

  std::vector<int> fds;
  fds.reserve(n);
  int failed = 0;
  // Connect and make one request on each, in blocking mode (loopback: fast).
  for (int i = 0; i < n && !g_stop; ++i) {
    int fd = -1;
    for (int attempt = 0; fd < 0 && attempt < 50; ++attempt) {
      fd = bench::Connect(host, port);
      if (fd < 0) std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    if (fd < 0) { std::fprintf(stderr, "idleconns: connect %d: %s\n", i, std::strerror(errno)); ++failed; break; }
    bench::ResponseReader reader;
    if (!bench::SendAll(fd, req) || reader.Read(fd) < 0) { ++failed; ::close(fd); continue; }
    fds.push_back(fd);
  }
  std::printf("ready open=%zu failed=%d\n", fds.size(), failed);
  std::fflush(stdout);

  int ep = ::epoll_create1(EPOLL_CLOEXEC);
  for (int fd : fds) {
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLRDHUP;
    ev.data.fd = fd;
    ::epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
  }
  size_t open = fds.size(), closed = 0;
  auto end = std::chrono::steady_clock::now() + std::chrono::seconds(hold);
  auto next_report = std::chrono::steady_clock::now() + std::chrono::seconds(1);
  std::vector<epoll_event> evs(1024);
  while (!g_stop && std::chrono::steady_clock::now() < end) {
    int k = ::epoll_wait(ep, evs.data(), static_cast<int>(evs.size()), 200);
    for (int i = 0; i < k; ++i) {
      char tmp[4096];
      ssize_t r = ::recv(evs[i].data.fd, tmp, sizeof tmp, MSG_DONTWAIT);
      if (r == 0 || (r < 0 && errno != EAGAIN)) {
        ::epoll_ctl(ep, EPOLL_CTL_DEL, evs[i].data.fd, nullptr);
        ::close(evs[i].data.fd);
        --open;
        ++closed;
      }
    }
    if (std::chrono::steady_clock::now() >= next_report) {
      std::printf("open=%zu closed=%zu\n", open, closed);
      std::fflush(stdout);
      next_report += std::chrono::seconds(1);
    }
  }
  std::printf("final open=%zu closed=%zu\n", open, closed);
  return 0;
}
