// The frame codec: round trips in all three protections, and every way a frame can be wrong
// (tampered, wrong secret, truncated, garbage, malformed header) maps to its documented code.
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <string>

#include <gtest/gtest.h>

#include "transport/frame_internal.h"
#include "transport/transport.h"

namespace sessiond::transport {
namespace {

const Secret kSecret = DeriveSecret("test-cluster-secret-0123456789");
const Secret kOtherSecret = DeriveSecret("another-cluster-secret-98765");
const Secret kNone;

std::string Encode(const std::string& body, const Secret& s, bool encrypt, uint8_t flags = 0,
                   uint64_t corr = 42) {
  return EncodeFrame(Message{0x0201, body}, flags, corr, s, encrypt);
}

void ExpectRoundTrip(const Secret& s, bool encrypt) {
  std::string frame = Encode("hello, cluster", s, encrypt, kFlagAckRequested, 0x0102030405060708);
  auto f = DecodeFrame(frame, s);
  ASSERT_TRUE(f.ok()) << f.status().ToString();
  EXPECT_EQ(f->message.type, 0x0201);
  EXPECT_EQ(f->message.body, "hello, cluster");
  EXPECT_EQ(f->correlation, 0x0102030405060708u);
  EXPECT_TRUE(f->flags & kFlagAckRequested);
  EXPECT_EQ(f->consumed, frame.size());
  EXPECT_EQ(static_cast<bool>(f->flags & kFlagAuthenticated), s.present());
  EXPECT_EQ(static_cast<bool>(f->flags & kFlagEncrypted), encrypt);
}

TEST(FrameTest, PlainRoundTrip) { ExpectRoundTrip(kNone, false); }
TEST(FrameTest, AuthenticatedRoundTrip) { ExpectRoundTrip(kSecret, false); }
TEST(FrameTest, EncryptedRoundTrip) { ExpectRoundTrip(kSecret, true); }

TEST(FrameTest, LayoutMatchesTheHeaderComment) {
  std::string frame = Encode("abc", kNone, false);
  ASSERT_EQ(frame.size(), kFrameHeaderBytes + 3 + kFrameTrailerBytes);
  EXPECT_EQ(frame.substr(0, 4), "SSND");
  EXPECT_EQ(frame[4], 1);
  EXPECT_EQ(frame.substr(6, 2), std::string("\x02\x01", 2));
  EXPECT_EQ(frame.substr(16, 4), std::string("\0\0\0\3", 4));
  EXPECT_EQ(frame.substr(20, 3), "abc");
}

TEST(FrameTest, EncryptionHidesTheBodyAndUsesFreshNonces) {
  std::string a = Encode("secret session data", kSecret, true);
  std::string b = Encode("secret session data", kSecret, true);
  EXPECT_EQ(a.find("secret session data"), std::string::npos);
  EXPECT_NE(a, b);
  EXPECT_EQ(a.size(), kFrameHeaderBytes + 19 + kGcmNonceBytes + kGcmTagBytes + kFrameTrailerBytes);
}

TEST(FrameTest, EmptyBodyRoundTrips) {
  for (bool encrypt : {false, true}) {
    auto f = DecodeFrame(Encode("", kSecret, encrypt), kSecret);
    ASSERT_TRUE(f.ok()) << f.status().ToString();
    EXPECT_EQ(f->message.body, "");
  }
}

TEST(FrameTest, AnyTamperedByteIsUnauthorized) {
  for (bool encrypt : {false, true}) {
    std::string frame = Encode("attribute=value", kSecret, encrypt);
    // Body and trailer bytes, plus the type and correlation fields of the header.
    for (size_t i = 6; i < frame.size(); ++i) {
      if (i >= 16 && i < 20) continue;  // the length: changes framing, tested below
      std::string bad = frame;
      bad[i] = static_cast<char>(bad[i] ^ 0x40);
      auto f = DecodeFrame(bad, kSecret);
      EXPECT_EQ(f.status().code(), Code::kUnauthorized) << "byte " << i << " encrypt " << encrypt;
    }
  }
}

TEST(FrameTest, TamperedPlainFrameFailsItsChecksum) {
  std::string frame = Encode("abc", kNone, false);
  frame[21] = 'X';
  EXPECT_EQ(DecodeFrame(frame, kNone).status().code(), Code::kUnauthorized);
}

TEST(FrameTest, WrongSecretIsUnauthorized) {
  EXPECT_EQ(DecodeFrame(Encode("x", kOtherSecret, false), kSecret).status().code(),
            Code::kUnauthorized);
  EXPECT_EQ(DecodeFrame(Encode("x", kOtherSecret, true), kSecret).status().code(),
            Code::kUnauthorized);
}

TEST(FrameTest, AuthenticationMismatchIsUnauthorized) {
  EXPECT_EQ(DecodeFrame(Encode("x", kNone, false), kSecret).status().code(), Code::kUnauthorized);
  EXPECT_EQ(DecodeFrame(Encode("x", kSecret, false), kNone).status().code(), Code::kUnauthorized);
  EXPECT_EQ(DecodeFrame(Encode("x", kSecret, true), kNone).status().code(), Code::kUnauthorized);
}

TEST(FrameTest, EveryTruncationIsNotFound) {
  std::string frame = Encode("some body bytes", kSecret, true);
  for (size_t n = 0; n < frame.size(); ++n) {
    EXPECT_EQ(DecodeFrame(frame.substr(0, n), kSecret).status().code(), Code::kNotFound) << n;
  }
}

TEST(FrameTest, GarbageIsBadRequestFromItsFirstBytes) {
  EXPECT_EQ(DecodeFrame("GET / HTTP/1.1\r\nHost: x\r\n\r\n", kNone).status().code(),
            Code::kBadRequest);
  EXPECT_EQ(DecodeFrame("GET", kNone).status().code(), Code::kNotFound);  // could still be ours?
  EXPECT_EQ(DecodeFrame("GETX", kNone).status().code(), Code::kBadRequest);
}

TEST(FrameTest, MalformedHeadersAreBadRequest) {
  std::string frame = Encode("x", kSecret, false);
  std::string version = frame;
  version[4] = 2;
  EXPECT_EQ(DecodeFrame(version, kSecret).status().code(), Code::kBadRequest);
  std::string huge = frame;
  huge[16] = '\x7f';
  EXPECT_EQ(DecodeFrame(huge, kSecret).status().code(), Code::kBadRequest);
  std::string flags = frame;
  flags[5] = static_cast<char>(flags[5] | 0x80);
  EXPECT_EQ(DecodeFrame(flags, kSecret).status().code(), Code::kBadRequest);
  std::string encrypted_plain = Encode("x", kNone, false);
  encrypted_plain[5] = kFlagEncrypted;
  EXPECT_EQ(DecodeFrame(encrypted_plain, kNone).status().code(), Code::kBadRequest);
}

TEST(FrameTest, ConcatenatedFramesDecodeOneAtATime) {
  std::string stream = Encode("one", kSecret, false) + Encode("two", kSecret, true);
  auto first = DecodeFrame(stream, kSecret);
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(first->message.body, "one");
  auto second = DecodeFrame(std::string_view(stream).substr(first->consumed), kSecret);
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(second->message.body, "two");
  EXPECT_EQ(FrameTotalSize(stream), first->consumed);
}

TEST(FrameTest, DeriveSecretSeparatesPurposes) {
  Secret s = DeriveSecret("0123456789abcdef");
  EXPECT_EQ(s.hmac_key.size(), 32u);
  EXPECT_EQ(s.aes_key.size(), 32u);
  EXPECT_NE(s.hmac_key, s.aes_key);
  EXPECT_FALSE(DeriveSecret("").present());
}

std::string WriteTemp(const std::string& content) {
  char path[] = "/tmp/sessiond-secret-XXXXXX";
  int fd = mkstemp(path);
  EXPECT_GE(fd, 0);
  EXPECT_EQ(write(fd, content.data(), content.size()), static_cast<ssize_t>(content.size()));
  close(fd);
  return path;
}

TEST(FrameTest, LoadSecretTrimsTrailingWhitespace) {
  std::string path = WriteTemp("0123456789abcdef0123\n");
  auto s = LoadSecret(path);
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ(s->hmac_key, DeriveSecret("0123456789abcdef0123").hmac_key);
  std::remove(path.c_str());
}

TEST(FrameTest, LoadSecretRefusesShortAndMissingFiles) {
  std::string path = WriteTemp("short\n");
  EXPECT_EQ(LoadSecret(path).status().code(), Code::kBadRequest);
  std::remove(path.c_str());
  EXPECT_EQ(LoadSecret("/nonexistent/secret").status().code(), Code::kNotFound);
}

TEST(FrameTest, SendModeFromChannelOptions) {
  EXPECT_EQ(SendModeFromChannelOptions(8), SendMode::kAsynchronous);
  EXPECT_EQ(SendModeFromChannelOptions(2), SendMode::kAcknowledged);
  EXPECT_EQ(SendModeFromChannelOptions(4), SendMode::kSynchronizedAck);
  EXPECT_EQ(SendModeFromChannelOptions(6), SendMode::kSynchronizedAck);
  EXPECT_EQ(SendModeFromChannelOptions(10), SendMode::kAcknowledged);
  EXPECT_EQ(SendModeFromChannelOptions(0), SendMode::kAsynchronous);
}

}  // namespace
}  // namespace sessiond::transport
