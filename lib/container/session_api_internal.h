// container internals: the session API of DESIGN.md §6 ({ctx}/.session…) and the per-request
// session (the JSESSIONID cookie's session, created only when a handler asks for one).
//
// Thread-safety: a RequestSession belongs to one request on one connector thread. The functions
// are reentrant; they call the thread-safe SessionStore.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "base/base.h"
#include "container/apps_internal.h"
#include "container/http_internal.h"
#include "session/session.h"

namespace sessiond::container {

/// Cookie attributes from the config (<Sessiond cookieSecure cookieSameSite>).
struct CookieOptions {
  bool secure = false;
  std::string same_site;  ///< "" = not sent
};

/// The session a request works with. The cookie's id is looked up (and Access()ed) at most once;
/// a new session is made only by GetOrCreate. Events go to the request's batch.
class RequestSession {
 public:
  RequestSession(session::SessionStore* store, const App& app, std::optional<std::string_view> cookie_id,
                 session::EventBatch* batch);

  /// The live session of this app named by the cookie, accessed (last access, last node) on
  /// the first call; nullptr when there is none (unknown, expired, another app's, malformed).
  const session::Session* Current();
  /// Current(), or a new session. kUnavailable when maxActiveSessions is reached.
  Result<const session::Session*> GetOrCreate();
  /// Invalidates the current session (kNotFound when there is none); the cookie gets cleared.
  Status Invalidate();
  /// Replaces the snapshot after a change (for the response body).
  void Refresh();
  /// Re-issues the current session's id with `route` (JvmRouteBinderValve); the response then
  /// sets the new cookie. kNotFound when there is no current session.
  Status ChangeRoute(std::string_view route);

  /// The id the response is about ("" when none): for the access log's %S.
  std::string_view id() const { return current_ ? std::string_view(current_->id) : std::string_view(); }
  bool created() const { return created_; }
  /// Adds Set-Cookie when a session was created or its id changed, or a clearing cookie
  /// (Max-Age=0) after Invalidate.
  void AddCookie(const CookieOptions& options, Response* response) const;

  session::SessionStore* store() const { return store_; }
  session::EventBatch* batch() const { return batch_; }

 private:
  session::SessionStore* store_;
  const App& app_;
  std::string cookie_id_;
  session::EventBatch* batch_;
  std::optional<session::Session> current_;
  bool looked_up_ = false;
  bool created_ = false;
  bool cleared_ = false;
};

struct SessionApiOptions {
  std::string node_name;             ///< jvmRoute, the "node" of the session JSON
  uint64_t max_body_bytes = 1 << 20;  ///< 413 past it
  size_t max_json_depth = 64;        ///< deeper bodies are 400 (keeps recursion bounded)
  size_t max_name_bytes = 256;
};

/// True for paths below the context that belong to the session API ("/.session", "/.session/…").
bool IsSessionApiPath(std::string_view rel_path);

/// Serves one session API request. `rel_path` is the decoded path below the context; attribute
/// names are taken from the raw request target (so "%2F" stays inside a name). Never throws.
Response HandleSessionApi(const SessionApiOptions& options, const Request& request,
                          std::string_view rel_path, RequestSession* session);

/// Builds the JSESSIONID Set-Cookie value for `app` (clear: an expired, empty cookie).
std::string SessionCookie(const App& app, std::string_view id, const CookieOptions& options, bool clear);

}  // namespace sessiond::container
