// The farm deploy messages: every decoder round-trips its encoder's output and refuses
// truncations, trailing bytes, bad hashes and bad app names. Also writes the fuzz seed corpus
// (tests/fuzz/corpus/deploy_farm) when SESSIOND_WRITE_CORPUS is set.
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <string>

#include "deploy/deploy.h"

namespace sessiond::deploy {
namespace {

const std::string kSha(64, 'a');
const std::string kOtherSha = std::string(63, '0') + "f";

template <typename T, typename Decode, typename Encode>
void ExpectRoundTrip(const T& value, Decode decode, Encode encode) {
  std::string bytes = encode(value);
  auto back = decode(bytes);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(*back, value);
  for (size_t cut = 0; cut < bytes.size(); ++cut) {
    EXPECT_FALSE(decode(std::string_view(bytes).substr(0, cut)).ok()) << "truncated at " << cut;
  }
  EXPECT_FALSE(decode(bytes + "x").ok()) << "trailing byte accepted";
  std::string other_format = bytes;
  other_format[0] = 2;
  EXPECT_FALSE(decode(other_format).ok()) << "format 2 accepted";
}

TEST(FarmCodecTest, AnnounceRoundTrips) {
  ExpectRoundTrip(Announce{{"shop", kSha, 12345, 1700000000000}, "nodeA"}, DecodeAnnounce, EncodeAnnounce);
  ExpectRoundTrip(Announce{{"ROOT", kOtherSha, 0, 0}, ""}, DecodeAnnounce, EncodeAnnounce);
}

TEST(FarmCodecTest, ChunkMessagesRoundTrip) {
  ExpectRoundTrip(ChunkRequest{kSha, 8u << 20, kChunkBytes}, DecodeChunkRequest, EncodeChunkRequest);
  ExpectRoundTrip(ChunkReply{true, "", std::string(1000, '\x01')}, DecodeChunkReply, EncodeChunkReply);
  ExpectRoundTrip(ChunkReply{false, "no stored WAR aaaa on nodeB", ""}, DecodeChunkReply, EncodeChunkReply);
}

TEST(FarmCodecTest, ResultsAndListsRoundTrip) {
  ExpectRoundTrip(UndeployRequest{"shop", "nodeA"}, DecodeUndeployRequest, EncodeUndeployRequest);
  ExpectRoundTrip(NodeResult{"nodeB", true, "", kSha, 42}, DecodeNodeResult, EncodeNodeResult);
  ExpectRoundTrip(NodeResult{"nodeC", false, "shop.war: entry ../x: escapes", "", 3}, DecodeNodeResult,
                  EncodeNodeResult);
  ExpectRoundTrip(AppList{{"shop", kSha, 1, 2}, {"ROOT", kOtherSha, 3, 4}}, DecodeAppList, EncodeAppList);
  ExpectRoundTrip(AppList{}, DecodeAppList, EncodeAppList);
}

TEST(FarmCodecTest, RefusesBadHashesNamesAndOversizeChunks) {
  EXPECT_FALSE(DecodeAnnounce(EncodeAnnounce({{"shop", "ABC", 1, 1}, "a"})).ok());
  EXPECT_FALSE(DecodeAnnounce(EncodeAnnounce({{"shop", std::string(64, 'G'), 1, 1}, "a"})).ok());
  EXPECT_FALSE(DecodeAnnounce(EncodeAnnounce({{"../etc", kSha, 1, 1}, "a"})).ok());
  EXPECT_FALSE(DecodeUndeployRequest(EncodeUndeployRequest({"a/b", "x"})).ok());
  EXPECT_FALSE(DecodeChunkRequest(EncodeChunkRequest({kSha, 0, kChunkBytes + 1})).ok());
  // A count larger than the bytes that follow is refused before anything is allocated.
  std::string list = EncodeAppList({});
  list[1] = '\xff';
  list[2] = '\xff';
  EXPECT_FALSE(DecodeAppList(list).ok());
}

TEST(FarmCodecTest, AppNames) {
  for (const char* ok : {"shop", "ROOT", "my-app_2.1"}) EXPECT_TRUE(ValidateAppName(ok).ok()) << ok;
  for (const char* bad : {"", ".hidden", "..", "a/b", "a b", "a\\b", "caf\xc3\xa9"})
    EXPECT_FALSE(ValidateAppName(bad).ok()) << bad;
}

// Writes the seed corpus: one valid message of each kind, selector byte first.
TEST(FarmCodecTest, SeedCorpus) {
  const char* dir = std::getenv("SESSIOND_WRITE_CORPUS");
  if (!dir) GTEST_SKIP() << "set SESSIOND_WRITE_CORPUS=tests/fuzz/corpus/deploy_farm to rewrite it";
  auto write = [&](const std::string& name, char selector, const std::string& bytes) {
    std::ofstream(std::string(dir) + "/" + name, std::ios::binary) << selector << bytes;
  };
  write("announce", 0, EncodeAnnounce({{"shop", kSha, 12345, 1700000000000}, "nodeA"}));
  write("chunk-request", 1, EncodeChunkRequest({kSha, 0, 4096}));
  write("chunk-reply", 2, EncodeChunkReply({true, "", "PK\x03\x04 some bytes"}));
  write("chunk-reply-error", 2, EncodeChunkReply({false, "no stored WAR", ""}));
  write("undeploy", 3, EncodeUndeployRequest({"shop", "nodeA"}));
  write("result-ok", 4, EncodeNodeResult({"nodeB", true, "", kSha, 12}));
  write("result-failed", 4, EncodeNodeResult({"nodeB", false, "shop.war: entry ../x: escapes", "", 1}));
  write("app-list", 5, EncodeAppList({{"shop", kSha, 1, 2}, {"ROOT", kOtherSha, 3, 4}}));
  write("app-list-bad-count", 5, std::string("\x01\xff\xff\xff\x7f", 5));
}

}  // namespace
}  // namespace sessiond::deploy
