// sessctl's HTTP client for the admin API: bearer token, timeout, and every failure turned into a
// sessiond::Status whose code picks the exit code (connection problems are kUnavailable, the
// server's {"error","message"} keeps its code and message).
//
// Thread-safety: one thread.
#pragma once

#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "base/base.h"

namespace httplib {
class Client;
}

namespace sessctl {

using sessiond::Result;
using sessiond::Status;

/// Where the token comes from when none is given (DESIGN.md §7).
inline constexpr const char* kDefaultTokenFile = "./sessiond-data/admin.token";
inline constexpr const char* kDefaultEndpoint = "http://127.0.0.1:8099";

/// The token: `token` when set (SESSCTL_TOKEN), else the trimmed contents of `token_file`.
/// kUnauthorized naming the file and the env vars when it cannot be read.
Result<std::string> ResolveToken(const std::string& token, const std::string& token_file);

/// A probe's answer: GET /readyz answers 503 with a body, which is an answer here, not an error.
struct ProbeAnswer {
  int status = 0;
  nlohmann::json body;  ///< null when the body is not JSON
};

class Client {
 public:
  /// `endpoint` is "http://host:port" (or https). kBadRequest for a malformed endpoint.
  static Result<std::unique_ptr<Client>> Create(const std::string& endpoint, std::string token,
                                                int64_t timeout_ms);
  ~Client();

  Result<nlohmann::json> Get(const std::string& path);
  /// GETs a probe (/readyz) and returns its status and body whatever the status; only a
  /// transport failure is an error (kUnavailable).
  Result<ProbeAnswer> Probe(const std::string& path);
  Result<nlohmann::json> Delete(const std::string& path);
  Result<nlohmann::json> Post(const std::string& path, const nlohmann::json& body);
  /// PUTs the bytes of `file` as the body, streamed (a WAR is never read into memory whole).
  /// kNotFound naming the file when it cannot be read.
  Result<nlohmann::json> PutFile(const std::string& path, const std::string& file);

 private:
  Client(std::string endpoint, std::unique_ptr<httplib::Client> http, std::string token);
  std::string endpoint_;
  std::unique_ptr<httplib::Client> http_;
  std::string token_;
};

/// "a b" -> "a%20b": for query values and path segments.
std::string UrlEncode(const std::string& s);

}  // namespace sessctl
