// The Container: wires the apps, the connector, the session API, the JSESSIONID cookie, the
// access log, metrics and the expiry timer. One request = one dispatch on a connector thread and
// one committed EventBatch.
#include "container/container.h"

#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <regex>
#include <thread>

#include "container/access_log_internal.h"
#include "container/apps_internal.h"
#include "container/http_server_internal.h"
#include "container/session_api_internal.h"

namespace sessiond::container {
namespace {

constexpr int64_t kPruneEveryMs = 60 * 1000;

std::string AppLabel(const std::string& context_path) {
  return context_path.empty() ? "ROOT" : context_path.substr(1);
}

/// What the metrics refresher may read; outlives the Container when the Registry does (the
/// Registry has no way to remove a refresher), so the Container detaches it when it dies.
struct GaugeSource {
  std::mutex mu;
  session::SessionStore* store = nullptr;  // GUARDED_BY(mu); null once detached
  const AppRegistry* apps = nullptr;       // GUARDED_BY(mu)
  metrics::Registry* registry = nullptr;
  std::map<std::string, metrics::Gauge*> gauges;  // GUARDED_BY(mu): by app label

  void Refresh() {
    std::lock_guard lock(mu);
    if (!store) return;
    for (auto& [label, gauge] : gauges) gauge->Set(0);  // apps that lost all sessions
    for (const auto& app : apps->List()) Gauge(AppLabel(app->path))->Set(0);
    for (const auto& [path, count] : store->CountByApp()) {
      Gauge(AppLabel(path))->Set(static_cast<double>(count));
    }
  }
  metrics::Gauge* Gauge(const std::string& label) {
    auto& g = gauges[label];
    if (!g) g = registry->GetGauge("sessiond_sessions", "Live sessions by app.", {{"app", label}});
    return g;
  }
};

}  // namespace

class Container::Impl {
 public:
  Impl(const config::NodeConfig& c, session::SessionStore* s, metrics::Registry* m, Hooks h)
      : config(c), store(s), registry(m), hooks(std::move(h)), apps(c.cluster.manager.session_timeout_s) {}
  ~Impl() { Shutdown(0); }

  Status Init();
  Status Start();
  void Shutdown(int64_t grace_ms);
  void Serve(Request& request, const ConnectionInfo& conn, Response* response);
  Response Dispatch(Request& request, session::EventBatch* batch, std::string* session_id);
  void CountStatus(int status);
  Status CompileValves();
  void BindRoute(RequestSession* rs);
  void FetchIfMissing(const App& app, std::optional<std::string_view> cookie_id);
  bool Filtered(const Request& request) const;
  void ExpiryLoop();

  config::NodeConfig config;
  session::SessionStore* store;
  metrics::Registry* registry;
  Hooks hooks;
  bool bind_routes = false;                 // JvmRouteBinderValve on (and a route_alive hook)
  std::optional<std::regex> replication_filter;  // ReplicationValve filter
  metrics::Counter* routes_rebound = nullptr;
  AppRegistry apps;
  std::vector<std::string> deploy_errors;
  SessionApiOptions api_options;
  CookieOptions cookie_options;
  std::unique_ptr<AccessLog> access_log;
  std::unique_ptr<HttpServer> server;
  std::shared_ptr<GaugeSource> gauges = std::make_shared<GaugeSource>();

  std::array<std::atomic<metrics::Counter*>, 600> by_code{};  // filled on first use of a code
  metrics::Histogram* duration = nullptr;
  metrics::Counter* sessions_created = nullptr;
  metrics::Counter* sessions_expired = nullptr;

  /// Drain: admission is counted before the refusal is read, and the drain sets the refusal
  /// before it reads the count (both seq_cst), so a request is either refused or counted.
  std::atomic<bool> refusing{false};
  std::atomic<int> retry_after_s{5};
  std::atomic<uint64_t> in_flight{0};

  std::mutex mu;
  std::condition_variable cv;
  bool started = false, stopping = false;  // GUARDED_BY(mu)
  std::thread expiry;
};

/// The valves of the file comment in container.h, from the <Cluster> config.
Status Container::Impl::CompileValves() {
  const config::ClusterConfig& c = config.cluster;
  bind_routes = c.enabled && c.jvm_route_binder && static_cast<bool>(hooks.route_alive);
  routes_rebound = registry->GetCounter(
      "sessiond_session_routes_rebound_total",
      "Session ids re-issued with this node's route because their node was not alive.");
  if (!c.enabled || c.replication_filter.empty()) return Status::Ok();
  try {
    replication_filter.emplace(c.replication_filter, std::regex::ECMAScript | std::regex::optimize);
  } catch (const std::regex_error& e) {
    return Status::BadRequest("ReplicationValve filter \"" + c.replication_filter +
                              "\" is not a valid regular expression: " + e.what());
  }
  return Status::Ok();
}

/// JvmRouteBinderValve: a session that came from a node that is gone (its route names a member
/// that is not alive) is re-issued under this node's route, so the load balancer's view and the
/// id agree again. Failure to re-issue is harmless: the request keeps the old id.
void Container::Impl::BindRoute(RequestSession* rs) {
  const session::Session* s = rs->Current();
  if (!s) return;
  std::string_view route = session::RouteOf(s->id);
  if (route == config.jvm_route || hooks.route_alive(route)) return;
  if (rs->ChangeRoute(config.jvm_route).ok()) routes_rebound->Inc();
}

/// Hooks::fetch_missing, only for ids that another alive member wrote and this node lacks.
void Container::Impl::FetchIfMissing(const App& app, std::optional<std::string_view> cookie_id) {
  if (!hooks.fetch_missing || !hooks.route_alive || !app.web.distributable || !cookie_id) return;
  std::string_view route = session::RouteOf(*cookie_id);
  if (route.empty() || route == config.jvm_route || !hooks.route_alive(route)) return;
  if (store->Contains(*cookie_id) || store->TombstoneOf(*cookie_id)) return;
  hooks.fetch_missing(*cookie_id, route);
}

bool Container::Impl::Filtered(const Request& request) const {
  return replication_filter && std::regex_match(request.path, *replication_filter);
}

Status Container::Impl::Init() {
  SESSIOND_RETURN_IF_ERROR(CompileValves());
  api_options.node_name = config.jvm_route;
  api_options.max_body_bytes = static_cast<uint64_t>(config.connector.max_body_bytes);
  cookie_options.secure = config.sessiond.cookie_secure;
  cookie_options.same_site = config.sessiond.cookie_same_site;
  SESSIOND_RETURN_IF_ERROR(
      DeployHostApps(config.host, config.sessiond.max_war_bytes, &apps, &deploy_errors));
  if (config.host.access_log.enabled) {
    auto log = AccessLog::Open(config.host.access_log);
    if (!log.ok()) return log.status();
    access_log = std::move(log.value());
  }
  duration = registry->GetHistogram("sessiond_http_request_duration_seconds",
                                    "Data-plane request handling time.");
  sessions_created = registry->GetCounter("sessiond_sessions_created_total", "Sessions created here.");
  sessions_expired = registry->GetCounter("sessiond_sessions_expired_total",
                                          "Sessions expired here by inactivity.");
  gauges->store = store;
  gauges->apps = &apps;
  gauges->registry = registry;
  registry->AddRefresher([weak = std::weak_ptr<GaugeSource>(gauges)] {
    if (auto g = weak.lock()) g->Refresh();
  });
  HttpServerOptions opts;
  opts.address = config.connector.address;
  opts.port = config.connector.port;
  opts.threads = config.connector.max_threads;
  opts.idle_timeout_ms = config.connector.connection_timeout_ms;
  opts.max_body_bytes = static_cast<uint64_t>(config.connector.max_body_bytes);
  server = std::make_unique<HttpServer>(
      opts, [this](Request& rq, const ConnectionInfo& c, Response* rs) { Serve(rq, c, rs); },
      [this](int status) { CountStatus(status); });
  return Status::Ok();
}

void Container::Impl::CountStatus(int status) {
  size_t i = status >= 0 && status < 600 ? static_cast<size_t>(status) : 0;
  metrics::Counter* c = by_code[i].load(std::memory_order_acquire);
  if (!c) {  // once per code: the registry's lock is off the hot path after that
    c = registry->GetCounter("sessiond_http_requests_total", "Data-plane requests by status code.",
                             {{"code", std::to_string(status)}});
    by_code[i].store(c, std::memory_order_release);
  }
  c->Inc();
}

/// One request, on a connector thread: dispatch, commit the request's events as one batch,
/// count it and log it.
void Container::Impl::Serve(Request& request, const ConnectionInfo& conn, Response* response) {
  auto start = std::chrono::steady_clock::now();
  session::EventBatch batch;
  std::string session_id;
  in_flight.fetch_add(1);
  bool admitted = !refusing.load();
  if (!admitted) {
    in_flight.fetch_sub(1);
    *response = Response::Error(503, "this node is drained; retry on another node");
    response->SetHeader("Retry-After", std::to_string(retry_after_s.load()));
  } else {
    *response = Dispatch(request, &batch, &session_id);
  }
  if (!batch.empty() && Filtered(request)) {
    for (session::Event& e : batch) e.distributable = false;  // persisted, never replicated
  }
  if (!batch.empty()) store->Commit(&batch);
  if (admitted) in_flight.fetch_sub(1);
  int64_t us = std::chrono::duration_cast<std::chrono::microseconds>(
                   std::chrono::steady_clock::now() - start).count();
  CountStatus(response->status);
  duration->Observe(static_cast<double>(us) / 1e6);
  if (access_log) {
    AccessRecord rec{&request, response, session_id, conn.local_addr, conn.local_port,
                     config.host.name, us, conn.loop_index};
    access_log->Log(rec);
  }
}

/// Resolves the app, then the cookie's session (touched when it is live), then serves the
/// session API or a static file. Static requests never create sessions.
Response Container::Impl::Dispatch(Request& request, session::EventBatch* batch,
                                   std::string* session_id) {
  std::shared_ptr<const App> app = apps.Resolve(request.path);
  if (!app) return Response::Error(404, "no app at " + request.path);
  std::string_view rel = std::string_view(request.path).substr(app->path.size());
  std::optional<std::string_view> cookie_id = request.Cookie("JSESSIONID");
  FetchIfMissing(*app, cookie_id);
  RequestSession rs(store, *app, cookie_id, batch);
  rs.Current();
  if (bind_routes) BindRoute(&rs);
  Response response = IsSessionApiPath(rel) ? HandleSessionApi(api_options, request, rel, &rs)
                                            : ServeStatic(*app, request, rel);
  rs.AddCookie(cookie_options, &response);
  if (rs.created()) sessions_created->Inc();
  session_id->assign(rs.id());
  return response;
}

/// The expiry timer: every second, invalidate idle sessions (one batch per sweep); every minute,
/// forget old tombstones.
void Container::Impl::ExpiryLoop() {
  int64_t next_prune = MonotonicMillis() + kPruneEveryMs;
  std::unique_lock lock(mu);
  while (!stopping) {
    cv.wait_for(lock, std::chrono::seconds(1), [&] { return stopping; });
    if (stopping) break;
    lock.unlock();
    session::EventBatch batch;
    size_t n = store->Expire(0, std::nullopt, &batch);
    store->Commit(&batch);
    if (n > 0) sessions_expired->Inc(n);
    if (MonotonicMillis() >= next_prune) {
      store->PruneTombstones();
      next_prune = MonotonicMillis() + kPruneEveryMs;
    }
    lock.lock();
  }
}

Status Container::Impl::Start() {
  std::lock_guard lock(mu);
  if (started) return Status::Conflict("the container is already started");
  if (stopping) return Status::Conflict("the container was shut down");
  SESSIOND_RETURN_IF_ERROR(server->Start());
  started = true;
  expiry = std::thread([this] { ExpiryLoop(); });
  return Status::Ok();
}

void Container::Impl::Shutdown(int64_t grace_ms) {
  {
    std::lock_guard lock(mu);
    if (stopping) return;
    stopping = true;
  }
  cv.notify_all();
  if (expiry.joinable()) expiry.join();
  if (server) server->Shutdown(grace_ms);
  if (access_log) access_log->Flush();
  std::lock_guard lock(gauges->mu);
  gauges->store = nullptr;  // the registry may call the refresher after we are gone
}

// ---- public face -------------------------------------------------------------------------------

Result<std::unique_ptr<Container>> Container::Create(const config::NodeConfig& config,
                                                     session::SessionStore* sessions,
                                                     metrics::Registry* metrics, Hooks hooks) {
  if (!sessions || !metrics) return Status::Internal("Container::Create: no session store or registry");
  auto impl = std::make_unique<Impl>(config, sessions, metrics, std::move(hooks));
  SESSIOND_RETURN_IF_ERROR(impl->Init());
  return std::unique_ptr<Container>(new Container(std::move(impl)));
}

Container::Container(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Container::~Container() = default;

Status Container::Start() { return impl_->Start(); }
uint16_t Container::http_port() const { return impl_->server->port(); }
void Container::Shutdown(int64_t grace_ms) { impl_->Shutdown(grace_ms); }

void Container::ReopenLogs() {
  if (impl_->access_log) impl_->access_log->Reopen();
}

void Container::SetRefusing(bool refusing, int retry_after_s) {
  impl_->retry_after_s = retry_after_s;
  impl_->refusing = refusing;
}

uint64_t Container::InFlight() const { return impl_->in_flight.load(); }

std::vector<AppInfo> Container::Apps() const {
  std::vector<AppInfo> out;
  for (const auto& app : impl_->apps.List()) {
    out.push_back({app->name, app->path, app->source, app->sha256, app->size_bytes,
                   app->deployed_ms, app->web.distributable, app->session_timeout_s});
  }
  return out;
}

Status Container::DeployApp(const std::string& context_path, const std::string& dir,
                            const std::string& sha256, uint64_t size_bytes) {
  return impl_->apps.DeployFolder(context_path, dir, dir, sha256, size_bytes);
}

Status Container::UndeployApp(const std::string& context_path) {
  return impl_->apps.Undeploy(context_path);
}

std::vector<std::string> Container::deploy_errors() const { return impl_->deploy_errors; }

}  // namespace sessiond::container
