// Fuzz target: web.xml text through ParseWebXml (must never crash, hang or throw).
#include <cstddef>
#include <cstdint>
#include <string>

#include "container/apps_internal.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string xml(reinterpret_cast<const char*>(data), size);
  sessiond::Result<sessiond::container::WebXml> web =
      sessiond::container::ParseWebXml(xml, "web.xml");
  if (!web.ok() && web.status().message().rfind("web.xml:", 0) != 0) __builtin_trap();
  return 0;
}
