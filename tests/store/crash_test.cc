// Crash safety for real: a child process writes sessions through the persister and reports each
// committed flush through a pipe; the parent SIGKILLs it mid-stream, reopens the file and checks
// that it is intact and holds everything the child reported as flushed.

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <map>
#include <random>

#include "store/store.h"
#include "support/files.h"

namespace sessiond::store {
namespace {

using session::EventBatch;
using session::SessionStore;
using sessiond::testing::TempDir;

constexpr int kSessionsPerRound = 1000;  // a flush of ~0.5 MB: the kill often lands inside it
constexpr int kRoundsBeforeKill = 5;

bool WriteAll(int fd, const std::string& text) {
  size_t done = 0;
  while (done < text.size()) {
    ssize_t n = write(fd, text.data() + done, text.size() - done);
    if (n <= 0) return false;
    done += static_cast<size_t>(n);
  }
  return true;
}

// One round: new sessions tagged with the round, plus an update to one long-lived "counter"
// session, then a flush. Returns the report lines ("S <id> <round>"…, "F <round>") to send.
std::string Round(SessionStore& store, SessionPersister& persister, const std::string& counter,
                  int round) {
  std::string report;
  const std::string padding(400, 'x');  // bigger rows: more pages per transaction
  for (int i = 0; i < kSessionsPerRound; ++i) {
    EventBatch batch;
    auto s = store.Create("/myapp", 1800, true, &batch);
    if (!s.ok()) _exit(3);
    store.SetAttribute(s->id, "round", std::to_string(round), &batch);
    store.SetAttribute(s->id, "pad", "\"" + padding + "\"", &batch);
    store.Commit(&batch);
    report += "S " + s->id + " " + std::to_string(round) + "\n";
  }
  EventBatch batch;
  store.SetAttribute(counter, "round", std::to_string(round), &batch);
  store.Commit(&batch);
  if (!persister.Flush().ok()) _exit(4);
  return report + "F " + std::to_string(round) + "\n";
}

// The child: never returns. Reports only after Flush returned OK, i.e. after COMMIT.
[[noreturn]] void RunChild(const std::string& path, int fd) {
  auto db = Database::Open(path);
  if (!db.ok()) _exit(2);
  SessionStore::Options options;
  options.node_name = "tomcatA";
  SessionStore store(options);
  SessionPersister persister(db->get(), &store, SessionPersister::Options{0});
  store.AddSink(&persister);
  EventBatch batch;
  std::string counter = store.Create("/myapp", 1800, true, &batch)->id;
  store.Commit(&batch);
  if (!WriteAll(fd, "C " + counter + "\n")) _exit(5);
  for (int round = 1; round < 100000; ++round)
    if (!WriteAll(fd, Round(store, persister, counter, round))) _exit(5);
  _exit(6);  // the parent should have killed us long before
}

// What the parent learned from the pipe: only rounds whose "F" line arrived count.
struct Reported {
  std::string counter;
  std::map<std::string, int> flushed;  // id -> round
  int last_round = 0;
};

// Reads report lines; calls `on_flush(rounds)` after each complete round.
template <typename OnFlush>
void ReadReports(FILE* in, Reported* out, OnFlush on_flush) {
  std::map<std::string, int> round_ids;
  char* line = nullptr;
  size_t cap = 0;
  ssize_t n;
  while ((n = getline(&line, &cap, in)) > 0) {
    if (line[n - 1] != '\n') break;  // cut off by the kill
    std::string text(line, static_cast<size_t>(n - 1));
    if (text.rfind("C ", 0) == 0) {
      out->counter = text.substr(2);
    } else if (text.rfind("S ", 0) == 0) {
      size_t sp = text.find(' ', 2);
      round_ids[text.substr(2, sp - 2)] = std::atoi(text.c_str() + sp + 1);
    } else if (text.rfind("F ", 0) == 0) {
      out->flushed.merge(round_ids);
      round_ids.clear();
      out->last_round = std::atoi(text.c_str() + 2);
      on_flush(out->last_round);
    }
  }
  free(line);
}

TEST(PersisterCrashTest, KillNineKeepsEverythingFromTheLastCommittedFlush) {
  TempDir dir;
  const std::string path = Database::PathIn(dir.path());
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  fflush(nullptr);  // nothing buffered may be written twice
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    close(fds[0]);
    RunChild(path, fds[1]);
  }
  close(fds[1]);
  FILE* in = fdopen(fds[0], "r");
  ASSERT_NE(in, nullptr);

  // Kill a little after a flush, at a random point of the next round (often inside COMMIT).
  std::mt19937 rng(std::random_device{}());
  Reported reported;
  bool killed = false;
  ReadReports(in, &reported, [&](int round) {
    if (killed || round < kRoundsBeforeKill) return;
    usleep(std::uniform_int_distribution<useconds_t>(0, 40000)(rng));
    kill(pid, SIGKILL);
    killed = true;
  });
  fclose(in);
  int wstatus = 0;
  ASSERT_EQ(waitpid(pid, &wstatus, 0), pid);
  ASSERT_TRUE(WIFSIGNALED(wstatus) && WTERMSIG(wstatus) == SIGKILL)
      << "the child stopped on its own, exit code " << WEXITSTATUS(wstatus);
  ASSERT_GE(reported.last_round, kRoundsBeforeKill);

  auto db = Database::Open(path);
  ASSERT_TRUE(db.ok()) << db.status().ToString();
  EXPECT_TRUE((*db)->CheckIntegrity().ok()) << (*db)->CheckIntegrity().ToString();
  auto loaded = (*db)->LoadSessions();
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  EXPECT_EQ(loaded->undecodable, 0u);
  std::map<std::string, int> rounds;  // id -> its "round" attribute, as stored
  for (const session::Session& s : loaded->sessions)
    rounds[s.id] = std::atoi(s.attributes.at("round").json.c_str());
  size_t missing = 0;
  for (const auto& [id, round] : reported.flushed) {
    auto it = rounds.find(id);
    if (it == rounds.end() || it->second != round) ++missing;
  }
  EXPECT_EQ(missing, 0u) << "of " << reported.flushed.size() << " reported flushed";
  // The counter was updated every round: at least the last reported value (a later flush may
  // have committed before the kill without being reported).
  ASSERT_TRUE(rounds.count(reported.counter));
  EXPECT_GE(rounds[reported.counter], reported.last_round);
  // Whole rounds only: no flush is half-applied.
  EXPECT_EQ((loaded->sessions.size() - 1) % kSessionsPerRound, 0u);
}

}  // namespace
}  // namespace sessiond::store
