// sessctl's command tree. The CLI11 App built here is the one source of truth: --help, the hidden
// `__complete` command (which the shell completions call) and the man-page test all walk it.
//
// Every command lives in its own file (status.cc, members.cc, sessions.cc, apps.cc, events.cc, drain.cc,
// version.cc, completion.cc) with an options struct and a Run(...) that returns a Status; CLI11 callbacks only
// bind the chosen command into Context::action, which Main runs after parsing succeeded.
//
// Thread-safety: one thread.
#pragma once

#include <CLI/CLI.hpp>
#include <functional>
#include <iosfwd>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "base/base.h"
#include "ctl/client.h"
#include "ctl/table.h"

namespace sessctl {

/// The global flags (DESIGN.md §7), filled by CLI11 and the environment.
struct GlobalOptions {
  std::string endpoint = kDefaultEndpoint;   ///< -e/--endpoint, SESSCTL_ENDPOINT
  std::string token_file = kDefaultTokenFile;  ///< --token-file, SESSCTL_TOKEN_FILE
  std::string token;                         ///< SESSCTL_TOKEN (no flag: tokens stay out of ps)
  std::string output = "table";              ///< -o table|wide|json
  bool no_headers = false;
  std::string timeout = "10s";               ///< --timeout DUR
};

/// What a command's Run gets: the global options, the output streams, and a way to reach the
/// endpoint.
struct Context {
  GlobalOptions global;
  std::ostream* out = nullptr;
  std::ostream* err = nullptr;
  /// The chosen command, bound by its CLI11 callback; run by Main after a successful parse.
  std::function<Status()> action;
  /// Candidate values of options and positionals with a fixed set (for __complete).
  std::map<const CLI::Option*, std::vector<std::string>> choices;

  /// A client for the endpoint with the resolved token and timeout (at least `min_timeout_ms`:
  /// a command that asks the server to wait needs the answer to outlive that wait).
  Result<std::unique_ptr<Client>> Connect(int64_t min_timeout_ms = 0) const;
  /// The printer for -o / --no-headers (validated at parse time).
  Printer MakePrinter() const;
};

/// Restricts `opt` to `values` (CLI11 IsMember) and records them for completion.
CLI::Option* WithChoices(Context& ctx, CLI::Option* opt, std::vector<std::string> values);

/// A CLI11 check for DUR arguments ("90s", "5m", "1h", "2d"): base's parser is the one definition.
CLI::Validator DurationCheck();

/// Builds the whole tree bound to `ctx` (which must outlive the App).
std::unique_ptr<CLI::App> BuildApp(Context& ctx);

/// Parses argv, runs the command, prints an error once as "sessctl: <message>" and returns the
/// exit code: 0 ok, 1 failed, 2 usage, 3 unreachable/unauthorized, 4 not found.
int Main(int argc, const char* const* argv, std::ostream& out, std::ostream& err);

/// Exit codes besides sessiond::ExitCodeOf: CLI11 usage errors.
inline constexpr int kExitUsage = 2;

// Registration, one per command file.
void RegisterStatus(CLI::App& app, Context& ctx);
void RegisterMembers(CLI::App& app, Context& ctx);
void RegisterSessions(CLI::App& app, Context& ctx);
void RegisterApps(CLI::App& app, Context& ctx);
void RegisterEvents(CLI::App& app, Context& ctx);
void RegisterDrain(CLI::App& app, Context& ctx);
void RegisterVersion(CLI::App& app, Context& ctx);
void RegisterCompletion(CLI::App& app, Context& ctx);

/// The candidate words for completing `words` (the command line after "sessctl"; the last one is
/// the word being completed, possibly empty), one per element.
std::vector<std::string> CompleteWords(const CLI::App& app, const Context& ctx,
                                       const std::vector<std::string>& words);

/// The shell scripts `sessctl completion SHELL` prints (completions/ in the source tree, embedded
/// at build time). Empty for an unknown shell.
std::string CompletionScript(const std::string& shell);

/// The client's version ("0.1.0").
std::string ClientVersion();

}  // namespace sessctl
