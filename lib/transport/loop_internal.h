// transport internals: the EventLoop's implementation, shared with sibling modules that need
// the loop's io_context (membership's UDP socket). Not a public header: it names Asio types.
//
// Thread-safety: the io_context is thread-safe for post/dispatch; sockets and timers created on
// it must be used from the loop thread only.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_map>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

#include "transport/transport.h"

namespace sessiond::transport {

class EventLoop::Impl {
 public:
  Impl();
  ~Impl();

  void Start();
  void Stop();
  void Post(std::function<void()> fn);
  uint64_t AddTimer(int64_t delay_ms, int64_t period_ms, std::function<void()> fn);
  void Cancel(uint64_t timer_id);
  bool InLoop() const;
  /// True while the loop thread runs (started and not stopped).
  bool Running();
  /// Runs `fn` on the loop and waits for it; runs it right here when this is the loop thread
  /// or no loop thread runs (nothing else can touch loop state then).
  void RunAndWait(std::function<void()> fn);

  boost::asio::io_context& io() { return io_; }

 private:
  struct Timer;
  void Arm(const std::shared_ptr<Timer>& timer);
  void Fire(const std::shared_ptr<Timer>& timer);

  boost::asio::io_context io_;
  std::optional<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> guard_;
  std::mutex mu_;                 // guards thread_, timers_
  std::thread thread_;
  std::unordered_map<uint64_t, std::shared_ptr<Timer>> timers_;
  std::atomic<uint64_t> next_timer_id_{1};
};

/// The io_context the loop runs: create sockets and timers for the loop thread on it.
inline boost::asio::io_context& IoContextOf(EventLoop& loop) { return loop.impl().io(); }

}  // namespace sessiond::transport
