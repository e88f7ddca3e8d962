// End-to-end fixture: one real sessiond process on the embedded defaults (127.0.0.1:8080 data
// plane, 127.0.0.1:8099 admin) in a fresh base directory with myapp.war in webapps/. Every e2e
// test process runs in its own loopback-only network namespace (tests/support/netns-run), so
// the default ports never clash and nothing leaves the machine.
#pragma once

#include <gtest/gtest.h>
#include <httplib.h>

#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "support/files.h"
#include "support/process.h"

namespace sessiond::testing {

inline constexpr const char* kHost = "127.0.0.1";
inline constexpr uint16_t kHttpPort = 8080;
inline constexpr uint16_t kAdminPort = 8099;

class NodeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::filesystem::create_directories(base_.Path("webapps"));
    std::filesystem::copy_file(MYAPP_WAR, base_.Path("webapps/myapp.war"));
  }

  /// Starts sessiond with `extra` flags and waits for both ports.
  void StartNode(std::vector<std::string> extra = {}) {
    std::vector<std::string> argv = {SESSIOND_BIN, "--base-dir", base_.path(), "--jvm-route", "nodeA"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    node_ = std::make_unique<Child>(argv, base_.Path("sessiond.log"));
    ASSERT_TRUE(WaitForPort(kHost, kHttpPort, 10000)) << Log();
    ASSERT_TRUE(WaitForPort(kHost, kAdminPort, 10000)) << Log();
  }

  /// SIGTERM and wait: returns the exit code.
  int StopNode(int sig = SIGTERM) {
    node_->Signal(sig);
    int code = node_->Wait(15000);
    node_.reset();
    return code;
  }

  std::string Log() const { return ReadFile(base_.Path("sessiond.log")); }
  std::string TokenFile() const { return base_.Path("sessiond-data/admin.token"); }
  std::string Token() const {
    std::string t = ReadFile(TokenFile());
    while (!t.empty() && (t.back() == '\n' || t.back() == ' ')) t.pop_back();
    return t;
  }

  /// Runs sessctl against the node with the token file; extra env may override.
  CommandResult Sessctl(std::vector<std::string> args, std::map<std::string, std::string> env = {}) {
    std::vector<std::string> argv = {SESSCTL_BIN};
    argv.insert(argv.end(), args.begin(), args.end());
    env.emplace("SESSCTL_TOKEN_FILE", TokenFile());
    env.emplace("SESSCTL_ENDPOINT", "http://127.0.0.1:8099");
    return RunCommand(argv, env);
  }

  httplib::Client Http() {
    httplib::Client c(kHost, kHttpPort);
    c.set_connection_timeout(5);
    c.set_read_timeout(10);
    return c;
  }

  httplib::Client Admin(bool with_token = true) {
    httplib::Client c(kHost, kAdminPort);
    if (with_token) c.set_bearer_token_auth(Token());
    c.set_read_timeout(10);
    return c;
  }

  TempDir base_;
  std::unique_ptr<Child> node_;
};

/// A client that keeps the JSESSIONID cookie like a browser's cookie jar.
class CookieJar {
 public:
  explicit CookieJar(httplib::Client* client) : client_(client) {}
  httplib::Result Get(const std::string& path) { return Wrap(client_->Get(path, Headers())); }
  httplib::Result Put(const std::string& path, const std::string& body) {
    return Wrap(client_->Put(path, Headers(), body, "application/json"));
  }
  httplib::Result Patch(const std::string& path, const std::string& body) {
    return Wrap(client_->Patch(path, Headers(), body, "application/json"));
  }
  httplib::Result Delete(const std::string& path) { return Wrap(client_->Delete(path, Headers())); }
  const std::string& session_id() const { return session_id_; }
  void set_session_id(std::string id) { session_id_ = std::move(id); }

 private:
  httplib::Headers Headers() const {
    if (session_id_.empty()) return {};
    return {{"Cookie", "JSESSIONID=" + session_id_}};
  }
  httplib::Result Wrap(httplib::Result r) {
    if (!r) return r;
    auto it = r->headers.find("Set-Cookie");
    if (it != r->headers.end() && it->second.rfind("JSESSIONID=", 0) == 0) {
      std::string v = it->second.substr(11);
      session_id_ = v.substr(0, v.find(';'));
    }
    return r;
  }
  httplib::Client* client_;
  std::string session_id_;
};

}  // namespace sessiond::testing
