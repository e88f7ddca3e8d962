// Fuzzes DecodeSession: hostile bytes must give a Status, never a crash, and whatever decodes must
// re-encode to a form that decodes to the same session (and, the encoding being canonical, to the
// same bytes — for the current format 2; a format-1 input re-encodes as format 2).
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "session/session.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace sessiond::session;
  std::string_view bytes(reinterpret_cast<const char*>(data), size);
  sessiond::Result<Session> first = DecodeSession(bytes);
  if (!first.ok()) return 0;
  std::string again = EncodeSession(*first);
  sessiond::Result<Session> second = DecodeSession(again);
  const bool current_format = bytes[0] == 2;
  if (!second.ok() || !(*second == *first) || (current_format && again != bytes)) std::abort();
  return 0;
}
