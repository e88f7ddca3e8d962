// Convergence end to end (issue 4, Tests): the demo cluster of replication_fixture.h (async
// send mode, as examples/nodeA.xml and nodeB.xml ship) after a partition made with nftables,
// under concurrent writes to one session on both nodes, and for a late joiner of 10,000
// sessions. Each test process runs in its own private network namespace (tests/support/netns-run),
// so the nftables rules it adds affect only that namespace; outside one the tests that need
// nftables skip.
#include <atomic>
#include <cstdlib>
#include <iostream>
#include <unistd.h>
#include <mutex>

#include "replication_fixture.h"

namespace sessiond::testing {
namespace {

using nlohmann::json;

bool InPrivateNetns() {
  const char* v = std::getenv("SESSIOND_IN_NETNS");
  return v && std::string(v) == "1";
}

/// Runs `nft` with `args` (inside the test's namespace only); RunCommand execs a path.
CommandResult Nft(std::vector<std::string> args) {
  std::string nft;
  for (const char* p : {"/usr/sbin/nft", "/sbin/nft", "/usr/bin/nft", "/bin/nft"})
    if (access(p, X_OK) == 0) { nft = p; break; }
  if (nft.empty()) return CommandResult{127, "", "nft not found"};
  args.insert(args.begin(), nft);
  return RunCommand(args, {});
}

/// The session as `node` serves it for cookie `id` (null when it does not answer 200).
json SessionOn(const DemoNode& node, const std::string& id) {
  auto c = node.Http();
  auto r = c.Get("/myapp/.session?create=false", {{"Cookie", "JSESSIONID=" + id}});
  if (!r || r->status != 200) return nullptr;
  json s = json::parse(r->body, nullptr, false);
  if (!s.is_object() || !s.contains("attributes")) return nullptr;
  return s;
}

/// The session's attributes as `node` serves them (null when it does not answer 200).
json AttributesOn(const DemoNode& node, const std::string& id) {
  json s = SessionOn(node, id);
  return s.is_null() ? s : s["attributes"];
}

class ConvergenceE2eTest : public DemoClusterTest {
 protected:
  void TearDown() override {
    if (partitioned_) Nft({"delete", "table", "inet", "sessiond_partition"});
  }
  /// Drops the replication traffic (the receivers' TCP port 4000, both ways) in this namespace;
  /// HTTP, admin and the multicast heartbeats keep flowing (SplitBrainRenameConverges drops
  /// the heartbeats too).
  void Partition() {
    ASSERT_NO_FATAL_FAILURE(Drop({{"tcp", "dport", "4000"}, {"tcp", "sport", "4000"}}));
  }
  /// Adds one output-drop rule per entry of `matches` (nft match expressions) in this namespace.
  void Drop(const std::vector<std::vector<std::string>>& matches) {
    ASSERT_TRUE(InPrivateNetns());
    std::vector<std::vector<std::string>> cmds = {
        {"add", "table", "inet", "sessiond_partition"},
        {"add", "chain", "inet", "sessiond_partition", "out",
         "{ type filter hook output priority 0; }"}};
    for (const auto& match : matches) {
      std::vector<std::string> rule = {"add", "rule", "inet", "sessiond_partition", "out"};
      rule.insert(rule.end(), match.begin(), match.end());
      rule.push_back("drop");
      cmds.push_back(rule);
    }
    for (const std::vector<std::string>& cmd : cmds) {
      CommandResult r = Nft(cmd);
      ASSERT_EQ(r.exit_code, 0) << "nft " << cmd[0] << ": " << r.err;
      partitioned_ = true;
    }
  }
  void Heal() {
    CommandResult r = Nft({"delete", "table", "inet", "sessiond_partition"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    partitioned_ = false;
  }

  bool partitioned_ = false;
};

TEST_F(ConvergenceE2eTest, PartitionHealsAndBothSidesConverge) {
  if (!InPrivateNetns()) GTEST_SKIP() << "nftables only inside a private namespace (netns-run)";
  if (Nft({"list", "tables"}).exit_code != 0) GTEST_SKIP() << "nft unavailable here";
  DemoNode& a = Add("A");
  DemoNode& b = Add("B");
  ASSERT_NO_FATAL_FAILURE(StartBoth(a, b));

  auto http_a = a.Http();
  CookieJar on_a(&http_a);
  ASSERT_EQ(on_a.Put("/myapp/.session/attributes/base", "0")->status, 204);
  const std::string id = on_a.session_id();
  ASSERT_TRUE(PollUntil([&] { return b.HasSession(id); }, 3000)) << Logs();

  ASSERT_NO_FATAL_FAILURE(Partition());

  auto http_b = b.Http();
  CookieJar on_b(&http_b);
  on_b.set_session_id(id);
  ASSERT_EQ(on_a.Put("/myapp/.session/attributes/x", "\"from A\"")->status, 204);
  ASSERT_EQ(on_a.Put("/myapp/.session/attributes/z", "\"A, earlier\"")->status, 204);
  ASSERT_EQ(on_b.Put("/myapp/.session/attributes/y", "\"from B\"")->status, 204);
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  ASSERT_EQ(on_b.Put("/myapp/.session/attributes/z", "\"B, later\"")->status, 204);
  const std::string id_b = on_b.session_id();
  ASSERT_EQ(id_b, id) << "B re-issued the id: it saw demoA not alive\n" << Logs();
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  json during = AttributesOn(b, id_b);
  EXPECT_TRUE(during.is_object() && !during.contains("x")) << "the partition let x through: " << during.dump();

  auto healed_at = std::chrono::steady_clock::now();
  ASSERT_NO_FATAL_FAILURE(Heal());
  const json want = {{"base", 0}, {"x", "from A"}, {"y", "from B"}, {"z", "B, later"}};
  json got_a, got_b;
  bool converged = PollUntil([&] {
    got_a = AttributesOn(a, id);
    got_b = AttributesOn(b, id_b);
    return got_a == want && got_b == want;
  }, 15000);
  auto took = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::steady_clock::now() - healed_at).count();
  ASSERT_TRUE(converged) << "A (" << id << "): " << got_a.dump() << "\nB (" << id_b
                         << "): " << got_b.dump() << "\nA: " << a.Status().dump()
                         << "\nB: " << b.Status().dump() << "\n" << Logs();
  std::cout << "[ measure  ] partition heal -> converged in " << took << " ms\n";
  RecordProperty("heal_to_converged_ms", static_cast<int>(took));
  EXPECT_TRUE(SeesAlive(a, b) && SeesAlive(b, a));
}

// The partition also cuts the multicast heartbeats: each side sees the other dead, and B's
// JvmRouteBinderValve re-issues A's session under demoB while A keeps writing to the old id.
// After the heal both must hold ONE session, under B's id (the only id change wins), with both
// sides' writes, and answer either cookie with it.
TEST_F(ConvergenceE2eTest, SplitBrainRenameConverges) {
  if (!InPrivateNetns()) GTEST_SKIP() << "nftables only inside a private namespace (netns-run)";
  if (Nft({"list", "tables"}).exit_code != 0) GTEST_SKIP() << "nft unavailable here";
  // Frequent rounds, so the test sees that once converged, rounds find nothing more to repair.
  const Edits often = {{"clusterSecretFile=\"../cluster.secret\"",
                        "clusterSecretFile=\"../cluster.secret\" antiEntropyPeriod=\"200\""}};
  DemoNode& a = Add("A", often);
  DemoNode& b = Add("B", often);
  ASSERT_NO_FATAL_FAILURE(StartBoth(a, b));

  auto http_a = a.Http();
  CookieJar on_a(&http_a);
  ASSERT_EQ(on_a.Put("/myapp/.session/attributes/base", "0")->status, 204);
  const std::string id = on_a.session_id();
  ASSERT_TRUE(PollUntil([&] { return b.HasSession(id); }, 3000)) << Logs();

  ASSERT_NO_FATAL_FAILURE(Drop({{"tcp", "dport", "4000"},
                                {"tcp", "sport", "4000"},
                                {"udp", "dport", "45564"}}));
  ASSERT_TRUE(PollUntil([&] { return !SeesAlive(b, a) && !SeesAlive(a, b); }, 5000))
      << "the heartbeats still flow\n" << Logs();

  auto http_b = b.Http();
  CookieJar on_b(&http_b);
  on_b.set_session_id(id);
  ASSERT_EQ(on_b.Put("/myapp/.session/attributes/y", "\"from B\"")->status, 204);
  const std::string id_b = on_b.session_id();
  ASSERT_NE(id_b, id) << "B did not re-issue the id of a dead member's session";
  ASSERT_EQ(id_b.substr(id_b.size() - 6), ".demoB");
  ASSERT_EQ(on_a.Put("/myapp/.session/attributes/x", "\"from A\"")->status, 204);
  ASSERT_EQ(on_a.session_id(), id);

  auto healed_at = std::chrono::steady_clock::now();
  ASSERT_NO_FATAL_FAILURE(Heal());
  const json want = {{"base", 0}, {"x", "from A"}, {"y", "from B"}};
  std::vector<std::string> got;
  bool converged = PollUntil([&] {
    got.clear();
    bool all = true;
    for (const DemoNode* n : {&a, &b}) {
      for (const std::string& cookie : {id, id_b}) {
        json s = SessionOn(*n, cookie);
        got.push_back(n->name() + " " + cookie + ": " + s.dump());
        all = all && s.is_object() && s["id"] == id_b && s["attributes"] == want;
      }
      got.push_back(n->name() + " sessions: " + std::to_string(n->Status()["sessions"].get<int>()));
      all = all && n->Status()["sessions"] == 1;
    }
    return all;
  }, 10000);
  auto took = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::steady_clock::now() - healed_at).count();
  std::string seen;
  for (const std::string& line : got) seen += line + "\n";
  ASSERT_TRUE(converged) << seen << Logs();
  std::cout << "[ measure  ] split-brain rename: heal -> converged in " << took << " ms\n";
  RecordProperty("split_brain_heal_to_converged_ms", static_cast<int>(took));
  // Converged means equal digests: the next anti-entropy rounds (every 200 ms here) repair
  // nothing more (before the fix they re-pulled the same entries every round, forever).
  auto metric = [](const DemoNode& n, const std::string& name) {
    std::string text = n.Metrics();
    size_t at = text.find("\n" + name + " ");
    return at == std::string::npos ? -1 : std::stoi(text.substr(at + 2 + name.size()));
  };
  const std::string rounds = "sessiond_anti_entropy_rounds_total";
  const std::string repaired = "sessiond_anti_entropy_repaired_total";
  int rounds_a = metric(a, rounds), rounds_b = metric(b, rounds);
  int repaired_a = metric(a, repaired), repaired_b = metric(b, repaired);
  ASSERT_GE(rounds_a, 0) << a.Metrics();
  EXPECT_TRUE(PollUntil([&] {
    return metric(a, rounds) >= rounds_a + 2 && metric(b, rounds) >= rounds_b + 2;
  }, 3000)) << "antiEntropyPeriod=200 runs a round every 200 ms";
  EXPECT_EQ(metric(a, repaired), repaired_a);
  EXPECT_EQ(metric(b, repaired), repaired_b);
  EXPECT_EQ(metric(a, "sessiond_hlc_stamps_refused_total"), 0);
}

// A joiner whose state transfer cannot complete (its source's receiver unreachable: the
// heartbeats say demoA is alive, the batches never come) stays up but not ready, as sessiond(8)
// says: /readyz 503, no data plane, `sessctl status` state failed with the reason, an event.
TEST_F(ConvergenceE2eTest, AFailedStateTransferLeavesTheJoinerUpButNotReadyAndItRetries) {
  if (!InPrivateNetns()) GTEST_SKIP() << "nftables only inside a private namespace (netns-run)";
  if (Nft({"list", "tables"}).exit_code != 0) GTEST_SKIP() << "nft unavailable here";
  DemoNode& a = Add("A");
  ASSERT_NO_FATAL_FAILURE(a.Start());
  a.CreateSessions(20);
  ASSERT_NO_FATAL_FAILURE(Drop({{"ip", "daddr", "127.0.0.2", "tcp", "dport", "4000"}}));
  DemoNode& b = Add("B", {{"expireSessionsOnShutdown=\"false\"",
                           "expireSessionsOnShutdown=\"false\" stateTransferTimeout=\"1\""}});
  ASSERT_NO_FATAL_FAILURE(b.Start(/*wait_ready=*/false));
  json st;
  ASSERT_TRUE(PollUntil([&] {
    st = b.Status();
    return st.is_object() && st["state_transfer"]["state"] == "failed";
  }, 8000)) << st.dump() << b.Log();
  const std::string error = st["state_transfer"].value("error", "");
  EXPECT_NE(error.find("state transfer from demoA failed"), std::string::npos) << st.dump();
  EXPECT_EQ(st["ready"], false);
  EXPECT_TRUE(b.Running()) << "the node must stay up so an operator can see why";
  auto ready = b.AdminNoAuth().Get("/readyz");
  ASSERT_TRUE(ready);
  EXPECT_EQ(ready->status, 503);
  auto http = b.Http();
  EXPECT_FALSE(http.Get("/myapp/.session")) << "no data plane while the transfer failed";
  CommandResult text = b.Sessctl({"status"});
  EXPECT_EQ(text.exit_code, 0) << text.err;
  EXPECT_NE(text.out.find("failed"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("state transfer from demoA failed"), std::string::npos) << text.out;
  CommandResult events = b.Sessctl({"events", "-o", "json"});
  ASSERT_EQ(events.exit_code, 0) << events.err;
  EXPECT_NE(events.out.find("state transfer failed"), std::string::npos) << events.out;

  // The node tries again (every 10 s): once demoA is reachable it joins and serves.
  ASSERT_NO_FATAL_FAILURE(Heal());
  ASSERT_TRUE(b.WaitReady(25000)) << "the joiner never retried after the partition healed\n"
                                  << b.Status().dump() << b.Log();
  st = b.Status();
  EXPECT_EQ(st["state_transfer"]["state"], "done") << st.dump();
  EXPECT_EQ(st["state_transfer"]["received"], 20) << st.dump();
  EXPECT_TRUE(b.Http().Get("/myapp/.session")) << "the data plane serves after the retry";
}

// nginx's round-robin sends the request after a session's creation to the other node, which in
// async mode may not have the delta yet: it fetches the session from the node its route names
// instead of answering with a new session. Here A's deltas to B are dropped outright.
TEST_F(ConvergenceE2eTest, ASessionWhoseDeltaHasNotArrivedIsFetchedFromItsWriter) {
  if (!InPrivateNetns()) GTEST_SKIP() << "nftables only inside a private namespace (netns-run)";
  if (Nft({"list", "tables"}).exit_code != 0) GTEST_SKIP() << "nft unavailable here";
  DemoNode& a = Add("A");
  DemoNode& b = Add("B");
  ASSERT_NO_FATAL_FAILURE(StartBoth(a, b));
  // A's connections to B's receiver carry the deltas; B's own connection to A stays open.
  ASSERT_NO_FATAL_FAILURE(Drop({{"ip", "daddr", "127.0.0.3", "tcp", "dport", "4000"}}));

  auto http_a = a.Http();
  CookieJar on_a(&http_a);
  ASSERT_EQ(on_a.Put("/myapp/.session/attributes/cart", R"(["book"])")->status, 204);
  const std::string id = on_a.session_id();
  std::this_thread::sleep_for(std::chrono::milliseconds(100));  // the delta would be there now

  auto http_b = b.Http();
  CookieJar on_b(&http_b);
  on_b.set_session_id(id);
  auto r = on_b.Get("/myapp/.session");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body << Logs();
  json s = json::parse(r->body);
  EXPECT_EQ(s["id"], id) << "B answered with a new session instead of A's";
  EXPECT_EQ(s["attributes"]["cart"], json::parse(R"(["book"])"));
  EXPECT_EQ(s["node"], "demoB");
  EXPECT_NE(b.Metrics().find("sessiond_session_misses_fetched_total 1"), std::string::npos);

  // An id nobody holds (expired, or forged) with a live route is asked for once and then
  // answered like any unknown id: a new session on B.
  on_b.set_session_id("0123456789ABCDEF0123456789ABCDEF.demoA");
  r = on_b.Get("/myapp/.session");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_NE(json::parse(r->body)["id"], "0123456789ABCDEF0123456789ABCDEF.demoA");
}

TEST_F(ConvergenceE2eTest, ConcurrentWritesToOneSessionOnTwoNodesConverge) {
  constexpr int kWrites = 200;
  DemoNode& a = Add("A");
  DemoNode& b = Add("B");
  ASSERT_NO_FATAL_FAILURE(StartBoth(a, b));
  auto http_a = a.Http();
  CookieJar first(&http_a);
  ASSERT_EQ(first.Put("/myapp/.session/attributes/v", "\"start\"")->status, 204);
  const std::string id = first.session_id();
  ASSERT_TRUE(PollUntil([&] { return b.HasSession(id); }, 3000)) << Logs();

  std::mutex failures_mu;
  std::vector<std::string> failures;
  auto writer = [&](const DemoNode* node, const std::string& tag) {
    auto http = node->Http();
    CookieJar jar(&http);
    jar.set_session_id(id);
    for (int i = 0; i < kWrites; ++i) {
      std::string value = "\"" + tag + std::to_string(i) + "\"";
      auto r = jar.Put("/myapp/.session/attributes/v", value);
      // A second attribute per node shows that neither side's other writes are lost.
      auto r2 = jar.Put("/myapp/.session/attributes/" + tag, std::to_string(i));
      if (!r || r->status != 204 || !r2 || r2->status != 204) {
        std::lock_guard lock(failures_mu);
        failures.push_back(tag + std::to_string(i));
      }
    }
  };
  std::thread ta(writer, &a, "a");
  std::thread tb(writer, &b, "b");
  ta.join();
  tb.join();
  ASSERT_TRUE(failures.empty()) << failures.size() << " writes failed, first " << failures[0];

  json got_a, got_b;
  auto start = std::chrono::steady_clock::now();
  bool equal = PollUntil([&] {
    got_a = AttributesOn(a, id);
    got_b = AttributesOn(b, id);
    return got_a.is_object() && got_a == got_b;
  }, 15000);
  auto took = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::steady_clock::now() - start).count();
  ASSERT_TRUE(equal) << "A: " << got_a.dump() << "\nB: " << got_b.dump() << "\n" << Logs();
  std::cout << "[ measure  ] " << 2 * kWrites << " interleaved writes: equal after " << took
            << " ms\n";
  // The winner is one of the last values written on either side, and both per-node counters
  // arrived complete.
  std::string v = got_a["v"].get<std::string>();
  EXPECT_TRUE(v[0] == 'a' || v[0] == 'b') << v;
  EXPECT_EQ(got_a["a"], kWrites - 1);
  EXPECT_EQ(got_a["b"], kWrites - 1);
}

TEST_F(ConvergenceE2eTest, LateJoinerReceivesTenThousandSessions) {
  constexpr int kSessions = 10000;
  constexpr int kThreads = 4;
  DemoNode& a = Add("A");
  ASSERT_NO_FATAL_FAILURE(a.Start());
  auto created_from = std::chrono::steady_clock::now();
  std::atomic<int> failed{0};
  std::vector<std::thread> creators;
  for (int t = 0; t < kThreads; ++t) {
    creators.emplace_back([&, t] {
      auto http = a.Http();  // one keep-alive connection per thread
      http.set_keep_alive(true);
      http.set_tcp_nodelay(true);  // else Nagle and the delayed ACK cost 40 ms a request
      for (int i = t; i < kSessions; i += kThreads) {
        CookieJar jar(&http);
        auto r = jar.Put("/myapp/.session/attributes/i", std::to_string(i));
        if (!r || r->status != 204) ++failed;
      }
    });
  }
  for (auto& th : creators) th.join();
  ASSERT_EQ(failed.load(), 0);
  auto create_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::steady_clock::now() - created_from).count();
  ASSERT_EQ(a.Status()["sessions"].get<int>(), kSessions);

  DemoNode& b = Add("B");
  auto started = std::chrono::steady_clock::now();
  ASSERT_NO_FATAL_FAILURE(b.Start(/*wait_ready=*/false));
  int sessions_at_ready = -1;
  bool ready = PollUntil([&] {
    auto r = b.AdminNoAuth().Get("/readyz");
    return r && r->status == 200;
  }, 30000);
  auto ready_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::steady_clock::now() - started).count();
  ASSERT_TRUE(ready) << b.Log();
  json status = b.Status();  // right after the first 200: nothing may be missing by then
  sessions_at_ready = status["sessions"].get<int>();
  EXPECT_EQ(sessions_at_ready, kSessions);
  EXPECT_EQ(status["state_transfer"]["state"], "done");
  EXPECT_EQ(status["state_transfer"]["received"].get<int>(), kSessions);
  CommandResult st = b.Sessctl({"status", "-o", "json"});
  ASSERT_EQ(st.exit_code, 0) << st.err;
  json sj = json::parse(st.out, nullptr, false);
  ASSERT_TRUE(sj.is_object()) << st.out;
  EXPECT_EQ(sj.value("sessions", -1), kSessions) << st.out;
  std::cout << "[ measure  ] " << kSessions << " sessions created on A in " << create_ms
            << " ms; B start -> /readyz 200 in " << ready_ms << " ms (includes process start)\n";
  RecordProperty("joiner_ready_ms", static_cast<int>(ready_ms));
}

}  // namespace
}  // namespace sessiond::testing
