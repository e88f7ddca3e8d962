// sessiond's main: flags, config, then a Node runs until SIGTERM/SIGINT.
// Flags override the file (DESIGN.md §4); `--check` validates and exits like `nginx -t`.
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <iostream>
#include <string>

#include <CLI/CLI.hpp>

#include "base/base.h"
#include "config/config.h"
#include "daemon/node.h"

namespace sessiond {
namespace {

struct Flags {
  std::string config_path;
  std::string base_dir;
  bool check = false;
  config::Overrides overrides;
};

template <typename T>
void AddOptional(CLI::App& app, const std::string& name, std::optional<T>* target,
                 const std::string& help) {
  app.add_option_function<T>(name, [target](const T& v) { *target = v; }, help);
}

void DefineFlags(CLI::App& app, Flags* f) {
  config::Overrides& o = f->overrides;
  app.add_option("-c,--config", f->config_path, "server.xml to load (default: the embedded single-node config)");
  app.add_flag("--check", f->check, "validate the configuration, print what was read, and exit");
  app.add_option("--base-dir", f->base_dir, "base directory for relative paths (like CATALINA_BASE; default: the working directory)");
  AddOptional(app, "--data-dir", &o.data_dir, "data directory (default: $STATE_DIRECTORY or BASE/sessiond-data)");
  AddOptional(app, "--jvm-route", &o.jvm_route, "this node's name and session-id suffix (default: the short host name)");
  AddOptional(app, "--http-address", &o.http_address, "data-plane HTTP address");
  AddOptional(app, "--http-port", &o.http_port, "data-plane HTTP port");
  AddOptional(app, "--admin-address", &o.admin_address, "admin endpoint address (default 127.0.0.1)");
  AddOptional(app, "--admin-port", &o.admin_port, "admin endpoint port (default 8099)");
  AddOptional(app, "--agent-port", &o.agent_port, "HAProxy agent-check port (default: off)");
  AddOptional(app, "--token-file", &o.token_file, "admin token file (default DATA_DIR/admin.token, created 0600)");
  AddOptional(app, "--receiver-address", &o.receiver_address, "cluster receiver address");
  AddOptional(app, "--receiver-port", &o.receiver_port, "cluster receiver port");
  AddOptional(app, "--mcast-address", &o.mcast_address, "membership multicast group");
  AddOptional(app, "--mcast-port", &o.mcast_port, "membership multicast port");
  AddOptional(app, "--mcast-bind", &o.mcast_bind, "interface address for multicast (default: the receiver's)");
  app.add_option("--member", o.members, "static member HOST:PORT (repeatable)");
  AddOptional(app, "--cluster-secret-file", &o.cluster_secret_file, "file holding the cluster secret (HMAC-SHA256)");
  app.add_flag("--insecure", o.insecure, "allow an unauthenticated cluster on a non-loopback address");
  AddOptional(app, "--log-level", &o.log_level, "debug, info, warn or error (default info)");
  AddOptional(app, "--anti-entropy-period", &o.anti_entropy_period_ms, "milliseconds between anti-entropy rounds with each member (default 10000; 0: only when a member returns)");
  AddOptional(app, "--max-clock-skew", &o.max_clock_skew_ms, "refuse remote clock stamps more than this many milliseconds ahead of ours (default 60000; 0: no bound)");
  app.set_version_flag("-V,--version", std::string("sessiond ") + SESSIOND_VERSION);
}

std::string AbsoluteBaseDir(const std::string& flag) {
  std::error_code ec;
  auto dir = flag.empty() ? std::filesystem::current_path(ec) : std::filesystem::absolute(flag, ec);
  return dir.lexically_normal().string();
}

void PrintDiagnostics(const std::vector<config::Diagnostic>& diagnostics) {
  for (const auto& d : diagnostics) {
    const char* level = d.kind == config::Diagnostic::Kind::kIgnored ? "info" : "warn";
    SESSIOND_LOG(kInfo, "config", {"level", level}, {"note", d.message});
    (void)level;
  }
}

Result<config::LoadedConfig> LoadConfig(const Flags& flags, const std::string& base_dir) {
  if (flags.config_path.empty()) {
    return config::LoadedConfig{config::EmbeddedDefault(base_dir), {}};
  }
  return config::LoadServerXml(flags.config_path, base_dir);
}

int RunCheck(const config::LoadedConfig& loaded) {
  for (const auto& d : loaded.diagnostics) std::cerr << d.message << "\n";
  const config::NodeConfig& c = loaded.config;
  std::cout << "sessiond: configuration " << c.source << " is OK\n"
            << "  jvmRoute " << c.jvm_route << ", HTTP " << c.connector.address << ":"
            << c.connector.port << ", admin " << c.sessiond.admin_address << ":"
            << c.sessiond.admin_port << ", appBase " << c.host.app_base << ", data "
            << c.sessiond.data_dir << "\n";
  return 0;
}

}  // namespace
}  // namespace sessiond

int main(int argc, char** argv) {
  using namespace sessiond;
  CLI::App app("sessiond: a session-replicating web container node", "sessiond");
  Flags flags;
  DefineFlags(app, &flags);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  if (flags.overrides.log_level) {
    if (auto level = ParseLogLevel(*flags.overrides.log_level)) SetLogLevel(*level);
  }
  std::string base_dir = AbsoluteBaseDir(flags.base_dir);
  auto loaded = LoadConfig(flags, base_dir);
  if (!loaded.ok()) {
    std::cerr << "sessiond: " << loaded.status().message() << "\n";
    return 1;
  }
  Status applied = config::ApplyOverrides(flags.overrides, &loaded->config);
  if (!applied.ok()) {
    std::cerr << "sessiond: " << applied.message() << "\n";
    return flags.check ? 1 : 2;
  }
  if (flags.check) return RunCheck(*loaded);
  if (auto level = ParseLogLevel(loaded->config.sessiond.log_level)) SetLogLevel(*level);
  PrintDiagnostics(loaded->diagnostics);
  return RunNode(loaded->config);
}
