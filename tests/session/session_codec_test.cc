// EncodeSession/DecodeSession: round trips, and hostile input is a clean kBadRequest.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>

#include "session/session.h"

namespace sessiond::session {
namespace {

Session Sample() {
  Session s;
  s.id = "0123456789ABCDEF0123456789ABCDEF.tomcatA";
  s.app = "/myapp";
  s.created_ms = 1764032523456;
  s.last_accessed_ms = 1764032599999;
  s.max_inactive_s = -1;
  s.last_node = "tomcatB";
  s.version = 42;
  s.distributable = false;
  s.id_stamp = Stamp{MakeHlc(1764032523450, 2), "tomcatA"};
  s.attributes["cart"] = Attribute{"[1,2,3]", Stamp{MakeHlc(1764032523456, 3), "tomcatA"}};
  s.attributes["user"] = Attribute{"{\"n\":\"\\u00e9\"}", Stamp{MakeHlc(1764032523457, 0), "b"}};
  s.attributes[std::string("bin\0ary", 7)] = Attribute{"null", Stamp{}};
  s.removed["old"] = Stamp{MakeHlc(1764032523458, 1), "tomcatB"};
  return s;
}

TEST(SessionCodecTest, RoundTrips) {
  Session s = Sample();
  Result<Session> back = DecodeSession(EncodeSession(s));
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(*back, s);
  Session empty;
  back = DecodeSession(EncodeSession(empty));
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(*back, empty);
}

TEST(SessionCodecTest, StartsWithTheFormatVersion) {
  std::string bytes = EncodeSession(Sample());
  EXPECT_EQ(bytes[0], 2);
  bytes[0] = 3;
  Result<Session> r = DecodeSession(bytes);
  EXPECT_EQ(r.status().code(), Code::kBadRequest);
  EXPECT_NE(r.status().message().find("unknown format 3"), std::string::npos);
}

TEST(SessionCodecTest, EveryTruncationIsRejected) {
  std::string bytes = EncodeSession(Sample());
  for (size_t n = 0; n < bytes.size(); ++n) {
    Result<Session> r = DecodeSession(std::string_view(bytes).substr(0, n));
    ASSERT_FALSE(r.ok()) << n;
    EXPECT_EQ(r.status().code(), Code::kBadRequest);
  }
}

TEST(SessionCodecTest, TrailingBytesAreRejected) {
  std::string bytes = EncodeSession(Sample()) + '\0';
  EXPECT_EQ(DecodeSession(bytes).status().code(), Code::kBadRequest);
}

// Offsets into the encoding of a session with empty strings and no attributes.
constexpr size_t kDistributableOffset = 1 + 4 + 4 + 8 + 8 + 4 + 4 + 8;
constexpr size_t kIdStampBytes = 8 + 4;  // format 2: u64 time + an empty node name
constexpr size_t kAttributeCountOffset = kDistributableOffset + 1 + kIdStampBytes;

// SQLite rows written before format 2 (no id_stamp) still load, with a zero id_stamp, and are
// written back as format 2.
TEST(SessionCodecTest, FormatOneStillDecodes) {
  Session s = Sample();
  s.id_stamp = Stamp{};
  std::string v2 = EncodeSession(s);
  std::string v1 = v2;
  v1[0] = 1;
  v1.erase(kDistributableOffset + s.id.size() + s.app.size() + s.last_node.size() + 1,
           kIdStampBytes);
  Result<Session> back = DecodeSession(v1);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(*back, s);
  EXPECT_EQ(EncodeSession(*back), v2);
}

TEST(SessionCodecTest, HugeCountsAndLengthsAreRejectedWithoutAllocating) {
  std::string bytes = EncodeSession(Session{});
  ASSERT_EQ(bytes.size(), kAttributeCountOffset + 8);
  std::string huge_count = bytes;
  huge_count.replace(kAttributeCountOffset, 4, "\xff\xff\xff\xff");
  EXPECT_EQ(DecodeSession(huge_count).status().code(), Code::kBadRequest);
  std::string huge_id = bytes;
  huge_id.replace(1, 4, "\xff\xff\xff\x7f");
  EXPECT_EQ(DecodeSession(huge_id).status().code(), Code::kBadRequest);
}

TEST(SessionCodecTest, BadFlagIsRejected) {
  std::string bytes = EncodeSession(Session{});
  bytes[kDistributableOffset] = 2;
  EXPECT_EQ(DecodeSession(bytes).status().code(), Code::kBadRequest);
}

TEST(SessionCodecTest, NamesMustBeAscendingAndNotBothSetAndRemoved) {
  Session s;
  s.attributes["b"] = Attribute{"1", {}};
  s.attributes["c"] = Attribute{"2", {}};
  std::string bytes = EncodeSession(s);
  size_t b = bytes.find('b'), c = bytes.find('c', b);
  std::swap(bytes[b], bytes[c]);  // "c" then "b"
  EXPECT_EQ(DecodeSession(bytes).status().code(), Code::kBadRequest);
  bytes[b] = 'b';
  bytes[c] = 'b';  // duplicate
  EXPECT_EQ(DecodeSession(bytes).status().code(), Code::kBadRequest);

  Session both;
  both.attributes["x"] = Attribute{"1", {}};
  both.removed["x"] = Stamp{};
  EXPECT_EQ(DecodeSession(EncodeSession(both)).status().code(), Code::kBadRequest);
}

TEST(SessionCodecTest, RandomMutationsNeverCrash) {
  std::string valid = EncodeSession(Sample());
  std::mt19937 rng(1234);
  for (int i = 0; i < 20000; ++i) {
    std::string bytes = valid;
    int flips = 1 + static_cast<int>(rng() % 4);
    for (int f = 0; f < flips; ++f) bytes[rng() % bytes.size()] = static_cast<char>(rng());
    Result<Session> r = DecodeSession(bytes);
    if (r.ok()) {
      EXPECT_EQ(EncodeSession(*r), bytes);  // one encoding per session
    }
  }
}

TEST(SessionCodecTest, SeedCorpusDecodes) {
  std::filesystem::path dir =
      std::filesystem::path(SESSIOND_SOURCE_DIR) / "tests/fuzz/corpus/session_codec";
  size_t decoded = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    if (entry.path().filename().string().rfind("valid-", 0) != 0) continue;
    std::ifstream in(entry.path(), std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    Result<Session> r = DecodeSession(bytes);
    EXPECT_TRUE(r.ok()) << entry.path() << ": " << r.status().ToString();
    ++decoded;
  }
  EXPECT_GE(decoded, 3u);
}

}  // namespace
}  // namespace sessiond::session
