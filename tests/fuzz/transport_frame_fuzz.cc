// Fuzzes DecodeFrame as a connection uses it: decode frame after frame from a byte stream, under
// the corpus's fixed test secret and under none. Hostile bytes must give a Status, never a
// crash; a frame that decodes must say how many bytes it took (within the input) and, re-encoded
// (unencrypted: the nonce is random), decode to the same message.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "transport/transport.h"

namespace {

using namespace sessiond::transport;

// The secret the seed corpus's authenticated and encrypted frames were made with.
const Secret& TestSecret() {
  static const Secret s = DeriveSecret("fuzz-corpus-secret-0123456789");
  return s;
}

void DecodeStream(std::string_view bytes, const Secret& secret) {
  while (!bytes.empty()) {
    sessiond::Result<DecodedFrame> f = DecodeFrame(bytes, secret);
    if (!f.ok()) return;
    if (f->consumed == 0 || f->consumed > bytes.size()) std::abort();
    std::string again = EncodeFrame(f->message, f->flags, f->correlation, secret, false);
    sessiond::Result<DecodedFrame> g = DecodeFrame(again, secret);
    if (!g.ok() || g->message.type != f->message.type || g->message.body != f->message.body ||
        g->correlation != f->correlation || g->consumed != again.size())
      std::abort();
    bytes.remove_prefix(f->consumed);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view bytes(reinterpret_cast<const char*>(data), size);
  DecodeStream(bytes, TestSecret());
  DecodeStream(bytes, Secret{});
  return 0;
}
