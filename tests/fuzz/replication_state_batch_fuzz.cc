// Fuzzes the state-transfer decoders. Input: one selector byte (even: batch request, odd: batch
// reply), then the message. A decoded reply's sessions go through DecodeSession as the joiner does.
#include <cstdint>
#include <string_view>

#include "replication_fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace sessiond::replication::internal;
  if (size == 0) return 0;
  std::string_view bytes(reinterpret_cast<const char*>(data) + 1, size - 1);
  if (data[0] % 2 == 0) {
    sessiond::replication::fuzz::RoundTrip(bytes, DecodeStateBatchRequest, EncodeStateBatchRequest);
    return 0;
  }
  sessiond::replication::fuzz::RoundTrip(bytes, DecodeStateBatchReply, EncodeStateBatchReply);
  auto reply = DecodeStateBatchReply(bytes);
  if (reply.ok()) {
    for (const auto& s : reply->sessions) (void)sessiond::session::DecodeSession(s);
  }
  return 0;
}
