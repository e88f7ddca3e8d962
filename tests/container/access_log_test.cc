// Tomcat AccessLogValve patterns, and the access log file a running container writes.
#include <filesystem>
#include <regex>

#include "container/access_log_internal.h"
#include "container_fixture.h"

namespace sessiond::container {
namespace {

using testing::ContainerTest;

struct Sample {
  Request request;
  Response response;
  AccessRecord record;
  Sample() {
    request.method = "GET";
    request.target = "/myapp/a%20b?x=1";
    request.path = "/myapp/a b";
    request.query = "x=1";
    request.remote_addr = "10.0.0.7";
    request.headers = {{"Referer", "http://r/"}, {"User-Agent", "curl \"8\""}, {"Cookie", "JSESSIONID=ABC; k=v"}};
    request.received_ms = 1700000000123;
    response.status = 200;
    response.body = "hello";
    response.SetHeader("Content-Type", "text/plain");
    record = {&request, &response, "ABC.nodeA", "127.0.0.1", 8080, "localhost", 2600, 1};
  }
  std::string Format(std::string_view pattern) {
    std::string out;
    AccessLogPattern::Parse(pattern).Format(record, &out);
    return out;
  }
};

TEST(AccessLogPatternTest, CommonMatchesTomcat) {
  Sample s;
  std::string time = FormatCommonLogTime(s.request.received_ms);
  EXPECT_EQ(s.Format("common"), "10.0.0.7 - - " + time + " \"GET /myapp/a%20b?x=1 HTTP/1.1\" 200 5");
  EXPECT_TRUE(std::regex_match(time, std::regex(R"(\[\d\d/\w\w\w/\d{4}:\d\d:\d\d:\d\d [+-]\d{4}\])"))) << time;
}

TEST(AccessLogPatternTest, TheSeedsPatternIsCommon) {
  Sample s;
  EXPECT_EQ(s.Format("%h %l %u %t \"%r\" %s %b"), s.Format("common"));
}

TEST(AccessLogPatternTest, CombinedAddsRefererAndEscapedUserAgent) {
  Sample s;
  EXPECT_EQ(s.Format("combined"), s.Format("common") + " \"http://r/\" \"curl \\\"8\\\"\"");
  s.request.headers.clear();
  EXPECT_TRUE(s.Format("combined").ends_with(" \"-\" \"-\""));
}

TEST(AccessLogPatternTest, EveryCode) {
  Sample s;
  EXPECT_EQ(s.Format("%a|%A|%B|%H|%m|%p|%q|%s|%S|%u|%U|%v|%D|%T|%I|%%"),
            "10.0.0.7|127.0.0.1|5|HTTP/1.1|GET|8080|?x=1|200|ABC.nodeA|-|/myapp/a%20b|localhost|2600|0.003|http-loop-1|%");
  EXPECT_EQ(s.Format("%{User-Agent}i %{Content-Type}o %{k}c %{missing}i"), "curl \\\"8\\\" text/plain v -");
  s.response.body.clear();
  s.record.session_id = "";
  EXPECT_EQ(s.Format("%b %B %S %Z"), "- 0 - ???");
}

TEST(AccessLogPatternTest, ControlCharactersCannotForgeLines) {
  Sample s;
  s.request.target = "/x\nfake 200";
  EXPECT_EQ(s.Format("%r"), "GET /x\\nfake 200 HTTP/1.1");
}

class AccessLogTest : public ContainerTest {
 protected:
  void Start(const std::string& pattern) {
    StartContainer([&](config::NodeConfig& c) {
      c.host.access_log.enabled = true;
      c.host.access_log.pattern = pattern;
      c.host.access_log.directory = dir_.Path("logs");
    });
  }
  std::string TodaysFile() {
    char date[16];
    std::time_t t = std::time(nullptr);
    std::tm tm{};
    localtime_r(&t, &tm);
    std::strftime(date, sizeof date, "%Y-%m-%d", &tm);
    return dir_.Path(std::string("logs/localhost_access_log.") + date + ".txt");
  }
  /// Shutdown flushes the writer, so the file is complete afterwards.
  std::string StopAndRead() {
    container_->Shutdown(1000);
    return sessiond::testing::ReadFile(TodaysFile());
  }
};

TEST_F(AccessLogTest, WritesCommonLinesToTodaysFile) {
  Start("%h %l %u %t \"%r\" %s %b");
  Send("GET", "/myapp/index.html");
  Send("GET", "/myapp/missing.html");
  std::string text = StopAndRead();
  std::regex line(R"(127\.0\.0\.1 - - \[[^\]]+\] "GET /myapp/index\.html HTTP/1\.1" 200 15\n)"
                  R"(127\.0\.0\.1 - - \[[^\]]+\] "GET /myapp/missing\.html HTTP/1\.1" 404 \d+\n)");
  EXPECT_TRUE(std::regex_match(text, line)) << text;
}

TEST_F(AccessLogTest, CombinedAndSessionIds) {
  Start("%h %l %u %t \"%r\" %s %b \"%{Referer}i\" \"%{User-Agent}i\" %S");  // combined + %S
  auto c = Client();
  c->Get("/myapp/.session", {{"User-Agent", "probe/1"}, {"Referer", "http://ref/"}});
  std::string text = StopAndRead();
  EXPECT_NE(text.find("\"http://ref/\" \"probe/1\" "), std::string::npos) << text;
  EXPECT_NE(text.find(".nodeA\n"), std::string::npos) << text;
}

TEST_F(AccessLogTest, ReopenStartsANewFileAfterARename) {
  Start("common");
  Send("GET", "/myapp/index.html");
  std::this_thread::sleep_for(std::chrono::milliseconds(400));  // the writer's period is 200 ms
  std::filesystem::rename(TodaysFile(), TodaysFile() + ".1");
  container_->ReopenLogs();
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  Send("GET", "/myapp/missing.html");
  std::string text = StopAndRead();
  EXPECT_NE(text.find("missing.html"), std::string::npos);
  EXPECT_EQ(text.find("index.html"), std::string::npos);
  EXPECT_NE(sessiond::testing::ReadFile(TodaysFile() + ".1").find("index.html"), std::string::npos);
}

}  // namespace
}  // namespace sessiond::container
