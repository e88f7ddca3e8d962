// Routing, authentication and the JSON error shape of the admin API.

#include <charconv>
#include <exception>

#include "admin/admin_internal.h"

namespace sessiond::admin {

using nlohmann::json;

const std::string* Request::Param(const std::string& name) const {
  auto it = params.find(name);
  return it == params.end() ? nullptr : &it->second;
}

std::string DumpJson(const json& j) {
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

Response JsonResponse(const json& body, int status) {
  Response res;
  res.status = status;
  res.body = DumpJson(body) + "\n";
  return res;
}

Response ErrorResponse(const Status& status) {
  json body = {{"error", std::string(ErrorWordOf(status.code()))}, {"message", status.message()}};
  return JsonResponse(body, HttpStatusOf(status.code()));
}

Result<int64_t> IntParam(const Request& req, const std::string& name, int64_t fallback,
                         int64_t min, int64_t max) {
  const std::string* text = req.Param(name);
  if (!text) return fallback;
  int64_t v = 0;
  auto [end, ec] = std::from_chars(text->data(), text->data() + text->size(), v);
  if (text->empty() || ec != std::errc() || end != text->data() + text->size() || v < min ||
      v > max) {
    return Status::BadRequest("parameter '" + name + "' must be an integer from " +
                              std::to_string(min) + " to " + std::to_string(max) + ", not '" +
                              *text + "'");
  }
  return v;
}

std::string NormalizeAppPath(const std::string& app) {
  if (app.empty() || app == "ROOT" || app == "/") return "";
  return app[0] == '/' ? app : "/" + app;
}

// ---- routing -----------------------------------------------------------------------------

// A route's pattern is a literal path, or a prefix ending in "/*" whose remainder (slashes and
// all) is handed to the handler — so "/v1/sessions/../x" reaches the id check and gets a 400
// instead of slipping past as an unknown route.
struct Api::Route {
  const char* method;
  const char* pattern;
  bool needs_token;
  Response (Api::*plain)(const Request&) const;
  Response (Api::*with_tail)(const Request&, const std::string&) const;
};

namespace {

bool Match(const char* pattern, const std::string& path, std::string* tail) {
  std::string_view p(pattern);
  if (p.size() >= 2 && p.substr(p.size() - 2) == "/*") {
    std::string_view prefix = p.substr(0, p.size() - 1);  // keeps the slash
    if (path.size() <= prefix.size() || path.compare(0, prefix.size(), prefix) != 0) return false;
    *tail = path.substr(prefix.size());
    return true;
  }
  return path == p;
}

}  // namespace

Api::Api(std::string token, AdminServices services)
    : token_(std::move(token)), services_(std::move(services)) {
  if (services_.metrics) {
    auth_failures_ = services_.metrics->GetCounter(
        "sessiond_admin_auth_failures_total",
        "Admin API requests refused for a missing or wrong bearer token.");
  }
}

bool Api::Authorized(const Request& req) const {
  static constexpr std::string_view kScheme = "Bearer ";
  std::string_view header = req.authorization;
  if (header.size() <= kScheme.size()) return false;
  // The scheme is case-insensitive (RFC 7235); the token is not.
  for (size_t i = 0; i < kScheme.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(header[i])) !=
        std::tolower(static_cast<unsigned char>(kScheme[i])))
      return false;
  }
  std::string_view given = header.substr(kScheme.size());
  while (!given.empty() && given.back() == ' ') given.remove_suffix(1);
  return ConstantTimeEquals(given, token_);
}

// Every route of the API. A route without the token must be a GET: admin_security_e2e_test walks
// this table and fails for a mutating route that an anonymous caller could reach.
const Api::Route Api::kRoutes[] = {
    {"GET", "/healthz", false, &Api::Healthz, nullptr},
    {"GET", "/readyz", false, &Api::Readyz, nullptr},
    {"GET", "/metrics", false, &Api::Metrics, nullptr},
    {"GET", "/v1/status", true, &Api::GetStatus, nullptr},
    {"GET", "/v1/members", true, &Api::ListMembers, nullptr},
    {"GET", "/v1/sessions", true, &Api::ListSessions, nullptr},
    {"POST", "/v1/sessions/expire", true, &Api::ExpireSessions, nullptr},
    {"GET", "/v1/sessions/*", true, nullptr, &Api::ShowSession},
    {"DELETE", "/v1/sessions/*", true, nullptr, &Api::DeleteSession},
    {"GET", "/v1/apps", true, &Api::ListApps, nullptr},
    {"PUT", "/v1/apps/*", true, nullptr, &Api::PutApp},
    {"DELETE", "/v1/apps/*", true, nullptr, &Api::DeleteApp},
    {"GET", "/v1/events", true, &Api::ListEvents, nullptr},
    {"POST", "/v1/nodes/*", true, nullptr, &Api::NodeCommand},
    {"DELETE", "/v1/nodes/*", true, nullptr, &Api::NodeCommand},
};

std::vector<RouteSpec> Api::Routes() {
  std::vector<RouteSpec> out;
  for (const Route& route : kRoutes) out.push_back({route.method, route.pattern, route.needs_token});
  return out;
}

Response Api::Unauthorized() const {
  if (auth_failures_) auth_failures_->Inc();
  Response res = ErrorResponse(Status::Unauthorized(
      "missing or wrong bearer token (send 'Authorization: Bearer <token>'; the token is in "
      "the node's admin.token file)"));
  res.headers.emplace_back("WWW-Authenticate", "Bearer realm=\"sessiond\"");
  return res;
}

Response Api::Dispatch(const Request& req) const {
  // Every /v1/ path needs the token, known or not: an unauthenticated caller learns nothing.
  bool v1 = req.path.rfind("/v1/", 0) == 0 || req.path == "/v1";
  if (v1 && !Authorized(req)) return Unauthorized();
  std::string allowed;     // methods of routes whose path matched, for 405's Allow header
  bool exact_path = false;  // a literal route owns the path: wildcards do not apply
  for (const Route& route : kRoutes) {
    bool wildcard = route.with_tail != nullptr;
    std::string tail;
    if ((wildcard && exact_path) || !Match(route.pattern, req.path, &tail)) continue;
    exact_path = exact_path || !wildcard;
    bool method_ok = req.method == route.method ||
                     (req.method == "HEAD" && std::string_view(route.method) == "GET");
    if (!method_ok) {
      allowed += (allowed.empty() ? "" : ", ") + std::string(route.method);
      continue;
    }
    // A route outside /v1 that needs the token is held to it too.
    if (route.needs_token && !v1 && !Authorized(req)) return Unauthorized();
    return wildcard ? (this->*route.with_tail)(req, tail) : (this->*route.plain)(req);
  }
  if (!allowed.empty()) {
    Response res = ErrorResponse(
        Status(Code::kBadRequest, req.method + " is not allowed on " + req.path));
    res.status = 405;
    res.headers.emplace_back("Allow", allowed);
    return res;
  }
  return ErrorResponse(Status::NotFound("no such endpoint: " + req.method + " " + req.path));
}

Response Api::Handle(const Request& req) const {
  try {
    return Dispatch(req);
  } catch (const std::exception& e) {
    return ErrorResponse(Status::Internal(std::string("unexpected error: ") + e.what()));
  } catch (...) {
    return ErrorResponse(Status::Internal("unexpected error"));
  }
}

void Api::RecordEvent(const std::string& message) const {
  if (services_.record_event) services_.record_event("admin", message);
}

}  // namespace sessiond::admin
