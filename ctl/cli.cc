// The root of sessctl's command tree: global flags, registration of every command file, and Main
// (parse, run, map the Status to an exit code).

#include "ctl/cli.h"

#include <algorithm>
#include <cstdlib>
#include <iostream>

namespace sessctl {

namespace {

void AddGlobalFlags(CLI::App& app, Context& ctx) {
  GlobalOptions& g = ctx.global;
  app.add_option("-e,--endpoint", g.endpoint, "admin endpoint of any node")
      ->type_name("URL")
      ->envname("SESSCTL_ENDPOINT")
      ->capture_default_str();
  app.add_option("--token-file", g.token_file,
                 "file holding the admin token (the token itself may be in SESSCTL_TOKEN)")
      ->type_name("FILE")
      ->envname("SESSCTL_TOKEN_FILE")
      ->capture_default_str();
  WithChoices(ctx,
              app.add_option("-o,--output", g.output, "output format: table, wide or json")
                  ->type_name("FORMAT")
                  ->capture_default_str(),
              {"table", "wide", "json"});
  app.add_flag("--no-headers", g.no_headers, "print tables without their header line");
  app.add_option("--timeout", g.timeout, "HTTP timeout, e.g. 5s, 1m")
      ->type_name("DUR")
      ->check(DurationCheck())
      ->capture_default_str();
}

}  // namespace

// A CLI11 check for DUR arguments, with base's parser as the one definition of a duration.
CLI::Validator DurationCheck() {
  return CLI::Validator(
      [](std::string& text) {
        auto ms = sessiond::ParseDurationMillis(text);
        return ms.ok() ? std::string() : ms.status().message();
      },
      "");
}

CLI::Option* WithChoices(Context& ctx, CLI::Option* opt, std::vector<std::string> values) {
  opt->check(CLI::IsMember(values));
  ctx.choices[opt] = std::move(values);
  return opt;
}

Result<std::unique_ptr<Client>> Context::Connect(int64_t min_timeout_ms) const {
  auto timeout = sessiond::ParseDurationMillis(global.timeout);
  if (!timeout.ok()) return timeout.status();
  auto token = ResolveToken(global.token, global.token_file);
  if (!token.ok()) return token.status();
  return Client::Create(global.endpoint, std::move(token.value()), std::max(*timeout, min_timeout_ms));
}

Printer Context::MakePrinter() const {
  OutputFormat format = OutputFormat::kTable;
  ParseOutputFormat(global.output, &format);  // validated by CLI11 at parse time
  return Printer(*out, format, global.no_headers);
}

std::string ClientVersion() { return SESSIOND_VERSION; }

std::unique_ptr<CLI::App> BuildApp(Context& ctx) {
  auto app = std::make_unique<CLI::App>(
      "sessctl: see and steer a sessiond cluster through any node's admin endpoint", "sessctl");
  app->fallthrough();  // global flags work after the command too: `sessctl status -o json`
  app->require_subcommand(1);
  app->set_version_flag("--version", ClientVersion(), "print sessctl's version and exit");
  app->footer(
      "Exit codes: 0 ok, 1 failed, 2 usage, 3 cannot reach or authenticate, 4 not found.\n"
      "See sessctl(1).");
  AddGlobalFlags(*app, ctx);
  RegisterStatus(*app, ctx);
  RegisterMembers(*app, ctx);
  RegisterSessions(*app, ctx);
  RegisterApps(*app, ctx);
  RegisterDrain(*app, ctx);
  RegisterEvents(*app, ctx);
  RegisterVersion(*app, ctx);
  RegisterCompletion(*app, ctx);
  return app;
}

namespace {

// Commands read the endpoint's JSON by its documented shape; an answer of another shape (another
// version, or not sessiond at all) makes nlohmann throw. Caught once here, it is an error naming
// the endpoint and what did not fit (exit 1) rather than an abort.
Status RunAction(const Context& ctx) {
  try {
    return ctx.action();
  } catch (const nlohmann::json::exception& e) {
    return Status::Internal("the answer from " + ctx.global.endpoint + " is not what sessctl expects (" +
                            e.what() + "); is it a sessiond admin endpoint of the same version?");
  }
}

}  // namespace

int Main(int argc, const char* const* argv, std::ostream& out, std::ostream& err) {
  Context ctx;
  ctx.out = &out;
  ctx.err = &err;
  if (const char* token = std::getenv("SESSCTL_TOKEN")) ctx.global.token = token;
  std::unique_ptr<CLI::App> app = BuildApp(ctx);
  try {
    app->parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app->exit(e, out, err);  // --help, --version
    err << "sessctl: " << e.what() << "\n" << "Run 'sessctl --help' for usage.\n";
    return kExitUsage;
  }
  if (!ctx.action) return kExitUsage;  // unreachable: a subcommand is required
  Status status = RunAction(ctx);
  if (status.ok()) return 0;
  err << "sessctl: " << status.message() << "\n";
  return sessiond::ExitCodeOf(status.code());
}

}  // namespace sessctl
