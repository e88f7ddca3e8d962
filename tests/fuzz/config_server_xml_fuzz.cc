// Fuzzes the server.xml loader: any bytes must yield a config or a Status, never a crash, and an
// error must name the file. Host facts are faked so "auto" addresses never reach DNS.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "config/config.h"
#include "config/config_internal.h"

namespace {

class FuzzHost : public sessiond::config::internal::HostInfo {
 public:
  std::string HostName() override { return "fuzz.example"; }
  std::optional<std::string> Resolve(const std::string&) override { return "127.0.1.1"; }
  bool IsLocalAddress(const std::string&) override { return false; }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static FuzzHost host;
  sessiond::config::internal::SetHostInfoForTesting(&host);
  std::string xml(reinterpret_cast<const char*>(data), size);
  auto r = sessiond::config::ParseServerXml(xml, "fuzz.xml", "/nonexistent-base");
  if (!r.ok() && r.status().message().rfind("fuzz.xml", 0) != 0) std::abort();
  if (r.ok()) {
    sessiond::config::NodeConfig c = r->config;
    (void)sessiond::config::ApplyOverrides({}, &c);
  }
  return 0;
}
