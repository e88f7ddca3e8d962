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

void SessionPersister::Collect(const Pending& work, std::vector<session::Session>* upserts,
                               std::vector<std::string>* deletes) const {
  for (const auto& [id, action] : work) {
    if (action == Action::kDelete) {
      deletes->push_back(id);
      continue;
    }
    std::optional<session::Session> s = sessions_->Get(id);
    if (!s) {  // invalidated or expired since: the row goes
      deletes->push_back(id);
      continue;
    }
    if (s->id != id) deletes->push_back(id);  // an old id that resolves to its renamed session
    upserts->push_back(std::move(*s));
  }
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
  std::vector<session::Session> upserts;
  std::vector<std::string> deletes;
  Collect(work, &upserts, &deletes);
  Status status = db_->WriteSessions(upserts, deletes);
  if (!status.ok()) {
    Requeue(work, status);
    return status;
  }
  auto took = std::chrono::steady_clock::now() - start;
  std::lock_guard lock(mu_);
  ++stats_.flushes;
  stats_.rows_upserted += upserts.size();
  stats_.rows_deleted += deletes.size();
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
