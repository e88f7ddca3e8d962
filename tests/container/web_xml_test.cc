// web.xml parsing: the elements we read, defaults, and FILE:LINE:COL errors.
#include <gtest/gtest.h>

#include "container/apps_internal.h"

namespace sessiond::container {
namespace {

TEST(WebXmlTest, ReadsDistributableTimeoutWelcomeFilesAndMimeMappings) {
  const char* xml = R"(<?xml version="1.0" encoding="UTF-8"?>
<web-app xmlns="https://jakarta.ee/xml/ns/jakartaee" version="5.0">
  <display-name>myapp</display-name>
  <distributable/>
  <session-config>
    <session-timeout> 45 </session-timeout>
  </session-config>
  <welcome-file-list>
    <welcome-file>home.html</welcome-file>
    <welcome-file>index.html</welcome-file>
  </welcome-file-list>
  <mime-mapping>
    <extension>.MD</extension>
    <mime-type>text/markdown</mime-type>
  </mime-mapping>
  <servlet><servlet-name>ignored</servlet-name></servlet>
</web-app>)";
  Result<WebXml> web = ParseWebXml(xml, "web.xml");
  ASSERT_TRUE(web.ok()) << web.status().ToString();
  EXPECT_TRUE(web->distributable);
  EXPECT_EQ(web->session_timeout_minutes, 45);
  EXPECT_EQ(web->welcome_files, (std::vector<std::string>{"home.html", "index.html"}));
  EXPECT_EQ(web->mime_mappings.at("md"), "text/markdown");
}

TEST(WebXmlTest, DefaultsWhenElementsAreAbsent) {
  Result<WebXml> web = ParseWebXml("<web-app/>", "web.xml");
  ASSERT_TRUE(web.ok());
  EXPECT_FALSE(web->distributable);
  EXPECT_FALSE(web->session_timeout_minutes.has_value());
  EXPECT_EQ(web->welcome_files, (std::vector<std::string>{"index.html", "index.htm"}));
  EXPECT_TRUE(web->mime_mappings.empty());
}

TEST(WebXmlTest, AcceptsNamespacePrefixes) {
  Result<WebXml> web = ParseWebXml(
      "<j:web-app xmlns:j='x'><j:distributable/><j:welcome-file-list><j:welcome-file>a.htm"
      "</j:welcome-file></j:welcome-file-list></j:web-app>",
      "web.xml");
  ASSERT_TRUE(web.ok());
  EXPECT_TRUE(web->distributable);
  EXPECT_EQ(web->welcome_files, std::vector<std::string>{"a.htm"});
}

TEST(WebXmlTest, MalformedXmlNamesFileLineAndColumn) {
  Result<WebXml> web = ParseWebXml("<web-app>\n  <distributable>\n</web-app>\n", "app/WEB-INF/web.xml");
  ASSERT_FALSE(web.ok());
  EXPECT_EQ(web.status().code(), Code::kBadRequest);
  EXPECT_EQ(web.status().message().rfind("app/WEB-INF/web.xml:3:", 0), 0u)
      << web.status().message();
}

TEST(WebXmlTest, BadTimeoutNamesItsLine) {
  Result<WebXml> web = ParseWebXml(
      "<web-app>\n<session-config>\n<session-timeout>soon</session-timeout>\n</session-config>"
      "</web-app>",
      "web.xml");
  ASSERT_FALSE(web.ok());
  EXPECT_EQ(web.status().message().rfind("web.xml:3:", 0), 0u) << web.status().message();
  EXPECT_NE(web.status().message().find("soon"), std::string::npos);
}

TEST(WebXmlTest, WrongRootElementIsRefused) {
  Result<WebXml> web = ParseWebXml("<Server/>", "web.xml");
  ASSERT_FALSE(web.ok());
  EXPECT_NE(web.status().message().find("expected <web-app>"), std::string::npos);
}

TEST(WebXmlTest, EmptyInputIsRefused) {
  EXPECT_FALSE(ParseWebXml("", "web.xml").ok());
}

}  // namespace
}  // namespace sessiond::container
