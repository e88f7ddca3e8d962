// Database: opening, the schema and its migrations, and the tables' reads and writes.

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdlib>
#include <iterator>
#include <utility>

#include "store/sqlite_internal.h"
#include "store/store.h"

namespace sessiond::store {

using internal::SqlError;
using internal::Stmt;
using internal::Transaction;

struct Database::Impl {
  sqlite3* db = nullptr;
  ~Impl() { sqlite3_close_v2(db); }  // every Stmt is finalized by then (none outlives a call)
};

namespace {

constexpr int kBusyTimeoutMs = 5000;

// migrations[i] takes a file from user_version i to i + 1. Append only: a released step never
// changes, so every file reaches the same schema whatever version it started from.
constexpr const char* kMigrations[] = {
    // 0 -> 1: the first schema.
    R"sql(
      CREATE TABLE sessions (
        id TEXT PRIMARY KEY,
        app TEXT NOT NULL,
        last_accessed_ms INTEGER NOT NULL,
        blob BLOB NOT NULL);
      CREATE TABLE apps (
        name TEXT PRIMARY KEY,
        path TEXT NOT NULL,
        sha256 TEXT NOT NULL,
        size INTEGER NOT NULL,
        deployed_ms INTEGER NOT NULL,
        source TEXT NOT NULL);
      CREATE TABLE events (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        time_ms INTEGER NOT NULL,
        kind TEXT NOT NULL,
        node TEXT NOT NULL,
        message TEXT NOT NULL,
        fields TEXT NOT NULL DEFAULT '{}');
      CREATE INDEX events_time ON events(time_ms);
      CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    )sql",
};
static_assert(std::size(kMigrations) == kSchemaVersion, "one migration per schema version");

// Runs a pragma or statement whose only row (if any) is one text value; returns that value.
Result<std::string> QueryText(sqlite3* db, const std::string& path, const char* sql) {
  Stmt stmt(db, sql);
  if (!stmt.prepared()) return SqlError(db, path, sql);
  int rc = stmt.Step();
  if (rc == SQLITE_ROW) return stmt.Text(0);
  if (rc == SQLITE_DONE) return std::string();
  return SqlError(db, path, sql);
}

Status Exec(sqlite3* db, const std::string& path, const char* sql, std::string_view what) {
  if (sqlite3_exec(db, sql, nullptr, nullptr, nullptr) != SQLITE_OK)
    return SqlError(db, path, what);
  return Status::Ok();
}

// "open /path/sessiond.db: file is not a database" — the operator's first clue.
Status OpenError(sqlite3* db, const std::string& path) {
  return Status::Internal("open " + path + ": " + (db ? sqlite3_errmsg(db) : "out of memory"));
}

// WAL survives a process crash with every committed transaction; NORMAL skips the fsync per
// commit (only a power loss can drop the newest commits, never corrupt the file).
Status Configure(sqlite3* db, const std::string& path) {
  sqlite3_busy_timeout(db, kBusyTimeoutMs);
  // The first statement that reads the file: a text file or garbage fails here ("not a database").
  Result<std::string> mode = QueryText(db, path, "PRAGMA journal_mode=WAL");
  if (!mode.ok()) return OpenError(db, path);
  if (*mode != "wal" && *mode != "memory")
    return Status::Internal("open " + path + ": cannot use WAL journal (got " + *mode + ")");
  if (sqlite3_exec(db, "PRAGMA synchronous=NORMAL", nullptr, nullptr, nullptr) != SQLITE_OK)
    return OpenError(db, path);
  return Status::Ok();
}

Status Migrate(sqlite3* db, const std::string& path) {
  Result<std::string> text = QueryText(db, path, "PRAGMA user_version");
  if (!text.ok()) return OpenError(db, path);
  int version = std::atoi(text->c_str());
  if (version > kSchemaVersion)
    return Status::Internal("open " + path + ": schema version " + std::to_string(version) +
                            " is newer than this build's " + std::to_string(kSchemaVersion));
  for (; version < kSchemaVersion; ++version) {
    Transaction txn(db);
    if (!txn.began()) return SqlError(db, path, "migrate: begin");
    SESSIOND_RETURN_IF_ERROR(Exec(db, path, kMigrations[version], "migrate"));
    std::string bump = "PRAGMA user_version = " + std::to_string(version + 1);
    SESSIOND_RETURN_IF_ERROR(Exec(db, path, bump.c_str(), "migrate"));
    if (!txn.Commit()) return SqlError(db, path, "migrate: commit");
  }
  return Status::Ok();
}

std::string FieldsToJson(const std::map<std::string, std::string>& fields) {
  nlohmann::json obj = nlohmann::json::object();
  for (const auto& [k, v] : fields) obj[k] = v;
  // Replace invalid UTF-8 rather than throw: fields come from peers and file names.
  return obj.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

// Tolerant: a hand-edited or foreign row yields what can be read, never an error.
std::map<std::string, std::string> FieldsFromJson(const std::string& text) {
  std::map<std::string, std::string> out;
  nlohmann::json obj = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!obj.is_object()) return out;
  for (const auto& [k, v] : obj.items()) out[k] = v.is_string() ? v.get<std::string>() : v.dump();
  return out;
}

// Encoding happens before the lock is taken, so appenders of events wait less.
struct EncodedSession {
  std::string id;
  std::string app;
  int64_t last_accessed_ms;
  std::string blob;
};

std::vector<EncodedSession> Encode(const std::vector<session::Session>& batch) {
  std::vector<EncodedSession> rows;
  rows.reserve(batch.size());
  for (const session::Session& s : batch)
    rows.push_back({s.id, s.app, s.last_accessed_ms, session::EncodeSession(s)});
  return rows;
}

constexpr const char* kUpsertSessionSql =
    "INSERT INTO sessions (id, app, last_accessed_ms, blob) VALUES (?1, ?2, ?3, ?4) "
    "ON CONFLICT(id) DO UPDATE SET app = excluded.app, "
    "last_accessed_ms = excluded.last_accessed_ms, blob = excluded.blob";

Status WriteRows(sqlite3* db, const std::string& path, const std::vector<EncodedSession>& upserts,
                 const std::vector<std::string>& deletes) {
  Stmt up(db, kUpsertSessionSql);
  Stmt del(db, "DELETE FROM sessions WHERE id = ?1");
  if (!up.prepared() || !del.prepared()) return SqlError(db, path, "write sessions");
  for (const EncodedSession& row : upserts) {
    up.Bind(1, row.id).Bind(2, row.app).Bind(3, row.last_accessed_ms).BindBlob(4, row.blob);
    if (!up.Run()) return SqlError(db, path, "upsert session");
    up.Reset();
  }
  for (const std::string& id : deletes) {
    del.Bind(1, id);
    if (!del.Run()) return SqlError(db, path, "delete session");
    del.Reset();
  }
  return Status::Ok();
}

EventRecord ReadEvent(const Stmt& stmt) {
  EventRecord e;
  e.seq = stmt.Int(0);
  e.time_ms = stmt.Int(1);
  e.kind = stmt.Text(2);
  e.node = stmt.Text(3);
  e.message = stmt.Text(4);
  e.fields = FieldsFromJson(stmt.Text(5));
  return e;
}

AppRecord ReadApp(const Stmt& stmt) {
  return AppRecord{stmt.Text(0), stmt.Text(1), stmt.Text(2),
                   stmt.Int(3),  stmt.Int(4),  stmt.Text(5)};
}

}  // namespace

// ---- opening --------------------------------------------------------------------------------

Result<std::unique_ptr<Database>> Database::Open(const std::string& path, size_t events_kept) {
  auto impl = std::make_unique<Impl>();
  // NOMUTEX: the Database's own mutex serializes every use of the connection.
  int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
  if (sqlite3_open_v2(path.c_str(), &impl->db, flags, nullptr) != SQLITE_OK)
    return OpenError(impl->db, path);
  SESSIOND_RETURN_IF_ERROR(Configure(impl->db, path));
  SESSIOND_RETURN_IF_ERROR(Migrate(impl->db, path));
  return std::unique_ptr<Database>(new Database(path, std::move(impl), events_kept));
}

std::string Database::PathIn(const std::string& data_dir) {
  if (data_dir.empty()) return kDatabaseFileName;
  return data_dir + (data_dir.back() == '/' ? "" : "/") + kDatabaseFileName;
}

Database::Database(std::string path, std::unique_ptr<Impl> impl, size_t events_kept)
    : path_(std::move(path)),
      events_kept_(events_kept),
      events_prune_every_(std::max<size_t>(1, events_kept / 100)),
      impl_(std::move(impl)) {}

Database::~Database() = default;

Result<int> Database::SchemaVersion() {
  std::lock_guard lock(mu_);
  Result<std::string> text = QueryText(impl_->db, path_, "PRAGMA user_version");
  if (!text.ok()) return text.status();
  return std::atoi(text->c_str());
}

Status Database::CheckIntegrity() {
  std::lock_guard lock(mu_);
  Stmt stmt(impl_->db, "PRAGMA integrity_check");
  if (!stmt.prepared()) return SqlError(impl_->db, path_, "integrity check");
  std::string findings;
  int rc;
  while ((rc = stmt.Step()) == SQLITE_ROW) {
    if (!findings.empty()) findings += "; ";
    findings += stmt.Text(0);
  }
  if (rc != SQLITE_DONE) return SqlError(impl_->db, path_, "integrity check");
  if (findings == "ok") return Status::Ok();
  return Status::Internal(path_ + ": integrity check failed: " + findings);
}

Status Database::Checkpoint() {
  std::lock_guard lock(mu_);
  int rc = sqlite3_wal_checkpoint_v2(impl_->db, nullptr, SQLITE_CHECKPOINT_TRUNCATE, nullptr,
                                     nullptr);
  if (rc != SQLITE_OK) return SqlError(impl_->db, path_, "checkpoint");
  return Status::Ok();
}

// ---- sessions -------------------------------------------------------------------------------

Status Database::UpsertSessions(const std::vector<session::Session>& batch) {
  return WriteSessions(batch, {});
}

Status Database::DeleteSessions(const std::vector<std::string>& ids) {
  return WriteSessions({}, ids);
}

Status Database::WriteSessions(const std::vector<session::Session>& upserts,
                               const std::vector<std::string>& deletes) {
  if (upserts.empty() && deletes.empty()) return Status::Ok();
  std::vector<EncodedSession> rows = Encode(upserts);
  std::lock_guard lock(mu_);
  Transaction txn(impl_->db);
  if (!txn.began()) return SqlError(impl_->db, path_, "write sessions: begin");
  SESSIOND_RETURN_IF_ERROR(WriteRows(impl_->db, path_, rows, deletes));
  if (!txn.Commit()) return SqlError(impl_->db, path_, "write sessions: commit");
  return Status::Ok();
}

Status Database::WriteSessionRows(const SessionRowSource& next) {
  std::lock_guard lock(mu_);
  sqlite3* db = impl_->db;
  Transaction txn(db);
  if (!txn.began()) return SqlError(db, path_, "write sessions: begin");
  Stmt up(db, kUpsertSessionSql);
  if (!up.prepared()) return SqlError(db, path_, "write sessions");
  std::vector<std::string> deletes;
  SessionRow row;
  while (next(&row, &deletes)) {
    // TRANSIENT binding copies; the row's buffers are the caller's and change at the next call.
    up.Bind(1, row.id).Bind(2, row.app).Bind(3, row.last_accessed_ms).BindBlob(4, row.blob);
    if (!up.Run()) return SqlError(db, path_, "upsert session");
    up.Reset();
  }
  SESSIOND_RETURN_IF_ERROR(WriteRows(db, path_, {}, deletes));
  if (!txn.Commit()) return SqlError(db, path_, "write sessions: commit");
  return Status::Ok();
}

Result<LoadedSessions> Database::LoadSessions() {
  std::vector<std::pair<std::string, std::string>> rows;  // (id, blob): decode outside the lock
  {
    std::lock_guard lock(mu_);
    Stmt stmt(impl_->db, "SELECT id, blob FROM sessions ORDER BY id");
    if (!stmt.prepared()) return SqlError(impl_->db, path_, "load sessions");
    int rc;
    while ((rc = stmt.Step()) == SQLITE_ROW) rows.emplace_back(stmt.Text(0), stmt.Blob(1));
    if (rc != SQLITE_DONE) return SqlError(impl_->db, path_, "load sessions");
  }
  LoadedSessions out;
  out.sessions.reserve(rows.size());
  for (auto& [id, blob] : rows) {
    Result<session::Session> s = session::DecodeSession(blob);
    if (s.ok() && s->id == id) {
      out.sessions.push_back(std::move(s).value());
    } else {
      ++out.undecodable;
    }
  }
  return out;
}

Result<size_t> Database::CountSessions() {
  std::lock_guard lock(mu_);
  Result<std::string> n = QueryText(impl_->db, path_, "SELECT COUNT(*) FROM sessions");
  if (!n.ok()) return n.status();
  return static_cast<size_t>(std::stoull(*n));
}

// ---- events ---------------------------------------------------------------------------------

Result<int64_t> Database::AppendEvent(const EventRecord& event) {
  std::string fields = FieldsToJson(event.fields);
  int64_t time_ms = event.time_ms != 0 ? event.time_ms : WallMillis();
  std::lock_guard lock(mu_);
  Stmt stmt(impl_->db,
            "INSERT INTO events (time_ms, kind, node, message, fields) VALUES (?1, ?2, ?3, ?4, ?5)");
  if (!stmt.prepared()) return SqlError(impl_->db, path_, "append event");
  stmt.Bind(1, time_ms).Bind(2, event.kind).Bind(3, event.node).Bind(4, event.message);
  stmt.Bind(5, fields);
  if (!stmt.Run()) return SqlError(impl_->db, path_, "append event");
  const auto seq = static_cast<int64_t>(sqlite3_last_insert_rowid(impl_->db));
  // seq only grows (AUTOINCREMENT), so this prunes once per events_prune_every_ appends. The
  // append stands whatever the prune says: a failed prune is retried by a later append.
  if (events_kept_ > 0 && seq % static_cast<int64_t>(events_prune_every_) == 0)
    (void)PruneEventsLocked(events_kept_);
  return seq;
}

Result<std::vector<EventRecord>> Database::ListEvents(const EventQuery& query) {
  // Two fixed statements rather than SQL built from strings: only the order differs.
  const char* sql = query.newest
      ? "SELECT seq, time_ms, kind, node, message, fields FROM events WHERE seq > ?1 AND "
        "time_ms >= ?2 AND (?3 = '' OR kind = ?3) ORDER BY seq DESC LIMIT ?4"
      : "SELECT seq, time_ms, kind, node, message, fields FROM events WHERE seq > ?1 AND "
        "time_ms >= ?2 AND (?3 = '' OR kind = ?3) ORDER BY seq ASC LIMIT ?4";
  std::vector<EventRecord> out;
  std::lock_guard lock(mu_);
  Stmt stmt(impl_->db, sql);
  if (!stmt.prepared()) return SqlError(impl_->db, path_, "list events");
  stmt.Bind(1, query.since_seq).Bind(2, query.since_ms).Bind(3, query.kind);
  stmt.Bind(4, query.limit == 0 ? int64_t{-1} : static_cast<int64_t>(query.limit));
  int rc;
  while ((rc = stmt.Step()) == SQLITE_ROW) out.push_back(ReadEvent(stmt));
  if (rc != SQLITE_DONE) return SqlError(impl_->db, path_, "list events");
  if (query.newest) std::reverse(out.begin(), out.end());
  return out;
}

Result<size_t> Database::PruneEvents(size_t keep_last) {
  std::lock_guard lock(mu_);
  return PruneEventsLocked(keep_last);
}

Result<size_t> Database::PruneEventsLocked(size_t keep_last) {
  // seq only grows, so "all but the newest N" is "below the N-th newest seq"; with fewer than N
  // events the subquery is NULL and nothing matches.
  Stmt stmt(impl_->db,
            keep_last == 0 ? "DELETE FROM events"
                           : "DELETE FROM events WHERE seq < "
                             "(SELECT seq FROM events ORDER BY seq DESC LIMIT 1 OFFSET ?1 - 1)");
  if (!stmt.prepared()) return SqlError(impl_->db, path_, "prune events");
  if (keep_last > 0) stmt.Bind(1, static_cast<int64_t>(keep_last));
  if (!stmt.Run()) return SqlError(impl_->db, path_, "prune events");
  return static_cast<size_t>(sqlite3_changes(impl_->db));
}

// ---- apps -----------------------------------------------------------------------------------

Status Database::UpsertApp(const AppRecord& app) {
  std::lock_guard lock(mu_);
  Stmt stmt(impl_->db,
            "INSERT OR REPLACE INTO apps (name, path, sha256, size, deployed_ms, source) "
            "VALUES (?1, ?2, ?3, ?4, ?5, ?6)");
  if (!stmt.prepared()) return SqlError(impl_->db, path_, "upsert app");
  stmt.Bind(1, app.name).Bind(2, app.path).Bind(3, app.sha256).Bind(4, app.size);
  stmt.Bind(5, app.deployed_ms).Bind(6, app.source);
  if (!stmt.Run()) return SqlError(impl_->db, path_, "upsert app");
  return Status::Ok();
}

Status Database::DeleteApp(const std::string& name) {
  std::lock_guard lock(mu_);
  Stmt stmt(impl_->db, "DELETE FROM apps WHERE name = ?1");
  if (!stmt.prepared()) return SqlError(impl_->db, path_, "delete app");
  stmt.Bind(1, name);
  if (!stmt.Run()) return SqlError(impl_->db, path_, "delete app");
  if (sqlite3_changes(impl_->db) == 0) return Status::NotFound("no app " + name);
  return Status::Ok();
}

Result<AppRecord> Database::GetApp(const std::string& name) {
  std::lock_guard lock(mu_);
  Stmt stmt(impl_->db,
            "SELECT name, path, sha256, size, deployed_ms, source FROM apps WHERE name = ?1");
  if (!stmt.prepared()) return SqlError(impl_->db, path_, "get app");
  stmt.Bind(1, name);
  int rc = stmt.Step();
  if (rc == SQLITE_ROW) return ReadApp(stmt);
  if (rc == SQLITE_DONE) return Status::NotFound("no app " + name);
  return SqlError(impl_->db, path_, "get app");
}

Result<std::vector<AppRecord>> Database::ListApps() {
  std::lock_guard lock(mu_);
  Stmt stmt(impl_->db,
            "SELECT name, path, sha256, size, deployed_ms, source FROM apps ORDER BY name");
  if (!stmt.prepared()) return SqlError(impl_->db, path_, "list apps");
  std::vector<AppRecord> out;
  int rc;
  while ((rc = stmt.Step()) == SQLITE_ROW) out.push_back(ReadApp(stmt));
  if (rc != SQLITE_DONE) return SqlError(impl_->db, path_, "list apps");
  return out;
}

// ---- meta -----------------------------------------------------------------------------------

Result<std::string> Database::GetMeta(const std::string& key) {
  std::lock_guard lock(mu_);
  Stmt stmt(impl_->db, "SELECT value FROM meta WHERE key = ?1");
  if (!stmt.prepared()) return SqlError(impl_->db, path_, "get meta");
  stmt.Bind(1, key);
  int rc = stmt.Step();
  if (rc == SQLITE_ROW) return stmt.Text(0);
  if (rc == SQLITE_DONE) return Status::NotFound("no meta key " + key);
  return SqlError(impl_->db, path_, "get meta");
}

Status Database::SetMeta(const std::string& key, const std::string& value) {
  std::lock_guard lock(mu_);
  Stmt stmt(impl_->db, "INSERT OR REPLACE INTO meta (key, value) VALUES (?1, ?2)");
  if (!stmt.prepared()) return SqlError(impl_->db, path_, "set meta");
  stmt.Bind(1, key).Bind(2, value);
  if (!stmt.Run()) return SqlError(impl_->db, path_, "set meta");
  return Status::Ok();
}

Status Database::DeleteMeta(const std::string& key) {
  std::lock_guard lock(mu_);
  Stmt stmt(impl_->db, "DELETE FROM meta WHERE key = ?1");
  if (!stmt.prepared()) return SqlError(impl_->db, path_, "delete meta");
  stmt.Bind(1, key);
  if (!stmt.Run()) return SqlError(impl_->db, path_, "delete meta");
  return Status::Ok();
}

}  // namespace sessiond::store
