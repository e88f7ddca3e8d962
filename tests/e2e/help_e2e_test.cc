// sessiond's docs stay true: every option `sessiond --help` prints is in sessiond(8), and both
// name every flag DESIGN.md §4 promises; --version and usage errors exit as sessiond(8) says.
#include <regex>
#include <set>
#include <sstream>
#include <string>

#include <gtest/gtest.h>

#include "support/files.h"
#include "support/process.h"

namespace sessiond::testing {
namespace {

// DESIGN.md §4's list ("Flags override the file: at least …"), copied: the project never reads
// ../shared.
const char* const kDesignedFlags[] = {
    "--config",        "--check",         "--base-dir",         "--data-dir",
    "--jvm-route",     "--http-address",  "--http-port",        "--admin-address",
    "--admin-port",    "--token-file",    "--receiver-address", "--receiver-port",
    "--mcast-address", "--mcast-port",    "--mcast-bind",       "--member",
    "--cluster-secret-file", "--insecure", "--log-level"};

std::string Help() {
  CommandResult r = RunCommand({SESSIOND_BIN, "--help"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  return r.out;
}

std::string ManPage() {
  return ReadFile(std::string(SESSIOND_SOURCE_DIR) + "/man/sessiond.8");
}

/// Whether the man page names `option` as a whole: roff spells its hyphens "\-", and "-c" must
/// not be found inside "--config" nor "--mcast" inside "--mcast-port".
bool Mentions(const std::string& man, const std::string& option) {
  std::string roff = std::regex_replace(option, std::regex("-"), R"(\\-)");
  return std::regex_search(man, std::regex("(^|[^-])" + roff + R"((?![A-Za-z0-9]|\\-))"));
}

/// The options of --help's "Options:" table: "-c", "--config", … (not words in the help texts).
std::set<std::string> OptionsIn(const std::string& help) {
  std::set<std::string> out;
  static const std::regex kLine(R"(^\s+((?:-[A-Za-z],)?--[a-z][a-z0-9-]*|-[A-Za-z])\b)");
  static const std::regex kOption(R"(--?[A-Za-z][a-z0-9-]*)");
  std::istringstream lines(help);
  for (std::string line; std::getline(lines, line);) {
    std::smatch m;
    if (!std::regex_search(line, m, kLine)) continue;
    std::string names = m[1];
    for (std::sregex_iterator it(names.begin(), names.end(), kOption), end; it != end; ++it)
      out.insert(it->str());
  }
  return out;
}

TEST(DaemonHelpTest, EveryOptionInHelpIsInTheManPage) {
  std::set<std::string> options = OptionsIn(Help());
  ASSERT_GT(options.size(), 15u) << "could not read the options table of --help";
  std::string man = ManPage();
  ASSERT_FALSE(man.empty());
  for (const std::string& option : options)
    EXPECT_TRUE(Mentions(man, option)) << option << " is not in sessiond(8)";
}

TEST(DaemonHelpTest, HelpAndManPageNameEveryDesignedFlag) {
  std::set<std::string> options = OptionsIn(Help());
  std::string man = ManPage();
  for (const char* flag : kDesignedFlags) {
    EXPECT_TRUE(options.count(flag)) << flag << " is not in sessiond --help";
    EXPECT_TRUE(Mentions(man, flag)) << flag << " is not in sessiond(8)";
  }
}

TEST(DaemonHelpTest, VersionAndUsageExitCodes) {
  for (const char* flag : {"-V", "--version"}) {
    CommandResult r = RunCommand({SESSIOND_BIN, flag});
    EXPECT_EQ(r.exit_code, 0) << flag;
    EXPECT_EQ(r.out.rfind("sessiond ", 0), 0u) << r.out;
  }
  EXPECT_EQ(RunCommand({SESSIOND_BIN, "--no-such-flag"}).exit_code, 2);
  EXPECT_EQ(RunCommand({SESSIOND_BIN, "--config"}).exit_code, 2);  // missing value
  std::string man = ManPage();
  EXPECT_NE(man.find(".SH EXIT STATUS"), std::string::npos);
}

}  // namespace
}  // namespace sessiond::testing
