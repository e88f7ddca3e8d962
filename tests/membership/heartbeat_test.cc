// EncodeHeartbeat/DecodeHeartbeat: round trips with and without a secret; a wrong secret or a
// tampered byte is kUnauthorized; truncated, padded and garbage input is kBadRequest.
#include <gtest/gtest.h>

#include <random>

#include "membership/membership.h"

namespace sessiond::membership {
namespace {

Heartbeat Sample() {
  Heartbeat hb;
  hb.name = "tomcatA";
  hb.receiver_host = "127.0.0.2";
  hb.receiver_port = 4000;
  hb.admin_url = "http://127.0.0.2:8099";
  hb.domain = "prod";
  hb.mode = Mode::kDraining;
  hb.start_ms = 1764032523456;
  hb.build = "0.1.0";
  hb.sessions = 12345;
  hb.goodbye = true;
  hb.hlc = 0x0123456789ABCDEFull;
  return hb;
}

const transport::Secret kSecret = transport::DeriveSecret("membership test secret 0123456789");
const transport::Secret kOther = transport::DeriveSecret("another cluster's secret 98765432");
const transport::Secret kNone;

TEST(HeartbeatCodecTest, RoundTripsWithSecret) {
  Result<Heartbeat> back = DecodeHeartbeat(EncodeHeartbeat(Sample(), kSecret), kSecret);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(*back, Sample());
}

TEST(HeartbeatCodecTest, RoundTripsWithChecksumOnly) {
  Heartbeat hb = Sample();
  hb.goodbye = false;
  hb.mode = Mode::kDrained;
  hb.domain.clear();
  Result<Heartbeat> back = DecodeHeartbeat(EncodeHeartbeat(hb, kNone), kNone);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(*back, hb);
}

TEST(HeartbeatCodecTest, EncodingIsCanonical) {
  std::string bytes = EncodeHeartbeat(Sample(), kSecret);
  EXPECT_EQ(EncodeHeartbeat(*DecodeHeartbeat(bytes, kSecret), kSecret), bytes);
}

TEST(HeartbeatCodecTest, WrongSecretIsUnauthorized) {
  std::string bytes = EncodeHeartbeat(Sample(), kSecret);
  EXPECT_EQ(DecodeHeartbeat(bytes, kOther).status().code(), Code::kUnauthorized);
  // With and without a secret never mix, in either direction.
  EXPECT_EQ(DecodeHeartbeat(bytes, kNone).status().code(), Code::kUnauthorized);
  EXPECT_EQ(DecodeHeartbeat(EncodeHeartbeat(Sample(), kNone), kSecret).status().code(),
            Code::kUnauthorized);
}

TEST(HeartbeatCodecTest, EveryTamperedByteIsRejected) {
  std::string bytes = EncodeHeartbeat(Sample(), kSecret);
  for (size_t i = 0; i < bytes.size(); ++i) {
    std::string bad = bytes;
    bad[i] ^= 0x01;
    Result<Heartbeat> r = DecodeHeartbeat(bad, kSecret);
    ASSERT_FALSE(r.ok()) << "byte " << i;
    // Past the envelope (magic, version, flags, length) a flip can only break the MAC.
    if (i >= 8) {
      EXPECT_EQ(r.status().code(), Code::kUnauthorized) << "byte " << i;
    }
  }
}

TEST(HeartbeatCodecTest, TruncatedAndPaddedAreBadRequest) {
  for (const transport::Secret* secret : {&kSecret, &kNone}) {
    std::string bytes = EncodeHeartbeat(Sample(), *secret);
    for (size_t n = 0; n < bytes.size(); ++n)
      EXPECT_EQ(DecodeHeartbeat(bytes.substr(0, n), *secret).status().code(), Code::kBadRequest)
          << n;
    EXPECT_EQ(DecodeHeartbeat(bytes + '\0', *secret).status().code(), Code::kBadRequest);
  }
}

TEST(HeartbeatCodecTest, GarbageIsBadRequestAndNeverCrashes) {
  EXPECT_EQ(DecodeHeartbeat("", kNone).status().code(), Code::kBadRequest);
  EXPECT_EQ(DecodeHeartbeat(std::string(200, 'x'), kSecret).status().code(), Code::kBadRequest);
  std::mt19937 rng(7);
  std::string base = EncodeHeartbeat(Sample(), kNone);
  for (int round = 0; round < 2000; ++round) {
    std::string bytes = base.substr(0, rng() % (base.size() + 1));
    for (char& c : bytes)
      if (rng() % 8 == 0) c = static_cast<char>(rng());
    Result<Heartbeat> r = DecodeHeartbeat(bytes, kNone);
    if (r.ok()) {
      EXPECT_EQ(EncodeHeartbeat(*r, kNone), bytes);
    }
  }
}

TEST(HeartbeatCodecTest, OverlongFieldsAreCutByTheEncoder) {
  Heartbeat hb = Sample();
  hb.build = std::string(1000, 'b');
  Result<Heartbeat> back = DecodeHeartbeat(EncodeHeartbeat(hb, kSecret), kSecret);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->build, std::string(64, 'b'));
}

TEST(HeartbeatCodecTest, EmptyNameIsBadRequest) {
  Heartbeat hb = Sample();
  hb.name.clear();
  EXPECT_EQ(DecodeHeartbeat(EncodeHeartbeat(hb, kNone), kNone).status().code(),
            Code::kBadRequest);
}

TEST(HeartbeatCodecTest, NamesParseBack) {
  for (State s : {State::kAlive, State::kSuspect, State::kDead, State::kLeft})
    EXPECT_EQ(ParseState(StateName(s)), s);
  EXPECT_FALSE(ParseState("zombie").has_value());
  EXPECT_EQ(ModeName(Mode::kDraining), "draining");
}

}  // namespace
}  // namespace sessiond::membership
