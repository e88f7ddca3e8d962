// metrics: counters, gauges and histograms, rendered in Prometheus' text format for /metrics.
// Names follow Prometheus conventions (`sessiond_*`, `_total`, `_seconds`); labels are small and
// fixed (app, code, state) — never a session id or a user.
//
// Thread-safety: Registry and every metric are thread-safe. Get* returns a pointer owned by the
// registry, valid for its lifetime; hot paths keep the pointer and only do atomic adds.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace sessiond::metrics {

using Labels = std::map<std::string, std::string>;

class Counter {
 public:
  void Inc(uint64_t n = 1) { value_.fetch_add(n, std::memory_order_relaxed); }
  uint64_t Value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> value_{0};
};

class Gauge {
 public:
  void Set(double v) { value_.store(v, std::memory_order_relaxed); }
  void Add(double d);
  double Value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0};
};

/// Cumulative buckets with the given upper bounds (seconds for latencies).
class Histogram {
 public:
  explicit Histogram(std::vector<double> upper_bounds);
  void Observe(double value);
  struct Snapshot {
    std::vector<double> bounds;
    std::vector<uint64_t> cumulative;  ///< one per bound, then +Inf
    uint64_t count = 0;
    double sum = 0;
  };
  Snapshot Take() const;

 private:
  std::vector<double> bounds_;
  std::unique_ptr<std::atomic<uint64_t>[]> buckets_;  // bounds_.size() + 1
  std::atomic<uint64_t> count_{0};
  std::atomic<double> sum_{0};
};

/// Latency buckets from 50 µs to 10 s.
std::vector<double> DefaultLatencyBuckets();

class Registry {
 public:
  Registry();
  ~Registry();  // out of line: Family is defined in metrics.cc
  Registry(const Registry&) = delete;
  Registry& operator=(const Registry&) = delete;

  /// Returns the metric for (name, labels), creating it on first use. `help` is kept from the
  /// first call of a name.
  Counter* GetCounter(const std::string& name, const std::string& help, const Labels& labels = {});
  Gauge* GetGauge(const std::string& name, const std::string& help, const Labels& labels = {});
  Histogram* GetHistogram(const std::string& name, const std::string& help,
                          std::vector<double> bounds = DefaultLatencyBuckets(),
                          const Labels& labels = {});
  /// A callback run at each render, to refresh gauges computed from other modules' state
  /// (sessions by app, members by state).
  void AddRefresher(std::function<void()> refresh);
  /// Prometheus text exposition format 0.0.4.
  std::string RenderPrometheus() const;

 private:
  struct Family;
  /// The family for `name` of metric kind `kind`; a hidden, never-rendered one when `name` is
  /// already registered as another kind. Requires mu_.
  Family& FamilyFor(const std::string& name, int kind, const std::string& help);
  mutable std::mutex mu_;
  std::map<std::string, std::unique_ptr<Family>> families_;  // GUARDED_BY(mu_)
  std::vector<std::function<void()>> refreshers_;            // GUARDED_BY(mu_)
};

}  // namespace sessiond::metrics
