#include "base/base.h"

#include <gtest/gtest.h>

namespace sessiond {
namespace {

TEST(StatusTest, OkCarriesNoMessage) {
  Status s;
  EXPECT_TRUE(s.ok());
  EXPECT_EQ(s.ToString(), "ok");
}

TEST(StatusTest, CodesMapToHttpAndExitCodes) {
  EXPECT_EQ(HttpStatusOf(Code::kNotFound), 404);
  EXPECT_EQ(ExitCodeOf(Code::kNotFound), 4);
  EXPECT_EQ(ExitCodeOf(Code::kUnauthorized), 3);
  EXPECT_EQ(ErrorWordOf(Code::kUnavailable), "unavailable");
  EXPECT_EQ(CodeOfHttpStatus(401), Code::kUnauthorized);
  EXPECT_EQ(CodeOfHttpStatus(204), Code::kOk);
}

TEST(StatusTest, AnnotatePrefixesTheMessage) {
  Status s = Status::BadRequest("bad").Annotate("server.xml:3:4");
  EXPECT_EQ(s.message(), "server.xml:3:4: bad");
  EXPECT_EQ(s.code(), Code::kBadRequest);
}

TEST(ResultTest, HoldsValueOrStatus) {
  Result<int> v(7);
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(*v, 7);
  Result<int> e(Status::NotFound("x"));
  EXPECT_FALSE(e.ok());
  EXPECT_EQ(e.status().code(), Code::kNotFound);
}

TEST(TimeTest, Rfc3339RoundTrips) {
  int64_t ms = 1764032523456;
  std::string text = FormatRfc3339Millis(ms);
  EXPECT_EQ(text, "2025-11-25T01:02:03.456Z");
  EXPECT_EQ(ParseRfc3339Millis(text), ms);
  EXPECT_EQ(ParseRfc3339Millis("2025-11-25T01:02:03Z"), 1764032523000);
  EXPECT_FALSE(ParseRfc3339Millis("yesterday").has_value());
}

TEST(TimeTest, DurationsParseEveryUnit) {
  EXPECT_EQ(*ParseDurationMillis("90s"), 90000);
  EXPECT_EQ(*ParseDurationMillis("5m"), 300000);
  EXPECT_EQ(*ParseDurationMillis("1h"), 3600000);
  EXPECT_EQ(*ParseDurationMillis("2d"), 172800000);
  EXPECT_EQ(*ParseDurationMillis("250ms"), 250);
  EXPECT_EQ(*ParseDurationMillis("30"), 30000);
  EXPECT_FALSE(ParseDurationMillis("5 minutes").ok());
  EXPECT_FALSE(ParseDurationMillis("-3s").ok());
  EXPECT_FALSE(ParseDurationMillis("").ok());
}

TEST(TimeTest, DurationsFormatForPeople) {
  EXPECT_EQ(FormatDurationMillis(90000), "1m30s");
  EXPECT_EQ(FormatDurationMillis(3600000), "1h");
  EXPECT_EQ(FormatDurationMillis(500), "500ms");
  EXPECT_EQ(FormatDurationMillis(2 * 86400000LL + 5000), "2d");
}

TEST(TextTest, HexAndRandom) {
  EXPECT_EQ(HexEncode("\x01\xab"), "01ab");
  EXPECT_EQ(RandomBytes(16).size(), 16u);
  EXPECT_NE(RandomBytes(16), RandomBytes(16));
}

TEST(TextTest, ConstantTimeEqualsComparesWholeStrings) {
  EXPECT_TRUE(ConstantTimeEquals("abc", "abc"));
  EXPECT_FALSE(ConstantTimeEquals("abc", "abd"));
  EXPECT_FALSE(ConstantTimeEquals("abc", "abcd"));
  EXPECT_FALSE(ConstantTimeEquals("", "a"));
}

TEST(LogTest, ParsesLevels) {
  EXPECT_EQ(ParseLogLevel("warning"), LogLevel::kWarn);
  EXPECT_FALSE(ParseLogLevel("loud").has_value());
}

}  // namespace
}  // namespace sessiond

namespace sessiond {
namespace {
TEST(TextTest, PercentEncodePathKeepsSlashesAndUnreserved) {
  EXPECT_EQ(PercentEncodePath("/my app/a~b_c.d-e"), "/my%20app/a~b_c.d-e");
  EXPECT_EQ(PercentEncodePath("3F.n?x=1&y"), "3F.n%3Fx%3D1%26y");
  EXPECT_EQ(PercentEncodePath(std::string("\xff", 1)), "%FF");
}
}  // namespace
}  // namespace sessiond

namespace sessiond {
namespace {
TEST(TextTest, EqualsIgnoreCaseIsAsciiCaseInsensitive) {
  EXPECT_TRUE(EqualsIgnoreCase("Content-Type", "content-type"));
  EXPECT_FALSE(EqualsIgnoreCase("Cookie", "Cookies"));
  EXPECT_FALSE(EqualsIgnoreCase("WEB-INF", "WEB_INF"));
}
}  // namespace
}  // namespace sessiond
