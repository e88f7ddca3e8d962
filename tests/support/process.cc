#include "support/process.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <regex>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace sessiond::testing {
namespace {

std::vector<char*> CArgs(std::vector<std::string>& argv) {
  std::vector<char*> out;
  for (auto& a : argv) out.push_back(a.data());
  out.push_back(nullptr);
  return out;
}

void ApplyEnv(const std::map<std::string, std::string>& env) {
  for (const auto& [key, value] : env) setenv(key.c_str(), value.c_str(), 1);
}

int DecodeWaitStatus(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

// GCC's ASan+UBSan build loads libasan and libubsan as two shared runtimes, and then UBSan
// ignores log_path and prints to stderr (checked with gcc 12; clang's combined runtime does
// not): its reports are found in the child's output. "FILE:LINE:COL: runtime error: " is UBSan's
// format.
bool HasUbsanReport(const std::string& output) {
  static const std::regex kReport(R"(:[0-9]+:[0-9]+: runtime error: )");
  return std::regex_search(output, kReport);
}

}  // namespace

void ExpectNoSanitizerReport(pid_t pid, const std::string& what, const std::string& output) {
  const char* dir = std::getenv("SESSIOND_SANITIZER_REPORTS");
  if (dir == nullptr || *dir == '\0' || pid <= 0) return;
  if (HasUbsanReport(output)) {
    ADD_FAILURE() << "UndefinedBehaviorSanitizer report from " << what << " (pid " << pid
                  << ") in its output:\n" << output;
  }
  std::string path = std::string(dir) + "/report." + std::to_string(pid);
  std::ifstream in(path);
  if (!in) return;
  std::ostringstream report;
  report << in.rdbuf();
  ADD_FAILURE() << "sanitizer report from " << what << " (pid " << pid << ", " << path << "):\n"
                << report.str();
}

Child::Child(std::vector<std::string> argv, std::string log_path,
             std::map<std::string, std::string> env)
    : log_path_(std::move(log_path)), program_(argv.empty() ? "" : argv[0]) {
  pid_ = fork();
  if (pid_ < 0) throw std::runtime_error("fork failed");
  if (pid_ == 0) {
    int fd = open(log_path_.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd >= 0) {
      dup2(fd, 1);
      dup2(fd, 2);
    }
    ApplyEnv(env);
    auto args = CArgs(argv);
    execv(args[0], args.data());
    _exit(127);
  }
}

Child::~Child() {
  if (Running()) {
    // SIGTERM first: a sanitized child runs its exit hooks, where LeakSanitizer looks for leaks
    // (a SIGKILL would skip them). SIGCONT wakes one a test left stopped; SIGKILL ends one that
    // does not stop in time.
    Signal(SIGTERM);
    Signal(SIGCONT);
    if (Wait(kStopGraceMs) == -1) {
      Signal(SIGKILL);
      Wait(5000);
    }
  }
  std::ifstream log(log_path_);
  std::ostringstream output;
  output << log.rdbuf();
  ExpectNoSanitizerReport(pid_, program_, output.str());
}

void Child::Signal(int sig) {
  if (pid_ > 0 && status_ == -1) kill(pid_, sig);
}

bool Child::Running() {
  if (pid_ <= 0 || status_ != -1) return false;
  int status = 0;
  pid_t r = waitpid(pid_, &status, WNOHANG);
  if (r == pid_) {
    status_ = status;
    return false;
  }
  return true;
}

int Child::Wait(int timeout_ms) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (Running()) {
    if (std::chrono::steady_clock::now() > deadline) return -1;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return status_ == -1 ? -1 : DecodeWaitStatus(status_);
}

bool WaitForPort(const std::string& host, uint16_t port, int timeout_ms) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  inet_pton(AF_INET, host.c_str(), &addr.sin_addr);
  while (std::chrono::steady_clock::now() < deadline) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    bool ok = connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
    close(fd);
    if (ok) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return false;
}

CommandResult RunCommand(const std::vector<std::string>& argv_in,
                         const std::map<std::string, std::string>& env) {
  int out_pipe[2], err_pipe[2];
  if (pipe2(out_pipe, O_CLOEXEC) != 0 || pipe2(err_pipe, O_CLOEXEC) != 0) {
    throw std::runtime_error("pipe failed");
  }
  pid_t pid = fork();
  if (pid == 0) {
    dup2(out_pipe[1], 1);
    dup2(err_pipe[1], 2);
    ApplyEnv(env);
    std::vector<std::string> argv = argv_in;
    auto args = CArgs(argv);
    execv(args[0], args.data());
    _exit(127);
  }
  close(out_pipe[1]);
  close(err_pipe[1]);
  CommandResult result;
  // Read both pipes without deadlocking on a full one.
  pollfd fds[2] = {{out_pipe[0], POLLIN, 0}, {err_pipe[0], POLLIN, 0}};
  int open_fds = 2;
  while (open_fds > 0) {
    poll(fds, 2, 1000);
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP))) continue;
      char buf[8192];
      ssize_t n = read(fds[i].fd, buf, sizeof buf);
      if (n <= 0) {
        close(fds[i].fd);
        fds[i].fd = -1;
        --open_fds;
        continue;
      }
      (i == 0 ? result.out : result.err).append(buf, static_cast<size_t>(n));
    }
  }
  int status = 0;
  waitpid(pid, &status, 0);
  result.exit_code = DecodeWaitStatus(status);
  ExpectNoSanitizerReport(pid, argv_in.empty() ? "" : argv_in[0], result.err);
  return result;
}

uint16_t FreePort() {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t len = sizeof addr;
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  close(fd);
  return ntohs(addr.sin_port);
}

}  // namespace sessiond::testing
