// SessionPersister (write-behind from a real SessionStore) and RestoreSessions.

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <chrono>
#include <filesystem>
#include <thread>

#include "store/store.h"
#include "support/files.h"

namespace sessiond::store {
namespace {

using session::EventBatch;
using session::Session;
using session::SessionStore;
using sessiond::testing::ReadFile;
using sessiond::testing::TempDir;

SessionStore::Options StoreOptions() {
  SessionStore::Options o;
  o.node_name = "tomcatA";
  return o;
}

// Raw SQL against the file, to break the schema under a live connection.
void ExecRaw(const std::string& path, const std::string& sql) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  EXPECT_EQ(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr), SQLITE_OK)
      << sqlite3_errmsg(db);
  sqlite3_close(db);
}

class PersisterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = Database::PathIn(dir_.path());
    auto db = Database::Open(path_);
    ASSERT_TRUE(db.ok()) << db.status().ToString();
    db_ = std::move(db).value();
    persister_ = std::make_unique<SessionPersister>(db_.get(), &store_,
                                                    SessionPersister::Options{0});  // no worker
    store_.AddSink(persister_.get());
  }
  void TearDown() override {
    if (persister_) {
      EXPECT_TRUE(persister_->Stop().ok());
    }
  }
  // A committed session with attributes; returns its id.
  std::string NewSession(const std::string& app, bool distributable,
                         const std::string& user = "\"alice\"") {
    EventBatch batch;
    auto s = store_.Create(app, 1800, distributable, &batch);
    EXPECT_TRUE(s.ok()) << s.status().ToString();
    EXPECT_TRUE(store_.SetAttribute(s->id, "user", user, &batch).ok());
    EXPECT_TRUE(store_.SetAttribute(s->id, "cart", "{\"items\":[1,2]}", &batch).ok());
    store_.Commit(&batch);
    return s->id;
  }
  size_t Rows() { return *db_->CountSessions(); }

  TempDir dir_;
  std::string path_;
  std::unique_ptr<Database> db_;
  SessionStore store_{StoreOptions()};
  std::unique_ptr<SessionPersister> persister_;
};

TEST_F(PersisterTest, WritesBehindAndRestoresTheSameSessions) {
  std::string a = NewSession("/myapp", true);
  std::string b = NewSession("/local", false, "\"bob\"");  // local-only sessions persist too
  EXPECT_EQ(Rows(), 0u) << "nothing is written before a flush";
  ASSERT_TRUE(persister_->Flush().ok());
  EXPECT_EQ(Rows(), 2u);

  auto reopened = Database::Open(path_);
  ASSERT_TRUE(reopened.ok()) << reopened.status().ToString();
  SessionStore fresh(StoreOptions());
  size_t restored = 0;
  ASSERT_TRUE(RestoreSessions(**reopened, fresh, &restored).ok());
  EXPECT_EQ(restored, 2u);
  for (const std::string& id : {a, b}) {
    std::optional<Session> want = store_.Get(id), got = fresh.Get(id);
    ASSERT_TRUE(got.has_value()) << id;
    EXPECT_EQ(got->app, want->app);
    EXPECT_EQ(got->created_ms, want->created_ms);
    EXPECT_EQ(got->version, want->version);
    EXPECT_EQ(got->distributable, want->distributable);
    ASSERT_EQ(got->attributes.size(), 2u);
    for (const auto& [name, attr] : want->attributes) {
      EXPECT_EQ(got->attributes.at(name).json, attr.json);
      EXPECT_EQ(got->attributes.at(name).stamp, attr.stamp);
    }
  }
  EXPECT_EQ(fresh.Get(b)->attributes.at("user").json, "\"bob\"");
}

TEST_F(PersisterTest, ManyChangesBetweenFlushesCostOneRowWrite) {
  std::string id = NewSession("/myapp", true);
  for (int i = 0; i < 10; ++i) {
    EventBatch batch;
    ASSERT_TRUE(store_.SetAttribute(id, "n", std::to_string(i), &batch).ok());
    store_.Commit(&batch);
  }
  EXPECT_EQ(persister_->stats().pending, 1u);
  ASSERT_TRUE(persister_->Flush().ok());
  PersisterStats stats = persister_->stats();
  EXPECT_EQ(stats.flushes, 1u);
  EXPECT_EQ(stats.rows_upserted, 1u);
  EXPECT_EQ(stats.pending, 0u);
  EXPECT_EQ(db_->LoadSessions()->sessions[0].attributes.at("n").json, "9");  // the latest
}

TEST_F(PersisterTest, InvalidationDeletesTheRow) {
  std::string keep = NewSession("/myapp", true);
  std::string gone = NewSession("/myapp", true);
  ASSERT_TRUE(persister_->Flush().ok());
  ASSERT_EQ(Rows(), 2u);
  EventBatch batch;
  ASSERT_TRUE(store_.Invalidate(gone, &batch).ok());
  store_.Commit(&batch);
  ASSERT_TRUE(persister_->Flush().ok());
  auto loaded = db_->LoadSessions();
  ASSERT_EQ(loaded->sessions.size(), 1u);
  EXPECT_EQ(loaded->sessions[0].id, keep);
  EXPECT_EQ(persister_->stats().rows_deleted, 1u);
}

TEST_F(PersisterTest, ChangedIdMovesTheRow) {
  std::string old_id = NewSession("/myapp", true);
  ASSERT_TRUE(persister_->Flush().ok());
  EventBatch batch;
  auto new_id = store_.ChangeRoute(old_id, "tomcatB", &batch);
  ASSERT_TRUE(new_id.ok()) << new_id.status().ToString();
  store_.Commit(&batch);
  ASSERT_TRUE(persister_->Flush().ok());
  auto loaded = db_->LoadSessions();
  ASSERT_EQ(loaded->sessions.size(), 1u);
  EXPECT_EQ(loaded->sessions[0].id, *new_id);
  EXPECT_EQ(loaded->sessions[0].attributes.at("user").json, "\"alice\"");
}

TEST_F(PersisterTest, FailedFlushKeepsItsIdsForTheNextOne) {
  std::string id = NewSession("/myapp", true);
  ExecRaw(path_, "ALTER TABLE sessions RENAME TO sessions_away");
  Status failed = persister_->Flush();
  EXPECT_EQ(failed.code(), Code::kInternal);
  EXPECT_NE(failed.message().find(path_), std::string::npos) << failed.message();
  EXPECT_EQ(persister_->stats().errors, 1u);
  EXPECT_EQ(persister_->stats().pending, 1u);
  EXPECT_FALSE(persister_->stats().last_error.empty());

  ExecRaw(path_, "ALTER TABLE sessions_away RENAME TO sessions");
  ASSERT_TRUE(persister_->Flush().ok());
  EXPECT_EQ(db_->LoadSessions()->sessions.at(0).id, id);
  EXPECT_TRUE(persister_->stats().last_error.empty());
}

TEST_F(PersisterTest, RestoreSkipsExpiredSessionsAndDeletesTheirRows) {
  std::string live = NewSession("/myapp", true);
  ASSERT_TRUE(persister_->Flush().ok());
  Session old = *store_.Get(live);
  old.id = session::NewSessionId("tomcatA");
  old.max_inactive_s = 60;
  old.last_accessed_ms = WallMillis() - 3600 * 1000;
  ASSERT_TRUE(db_->UpsertSessions({old}).ok());

  SessionStore fresh(StoreOptions());
  RestoreReport report;
  ASSERT_TRUE(RestoreSessions(*db_, fresh, nullptr, &report).ok());
  EXPECT_EQ(report.restored, 1u);
  EXPECT_EQ(report.expired, 1u);
  EXPECT_EQ(report.undecodable, 0u);
  EXPECT_TRUE(fresh.Get(live).has_value());
  EXPECT_FALSE(fresh.Get(old.id).has_value());
  EXPECT_EQ(Rows(), 1u);
}

TEST_F(PersisterTest, RestoreDoesNotWriteRowsBack) {
  NewSession("/myapp", true);
  ASSERT_TRUE(persister_->Flush().ok());
  SessionPersister second(db_.get(), &store_, SessionPersister::Options{0});
  SessionStore fresh(StoreOptions());
  fresh.AddSink(&second);
  ASSERT_TRUE(RestoreSessions(*db_, fresh, nullptr).ok());
  EXPECT_EQ(second.stats().pending, 0u);
}

// Waits up to 5 s for `pred`; the worker runs on its own schedule.
template <typename Pred>
bool Eventually(Pred pred) {
  for (int i = 0; i < 500; ++i) {
    if (pred()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return pred();
}

bool ThreadNamed(const std::string& name) {
  for (const auto& task : std::filesystem::directory_iterator("/proc/self/task"))
    if (ReadFile(task.path().string() + "/comm") == name + "\n") return true;
  return false;
}

TEST(PersisterWorkerTest, BackgroundWorkerFlushesWithoutBeingAsked) {
  TempDir dir;
  auto db = Database::Open(Database::PathIn(dir.path()));
  ASSERT_TRUE(db.ok());
  SessionStore store(StoreOptions());
  SessionPersister persister(db->get(), &store, SessionPersister::Options{20});
  store.AddSink(&persister);
  ASSERT_TRUE(persister.Start().ok());
  EXPECT_TRUE(Eventually([] { return ThreadNamed("persister"); }));

  EventBatch batch;
  ASSERT_TRUE(store.Create("/myapp", 1800, true, &batch).ok());
  store.Commit(&batch);
  EXPECT_TRUE(Eventually([&] { return *(*db)->CountSessions() == 1; }));
  // The worker counts the flush after its transaction commits: the row can be seen first.
  EXPECT_TRUE(Eventually([&] { return persister.stats().flushes >= 1; }));
  ASSERT_TRUE(persister.Stop().ok());
  ASSERT_TRUE(persister.Stop().ok());  // idempotent
}

TEST(PersisterWorkerTest, StopFlushesWhatIsPending) {
  TempDir dir;
  auto db = Database::Open(Database::PathIn(dir.path()));
  ASSERT_TRUE(db.ok());
  SessionStore store(StoreOptions());
  SessionPersister persister(db->get(), &store, SessionPersister::Options{60000});
  store.AddSink(&persister);
  ASSERT_TRUE(persister.Start().ok());
  EventBatch batch;
  ASSERT_TRUE(store.Create("/myapp", 1800, true, &batch).ok());
  store.Commit(&batch);
  ASSERT_TRUE(persister.Stop().ok());  // does not wait a minute
  EXPECT_EQ(*(*db)->CountSessions(), 1u);
}

TEST(PersisterWorkerTest, CommitsFromManyThreadsAllLand) {
  TempDir dir;
  auto db = Database::Open(Database::PathIn(dir.path()));
  ASSERT_TRUE(db.ok());
  SessionStore store(StoreOptions());
  SessionPersister persister(db->get(), &store, SessionPersister::Options{5});
  store.AddSink(&persister);
  ASSERT_TRUE(persister.Start().ok());
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&store] {
      for (int i = 0; i < 100; ++i) {
        EventBatch batch;
        auto s = store.Create("/myapp", 1800, true, &batch);
        ASSERT_TRUE(s.ok());
        ASSERT_TRUE(store.SetAttribute(s->id, "i", std::to_string(i), &batch).ok());
        store.Commit(&batch);
      }
    });
  for (auto& t : threads) t.join();
  ASSERT_TRUE(persister.Stop().ok());
  EXPECT_EQ(*(*db)->CountSessions(), 400u);
}

}  // namespace
}  // namespace sessiond::store
