#include "metrics/metrics.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <variant>

namespace sessiond::metrics {

namespace {

// Atomic add for doubles: a CAS loop (std::atomic<double>::fetch_add is C++20 but not everywhere
// lock-free; the loop is portable and the metrics are not contended enough to matter).
void AtomicAdd(std::atomic<double>& target, double d) {
  double old = target.load(std::memory_order_relaxed);
  while (!target.compare_exchange_weak(old, old + d, std::memory_order_relaxed)) {
  }
}

// Prometheus number formatting: integers without a fraction, +Inf/-Inf/NaN spelled as the
// exposition format wants them, everything else with enough digits to round-trip.
std::string FormatNumber(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  char buf[64];
  if (v == std::floor(v) && std::fabs(v) < 1e15) {
    std::snprintf(buf, sizeof buf, "%.0f", v);
  } else {
    std::snprintf(buf, sizeof buf, "%.17g", v);
    // Prefer the shortest form that reads back the same value.
    for (int precision = 1; precision < 17; ++precision) {
      char shorter[64];
      std::snprintf(shorter, sizeof shorter, "%.*g", precision, v);
      if (std::strtod(shorter, nullptr) == v) return shorter;
    }
  }
  return buf;
}

// Label values escape backslash, double quote and newline; HELP text escapes backslash and
// newline (exposition format 0.0.4).
std::string Escape(const std::string& text, bool quote) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    if (c == '\\') out += "\\\\";
    else if (c == '\n') out += "\\n";
    else if (c == '"' && quote) out += "\\\"";
    else out += c;
  }
  return out;
}

// `{a="x",b="y"}` plus an optional extra label (the histogram's `le`); "" when there are none.
std::string RenderLabels(const Labels& labels, const std::string& extra_key = "",
                         const std::string& extra_value = "") {
  if (labels.empty() && extra_key.empty()) return "";
  std::string out = "{";
  bool first = true;
  auto add = [&](const std::string& k, const std::string& v) {
    if (!first) out += ',';
    first = false;
    out += k + "=\"" + Escape(v, true) + "\"";
  };
  for (const auto& [k, v] : labels) add(k, v);
  if (!extra_key.empty()) add(extra_key, extra_value);
  return out + "}";
}

}  // namespace

// ---- Gauge and Histogram ---------------------------------------------------------------------

void Gauge::Add(double d) { AtomicAdd(value_, d); }

Histogram::Histogram(std::vector<double> upper_bounds) : bounds_(std::move(upper_bounds)) {
  std::sort(bounds_.begin(), bounds_.end());
  bounds_.erase(std::unique(bounds_.begin(), bounds_.end()), bounds_.end());
  if (!bounds_.empty() && std::isinf(bounds_.back())) bounds_.pop_back();  // +Inf is implicit
  buckets_ = std::make_unique<std::atomic<uint64_t>[]>(bounds_.size() + 1);
  for (size_t i = 0; i <= bounds_.size(); ++i) buckets_[i].store(0, std::memory_order_relaxed);
}

void Histogram::Observe(double value) {
  // Buckets are stored non-cumulatively (one add per observation); Take() accumulates.
  size_t i = std::lower_bound(bounds_.begin(), bounds_.end(), value) - bounds_.begin();
  buckets_[i].fetch_add(1, std::memory_order_relaxed);
  AtomicAdd(sum_, value);
  count_.fetch_add(1, std::memory_order_relaxed);
}

Histogram::Snapshot Histogram::Take() const {
  Snapshot s;
  s.bounds = bounds_;
  uint64_t running = 0;
  for (size_t i = 0; i <= bounds_.size(); ++i) {
    running += buckets_[i].load(std::memory_order_relaxed);
    s.cumulative.push_back(running);
  }
  // The count is the +Inf bucket, so _count and le="+Inf" always agree even mid-update.
  s.count = running;
  s.sum = sum_.load(std::memory_order_relaxed);
  return s;
}

std::vector<double> DefaultLatencyBuckets() {
  return {0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01,
          0.025,   0.05,   0.1,     0.25,   0.5,   1,      2.5,   5,     10};
}

// ---- Registry --------------------------------------------------------------------------------

enum class Kind { kCounter, kGauge, kHistogram };

struct Registry::Family {
  Kind kind;
  std::string help;
  std::vector<double> bounds;  // histograms: the first caller's bounds apply to every series
  std::map<Labels, std::unique_ptr<Counter>> counters;
  std::map<Labels, std::unique_ptr<Gauge>> gauges;
  std::map<Labels, std::unique_ptr<Histogram>> histograms;
};

namespace {

const char* TypeName(Kind kind) {
  switch (kind) {
    case Kind::kCounter: return "counter";
    case Kind::kGauge: return "gauge";
    case Kind::kHistogram: return "histogram";
  }
  return "untyped";
}

template <typename Map, typename Make>
auto* FindOrMake(Map& map, const Labels& labels, Make make) {
  auto it = map.find(labels);
  if (it == map.end()) it = map.emplace(labels, make()).first;
  return it->second.get();
}

}  // namespace

Registry::Registry() = default;
Registry::~Registry() = default;

// A name registered as one kind and asked for as another is a programming error; rather than
// crash a daemon we hand back a metric from a hidden family that is never rendered (owned by the
// registry, so the pointer stays valid like any other).
Registry::Family& Registry::FamilyFor(const std::string& name, int kind, const std::string& help) {
  auto& family = families_[name];
  if (!family) family.reset(new Family{static_cast<Kind>(kind), help, {}, {}, {}, {}});
  if (family->kind == static_cast<Kind>(kind)) return *family;
  auto& hidden = families_[std::string("\x01") + TypeName(static_cast<Kind>(kind)) + ":" + name];
  if (!hidden) hidden.reset(new Family{static_cast<Kind>(kind), help, {}, {}, {}, {}});
  return *hidden;
}

Counter* Registry::GetCounter(const std::string& name, const std::string& help,
                              const Labels& labels) {
  std::lock_guard lock(mu_);
  Family& family = FamilyFor(name, static_cast<int>(Kind::kCounter), help);
  return FindOrMake(family.counters, labels, [] { return std::make_unique<Counter>(); });
}

Gauge* Registry::GetGauge(const std::string& name, const std::string& help, const Labels& labels) {
  std::lock_guard lock(mu_);
  Family& family = FamilyFor(name, static_cast<int>(Kind::kGauge), help);
  return FindOrMake(family.gauges, labels, [] { return std::make_unique<Gauge>(); });
}

Histogram* Registry::GetHistogram(const std::string& name, const std::string& help,
                                  std::vector<double> bounds, const Labels& labels) {
  std::lock_guard lock(mu_);
  Family& family = FamilyFor(name, static_cast<int>(Kind::kHistogram), help);
  if (family.histograms.empty() && family.bounds.empty()) family.bounds = std::move(bounds);
  const auto& b = family.bounds;
  return FindOrMake(family.histograms, labels, [&] { return std::make_unique<Histogram>(b); });
}

void Registry::AddRefresher(std::function<void()> refresh) {
  std::lock_guard lock(mu_);
  refreshers_.push_back(std::move(refresh));
}

namespace {

void RenderHistogram(const std::string& name, const Labels& labels, const Histogram& h,
                     std::string& out) {
  Histogram::Snapshot s = h.Take();
  for (size_t i = 0; i < s.cumulative.size(); ++i) {
    std::string le = i < s.bounds.size() ? FormatNumber(s.bounds[i]) : "+Inf";
    out += name + "_bucket" + RenderLabels(labels, "le", le) + " " +
           std::to_string(s.cumulative[i]) + "\n";
  }
  out += name + "_sum" + RenderLabels(labels) + " " + FormatNumber(s.sum) + "\n";
  out += name + "_count" + RenderLabels(labels) + " " + std::to_string(s.count) + "\n";
}


}  // namespace

std::string Registry::RenderPrometheus() const {
  // Refreshers run without the lock held: they call Get*/Set on this registry.
  std::vector<std::function<void()>> refreshers;
  {
    std::lock_guard lock(mu_);
    refreshers = refreshers_;
  }
  for (const auto& refresh : refreshers) refresh();

  std::lock_guard lock(mu_);
  std::string out;
  for (const auto& [name, family] : families_) {
    if (name.empty() || name[0] == '\x01') continue;
    out += "# HELP " + name + " " + Escape(family->help, false) + "\n";
    out += "# TYPE " + name + " " + TypeName(family->kind) + "\n";
    for (const auto& [labels, c] : family->counters)
      out += name + RenderLabels(labels) + " " + std::to_string(c->Value()) + "\n";
    for (const auto& [labels, g] : family->gauges)
      out += name + RenderLabels(labels) + " " + FormatNumber(g->Value()) + "\n";
    for (const auto& [labels, h] : family->histograms) RenderHistogram(name, labels, *h, out);
  }
  return out;
}

}  // namespace sessiond::metrics
