// The frame codec and the cluster secret (layout in transport.h). OpenSSL does the crypto:
// HMAC-SHA256 or SHA-256 over header+body, AES-256-GCM with the header as additional data, so
// a flipped flag or length fails the tag even before the MAC is checked.
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include <cstring>
#include <fstream>
#include <sstream>

#include "transport/frame_internal.h"
#include "transport/transport.h"

namespace sessiond::transport {

namespace {

void PutU16(char* p, uint16_t v) {
  p[0] = static_cast<char>(v >> 8);
  p[1] = static_cast<char>(v);
}
void PutU32(char* p, uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<char>(v >> (24 - 8 * i));
}
void PutU64(char* p, uint64_t v) {
  for (int i = 0; i < 8; ++i) p[i] = static_cast<char>(v >> (56 - 8 * i));
}
uint64_t GetBE(const char* p, int n) {
  uint64_t v = 0;
  for (int i = 0; i < n; ++i) v = (v << 8) | static_cast<uint8_t>(p[i]);
  return v;
}

const unsigned char* U(const char* p) { return reinterpret_cast<const unsigned char*>(p); }
unsigned char* U(char* p) { return reinterpret_cast<unsigned char*>(p); }

// HMAC-SHA256 under the key, or a plain SHA-256 checksum without one, into `out` (32 bytes).
void Trailer(const Secret& secret, const char* data, size_t n, char* out) {
  if (secret.present()) {
    unsigned int len = 0;
    HMAC(EVP_sha256(), secret.hmac_key.data(), static_cast<int>(secret.hmac_key.size()), U(data),
         n, U(out), &len);
  } else {
    SHA256(U(data), n, U(out));
  }
}

// Encrypts `plain` into out = nonce | ciphertext | tag, authenticating `aad` (the header).
bool Seal(const std::string& key, std::string_view aad, std::string_view plain, char* out) {
  RAND_bytes(U(out), kGcmNonceBytes);
  EVP_CIPHER_CTX* ctx = EVP_CIPHER_CTX_new();
  int len = 0;
  bool ok = ctx &&
            EVP_EncryptInit_ex(ctx, EVP_aes_256_gcm(), nullptr, U(key.data()), U(out)) == 1 &&
            EVP_EncryptUpdate(ctx, nullptr, &len, U(aad.data()), static_cast<int>(aad.size())) ==
                1 &&
            EVP_EncryptUpdate(ctx, U(out + kGcmNonceBytes), &len, U(plain.data()),
                              static_cast<int>(plain.size())) == 1 &&
            EVP_EncryptFinal_ex(ctx, U(out + kGcmNonceBytes + len), &len) == 1 &&
            EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, kGcmTagBytes,
                                out + kGcmNonceBytes + plain.size()) == 1;
  EVP_CIPHER_CTX_free(ctx);
  return ok;
}

// Decrypts nonce | ciphertext | tag; false when the tag does not match.
bool Open(const std::string& key, std::string_view aad, std::string_view sealed,
          std::string* plain) {
  size_t n = sealed.size() - kGcmNonceBytes - kGcmTagBytes;
  plain->resize(n);
  std::string tag(sealed.substr(kGcmNonceBytes + n));
  EVP_CIPHER_CTX* ctx = EVP_CIPHER_CTX_new();
  int len = 0;
  bool ok = ctx &&
            EVP_DecryptInit_ex(ctx, EVP_aes_256_gcm(), nullptr, U(key.data()),
                               U(sealed.data())) == 1 &&
            EVP_DecryptUpdate(ctx, nullptr, &len, U(aad.data()), static_cast<int>(aad.size())) ==
                1 &&
            EVP_DecryptUpdate(ctx, U(plain->data()), &len, U(sealed.data() + kGcmNonceBytes),
                              static_cast<int>(n)) == 1 &&
            EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, kGcmTagBytes, tag.data()) == 1 &&
            EVP_DecryptFinal_ex(ctx, U(plain->data() + len), &len) == 1;
  EVP_CIPHER_CTX_free(ctx);
  return ok;
}

std::string Sha256Of(std::string_view label, std::string_view secret) {
  std::string input(label);
  input.append(secret);
  std::string out(SHA256_DIGEST_LENGTH, '\0');
  SHA256(U(input.data()), input.size(), U(out.data()));
  OPENSSL_cleanse(input.data(), input.size());
  return out;
}

}  // namespace

SendMode SendModeFromChannelOptions(int channel_send_options) {
  if (channel_send_options & 4) return SendMode::kSynchronizedAck;
  if (channel_send_options & 2) return SendMode::kAcknowledged;
  return SendMode::kAsynchronous;
}

Secret DeriveSecret(std::string_view secret_bytes) {
  Secret s;
  if (secret_bytes.empty()) return s;
  s.hmac_key = Sha256Of("sessiond-hmac-v1", secret_bytes);
  s.aes_key = Sha256Of("sessiond-aes-v1", secret_bytes);
  return s;
}

Result<Secret> LoadSecret(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::NotFound("cannot read cluster secret file " + path);
  std::ostringstream text;
  text << in.rdbuf();
  std::string bytes = text.str();
  while (!bytes.empty() && std::strchr(" \t\r\n", bytes.back()) && bytes.back() != '\0')
    bytes.pop_back();
  if (bytes.size() < 16) {
    return Status::BadRequest("cluster secret file " + path + " holds " +
                              std::to_string(bytes.size()) +
                              " bytes; at least 16 are needed (e.g. `openssl rand -hex 32`)");
  }
  Secret s = DeriveSecret(bytes);
  OPENSSL_cleanse(bytes.data(), bytes.size());
  return s;
}

std::string EncodeFrame(const Message& message, uint8_t flags, uint64_t correlation,
                        const Secret& secret, bool encrypt) {
  encrypt = encrypt && secret.present();
  flags &= static_cast<uint8_t>(kKnownFlags & ~(kFlagEncrypted | kFlagAuthenticated));
  if (secret.present()) flags |= kFlagAuthenticated;
  if (encrypt) flags |= kFlagEncrypted;
  size_t body = message.body.size() + (encrypt ? kGcmNonceBytes + kGcmTagBytes : 0);
  std::string frame(kFrameHeaderBytes + body + kFrameTrailerBytes, '\0');
  char* p = frame.data();
  PutU32(p, kFrameMagic);
  p[4] = static_cast<char>(kFrameVersion);
  p[5] = static_cast<char>(flags);
  PutU16(p + 6, message.type);
  PutU64(p + 8, correlation);
  PutU32(p + 16, static_cast<uint32_t>(body));
  if (encrypt) {
    Seal(secret.aes_key, std::string_view(p, kFrameHeaderBytes), message.body,
         p + kFrameHeaderBytes);
  } else if (!message.body.empty()) {
    std::memcpy(p + kFrameHeaderBytes, message.body.data(), message.body.size());
  }
  Trailer(secret, p, kFrameHeaderBytes + body, p + kFrameHeaderBytes + body);
  return frame;
}

std::optional<size_t> FrameTotalSize(std::string_view bytes) {
  if (bytes.size() < kFrameHeaderBytes) return std::nullopt;
  uint64_t len = GetBE(bytes.data() + 16, 4);
  if (len > kMaxFrameBody) return std::nullopt;
  return kFrameHeaderBytes + len + kFrameTrailerBytes;
}

namespace {

// The checks that need only the header (or the part of it that arrived): garbage is refused
// after its first bytes, without waiting for a length's worth of input.
Status CheckHeader(std::string_view bytes, const Secret& secret) {
  if (bytes.size() >= 4 && GetBE(bytes.data(), 4) != kFrameMagic)
    return Status::BadRequest("not a sessiond frame (bad magic)");
  if (bytes.size() >= 5 && static_cast<uint8_t>(bytes[4]) != kFrameVersion)
    return Status::BadRequest("unsupported frame version " +
                              std::to_string(static_cast<uint8_t>(bytes[4])));
  if (bytes.size() < kFrameHeaderBytes) return Status::NotFound("incomplete frame header");
  uint8_t flags = static_cast<uint8_t>(bytes[5]);
  if (flags & ~kKnownFlags) return Status::BadRequest("unknown frame flags");
  uint64_t len = GetBE(bytes.data() + 16, 4);
  if (len > kMaxFrameBody)
    return Status::BadRequest("frame body of " + std::to_string(len) + " bytes is over the limit");
  if ((flags & kFlagEncrypted) && !(flags & kFlagAuthenticated))
    return Status::BadRequest("encrypted frame without a key");
  if ((flags & kFlagEncrypted) && len < kGcmNonceBytes + kGcmTagBytes)
    return Status::BadRequest("encrypted frame too short");
  if (static_cast<bool>(flags & kFlagAuthenticated) != secret.present()) {
    return Status::Unauthorized(secret.present() ? "unauthenticated frame in a secured cluster"
                                                 : "authenticated frame but no cluster secret");
  }
  return Status::Ok();
}

}  // namespace

Result<DecodedFrame> DecodeFrame(std::string_view bytes, const Secret& secret) {
  SESSIOND_RETURN_IF_ERROR(CheckHeader(bytes, secret));
  size_t len = GetBE(bytes.data() + 16, 4);
  size_t total = kFrameHeaderBytes + len + kFrameTrailerBytes;
  if (bytes.size() < total) return Status::NotFound("incomplete frame");
  char mac[kFrameTrailerBytes];
  Trailer(secret, bytes.data(), kFrameHeaderBytes + len, mac);
  if (CRYPTO_memcmp(mac, bytes.data() + kFrameHeaderBytes + len, kFrameTrailerBytes) != 0)
    return Status::Unauthorized(secret.present() ? "frame MAC mismatch" : "frame checksum mismatch");
  DecodedFrame f;
  f.flags = static_cast<uint8_t>(bytes[5]);
  f.message.type = static_cast<uint16_t>(GetBE(bytes.data() + 6, 2));
  f.correlation = GetBE(bytes.data() + 8, 8);
  f.consumed = total;
  std::string_view body = bytes.substr(kFrameHeaderBytes, len);
  if (f.flags & kFlagEncrypted) {
    if (!Open(secret.aes_key, bytes.substr(0, kFrameHeaderBytes), body, &f.message.body))
      return Status::Unauthorized("frame decryption failed");
  } else {
    f.message.body.assign(body);
  }
  return f;
}

}  // namespace sessiond::transport
