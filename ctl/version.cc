// `sessctl version`: this client's version and, when the endpoint answers, the server's.

#include "ctl/cli.h"

namespace sessctl {

namespace {

struct VersionOptions {};

// The server's part is best effort: an unreachable node still lets `version` answer (exit 0),
// with a note on stderr.
Status Run(Context& ctx, const VersionOptions&) {
  Record r;
  r.Add("Client", "client_version", Cell(ClientVersion()));
  nlohmann::json server_version, server_name;
  auto client = ctx.Connect();
  Result<nlohmann::json> st = client.ok() ? (*client)->Get("/v1/status")
                                          : Result<nlohmann::json>(client.status());
  if (st.ok()) {
    server_version = st->value("version", "");
    server_name = st->value("name", "");
  } else {
    *ctx.err << "sessctl: server version unknown: " << st.status().message() << "\n";
  }
  r.Add("Server", "server_version",
        Cell(server_version, server_version.is_string() ? server_version.get<std::string>() : "-"));
  r.Add("Node", "server_name",
        Cell(server_name, server_name.is_string() ? server_name.get<std::string>() : "-"));
  ctx.MakePrinter().Print(r);
  return Status::Ok();
}

}  // namespace

void RegisterVersion(CLI::App& app, Context& ctx) {
  auto opts = std::make_shared<VersionOptions>();
  CLI::App* cmd = app.add_subcommand("version", "print sessctl's version and the server's");
  cmd->callback([&ctx, opts] { ctx.action = [&ctx, opts] { return Run(ctx, *opts); }; });
}

}  // namespace sessctl
