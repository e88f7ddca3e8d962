#include "ctl/client.h"

#include <httplib.h>

#include <algorithm>
#include <fstream>
#include <memory>
#include <vector>
#include <regex>
#include <sstream>

namespace sessctl {

using nlohmann::json;
using sessiond::Code;

namespace {

std::string Trim(const std::string& s) {
  const char* ws = " \t\r\n";
  size_t begin = s.find_first_not_of(ws);
  if (begin == std::string::npos) return "";
  return s.substr(begin, s.find_last_not_of(ws) - begin + 1);
}

// Connection-level failures: the endpoint cannot be reached, so exit 3 (kUnavailable).
Status TransportError(const std::string& endpoint, httplib::Error error) {
  std::string why;
  switch (error) {
    case httplib::Error::Connection: why = "connection refused or host unreachable"; break;
    case httplib::Error::ConnectionTimeout: why = "timed out connecting"; break;
    case httplib::Error::Read: why = "no answer (timed out or connection closed)"; break;
    case httplib::Error::Write: why = "connection closed while sending"; break;
    case httplib::Error::SSLConnection:
    case httplib::Error::SSLServerVerification: why = "TLS handshake failed"; break;
    default: why = httplib::to_string(error); break;
  }
  return Status::Unavailable("cannot reach " + endpoint + ": " + why);
}

// The server's {"error","message"} answer, keeping its code; a non-JSON body is quoted briefly.
Status HttpError(int status, const std::string& body) {
  Code code = sessiond::CodeOfHttpStatus(status);
  json j = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (j.is_object() && j.contains("message") && j["message"].is_string())
    return Status(code, j["message"].get<std::string>());
  std::string text = Trim(body).substr(0, 200);
  return Status(code, "HTTP " + std::to_string(status) + (text.empty() ? "" : ": " + text));
}

Result<json> Finish(const std::string& endpoint, const httplib::Result& res) {
  if (!res) return TransportError(endpoint, res.error());
  if (res->status < 200 || res->status >= 300) return HttpError(res->status, res->body);
  if (res->body.empty()) return json::object();
  json j = json::parse(res->body, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return Status::Internal("the server at " + endpoint + " sent invalid JSON");
  return j;
}

}  // namespace

Result<std::string> ResolveToken(const std::string& token, const std::string& token_file) {
  if (!Trim(token).empty()) return Trim(token);
  std::ifstream in(token_file);
  std::stringstream text;
  if (in) text << in.rdbuf();
  if (!in || Trim(text.str()).empty()) {
    return Status::Unauthorized(
        "cannot read the admin token from " + token_file +
        " (give --token-file or set SESSCTL_TOKEN_FILE, or put the token in SESSCTL_TOKEN)");
  }
  return Trim(text.str());
}

Result<std::unique_ptr<Client>> Client::Create(const std::string& endpoint, std::string token,
                                               int64_t timeout_ms) {
  static const std::regex kEndpoint(R"(^(https?)://([A-Za-z0-9._-]+|\[[0-9A-Fa-f:.]+\])(:\d{1,5})?/?$)");
  if (!std::regex_match(endpoint, kEndpoint)) {
    return Status::BadRequest("invalid endpoint '" + endpoint +
                              "' (want http://HOST:PORT, e.g. " + kDefaultEndpoint + ")");
  }
  std::string base = endpoint.back() == '/' ? endpoint.substr(0, endpoint.size() - 1) : endpoint;
  auto http = std::make_unique<httplib::Client>(base);
  time_t sec = static_cast<time_t>(timeout_ms / 1000);
  time_t usec = static_cast<time_t>((timeout_ms % 1000) * 1000);
  http->set_connection_timeout(sec, usec);
  http->set_read_timeout(sec, usec);
  http->set_write_timeout(sec, usec);
  http->set_tcp_nodelay(true);
  return std::unique_ptr<Client>(new Client(base, std::move(http), std::move(token)));
}

Client::Client(std::string endpoint, std::unique_ptr<httplib::Client> http, std::string token)
    : endpoint_(std::move(endpoint)), http_(std::move(http)), token_(std::move(token)) {
  http_->set_bearer_token_auth(token_.c_str());
}

Client::~Client() = default;

Result<json> Client::Get(const std::string& path) {
  return Finish(endpoint_, http_->Get(path.c_str()));
}

Result<ProbeAnswer> Client::Probe(const std::string& path) {
  httplib::Result res = http_->Get(path.c_str());
  if (!res) return TransportError(endpoint_, res.error());
  json body = json::parse(res->body, nullptr, /*allow_exceptions=*/false);
  return ProbeAnswer{res->status, body.is_discarded() ? json() : body};
}

Result<json> Client::Delete(const std::string& path) {
  return Finish(endpoint_, http_->Delete(path.c_str()));
}

Result<json> Client::Post(const std::string& path, const json& body) {
  return Finish(endpoint_, http_->Post(path.c_str(), body.dump(), "application/json"));
}

Result<json> Client::PutFile(const std::string& path, const std::string& file) {
  auto in = std::make_shared<std::ifstream>(file, std::ios::binary);
  if (!*in) return Status::NotFound("cannot read " + file);
  in->seekg(0, std::ios::end);
  auto size = static_cast<size_t>(in->tellg());
  in->seekg(0);
  auto provide = [in](size_t offset, size_t length, httplib::DataSink& sink) {
    std::vector<char> buf(std::min<size_t>(length, 1 << 20));
    in->seekg(static_cast<std::streamoff>(offset));
    in->read(buf.data(), static_cast<std::streamsize>(buf.size()));
    std::streamsize got = in->gcount();
    return got > 0 && sink.write(buf.data(), static_cast<size_t>(got));
  };
  return Finish(endpoint_, http_->Put(path.c_str(), size, provide, "application/java-archive"));
}

std::string UrlEncode(const std::string& s) { return sessiond::PercentEncodePath(s); }

}  // namespace sessctl
