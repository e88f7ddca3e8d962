// deploy internals: FarmDeployer::Impl, shared by farm.cc (deploys and the member protocol) and
// farm_watch.cc (the watchDir scanner).
//
// Thread-safety: as FarmDeployer (deploy.h). local_mu serializes every change to what this node
// serves (unpack, container swap, registry row); the transport's handlers run on the loop thread
// and only decode, then post to deploy_worker (pull, unzip, deploy) or read_worker (chunks, app
// lists, late answers' events).
#pragma once

#include <atomic>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "deploy/deploy.h"
#include "deploy/farm_internal.h"

namespace sessiond::deploy {

class FarmDeployer::Impl : public std::enable_shared_from_this<FarmDeployer::Impl> {
 public:
  Impl(transport::EventLoop* loop, transport::Transport* transport, store::Database* db,
       FarmOptions options);
  ~Impl();
  void Stop();

  Result<FarmReport> Deploy(const std::string& name, const std::string& war_path, bool take_file,
                            const std::string& source, int64_t wait_ms);
  Result<FarmReport> DeployOnNode(const std::string& name, const std::string& war_path,
                                  bool take_file, const std::string& source,
                                  const std::optional<replication::Peer>& member, int64_t wait_ms);
  Result<FarmReport> Undeploy(const std::string& name, int64_t wait_ms);
  AppList LocalApps() const;
  std::vector<MemberApps> ClusterApps(int64_t timeout_ms);
  std::vector<std::string> RestoreFromRegistry();
  Status Converge(int64_t timeout_ms);

  void RegisterHandlers();
  Status StartWatcher();
  void StopWatcher();

  transport::EventLoop* const loop;
  transport::Transport* const transport;
  store::Database* const db;
  const FarmOptions options;
  const internal::WarStore wars;
  internal::SerialWorker deploy_worker{"farm-deploy"};
  internal::SerialWorker read_worker{"farm-read"};

 private:
  /// APPBASE/.farm/NAME@<sha16>: one folder per version, so the one being replaced keeps
  /// serving its requests in flight; hidden, so appBase's own scan never deploys it twice.
  std::string FolderOf(const AppVersion& app) const;
  void PruneFolders(const std::string& name, const std::set<std::string>& keep);
  /// Unpacks (unless done), swaps the container to it and records it: the one place that changes
  /// what this node serves. Nothing is replaced when the WAR is refused.
  Status DeployLocal(const AppVersion& app, const std::string& source);
  /// The sha256 removed ("" when this node had no farmed app of that name).
  Result<std::string> UndeployLocal(const std::string& name);
  bool StillReferenced(const std::string& sha256);
  /// Validates the WAR (errors name `name`.war, the entry and the reason) and stores it by
  /// SHA-256, held (see held_) until ReleaseWar: a refused WAR leaves no trace.
  Result<AppVersion> StoreValidated(const std::string& name, const std::string& war_path, bool take_file);
  void HoldWar(const std::string& sha256);
  /// Drops one hold and removes the stored WAR when nothing else needs it (RemoveIfUnused).
  void ReleaseWar(const std::string& sha256);
  /// Removes the stored WAR unless it is held or a registry row references it.
  void RemoveIfUnused(const std::string& sha256);
  /// Stores, deploys here and records the WAR; `scope` ends the event's message.
  Result<FarmReport> DeployHere(const std::string& name, const std::string& war_path, bool take_file,
                                const std::string& source, const std::string& scope);
  void Event(const std::string& message, std::map<std::string, std::string> fields);
  /// Sends `body` to every alive member (Ask) and collects their answers into `report`.
  void Broadcast(uint16_t type, std::string body, const std::string& app, int64_t wait_ms,
                 FarmReport* report);
  /// Sends `body` to `peers` and waits up to `wait_ms` for their NodeResults, appended to
  /// `report` in `peers`' order. `after` (may be empty) runs on read_worker once every peer
  /// answered or gave up, even after the wait ended.
  void Ask(const std::vector<replication::Peer>& peers, uint16_t type, std::string body,
           const std::string& app, int64_t wait_ms, FarmReport* report, std::function<void()> after);
  void RecordLateAnswer(const std::string& app, const NodeResult& row);
  void ReplyOnLoop(const transport::Transport::Reply& reply, transport::Message m);
  void OnAnnounce(const transport::Sender& from, transport::Message m, transport::Transport::Reply reply);
  void OnUndeploy(transport::Message m, transport::Transport::Reply reply);
  void OnChunk(transport::Message m, transport::Transport::Reply reply);
  Status Pull(const AppVersion& app, const transport::PeerAddress& from);
  NodeResult PullAndDeploy(const AppVersion& app, const transport::PeerAddress& from,
                           const std::string& source);
  Result<transport::Message> AskAppList(const replication::Peer& peer, int64_t timeout_ms);
  Status ConvergeWith(const replication::Peer& peer, const AppList& theirs);
  void WatchLoop();
  void ScanWatchDir();

  std::mutex local_mu;

  // Stored WARs that no registry row references yet but that must stay: one being deployed here
  // (between the store and its registry row) or one a member is pulling (a per-node deploy).
  // A WAR is stored and held under held_mu_ at once, so no removal can slip in between.
  std::mutex held_mu_;
  std::multiset<std::string> held_;  // GUARDED_BY(held_mu_)

  // The watcher (farm_watch.cc).
  struct Seen {
    uint64_t size = 0;
    int64_t mtime_ns = 0;
    int stable_scans = 0;
    bool handled = false;  ///< deployed (or refused) in this size+mtime
  };
  std::map<std::string, Seen> seen_;  // watcher thread only: by file name
  std::mutex watch_mu_;
  std::condition_variable watch_cv_;
  bool watch_stop_ = false;  // GUARDED_BY(watch_mu_)
  std::thread watcher_;
};

}  // namespace sessiond::deploy
