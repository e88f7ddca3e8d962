// Fuzzes the admin API's request handling — routing, the session-id and app checks, query
// parameters (parsed by cpp-httplib's own query parser, as the server does) and the JSON bodies of
// POST /v1/sessions/expire and POST /v1/nodes/{name}/drain — through Api::Handle, without a
// socket, against a real SessionStore. The drain service is wired to an in-memory node table (as
// the daemon's answers it, minus the cluster) so the drain body's parser is reached.
// Input: "METHOD TARGET\n" then the body. The first byte of METHOD picks a real method when it is
// not a letter, so most inputs reach a route. Properties: never a crash or throw, a status in
// 200..599, and every JSON answer parses.
#include <httplib.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <string>

#include "admin/admin_internal.h"

using namespace sessiond;
using namespace sessiond::admin;

namespace {

constexpr char kToken[] = "fuzz-token";

struct World {
  std::unique_ptr<session::SessionStore> store;
  std::unique_ptr<Api> api;
  World() {
    session::SessionStore::Options o;
    o.node_name = "fuzz";
    store = std::make_unique<session::SessionStore>(o);
    AdminServices services;
    services.sessions = store.get();
    services.node_name = "fuzz";
    services.drain = [](const std::string& name, const DrainCommand& command) -> Result<DrainInfo> {
      if (name != "fuzz" && name != "other") return Status::NotFound("no member named " + name);
      DrainInfo info;
      info.node = name;
      info.mode = command.undrain ? "active" : "draining";
      info.grace_ms = command.grace_ms.value_or(30000);
      info.deadline_ms = command.deadline_ms.value_or(60000);
      info.shutdown = command.shutdown;
      info.forwarded = name != "fuzz";
      return info;
    };
    api = std::make_unique<Api>(kToken, std::move(services));
  }
  // Keeps a few sessions in the store (expire and delete remove them).
  void Refill() {
    while (store->Count() < 3) {
      session::EventBatch batch;
      auto s = store->Create("/app", 1800, true, &batch);
      if (s.ok()) (void)store->SetAttribute(s->id, "a", "1", &batch);
      store->Commit(&batch);
    }
  }
};

std::string PickMethod(const std::string& word) {
  static const char* kMethods[] = {"GET", "POST", "DELETE", "PUT", "HEAD", "PATCH"};
  if (!word.empty() && !std::isalpha(static_cast<unsigned char>(word[0])))
    return kMethods[static_cast<unsigned char>(word[0]) % 6];
  return word;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static World* world = new World();
  world->Refill();
  std::string bytes(reinterpret_cast<const char*>(data), size);
  size_t line_end = bytes.find('\n');
  std::string line = bytes.substr(0, line_end);
  std::string body = line_end == std::string::npos ? "" : bytes.substr(line_end + 1);
  size_t space = line.find(' ');
  Request req;
  req.method = PickMethod(line.substr(0, space));
  std::string target = space == std::string::npos ? "/v1/sessions" : line.substr(space + 1);
  size_t q = target.find('?');
  req.path = httplib::detail::decode_url(target.substr(0, q), false);
  if (q != std::string::npos) {
    httplib::Params params;
    httplib::detail::parse_query_text(target.substr(q + 1), params);
    for (auto& [k, v] : params) req.params.emplace(k, v);
  }
  req.body = body;
  req.authorization = std::string("Bearer ") + kToken;
  Response res = world->api->Handle(req);
  if (res.status < 200 || res.status > 599) std::abort();
  if (res.content_type == "application/json" &&
      nlohmann::json::parse(res.body, nullptr, false).is_discarded())
    std::abort();
  return 0;
}
