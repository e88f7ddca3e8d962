// The plumbing scripts/sanitize relies on: a sanitizer report written by a child process (the
// sanitizers' log_path gives each process its own file, PREFIX.PID) fails the test that started
// it, whether the child was run to completion (RunCommand) or left running (Child). A shell that
// writes such a file under its own pid stands in for a sanitized sessiond that found a bug.
#include <gtest/gtest-spi.h>
#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <thread>

#include "support/files.h"
#include "support/process.h"

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

TEST_F(SanitizerReportsTest, NoReportNoFailure) {
  auto r = RunCommand({"/bin/sh", "-c", "exit 0"});
  EXPECT_EQ(r.exit_code, 0);
  Child child({"/bin/sh", "-c", "exit 0"}, dir_.Path("child.log"));
  EXPECT_EQ(child.Wait(5000), 0);
}

}  // namespace
}  // namespace sessiond::testing
