// Fuzzes DecodeHeartbeat: hostile datagrams must give a Status, never a crash, and whatever
// decodes must re-encode to the very same bytes (the encoding is canonical).
//
// Input: one selector byte, then the datagram. Selector bit 0: decode under the fixed fuzz secret
// (HMAC) instead of none (checksum). Bit 1: "reseal" — patch the length field and append a valid
// trailer first, so the fuzzer reaches the field parser behind the MAC instead of stopping there.
#include <openssl/hmac.h>
#include <openssl/sha.h>

#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "membership/membership.h"

namespace {

using sessiond::membership::DecodeHeartbeat;
using sessiond::membership::EncodeHeartbeat;
using sessiond::membership::Heartbeat;

const sessiond::transport::Secret& FuzzSecret() {
  static const auto secret = sessiond::transport::DeriveSecret("membership fuzz secret 0123456789");
  return secret;
}

// Sets the total-length field (bytes 6..7) and appends the trailer, as the encoder does.
std::string Reseal(std::string covered, const sessiond::transport::Secret& secret) {
  if (covered.size() < 8 || covered.size() + 32 > 0xFFFF) return covered;
  size_t total = covered.size() + 32;
  covered[6] = static_cast<char>(total >> 8);
  covered[7] = static_cast<char>(total & 0xFF);
  unsigned char mac[32];
  const auto* data = reinterpret_cast<const unsigned char*>(covered.data());
  if (secret.present()) {
    unsigned int len = 0;
    HMAC(EVP_sha256(), secret.hmac_key.data(), static_cast<int>(secret.hmac_key.size()), data,
         covered.size(), mac, &len);
  } else {
    SHA256(data, covered.size(), mac);
  }
  return covered + std::string(reinterpret_cast<char*>(mac), sizeof mac);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  static const sessiond::transport::Secret kNone;
  const auto& secret = (data[0] & 1) ? FuzzSecret() : kNone;
  std::string bytes(reinterpret_cast<const char*>(data + 1), size - 1);
  if (data[0] & 2) bytes = Reseal(std::move(bytes), secret);
  sessiond::Result<Heartbeat> hb = DecodeHeartbeat(bytes, secret);
  if (!hb.ok()) {
    auto code = hb.status().code();
    if (code != sessiond::Code::kBadRequest && code != sessiond::Code::kUnauthorized) std::abort();
    return 0;
  }
  if (EncodeHeartbeat(*hb, secret) != bytes) std::abort();
  return 0;
}
