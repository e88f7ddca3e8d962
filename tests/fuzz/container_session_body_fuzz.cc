// Feeds arbitrary bytes to the session API as request bodies — a PUT of an attribute and a PATCH
// of the session — through the same handler the connector calls, without a socket. The first
// byte picks the attribute name's length so names vary too. Must never crash or hang.
#include <cstddef>
#include <cstdint>
#include <string>

#include "container/session_api_internal.h"

using namespace sessiond;
using namespace sessiond::container;

namespace {

struct World {
  session::HybridClock clock;
  std::unique_ptr<session::SessionStore> store;
  App app;
  SessionApiOptions options;
  World() {
    session::SessionStore::Options o;
    o.node_name = "fuzz";
    o.clock = &clock;
    store = std::make_unique<session::SessionStore>(o);
    app.path = "/app";
    app.name = "app";
    options.node_name = "fuzz";
    options.max_body_bytes = 1 << 16;
  }
};

Response Call(World& w, const std::string& method, const std::string& target, const std::string& body,
              std::string* id) {
  Request r;
  r.method = method;
  r.target = target;
  r.path = PercentDecode(target, false).value_or("/app/.session");
  r.body = body;
  session::EventBatch batch;
  std::optional<std::string_view> cookie;
  if (!id->empty()) cookie = *id;
  RequestSession rs(w.store.get(), w.app, cookie, &batch);
  std::string_view rel = std::string_view(r.path).substr(std::min(r.path.size(), w.app.path.size()));
  Response resp = HandleSessionApi(w.options, r, rel, &rs);
  w.store->Commit(&batch);
  if (!rs.id().empty()) *id = std::string(rs.id());
  return resp;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // A fresh store for every input (64 empty shards: microseconds). One store for the process ran
  // at ~40 exec/s: each input left a tombstone behind, so libFuzzer saw more mallocs than frees
  // every time and ran a full LeakSanitizer scan of the heap after every input.
  World world;
  std::string bytes(reinterpret_cast<const char*>(data), size);
  size_t name_len = size > 0 ? data[0] % 8 : 0;
  std::string name = bytes.substr(0, std::min(name_len, size));
  std::string target = "/app/.session/attributes/" + name;
  std::string id;
  Call(world, "PUT", target, bytes, &id);
  Call(world, "PATCH", "/app/.session", bytes, &id);
  Call(world, "GET", "/app/.session", "", &id);
  Call(world, "DELETE", target, "", &id);
  Call(world, "DELETE", "/app/.session", "", &id);
  return 0;
}
