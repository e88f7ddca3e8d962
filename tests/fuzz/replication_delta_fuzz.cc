// Fuzzes DecodeDelta: hostile bytes must give a Status, never a crash, and whatever decodes must
// re-encode to the very same bytes (the encoding is canonical).
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "replication/replication.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace sessiond::replication;
  std::string_view bytes(reinterpret_cast<const char*>(data), size);
  sessiond::Result<Delta> delta = DecodeDelta(bytes);
  if (!delta.ok()) return 0;
  if (EncodeDelta(*delta) != bytes) std::abort();
  return 0;
}
