// Test support for end-to-end tests: real child processes (sessiond, sessctl, nginx), waiting for
// ports, and running a command to completion with its output.
//
// Thread-safety: none; one test thread uses these.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace sessiond::testing {

/// A child process started with fork/exec; stdout and stderr go to `log_path`. The destructor
/// stops it if it is still running (SIGTERM, then SIGKILL after kStopGraceMs) and reaps it, then
/// checks for a sanitizer report.
class Child {
 public:
  static constexpr int kStopGraceMs = 5000;

  Child(std::vector<std::string> argv, std::string log_path,
        std::map<std::string, std::string> env = {});
  ~Child();
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;

  pid_t pid() const { return pid_; }
  /// Sends `sig` (no-op once reaped).
  void Signal(int sig);
  /// Waits up to `timeout_ms` for it to exit; returns the exit code (128+signal when killed),
  /// or -1 on timeout.
  int Wait(int timeout_ms);
  bool Running();
  const std::string& log_path() const { return log_path_; }

 private:
  pid_t pid_ = -1;
  int status_ = -1;
  std::string log_path_;
  std::string program_;
};

/// Under scripts/sanitize (SESSIOND_SANITIZER_REPORTS names the sanitizers' log_path directory),
/// fails the current test if the child `pid` wrote a sanitizer report, or if its `output` (stderr,
/// or the log it shared with stdout) holds a UBSan report; `what` names it. Child's destructor and
/// RunCommand call it after reaping, so a report from a sanitized sessiond or sessctl fails the
/// test that ran it even when the test never looked at its exit code.
void ExpectNoSanitizerReport(pid_t pid, const std::string& what, const std::string& output = "");

/// Polls until a TCP connect to host:port succeeds, up to `timeout_ms`.
bool WaitForPort(const std::string& host, uint16_t port, int timeout_ms);

struct CommandResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};
/// Runs argv to completion (with extra environment) and captures stdout and stderr.
CommandResult RunCommand(const std::vector<std::string>& argv,
                         const std::map<std::string, std::string>& env = {});

/// A port number that is free on 127.0.0.1 right now (bind to 0, read, close).
uint16_t FreePort();

}  // namespace sessiond::testing
