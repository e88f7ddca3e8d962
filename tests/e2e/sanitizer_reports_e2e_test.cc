// The plumbing scripts/sanitize relies on: a sanitizer report written by a child process (the
// sanitizers' log_path gives each process its own file, PREFIX.PID) fails the test that started
// it, whether the child was run to completion (RunCommand) or left running (Child). A shell that
// writes such a file under its own pid stands in for a sanitized sessiond that found a bug.
//
// In a sanitized build run by scripts/sanitize, RealSanitizerReportsTest proves the same with
// real reports: sanitizer_canary (built with the same flags as sessiond) commits a real bug under
// the options scripts/sanitize exported, only log_path redirected to a scratch folder so the
// deliberate report does not fail the whole run; and a real sessiond, stopped with SIGTERM as the
// fixtures do, reaches the sanitizer's exit hooks (where LeakSanitizer looks for leaks).
#include <gtest/gtest-spi.h>
#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <regex>
#include <thread>

#include "support/files.h"
#include "support/process.h"
#include "node_fixture.h"

namespace sessiond::testing {
namespace {

class SanitizerReportsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* old = std::getenv("SESSIOND_SANITIZER_REPORTS");
    if (old) saved_ = old;
    had_ = old != nullptr;
    setenv("SESSIOND_SANITIZER_REPORTS", dir_.path().c_str(), 1);
  }
  void TearDown() override {
    if (had_) {
      setenv("SESSIOND_SANITIZER_REPORTS", saved_.c_str(), 1);
    } else {
      unsetenv("SESSIOND_SANITIZER_REPORTS");
    }
  }
  std::string Reporter() const {
    return "echo '==1==ERROR: AddressSanitizer: heap-use-after-free (stand-in)' > '" +
           dir_.path() + "/report.'$$";
  }
  TempDir dir_;
  std::string saved_;
  bool had_ = false;
};

TEST_F(SanitizerReportsTest, AReportFromACommandFailsTheTest) {
  std::string script = Reporter();
  EXPECT_NONFATAL_FAILURE(RunCommand({"/bin/sh", "-c", script}), "heap-use-after-free");
}

TEST_F(SanitizerReportsTest, AReportFromAChildFailsTheTestWhenItIsReaped) {
  std::string script = Reporter() + "; exec sleep 30";
  EXPECT_NONFATAL_FAILURE(
      {
        Child child({"/bin/sh", "-c", script}, dir_.Path("child.log"));
        for (int i = 0; i < 200 && !std::filesystem::exists(dir_.Path("report." +
                                                   std::to_string(child.pid()))); ++i) {
          std::this_thread::sleep_for(std::chrono::milliseconds(10));
        }
      },
      "sanitizer report from /bin/sh");
}

// GCC's UBSan prints to stderr whatever log_path says (tests/support/process.cc).
TEST_F(SanitizerReportsTest, AUbsanReportInTheOutputFailsTheTest) {
  std::string report = "echo 'lib/x.cc:12:7: runtime error: signed integer overflow (stand-in)'";
  EXPECT_NONFATAL_FAILURE(RunCommand({"/bin/sh", "-c", report + " >&2"}),
                          "UndefinedBehaviorSanitizer report from /bin/sh");
  EXPECT_NONFATAL_FAILURE(
      {
        Child child({"/bin/sh", "-c", report}, dir_.Path("child.log"));
        child.Wait(5000);
      },
      "UndefinedBehaviorSanitizer report from /bin/sh");
}

// Stopped with SIGTERM, not SIGKILL, a sanitized child gets to run its exit-time leak check.
TEST_F(SanitizerReportsTest, AChildStillRunningIsStoppedWithSigterm) {
  std::string stopped = dir_.Path("stopped");
  {
    Child child({"/bin/sh", "-c", "trap 'echo term > " + stopped + "; exit 0' TERM; " +
                                      "echo ready > " + dir_.Path("ready") +
                                      "; while :; do sleep 0.05; done"},
                dir_.Path("child.log"));
    for (int i = 0; i < 500 && !std::filesystem::exists(dir_.Path("ready")); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }
  EXPECT_TRUE(std::filesystem::exists(stopped));
}

TEST_F(SanitizerReportsTest, NoReportNoFailure) {
  auto r = RunCommand({"/bin/sh", "-c", "exit 0"});
  EXPECT_EQ(r.exit_code, 0);
  Child child({"/bin/sh", "-c", "exit 0"}, dir_.Path("child.log"));
  EXPECT_EQ(child.Wait(5000), 0);
}

// The sanitizer options scripts/sanitize exported, with log_path pointed into `dir`. Empty when
// this run is not under scripts/sanitize (no option variable names a log_path).
std::map<std::string, std::string> OptionsLoggingTo(const std::string& dir,
                                                    const std::string& extra = "") {
  std::map<std::string, std::string> env;
  for (const char* name : {"ASAN_OPTIONS", "UBSAN_OPTIONS", "TSAN_OPTIONS"}) {
    const char* value = std::getenv(name);
    if (value == nullptr || std::string(value).find("log_path=") == std::string::npos) continue;
    env[name] = std::regex_replace(value, std::regex("log_path=[^:]*"),
                                   "log_path=" + dir + "/report") + extra;
  }
  return env;
}

struct Bug {
  const char* mode;
  const char* report;  // what the sanitizer's report says
};

std::vector<Bug> BugsThisBuildDetects() {
  std::string san = SESSIOND_SANITIZE;
  if (san == "asan") {
    return {{"heap-use-after-free", "AddressSanitizer: heap-use-after-free"},
            {"leak", "LeakSanitizer: detected memory leaks"},
            {"signed-overflow", "runtime error: signed integer overflow"}};
  }
  if (san == "tsan") return {{"data-race", "ThreadSanitizer: data race"}};
  return {};
}

class RealSanitizerReportsTest : public SanitizerReportsTest {
 protected:
  void SetUp() override {
    SanitizerReportsTest::SetUp();
    bugs_ = BugsThisBuildDetects();
    if (bugs_.empty()) GTEST_SKIP() << "not a sanitized build (scripts/sanitize asan|tsan)";
    env_ = OptionsLoggingTo(dir_.path());
    if (env_.empty()) GTEST_SKIP() << "sanitizer options not exported: run by scripts/sanitize";
  }
  std::vector<Bug> bugs_;
  std::map<std::string, std::string> env_;
};

TEST_F(RealSanitizerReportsTest, ARealReportFromACommandFailsTheTest) {
  for (const Bug& bug : bugs_) {
    SCOPED_TRACE(bug.mode);
    CommandResult r;
    EXPECT_NONFATAL_FAILURE(r = RunCommand({SANITIZER_CANARY_BIN, bug.mode}, env_), bug.report);
    EXPECT_NE(r.exit_code, 0) << "halt_on_error/exitcode: the bug must also fail the process";
  }
}

TEST_F(RealSanitizerReportsTest, ARealReportFromAChildFailsTheTest) {
  for (const Bug& bug : bugs_) {
    SCOPED_TRACE(bug.mode);
    EXPECT_NONFATAL_FAILURE(
        {
          Child child({SANITIZER_CANARY_BIN, bug.mode}, dir_.Path("canary.log"), env_);
          child.Wait(30000);
        },
        bug.report);
  }
}

// ASan's atexit=1 prints its statistics from the same exit hook that runs LeakSanitizer's check:
// a report file after SIGTERM proves that stopping sessiond the way the fixtures do lets the
// sanitizer look for leaks (a SIGKILL, or an _exit on shutdown, would skip it).
class SanitizedNodeTest : public NodeTest {};

TEST_F(SanitizedNodeTest, ASigtermedSessiondReachesTheLeakCheck) {
  if (std::string(SESSIOND_SANITIZE) != "asan") GTEST_SKIP() << "not an ASan build";
  TempDir reports;
  auto env = OptionsLoggingTo(reports.path(), ":atexit=1");
  if (env.empty()) GTEST_SKIP() << "sanitizer options not exported: run by scripts/sanitize";
  node_ = std::make_unique<Child>(
      std::vector<std::string>{SESSIOND_BIN, "--base-dir", base_.path(), "--jvm-route", "nodeA"},
      base_.Path("sessiond.log"), env);
  ASSERT_TRUE(WaitForPort(kHost, kAdminPort, 30000)) << Log();
  pid_t pid = node_->pid();
  EXPECT_EQ(StopNode(), 0) << Log();
  std::string stats = ReadFile(reports.Path("report." + std::to_string(pid)));
  EXPECT_NE(stats.find("AddressSanitizer exit stats"), std::string::npos) << stats;
}

}  // namespace
}  // namespace sessiond::testing
