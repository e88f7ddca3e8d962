// WAR validation and unpacking against hostile archives built at test time with libzip.
#include <sys/stat.h>
#include <zip.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "deploy/deploy.h"
#include "support/files.h"
#include "support/zip.h"

namespace sessiond::deploy {
namespace {

namespace fs = std::filesystem;
using sessiond::testing::ReadFile;
using sessiond::testing::TempDir;
using sessiond::testing::WriteFile;
using sessiond::testing::BuildZip;
using sessiond::testing::ZipEntry;

std::vector<std::string> Listing(const std::string& dir) {
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(dir)) names.push_back(entry.path().filename());
  std::sort(names.begin(), names.end());
  return names;
}

class WarTest : public ::testing::Test {
 protected:
  std::string War(const std::vector<ZipEntry>& entries, const std::string& name = "app.war") {
    std::string path = tmp_.Path(name);
    BuildZip(path, entries);
    return path;
  }
  std::string Good() {
    return War({{"index.html", "<h1>hi</h1>"},
                {"css/", "", std::nullopt, true},
                {"css/site.css", "body{}"},
                {"WEB-INF/web.xml", "<web-app/>"},
                {"img/logo.svg", "<svg/>", 0100644}},
               "good.war");
  }
  /// Asserts a refusal that names the archive, the entry and the reason, and wrote nothing.
  void ExpectRefused(const std::vector<ZipEntry>& entries, const std::string& entry,
                     const std::string& reason) {
    std::string war = War(entries);
    Status v = ValidateWar(war, limits_);
    EXPECT_EQ(v.code(), Code::kBadRequest) << v.ToString();
    EXPECT_NE(v.message().find("app.war"), std::string::npos) << v.message();
    EXPECT_NE(v.message().find(entry), std::string::npos) << v.message();
    EXPECT_NE(v.message().find(reason), std::string::npos) << v.message();
    Status u = UnpackWar(war, tmp_.Path("app"), limits_);
    EXPECT_EQ(u.code(), Code::kBadRequest) << u.ToString();
    EXPECT_EQ(Listing(tmp_.path()), std::vector<std::string>{"app.war"});
  }

  TempDir tmp_;
  WarLimits limits_;
};

TEST_F(WarTest, GoodWarValidatesAndUnpacks) {
  std::string war = Good();
  EXPECT_TRUE(ValidateWar(war, limits_).ok());
  Status s = UnpackWar(war, tmp_.Path("app"), limits_);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(ReadFile(tmp_.Path("app/index.html")), "<h1>hi</h1>");
  EXPECT_EQ(ReadFile(tmp_.Path("app/css/site.css")), "body{}");
  EXPECT_EQ(ReadFile(tmp_.Path("app/img/logo.svg")), "<svg/>");
  EXPECT_EQ(Listing(tmp_.path()), (std::vector<std::string>{"app", "good.war"}));
}

TEST_F(WarTest, RefusesZipSlip) {
  ExpectRefused({{"ok.txt", "x"}, {"../evil.txt", "x"}}, "../evil.txt", "escapes");
}

TEST_F(WarTest, RefusesNestedZipSlip) {
  ExpectRefused({{"a/../../b", "x"}}, "a/../../b", "escapes");
}

TEST_F(WarTest, RefusesAbsolutePath) { ExpectRefused({{"/etc/x", "x"}}, "/etc/x", "absolute"); }

TEST_F(WarTest, RefusesDriveLetter) { ExpectRefused({{"C:/x", "x"}}, "C:/x", "drive letter"); }

TEST_F(WarTest, RefusesBackslash) {
  ExpectRefused({{"a\\..\\..\\b", "x"}}, "a\\..\\..\\b", "backslash");
}

TEST_F(WarTest, RefusesSymlinkEntry) {
  ExpectRefused({{"index.html", "x"}, {"link", "/etc/passwd", S_IFLNK | 0777}}, "link",
                "symbolic link");
}

TEST_F(WarTest, RefusesDuplicatesAfterNormalising) {
  ExpectRefused({{"a/b.txt", "1"}, {"a//./b.txt", "2"}}, "a/b.txt", "duplicate");
}

TEST_F(WarTest, RefusesEntriesBelowAFile) {
  ExpectRefused({{"a", "file"}, {"a/b", "x"}}, "a", "is a file and also has entries below it");
}

TEST_F(WarTest, RefusesNulInName) {
  std::string war = War({{"index.html", "x"}, {"aX/../../evil", "x"}});
  std::string bytes = ReadFile(war);
  for (size_t at = bytes.find("aX/"); at != std::string::npos; at = bytes.find("aX/", at))
    bytes[at + 1] = '\0';  // in the local and the central header
  WriteFile(war, bytes);
  Status s = ValidateWar(war, limits_);
  EXPECT_EQ(s.code(), Code::kBadRequest) << s.ToString();
  EXPECT_NE(s.message().find("NUL byte in name"), std::string::npos) << s.message();
  EXPECT_FALSE(UnpackWar(war, tmp_.Path("app"), limits_).ok());
  EXPECT_EQ(Listing(tmp_.path()), std::vector<std::string>{"app.war"});
}

TEST_F(WarTest, RefusesNotAZip) {
  std::string war = tmp_.Path("app.war");
  WriteFile(war, "this is not a zip archive at all, just text");
  Status s = ValidateWar(war, limits_);
  EXPECT_EQ(s.code(), Code::kBadRequest);
  EXPECT_EQ(s.message(), "app.war: not a zip archive");
}

TEST_F(WarTest, RefusesTruncatedArchive) {
  std::string good = ReadFile(Good());
  std::string war = tmp_.Path("app.war");
  WriteFile(war, good.substr(0, good.size() / 2));
  Status s = ValidateWar(war, limits_);
  EXPECT_EQ(s.code(), Code::kBadRequest) << s.ToString();
  EXPECT_EQ(s.message().rfind("app.war: ", 0), 0u) << s.message();
  EXPECT_FALSE(UnpackWar(war, tmp_.Path("app"), limits_).ok());
  EXPECT_FALSE(fs::exists(tmp_.Path("app")));
}

TEST_F(WarTest, RefusesArchiveOverSizeLimit) {
  limits_.max_archive_bytes = 64;
  Status s = ValidateWar(Good(), limits_);
  EXPECT_EQ(s.code(), Code::kTooLarge) << s.ToString();
  EXPECT_NE(s.message().find("over the limit"), std::string::npos);
}

TEST_F(WarTest, RefusesUnpackedSizeOverLimit) {
  limits_.max_unpacked_bytes = 1000;
  std::string war = War({{"a.txt", std::string(600, 'a')}, {"b.txt", std::string(600, 'b')}});
  Status s = ValidateWar(war, limits_);
  EXPECT_EQ(s.code(), Code::kTooLarge) << s.ToString();
  EXPECT_NE(s.message().find("b.txt"), std::string::npos) << s.message();
}

TEST_F(WarTest, RefusesTooManyEntries) {
  limits_.max_entries = 2;
  std::string war = War({{"a", "1"}, {"b", "2"}, {"c", "3"}});
  Status s = ValidateWar(war, limits_);
  EXPECT_EQ(s.code(), Code::kBadRequest) << s.ToString();
  EXPECT_NE(s.message().find("3 entries"), std::string::npos) << s.message();
}

/// Rewrites the uncompressed size of the (only) entry in both the local and the central header.
void LieAboutSize(std::string* zip, uint32_t size) {
  auto put32 = [&](size_t at) {
    for (int i = 0; i < 4; ++i) (*zip)[at + i] = static_cast<char>((size >> (8 * i)) & 0xff);
  };
  ASSERT_EQ(zip->compare(0, 4, "PK\x03\x04"), 0);
  put32(22);
  size_t central = zip->find("PK\x01\x02");
  ASSERT_NE(central, std::string::npos);
  put32(central + 24);
}

TEST_F(WarTest, CatchesZipBombThatLiesAboutItsSize) {
  std::string honest = tmp_.Path("honest.war");
  BuildZip(honest, {{"bomb.bin", std::string(4 << 20, '\0')}});
  std::string bytes = ReadFile(honest);
  ASSERT_LT(bytes.size(), 64u << 10);  // it compresses well: that is the point
  LieAboutSize(&bytes, 100);
  fs::remove(honest);
  std::string war = tmp_.Path("app.war");
  WriteFile(war, bytes);
  Status v = ValidateWar(war, limits_);
  EXPECT_EQ(v.code(), Code::kBadRequest) << v.ToString();
  EXPECT_NE(v.message().find("app.war: entry bomb.bin: "), std::string::npos) << v.message();
  std::printf("lying zip bomb: %s\n", v.message().c_str());
  Status u = UnpackWar(war, tmp_.Path("app"), limits_);
  EXPECT_FALSE(u.ok());
  EXPECT_EQ(Listing(tmp_.path()), std::vector<std::string>{"app.war"});
}

TEST_F(WarTest, FailedUnpackKeepsTheOldApp) {
  std::string dest = tmp_.Path("app");
  WriteFile(dest + "/old.html", "old");
  std::string bad = War({{"index.html", "new"}, {"../evil", "x"}}, "bad.war");
  EXPECT_FALSE(UnpackWar(bad, dest, limits_).ok());
  std::string broken = tmp_.Path("broken.war");
  WriteFile(broken, ReadFile(Good()).substr(0, 100));
  EXPECT_FALSE(UnpackWar(broken, dest, limits_).ok());
  EXPECT_EQ(Listing(dest), std::vector<std::string>{"old.html"});
  EXPECT_EQ(ReadFile(dest + "/old.html"), "old");
  EXPECT_EQ(Listing(tmp_.path()),
            (std::vector<std::string>{"app", "bad.war", "broken.war", "good.war"}));
}

TEST_F(WarTest, UnpackReplacesTheOldAppWhole) {
  std::string dest = tmp_.Path("app");
  WriteFile(dest + "/old.html", "old");
  ASSERT_TRUE(UnpackWar(Good(), dest, limits_).ok());
  EXPECT_FALSE(fs::exists(dest + "/old.html"));
  EXPECT_EQ(ReadFile(dest + "/index.html"), "<h1>hi</h1>");
  EXPECT_EQ(Listing(tmp_.path()), (std::vector<std::string>{"app", "good.war"}));
}

TEST_F(WarTest, RefusesToReplaceAFile) {
  WriteFile(tmp_.Path("app"), "a file");
  Status s = UnpackWar(Good(), tmp_.Path("app"), limits_);
  EXPECT_EQ(s.code(), Code::kConflict) << s.ToString();
  EXPECT_EQ(ReadFile(tmp_.Path("app")), "a file");
  EXPECT_EQ(Listing(tmp_.path()), (std::vector<std::string>{"app", "good.war"}));
}

TEST_F(WarTest, AcceptsDotSlashFolderEntry) {
  std::string war = War({{"./", "", std::nullopt, true}, {"./index.html", "x"}});
  ASSERT_TRUE(UnpackWar(war, tmp_.Path("app"), limits_).ok());
  EXPECT_EQ(ReadFile(tmp_.Path("app/index.html")), "x");
}

TEST(Sha256FileTest, HashesTheBytes) {
  TempDir tmp;
  WriteFile(tmp.Path("abc"), "abc");
  Result<std::string> h = Sha256File(tmp.Path("abc"));
  ASSERT_TRUE(h.ok());
  EXPECT_EQ(*h, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(Sha256File(tmp.Path("missing")).status().code(), Code::kNotFound);
}

}  // namespace
}  // namespace sessiond::deploy
