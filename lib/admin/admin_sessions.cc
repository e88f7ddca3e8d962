// Handlers for /v1/sessions: list with filters and cursor paging, show, invalidate, bulk expire.

#include "admin/admin_internal.h"

namespace sessiond::admin {

using nlohmann::json;

namespace {

constexpr int64_t kDefaultLimit = 100;
constexpr int64_t kMaxLimit = 1000;
constexpr int64_t kMaxSeconds = INT64_MAX / 1000;

json SummaryJson(const session::Session& s, int64_t now_ms) {
  int64_t idle_ms = std::max<int64_t>(0, now_ms - s.last_accessed_ms);
  return {{"id", s.id},
          {"app", s.app},
          {"last_node", s.last_node},
          {"created", FormatRfc3339Millis(s.created_ms)},
          {"last_accessed", FormatRfc3339Millis(s.last_accessed_ms)},
          {"idle_seconds", idle_ms / 1000},
          {"size_bytes", s.SizeBytes()},
          {"max_inactive_seconds", s.max_inactive_s},
          {"distributable", s.distributable},
          {"version", s.version}};
}

// Attribute values are JSON texts the container validated; one that does not parse is shown as a
// string rather than failing the whole answer.
json AttributesJson(const session::Session& s) {
  json out = json::object();
  for (const auto& [name, attr] : s.attributes) {
    json value = json::parse(attr.json, nullptr, /*allow_exceptions=*/false);
    out[name] = value.is_discarded() ? json(attr.json) : value;
  }
  return out;
}

Status CheckId(const std::string& id) {
  if (session::IsWellFormedId(id)) return Status::Ok();
  return Status::BadRequest("malformed session id (want 32 hex digits and an optional .route)");
}

// The app an operator named ("myapp", "/myapp", "ROOT", "/") as a context path; nullopt (every
// app) when none was named or the name is empty. ROOT's context path is "", so "" cannot be "any".
std::optional<std::string> AppFilter(const std::string* app) {
  if (!app || app->empty()) return std::nullopt;
  return NormalizeAppPath(*app);
}

// Reads {"app"?: string, "idle_over_seconds": integer >= 0}; errors name the field.
Status ParseExpireBody(const std::string& body, std::optional<std::string>* app,
                       int64_t* idle_over_s) {
  json j = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object())
    return Status::BadRequest("body must be a JSON object {\"app\"?, \"idle_over_seconds\"}");
  auto idle = j.find("idle_over_seconds");
  if (idle == j.end())
    return Status::BadRequest("field 'idle_over_seconds' is required");
  // At least 1: the store reads 0 as "only the already expired", which no operator means.
  if (!idle->is_number_integer() || idle->get<int64_t>() < 1 ||
      idle->get<int64_t>() > kMaxSeconds)
    return Status::BadRequest("field 'idle_over_seconds' must be a positive integer");
  *idle_over_s = idle->get<int64_t>();
  auto a = j.find("app");
  if (a != j.end() && !a->is_null()) {
    if (!a->is_string()) return Status::BadRequest("field 'app' must be a string");
    *app = AppFilter(a->get_ptr<const std::string*>());
  }
  for (const auto& [key, value] : j.items()) {
    if (key != "app" && key != "idle_over_seconds")
      return Status::BadRequest("unknown field '" + key + "'");
  }
  return Status::Ok();
}

}  // namespace

Response Api::ListSessions(const Request& req) const {
  if (!services_.sessions) return ErrorResponse(Status::Unavailable("no session store"));
  Result<int64_t> limit = IntParam(req, "limit", kDefaultLimit, 1, kMaxLimit);
  if (!limit.ok()) return ErrorResponse(limit.status());
  Result<int64_t> idle_over = IntParam(req, "idle_over", 0, 0, kMaxSeconds);
  if (!idle_over.ok()) return ErrorResponse(idle_over.status());

  session::ListFilter filter;
  filter.app = AppFilter(req.Param("app"));
  if (const std::string* node = req.Param("node")) filter.node = *node;
  if (const std::string* cursor = req.Param("cursor"); cursor && !cursor->empty()) {
    if (!session::IsWellFormedId(*cursor))
      return ErrorResponse(Status::BadRequest("parameter 'cursor' is not one this API issued"));
    filter.after_id = *cursor;
  }
  filter.idle_over_ms = *idle_over * 1000;
  filter.limit = static_cast<size_t>(*limit) + 1;  // one more tells whether a next page exists

  std::vector<session::Session> found = services_.sessions->List(filter);
  bool more = found.size() > static_cast<size_t>(*limit);
  if (more) found.resize(static_cast<size_t>(*limit));
  int64_t now = WallMillis();
  json items = json::array();
  for (const session::Session& s : found) items.push_back(SummaryJson(s, now));
  json next = more ? json(found.back().id) : json();
  return JsonResponse({{"items", items}, {"next_cursor", next}});
}

/// [{"node", "version" (null when not held), "answered"}], this node first.
json Api::HoldersJson(const std::string& id, uint64_t own_version) const {
  if (!services_.holders) {
    return json::array({{{"node", services_.node_name}, {"version", own_version}, {"answered", true}}});
  }
  json out = json::array();
  for (const HolderInfo& h : services_.holders(id)) {
    out.push_back({{"node", h.node},
                   {"version", h.version ? json(*h.version) : json()},
                   {"answered", h.answered}});
  }
  return out;
}

Response Api::ShowSession(const Request& req, const std::string& id) const {
  if (Status st = CheckId(id); !st.ok()) return ErrorResponse(st);
  if (!services_.sessions) return ErrorResponse(Status::Unavailable("no session store"));
  std::optional<session::Session> s = services_.sessions->Get(id);
  if (!s) return ErrorResponse(Status::NotFound("no session " + id));
  json body = SummaryJson(*s, WallMillis());
  body["attributes"] = AttributesJson(*s);
  body["holders"] = HoldersJson(id, s->version);
  return JsonResponse(body);
}

Response Api::DeleteSession(const Request& req, const std::string& id) const {
  if (Status st = CheckId(id); !st.ok()) return ErrorResponse(st);
  if (!services_.sessions) return ErrorResponse(Status::Unavailable("no session store"));
  if (!services_.sessions->Get(id)) return ErrorResponse(Status::NotFound("no session " + id));
  session::EventBatch batch;
  Status st = services_.sessions->Invalidate(id, &batch);
  services_.sessions->Commit(&batch);
  if (!st.ok()) return ErrorResponse(st);
  RecordEvent("session " + id + " invalidated by operator");
  return JsonResponse({{"id", id}, {"invalidated", true}});
}

Response Api::ExpireSessions(const Request& req) const {
  if (!services_.sessions) return ErrorResponse(Status::Unavailable("no session store"));
  std::optional<std::string> app;
  int64_t idle_over_s = 0;
  if (Status st = ParseExpireBody(req.body, &app, &idle_over_s); !st.ok())
    return ErrorResponse(st);
  session::EventBatch batch;
  size_t expired = services_.sessions->Expire(idle_over_s * 1000, app, &batch);
  services_.sessions->Commit(&batch);
  if (expired > 0) {
    RecordEvent(std::to_string(expired) + " session(s)" + (app ? " of " + (app->empty() ? "ROOT" : *app) : "") +
                " idle over " + FormatDurationMillis(idle_over_s * 1000) +
                " expired by operator");
  }
  return JsonResponse({{"expired", expired}});
}

}  // namespace sessiond::admin
