// ServeStatic: methods, welcome files and redirects, validators and conditional requests, ranges,
// private folders, traversal and symlinks out of the app.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <string>

#include <gtest/gtest.h>

#include "container/apps_internal.h"
#include "support/files.h"

namespace sessiond::container {
namespace {

namespace fs = std::filesystem;
using sessiond::testing::TempDir;
using sessiond::testing::WriteFile;

class StaticFilesTest : public ::testing::Test {
 protected:
  StaticFilesTest() {
    root_ = tmp_.Path("app");
    WriteFile(root_ + "/index.html", "<h1>home</h1>");
    WriteFile(root_ + "/data.txt", "0123456789");
    WriteFile(root_ + "/docs/index.htm", "docs");
    WriteFile(root_ + "/empty/.keep", "");
    WriteFile(root_ + "/notes.md", "# notes");
    WriteFile(root_ + "/WEB-INF/web.xml", "<web-app/>");
    WriteFile(root_ + "/META-INF/MANIFEST.MF", "Manifest-Version: 1.0");
    WriteFile(tmp_.Path("secret.txt"), "outside the app");
    app_.path = "/ctx";
    app_.name = "ctx";
    app_.root_dir = fs::canonical(root_).string();
    app_.web.welcome_files = {"index.html", "index.htm"};
  }
  Response Get(std::string_view rel, std::vector<std::pair<std::string, std::string>> headers = {},
               std::string method = "GET") {
    Request r;
    r.method = std::move(method);
    r.path = "/ctx" + std::string(rel);
    r.target = r.path;
    r.headers = std::move(headers);
    return ServeStatic(app_, r, rel);
  }
  static std::string H(const Response& r, std::string_view name) {
    auto v = r.Header(name);
    return v ? std::string(*v) : "(none)";
  }

  TempDir tmp_;
  std::string root_;
  App app_;
};

TEST_F(StaticFilesTest, ServesAFileAsAFileBodyWithValidators) {
  Response r = Get("/data.txt");
  EXPECT_EQ(r.status, 200);
  ASSERT_TRUE(r.file.has_value());
  EXPECT_EQ(r.file->path, app_.root_dir + "/data.txt");
  EXPECT_EQ(r.file->offset, 0u);
  EXPECT_EQ(r.file->length, 10u);
  EXPECT_EQ(r.BodySize(), 10u);
  EXPECT_EQ(H(r, "Content-Type"), "text/plain; charset=utf-8");
  EXPECT_EQ(H(r, "Accept-Ranges"), "bytes");
  EXPECT_EQ(H(r, "ETag").rfind("\"a-", 0), 0u) << H(r, "ETag");  // size 10 in hex
  EXPECT_EQ(H(r, "Last-Modified").size(), 29u) << H(r, "Last-Modified");
  EXPECT_NE(H(r, "Last-Modified").find(" GMT"), std::string::npos);
}

TEST_F(StaticFilesTest, HeadAnswersLikeGet) {
  Response r = Get("/data.txt", {}, "HEAD");
  EXPECT_EQ(r.status, 200);
  ASSERT_TRUE(r.file.has_value());
  EXPECT_EQ(r.BodySize(), 10u);
  EXPECT_EQ(H(r, "ETag"), H(Get("/data.txt"), "ETag"));
}

TEST_F(StaticFilesTest, OtherMethodsGet405WithAllow) {
  for (const char* m : {"POST", "PUT", "DELETE", "PATCH"}) {
    Response r = Get("/data.txt", {}, m);
    EXPECT_EQ(r.status, 405) << m;
    EXPECT_EQ(H(r, "Allow"), "GET, HEAD");
    EXPECT_FALSE(r.file.has_value());
  }
}

TEST_F(StaticFilesTest, IfNoneMatchGives304) {
  std::string etag = H(Get("/data.txt"), "ETag");
  Response r = Get("/data.txt", {{"If-None-Match", "\"other\", " + etag}});
  EXPECT_EQ(r.status, 304);
  EXPECT_FALSE(r.file.has_value());
  EXPECT_EQ(H(r, "ETag"), etag);
  EXPECT_EQ(Get("/data.txt", {{"if-none-match", "W/" + etag}}).status, 304);
  EXPECT_EQ(Get("/data.txt", {{"If-None-Match", "*"}}).status, 304);
  EXPECT_EQ(Get("/data.txt", {{"If-None-Match", "\"stale\""}}).status, 200);
}

TEST_F(StaticFilesTest, IfModifiedSinceGives304UntilTheFileChanges) {
  std::string modified = H(Get("/data.txt"), "Last-Modified");
  EXPECT_EQ(Get("/data.txt", {{"If-Modified-Since", modified}}).status, 304);
  EXPECT_EQ(Get("/data.txt", {{"If-Modified-Since", "Sun, 06 Nov 1994 08:49:37 GMT"}}).status, 200);
  EXPECT_EQ(Get("/data.txt", {{"If-Modified-Since", "garbage"}}).status, 200);
  // If-None-Match takes precedence over If-Modified-Since.
  EXPECT_EQ(Get("/data.txt", {{"If-None-Match", "\"stale\""}, {"If-Modified-Since", modified}})
                .status,
            200);
}

TEST_F(StaticFilesTest, EtagChangesWithTheContent) {
  std::string before = H(Get("/data.txt"), "ETag");
  WriteFile(root_ + "/data.txt", "01234567890");
  EXPECT_NE(H(Get("/data.txt"), "ETag"), before);
}

TEST_F(StaticFilesTest, SingleRangesGive206) {
  Response r = Get("/data.txt", {{"Range", "bytes=2-5"}});
  EXPECT_EQ(r.status, 206);
  EXPECT_EQ(H(r, "Content-Range"), "bytes 2-5/10");
  ASSERT_TRUE(r.file.has_value());
  EXPECT_EQ(r.file->offset, 2u);
  EXPECT_EQ(r.file->length, 4u);

  r = Get("/data.txt", {{"Range", "bytes=7-"}});
  EXPECT_EQ(H(r, "Content-Range"), "bytes 7-9/10");
  EXPECT_EQ(r.file->length, 3u);

  r = Get("/data.txt", {{"Range", "bytes=-4"}});
  EXPECT_EQ(H(r, "Content-Range"), "bytes 6-9/10");
  EXPECT_EQ(r.file->offset, 6u);

  r = Get("/data.txt", {{"Range", "bytes=5-100"}});
  EXPECT_EQ(H(r, "Content-Range"), "bytes 5-9/10");
  r = Get("/data.txt", {{"Range", "bytes=-100"}});
  EXPECT_EQ(H(r, "Content-Range"), "bytes 0-9/10");
}

TEST_F(StaticFilesTest, UnsatisfiableRangeGives416) {
  for (const char* range : {"bytes=10-", "bytes=20-30", "bytes=-0"}) {
    Response r = Get("/data.txt", {{"Range", range}});
    EXPECT_EQ(r.status, 416) << range;
    EXPECT_EQ(H(r, "Content-Range"), "bytes */10");
    EXPECT_FALSE(r.file.has_value());
  }
}

TEST_F(StaticFilesTest, MultipleOrMalformedRangesServeTheWholeFile) {
  for (const char* range : {"bytes=0-1,4-5", "bytes=5-2", "items=0-1", "bytes=x-y"}) {
    Response r = Get("/data.txt", {{"Range", range}});
    EXPECT_EQ(r.status, 200) << range;
    EXPECT_EQ(r.file->length, 10u);
  }
}

TEST_F(StaticFilesTest, IfRangeWithAStaleValidatorServesTheWholeFile) {
  std::string etag = H(Get("/data.txt"), "ETag");
  EXPECT_EQ(Get("/data.txt", {{"Range", "bytes=0-1"}, {"If-Range", etag}}).status, 206);
  EXPECT_EQ(Get("/data.txt", {{"Range", "bytes=0-1"}, {"If-Range", "\"old\""}}).status, 200);
}

TEST_F(StaticFilesTest, WelcomeFilesAndRedirectsToTheSlash) {
  Response r = Get("");
  EXPECT_EQ(r.status, 302);
  EXPECT_EQ(H(r, "Location"), "/ctx/");
  r = Get("/");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.file->path, app_.root_dir + "/index.html");
  EXPECT_EQ(H(r, "Content-Type"), "text/html; charset=utf-8");

  r = Get("/docs");
  EXPECT_EQ(r.status, 302);
  EXPECT_EQ(H(r, "Location"), "/ctx/docs/");
  r = Get("/docs/");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.file->path, app_.root_dir + "/docs/index.htm");
}

TEST_F(StaticFilesTest, RedirectKeepsTheQueryAndEncodesThePath) {
  WriteFile(root_ + "/a b/index.html", "x");
  Request req;
  req.method = "GET";
  req.path = "/ctx/a b";
  req.query = "x=1";
  Response r = ServeStatic(app_, req, "/a b");
  EXPECT_EQ(r.status, 302);
  EXPECT_EQ(H(r, "Location"), "/ctx/a%20b/?x=1");
}

TEST_F(StaticFilesTest, RootAppRedirectsToSlash) {
  app_.path = "";
  EXPECT_EQ(H(Get(""), "Location"), "/");
}

TEST_F(StaticFilesTest, NoDirectoryListings) {
  EXPECT_EQ(Get("/empty/").status, 404);
  EXPECT_EQ(Get("/data.txt/").status, 404);
  EXPECT_EQ(Get("/missing.html").status, 404);
}

TEST_F(StaticFilesTest, PrivateFoldersAre404InAnyCase) {
  for (const char* p : {"/WEB-INF/web.xml", "/web-inf/web.xml", "/META-INF/MANIFEST.MF",
                        "/Meta-Inf/MANIFEST.MF", "/./WEB-INF/web.xml", "//WEB-INF/web.xml",
                        "/WEB-INF/", "/WEB-INF"}) {
    EXPECT_EQ(Get(p).status, 404) << p;
  }
}

TEST_F(StaticFilesTest, TraversalIs404) {
  for (const char* p : {"/../secret.txt", "/docs/../../secret.txt", "/..", "/docs/..",
                        "/a\\..\\secret.txt"}) {
    Response r = Get(p);
    EXPECT_EQ(r.status, 404) << p;
    EXPECT_FALSE(r.file.has_value());
  }
  EXPECT_EQ(Get(std::string("/data.txt\0x", 11)).status, 404);
}

TEST_F(StaticFilesTest, SymlinksOutOfTheAppAre404) {
  ASSERT_EQ(::symlink(tmp_.Path("secret.txt").c_str(), (root_ + "/out.txt").c_str()), 0);
  ASSERT_EQ(::symlink(tmp_.path().c_str(), (root_ + "/outdir").c_str()), 0);
  EXPECT_EQ(Get("/out.txt").status, 404);
  EXPECT_EQ(Get("/outdir/secret.txt").status, 404);
}

TEST_F(StaticFilesTest, SymlinksInsideTheAppAreServedButNotIntoWebInf) {
  ASSERT_EQ(::symlink("data.txt", (root_ + "/alias.txt").c_str()), 0);
  ASSERT_EQ(::symlink("WEB-INF/web.xml", (root_ + "/config.xml").c_str()), 0);
  EXPECT_EQ(Get("/alias.txt").status, 200);
  EXPECT_EQ(Get("/config.xml").status, 404);
}

// Deployed apps open files beneath an O_PATH descriptor of their root (App::root_fd); the same
// rules hold on that road, and the response carries the descriptor that was checked.
TEST_F(StaticFilesTest, BeneathTheRootDescriptorTheSameRulesHold) {
  int root_fd = ::open(app_.root_dir.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
  ASSERT_GE(root_fd, 0);
  app_.root_fd = std::make_shared<const OwnedFd>(root_fd);
  ASSERT_EQ(::symlink(tmp_.Path("secret.txt").c_str(), (root_ + "/out.txt").c_str()), 0);
  ASSERT_EQ(::symlink(tmp_.path().c_str(), (root_ + "/outdir").c_str()), 0);
  ASSERT_EQ(::symlink("data.txt", (root_ + "/alias.txt").c_str()), 0);
  ASSERT_EQ(::symlink("WEB-INF/web.xml", (root_ + "/config.xml").c_str()), 0);
  ASSERT_EQ(::symlink("docs", (root_ + "/docs-link").c_str()), 0);
  for (const char* p : {"/out.txt", "/outdir/secret.txt", "/config.xml", "/WEB-INF/web.xml",
                        "/../secret.txt", "/missing", "/empty/"}) {
    EXPECT_EQ(Get(p).status, 404) << p;
  }
  Response r = Get("/data.txt");
  ASSERT_EQ(r.status, 200);
  ASSERT_TRUE(r.file && r.file->fd);
  char buf[16] = {};
  EXPECT_EQ(::pread(r.file->fd->get(), buf, sizeof buf, 0), 10);
  EXPECT_STREQ(buf, "0123456789");
  EXPECT_EQ(Get("/alias.txt").status, 200);
  EXPECT_EQ(Get("/").file->path, app_.root_dir + "/index.html");
  EXPECT_EQ(Get("/docs-link/").status, 200);  // a folder symlinked inside the app: its welcome file
  EXPECT_EQ(Get("/docs-link").status, 302);
}

TEST_F(StaticFilesTest, FifosAreNeverServed) {
  ASSERT_EQ(::mkfifo((root_ + "/pipe.txt").c_str(), 0644), 0);
  EXPECT_EQ(Get("/pipe.txt").status, 404);
}

TEST_F(StaticFilesTest, WebXmlMimeMappingWins) {
  EXPECT_EQ(H(Get("/notes.md"), "Content-Type"), "text/markdown; charset=utf-8");
  app_.web.mime_mappings["md"] = "text/x-notes";
  EXPECT_EQ(H(Get("/notes.md"), "Content-Type"), "text/x-notes");
}

TEST_F(StaticFilesTest, WebXmlWelcomeFileOrderIsUsed) {
  WriteFile(root_ + "/home.html", "home");
  app_.web.welcome_files = {"home.html", "index.html"};
  EXPECT_EQ(Get("/").file->path, app_.root_dir + "/home.html");
  app_.web.welcome_files = {"../secret.txt"};
  EXPECT_EQ(Get("/").status, 404);
}

}  // namespace
}  // namespace sessiond::container
