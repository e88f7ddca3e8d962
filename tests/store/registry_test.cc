// Database: the event log, the app registry and the meta table.

#include <gtest/gtest.h>

#include <algorithm>
#include <thread>

#include "store/store.h"
#include "support/files.h"

namespace sessiond::store {
namespace {

using sessiond::testing::TempDir;

class RegistryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto db = Database::Open(Database::PathIn(dir_.path()));
    ASSERT_TRUE(db.ok()) << db.status().ToString();
    db_ = std::move(db).value();
  }
  int64_t Append(const std::string& kind, const std::string& message, int64_t time_ms = 0) {
    auto seq = db_->AppendEvent({0, time_ms, kind, "tomcatA", message, {}});
    EXPECT_TRUE(seq.ok()) << seq.status().ToString();
    return seq.ok() ? *seq : -1;
  }
  std::vector<std::string> Messages(const EventQuery& q) {
    auto events = db_->ListEvents(q);
    EXPECT_TRUE(events.ok()) << events.status().ToString();
    std::vector<std::string> out;
    for (const EventRecord& e : *events) out.push_back(e.message);
    return out;
  }
  TempDir dir_;
  std::unique_ptr<Database> db_;
};

using Strings = std::vector<std::string>;

// Positional, because GCC's -Wextra flags designated initializers that skip a member.
EventQuery Query(int64_t since_seq, int64_t since_ms = 0, size_t limit = 0, bool newest = false,
                 std::string kind = "") {
  EventQuery q;
  q.since_seq = since_seq;
  q.since_ms = since_ms;
  q.limit = limit;
  q.newest = newest;
  q.kind = std::move(kind);
  return q;
}

TEST_F(RegistryTest, AppendedEventReadsBackWithFields) {
  EventRecord e{0, 1700000000123, "deploy", "tomcatB", "deployed /myapp",
                {{"sha256", "ab12"}, {"size", "4096"}, {"odd", "quote\" and \\ \xff"}}};
  auto seq = db_->AppendEvent(e);
  ASSERT_TRUE(seq.ok());
  EXPECT_GT(*seq, 0);
  auto events = db_->ListEvents({});
  ASSERT_TRUE(events.ok());
  ASSERT_EQ(events->size(), 1u);
  const EventRecord& got = (*events)[0];
  EXPECT_EQ(got.seq, *seq);
  EXPECT_EQ(got.time_ms, 1700000000123);
  EXPECT_EQ(got.kind, "deploy");
  EXPECT_EQ(got.node, "tomcatB");
  EXPECT_EQ(got.message, "deployed /myapp");
  EXPECT_EQ(got.fields.at("sha256"), "ab12");
  EXPECT_EQ(got.fields.at("size"), "4096");
  EXPECT_EQ(got.fields.count("odd"), 1u);  // invalid UTF-8 is replaced, not an error
}

TEST_F(RegistryTest, AppendFillsInTheTime) {
  int64_t before = WallMillis();
  Append("admin", "x");
  auto events = db_->ListEvents({});
  EXPECT_GE((*events)[0].time_ms, before);
}

TEST_F(RegistryTest, SeqGrowsAndSinceSeqIsExclusive) {
  int64_t a = Append("membership", "a");
  int64_t b = Append("membership", "b");
  Append("drain", "c");
  EXPECT_LT(a, b);
  EXPECT_EQ(Messages({}), (Strings{"a", "b", "c"}));
  EXPECT_EQ(Messages(Query(a)), (Strings{"b", "c"}));
  EXPECT_EQ(Messages(Query(b + 1)), Strings{});
}

TEST_F(RegistryTest, SinceTimeIsInclusive) {
  Append("node", "old", 1000);
  Append("node", "edge", 2000);
  Append("node", "new", 3000);
  EXPECT_EQ(Messages(Query(0, 2000)), (Strings{"edge", "new"}));
}

TEST_F(RegistryTest, LimitTakesOldestOrNewest) {
  for (const char* m : {"1", "2", "3", "4"}) Append("admin", m);
  EXPECT_EQ(Messages(Query(0, 0, 2)), (Strings{"1", "2"}));
  EXPECT_EQ(Messages(Query(0, 0, 2, true)), (Strings{"3", "4"}));  // still ascending
  EXPECT_EQ(Messages(Query(0, 0, 10, true)), (Strings{"1", "2", "3", "4"}));
}

TEST_F(RegistryTest, KindFilters) {
  Append("deploy", "d");
  Append("drain", "r");
  EXPECT_EQ(Messages(Query(0, 0, 0, false, "drain")), Strings{"r"});
}

TEST_F(RegistryTest, PruneKeepsTheNewestAndSeqNeverRepeats) {
  int64_t last = 0;
  for (int i = 0; i < 10; ++i) last = Append("admin", std::to_string(i));
  auto pruned = db_->PruneEvents(3);
  ASSERT_TRUE(pruned.ok());
  EXPECT_EQ(*pruned, 7u);
  EXPECT_EQ(Messages({}), (Strings{"7", "8", "9"}));
  EXPECT_EQ(*db_->PruneEvents(5), 0u);  // fewer than N: nothing goes
  EXPECT_EQ(*db_->PruneEvents(0), 3u);
  EXPECT_GT(Append("admin", "after"), last);  // AUTOINCREMENT: a cursor never sees a reused seq
}

// The log is written for as long as the node lives (membership changes, deploys, drains, every
// operator action): AppendEvent keeps it to the newest events_kept, at most 1% over meanwhile.
TEST(EventLogBoundTest, AppendKeepsTheNewestWithinTheBound) {
  TempDir dir;
  auto db = Database::Open(Database::PathIn(dir.path()), /*events_kept=*/200);
  ASSERT_TRUE(db.ok()) << db.status().ToString();
  size_t most = 0;
  int64_t last = 0;
  for (int i = 0; i < 1000; ++i) {
    auto seq = (*db)->AppendEvent({0, 0, "admin", "tomcatA", std::to_string(i), {}});
    ASSERT_TRUE(seq.ok()) << seq.status().ToString();
    EXPECT_GT(*seq, last);
    last = *seq;
    auto all = (*db)->ListEvents({});
    ASSERT_TRUE(all.ok());
    most = std::max(most, all->size());
  }
  EXPECT_LE(most, 202u);  // the bound + one prune interval (200 / 100)
  auto all = (*db)->ListEvents({});
  ASSERT_TRUE(all.ok());
  ASSERT_GE(all->size(), 200u);
  EXPECT_EQ(all->back().message, "999");                                // the newest stay
  EXPECT_EQ(all->front().message, std::to_string(1000 - all->size()));  // the oldest went
}

TEST(EventLogBoundTest, TheDaemonsBoundIsTenThousand) {
  TempDir dir;
  auto db = Database::Open(Database::PathIn(dir.path()));  // as daemon/node.cc opens it
  ASSERT_TRUE(db.ok()) << db.status().ToString();
  const size_t n = kEventLogKept + 250;
  for (size_t i = 0; i < n; ++i)
    ASSERT_TRUE((*db)->AppendEvent({0, 0, "admin", "tomcatA", std::to_string(i), {}}).ok());
  auto all = (*db)->ListEvents({});
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(kEventLogKept, 10000u);
  EXPECT_GE(all->size(), kEventLogKept);
  EXPECT_LE(all->size(), kEventLogKept + kEventLogKept / 100);
  EXPECT_EQ(all->back().message, std::to_string(n - 1));
}

TEST(EventLogBoundTest, ZeroKeepsEverything) {
  TempDir dir;
  auto db = Database::Open(Database::PathIn(dir.path()), /*events_kept=*/0);
  ASSERT_TRUE(db.ok()) << db.status().ToString();
  for (int i = 0; i < 300; ++i)
    ASSERT_TRUE((*db)->AppendEvent({0, 0, "admin", "tomcatA", std::to_string(i), {}}).ok());
  auto all = (*db)->ListEvents({});
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->size(), 300u);
}

TEST_F(RegistryTest, ConcurrentAppendsAllLand) {
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([this] {
      for (int i = 0; i < 50; ++i) ASSERT_TRUE(db_->AppendEvent({0, 0, "admin", "n", "m", {}}).ok());
    });
  for (auto& t : threads) t.join();
  EXPECT_EQ(db_->ListEvents({})->size(), 200u);
}

TEST_F(RegistryTest, AppsUpsertListGetDelete) {
  AppRecord myapp{"myapp", "/srv/webapps/myapp", "ab" + std::string(62, '0'), 4096, 1700000000000,
                  "api"};
  AppRecord root{"ROOT", "/srv/webapps/ROOT", "", 0, 1700000000001, "appBase"};
  ASSERT_TRUE(db_->UpsertApp(myapp).ok());
  ASSERT_TRUE(db_->UpsertApp(root).ok());
  myapp.size = 8192;
  myapp.source = "farm:tomcatB";
  ASSERT_TRUE(db_->UpsertApp(myapp).ok());  // a redeploy replaces

  auto apps = db_->ListApps();
  ASSERT_TRUE(apps.ok());
  ASSERT_EQ(apps->size(), 2u);
  EXPECT_EQ((*apps)[0].name, "ROOT");  // sorted by name (upper case first)
  EXPECT_EQ((*apps)[1].size, 8192);
  EXPECT_EQ((*apps)[1].source, "farm:tomcatB");
  EXPECT_EQ(db_->GetApp("myapp")->sha256, myapp.sha256);

  ASSERT_TRUE(db_->DeleteApp("myapp").ok());
  EXPECT_EQ(db_->DeleteApp("myapp").code(), Code::kNotFound);
  EXPECT_EQ(db_->GetApp("myapp").status().code(), Code::kNotFound);
  EXPECT_EQ(db_->ListApps()->size(), 1u);
}

TEST_F(RegistryTest, MetaSetGetOverwriteDelete) {
  EXPECT_EQ(db_->GetMeta("mode").status().code(), Code::kNotFound);
  ASSERT_TRUE(db_->SetMeta("mode", "draining").ok());
  EXPECT_EQ(*db_->GetMeta("mode"), "draining");
  ASSERT_TRUE(db_->SetMeta("mode", "drained").ok());
  EXPECT_EQ(*db_->GetMeta("mode"), "drained");
  ASSERT_TRUE(db_->DeleteMeta("mode").ok());
  EXPECT_EQ(db_->GetMeta("mode").status().code(), Code::kNotFound);
}

TEST_F(RegistryTest, CheckpointKeepsData) {
  ASSERT_TRUE(db_->SetMeta("k", "v").ok());
  ASSERT_TRUE(db_->Checkpoint().ok());
  EXPECT_EQ(*db_->GetMeta("k"), "v");
}

}  // namespace
}  // namespace sessiond::store
