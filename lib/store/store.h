// store: the node's durable state in SQLite (DATA_DIR/sessiond.db) — session snapshots written
// behind (so a full-cluster restart loses nothing that was replicated), the deployed app registry,
// the event log (`GET /v1/events`, `sessctl events`) and a small key/value table for settings that
// must survive a restart (drain mode, …).
//
// Durability: WAL journal, synchronous=NORMAL. A committed transaction survives a process crash
// (kill -9); a power loss may drop the last few transactions but never corrupts the file. Every
// multi-row write is one transaction, so a crash leaves all of it or none of it.
//
// Schema: versioned by PRAGMA user_version; Open applies the migrations a file is missing, in one
// transaction each, and refuses a file whose version is newer than this build knows.
//
// Depends on base and session (rows hold session::EncodeSession bytes). No SQLite type appears here.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

#include "base/base.h"
#include "session/session.h"

namespace sessiond::store {

/// The database's file name inside the data dir.
inline constexpr const char* kDatabaseFileName = "sessiond.db";
/// The schema version this build writes (PRAGMA user_version).
inline constexpr int kSchemaVersion = 1;
/// How many events the log keeps: the newest. Every membership change, deploy, drain and operator
/// action appends one for as long as the node lives (a script's bulk expire every 10 s is 8,640
/// a day), so without a bound the file only grows.
inline constexpr size_t kEventLogKept = 10000;

/// One line of the event log. `seq` is assigned by AppendEvent and only grows (never reused).
struct EventRecord {
  int64_t seq = 0;
  int64_t time_ms = 0;    ///< Unix ms; AppendEvent fills in WallMillis() when 0
  std::string kind;       ///< "membership", "deploy", "drain", "admin", "node"
  std::string node;       ///< the node the event is about (or that caused it)
  std::string message;    ///< one human sentence: "tomcatB joined"
  std::map<std::string, std::string> fields;  ///< key=value context, stored as a JSON object
};

/// Which events ListEvents returns: seq > since_seq AND time_ms >= since_ms, in seq order.
struct EventQuery {
  int64_t since_seq = 0;  ///< exclusive; 0 = from the start (a cursor: the last seq seen)
  int64_t since_ms = 0;   ///< inclusive; 0 = any time (`sessctl events --since 5m` / RFC 3339)
  std::string kind;       ///< empty = every kind
  size_t limit = 0;       ///< 0 = no limit
  bool newest = false;    ///< with a limit: the newest `limit` matches instead of the oldest
};

/// One deployed app, as the farm deployer records it.
struct AppRecord {
  std::string name;         ///< context name: path without "/", "ROOT" for "/"
  std::string path;         ///< where it is unpacked (or the WAR under the data dir)
  std::string sha256;       ///< lower-case hex of the WAR (empty for a folder app)
  int64_t size = 0;         ///< bytes of the WAR
  int64_t deployed_ms = 0;  ///< Unix ms
  std::string source;       ///< "api", "watch", "farm:<node>", "appBase"
};

/// One session row as WriteSessionRows takes it: views into the caller's buffers, valid until the
/// caller's RowSource is called again.
struct SessionRow {
  std::string_view id;
  std::string_view app;
  int64_t last_accessed_ms = 0;
  std::string_view blob;  ///< EncodeSession bytes
};

/// Produces the rows of one WriteSessionRows transaction, one per call: fills `row` and returns
/// true, or returns false when there are no more. Any call may append ids to `deletes`.
using SessionRowSource = std::function<bool(SessionRow* row, std::vector<std::string>* deletes)>;

/// What LoadSessions found: the decodable sessions and how many rows were not.
struct LoadedSessions {
  std::vector<session::Session> sessions;
  size_t undecodable = 0;  ///< rows whose blob did not decode (or named another id); left in place
};

/// The SQLite database of one node.
///
/// Thread-safety: thread-safe. One connection behind an internal mutex: admin threads append
/// events while the persister writes sessions; calls are serialized, none blocks on another
/// process for longer than the busy timeout (5 s). The object must outlive every caller.
class Database {
 public:
  /// Opens or creates the database at `path` (its folder must exist), sets WAL mode, and brings
  /// the schema to kSchemaVersion. A file that is not a database, is corrupt or cannot be opened
  /// gives kInternal naming the file ("open /var/lib/sessiond/sessiond.db: file is not a database").
  /// The event log keeps the newest `events_kept` events (0: all; tests use a small bound).
  static Result<std::unique_ptr<Database>> Open(const std::string& path,
                                                size_t events_kept = kEventLogKept);
  /// `data_dir` + "/" + kDatabaseFileName.
  static std::string PathIn(const std::string& data_dir);
  ~Database();
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;

  const std::string& path() const { return path_; }
  /// PRAGMA user_version of the open file (kSchemaVersion after a successful Open).
  Result<int> SchemaVersion();
  /// PRAGMA integrity_check: OK when SQLite answers "ok", else kInternal with its findings.
  Status CheckIntegrity();

  // ---- sessions: id -> EncodeSession bytes -------------------------------------------------

  /// Inserts or replaces each session's row, all in one transaction.
  Status UpsertSessions(const std::vector<session::Session>& batch);
  /// Deletes the rows of `ids` (absent ids are fine), in one transaction.
  Status DeleteSessions(const std::vector<std::string>& ids);
  /// Upserts and deletes in ONE transaction (the persister's flush): all or nothing. Deletes
  /// apply after upserts, so an id in both lists ends up absent.
  Status WriteSessions(const std::vector<session::Session>& upserts,
                       const std::vector<std::string>& deletes);
  /// WriteSessions with the rows made on demand: upserts every row `next` yields, then deletes
  /// the ids it appended to `deletes`, in ONE transaction (all or nothing). The persister encodes
  /// each session straight from the SessionStore into one reused buffer, so a flush holds no copy
  /// of its batch. `next` runs under the database's lock: it must not call back into it.
  Status WriteSessionRows(const SessionRowSource& next);
  /// Every row, decoded. A row that does not decode is skipped and counted, never an error.
  Result<LoadedSessions> LoadSessions();
  Result<size_t> CountSessions();

  // ---- event log ---------------------------------------------------------------------------

  /// Appends one event and returns its seq. Every `events_kept / 100` appends (at least 1) it
  /// drops all but the newest `events_kept` (see Open), so the log never holds more than
  /// 1% over its bound and the prune (one indexed DELETE) is paid once per many appends.
  Result<int64_t> AppendEvent(const EventRecord& event);
  /// The matching events in ascending seq order (see EventQuery).
  Result<std::vector<EventRecord>> ListEvents(const EventQuery& query);
  /// Deletes all but the newest `keep_last` events; returns how many went.
  Result<size_t> PruneEvents(size_t keep_last);

  // ---- app registry ------------------------------------------------------------------------

  /// Inserts or replaces the app named `app.name`.
  Status UpsertApp(const AppRecord& app);
  /// kNotFound when no app has that name.
  Status DeleteApp(const std::string& name);
  /// kNotFound when no app has that name.
  Result<AppRecord> GetApp(const std::string& name);
  /// Every app, sorted by name.
  Result<std::vector<AppRecord>> ListApps();

  // ---- meta: small durable settings --------------------------------------------------------

  /// kNotFound when the key was never set (or was deleted).
  Result<std::string> GetMeta(const std::string& key);
  Status SetMeta(const std::string& key, const std::string& value);
  Status DeleteMeta(const std::string& key);

  /// Copies the WAL into the main file and truncates it (clean shutdown; keeps the WAL small).
  Status Checkpoint();

 private:
  struct Impl;  // the sqlite3 connection and its statements (database.cc)
  Database(std::string path, std::unique_ptr<Impl> impl, size_t events_kept);
  /// PruneEvents' work; requires mu_.
  Result<size_t> PruneEventsLocked(size_t keep_last);
  std::string path_;
  const size_t events_kept_;
  const size_t events_prune_every_;  // events_kept_ / 100, at least 1
  std::mutex mu_;
  std::unique_ptr<Impl> impl_;  // GUARDED_BY(mu_)
};

/// Counters for /metrics (sessiond_store_*). A consistent snapshot of the persister's work.
struct PersisterStats {
  uint64_t flushes = 0;          ///< transactions committed (empty flushes are not counted)
  uint64_t rows_upserted = 0;
  uint64_t rows_deleted = 0;
  uint64_t errors = 0;           ///< failed flushes (their ids were kept for the next one)
  int64_t last_flush_us = 0;     ///< wall duration of the last committed flush
  int64_t last_flush_ms = 0;     ///< Unix ms when it committed
  size_t pending = 0;            ///< session ids waiting for the next flush
  std::string last_error;        ///< the last failed flush's message; empty after a success
};

/// Write-behind persistence of every session (distributable or not, so a restart keeps local ones
/// too). As a session::EventSink it only records which ids changed (O(1) per event, one short
/// mutex); a background worker named "persister" wakes every flush_interval_ms, takes the pending
/// ids, reads their current snapshots from the SessionStore (absent or expired = delete the row)
/// and writes them in one transaction. A failed flush keeps its ids for the next one.
///
/// Thread-safety: thread-safe. OnCommit may be called from any thread; Flush may run concurrently
/// with the worker (flushes are serialized, so a row never goes back to an older snapshot).
/// `db` and `sessions` are borrowed and must outlive the persister.
class SessionPersister : public session::EventSink {
 public:
  struct Options {
    int64_t flush_interval_ms = 200;  ///< <= 0: no worker; only explicit Flush() writes
  };
  SessionPersister(Database* db, const session::SessionStore* sessions, Options options);
  SessionPersister(Database* db, const session::SessionStore* sessions)
      : SessionPersister(db, sessions, Options()) {}
  /// Stops the worker (with a last flush) if Stop was not called.
  ~SessionPersister() override;
  SessionPersister(const SessionPersister&) = delete;
  SessionPersister& operator=(const SessionPersister&) = delete;

  /// Starts the worker thread (no-op when flush_interval_ms <= 0 or already started).
  Status Start();
  /// Records the batch's session ids for the next flush. Never blocks on SQLite.
  void OnCommit(const session::EventBatch& batch) override;
  /// Writes everything pending now, on the calling thread (SIGTERM, tests). Returns the write's
  /// Status; on failure the ids stay pending.
  Status Flush();
  /// Stops and joins the worker, then flushes what is left. Idempotent.
  Status Stop();
  PersisterStats stats() const;

 private:
  enum class Action : uint8_t { kUpsert, kDelete };
  using Pending = std::unordered_map<std::string, Action>;
  void Run();
  /// Writes taken ids in one transaction: each live session encoded straight from the
  /// SessionStore into one reused buffer (no snapshot copies); absent ones deleted. Counts rows.
  Status Write(const Pending& work, size_t* upserted, size_t* deleted);
  /// Puts a failed flush's ids back, unless a newer OnCommit already re-marked them.
  void Requeue(const Pending& failed, const Status& error);

  Database* db_;
  const session::SessionStore* sessions_;
  Options options_;

  mutable std::mutex mu_;  // guards pending_, stats_, stop_
  std::condition_variable wake_;
  Pending pending_;       // GUARDED_BY(mu_)
  PersisterStats stats_;  // GUARDED_BY(mu_)
  bool stop_ = false;     // GUARDED_BY(mu_)

  std::mutex flush_mu_;  // serializes whole flushes: take pending -> snapshot -> write
  std::thread worker_;
};

/// What RestoreSessions did, for the start-up log line.
struct RestoreReport {
  size_t restored = 0;     ///< taken by SessionStore::Restore
  size_t expired = 0;      ///< past their max inactive interval: skipped, rows deleted
  size_t rejected = 0;     ///< Restore declined (a tombstone or a newer version was there)
  size_t undecodable = 0;  ///< rows that did not decode: skipped, left in the file
};

/// Loads every session row and restores the unexpired ones into `sessions` (at start, before
/// serving and before state transfer). Expired rows are deleted. `restored` and `report` may be
/// null. Fails only when the database cannot be read.
Status RestoreSessions(Database& db, session::SessionStore& sessions, size_t* restored,
                       RestoreReport* report = nullptr);

}  // namespace sessiond::store
