// container: the data plane — the HTTP connector (Boost.Beast on Boost.Asio: a fixed pool of
// event-loop threads, any number of keep-alive connections), the apps of the Host (WARs and
// folders), static files, the session API of DESIGN.md §6, the JSESSIONID cookie and the
// access log. A request's session events are committed to the SessionStore after the request.
//
// Valves (DESIGN.md §5 "Routing valves"), both off unless the <Cluster> names them:
// - JvmRouteBinderValve (cluster.jvm_route_binder, needs Hooks::route_alive): a request whose
//   session id carries the route of a node that is not alive (and is not this node) gets the id
//   re-issued with this node's route (SessionStore::ChangeRoute: a kChangeId event, so it
//   replicates) and a new Set-Cookie; the old id keeps resolving for in-flight requests. While
//   the route's node is alive the id stays as it is, whichever node serves the request.
// - ReplicationValve filter (cluster.replication_filter, a regex that must match the whole
//   decoded request path, as Tomcat's): a matching request's batch is still committed (the
//   persister stores it) but its events are marked distributable=false, so the Replicator never
//   sends them. Peers catch up at that session's next replicated change: its version jumped, so
//   they fetch the whole session (gap repair), access times included.
//
// Thread-safety: Container's public methods are thread-safe. Requests are served on the
// connector's own threads (connector.max_threads, default one per core).
// Ownership: the Container borrows the SessionStore and the metrics Registry; both must outlive it.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/base.h"
#include "config/config.h"
#include "metrics/metrics.h"
#include "session/session.h"

namespace sessiond::container {

/// One deployed app, as the admin API lists it.
struct AppInfo {
  std::string name;      ///< "myapp"; "ROOT" for "/"
  std::string path;      ///< "/myapp"; "" for ROOT
  std::string source;    ///< the WAR or folder it came from
  std::string sha256;    ///< of the WAR ("" for a folder)
  uint64_t size_bytes = 0;
  int64_t deployed_ms = 0;
  bool distributable = false;
  int32_t session_timeout_s = 1800;
};

class Container {
 public:
  /// What the container asks of the rest of the node while serving. Called on connector
  /// threads: each must be thread-safe and quick. Any may be empty.
  struct Hooks {
    /// Whether the node named by `route` (a session id's suffix) is alive; this node's own
    /// route counts as alive. Empty: JvmRouteBinderValve stays off.
    std::function<bool(std::string_view route)> route_alive;
    /// A cookie of a distributable app names a session this node does not hold (nor buried),
    /// and its route is another alive member: ask that member for it, blocking briefly, before
    /// the request is served (its async delta may still be on the way). Empty: such a request
    /// gets a new session, as in Tomcat.
    std::function<void(std::string_view id, std::string_view owner)> fetch_missing;
  };

  /// Deploys the Host's apps (a bad app is reported by deploy_errors() and skipped) and prepares
  /// the connector; nothing listens until Start(). kBadRequest when the ReplicationValve filter
  /// is not a valid regular expression.
  static Result<std::unique_ptr<Container>> Create(const config::NodeConfig& config,
                                                   session::SessionStore* sessions,
                                                   metrics::Registry* metrics, Hooks hooks = {});
  ~Container();

  /// Binds the HTTP connector (kUnavailable naming address:port when it cannot) and starts the
  /// connector threads and the expiry timer (every second).
  Status Start();
  /// The bound port (useful when the config said 0).
  uint16_t http_port() const;
  /// Stops accepting, lets in-flight requests finish for up to `grace_ms`, closes idle
  /// keep-alive connections, joins the threads. Idempotent.
  void Shutdown(int64_t grace_ms);
  /// Reopens the access log (SIGHUP).
  void ReopenLogs();

  /// Drain (DESIGN.md §5): while refusing, every new data-plane request is answered 503 with
  /// `Retry-After: retry_after_s` (and a JSON error body) without touching a session, so the
  /// load balancer resends it to another node; requests already admitted run to the end.
  void SetRefusing(bool refusing, int retry_after_s);
  /// Requests admitted (not refused) whose handler is still running.
  uint64_t InFlight() const;

  std::vector<AppInfo> Apps() const;
  /// Serves the unpacked folder `dir` at `context_path` ("/myapp"; "" for ROOT), replacing the
  /// app there in one step: a request in flight keeps the version it resolved, the next one gets
  /// the new. The app's sessions stay (they belong to the context path). kNotFound/kBadRequest
  /// for a missing folder or a broken web.xml, and the old version keeps serving.
  Status DeployApp(const std::string& context_path, const std::string& dir,
                   const std::string& sha256, uint64_t size_bytes);
  /// Stops serving `context_path` (kNotFound when nothing is deployed there). Sessions stay until
  /// they expire.
  Status UndeployApp(const std::string& context_path);
  /// Problems met while deploying the Host's apps at Create ("x.war: entry ../a: escapes").
  std::vector<std::string> deploy_errors() const;

  class Impl;

 private:
  explicit Container(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace sessiond::container
