// The chaos run (issue 6, item 2): N real sessiond nodes in synchronized-ack mode
// (channelSendOptions="4", heartbeats every 100 ms, dropTime 600 ms), started from
// examples/nodeA.xml on 127.0.0.2, .3, … inside the caller's private network namespace
// (tests/support/netns-run; the run refuses to start outside one). Several client threads drive
// the session API — creates, attribute writes with unique values, removals, invalidations, each
// request to a node picked at random, so one session is written through different nodes — and
// record every request with its time window and outcome.
//
// Meanwhile the main thread plays a seeded fault schedule: kill -9 + restart on the same data
// dir, SIGSTOP/SIGCONT, nftables partitions of the replication port (symmetric between two
// groups, one-way from one node to another), muted multicast heartbeats, packet loss
// (`numgen random mod 100 < N drop`), delay (tc netem, only where the kernel has it), and
// restarts under a skewed clock (libfaketime's LD_PRELOAD, wall clock only). A schedule is a few
// steps of one or two faults each, healed at the end of the step. After each schedule the
// workload pauses, the time until every live node holds the same sessions is measured, and the
// checker (checker.h) judges the whole history so far. At the end every node gets SIGTERM and must
// exit 0 without sanitizer reports.
//
// The fault schedule is a function of the seed (replay with --seed); the interleaving of the
// client threads is not. The last line is
//   chaos: seed=S schedules=N faults=F acked_writes=W lost=L converged_max_s=X
// and the exit code is 0 only when the checker passed.
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <httplib.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "chaos/checker.h"
#include "support/files.h"
#include "support/process.h"

namespace sessiond::chaos {
namespace {

using nlohmann::json;
using testing::Child;
using testing::CommandResult;
using testing::ReadFile;
using testing::RunCommand;
using testing::WriteFile;

constexpr uint16_t kHttpPort = 8080;
constexpr uint16_t kAdminPort = 8099;
constexpr uint16_t kReceiverPort = 4000;
constexpr uint16_t kMcastPort = 45564;
constexpr int kReadyTimeoutMs = 30000;
constexpr int kConvergeTimeoutMs = 60000;
constexpr size_t kMaxSessions = 40;
constexpr int kAttributes = 4;
constexpr int64_t kSessionTimeoutS = 30 * 60;  ///< examples/myapp's web.xml <session-timeout>
constexpr int kMaxSkewS = 30;                  ///< clock-skewed restarts are 2..30 s off

int64_t NowUs() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}
void SleepMs(int64_t ms) { std::this_thread::sleep_for(std::chrono::milliseconds(ms)); }

struct Options {
  int nodes = 5;
  int64_t duration_s = 60;
  uint64_t seed = 0;
  int clients = 4;
  bool keep = false;
};

[[noreturn]] void Usage(const std::string& error) {
  std::cerr << "chaos: " << error << "\n"
            << "usage: chaos [--nodes N] [--minutes M | --seconds S] [--seed S] [--clients C] [--keep]\n";
  std::exit(2);
}

Options ParseOptions(int argc, char** argv) {
  Options o;
  o.seed = std::random_device{}() % 1000000;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&]() -> long long {
      if (i + 1 >= argc) Usage(a + " needs a value");
      char* end = nullptr;
      long long v = std::strtoll(argv[++i], &end, 10);
      if (*end != '\0' || v < 0) Usage(a + " wants a non-negative integer, not '" + argv[i] + "'");
      return v;
    };
    if (a == "--nodes") o.nodes = static_cast<int>(value());
    else if (a == "--minutes") o.duration_s = value() * 60;
    else if (a == "--seconds") o.duration_s = value();
    else if (a == "--seed") o.seed = static_cast<uint64_t>(value());
    else if (a == "--clients") o.clients = static_cast<int>(value());
    else if (a == "--keep") o.keep = true;
    else if (a == "-h" || a == "--help") Usage("help");
    else Usage("unknown option '" + a + "'");
  }
  if (o.nodes < 2 || o.nodes > 20) Usage("--nodes must be 2..20");
  if (o.clients < 1 || o.clients > 64) Usage("--clients must be 1..64");
  return o;
}

std::string FindTool(const std::vector<std::string>& candidates) {
  for (const std::string& p : candidates)
    if (access(p.c_str(), X_OK) == 0 || access(p.c_str(), R_OK) == 0) return p;
  return "";
}
const std::string& NftPath() {
  static const std::string p = FindTool({"/usr/sbin/nft", "/sbin/nft", "/usr/bin/nft"});
  return p;
}
const std::string& TcPath() {
  static const std::string p = FindTool({"/usr/sbin/tc", "/sbin/tc", "/usr/bin/tc"});
  return p;
}
const std::string& FaketimeLib() {
  static const std::string p = FindTool({"/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1",
                                         "/usr/lib/aarch64-linux-gnu/faketime/libfaketimeMT.so.1",
                                         "/usr/lib/faketime/libfaketimeMT.so.1"});
  return p;
}

CommandResult Run(const std::string& tool, std::vector<std::string> args) {
  args.insert(args.begin(), tool);
  return RunCommand(args, {});
}

// ---- nodes ---------------------------------------------------------------------------------

/// One sessiond: its base dir under the run dir, its process, and what the runner did to it.
class Node {
 public:
  Node(const std::string& run_dir, int index)
      : name_("n" + std::to_string(index + 1)),
        address_("127.0.0." + std::to_string(2 + index)),
        base_(run_dir + "/" + name_) {
    std::filesystem::create_directories(base_ + "/webapps");
    std::filesystem::copy_file(MYAPP_WAR, base_ + "/webapps/myapp.war");
    std::string xml = ReadFile(std::string(SESSIOND_SOURCE_DIR) + "/examples/nodeA.xml");
    Replace(xml, "127.0.0.2", address_, /*all=*/true);
    Replace(xml, "jvmRoute=\"demoA\"", "jvmRoute=\"" + name_ + "\"");
    Replace(xml, "channelSendOptions=\"8\"", "channelSendOptions=\"4\"");
    Replace(xml, "frequency=\"500\"", "frequency=\"100\"");
    Replace(xml, "dropTime=\"3000\"", "dropTime=\"600\"");
    WriteFile(base_ + "/conf/server.xml", xml);
  }

  const std::string& name() const { return name_; }
  const std::string& address() const { return address_; }
  std::string LogPath() const { return base_ + "/sessiond.log"; }
  int skew_s() const { return skew_s_; }
  bool up() const { return up_; }
  bool serving() const { return up_ && !stopped_; }

  /// Starts it (under a wall clock `skew_s` seconds off, via libfaketime, when not 0).
  void Start(int skew_s) {
    std::map<std::string, std::string> env;
    if (skew_s != 0) {
      env["LD_PRELOAD"] = FaketimeLib();
      env["FAKETIME"] = (skew_s > 0 ? "+" : "") + std::to_string(skew_s) + "s";
      env["FAKETIME_DONT_FAKE_MONOTONIC"] = "1";  // timeouts and intervals stay real
      env["FAKETIME_NO_CACHE"] = "1";
    }
    std::string mark = "---- chaos: start " + std::to_string(++starts_) +
                       (skew_s ? " with clock skew " + std::to_string(skew_s) + "s" : "") + "\n";
    AppendLog(mark);
    child_ = std::make_unique<Child>(
        std::vector<std::string>{SESSIOND_BIN, "--config", base_ + "/conf/server.xml",
                                 "--base-dir", base_},
        LogPath(), env);
    up_ = true;
    stopped_ = false;
    skew_s_ = skew_s;
  }
  bool WaitReady(int timeout_ms) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    while (std::chrono::steady_clock::now() < deadline) {
      if (!child_->Running()) return false;
      httplib::Client c(address_, kAdminPort);
      c.set_connection_timeout(1);
      c.set_read_timeout(2);
      auto r = c.Get("/readyz");
      if (r && r->status == 200) return true;
      SleepMs(50);
    }
    return false;
  }
  /// kill -9 and reap; the exit code must say SIGKILL.
  int Kill() {
    AppendLog("---- chaos: kill -9\n");
    child_->Signal(SIGKILL);
    int code = child_->Wait(10000);
    up_ = false;
    stopped_ = false;
    return code;
  }
  void Pause() {
    child_->Signal(SIGSTOP);
    stopped_ = true;
  }
  void Resume() {
    child_->Signal(SIGCONT);
    stopped_ = false;
  }
  /// The exit code when it died although the runner did not kill it; nullopt while running.
  std::optional<int> Crashed() {
    if (!up_ || child_->Running()) return std::nullopt;
    up_ = false;
    return child_->Wait(0);
  }
  /// SIGTERM and wait: the exit code (-1 on timeout, then SIGKILL).
  int Terminate() {
    if (!up_) return 0;
    if (stopped_) Resume();
    child_->Signal(SIGTERM);
    int code = child_->Wait(20000);
    if (code == -1) child_->Signal(SIGKILL), child_->Wait(5000);
    up_ = false;
    return code;
  }
  std::string LogTail(size_t bytes = 3000) const {
    std::string log = ReadFile(LogPath());
    return log.size() > bytes ? log.substr(log.size() - bytes) : log;
  }

 private:
  static void Replace(std::string& text, const std::string& from, const std::string& to,
                      bool all = false) {
    size_t at = text.find(from);
    if (at == std::string::npos) {
      std::cerr << "chaos: examples/nodeA.xml has no '" << from << "'\n";
      std::exit(2);
    }
    do {
      text.replace(at, from.size(), to);
      at = text.find(from, at + to.size());
    } while (all && at != std::string::npos);
  }
  void AppendLog(const std::string& line) const {
    FILE* f = std::fopen(LogPath().c_str(), "a");
    if (f) std::fputs(line.c_str(), f), std::fclose(f);
  }

  std::string name_, address_, base_;
  std::unique_ptr<Child> child_;
  bool up_ = false, stopped_ = false;
  int skew_s_ = 0;
  int starts_ = 0;
};

// ---- reading what the nodes hold -----------------------------------------------------------

class AdminReader {
 public:
  explicit AdminReader(std::string token) : token_(std::move(token)) {}

  /// The ids of /myapp's sessions on `node` (every page); nullopt when it does not answer.
  std::optional<std::vector<std::string>> Ids(const Node& node) const {
    std::vector<std::string> ids;
    std::string cursor;
    for (int page = 0; page < 1000; ++page) {
      auto r = Client(node).Get("/v1/sessions?app=/myapp&limit=1000" +
                                (cursor.empty() ? "" : "&cursor=" + cursor));
      if (!r || r->status != 200) return std::nullopt;
      json j = json::parse(r->body, nullptr, false);
      if (j.is_discarded()) return std::nullopt;
      for (auto& s : j["items"]) ids.push_back(s.value("id", ""));
      if (!j["next_cursor"].is_string()) return ids;
      cursor = j["next_cursor"].get<std::string>();
    }
    return ids;
  }
  /// Every /myapp session with its attributes; nullopt when the node does not answer.
  std::optional<NodeState> State(const Node& node) const {
    auto ids = Ids(node);
    if (!ids) return std::nullopt;
    NodeState state;
    for (const std::string& id : *ids) {
      auto r = Client(node).Get("/v1/sessions/" + id);
      if (r && r->status == 404) continue;  // expired or invalidated since the listing
      if (!r || r->status != 200) return std::nullopt;
      json j = json::parse(r->body, nullptr, false);
      if (j.is_discarded()) return std::nullopt;
      state[id] = j["attributes"];
    }
    return state;
  }
  /// This node's count of alive members (itself included), -1 when unreadable.
  int AliveCount(const Node& node) const {
    auto r = Client(node).Get("/metrics");
    if (!r || r->status != 200) return -1;
    std::string key = "sessiond_members{state=\"alive\"} ";
    size_t at = r->body.find(key);
    return at == std::string::npos ? -1 : std::atoi(r->body.c_str() + at + key.size());
  }

 private:
  httplib::Client Client(const Node& node) const {
    httplib::Client c(node.address(), kAdminPort);
    c.set_bearer_token_auth(token_);
    c.set_connection_timeout(2);
    c.set_read_timeout(10);
    return c;
  }
  std::string token_;
};

// ---- the workload --------------------------------------------------------------------------

/// The sessions clients may still use, by id base; an entry leaves when an invalidation starts.
class SessionPool {
 public:
  void Add(const std::string& id) {
    std::lock_guard lock(mu_);
    if (ids_.size() < kMaxSessions * 2) ids_[BaseOf(id)] = id;
  }
  void Rename(const std::string& id) {
    std::lock_guard lock(mu_);
    auto it = ids_.find(BaseOf(id));
    if (it != ids_.end()) it->second = id;
  }
  std::optional<std::string> Pick(std::mt19937_64& rng, bool take) {
    std::lock_guard lock(mu_);
    if (ids_.empty()) return std::nullopt;
    auto it = std::next(ids_.begin(), static_cast<long>(rng() % ids_.size()));
    std::string id = it->second;
    if (take) ids_.erase(it);
    return id;
  }
  size_t size() {
    std::lock_guard lock(mu_);
    return ids_.size();
  }

 private:
  std::mutex mu_;
  std::map<std::string, std::string> ids_;
};

class Workload {
 public:
  Workload(std::vector<std::unique_ptr<Node>>* nodes, uint64_t seed, int clients)
      : nodes_(nodes), seed_(seed), clients_(clients) {}

  void Start() {
    for (int c = 0; c < clients_; ++c) threads_.emplace_back([this, c] { Client(c); });
  }
  void Stop() {
    stop_ = true;
    for (auto& t : threads_) t.join();
    threads_.clear();
  }
  /// Pauses new requests and waits for the ones in flight.
  void Pause() {
    paused_ = true;
    while (in_flight_ > 0) SleepMs(10);
  }
  void Resume() { paused_ = false; }
  /// Which nodes clients should prefer (the runner's view; a few requests go anywhere).
  void SetServing(std::vector<bool> serving) {
    std::lock_guard lock(mu_);
    serving_ = std::move(serving);
  }
  std::vector<Op> History() {
    std::lock_guard lock(mu_);
    return history_;
  }
  int64_t renames() const { return renames_; }
  int64_t replaced() const { return replaced_; }

 private:
  size_t PickNode(std::mt19937_64& rng) {
    std::lock_guard lock(mu_);
    size_t n = nodes_->size();
    if (rng() % 10 != 0) {  // mostly a node the runner believes serves
      std::vector<size_t> ok;
      for (size_t i = 0; i < serving_.size(); ++i)
        if (serving_[i]) ok.push_back(i);
      if (!ok.empty()) return ok[rng() % ok.size()];
    }
    return rng() % n;
  }

  void Client(int c) {
    std::mt19937_64 rng(seed_ * 1000003 + static_cast<uint64_t>(c));
    int64_t seq = 0;
    while (!stop_) {
      if (paused_) {
        SleepMs(5);
        continue;
      }
      ++in_flight_;
      if (paused_) {  // the runner paused between the check and the increment
        --in_flight_;
        continue;
      }
      OneRequest(c, rng, &seq);
      --in_flight_;
    }
  }

  void OneRequest(int c, std::mt19937_64& rng, int64_t* seq) {
    Op op;
    op.client = c;
    Node& node = *(*nodes_)[PickNode(rng)];
    op.node = node.name();
    int r = static_cast<int>(rng() % 100);
    size_t pooled = pool_.size();
    std::optional<std::string> id;
    if (r < 12 || pooled < 8) {
      if (pooled >= kMaxSessions) return;
      op.kind = OpKind::kPut;  // a create: no cookie
    } else if (r < 82) {
      op.kind = OpKind::kPut;
      id = pool_.Pick(rng, false);
    } else if (r < 92) {
      op.kind = OpKind::kRemoveAttribute;
      id = pool_.Pick(rng, false);
    } else {
      op.kind = OpKind::kInvalidate;
      id = pool_.Pick(rng, true);  // nothing new starts on it
    }
    if (op.kind != OpKind::kPut && !id) return;
    op.id = id.value_or("");
    op.base = BaseOf(op.id);
    if (op.kind != OpKind::kInvalidate) op.attribute = "a" + std::to_string(rng() % kAttributes);
    if (op.kind == OpKind::kPut)
      op.value = "\"c" + std::to_string(c) + "-" + std::to_string((*seq)++) + "\"";

    httplib::Client http(node.address(), kHttpPort);
    http.set_connection_timeout(1);
    http.set_read_timeout(8);
    httplib::Headers headers;
    if (!op.id.empty()) headers.emplace("Cookie", "JSESSIONID=" + op.id);
    std::string path = op.kind == OpKind::kInvalidate ? "/myapp/.session"
                                                      : "/myapp/.session/attributes/" + op.attribute;
    op.start_us = NowUs();
    httplib::Result res = op.kind == OpKind::kPut
                              ? http.Put(path, headers, op.value, "application/json")
                              : http.Delete(path, headers);
    op.end_us = NowUs();
    if (!res) {
      // Refused before anything was sent: not applied. Anything else may have been.
      op.outcome = res.error() == httplib::Error::Connection ? Outcome::kFailed : Outcome::kUnknown;
    } else {
      op.http_status = res->status;
      op.outcome = res->status / 100 == 2   ? Outcome::kOk
                   : res->status / 100 == 4 ? Outcome::kFailed
                                            : Outcome::kUnknown;
      std::string issued = CookieId(*res);
      if (!issued.empty()) {
        if (op.id.empty()) {
          pool_.Add(issued);
        } else if (BaseOf(issued) == op.base) {
          ++renames_;  // JvmRouteBinderValve moved it to this node's route
          pool_.Rename(issued);
        } else {
          ++replaced_;  // the node did not know the session and made a new one
          pool_.Add(issued);
        }
        op.id = issued;
        op.base = BaseOf(issued);
      }
    }
    std::lock_guard lock(mu_);
    history_.push_back(std::move(op));
  }

  static std::string CookieId(const httplib::Response& res) {
    for (const auto& [key, value] : res.headers) {
      if (key != "Set-Cookie" || value.rfind("JSESSIONID=", 0) != 0) continue;
      std::string v = value.substr(11);
      return v.substr(0, v.find(';'));
    }
    return "";
  }

  std::vector<std::unique_ptr<Node>>* nodes_;
  uint64_t seed_;
  int clients_;
  std::vector<std::thread> threads_;
  std::atomic<bool> stop_{false}, paused_{false};
  std::atomic<int> in_flight_{0};
  std::atomic<int64_t> renames_{0}, replaced_{0};
  SessionPool pool_;
  std::mutex mu_;
  std::vector<bool> serving_;
  std::vector<Op> history_;
};

// ---- faults --------------------------------------------------------------------------------

enum class FaultKind { kKill, kStop, kSkewRestart, kPartition, kOneWay, kMuteHeartbeats, kLoss, kDelay };

struct Fault {
  FaultKind kind = FaultKind::kKill;
  std::vector<int> a, b;  ///< nodes: the target(s); for partitions the two sides
  int percent = 0;        ///< loss
  int delay_ms = 0;       ///< delay
  int skew_s = 0;         ///< skew restart
  bool with_heartbeats = false;  ///< partition: also mute side b's heartbeats
  std::string Describe() const;
};

std::string Nodes(const std::vector<int>& v) {
  std::string out;
  for (int i : v) out += (out.empty() ? "n" : ",n") + std::to_string(i + 1);
  return out;
}

std::string Fault::Describe() const {
  switch (kind) {
    case FaultKind::kKill: return "kill-9 " + Nodes(a);
    case FaultKind::kStop: return "sigstop " + Nodes(a);
    case FaultKind::kSkewRestart: return "skew-restart " + Nodes(a) + " " + std::to_string(skew_s) + "s";
    case FaultKind::kPartition:
      return "partition " + Nodes(a) + " | " + Nodes(b) + (with_heartbeats ? " +heartbeats" : "");
    case FaultKind::kOneWay: return "one-way " + Nodes(a) + " -> " + Nodes(b);
    case FaultKind::kMuteHeartbeats: return "mute-heartbeats " + Nodes(a);
    case FaultKind::kLoss: return "loss " + std::to_string(percent) + "%";
    case FaultKind::kDelay: return "delay " + std::to_string(delay_ms) + "ms";
  }
  return "?";
}

bool NodeLevel(FaultKind k) {
  return k == FaultKind::kKill || k == FaultKind::kStop || k == FaultKind::kSkewRestart;
}

struct Step {
  std::vector<Fault> faults;
  int hold_ms = 0;
  int gap_ms = 0;
};

/// The seeded schedule: a few steps of one or two faults, node faults on distinct nodes.
std::vector<Step> MakeSchedule(std::mt19937_64& rng, int nodes, bool delay, bool skew) {
  std::vector<FaultKind> kinds = {FaultKind::kKill,      FaultKind::kStop,
                                  FaultKind::kPartition, FaultKind::kOneWay,
                                  FaultKind::kMuteHeartbeats, FaultKind::kLoss};
  if (skew) kinds.push_back(FaultKind::kSkewRestart);
  if (delay) kinds.push_back(FaultKind::kDelay);
  auto pick = [&](int n) { return static_cast<int>(rng() % static_cast<uint64_t>(n)); };
  std::vector<Step> steps(3 + rng() % 3);
  for (Step& step : steps) {
    std::vector<int> free_nodes(nodes);
    for (int i = 0; i < nodes; ++i) free_nodes[i] = i;
    std::shuffle(free_nodes.begin(), free_nodes.end(), rng);
    int count = 1 + pick(2);
    bool network_used = false;
    for (int f = 0; f < count; ++f) {
      Fault fault;
      fault.kind = kinds[pick(static_cast<int>(kinds.size()))];
      if (!NodeLevel(fault.kind)) {
        if (network_used) continue;  // one nftables/tc fault per step keeps them readable
        network_used = true;
      }
      std::vector<int> all(nodes);
      for (int i = 0; i < nodes; ++i) all[i] = i;
      std::shuffle(all.begin(), all.end(), rng);
      switch (fault.kind) {
        case FaultKind::kKill:
        case FaultKind::kStop:
        case FaultKind::kSkewRestart:
          if (free_nodes.size() <= 1) continue;  // keep one node untouched
          fault.a = {free_nodes.back()};
          free_nodes.pop_back();
          if (fault.kind == FaultKind::kSkewRestart)
            fault.skew_s = (pick(2) ? 1 : -1) * (2 + pick(kMaxSkewS - 1));
          break;
        case FaultKind::kPartition: {
          int split = 1 + pick(nodes - 1);
          fault.a.assign(all.begin(), all.begin() + split);
          fault.b.assign(all.begin() + split, all.end());
          fault.with_heartbeats = pick(2) == 0;
          break;
        }
        case FaultKind::kOneWay:
          fault.a = {all[0]};
          fault.b = {all[1]};
          break;
        case FaultKind::kMuteHeartbeats:
          fault.a = {all[0]};
          break;
        case FaultKind::kLoss:
          fault.percent = 5 + pick(36);
          break;
        case FaultKind::kDelay:
          fault.delay_ms = 5 + pick(96);
          break;
      }
      step.faults.push_back(fault);
    }
    step.hold_ms = 1000 + pick(2500);
    step.gap_ms = 300 + pick(1200);
  }
  return steps;
}

class FaultInjector {
 public:
  FaultInjector(std::vector<std::unique_ptr<Node>>* nodes) : nodes_(nodes) {}
  ~FaultInjector() { HealNetwork(); }

  /// Applies one fault; false (with `why`) when it could not be applied.
  bool Apply(const Fault& f, std::string* why) {
    switch (f.kind) {
      case FaultKind::kKill: {
        int code = node(f.a[0]).Kill();
        if (code != 128 + SIGKILL) *why = node(f.a[0]).name() + " exited " + std::to_string(code) + " before kill -9";
        return code == 128 + SIGKILL;
      }
      case FaultKind::kStop: node(f.a[0]).Pause(); return true;
      case FaultKind::kSkewRestart: {
        Node& n = node(f.a[0]);
        int code = n.Kill();
        if (code != 128 + SIGKILL) {
          *why = n.name() + " exited " + std::to_string(code) + " before kill -9";
          return false;
        }
        n.Start(f.skew_s);
        if (!n.WaitReady(kReadyTimeoutMs)) {
          *why = n.name() + " did not become ready under clock skew " + std::to_string(f.skew_s) + "s";
          return false;
        }
        return true;
      }
      case FaultKind::kPartition: {
        std::vector<std::string> rules;
        for (int x : f.a)
          for (int y : f.b) {
            rules.push_back("ip saddr " + node(x).address() + " ip daddr " + node(y).address() + " meta l4proto tcp");
            rules.push_back("ip saddr " + node(y).address() + " ip daddr " + node(x).address() + " meta l4proto tcp");
          }
        if (f.with_heartbeats)
          for (int y : f.b) rules.push_back(MuteRule(y));
        return Table(rules, why);
      }
      case FaultKind::kOneWay:
        return Table({"ip saddr " + node(f.a[0]).address() + " ip daddr " + node(f.b[0]).address() +
                      " tcp dport " + std::to_string(kReceiverPort)},
                     why);
      case FaultKind::kMuteHeartbeats: return Table({MuteRule(f.a[0])}, why);
      case FaultKind::kLoss: {
        std::string n = "numgen random mod 100 < " + std::to_string(f.percent);
        std::string port = std::to_string(kReceiverPort);
        return Table({"tcp dport " + port + " " + n, "tcp sport " + port + " " + n,
                      "udp dport " + std::to_string(kMcastPort) + " " + n},
                     why);
      }
      case FaultKind::kDelay: {
        CommandResult r = Run(TcPath(), {"qdisc", "add", "dev", "lo", "root", "netem", "delay",
                                          std::to_string(f.delay_ms) + "ms"});
        if (r.exit_code != 0) *why = "tc netem: " + r.err;
        delayed_ = r.exit_code == 0;
        return delayed_;
      }
    }
    return false;
  }

  /// Undoes `f`: SIGCONT, restart after kill -9 (same data dir, real clock), network rules off.
  /// A restarted node is waited for by WaitRestarted, once every fault of the step is healed: a
  /// node restarted inside a partition can only join after the partition is gone.
  bool Heal(const Fault& f, std::string* /*why*/) {
    if (f.kind == FaultKind::kStop) node(f.a[0]).Resume();
    if (f.kind == FaultKind::kKill) {
      node(f.a[0]).Start(0);
      restarted_.push_back(f.a[0]);
    }
    if (!NodeLevel(f.kind)) HealNetwork();
    return true;
  }

  /// Every node restarted by this step's heals becomes ready (a failed join is retried by the
  /// node every 10 s, so the bound covers one retry after the network healed).
  bool WaitRestarted(std::string* why) {
    std::vector<int> waiting = std::move(restarted_);
    restarted_.clear();
    for (int i : waiting) {
      if (!node(i).WaitReady(kReadyTimeoutMs)) {
        *why = node(i).name() + " did not become ready after its restart";
        return false;
      }
    }
    return true;
  }

  void HealNetwork() {
    for (const std::string& t : tables_) Run(NftPath(), {"delete", "table", "inet", t});
    tables_.clear();
    if (delayed_) Run(TcPath(), {"qdisc", "del", "dev", "lo", "root"});
    delayed_ = false;
  }

  /// Whether nftables and netem work in this namespace.
  static bool NftWorks() { return !NftPath().empty() && Run(NftPath(), {"list", "tables"}).exit_code == 0; }
  static bool NetemWorks() {
    if (TcPath().empty()) return false;
    bool ok = Run(TcPath(), {"qdisc", "add", "dev", "lo", "root", "netem", "delay", "1ms"}).exit_code == 0;
    if (ok) Run(TcPath(), {"qdisc", "del", "dev", "lo", "root"});
    return ok;
  }

 private:
  Node& node(int i) { return *(*nodes_)[static_cast<size_t>(i)]; }
  std::vector<int> restarted_;  // kill -9 heals whose node is not yet waited for
  std::string MuteRule(int i) {
    return "ip saddr " + node(i).address() + " udp dport " + std::to_string(kMcastPort);
  }
  bool Table(const std::vector<std::string>& rules, std::string* why) {
    std::string table = "chaos_" + std::to_string(next_table_++);
    std::string script = "add table inet " + table + "\nadd chain inet " + table +
                         " out { type filter hook output priority 0; }\n";
    for (const std::string& r : rules) script += "add rule inet " + table + " out " + r + " drop\n";
    CommandResult res = RunCommandWithInput(script);
    if (res.exit_code != 0) {
      *why = "nft: " + res.err + " in\n" + script;
      return false;
    }
    tables_.push_back(table);
    return true;
  }
  CommandResult RunCommandWithInput(const std::string& script) {
    std::string path = std::filesystem::temp_directory_path() / ("chaos-nft-" + std::to_string(getpid()) + ".nft");
    WriteFile(path, script);
    CommandResult r = Run(NftPath(), {"-f", path});
    std::filesystem::remove(path);
    return r;
  }

  std::vector<std::unique_ptr<Node>>* nodes_;
  std::vector<std::string> tables_;
  int next_table_ = 0;
  bool delayed_ = false;
};

// ---- the run -------------------------------------------------------------------------------

bool InPrivateNetns() {
  const char* v = std::getenv("SESSIOND_IN_NETNS");
  return v && std::string(v) == "1";
}

std::string FormatSeconds(double s) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f", s);
  return buf;
}

/// Log lines that mean a node went wrong even when it kept running.
std::vector<std::string> SanitizerReports(const std::string& log) {
  std::vector<std::string> found;
  for (const char* marker : {"AddressSanitizer", "UndefinedBehaviorSanitizer", "ThreadSanitizer",
                             "LeakSanitizer", "runtime error:", "terminate called", "Segmentation fault",
                             "Assertion `", "core dumped"}) {
    if (log.find(marker) != std::string::npos) found.push_back(marker);
  }
  return found;
}

class ChaosRun {
 public:
  explicit ChaosRun(Options o) : o_(o), rng_(o.seed) {}

  int Main() {
    if (!InPrivateNetns()) {
      std::cerr << "chaos: run it inside a private network namespace: tests/support/netns-run "
                   "(scripts/chaos does)\n";
      return 2;
    }
    if (!FaultInjector::NftWorks()) {
      std::cerr << "chaos: nft does not work here (install nftables: scripts/bootstrap)\n";
      return 2;
    }
    bool netem = FaultInjector::NetemWorks();
    bool skew = !FaketimeLib().empty();
    std::cout << "chaos: seed=" << o_.seed << " nodes=" << o_.nodes << " clients=" << o_.clients
              << " duration=" << o_.duration_s << "s run_dir=" << run_.path() << "\n"
              << "chaos: delay faults " << (netem ? "on (tc netem)" : "off: no sch_netem in this kernel")
              << "; clock skew " << (skew ? "on (libfaketime)" : "off: libfaketime not installed") << "\n"
              << std::flush;
    if (!StartCluster()) return Finish(false);

    Workload workload(&nodes_, o_.seed, o_.clients);
    workload.SetServing(Serving());
    workload.Start();
    FaultInjector faults(&nodes_);
    auto started = std::chrono::steady_clock::now();
    bool ok = true;
    do {
      ++schedules_;
      std::vector<Step> steps = MakeSchedule(rng_, o_.nodes, netem, skew);
      std::cout << "chaos: schedule " << schedules_ << ":";
      for (const Step& s : steps) {
        std::cout << " [";
        for (size_t i = 0; i < s.faults.size(); ++i) std::cout << (i ? ", " : "") << s.faults[i].Describe();
        std::cout << " " << s.hold_ms << "ms]";
      }
      std::cout << "\n" << std::flush;
      int64_t last_heal_us = 0;
      for (const Step& step : steps) {
        if (!(ok = PlayStep(step, &faults, &workload, &last_heal_us))) break;
      }
      if (!ok) break;
      workload.Pause();
      bool converged = Converge(last_heal_us);
      if (!converged) ReadLive(/*same_ids_first=*/false);  // the checker says how they differ
      ok = CheckHistory(workload) && converged;
      std::cout << "chaos: schedule " << schedules_ << " converged in " << FormatSeconds(converged_s_.back())
                << " s; renames " << workload.renames() << ", replaced sessions " << workload.replaced()
                << "\n" << std::flush;
      workload.Resume();
    } while (ok && std::chrono::steady_clock::now() - started < std::chrono::seconds(o_.duration_s));
    workload.Stop();
    faults.HealNetwork();
    if (ok) ok = StopCluster();
    return Finish(ok);
  }

 private:
  std::vector<bool> Serving() const {
    std::vector<bool> s;
    for (const auto& n : nodes_) s.push_back(n->serving());
    return s;
  }

  bool StartCluster() {
    WriteFile(run_.Path("admin.token"), "chaos-token-" + std::string(52, 'c') + "\n");
    WriteFile(run_.Path("cluster.secret"), "chaos-cluster-secret-" + std::string(24, 's') + "\n");
    chmod(run_.Path("admin.token").c_str(), 0600);
    chmod(run_.Path("cluster.secret").c_str(), 0600);
    reader_ = std::make_unique<AdminReader>("chaos-token-" + std::string(52, 'c'));
    for (int i = 0; i < o_.nodes; ++i) nodes_.push_back(std::make_unique<Node>(run_.path(), i));
    for (auto& n : nodes_) n->Start(0);
    for (auto& n : nodes_) {
      if (!n->WaitReady(kReadyTimeoutMs)) return Fail("start", n->name() + " never became ready:\n" + n->LogTail());
    }
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (true) {
      bool all = true;
      for (auto& n : nodes_) all = all && reader_->AliveCount(*n) == o_.nodes;
      if (all) return true;
      if (std::chrono::steady_clock::now() > deadline) return Fail("start", "the nodes never all saw each other alive");
      SleepMs(100);
    }
  }

  bool PlayStep(const Step& step, FaultInjector* faults, Workload* workload, int64_t* last_heal_us) {
    for (const Fault& f : step.faults) {
      std::string why;
      if (!faults->Apply(f, &why)) return Fail("fault", f.Describe() + ": " + why);
      ++faults_;
    }
    workload->SetServing(Serving());
    SleepMs(step.hold_ms);
    if (!CheckAlive()) return false;
    *last_heal_us = NowUs();
    for (auto it = step.faults.rbegin(); it != step.faults.rend(); ++it) {
      std::string why;
      if (!faults->Heal(*it, &why)) return Fail("heal", it->Describe() + ": " + why);
    }
    if (std::string why; !faults->WaitRestarted(&why)) return Fail("heal", why);
    workload->SetServing(Serving());
    SleepMs(step.gap_ms);
    return CheckAlive();
  }

  /// A node the runner did not kill has exited: a crash.
  bool CheckAlive() {
    for (auto& n : nodes_) {
      if (auto code = n->Crashed())
        return Fail("crash", n->name() + " exited " + std::to_string(*code) + ":\n" + n->LogTail());
    }
    return true;
  }

  /// Polls every node until they all hold the same sessions; records the time since `from_us`.
  bool Converge(int64_t from_us) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(kConvergeTimeoutMs);
    while (true) {
      if (!CheckAlive()) return false;
      if (ReadLive() && Converged(live_)) break;
      if (std::chrono::steady_clock::now() > deadline) {
        converged_s_.push_back(kConvergeTimeoutMs / 1000.0);
        return Fail("converge", "the live nodes hold different sessions " +
                                    std::to_string(kConvergeTimeoutMs / 1000) + " s after the last fault");
      }
      SleepMs(200);
    }
    converged_s_.push_back(static_cast<double>(NowUs() - from_us) / 1e6);
    return true;
  }

  /// Reads every node's state into live_; false when one did not answer.
  bool ReadLive(bool same_ids_first = true) {
    // Cheap first: the id lists must agree before fetching every session's attributes.
    std::optional<std::vector<std::string>> first;
    for (auto& n : nodes_) {
      if (!same_ids_first) break;
      auto ids = reader_->Ids(*n);
      if (!ids) return false;
      if (first && *ids != *first) return false;
      first = std::move(ids);
    }
    live_.clear();
    for (auto& n : nodes_) {
      auto state = reader_->State(*n);
      if (!state) {
        if (!same_ids_first) std::cout << "chaos: " << n->name() << " does not answer the admin API\n";
        if (same_ids_first) return false;
        continue;
      }
      live_[n->name()] = std::move(*state);
    }
    return true;
  }

  bool CheckHistory(Workload& workload) {
    std::vector<Op> history = workload.History();
    if (live_.empty()) ReadLive();
    // myapp's session-timeout (30 min), less the largest clock skew a restart gets (30 s).
    Verdict v = Check(history, live_, NowUs() - (kSessionTimeoutS - kMaxSkewS) * 1000000);
    acked_writes_ = v.acked_writes;
    lost_ = v.lost;
    ops_ = static_cast<int64_t>(history.size());
    if (v.ok()) return true;
    history_dump_.clear();
    for (const Op& op : history) history_dump_ += Describe(op) + "\n";
    size_t shown = 0;
    for (const Finding& f : v.findings) {
      if (++shown > 20) break;
      std::cout << "chaos: FAIL " << f.kind << ": " << f.detail << "\n";
    }
    if (v.findings.size() > 20) std::cout << "chaos: … " << v.findings.size() - 20 << " more findings\n";
    failed_ = true;
    return false;
  }

  /// SIGTERM everywhere: each must exit 0 and no log may hold a sanitizer report.
  bool StopCluster() {
    bool ok = true;
    for (auto& n : nodes_) {
      int code = n->Terminate();
      if (code != 0) ok = Fail("stop", n->name() + " exited " + std::to_string(code) + " on SIGTERM:\n" + n->LogTail());
    }
    for (auto& n : nodes_) {
      auto reports = SanitizerReports(ReadFile(n->LogPath()));
      if (!reports.empty()) ok = Fail("crash", n->name() + "'s log has '" + reports[0] + "' (" + n->LogPath() + ")");
    }
    return ok;
  }

  bool Fail(const std::string& kind, const std::string& detail) {
    std::cout << "chaos: FAIL " << kind << ": " << detail << "\n" << std::flush;
    failed_ = true;
    return false;
  }

  int Finish(bool ok) {
    for (auto& n : nodes_) n->Terminate();
    ok = ok && !failed_;
    std::vector<double> sorted = converged_s_;
    std::sort(sorted.begin(), sorted.end());
    double max_s = sorted.empty() ? 0 : sorted.back();
    double p50 = sorted.empty() ? 0 : sorted[sorted.size() / 2];
    std::cout << "chaos: " << ops_ << " requests recorded; convergence after the last fault p50="
              << FormatSeconds(p50) << "s max=" << FormatSeconds(max_s) << "s\n";
    if (!ok) {
      // The run dir goes away with this object: the logs move somewhere that stays.
      std::string kept = (std::filesystem::temp_directory_path() /
                          ("chaos-seed-" + std::to_string(o_.seed) + "-" + std::to_string(getpid())))
                             .string();
      std::filesystem::create_directories(kept);
      for (auto& n : nodes_) {
        std::error_code ec;
        std::filesystem::copy_file(n->LogPath(), kept + "/" + n->name() + ".log", ec);
      }
      WriteFile(kept + "/history.txt", history_dump_);
      std::cout << "chaos: FAILED — replay the fault schedule with --seed " << o_.seed
                << "; node logs kept in " << kept << "\n";
    }
    std::cout << "chaos: seed=" << o_.seed << " schedules=" << schedules_ << " faults=" << faults_
              << " acked_writes=" << acked_writes_ << " lost=" << lost_
              << " converged_max_s=" << FormatSeconds(max_s) << std::endl;
    return ok ? 0 : 1;
  }

  Options o_;
  std::mt19937_64 rng_;
  testing::TempDir run_;
  std::unique_ptr<AdminReader> reader_;
  std::vector<std::unique_ptr<Node>> nodes_;
  std::map<std::string, NodeState> live_;
  std::vector<double> converged_s_;
  int schedules_ = 0;
  int64_t faults_ = 0, acked_writes_ = 0, lost_ = 0, ops_ = 0;
  bool failed_ = false;
  std::string history_dump_;  ///< every request, when the checker failed (history.txt)
};

}  // namespace
}  // namespace sessiond::chaos

int main(int argc, char** argv) {
  signal(SIGPIPE, SIG_IGN);
  sessiond::chaos::ChaosRun run(sessiond::chaos::ParseOptions(argc, argv));
  return run.Main();
}
