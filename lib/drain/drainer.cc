// The drain state machine (drain.h): one worker thread runs the steps of the current drain;
// Drain/Undrain only change the state and wake it, so an admin thread or the cluster loop that
// calls them never waits for a grace period or a flush.
#include <algorithm>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "drain/drain.h"

namespace sessiond::drain {

namespace {
constexpr int64_t kInFlightPollMs = 10;
/// The flush gets at least this long even when the deadline has passed: an acknowledged flush
/// of an idle queue takes a round trip.
constexpr int64_t kMinFlushMs = 200;

std::string Seconds(int64_t ms) { return FormatDurationMillis(ms); }
}  // namespace

class Drainer::Impl {
 public:
  Impl(Options o, Hooks h) : options(o), hooks(std::move(h)) {
    worker = std::thread([this] { Work(); });
  }
  ~Impl() { Stop(); }
  void Stop() {
    {
      std::lock_guard lock(mu);
      stopping = true;
      ++generation;
    }
    cv.notify_all();
    std::call_once(joined, [this] { worker.join(); });
  }

  void Work();
  void RunDrain(uint64_t gen, DrainState plan, int64_t started);
  /// Sleeps until `until` (monotonic ms) unless the drain `gen` is cancelled; false if it was.
  bool SleepUntil(uint64_t gen, int64_t until);
  bool Current(uint64_t gen) {
    std::lock_guard lock(mu);
    return gen == generation && !stopping;
  }
  void Record(std::string message, std::map<std::string, std::string> fields = {}) {
    SESSIOND_LOG(kInfo, "drain", {"step", message});
    if (hooks.record) hooks.record(std::move(message), std::move(fields));
  }
  /// Hands the current mode and refusal to the hooks when they changed. Serialized, and it
  /// reads the state at call time, so racing commands can never leave a stale one published.
  void Publish() {
    std::lock_guard publishing(publish_mu);
    Mode m;
    bool refuse;
    {
      std::lock_guard lock(mu);
      m = state.mode;
      refuse = refusing;
    }
    if (refuse != published_refusing && hooks.set_refusing) hooks.set_refusing(refuse);
    published_refusing = refuse;
    if (m != published_mode && hooks.mode_changed) hooks.mode_changed(m);
    published_mode = m;
  }

  const Options options;
  const Hooks hooks;
  mutable std::mutex mu;
  std::condition_variable cv;
  DrainState state;          // GUARDED_BY(mu)
  uint64_t generation = 0;   // GUARDED_BY(mu): bumped by every command; a stale worker step stops
  uint64_t pending = 0;      // GUARDED_BY(mu): the generation the worker should run (0: none)
  int64_t started_ms = 0;    // GUARDED_BY(mu): monotonic, of the drain in progress
  int64_t last_drain_ms = 0; // GUARDED_BY(mu)
  bool stopping = false;     // GUARDED_BY(mu)
  bool refusing = false;     // GUARDED_BY(mu): the data plane answers 503
  std::mutex publish_mu;
  Mode published_mode = Mode::kActive;  // GUARDED_BY(publish_mu)
  bool published_refusing = false;      // GUARDED_BY(publish_mu)
  std::once_flag joined;
  std::thread worker;
};

void Drainer::Impl::Work() {
  std::unique_lock lock(mu);
  while (true) {
    cv.wait(lock, [&] { return stopping || pending != 0; });
    if (stopping) return;
    uint64_t gen = pending;
    pending = 0;
    DrainState plan = state;
    int64_t started = started_ms;
    lock.unlock();
    RunDrain(gen, plan, started);
    lock.lock();
  }
}

bool Drainer::Impl::SleepUntil(uint64_t gen, int64_t until) {
  std::unique_lock lock(mu);
  while (gen == generation && !stopping) {
    int64_t left = until - MonotonicMillis();
    if (left <= 0) return true;
    cv.wait_for(lock, std::chrono::milliseconds(left));
  }
  return false;
}

/// The steps of drain.h's file comment. Every step first checks that no undrain (or newer
/// command) superseded this drain.
void Drainer::Impl::RunDrain(uint64_t gen, DrainState plan, int64_t started) {
  int64_t deadline = started + plan.deadline_ms;
  if (!SleepUntil(gen, started + plan.grace_ms)) return;
  {
    std::lock_guard lock(mu);
    if (gen != generation || stopping) return;
    refusing = true;
  }
  Publish();
  Record("grace over: new data-plane requests get 503 + Retry-After");
  uint64_t running = hooks.in_flight ? hooks.in_flight() : 0;
  while (running > 0 && MonotonicMillis() < deadline) {
    if (!SleepUntil(gen, std::min(deadline, MonotonicMillis() + kInFlightPollMs))) return;
    running = hooks.in_flight();
  }
  if (!Current(gen)) return;
  Status flushed = Status::Ok();
  if (hooks.flush) flushed = hooks.flush(std::max(kMinFlushMs, deadline - MonotonicMillis()));
  int64_t took = MonotonicMillis() - started;
  {
    std::lock_guard lock(mu);
    if (gen != generation || stopping) return;
    state.mode = Mode::kDrained;
    last_drain_ms = took;
  }
  Publish();
  std::map<std::string, std::string> fields = {
      {"mode", "drained"}, {"ms", std::to_string(took)},
      {"in_flight_at_deadline", std::to_string(running)},
      {"replication", flushed.ok() ? "flushed" : "not flushed: " + flushed.message()}};
  std::string message = "drained in " + std::to_string(took) + " ms";
  if (running > 0) message += "; " + std::to_string(running) + " requests still running at the deadline";
  if (!flushed.ok()) message += "; replication not acknowledged: " + flushed.message();
  Record(message, fields);
  if (!plan.shutdown) return;
  Record("drained with shutdown: stopping the node", {{"mode", "drained"}});
  if (hooks.shutdown) hooks.shutdown();
}

Drainer::Drainer(Options options, Hooks hooks)
    : impl_(std::make_unique<Impl>(options, std::move(hooks))) {}
Drainer::~Drainer() = default;

Result<DrainState> Drainer::Drain(const DrainParams& params, const std::string& via) {
  int64_t grace = params.grace_ms.value_or(impl_->options.default_grace_ms);
  int64_t deadline = params.deadline_ms.value_or(
      impl_->options.default_deadline_ms > 0 ? std::max(impl_->options.default_deadline_ms, grace)
                                             : grace + kDefaultDeadlineAfterGraceMs);
  if (grace < 0) return Status::BadRequest("grace must not be negative");
  if (deadline < grace) {
    return Status::BadRequest("deadline (" + Seconds(deadline) + ") must not be shorter than the grace (" +
                              Seconds(grace) + ")");
  }
  DrainState now;
  uint64_t gen = 0;
  {
    std::lock_guard lock(impl_->mu);
    if (impl_->state.mode != Mode::kActive) {
      now = impl_->state;
      now.changed = false;
      return now;
    }
    impl_->state = DrainState{Mode::kDraining, grace, deadline, params.shutdown, true};
    impl_->started_ms = MonotonicMillis();
    gen = ++impl_->generation;
    impl_->pending = gen;
    now = impl_->state;
  }
  impl_->Publish();
  impl_->Record("draining (via " + via + "): /readyz 503, agent answers drain; grace " + Seconds(grace) +
                    ", deadline " + Seconds(deadline) + (params.shutdown ? ", then shutdown" : ""),
                {{"mode", "draining"}, {"grace_ms", std::to_string(grace)},
                 {"deadline_ms", std::to_string(deadline)}, {"shutdown", params.shutdown ? "true" : "false"},
                 {"via", via}});
  impl_->cv.notify_all();
  return now;
}

DrainState Drainer::Undrain(const std::string& via) {
  Mode before;
  {
    std::lock_guard lock(impl_->mu);
    before = impl_->state.mode;
    if (before == Mode::kActive) {
      DrainState now = impl_->state;
      now.changed = false;
      return now;
    }
    impl_->state = DrainState{Mode::kActive, 0, 0, false, true};
    impl_->refusing = false;
    ++impl_->generation;
    impl_->pending = 0;
  }
  impl_->cv.notify_all();
  impl_->Publish();
  impl_->Record("undrained (via " + via + ", was " + std::string(ModeWord(before)) + "): serving again",
                {{"mode", "active"}, {"was", std::string(ModeWord(before))}, {"via", via}});
  return DrainState{Mode::kActive, 0, 0, false, true};
}

void Drainer::Restore(Mode persisted) {
  if (persisted == Mode::kActive) return;
  {
    std::lock_guard lock(impl_->mu);
    impl_->state = DrainState{Mode::kDrained, 0, 0, false, false};
    impl_->refusing = true;
    ++impl_->generation;
  }
  impl_->Publish();
  impl_->Record("restarted while " + std::string(ModeWord(persisted)) +
                    ": stays drained until undrained",
                {{"mode", "drained"}, {"was", std::string(ModeWord(persisted))}});
}

DrainState Drainer::state() const {
  std::lock_guard lock(impl_->mu);
  return impl_->state;
}

Mode Drainer::mode() const { return state().mode; }

void Drainer::Stop() { impl_->Stop(); }

int64_t Drainer::last_drain_ms() const {
  std::lock_guard lock(impl_->mu);
  return impl_->last_drain_ms;
}

}  // namespace sessiond::drain
