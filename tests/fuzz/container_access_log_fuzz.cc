// Fuzzes the access log: a pattern (server.xml's AccessLogValve pattern) through
// AccessLogPattern::Parse, then a line formatted for a hostile request (method, target, query,
// headers, cookies: all from the client). Input: the pattern, "\n", then the request's fields
// separated by "\n": method, target, then header lines "Name: value". Properties: never a crash,
// and whatever the client sent, the line holds no control character that the pattern itself does
// not (so a request cannot forge or split log lines).
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "container/access_log_internal.h"

using namespace sessiond::container;

namespace {

// Splits off the text up to the next '\n' (all of it when there is none).
std::string_view NextLine(std::string_view* rest) {
  size_t nl = rest->find('\n');
  std::string_view line = rest->substr(0, nl);
  *rest = nl == std::string_view::npos ? std::string_view() : rest->substr(nl + 1);
  return line;
}

bool HasControl(std::string_view text) {
  for (unsigned char c : text)
    if (c < 0x20 || c == 0x7f) return true;
  return false;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view rest(reinterpret_cast<const char*>(data), size);
  std::string_view pattern = NextLine(&rest);
  AccessLogPattern compiled = AccessLogPattern::Parse(pattern);

  Request request;
  request.method = std::string(NextLine(&rest));
  request.target = std::string(NextLine(&rest));
  size_t q = request.target.find('?');
  request.path = request.target.substr(0, q);
  if (q != std::string::npos) request.query = request.target.substr(q + 1);
  while (!rest.empty()) {
    std::string_view line = NextLine(&rest);
    size_t colon = line.find(':');
    request.headers.emplace_back(std::string(line.substr(0, colon)),
                                 colon == std::string_view::npos ? "" : std::string(line.substr(colon + 1)));
  }
  request.remote_addr = "127.0.0.1";
  request.received_ms = 1764028800000;
  Response response = Response::Json(200, "{}");
  AccessRecord record;
  record.request = &request;
  record.response = &response;
  record.session_id = request.Cookie("JSESSIONID").value_or("");
  record.local_addr = "127.0.0.1";
  record.local_port = 8080;
  record.server_name = request.Header("Host").value_or("localhost");
  record.duration_us = static_cast<int64_t>(size) * 1000;

  std::string line;
  compiled.Format(record, &line);
  if (!HasControl(pattern) && HasControl(line)) std::abort();
  return 0;
}
