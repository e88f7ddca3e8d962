// Fuzzes the anti-entropy digest decoders. Input: one selector byte (even: digest request, odd:
// digest reply), then the message.
#include <cstdint>
#include <string_view>

#include "replication_fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace sessiond::replication::internal;
  if (size == 0) return 0;
  std::string_view bytes(reinterpret_cast<const char*>(data) + 1, size - 1);
  if (data[0] % 2 == 0) {
    sessiond::replication::fuzz::RoundTrip(bytes, DecodeDigestRequest, EncodeDigestRequest);
  } else {
    sessiond::replication::fuzz::RoundTrip(bytes, DecodeDigestReply, EncodeDigestReply);
  }
  return 0;
}
