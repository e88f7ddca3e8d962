// admin internals: the API as plain request/response values, so routing, auth and every handler
// are independent of cpp-httplib (admin_server.cc is the only file that sees httplib).
//
// Thread-safety: Api is immutable after construction apart from its metric counters (atomic);
// Handle() may run on many threads at once.
#pragma once

#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "admin/admin.h"

namespace sessiond::admin {

struct Request {
  std::string method;  ///< "GET", "POST", …
  std::string path;    ///< decoded, without the query
  std::multimap<std::string, std::string> params;  ///< decoded query parameters
  std::string body;
  std::string authorization;  ///< the Authorization header ("" when absent)
  /// Streams the body into `file` (PUT /v1/apps/{name} only; set by the HTTP adapter): kTooLarge
  /// past `limit` bytes. Empty: the body is in `body`.
  std::function<Status(const std::string& file, int64_t limit)> receive_body;

  /// The first value of query parameter `name`, or nullptr.
  const std::string* Param(const std::string& name) const;
};

struct Response {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
};

/// kUnavailable "<what> is not available on this node yet" (an AdminServices callback is unwired).
Status Unwired(const char* what);
/// A JSON response with `status`.
Response JsonResponse(const nlohmann::json& body, int status = 200);
/// {"error": ErrorWordOf(code), "message": ...} with HttpStatusOf(code).
Response ErrorResponse(const Status& status);
/// A JSON document as text; invalid UTF-8 in strings is replaced, never thrown.
std::string DumpJson(const nlohmann::json& j);

/// Parses query parameter `name` as an integer in [min, max]; nullopt-like `fallback` when absent.
/// kBadRequest naming the parameter otherwise.
Result<int64_t> IntParam(const Request& req, const std::string& name, int64_t fallback,
                         int64_t min, int64_t max);

/// One route of the API as its table declares it: `pattern` is a literal path or a prefix ending
/// in "/*" (the rest of the path is the handler's argument, e.g. a session id).
struct RouteSpec {
  std::string method;
  std::string pattern;
  bool needs_token = true;
};

class Api {
 public:
  /// Every route, in match order (the security tests enumerate them).
  static std::vector<RouteSpec> Routes();

  Api(std::string token, AdminServices services);

  /// Routes, authenticates and answers one request. Never throws.
  Response Handle(const Request& req) const;

  // Handlers, one per route (admin_handlers.cc, admin_sessions.cc). Public for tests.
  Response Healthz(const Request& req) const;
  Response Readyz(const Request& req) const;
  Response Metrics(const Request& req) const;
  Response GetStatus(const Request& req) const;
  Response NodeCommand(const Request& req, const std::string& tail) const;  // admin_drain.cc
  Response ListSessions(const Request& req) const;
  Response ShowSession(const Request& req, const std::string& id) const;
  nlohmann::json HoldersJson(const std::string& id, uint64_t own_version) const;
  Response DeleteSession(const Request& req, const std::string& id) const;
  Response ExpireSessions(const Request& req) const;
  Response ListApps(const Request& req) const;
  Response PutApp(const Request& req, const std::string& name) const;
  Response DeleteApp(const Request& req, const std::string& name) const;
  Response ListEvents(const Request& req) const;
  Response ListMembers(const Request& req) const;

 private:
  struct Route;
  static const Route kRoutes[];
  bool Authorized(const Request& req) const;
  /// 401 with WWW-Authenticate, counted in sessiond_admin_auth_failures_total.
  Response Unauthorized() const;
  Response Dispatch(const Request& req) const;
  void RecordEvent(const std::string& message) const;

  std::string token_;
  AdminServices services_;
  metrics::Counter* auth_failures_ = nullptr;
};

/// The states named by query parameter `state` ("alive,suspect", or repeated); empty = all.
/// kBadRequest naming the parameter on an unknown state or an empty item.
Result<std::vector<std::string>> StateFilter(const Request& req);

/// Members per state (rows in another state are not counted).
MemberCounts CountMembers(const std::vector<MemberInfo>& members);

/// Normalizes an app given by an operator ("myapp", "/myapp") to its context path ("/myapp");
/// "ROOT" and "/" become "".
std::string NormalizeAppPath(const std::string& app);

}  // namespace sessiond::admin
