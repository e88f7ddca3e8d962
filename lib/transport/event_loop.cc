// EventLoop: one io_context, one thread named "cluster loop". Timers live in a map keyed by id
// so Cancel works from any thread; they are armed and cancelled on the loop thread only, because
// a steady_timer is not safe to touch from two threads at once.
#include <pthread.h>

#include <chrono>
#include <future>

#include "transport/loop_internal.h"

namespace sessiond::transport {

namespace {
// Which loop (if any) the current thread runs; InLoop compares against it.
thread_local const EventLoop::Impl* current_loop = nullptr;
}  // namespace

struct EventLoop::Impl::Timer {
  Timer(boost::asio::io_context& io, uint64_t id, int64_t period, std::function<void()> fn)
      : timer(io), id(id), period_ms(period), fn(std::move(fn)) {}
  boost::asio::steady_timer timer;
  uint64_t id;
  int64_t period_ms;            // 0 = one-shot
  std::function<void()> fn;
  std::atomic<bool> cancelled{false};
};

EventLoop::Impl::Impl() = default;

EventLoop::Impl::~Impl() { Stop(); }

void EventLoop::Impl::Start() {
  std::lock_guard lock(mu_);
  if (thread_.joinable()) return;
  io_.restart();
  guard_.emplace(io_.get_executor());  // Run must not return while idle
  thread_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "cluster loop");
    current_loop = this;
    boost::system::error_code ec;
    io_.run(ec);
    current_loop = nullptr;
  });
}

void EventLoop::Impl::Stop() {
  std::thread thread;
  {
    std::lock_guard lock(mu_);
    guard_.reset();
    io_.stop();
    // Stop from the loop thread itself cannot join; the next Stop or the destructor does.
    if (InLoop() || !thread_.joinable()) return;
    thread = std::move(thread_);
  }
  thread.join();
}

void EventLoop::Impl::Post(std::function<void()> fn) {
  boost::asio::post(io_, std::move(fn));
}

uint64_t EventLoop::Impl::AddTimer(int64_t delay_ms, int64_t period_ms,
                                   std::function<void()> fn) {
  uint64_t id = next_timer_id_.fetch_add(1);
  auto timer = std::make_shared<Timer>(io_, id, period_ms, std::move(fn));
  timer->timer.expires_after(std::chrono::milliseconds(std::max<int64_t>(delay_ms, 0)));
  {
    std::lock_guard lock(mu_);
    timers_[id] = timer;
  }
  if (InLoop()) {
    Arm(timer);
  } else {
    boost::asio::post(io_, [this, timer] { Arm(timer); });
  }
  return id;
}

void EventLoop::Impl::Arm(const std::shared_ptr<Timer>& timer) {
  if (timer->cancelled) return;
  timer->timer.async_wait([this, timer](const boost::system::error_code& ec) {
    if (!ec) Fire(timer);
  });
}

void EventLoop::Impl::Fire(const std::shared_ptr<Timer>& timer) {
  if (timer->cancelled) return;
  if (timer->period_ms <= 0) {
    timer->cancelled = true;
    {
      std::lock_guard lock(mu_);
      timers_.erase(timer->id);
    }
    timer->fn();
    return;
  }
  // Fixed rate; after a long stall (the loop was busy) resynchronise instead of bursting.
  auto period = std::chrono::milliseconds(timer->period_ms);
  auto next = timer->timer.expiry() + period;
  auto now = boost::asio::steady_timer::clock_type::now();
  timer->timer.expires_at(next < now ? now + period : next);
  timer->fn();
  Arm(timer);
}

void EventLoop::Impl::Cancel(uint64_t timer_id) {
  std::shared_ptr<Timer> timer;
  {
    std::lock_guard lock(mu_);
    auto it = timers_.find(timer_id);
    if (it == timers_.end()) return;
    timer = std::move(it->second);
    timers_.erase(it);
  }
  timer->cancelled = true;
  if (InLoop()) {
    timer->timer.cancel();
  } else {
    boost::asio::post(io_, [timer] { timer->timer.cancel(); });
  }
}

bool EventLoop::Impl::InLoop() const { return current_loop == this; }

bool EventLoop::Impl::Running() {
  std::lock_guard lock(mu_);
  return thread_.joinable() && !io_.stopped();
}

void EventLoop::Impl::RunAndWait(std::function<void()> fn) {
  if (InLoop() || !Running()) {
    fn();
    return;
  }
  // Shared state: when the loop stops before running it, the posted copy must not dangle.
  struct Call {
    std::function<void()> fn;
    std::once_flag once;
    std::promise<void> done;
  };
  auto call = std::make_shared<Call>();
  call->fn = std::move(fn);
  auto run = [call] { std::call_once(call->once, [&] { call->fn(); call->done.set_value(); }); };
  Post(run);
  auto future = call->done.get_future();
  while (future.wait_for(std::chrono::milliseconds(100)) != std::future_status::ready) {
    if (!Running()) run();  // the loop went away under us: nobody else runs loop code now
  }
}

// ---- EventLoop: the public face ------------------------------------------------------------

EventLoop::EventLoop() : impl_(std::make_unique<Impl>()) {}
EventLoop::~EventLoop() { impl_->Stop(); }
void EventLoop::Start() { impl_->Start(); }
void EventLoop::Stop() { impl_->Stop(); }
void EventLoop::Post(std::function<void()> fn) { impl_->Post(std::move(fn)); }
uint64_t EventLoop::After(int64_t delay_ms, std::function<void()> fn) {
  return impl_->AddTimer(delay_ms, 0, std::move(fn));
}
uint64_t EventLoop::Every(int64_t period_ms, std::function<void()> fn) {
  return impl_->AddTimer(period_ms, std::max<int64_t>(period_ms, 1), std::move(fn));
}
void EventLoop::Cancel(uint64_t timer_id) { impl_->Cancel(timer_id); }
bool EventLoop::InLoop() const { return impl_->InLoop(); }

}  // namespace sessiond::transport
