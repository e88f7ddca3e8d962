// Fuzzes the data-plane connector's request path without a socket: raw HTTP/1.1 bytes through
// Beast's request parser (as http_server.cc configures it), then everything that is ours —
// SplitRequestTarget (origin/absolute form, percent-decoding), app resolution, Cookie/QueryParam/
// Header lookups, the session API or static files (Range, If-Modified-Since, welcome files,
// WEB-INF) — from an app folder made once per process. Properties: never a crash, and a file
// answer is always inside the app's folder and never under WEB-INF or META-INF.
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "container/apps_internal.h"
#include "container/session_api_internal.h"

using namespace sessiond;
using namespace sessiond::container;
namespace http = boost::beast::http;

namespace {

void Write(const std::filesystem::path& path, const std::string& text) {
  std::filesystem::create_directories(path.parent_path());
  std::ofstream(path) << text;
}

struct World {
  std::filesystem::path dir;
  std::unique_ptr<session::SessionStore> store;
  AppRegistry apps{1800};
  SessionApiOptions api_options;
  World() {
    char tmpl[] = "/tmp/sessiond-fuzz-http-XXXXXX";
    dir = ::mkdtemp(tmpl);
    Write(dir / "secret.txt", "outside the app");
    Write(dir / "app/index.html", "<h1>hi</h1>");
    Write(dir / "app/a.txt", std::string(300, 'a'));
    Write(dir / "app/sub/b.css", "b{}");
    Write(dir / "app/WEB-INF/web.xml", "<web-app><welcome-file-list><welcome-file>index.html"
                                       "</welcome-file></welcome-file-list></web-app>");
    Write(dir / "app/META-INF/MANIFEST.MF", "Manifest-Version: 1.0\n");
    Write(dir / "ROOT/index.html", "root");
    if (!apps.DeployFolder("/app", (dir / "app").string(), "app", "", 0).ok()) std::abort();
    if (!apps.DeployFolder("", (dir / "ROOT").string(), "ROOT", "", 0).ok()) std::abort();
    session::SessionStore::Options o;
    o.node_name = "fuzz";
    store = std::make_unique<session::SessionStore>(o);
    api_options.node_name = "fuzz";
    api_options.max_body_bytes = 1 << 16;
  }
  ~World() { std::filesystem::remove_all(dir); }
};

World* TheWorld() {
  static World* world = [] {
    static World w;  // destroyed at exit: the temporary folder goes away
    return &w;
  }();
  return world;
}

void CheckFileAnswer(const App& app, const Response& res) {
  if (!res.file) return;
  const std::string& path = res.file->path;
  std::string root = app.root_dir + "/";
  if (path.compare(0, root.size(), root) != 0 && path != app.root_dir) std::abort();
  if (path.find("/WEB-INF") != std::string::npos || path.find("/META-INF") != std::string::npos)
    std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  World& w = *TheWorld();
  http::request_parser<http::string_body> parser;
  parser.header_limit(16 * 1024);
  parser.body_limit(1 << 16);
  parser.eager(true);
  boost::beast::error_code ec;
  parser.put(boost::asio::buffer(data, size), ec);
  if (ec || !parser.is_done()) return 0;
  auto& msg = parser.get();

  Request r;
  r.method.assign(msg.method_string().data(), msg.method_string().size());
  r.target.assign(msg.target().data(), msg.target().size());
  if (!SplitRequestTarget(&r)) return 0;
  for (const auto& field : msg) {
    r.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
  }
  r.body = msg.body();
  (void)r.QueryParam("create");
  (void)r.Header("range");

  std::shared_ptr<const App> app = w.apps.Resolve(r.path);
  if (!app) return 0;
  std::string_view rel = std::string_view(r.path).substr(app->path.size());
  session::EventBatch batch;
  RequestSession rs(w.store.get(), *app, r.Cookie("JSESSIONID"), &batch);
  rs.Current();
  Response res = IsSessionApiPath(rel) ? HandleSessionApi(w.api_options, r, rel, &rs)
                                       : ServeStatic(*app, r, rel);
  rs.AddCookie(CookieOptions{}, &res);
  CheckFileAnswer(*app, res);
  w.store->Commit(&batch);
  // Keep the store small across inputs.
  if (!rs.id().empty()) {
    session::EventBatch drop;
    (void)w.store->Invalidate(rs.id(), &drop);
    w.store->Commit(&drop);
  }
  return 0;
}
