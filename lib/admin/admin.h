// admin: the REST admin endpoint of DESIGN.md §7 — JSON over HTTP (cpp-httplib, kept out of this
// header), bearer-token auth compared in constant time, 127.0.0.1:8099 by default.
//
// The admin module does not reach into the daemon's other modules: the daemon hands it an
// AdminServices of borrowed pointers and callbacks (status, apps, event log, readiness), so the
// endpoint is testable with a bare SessionStore and grows as the cluster modules land.
//
// Routes: GET /healthz, /readyz, /metrics (no token); GET /v1/status; GET /v1/members;
// GET /v1/sessions;
// GET|DELETE /v1/sessions/{id}; POST /v1/sessions/expire; GET /v1/apps; PUT|DELETE
// /v1/apps/{name} (farm deploy: the PUT body is the WAR, streamed to a file under
// AdminServices::upload_dir, never held in memory; over max_upload_bytes: 413; ?node=NAME: only
// that node deploys it); GET /v1/events;
// POST|DELETE /v1/nodes/{name}/drain.
// Errors are {"error": word, "message": ...} with HttpStatusOf/ErrorWordOf (base.h).
//
// Thread-safety: AdminServer runs its own listener thread and a bounded pool of worker threads;
// Start/port/Stop may be called from any one thread. Every callback in AdminServices is called on
// those worker threads, concurrently, and must be thread-safe.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/base.h"
#include "container/container.h"
#include "metrics/metrics.h"
#include "session/session.h"

namespace sessiond::admin {

/// Default listen address and port of the admin endpoint.
inline constexpr const char* kDefaultAddress = "127.0.0.1";
inline constexpr uint16_t kDefaultPort = 8099;
/// Request bodies over this get 413.
inline constexpr size_t kMaxBodyBytes = 1 << 20;

/// How many members this node sees in each state (itself included, as alive).
struct MemberCounts {
  uint64_t alive = 0, suspect = 0, dead = 0, left = 0;
};

/// This node, as GET /v1/status shows it.
struct StatusInfo {
  std::string name;               ///< jvmRoute
  std::string version;            ///< sessiond's version
  int64_t started_ms = 0;         ///< wall time the daemon started
  int64_t uptime_ms = 0;
  std::string mode = "active";    ///< active | draining | drained
  uint64_t sessions = 0;
  uint64_t apps = 0;
  /// Pulling the cluster's sessions when joining: state "none" (no peers), "running", "done",
  /// "failed".
  struct StateTransfer {
    std::string state = "none";
    uint64_t received = 0;
    uint64_t expected = 0;
    std::string error;  ///< why it failed; empty otherwise
  } state_transfer;
  /// This node's view of the cluster. When left empty, /v1/status counts the rows of
  /// AdminServices::members (and shows null when that is unwired too).
  std::optional<MemberCounts> members;
};

/// One member as this node sees it (GET /v1/members). Plain strings rather than membership's
/// enums so admin stays independent of the cluster modules: the daemon adapts membership::Member.
struct MemberInfo {
  std::string name;             ///< jvmRoute
  std::string address;          ///< the receiver, "host:port"
  std::string admin_url;        ///< "http://127.0.0.1:8099" ("" when unknown)
  std::string state = "alive";  ///< alive | suspect | dead | left
  std::string mode = "active";  ///< active | draining | drained
  uint64_t sessions = 0;
  int64_t last_seen_ms = 0;     ///< wall time of its last heartbeat or probe reply; 0 = never
  int64_t state_since_ms = 0;   ///< wall time of its last state change; 0 = unknown
  std::string version;          ///< its sessiond build
  int protocol = 0;             ///< its wire protocol version
  int64_t incarnation = 0;      ///< its start time (unix ms): a restart is a new incarnation
  bool is_self = false;         ///< the answering node's own row (state alive)
  bool is_static = false;       ///< a static member (probed), not found by multicast
};

/// One member's copy of a session (GET /v1/sessions/{id} "holders").
struct HolderInfo {
  std::string node;
  std::optional<uint64_t> version;  ///< nullopt: that member does not hold it (or did not answer)
  bool answered = true;             ///< false: the member did not answer in time
};

/// One entry of the event log (membership, deploy, drain, admin).
struct EventRecord {
  int64_t seq = 0;           ///< increasing; the `since` cursor
  int64_t time_ms = 0;
  std::string kind;          ///< "member", "deploy", "drain", "admin", …
  std::string node;          ///< the node that recorded it
  std::string message;
  std::string fields_json;   ///< a JSON object with details ("" = {})
};

/// A drain or undrain command for one node (POST/DELETE /v1/nodes/{name}/drain).
struct DrainCommand {
  bool undrain = false;
  std::optional<int64_t> grace_ms;     ///< empty: the node's default
  std::optional<int64_t> deadline_ms;  ///< empty: the node's default
  bool shutdown = false;
};

/// Where that node's drain stands after the command.
struct DrainInfo {
  std::string node;
  std::string mode;        ///< active | draining | drained
  int64_t grace_ms = 0;
  int64_t deadline_ms = 0;
  bool shutdown = false;
  bool changed = false;    ///< false: it already was in that mode (nothing restarted)
  bool forwarded = false;  ///< the command went over the cluster to another member
};

struct EventPage {
  std::vector<EventRecord> items;  ///< ascending by seq
  int64_t next_since = 0;          ///< pass as `since` to get what follows
};

/// One node's part in a farm deploy or undeploy (PUT/DELETE /v1/apps/{name} "nodes").
struct DeployNodeResult {
  std::string node;
  bool ok = false;
  std::string error;        ///< names the entry and the reason for a refused WAR
  std::string sha256;       ///< deploy: what the node serves now; undeploy: the version removed
  int64_t duration_ms = 0;
};

/// A farm deploy or undeploy across the cluster: this node first, then each member. A per-node
/// deploy (PUT ?node=NAME) has the one row of that node.
struct DeployResult {
  std::string name;         ///< "myapp"; "ROOT"
  std::string sha256;
  uint64_t size_bytes = 0;
  std::vector<DeployNodeResult> nodes;
  std::string only_node;    ///< the node a per-node deploy went to; "" for the whole cluster
};

/// A farm-deployed app as one member holds it (GET /v1/apps per-node status).
struct FarmedApp {
  std::string name;
  std::string sha256;
  uint64_t size_bytes = 0;
  int64_t deployed_ms = 0;
};
struct MemberFarm {
  std::string node;
  bool answered = false;    ///< false: it did not answer in time (its apps are unknown)
  std::vector<FarmedApp> apps;
};

/// What the endpoint reads and steers. Pointers are borrowed and must outlive the AdminServer;
/// callbacks run on the admin worker threads. Any of them may be empty: the matching routes then
/// answer 503 (unavailable), readiness defaults to ready.
struct AdminServices {
  session::SessionStore* sessions = nullptr;
  metrics::Registry* metrics = nullptr;
  /// This node's jvmRoute, for the session holders list.
  std::string node_name;
  std::function<StatusInfo()> status;
  std::function<std::vector<container::AppInfo>()> apps;
  /// Events with seq > since_seq (or, when since_ms > 0, time_ms >= since_ms), at most `limit`.
  std::function<Result<EventPage>(int64_t since_seq, int64_t since_ms, size_t limit)> events;
  /// Appends an event to the log (admin actions: kind "admin").
  std::function<void(std::string kind, std::string message)> record_event;
  /// False while joining or draining: /readyz answers 503.
  std::function<bool()> ready;
  /// Every member this node knows, itself included (is_self, alive), in any order.
  std::function<std::vector<MemberInfo>()> members;
  /// Which version of session `id` each member holds, this node first (asks the members; may
  /// take up to a second). Empty callback: this node's own copy is the only holder shown.
  std::function<std::vector<HolderInfo>(const std::string& id)> holders;
  /// Drains or undrains the node `name` (this one, or a member the command is forwarded to).
  /// kNotFound for an unknown node; kBadRequest for bad timings; kUnavailable when the member
  /// cannot be reached.
  std::function<Result<DrainInfo>(const std::string& name, const DrainCommand& command)> drain;
  /// Farm deploy of the uploaded WAR at `war_file` (the callee takes the file) as app `name`,
  /// waiting up to `wait_ms` for the members (0: not at all). The error is this node's own.
  /// `only_node` non-empty: a per-node deploy — only that node (this one or a member) deploys
  /// it; kNotFound for an unknown node, kUnavailable for a member that is not alive.
  std::function<Result<DeployResult>(const std::string& name, const std::string& war_file,
                                     const std::string& only_node, int64_t wait_ms)>
      deploy_app;
  std::function<Result<DeployResult>(const std::string& name, int64_t wait_ms)> undeploy_app;
  /// Every member's farm-deployed apps, this node first (asks the members; up to a second).
  std::function<std::vector<MemberFarm>()> farm_apps;
  /// Where uploaded WARs are spooled (on the data dir's file system, so the deployer can take
  /// the file by rename); empty: uploads answer 503.
  std::string upload_dir;
  int64_t max_upload_bytes = 512LL << 20;  ///< <Sessiond maxWarBytes>
};

/// The admin token file, read or freshly made.
struct TokenFile {
  std::string token;
  bool created = false;   ///< this call generated it
  bool too_open = false;  ///< group/world may read it: the daemon should warn
};

/// Reads `token_file` (surrounding whitespace trimmed; empty is an error naming the file), or —
/// when it does not exist — creates it with mode 0600 holding 32 random bytes as 64 hex digits
/// (the parent folder is created 0700 when missing). O_EXCL: two daemons racing never share a
/// half-written token. kInternal naming the file on I/O errors.
Result<TokenFile> LoadOrCreateToken(const std::string& token_file);

/// The running endpoint. Thread-safety: see the file comment. Stop() is idempotent and the
/// destructor calls it.
class AdminServer {
 public:
  class Impl;
  /// Binds address:port (0 = any free port) and starts serving on its own threads.
  /// kUnavailable naming address:port when it cannot bind; kBadRequest for an empty token.
  static Result<std::unique_ptr<AdminServer>> Start(const std::string& address, uint16_t port,
                                                    std::string token, AdminServices services);
  ~AdminServer();
  AdminServer(const AdminServer&) = delete;
  AdminServer& operator=(const AdminServer&) = delete;

  /// The bound port.
  uint16_t port() const;
  /// Stops accepting, finishes in-flight requests, joins the threads.
  void Stop();

 private:
  explicit AdminServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace sessiond::admin
