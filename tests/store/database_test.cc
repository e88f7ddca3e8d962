// Database: opening, schema, the sessions table and bad files.

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <filesystem>

#include "store/store.h"
#include "support/files.h"

namespace sessiond::store {
namespace {

using sessiond::testing::TempDir;
using sessiond::testing::WriteFile;

session::Session MakeSession(const std::string& id, const std::string& app = "/myapp") {
  session::Session s;
  s.id = id;
  s.app = app;
  s.created_ms = WallMillis() - 1000;
  s.last_accessed_ms = WallMillis();
  s.max_inactive_s = 1800;
  s.last_node = "tomcatA";
  s.version = 3;
  s.attributes["user"] = {"\"alice\"", {session::MakeHlc(WallMillis(), 1), "tomcatA"}};
  s.attributes["cart"] = {"[1,2,3]", {session::MakeHlc(WallMillis(), 2), "tomcatB"}};
  return s;
}

std::string Id(int n) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "%032X", n);
  return std::string(buf) + ".tomcatA";
}

// Raw SQL against the file, to plant rows the API would never write.
void ExecRaw(const std::string& path, const std::string& sql) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  char* err = nullptr;
  EXPECT_EQ(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err), SQLITE_OK) << (err ? err : "");
  sqlite3_free(err);
  sqlite3_close(db);
}

class DatabaseTest : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = Database::PathIn(dir_.path());
    auto db = Database::Open(path_);
    ASSERT_TRUE(db.ok()) << db.status().ToString();
    db_ = std::move(db).value();
  }
  TempDir dir_;
  std::string path_;
  std::unique_ptr<Database> db_;
};

TEST_F(DatabaseTest, OpenCreatesFileInWalModeAtCurrentSchema) {
  EXPECT_EQ(path_, dir_.path() + "/sessiond.db");
  EXPECT_TRUE(std::filesystem::exists(path_));
  auto version = db_->SchemaVersion();
  ASSERT_TRUE(version.ok());
  EXPECT_EQ(*version, kSchemaVersion);
  EXPECT_TRUE(db_->CheckIntegrity().ok());
  // WAL mode is a property of the file: a plain sqlite3 connection sees it too.
  EXPECT_TRUE(std::filesystem::exists(path_ + "-wal"));
}

TEST_F(DatabaseTest, ReopenKeepsDataAndSchema) {
  ASSERT_TRUE(db_->UpsertSessions({MakeSession(Id(1))}).ok());
  db_.reset();
  auto again = Database::Open(path_);
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ(*(*again)->SchemaVersion(), kSchemaVersion);
  EXPECT_EQ(*(*again)->CountSessions(), 1u);
}

TEST_F(DatabaseTest, UpsertLoadRoundTripKeepsIdAndAttributes) {
  session::Session a = MakeSession(Id(1));
  session::Session b = MakeSession(Id(2), "");
  b.distributable = false;
  ASSERT_TRUE(db_->UpsertSessions({a, b}).ok());
  auto loaded = db_->LoadSessions();
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  ASSERT_EQ(loaded->sessions.size(), 2u);
  EXPECT_EQ(loaded->undecodable, 0u);
  const session::Session& got = loaded->sessions[0];  // sorted by id
  EXPECT_EQ(got.id, a.id);
  EXPECT_EQ(got.app, "/myapp");
  EXPECT_EQ(got.created_ms, a.created_ms);
  EXPECT_EQ(got.last_accessed_ms, a.last_accessed_ms);
  EXPECT_EQ(got.version, 3u);
  EXPECT_EQ(got.attributes.at("user").json, "\"alice\"");
  EXPECT_EQ(got.attributes.at("cart").stamp, a.attributes.at("cart").stamp);
  EXPECT_FALSE(loaded->sessions[1].distributable);
}

TEST_F(DatabaseTest, UpsertReplacesTheRow) {
  session::Session a = MakeSession(Id(1));
  ASSERT_TRUE(db_->UpsertSessions({a}).ok());
  a.attributes["user"].json = "\"bob\"";
  a.version = 4;
  ASSERT_TRUE(db_->UpsertSessions({a}).ok());
  auto loaded = db_->LoadSessions();
  ASSERT_EQ(loaded->sessions.size(), 1u);
  EXPECT_EQ(loaded->sessions[0].attributes.at("user").json, "\"bob\"");
  EXPECT_EQ(loaded->sessions[0].version, 4u);
}

TEST_F(DatabaseTest, DeleteRemovesOnlyNamedRows) {
  ASSERT_TRUE(db_->UpsertSessions({MakeSession(Id(1)), MakeSession(Id(2))}).ok());
  ASSERT_TRUE(db_->DeleteSessions({Id(1), Id(99)}).ok());  // an absent id is fine
  auto loaded = db_->LoadSessions();
  ASSERT_EQ(loaded->sessions.size(), 1u);
  EXPECT_EQ(loaded->sessions[0].id, Id(2));
}

TEST_F(DatabaseTest, WriteSessionsUpsertsAndDeletesTogether) {
  ASSERT_TRUE(db_->UpsertSessions({MakeSession(Id(1))}).ok());
  ASSERT_TRUE(db_->WriteSessions({MakeSession(Id(2)), MakeSession(Id(3))}, {Id(1)}).ok());
  EXPECT_EQ(*db_->CountSessions(), 2u);
}

TEST_F(DatabaseTest, WriteSessionRowsUpsertsWhatTheSourceYieldsThenItsDeletes) {
  ASSERT_TRUE(db_->UpsertSessions({MakeSession(Id(1)), MakeSession(Id(4))}).ok());
  std::vector<session::Session> wanted = {MakeSession(Id(2)), MakeSession(Id(3), "")};
  wanted[1].version = 9;
  size_t next = 0, calls = 0;
  std::string blob;  // one buffer for every row, as the persister does
  Status st = db_->WriteSessionRows([&](SessionRow* row, std::vector<std::string>* deletes) {
    ++calls;
    if (next == 0) deletes->push_back(Id(1));
    if (next == wanted.size()) {
      deletes->push_back(Id(3));  // deletes apply after upserts: Id(3) ends absent
      return false;
    }
    const session::Session& s = wanted[next++];
    blob = session::EncodeSession(s);
    *row = SessionRow{s.id, s.app, s.last_accessed_ms, blob};
    return true;
  });
  ASSERT_TRUE(st.ok()) << st.ToString();
  EXPECT_EQ(calls, 3u);
  auto loaded = db_->LoadSessions();
  ASSERT_TRUE(loaded.ok());
  ASSERT_EQ(loaded->sessions.size(), 2u);
  EXPECT_EQ(loaded->sessions[0], wanted[0]);
  EXPECT_EQ(loaded->sessions[1].id, Id(4));
}

TEST_F(DatabaseTest, WriteSessionRowsWithNothingToDoSucceeds) {
  ASSERT_TRUE(db_->UpsertSessions({MakeSession(Id(1))}).ok());
  EXPECT_TRUE(db_->WriteSessionRows([](SessionRow*, std::vector<std::string>*) { return false; }).ok());
  EXPECT_EQ(*db_->CountSessions(), 1u);
}

TEST_F(DatabaseTest, UndecodableRowsAreSkippedAndCounted) {
  ASSERT_TRUE(db_->UpsertSessions({MakeSession(Id(1))}).ok());
  ExecRaw(path_, "INSERT INTO sessions VALUES ('junk', '/x', 0, x'DEADBEEF')");
  // A valid blob under the wrong key is not trusted either.
  ExecRaw(path_, "INSERT INTO sessions SELECT 'other', app, last_accessed_ms, blob FROM sessions "
                 "WHERE id = '" + Id(1) + "'");
  auto loaded = db_->LoadSessions();
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  ASSERT_EQ(loaded->sessions.size(), 1u);
  EXPECT_EQ(loaded->sessions[0].id, Id(1));
  EXPECT_EQ(loaded->undecodable, 2u);
}

TEST(DatabaseOpenTest, TextFileAtTheDbPathIsAClearInternalError) {
  TempDir dir;
  std::string path = Database::PathIn(dir.path());
  WriteFile(path, "this is not a database, it is a note someone left here\n");
  auto db = Database::Open(path);
  ASSERT_FALSE(db.ok());
  EXPECT_EQ(db.status().code(), Code::kInternal);
  EXPECT_NE(db.status().message().find(path), std::string::npos) << db.status().message();
  EXPECT_NE(db.status().message().find("not a database"), std::string::npos)
      << db.status().message();
}

TEST(DatabaseOpenTest, MissingFolderIsAnErrorNamingTheFile) {
  TempDir dir;
  std::string path = dir.Path("no/such/dir/sessiond.db");
  auto db = Database::Open(path);
  ASSERT_FALSE(db.ok());
  EXPECT_EQ(db.status().code(), Code::kInternal);
  EXPECT_NE(db.status().message().find(path), std::string::npos) << db.status().message();
}

TEST(DatabaseOpenTest, NewerSchemaIsRefused) {
  TempDir dir;
  std::string path = Database::PathIn(dir.path());
  ASSERT_TRUE(Database::Open(path).ok());
  ExecRaw(path, "PRAGMA user_version = " + std::to_string(kSchemaVersion + 1));
  auto db = Database::Open(path);
  ASSERT_FALSE(db.ok());
  EXPECT_NE(db.status().message().find("newer"), std::string::npos) << db.status().message();
}

TEST(DatabaseOpenTest, PathInJoinsTheDataDir) {
  EXPECT_EQ(Database::PathIn("/var/lib/sessiond"), "/var/lib/sessiond/sessiond.db");
  EXPECT_EQ(Database::PathIn("/var/lib/sessiond/"), "/var/lib/sessiond/sessiond.db");
  EXPECT_EQ(Database::PathIn(""), "sessiond.db");
}

}  // namespace
}  // namespace sessiond::store
