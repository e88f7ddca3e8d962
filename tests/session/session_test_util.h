// Helpers shared by the session tests: a settable wall clock, a recording sink and a store wired to
// both.
#pragma once

#include <atomic>
#include <memory>
#include <mutex>

#include "session/session.h"

namespace sessiond::session::testing {

/// A wall clock the test moves by hand. Thread-safe.
struct FakeWall {
  std::atomic<int64_t> ms{1'764'000'000'000};
  std::function<int64_t()> Source() {
    return [this] { return ms.load(); };
  }
  void Advance(int64_t delta) { ms += delta; }
};

/// Keeps every committed batch.
class RecordingSink : public EventSink {
 public:
  void OnCommit(const EventBatch& batch) override {
    std::lock_guard lock(mu_);
    batches_.push_back(batch);
  }
  std::vector<EventBatch> batches() const {
    std::lock_guard lock(mu_);
    return batches_;
  }

 private:
  mutable std::mutex mu_;
  std::vector<EventBatch> batches_;
};

/// A node: its own fake wall, clock and store.
struct Node {
  explicit Node(std::string name, int64_t max_active = -1) {
    clock = std::make_unique<HybridClock>(wall.Source());
    SessionStore::Options o;
    o.node_name = std::move(name);
    o.max_active_sessions = max_active;
    o.clock = clock.get();
    o.wall_ms = wall.Source();
    store = std::make_unique<SessionStore>(std::move(o));
  }
  FakeWall wall;
  std::unique_ptr<HybridClock> clock;
  std::unique_ptr<SessionStore> store;
};

}  // namespace sessiond::session::testing
