// The HTTP value helpers: header, cookie and query lookup, percent-decoding, JSON responses.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "container/http_internal.h"

namespace sessiond::container {
namespace {

TEST(HttpValuesTest, HeaderLookupIsCaseInsensitiveAndTakesTheFirst) {
  Request r;
  r.headers = {{"Content-Type", "text/plain"}, {"X-A", "1"}, {"x-a", "2"}};
  EXPECT_EQ(r.Header("content-type"), "text/plain");
  EXPECT_EQ(r.Header("X-A"), "1");
  EXPECT_FALSE(r.Header("Missing").has_value());
}

TEST(HttpValuesTest, CookiesAcrossHeaders) {
  Request r;
  r.headers = {{"Cookie", "a=1; JSESSIONIDX=no;  theme = dark "},
               {"cookie", "JSESSIONID=ABC.tomcatA; b=\"quoted\""}};
  EXPECT_EQ(r.Cookie("JSESSIONID"), "ABC.tomcatA");
  EXPECT_EQ(r.Cookie("theme"), "dark");
  EXPECT_EQ(r.Cookie("b"), "quoted");
  EXPECT_EQ(r.Cookie("a"), "1");
  EXPECT_FALSE(r.Cookie("JSESSION").has_value());
}

TEST(HttpValuesTest, QueryParamsAreDecoded) {
  Request r;
  r.query = "create=false&name=a%20b+c&flag&empty=&x=1&x=2";
  EXPECT_EQ(r.QueryParam("create"), "false");
  EXPECT_EQ(r.QueryParam("name"), "a b c");
  EXPECT_EQ(r.QueryParam("flag"), "");
  EXPECT_EQ(r.QueryParam("empty"), "");
  EXPECT_EQ(r.QueryParam("x"), "1");
  EXPECT_FALSE(r.QueryParam("nope").has_value());
}

TEST(HttpValuesTest, PercentDecode) {
  EXPECT_EQ(PercentDecode("/a%2Fb%20c", false), "/a/b c");
  EXPECT_EQ(PercentDecode("a+b", false), "a+b");
  EXPECT_EQ(PercentDecode("a+b", true), "a b");
  EXPECT_FALSE(PercentDecode("%", false).has_value());
  EXPECT_FALSE(PercentDecode("%4", false).has_value());
  EXPECT_FALSE(PercentDecode("%zz", false).has_value());
  EXPECT_FALSE(PercentDecode("a%00b", false).has_value());
  EXPECT_EQ(PercentDecode("%e2%82%ac", false), "\xe2\x82\xac");
}

TEST(HttpValuesTest, SetHeaderReplacesCaseInsensitively) {
  Response r;
  r.SetHeader("Content-Type", "a");
  r.SetHeader("content-type", "b");
  r.SetHeader("ETag", "\"1\"");
  EXPECT_EQ(r.headers.size(), 2u);
  EXPECT_EQ(r.Header("CONTENT-TYPE"), "b");
}

TEST(HttpValuesTest, JsonAndErrorResponses) {
  Response ok = Response::Json(201, "{}");
  EXPECT_EQ(ok.status, 201);
  EXPECT_EQ(ok.Header("Content-Type"), "application/json");
  EXPECT_EQ(ok.BodySize(), 2u);

  Response err = Response::Error(404, "no \"such\" thing");
  EXPECT_EQ(err.status, 404);
  auto j = nlohmann::json::parse(err.body);
  EXPECT_EQ(j["error"], "not_found");
  EXPECT_EQ(j["message"], "no \"such\" thing");
  EXPECT_EQ(nlohmann::json::parse(Response::Error(413, "big").body)["error"], "bad_request");
  EXPECT_EQ(nlohmann::json::parse(Response::Error(503, "x").body)["error"], "unavailable");
  EXPECT_EQ(nlohmann::json::parse(Response::Error(405, "x").body)["error"], "method_not_allowed");
  EXPECT_NO_THROW(nlohmann::json::parse(Response::Error(400, "bad \xff byte").body));
}

}  // namespace
}  // namespace sessiond::container
