#include "metrics/metrics.h"

#include <gtest/gtest.h>

#include <thread>

namespace sessiond::metrics {
namespace {

bool Contains(const std::string& text, const std::string& needle) {
  return text.find(needle) != std::string::npos;
}

TEST(MetricsTest, CounterRendersHelpTypeAndValue) {
  Registry r;
  r.GetCounter("sessiond_x_total", "Things done.")->Inc(3);
  std::string out = r.RenderPrometheus();
  EXPECT_EQ(out,
            "# HELP sessiond_x_total Things done.\n"
            "# TYPE sessiond_x_total counter\n"
            "sessiond_x_total 3\n");
}

TEST(MetricsTest, SameNameAndLabelsReturnSameMetric) {
  Registry r;
  Counter* a = r.GetCounter("c_total", "h", {{"code", "200"}});
  Counter* b = r.GetCounter("c_total", "other help", {{"code", "200"}});
  Counter* c = r.GetCounter("c_total", "h", {{"code", "404"}});
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
  a->Inc();
  c->Inc(2);
  std::string out = r.RenderPrometheus();
  EXPECT_TRUE(Contains(out, "# HELP c_total h\n")) << out;
  EXPECT_TRUE(Contains(out, "c_total{code=\"200\"} 1\n")) << out;
  EXPECT_TRUE(Contains(out, "c_total{code=\"404\"} 2\n")) << out;
}

TEST(MetricsTest, LabelValuesAndHelpAreEscaped) {
  Registry r;
  r.GetGauge("g", "line one\nback\\slash", {{"app", "a\"b\\c\nd"}, {"b", "x"}})->Set(1.5);
  std::string out = r.RenderPrometheus();
  EXPECT_TRUE(Contains(out, "# HELP g line one\\nback\\\\slash\n")) << out;
  EXPECT_TRUE(Contains(out, "g{app=\"a\\\"b\\\\c\\nd\",b=\"x\"} 1.5\n")) << out;
}

TEST(MetricsTest, GaugeSetAndAdd) {
  Registry r;
  Gauge* g = r.GetGauge("sessiond_sessions", "Sessions.");
  g->Set(10);
  g->Add(-2.5);
  EXPECT_DOUBLE_EQ(g->Value(), 7.5);
  EXPECT_TRUE(Contains(r.RenderPrometheus(), "# TYPE sessiond_sessions gauge\nsessiond_sessions 7.5\n"));
}

TEST(MetricsTest, HistogramBucketsAreCumulativeWithSumAndCount) {
  Registry r;
  Histogram* h = r.GetHistogram("lat_seconds", "Latency.", {0.1, 1}, {{"op", "get"}});
  h->Observe(0.05);
  h->Observe(0.1);  // on the bound: le is inclusive
  h->Observe(0.5);
  h->Observe(7);
  std::string out = r.RenderPrometheus();
  EXPECT_TRUE(Contains(out, "# TYPE lat_seconds histogram\n")) << out;
  EXPECT_TRUE(Contains(out, "lat_seconds_bucket{op=\"get\",le=\"0.1\"} 2\n")) << out;
  EXPECT_TRUE(Contains(out, "lat_seconds_bucket{op=\"get\",le=\"1\"} 3\n")) << out;
  EXPECT_TRUE(Contains(out, "lat_seconds_bucket{op=\"get\",le=\"+Inf\"} 4\n")) << out;
  EXPECT_TRUE(Contains(out, "lat_seconds_sum{op=\"get\"} 7.65\n")) << out;
  EXPECT_TRUE(Contains(out, "lat_seconds_count{op=\"get\"} 4\n")) << out;
}

TEST(MetricsTest, HistogramSnapshot) {
  Histogram h({1, 2});
  h.Observe(1.5);
  Histogram::Snapshot s = h.Take();
  ASSERT_EQ(s.cumulative.size(), 3u);
  EXPECT_EQ(s.cumulative[0], 0u);
  EXPECT_EQ(s.cumulative[1], 1u);
  EXPECT_EQ(s.cumulative[2], 1u);
  EXPECT_EQ(s.count, 1u);
  EXPECT_DOUBLE_EQ(s.sum, 1.5);
}

TEST(MetricsTest, DefaultLatencyBucketsSpan50usTo10s) {
  auto b = DefaultLatencyBuckets();
  ASSERT_FALSE(b.empty());
  EXPECT_DOUBLE_EQ(b.front(), 0.00005);
  EXPECT_DOUBLE_EQ(b.back(), 10);
  EXPECT_TRUE(std::is_sorted(b.begin(), b.end()));
}

TEST(MetricsTest, RefresherRunsBeforeRender) {
  Registry r;
  int calls = 0;
  r.AddRefresher([&] {
    ++calls;
    r.GetGauge("sessiond_sessions", "Sessions by app.", {{"app", "/myapp"}})->Set(calls * 10);
  });
  EXPECT_TRUE(Contains(r.RenderPrometheus(), "sessiond_sessions{app=\"/myapp\"} 10\n"));
  EXPECT_TRUE(Contains(r.RenderPrometheus(), "sessiond_sessions{app=\"/myapp\"} 20\n"));
}

TEST(MetricsTest, KindMismatchIsHarmlessAndHidden) {
  Registry r;
  r.GetCounter("m", "counter")->Inc();
  Gauge* g = r.GetGauge("m", "gauge");
  ASSERT_NE(g, nullptr);
  g->Set(99);
  std::string out = r.RenderPrometheus();
  EXPECT_FALSE(Contains(out, "99")) << out;
  EXPECT_TRUE(Contains(out, "# TYPE m counter\nm 1\n")) << out;
}

TEST(MetricsTest, ConcurrentIncrementsAreCounted) {
  Registry r;
  Counter* c = r.GetCounter("c_total", "h");
  Histogram* h = r.GetHistogram("h_seconds", "h", {1});
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&] {
      for (int i = 0; i < 10000; ++i) {
        c->Inc();
        h->Observe(0.5);
      }
    });
  for (auto& t : threads) t.join();
  EXPECT_EQ(c->Value(), 40000u);
  EXPECT_EQ(h->Take().count, 40000u);
  EXPECT_DOUBLE_EQ(h->Take().sum, 20000);
}

}  // namespace
}  // namespace sessiond::metrics
