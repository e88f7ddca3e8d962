// Fuzzes the forwarded drain command's decoders (DecodeDrainRequest, DecodeDrainReply): hostile
// bytes give a Status, never a crash, and whatever decodes re-encodes to the same bytes.
// Input: one selector byte (bit 0: reply instead of request), then the message body.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "drain/drain.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace sessiond::drain;
  if (size == 0) return 0;
  std::string_view body(reinterpret_cast<const char*>(data) + 1, size - 1);
  if (data[0] & 1) {
    auto reply = DecodeDrainReply(body);
    if (reply.ok() && EncodeDrainReply(*reply) != body) std::abort();
  } else {
    auto request = DecodeDrainRequest(body);
    if (request.ok() && EncodeDrainRequest(*request) != body) std::abort();
  }
  return 0;
}
