// Fuzzes the anti-entropy bucket decoders. Input: one selector byte (even: bucket request, odd:
// bucket reply with its entries), then the message.
#include <cstdint>
#include <string_view>

#include "replication_fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace sessiond::replication::internal;
  if (size == 0) return 0;
  std::string_view bytes(reinterpret_cast<const char*>(data) + 1, size - 1);
  if (data[0] % 2 == 0) {
    sessiond::replication::fuzz::RoundTrip(bytes, DecodeBucketRequest, EncodeBucketRequest);
  } else {
    sessiond::replication::fuzz::RoundTrip(bytes, DecodeBucketReply, EncodeBucketReply);
  }
  return 0;
}
