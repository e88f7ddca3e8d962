// POST|DELETE /v1/nodes/{name}/drain: drain or undrain any node (DESIGN.md §7); the daemon's
// `drain` service runs it here or forwards it to that member.
#include <cmath>

#include "admin/admin_internal.h"

namespace sessiond::admin {

using nlohmann::json;

namespace {

/// A non-negative number of seconds (fractions allowed: tests drain in 300 ms) as milliseconds;
/// absent or null leaves `out` empty.
Status SecondsField(const json& body, const char* key, std::optional<int64_t>* out) {
  auto it = body.find(key);
  if (it == body.end() || it->is_null()) return Status::Ok();
  if (!it->is_number() || !std::isfinite(it->get<double>()) || it->get<double>() < 0 ||
      it->get<double>() > 86400.0 * 365) {
    return Status::BadRequest(std::string("'") + key + "' must be a number of seconds from 0 to 31536000");
  }
  *out = std::llround(it->get<double>() * 1000.0);
  return Status::Ok();
}

Result<DrainCommand> ParseDrainBody(const std::string& text) {
  DrainCommand command;
  if (text.find_first_not_of(" \t\r\n") == std::string::npos) return command;
  json body = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (body.is_discarded() || !body.is_object()) {
    return Status::BadRequest("the body must be a JSON object like {\"grace_seconds\": 10}");
  }
  for (const auto& [key, value] : body.items()) {
    if (key != "grace_seconds" && key != "deadline_seconds" && key != "shutdown") {
      return Status::BadRequest("unknown field '" + key + "' (grace_seconds, deadline_seconds, shutdown)");
    }
  }
  SESSIOND_RETURN_IF_ERROR(SecondsField(body, "grace_seconds", &command.grace_ms));
  SESSIOND_RETURN_IF_ERROR(SecondsField(body, "deadline_seconds", &command.deadline_ms));
  if (auto it = body.find("shutdown"); it != body.end() && !it->is_null()) {
    if (!it->is_boolean()) return Status::BadRequest("'shutdown' must be true or false");
    command.shutdown = it->get<bool>();
  }
  return command;
}

json DrainJson(const DrainInfo& d) {
  return {{"node", d.node},
          {"mode", d.mode},
          {"grace_seconds", static_cast<double>(d.grace_ms) / 1000.0},
          {"deadline_seconds", static_cast<double>(d.deadline_ms) / 1000.0},
          {"shutdown", d.shutdown},
          {"changed", d.changed},
          {"forwarded", d.forwarded}};
}

}  // namespace

Response Api::NodeCommand(const Request& req, const std::string& tail) const {
  size_t slash = tail.find('/');
  std::string name = tail.substr(0, slash);
  std::string verb = slash == std::string::npos ? "" : tail.substr(slash + 1);
  if (name.empty() || verb != "drain") {
    return ErrorResponse(Status::NotFound("no such endpoint: " + req.method + " " + req.path +
                                          " (did you mean /v1/nodes/NAME/drain?)"));
  }
  if (!services_.drain) return ErrorResponse(Status::Unavailable("drain is not available on this node"));
  DrainCommand command;
  if (req.method == "DELETE") {
    command.undrain = true;
  } else {
    Result<DrainCommand> parsed = ParseDrainBody(req.body);
    if (!parsed.ok()) return ErrorResponse(parsed.status());
    command = *parsed;
  }
  Result<DrainInfo> done = services_.drain(name, command);
  if (!done.ok()) return ErrorResponse(done.status());
  RecordEvent(std::string(command.undrain ? "undrain " : "drain ") + name + " requested" +
              (done->forwarded ? " (forwarded)" : "") + ": " + done->mode);
  return JsonResponse(DrainJson(*done));
}

}  // namespace sessiond::admin
