// Fuzzes the farm deploy messages (transport types 0x0301..0x0304). Input: one selector byte
// (mod 6: announce, chunk request, chunk reply, undeploy request, node result, app list), then
// the message. A decoded message must encode back to the very same bytes.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "deploy/deploy.h"

namespace {

template <typename Decode, typename Encode>
void RoundTrip(std::string_view bytes, Decode decode, Encode encode) {
  auto decoded = decode(bytes);
  if (!decoded.ok()) return;
  if (encode(*decoded) != bytes) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace sessiond::deploy;
  if (size == 0) return 0;
  std::string_view bytes(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (data[0] % 6) {
    case 0: RoundTrip(bytes, DecodeAnnounce, EncodeAnnounce); break;
    case 1: RoundTrip(bytes, DecodeChunkRequest, EncodeChunkRequest); break;
    case 2: RoundTrip(bytes, DecodeChunkReply, EncodeChunkReply); break;
    case 3: RoundTrip(bytes, DecodeUndeployRequest, EncodeUndeployRequest); break;
    case 4: RoundTrip(bytes, DecodeNodeResult, EncodeNodeResult); break;
    default: RoundTrip(bytes, DecodeAppList, EncodeAppList); break;
  }
  return 0;
}
