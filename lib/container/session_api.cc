// The session API ({ctx}/.session…, DESIGN.md §6) and the per-request session. Request bodies are
// parsed with nlohmann::json here, the adapter: its exceptions never leave this file. Values are
// stored as compact JSON text (json.dump()); the store never parses them.
#include "container/session_api_internal.h"

#include <nlohmann/json.hpp>

namespace sessiond::container {
namespace {

using nlohmann::json;

constexpr std::string_view kSessionPath = "/.session";
constexpr std::string_view kAttributesPrefix = "/.session/attributes/";

Response MethodNotAllowed(std::string_view allow) {
  Response r = Response::Error(405, "method not allowed");
  r.SetHeader("Allow", std::string(allow));
  return r;
}

Response NoContent() {
  Response r;
  r.status = 204;
  return r;
}

/// Deepest [ / { nesting outside strings: nlohmann's dump and merge_patch recurse, so depth is
/// bounded before they ever see the value.
size_t NestingDepth(std::string_view text) {
  size_t depth = 0, max_depth = 0;
  bool in_string = false, escaped = false;
  for (char c : text) {
    if (in_string) {
      if (escaped) escaped = false;
      else if (c == '\\') escaped = true;
      else if (c == '"') in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      max_depth = std::max(max_depth, ++depth);
    } else if ((c == ']' || c == '}') && depth > 0) {
      --depth;
    }
  }
  return max_depth;
}

/// "syntax error while parsing value - invalid literal; last read: 'x'" out of nlohmann's what().
std::string ParseErrorText(const json::parse_error& e) {
  std::string_view what = e.what();
  size_t at = what.find("parse error");
  size_t colon = at == std::string_view::npos ? at : what.find(": ", at);
  if (colon != std::string_view::npos) return std::string(what.substr(colon + 2));
  return std::string(what);
}

/// Parses a request body as one JSON value; the Response is the 400/413 to answer otherwise.
std::optional<Response> ParseBody(const SessionApiOptions& options, const std::string& body, json* out) {
  if (body.size() > options.max_body_bytes) {
    return Response::Error(413, "request body over " + std::to_string(options.max_body_bytes) + " bytes");
  }
  if (NestingDepth(body) > options.max_json_depth) {
    return Response::Error(400, "invalid JSON body: nested deeper than " +
                                    std::to_string(options.max_json_depth) + " levels");
  }
  try {
    *out = json::parse(body);
    return std::nullopt;
  } catch (const json::parse_error& e) {
    return Response::Error(400, "invalid JSON body: " + ParseErrorText(e) + " at byte " +
                                    std::to_string(e.byte));
  } catch (const json::exception& e) {
    return Response::Error(400, std::string("invalid JSON body: ") + e.what());
  }
}

std::string Compact(const json& value) {
  return value.dump(-1, ' ', false, json::error_handler_t::replace);
}

Response ErrorFor(const Status& s) {
  return Response::Error(HttpStatusOf(s.code()), s.message());
}

Response SessionBody(const SessionApiOptions& options, const session::Session& s) {
  return Response::Json(200, session::SessionToJson(s, options.node_name));
}

Response GetSession(const SessionApiOptions& options, const Request& request, RequestSession* rs) {
  auto create = request.QueryParam("create");
  if (create && *create == "false") {
    const session::Session* s = rs->Current();
    if (!s) return Response::Error(404, "no session");
    return SessionBody(options, *s);
  }
  auto s = rs->GetOrCreate();
  if (!s.ok()) return ErrorFor(s.status());
  return SessionBody(options, **s);
}

/// RFC 7396 on the attributes object: each top-level member is merged into the attribute of that
/// name (null removes it; an object merges recursively into an object value).
Response PatchSession(const SessionApiOptions& options, const Request& request, RequestSession* rs) {
  json patch;
  if (auto error = ParseBody(options, request.body, &patch)) return std::move(*error);
  if (!patch.is_object()) return Response::Error(400, "a merge patch body must be a JSON object");
  auto s = rs->GetOrCreate();
  if (!s.ok()) return ErrorFor(s.status());
  const session::Session& current = **s;
  std::string id = current.id;
  try {
    for (const auto& [name, value] : patch.items()) {
      if (value.is_null()) {
        Status st = rs->store()->RemoveAttribute(id, name, rs->batch());
        if (!st.ok() && st.code() != Code::kNotFound) return ErrorFor(st);  // absent: a no-op
        continue;
      }
      json target;  // null unless the attribute exists: merge_patch then builds the value afresh
      auto old = current.attributes.find(name);
      if (value.is_object() && old != current.attributes.end()) {
        target = json::parse(old->second.json, nullptr, /*allow_exceptions=*/false);
        if (target.is_discarded()) target = nullptr;
      }
      target.merge_patch(value);
      Status st = rs->store()->SetAttribute(id, name, Compact(target), rs->batch());
      if (!st.ok()) return ErrorFor(st);
    }
  } catch (const json::exception& e) {
    return Response::Error(400, std::string("cannot apply merge patch: ") + e.what());
  }
  rs->Refresh();
  if (!rs->Current()) return Response::Error(404, "the session was invalidated");
  return SessionBody(options, *rs->Current());
}

Response SessionRoot(const SessionApiOptions& options, const Request& request, RequestSession* rs) {
  const std::string& m = request.method;
  if (m == "GET" || m == "HEAD") return GetSession(options, request, rs);
  if (m == "PATCH") return PatchSession(options, request, rs);
  if (m == "DELETE") {
    Status st = rs->Invalidate();
    if (!st.ok()) return ErrorFor(st);
    return NoContent();
  }
  return MethodNotAllowed("GET, HEAD, PATCH, DELETE");
}

/// The attribute name from the raw target: what follows "/.session/attributes/", decoded.
std::optional<std::string> AttributeName(const Request& request) {
  std::string_view raw = request.target;
  raw = raw.substr(0, raw.find('?'));
  size_t at = raw.find(kAttributesPrefix);
  if (at == std::string_view::npos) return std::nullopt;
  return PercentDecode(raw.substr(at + kAttributesPrefix.size()), false);
}

Response Attribute(const SessionApiOptions& options, const Request& request, RequestSession* rs) {
  auto name = AttributeName(request);
  if (!name) return Response::Error(400, "malformed attribute name");
  if (name->empty()) return Response::Error(400, "the attribute name must not be empty");
  if (name->size() > options.max_name_bytes) {
    return Response::Error(400, "attribute name over " + std::to_string(options.max_name_bytes) + " bytes");
  }
  const std::string& m = request.method;
  if (m == "GET" || m == "HEAD") {
    const session::Session* s = rs->Current();
    if (!s) return Response::Error(404, "no session");
    auto it = s->attributes.find(*name);
    if (it == s->attributes.end()) return Response::Error(404, "no attribute " + *name);
    return Response::Json(200, it->second.json);
  }
  if (m == "PUT") {
    json value;
    if (auto error = ParseBody(options, request.body, &value)) return std::move(*error);
    auto s = rs->GetOrCreate();
    if (!s.ok()) return ErrorFor(s.status());
    Status st = rs->store()->SetAttribute((*s)->id, *name, Compact(value), rs->batch());
    if (!st.ok()) return ErrorFor(st);
    return NoContent();
  }
  if (m == "DELETE") {
    const session::Session* s = rs->Current();
    if (!s) return Response::Error(404, "no session");
    Status st = rs->store()->RemoveAttribute(s->id, *name, rs->batch());
    if (!st.ok()) return ErrorFor(st);
    return NoContent();
  }
  return MethodNotAllowed("GET, HEAD, PUT, DELETE");
}

}  // namespace

// ---- RequestSession --------------------------------------------------------------------------

RequestSession::RequestSession(session::SessionStore* store, const App& app,
                               std::optional<std::string_view> cookie_id, session::EventBatch* batch)
    : store_(store), app_(app), batch_(batch) {
  if (cookie_id && session::IsWellFormedId(*cookie_id)) cookie_id_.assign(*cookie_id);
}

const session::Session* RequestSession::Current() {
  if (!looked_up_) {
    looked_up_ = true;
    if (!cookie_id_.empty()) {
      auto s = store_->Access(app_.path, cookie_id_, batch_);
      if (s.ok()) current_ = std::move(s.value());
    }
  }
  return current_ ? &*current_ : nullptr;
}

Result<const session::Session*> RequestSession::GetOrCreate() {
  if (const session::Session* s = Current()) return s;
  auto s = store_->Create(app_.path, app_.session_timeout_s, app_.web.distributable, batch_);
  if (!s.ok()) return s.status();
  current_ = std::move(s.value());
  created_ = true;
  cleared_ = false;
  return &*current_;
}

Status RequestSession::Invalidate() {
  const session::Session* s = Current();
  if (!s) {
    cleared_ = !cookie_id_.empty();  // a stale cookie is cleared all the same
    return Status::NotFound("no session");
  }
  Status st = store_->Invalidate(s->id, batch_);
  current_.reset();
  created_ = false;
  cleared_ = true;
  return st;
}

void RequestSession::Refresh() {
  if (!current_) return;
  auto fresh = store_->Get(current_->id);
  if (fresh) {
    current_ = std::move(*fresh);
  } else {
    current_.reset();
  }
}

Status RequestSession::ChangeRoute(std::string_view route) {
  if (!Current()) return Status::NotFound("no session");
  auto new_id = store_->ChangeRoute(current_->id, route, batch_);
  if (!new_id.ok()) return new_id.status();
  current_->id = *new_id;
  Refresh();
  return Status::Ok();
}

void RequestSession::AddCookie(const CookieOptions& options, Response* response) const {
  if (current_ && (created_ || (!cookie_id_.empty() && current_->id != cookie_id_))) {
    response->headers.emplace_back("Set-Cookie", SessionCookie(app_, current_->id, options, false));
  } else if (cleared_) {
    response->headers.emplace_back("Set-Cookie", SessionCookie(app_, "", options, true));
  }
}

// ---- the API ---------------------------------------------------------------------------------

bool IsSessionApiPath(std::string_view rel_path) {
  if (rel_path.substr(0, kSessionPath.size()) != kSessionPath) return false;
  return rel_path.size() == kSessionPath.size() || rel_path[kSessionPath.size()] == '/';
}

Response HandleSessionApi(const SessionApiOptions& options, const Request& request,
                          std::string_view rel_path, RequestSession* session) {
  try {
    if (rel_path == kSessionPath || rel_path == "/.session/") {
      return SessionRoot(options, request, session);
    }
    if (rel_path.substr(0, kAttributesPrefix.size()) == kAttributesPrefix) {
      return Attribute(options, request, session);
    }
    if (rel_path == "/.session/attributes") {
      return Response::Error(400, "the attribute name must not be empty");
    }
    return Response::Error(404, "no such session resource");
  } catch (const std::exception& e) {  // bad_alloc and the like: answer, never unwind the loop
    return Response::Error(500, std::string("internal error: ") + e.what());
  }
}

std::string SessionCookie(const App& app, std::string_view id, const CookieOptions& options, bool clear) {
  std::string c = "JSESSIONID=";
  c += id;
  c += "; Path=";
  c += app.path.empty() ? "/" : app.path;
  if (clear) c += "; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT";
  c += "; HttpOnly";
  if (options.secure) c += "; Secure";
  if (!options.same_site.empty()) {
    c += "; SameSite=";
    c += options.same_site;
  }
  return c;
}

}  // namespace sessiond::container
