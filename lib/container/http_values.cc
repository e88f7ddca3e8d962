// The small helpers of the project's own HTTP values (http_internal.h): header and cookie lookup,
// query parameters, percent-decoding, and the JSON responses of the data plane.
#include <nlohmann/json.hpp>
#include <unistd.h>

#include <cctype>

#include "base/base.h"
#include "container/http_internal.h"

namespace sessiond::container {
namespace {


std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

/// Finds `name` in one Cookie header value ("a=1; b=2").
std::optional<std::string_view> FindCookie(std::string_view header, std::string_view name) {
  while (!header.empty()) {
    size_t semi = header.find(';');
    std::string_view pair = Trim(header.substr(0, semi));
    header = semi == std::string_view::npos ? std::string_view() : header.substr(semi + 1);
    size_t eq = pair.find('=');
    if (eq == std::string_view::npos || Trim(pair.substr(0, eq)) != name) continue;
    std::string_view value = Trim(pair.substr(eq + 1));
    if (value.size() >= 2 && value.front() == '"' && value.back() == '"')
      value = value.substr(1, value.size() - 2);  // RFC 6265 allows a quoted value
    return value;
  }
  return std::nullopt;
}

/// The origin-form path+query of a request target; absolute-form ("http://h/p") is reduced to
/// its path. nullopt when it is neither (authority-form, "*", junk).
std::optional<std::string_view> OriginForm(std::string_view target) {
  if (!target.empty() && target[0] == '/') return target;
  size_t scheme = target.find("://");
  if (scheme == std::string_view::npos || scheme == 0) return std::nullopt;
  size_t slash = target.find('/', scheme + 3);
  if (slash == std::string_view::npos) return std::string_view("/");
  return target.substr(slash);
}

}  // namespace

bool SplitRequestTarget(Request* r) {
  std::optional<std::string_view> origin = OriginForm(r->target);
  if (!origin) return false;
  size_t q = origin->find('?');
  std::string_view raw_path = origin->substr(0, q);
  if (q == std::string_view::npos) {
    r->query.clear();
  } else {
    r->query.assign(origin->substr(q + 1));
  }
  std::optional<std::string> decoded = PercentDecode(raw_path, false);
  if (!decoded) return false;
  r->path = std::move(*decoded);
  return true;
}

OwnedFd::~OwnedFd() {
  if (fd_ >= 0) ::close(fd_);
}

std::optional<std::string_view> Request::Header(std::string_view name) const {
  for (const auto& [key, value] : headers)
    if (EqualsIgnoreCase(key, name)) return std::string_view(value);
  return std::nullopt;
}

std::optional<std::string_view> Request::Cookie(std::string_view name) const {
  for (const auto& [key, value] : headers) {
    if (!EqualsIgnoreCase(key, "Cookie")) continue;
    if (auto found = FindCookie(value, name)) return found;
  }
  return std::nullopt;
}

std::optional<std::string> Request::QueryParam(std::string_view name) const {
  std::string_view rest = query;
  while (!rest.empty()) {
    size_t amp = rest.find('&');
    std::string_view pair = rest.substr(0, amp);
    rest = amp == std::string_view::npos ? std::string_view() : rest.substr(amp + 1);
    size_t eq = pair.find('=');
    std::optional<std::string> key = PercentDecode(pair.substr(0, eq), true);
    if (!key || *key != name) continue;
    if (eq == std::string_view::npos) return std::string();
    std::optional<std::string> value = PercentDecode(pair.substr(eq + 1), true);
    if (value) return value;
  }
  return std::nullopt;
}

void Response::SetHeader(std::string name, std::string value) {
  for (auto& [key, old] : headers) {
    if (EqualsIgnoreCase(key, name)) {
      old = std::move(value);
      return;
    }
  }
  headers.emplace_back(std::move(name), std::move(value));
}

std::optional<std::string_view> Response::Header(std::string_view name) const {
  for (const auto& [key, value] : headers)
    if (EqualsIgnoreCase(key, name)) return std::string_view(value);
  return std::nullopt;
}

Response Response::Json(int status, std::string body) {
  Response r;
  r.status = status;
  r.SetHeader("Content-Type", "application/json");
  r.body = std::move(body);
  return r;
}

Response Response::Error(int status, std::string_view message) {
  std::string word(status == 405 ? "method_not_allowed"
                                 : status == 416 ? "range_not_satisfiable"
                                                 : ErrorWordOf(CodeOfHttpStatus(status)));
  nlohmann::json j = {{"error", word}, {"message", std::string(message)}};
  // Replace invalid UTF-8 rather than throw: messages may quote request bytes.
  return Json(status, j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
}

std::optional<std::string> PercentDecode(std::string_view text, bool plus_is_space) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '%') {
      if (i + 2 >= text.size()) return std::nullopt;
      int hi = HexValue(text[i + 1]), lo = HexValue(text[i + 2]);
      if (hi < 0 || lo < 0) return std::nullopt;
      c = static_cast<char>(hi * 16 + lo);
      i += 2;
    } else if (c == '+' && plus_is_space) {
      c = ' ';
    }
    if (c == '\0') return std::nullopt;
    out += c;
  }
  return out;
}

}  // namespace sessiond::container
