// SessionPersister (write-behind of session snapshots) and RestoreSessions (the way back).

#include <pthread.h>

#include <chrono>
#include <system_error>
#include <utility>

#include "store/store.h"

namespace sessiond::store {

SessionPersister::SessionPersister(Database* db, const session::SessionStore* sessions,
                                   Options options)
    : db_(db), sessions_(sessions), options_(options) {}

SessionPersister::~SessionPersister() { Stop(); }

Status SessionPersister::Start() {
  if (options_.flush_interval_ms <= 0 || worker_.joinable()) return Status::Ok();
  {
    std::lock_guard lock(mu_);
    stop_ = false;
  }
  try {
    worker_ = std::thread([this] { Run(); });
  } catch (const std::system_error& e) {
    return Status::Internal(std::string("start persister thread: ") + e.what());
  }
  return Status::Ok();
}

void SessionPersister::OnCommit(const session::EventBatch& batch) {
  if (batch.empty()) return;
  std::lock_guard lock(mu_);
  // Only the id and what to do with it: the flush reads the current snapshot, so ten changes to
  // one session between flushes cost one row write.
  for (const session::Event& e : batch) {
    switch (e.type) {
      case session::EventType::kInvalidate:
        pending_[e.session_id] = Action::kDelete;
        break;
      case session::EventType::kChangeId:
        // The old id may keep resolving for in-flight requests, so its row goes explicitly.
        pending_[e.session_id] = Action::kDelete;
        pending_[e.value] = Action::kUpsert;
        break;
      default:
        pending_[e.session_id] = Action::kUpsert;
        break;
    }
  }
}

Status SessionPersister::Write(const Pending& work, size_t* upserted, size_t* deleted) {
  // One buffer and one set of column strings for the whole flush: a flush of thousands of
  // sessions allocates nothing per session. (Copying every snapshot first, on this thread, left
  // its malloc arena with tens of MB freed but resident after each large flush: ~500 B of RSS per
  // session with 100,000 sessions, bench/README.md "Memory per session".)
  std::string blob;
  session::EncodedSessionInfo info;
  auto it = work.begin();
  return db_->WriteSessionRows([&](SessionRow* row, std::vector<std::string>* deletes) {
    for (; it != work.end(); ++it) {
      const auto& [id, action] = *it;
      if (action == Action::kDelete || !sessions_->EncodeInto(id, &blob, &info)) {
        deletes->push_back(id);  // invalidated or expired since: the row goes
        continue;
      }
      if (info.id != id) deletes->push_back(id);  // an old id that resolves to its renamed session
      ++it;
      *row = SessionRow{info.id, info.app, info.last_accessed_ms, blob};
      ++*upserted;
      return true;
    }
    *deleted = deletes->size();
    return false;
  });
}

Status SessionPersister::Flush() {
  // Held across take -> snapshot -> write: two overlapping flushes could otherwise commit an
  // older snapshot of a session after a newer one.
  std::lock_guard flush_lock(flush_mu_);
  Pending work;
  {
    std::lock_guard lock(mu_);
    work.swap(pending_);
  }
  if (work.empty()) return Status::Ok();
  auto start = std::chrono::steady_clock::now();
  size_t upserted = 0, deleted = 0;
  Status status = Write(work, &upserted, &deleted);
  if (!status.ok()) {
    Requeue(work, status);
    return status;
  }
  auto took = std::chrono::steady_clock::now() - start;
  std::lock_guard lock(mu_);
  ++stats_.flushes;
  stats_.rows_upserted += upserted;
  stats_.rows_deleted += deleted;
  stats_.last_flush_us = std::chrono::duration_cast<std::chrono::microseconds>(took).count();
  stats_.last_flush_ms = WallMillis();
  stats_.last_error.clear();
  return Status::Ok();
}

void SessionPersister::Requeue(const Pending& failed, const Status& error) {
  std::lock_guard lock(mu_);
  for (const auto& [id, action] : failed) pending_.try_emplace(id, action);
  ++stats_.errors;
  stats_.last_error = error.message();
}

Status SessionPersister::Stop() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  wake_.notify_all();
  if (worker_.joinable()) worker_.join();
  return Flush();
}

PersisterStats SessionPersister::stats() const {
  std::lock_guard lock(mu_);
  PersisterStats out = stats_;
  out.pending = pending_.size();
  return out;
}

void SessionPersister::Run() {
  pthread_setname_np(pthread_self(), "persister");
  const auto interval = std::chrono::milliseconds(options_.flush_interval_ms);
  std::unique_lock lock(mu_);
  while (!wake_.wait_for(lock, interval, [this] { return stop_; })) {
    lock.unlock();
    // A failure is counted in stats() (the daemon logs it); the ids stay for the next round.
    (void)Flush();
    lock.lock();
  }
}

Status RestoreSessions(Database& db, session::SessionStore& sessions, size_t* restored,
                       RestoreReport* report) {
  Result<LoadedSessions> loaded = db.LoadSessions();
  if (!loaded.ok()) return loaded.status();
  RestoreReport r;
  r.undecodable = loaded->undecodable;
  std::vector<std::string> expired;
  const int64_t now = WallMillis();
  for (session::Session& s : loaded->sessions) {
    if (s.ExpiredAt(now)) {
      expired.push_back(s.id);
    } else if (sessions.Restore(std::move(s))) {
      ++r.restored;
    } else {
      ++r.rejected;
    }
  }
  r.expired = expired.size();
  if (restored) *restored = r.restored;
  if (report) *report = r;
  // Expired rows would only be skipped again at every start.
  return db.DeleteSessions(expired);
}

}  // namespace sessiond::store
