// startup: time from exec of a server to its first served request.
// usage: startup HOST PORT PATH TIMEOUT_MS -- COMMAND [ARGS...]
// Forks and execs COMMAND (stdout/stderr to /dev/null), then connects in a tight loop and sends
// GET PATH until a 200 comes back. Prints `startup_ms=<ms>` (from just before fork), then stops
// the server with SIGTERM (SIGKILL after 5 s) and waits for it.
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>

#include <chrono>
#include <cstdio>
#include <thread>

#include "http_client.h"

int main(int argc, char** argv) {
  int dd = 1;
  while (dd < argc && std::string(argv[dd]) != "--") ++dd;
  if (dd != 5 || dd + 1 >= argc) {
    std::fprintf(stderr, "usage: %s HOST PORT PATH TIMEOUT_MS -- COMMAND [ARGS...]\n", argv[0]);
    return 2;
  }
  const char* host = argv[1];
  const int port = std::atoi(argv[2]);
  const std::string req = std::string("GET ") + argv[3] + " HTTP/1.1\r\nHost: " + host +
                          "\r\nConnection: close\r\n\r\n";
  const auto timeout = std::chrono::milliseconds(std::atol(argv[4]));

  auto t0 = std::chrono::steady_clock::now();
  pid_t pid = ::fork();
  if (pid == 0) {
    int devnull = ::open("/dev/null", O_WRONLY);
    ::dup2(devnull, 1);
    ::dup2(devnull, 2);
    ::execvp(argv[dd + 1], argv + dd + 1);
    _exit(127);
  }
  if (pid < 0) { std::perror("fork"); return 1; }
  int rc = 1;
  long attempts = 0;
  for (;;) {
    auto now = std::chrono::steady_clock::now();
    if (now - t0 > timeout) {
      std::fprintf(stderr, "startup: no 200 within %ld ms (%ld attempts)\n",
                   static_cast<long>(timeout.count()), attempts);
      break;
    }
    int status_rc;
    if (::waitpid(pid, &status_rc, WNOHANG) == pid) {
      std::fprintf(stderr, "startup: the server exited (status %d)\n", status_rc);
      return 1;
    }
    ++attempts;
    int fd = bench::Connect(host, port);
    if (fd < 0) {
      std::this_thread::sleep_for(std::chrono::microseconds(100));
      continue;
    }
    bench::ResponseReader reader;
    int status = bench::SendAll(fd, req) ? reader.Read(fd) : -1;
    ::close(fd);
    if (status == 200) {
      double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
      std::printf("startup_ms=%.1f attempts=%ld\n", ms, attempts);
      rc = 0;
      break;
    }
    std::this_thread::sleep_for(std::chrono::microseconds(100));
  }
  ::kill(pid, SIGTERM);
  for (int i = 0; i < 500; ++i) {
    if (::waitpid(pid, nullptr, WNOHANG) == pid) return rc;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ::kill(pid, SIGKILL);
  ::waitpid(pid, nullptr, 0);
  return rc;
}
