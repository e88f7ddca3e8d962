// The app registry, deployment of a Host's apps, and the MIME table.
#include <zip.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "container/apps_internal.h"
#include "support/files.h"

namespace sessiond::container {
namespace {

namespace fs = std::filesystem;
using sessiond::testing::ReadFile;
using sessiond::testing::TempDir;
using sessiond::testing::WriteFile;

/// A zip with these (name, content) entries.
void BuildWar(const std::string& path, const std::vector<std::pair<std::string, std::string>>& files) {
  fs::create_directories(fs::path(path).parent_path());
  int err = 0;
  zip_t* z = zip_open(path.c_str(), ZIP_CREATE | ZIP_TRUNCATE, &err);
  ASSERT_NE(z, nullptr);
  for (const auto& [name, data] : files) {
    void* copy = std::malloc(data.size() + 1);
    std::memcpy(copy, data.data(), data.size());
    zip_source_t* src = zip_source_buffer(z, copy, data.size(), 1);
    ASSERT_GE(zip_file_add(z, name.c_str(), src, ZIP_FL_ENC_RAW), 0);
  }
  ASSERT_EQ(zip_close(z), 0);
}

class AppRegistryTest : public ::testing::Test {
 protected:
  void Deploy(const std::string& path) {
    std::string dir = tmp_.Path("app" + std::to_string(n_++));
    fs::create_directories(dir);
    ASSERT_TRUE(registry_.DeployFolder(path, dir, dir, "", 0).ok());
  }
  std::string PathOf(std::string_view request) {
    auto app = registry_.Resolve(request);
    return app ? (app->path.empty() ? "ROOT" : app->path) : "none";
  }
  TempDir tmp_;
  AppRegistry registry_{1800};
  int n_ = 0;
};

TEST_F(AppRegistryTest, ResolvesTheLongestSegmentPrefix) {
  Deploy("/shop");
  Deploy("/shop/admin");
  EXPECT_EQ(PathOf("/shop"), "/shop");
  EXPECT_EQ(PathOf("/shop/"), "/shop");
  EXPECT_EQ(PathOf("/shop/cart.html"), "/shop");
  EXPECT_EQ(PathOf("/shop/admin/x"), "/shop/admin");
  EXPECT_EQ(PathOf("/shopping"), "none");  // segment-wise, not string prefix
  EXPECT_EQ(PathOf("/"), "none");
}

TEST_F(AppRegistryTest, RootMatchesEverythingElse) {
  Deploy("/");
  Deploy("/shop");
  EXPECT_EQ(PathOf("/"), "ROOT");
  EXPECT_EQ(PathOf("/shopping/x"), "ROOT");
  EXPECT_EQ(PathOf("/shop/x"), "/shop");
  EXPECT_EQ(registry_.Find("")->name, "ROOT");
  EXPECT_EQ(registry_.Find("/shop")->name, "shop");
}

TEST_F(AppRegistryTest, UndeployRemovesAndAResolvedSnapshotStaysValid) {
  Deploy("/a");
  auto held = registry_.Resolve("/a/x");
  ASSERT_TRUE(registry_.Undeploy("/a").ok());
  EXPECT_EQ(registry_.Undeploy("/a").code(), Code::kNotFound);
  EXPECT_EQ(registry_.Resolve("/a/x"), nullptr);
  EXPECT_EQ(held->path, "/a");
}

TEST_F(AppRegistryTest, ReadsWebXmlAndItsSessionTimeout) {
  std::string dir = tmp_.Path("withxml");
  WriteFile(dir + "/WEB-INF/web.xml",
            "<web-app><distributable/><session-config><session-timeout>5</session-timeout>"
            "</session-config></web-app>");
  ASSERT_TRUE(registry_.DeployFolder("/x", dir, dir, "", 0).ok());
  auto app = registry_.Find("/x");
  EXPECT_TRUE(app->web.distributable);
  EXPECT_EQ(app->session_timeout_s, 300);
  EXPECT_EQ(app->root_dir, fs::canonical(dir).string());
}

TEST_F(AppRegistryTest, MalformedWebXmlIsRefusedWithItsLocation) {
  std::string dir = tmp_.Path("bad");
  WriteFile(dir + "/WEB-INF/web.xml", "<web-app>\n<oops>\n</web-app>");
  Status s = registry_.DeployFolder("/bad", dir, dir, "", 0);
  EXPECT_EQ(s.code(), Code::kBadRequest);
  EXPECT_NE(s.message().find("web.xml:3:"), std::string::npos) << s.message();
  EXPECT_EQ(registry_.Find("/bad"), nullptr);
}

TEST_F(AppRegistryTest, MissingFolderIsNotFound) {
  EXPECT_EQ(registry_.DeployFolder("/x", tmp_.Path("nope"), "", "", 0).code(), Code::kNotFound);
}

class DeployHostAppsTest : public ::testing::Test {
 protected:
  DeployHostAppsTest() {
    host_.app_base = tmp_.Path("webapps");
    fs::create_directories(host_.app_base);
  }
  std::string Base(const std::string& rel) { return host_.app_base + "/" + rel; }
  TempDir tmp_;
  config::HostConfig host_;
  AppRegistry registry_{1800};
  std::vector<std::string> errors_;
};

TEST_F(DeployHostAppsTest, DeploysFoldersWarsAndContextsAndReportsABadWar) {
  WriteFile(Base("ROOT/index.html"), "root");
  WriteFile(Base("folder/index.html"), "folder");
  BuildWar(Base("shop.war"), {{"index.html", "shop"}, {"WEB-INF/web.xml", "<web-app/>"}});
  WriteFile(Base("broken.war"), "not a zip");
  WriteFile(Base(".hidden/index.html"), "hidden");
  WriteFile(tmp_.Path("elsewhere/index.html"), "ctx");
  host_.contexts.push_back({"/ctx", tmp_.Path("elsewhere"), 12});

  ASSERT_TRUE(DeployHostApps(host_, 1 << 20, &registry_, &errors_).ok());
  std::vector<std::string> paths;
  for (const auto& app : registry_.List()) paths.push_back(app->path);
  EXPECT_EQ(paths, (std::vector<std::string>{"", "/ctx", "/folder", "/shop"}));
  ASSERT_EQ(errors_.size(), 1u);
  EXPECT_EQ(errors_[0], "broken.war: not a zip archive");

  auto shop = registry_.Find("/shop");
  EXPECT_EQ(ReadFile(shop->root_dir + "/index.html"), "shop");
  EXPECT_EQ(shop->root_dir, fs::canonical(Base("shop")).string());
  EXPECT_EQ(shop->sha256.size(), 64u);
  EXPECT_EQ(shop->size_bytes, fs::file_size(Base("shop.war")));
  EXPECT_EQ(shop->source, Base("shop.war"));
  EXPECT_TRUE(registry_.Find("/folder")->sha256.empty());
  EXPECT_FALSE(fs::exists(Base("broken")));
}

TEST_F(DeployHostAppsTest, SkipsUnpackWhenTheFolderIsCurrentAndRedoesItWhenTheWarChanges) {
  BuildWar(Base("app.war"), {{"index.html", "v1"}});
  ASSERT_TRUE(DeployHostApps(host_, 1 << 20, &registry_, &errors_).ok());
  WriteFile(Base("app/extra.txt"), "left alone when the WAR has not changed");
  ASSERT_TRUE(DeployHostApps(host_, 1 << 20, &registry_, &errors_).ok());
  EXPECT_TRUE(fs::exists(Base("app/extra.txt")));

  BuildWar(Base("app.war"), {{"index.html", "v2"}});
  ASSERT_TRUE(DeployHostApps(host_, 1 << 20, &registry_, &errors_).ok());
  EXPECT_TRUE(errors_.empty());
  EXPECT_EQ(ReadFile(Base("app/index.html")), "v2");
  EXPECT_FALSE(fs::exists(Base("app/extra.txt")));
}

TEST_F(DeployHostAppsTest, ContextWithAWarDocBaseIsUnpackedIntoAppBase) {
  BuildWar(tmp_.Path("dist/release.war"), {{"index.html", "release"}});
  host_.contexts.push_back({"/rel", tmp_.Path("dist/release.war"), 3});
  ASSERT_TRUE(DeployHostApps(host_, 1 << 20, &registry_, &errors_).ok());
  EXPECT_TRUE(errors_.empty());
  ASSERT_NE(registry_.Find("/rel"), nullptr);
  EXPECT_EQ(ReadFile(registry_.Find("/rel")->root_dir + "/index.html"), "release");
  EXPECT_TRUE(fs::exists(Base("rel/index.html")));
}

TEST_F(DeployHostAppsTest, AContextWinsOverTheAppBaseFolderOfTheSameName) {
  WriteFile(Base("app/index.html"), "appbase");
  WriteFile(tmp_.Path("mine/index.html"), "mine");
  host_.contexts.push_back({"/app", tmp_.Path("mine"), 3});
  ASSERT_TRUE(DeployHostApps(host_, 1 << 20, &registry_, &errors_).ok());
  EXPECT_EQ(ReadFile(registry_.Find("/app")->root_dir + "/index.html"), "mine");
}

TEST_F(DeployHostAppsTest, MissingContextDocBaseIsReported) {
  host_.contexts.push_back({"/gone", tmp_.Path("gone"), 7});
  ASSERT_TRUE(DeployHostApps(host_, 1 << 20, &registry_, &errors_).ok());
  ASSERT_EQ(errors_.size(), 1u);
  EXPECT_NE(errors_[0].find("line 7"), std::string::npos) << errors_[0];
}

TEST_F(DeployHostAppsTest, OversizeWarIsReported) {
  BuildWar(Base("big.war"), {{"index.html", std::string(5000, 'x')}});
  ASSERT_TRUE(DeployHostApps(host_, 100, &registry_, &errors_).ok());
  ASSERT_EQ(errors_.size(), 1u);
  EXPECT_NE(errors_[0].find("over the limit"), std::string::npos) << errors_[0];
  EXPECT_EQ(registry_.Find("/big"), nullptr);
}

TEST(MimeTypeTest, BuiltInTableAndWebXmlOverride) {
  App app;
  EXPECT_EQ(MimeTypeFor(app, "index.html"), "text/html; charset=utf-8");
  EXPECT_EQ(MimeTypeFor(app, "a/b/STYLE.CSS"), "text/css; charset=utf-8");
  EXPECT_EQ(MimeTypeFor(app, "app.mjs"), "text/javascript; charset=utf-8");
  EXPECT_EQ(MimeTypeFor(app, "data.json"), "application/json");
  EXPECT_EQ(MimeTypeFor(app, "logo.svg"), "image/svg+xml");
  EXPECT_EQ(MimeTypeFor(app, "font.woff2"), "font/woff2");
  EXPECT_EQ(MimeTypeFor(app, "m.wasm"), "application/wasm");
  EXPECT_EQ(MimeTypeFor(app, "noext"), "application/octet-stream");
  EXPECT_EQ(MimeTypeFor(app, "dir.d/noext"), "application/octet-stream");
  EXPECT_EQ(MimeTypeFor(app, "x.unknownext"), "application/octet-stream");
  app.web.mime_mappings["json"] = "application/vnd.custom+json";
  EXPECT_EQ(MimeTypeFor(app, "data.json"), "application/vnd.custom+json");
}

}  // namespace
}  // namespace sessiond::container
