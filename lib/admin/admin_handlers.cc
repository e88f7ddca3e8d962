// Handlers for the node-level routes: health, readiness, metrics, status, apps, events.

#include "admin/admin_internal.h"

namespace sessiond::admin {

using nlohmann::json;

Status Unwired(const char* what) {
  return Status::Unavailable(std::string(what) + " is not available on this node yet");
}

namespace {

// The event's `fields` as a JSON object; a malformed text is kept as a string rather than lost.
json FieldsOf(const EventRecord& e) {
  if (e.fields_json.empty()) return json::object();
  json parsed = json::parse(e.fields_json, nullptr, /*allow_exceptions=*/false);
  return parsed.is_discarded() ? json(e.fields_json) : parsed;
}

json EventJson(const EventRecord& e) {
  return {{"seq", e.seq},   {"time", FormatRfc3339Millis(e.time_ms)},
          {"kind", e.kind}, {"node", e.node},
          {"message", e.message}, {"fields", FieldsOf(e)}};
}

json CountsJson(const MemberCounts& c) {
  return {{"alive", c.alive}, {"suspect", c.suspect}, {"dead", c.dead}, {"left", c.left}};
}

}  // namespace

Response Api::Healthz(const Request&) const {
  Response res;
  res.content_type = "text/plain";
  res.body = "ok\n";
  return res;
}

Response Api::Readyz(const Request&) const {
  bool ready = !services_.ready || services_.ready();
  json body = {{"ready", ready}};
  if (services_.status) {
    StatusInfo status = services_.status();
    body["mode"] = status.mode;
    body["node"] = status.name;  // sessctl undrain --wait checks it asked the right node
  }
  return JsonResponse(body, ready ? 200 : 503);
}

Response Api::Metrics(const Request&) const {
  if (!services_.metrics) return ErrorResponse(Unwired("metrics"));
  Response res;
  res.content_type = "text/plain; version=0.0.4; charset=utf-8";
  res.body = services_.metrics->RenderPrometheus();
  return res;
}

Response Api::GetStatus(const Request&) const {
  StatusInfo info;
  if (services_.status) {
    info = services_.status();
  } else {
    info.name = services_.node_name;
    info.version = SESSIOND_VERSION;
    if (services_.sessions) info.sessions = services_.sessions->Count();
  }
  bool ready = !services_.ready || services_.ready();
  json body = {
      {"name", info.name},
      {"version", info.version},
      {"started", info.started_ms > 0 ? json(FormatRfc3339Millis(info.started_ms)) : json()},
      {"uptime_seconds", info.uptime_ms / 1000},
      {"mode", info.mode},
      {"ready", ready},
      {"sessions", info.sessions},
      {"apps", info.apps},
      {"state_transfer",
       {{"state", info.state_transfer.state},
        {"received", info.state_transfer.received},
        {"expected", info.state_transfer.expected},
        {"error", info.state_transfer.error.empty() ? json() : json(info.state_transfer.error)}}},
  };
  // The daemon may fill the counts; else they come from the member list; null when neither.
  if (!info.members && services_.members) info.members = CountMembers(services_.members());
  body["members"] = info.members ? CountsJson(*info.members) : json();
  return JsonResponse(body);
}

Response Api::ListEvents(const Request& req) const {
  if (!services_.events) return ErrorResponse(Unwired("the event log"));
  Result<int64_t> since = IntParam(req, "since", 0, 0, INT64_MAX);
  if (!since.ok()) return ErrorResponse(since.status());
  Result<int64_t> since_ms = IntParam(req, "since_ms", 0, 0, INT64_MAX);
  if (!since_ms.ok()) return ErrorResponse(since_ms.status());
  Result<int64_t> limit = IntParam(req, "limit", 100, 1, 1000);
  if (!limit.ok()) return ErrorResponse(limit.status());

  Result<EventPage> page = services_.events(*since, *since_ms, static_cast<size_t>(*limit));
  if (!page.ok()) return ErrorResponse(page.status());
  json items = json::array();
  for (const EventRecord& e : page->items) items.push_back(EventJson(e));
  int64_t next = page->next_since;
  if (next == 0) next = page->items.empty() ? *since : page->items.back().seq;
  return JsonResponse({{"items", items}, {"next_since", next}});
}

}  // namespace sessiond::admin
