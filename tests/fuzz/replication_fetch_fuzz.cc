// Fuzzes the fetch (gap repair) and holders decoders. Input: one selector byte (mod 4: fetch
// request, fetch reply, holders request, holders reply), then the message. A fetched session
// goes through DecodeSession as the receiver does.
#include <cstdint>
#include <string_view>

#include "replication_fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace sessiond::replication::internal;
  using sessiond::replication::fuzz::RoundTrip;
  if (size == 0) return 0;
  std::string_view bytes(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (data[0] % 4) {
    case 0: RoundTrip(bytes, DecodeFetchRequest, EncodeFetchRequest); break;
    case 1: {
      RoundTrip(bytes, DecodeFetchReply, EncodeFetchReply);
      auto reply = DecodeFetchReply(bytes);
      if (reply.ok()) {
        for (const auto& item : reply->items) (void)sessiond::session::DecodeSession(item.session);
      }
      break;
    }
    case 2: RoundTrip(bytes, DecodeHoldersRequest, EncodeHoldersRequest); break;
    default: RoundTrip(bytes, DecodeHoldersReply, EncodeHoldersReply); break;
  }
  return 0;
}
