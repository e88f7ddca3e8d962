// FarmDeployer (deploy.h): local deploys, the announce/pull protocol with the members, the
// start-up restore and convergence. The watchDir scanner is in farm_watch.cc.
#include <algorithm>
#include <condition_variable>
#include <filesystem>
#include <future>
#include <mutex>
#include <set>
#include <thread>

#include "deploy/farm_impl.h"

namespace sessiond::deploy {
namespace fs = std::filesystem;
using transport::Message;

namespace {

/// How long a member may take to pull, unpack and deploy a WAR before the origin stops waiting
/// for its answer (a caller that waits less stops waiting earlier).
constexpr int64_t kMemberAnswerMs = 10 * 60 * 1000;
/// How long Converge keeps asking a member that has no farm handler yet (it is starting too).
constexpr int64_t kStartingMemberMs = 5000;
/// Undeploy waits at least this long for the members (see Undeploy).
constexpr int64_t kUndeployMinWaitMs = 5000;
/// One chunk round trip; a frozen origin fails the pull after this.
constexpr int64_t kChunkTimeoutMs = 30000;

std::string Short(const std::string& sha) { return sha.substr(0, 12); }

std::vector<replication::Peer> SortedPeers(const FarmOptions& o) {
  std::vector<replication::Peer> peers = o.alive_peers ? o.alive_peers() : std::vector<replication::Peer>{};
  std::sort(peers.begin(), peers.end(),
            [](const replication::Peer& a, const replication::Peer& b) { return a.name < b.name; });
  return peers;
}

/// Sends a request and blocks the calling (non-loop) thread for the reply.
Result<Message> RequestAndWait(transport::Transport* t, const transport::PeerAddress& to,
                               Message m, int64_t timeout_ms) {
  auto promise = std::make_shared<std::promise<Result<Message>>>();
  std::future<Result<Message>> answer = promise->get_future();
  t->Request(to, std::move(m), timeout_ms, [promise](Result<Message> r) { promise->set_value(std::move(r)); });
  return answer.get();  // the transport always completes: reply, error or timeout
}

/// The WAR checks name the file ("x.upload-1a2b: entry ../a: …"); an upload's spool file means
/// nothing to the operator, so the error names the app's WAR instead ("shop.war: entry …").
Status RelabelWarError(const Status& s, const std::string& war_path, const std::string& name) {
  std::string prefix = fs::path(war_path).filename().string() + ": ";
  std::string message = s.message();
  if (message.rfind(prefix, 0) == 0) message.erase(0, prefix.size());
  return Status(s.code(), name + ".war: " + message);
}

}  // namespace

bool FarmReport::all_ok() const {
  return std::all_of(nodes.begin(), nodes.end(), [](const NodeResult& n) { return n.ok; });
}

FarmDeployer::Impl::Impl(transport::EventLoop* l, transport::Transport* t, store::Database* d,
                         FarmOptions o)
    : loop(l), transport(t), db(d), options(std::move(o)), wars(options.data_dir + "/wars") {}

FarmDeployer::Impl::~Impl() { Stop(); }

void FarmDeployer::Impl::Stop() {
  StopWatcher();
  deploy_worker.Stop();
  read_worker.Stop();
}

void FarmDeployer::Impl::Event(const std::string& message, std::map<std::string, std::string> fields) {
  if (options.record_event) options.record_event(message, std::move(fields));
}

std::string FarmDeployer::Impl::FolderOf(const AppVersion& app) const {
  return (fs::path(options.app_base) / ".farm" / (app.name + "@" + app.sha256.substr(0, 16))).string();
}

/// Keeps the folders of `keep` (the version now served and the one it replaced, whose requests
/// may still be in flight) and removes the app's other unpacked versions.
void FarmDeployer::Impl::PruneFolders(const std::string& name, const std::set<std::string>& keep) {
  std::error_code ec;
  fs::path farm = fs::path(options.app_base) / ".farm";
  for (const auto& entry : fs::directory_iterator(farm, ec)) {
    std::string dir = entry.path().filename().string();
    if (dir.rfind(name + "@", 0) != 0 || keep.count(entry.path().string())) continue;
    fs::remove_all(entry.path(), ec);
  }
}

Status FarmDeployer::Impl::DeployLocal(const AppVersion& app, const std::string& source) {
  std::lock_guard lock(local_mu);
  std::string dir = FolderOf(app);
  std::error_code ec;
  fs::create_directories(fs::path(dir).parent_path(), ec);
  SESSIOND_RETURN_IF_ERROR(UnpackWarMarked(wars.PathOf(app.sha256), app.sha256, dir, options.limits));
  if (!options.host.deploy) return Status::Internal("no container to deploy into");
  SESSIOND_RETURN_IF_ERROR(options.host.deploy(app, dir));
  Result<store::AppRecord> before = db->GetApp(app.name);
  store::AppRecord record{app.name, dir, app.sha256, static_cast<int64_t>(app.size), app.deployed_ms, source};
  SESSIOND_RETURN_IF_ERROR(db->UpsertApp(record));
  std::set<std::string> keep = {dir};
  if (before.ok()) {
    keep.insert(before->path);
    if (before->sha256 != app.sha256) RemoveIfUnused(before->sha256);
  }
  PruneFolders(app.name, keep);
  return Status::Ok();
}

bool FarmDeployer::Impl::StillReferenced(const std::string& sha256) {
  Result<std::vector<store::AppRecord>> all = db->ListApps();
  if (!all.ok()) return true;  // when in doubt, keep the file
  return std::any_of(all->begin(), all->end(),
                     [&](const store::AppRecord& r) { return r.sha256 == sha256; });
}

Result<AppVersion> FarmDeployer::Impl::StoreValidated(const std::string& name,
                                                      const std::string& war_path, bool take_file) {
  Status valid = ValidateWar(war_path, options.limits);
  if (!valid.ok()) return RelabelWarError(valid, war_path, name);
  std::lock_guard lock(held_mu_);
  Result<AppVersion> stored = wars.Put(war_path, take_file);
  if (!stored.ok()) return stored.status();
  held_.insert(stored->sha256);
  AppVersion app = *stored;
  app.name = name;
  app.deployed_ms = WallMillis();
  return app;
}

void FarmDeployer::Impl::HoldWar(const std::string& sha256) {
  std::lock_guard lock(held_mu_);
  held_.insert(sha256);
}

void FarmDeployer::Impl::ReleaseWar(const std::string& sha256) {
  {
    std::lock_guard lock(held_mu_);
    auto it = held_.find(sha256);
    if (it != held_.end()) held_.erase(it);
  }
  RemoveIfUnused(sha256);
}

void FarmDeployer::Impl::RemoveIfUnused(const std::string& sha256) {
  std::lock_guard lock(held_mu_);
  if (held_.count(sha256) == 0 && !StillReferenced(sha256)) wars.Remove(sha256);
}

Result<std::string> FarmDeployer::Impl::UndeployLocal(const std::string& name) {
  std::lock_guard lock(local_mu);
  Result<store::AppRecord> record = db->GetApp(name);
  if (!record.ok()) return std::string();  // nothing farmed here under that name
  if (options.host.undeploy) {
    Status s = options.host.undeploy(name);
    if (!s.ok() && s.code() != Code::kNotFound) return s;
  }
  SESSIOND_RETURN_IF_ERROR(db->DeleteApp(name));
  PruneFolders(name, {});
  RemoveIfUnused(record->sha256);
  return record->sha256;
}

AppList FarmDeployer::Impl::LocalApps() const {
  AppList out;
  Result<std::vector<store::AppRecord>> all = db->ListApps();
  if (!all.ok()) return out;
  for (const store::AppRecord& r : *all) {
    out.push_back({r.name, r.sha256, static_cast<uint64_t>(r.size), r.deployed_ms});
  }
  return out;
}

// ---- the origin's side ---------------------------------------------------------------------

Result<FarmReport> FarmDeployer::Impl::Deploy(const std::string& name, const std::string& war_path,
                                              bool take_file, const std::string& source,
                                              int64_t wait_ms) {
  Result<FarmReport> report = DeployHere(name, war_path, take_file, source, "");
  if (!report.ok()) return report;
  Broadcast(kAnnounceType, EncodeAnnounce({report->app, options.node_name}), name, wait_ms, &*report);
  return report;
}

Result<FarmReport> FarmDeployer::Impl::DeployHere(const std::string& name, const std::string& war_path,
                                                  bool take_file, const std::string& source,
                                                  const std::string& scope) {
  SESSIOND_RETURN_IF_ERROR(ValidateAppName(name));
  int64_t start = MonotonicMillis();
  Result<AppVersion> stored = StoreValidated(name, war_path, take_file);
  if (!stored.ok()) return stored.status();
  FarmReport report;
  report.app = *stored;
  Status local = DeployLocal(report.app, source);
  ReleaseWar(report.app.sha256);  // kept by its registry row when the deploy went through
  if (!local.ok()) {
    Event("deploy of " + name + " refused: " + local.message(), {{"app", name}, {"source", source}});
    return local.Annotate(name);
  }
  report.nodes.push_back({options.node_name, true, "", report.app.sha256, MonotonicMillis() - start});
  Event("deployed " + name + " (" + Short(report.app.sha256) + ", " + std::to_string(report.app.size) +
            " bytes) from " + source + scope,
        {{"app", name}, {"sha256", report.app.sha256}, {"source", source}});
  return report;
}

Result<FarmReport> FarmDeployer::Impl::DeployOnNode(const std::string& name, const std::string& war_path,
                                                    bool take_file, const std::string& source,
                                                    const std::optional<replication::Peer>& member,
                                                    int64_t wait_ms) {
  if (!member) return DeployHere(name, war_path, take_file, source, ", on this node only");
  if (!transport) return Status::Internal("a per-node deploy to a member needs the cluster transport");
  SESSIOND_RETURN_IF_ERROR(ValidateAppName(name));
  // Validated and stored here (held: the member pulls it from here), not deployed here.
  Result<AppVersion> stored = StoreValidated(name, war_path, take_file);
  if (!stored.ok()) return stored.status();
  FarmReport report;
  report.app = *stored;
  Event("sending " + name + " (" + Short(report.app.sha256) + ") to " + member->name +
            " only (a per-node deploy; this node keeps its version)",
        {{"app", name}, {"sha256", report.app.sha256}, {"node", member->name}, {"source", source}});
  std::weak_ptr<Impl> weak = weak_from_this();
  std::string sha = report.app.sha256;
  Ask({*member}, kAnnounceType, EncodeAnnounce({report.app, options.node_name}), name, wait_ms, &report,
      [weak, sha] {
        if (auto self = weak.lock()) self->ReleaseWar(sha);
      });
  return report;
}

Result<FarmReport> FarmDeployer::Impl::Undeploy(const std::string& name, int64_t wait_ms) {
  SESSIOND_RETURN_IF_ERROR(ValidateAppName(name));
  int64_t start = MonotonicMillis();
  Result<std::string> removed = UndeployLocal(name);
  if (!removed.ok()) return removed.status().Annotate(name);
  FarmReport report;
  report.app.name = name;
  report.app.sha256 = *removed;
  report.nodes.push_back({options.node_name, true, "", *removed, MonotonicMillis() - start});
  // An undeploy takes milliseconds: waiting a little even when the caller does not lets the
  // answer say whether any node had the app at all.
  Broadcast(kUndeployType, EncodeUndeployRequest({name, options.node_name}), name,
            std::max(wait_ms, kUndeployMinWaitMs), &report);
  bool anywhere = std::any_of(report.nodes.begin(), report.nodes.end(),
                              [](const NodeResult& n) { return !n.sha256.empty() || !n.ok; });
  if (!anywhere) return Status::NotFound("no node has a farm-deployed app named " + name);
  Event("undeployed " + name + " from the cluster", {{"app", name}});
  return report;
}

/// Sends `body` to every alive member and waits up to `wait_ms` for their NodeResults, which
/// are appended to `report` by member name. Answers that come after the wait go to the event log.
void FarmDeployer::Impl::Broadcast(uint16_t type, std::string body, const std::string& app,
                                   int64_t wait_ms, FarmReport* report) {
  std::vector<replication::Peer> peers = transport ? SortedPeers(options) : std::vector<replication::Peer>{};
  Ask(peers, type, std::move(body), app, wait_ms, report, nullptr);
}

void FarmDeployer::Impl::Ask(const std::vector<replication::Peer>& peers, uint16_t type, std::string body,
                             const std::string& app, int64_t wait_ms, FarmReport* report,
                             std::function<void()> after) {
  struct Answers {
    std::mutex mu;
    std::condition_variable cv;
    std::vector<std::optional<NodeResult>> rows;  // GUARDED_BY(mu)
    size_t pending = 0;                           // GUARDED_BY(mu)
    bool abandoned = false;                       // GUARDED_BY(mu): the caller stopped waiting
  };
  auto answers = std::make_shared<Answers>();
  answers->rows.resize(peers.size());
  answers->pending = peers.size();
  std::weak_ptr<Impl> weak = weak_from_this();
  if (peers.empty() && after) read_worker.Post(after);
  for (size_t i = 0; i < peers.size(); ++i) {
    std::string node = peers[i].name;
    transport->Request(peers[i].address, Message{type, body}, kMemberAnswerMs,
                       [answers, i, node, app, weak, after](Result<Message> r) {
                         NodeResult row{node, false, "", "", 0};
                         Result<NodeResult> decoded =
                             r.ok() ? DecodeNodeResult(r->body) : Result<NodeResult>(r.status());
                         if (decoded.ok()) row = *decoded;
                         else row.error = decoded.status().message();
                         row.node = node;
                         std::lock_guard lock(answers->mu);
                         answers->rows[i] = row;
                         --answers->pending;
                         answers->cv.notify_all();
                         auto self = weak.lock();
                         if (!self) return;
                         // On the loop thread: what touches SQLite or files goes to a worker.
                         if (answers->pending == 0 && after) self->read_worker.Post(after);
                         if (answers->abandoned) self->RecordLateAnswer(app, row);
                       });
  }
  std::unique_lock lock(answers->mu);
  answers->cv.wait_for(lock, std::chrono::milliseconds(std::max<int64_t>(0, wait_ms)),
                       [&] { return answers->pending == 0; });
  answers->abandoned = true;
  for (size_t i = 0; i < peers.size(); ++i) {
    if (answers->rows[i]) {
      report->nodes.push_back(*answers->rows[i]);
      continue;
    }
    std::string why = wait_ms > 0 ? "no answer within " + FormatDurationMillis(wait_ms) : "pending";
    report->nodes.push_back({peers[i].name, false, why, "", 0});
  }
}

/// A member answered after the caller stopped waiting: its result goes to the event log (on a
/// worker: this runs on the loop thread, and the log is SQLite).
void FarmDeployer::Impl::RecordLateAnswer(const std::string& app, const NodeResult& row) {
  read_worker.Post([this, app, row] {
    std::string what = row.ok ? "done" : "failed: " + row.error;
    Event(app + " on " + row.node + ": " + what, {{"app", app}, {"node", row.node}});
  });
}

// ---- the member's side ---------------------------------------------------------------------

void FarmDeployer::Impl::RegisterHandlers() {
  if (!transport) return;
  std::weak_ptr<Impl> weak = weak_from_this();
  using Reply = transport::Transport::Reply;
  transport->Handle(kAnnounceType, [weak](const transport::Sender& from, Message m, Reply reply) {
    if (auto self = weak.lock()) self->OnAnnounce(from, std::move(m), std::move(reply));
  });
  transport->Handle(kUndeployType, [weak](const transport::Sender&, Message m, Reply reply) {
    if (auto self = weak.lock()) self->OnUndeploy(std::move(m), std::move(reply));
  });
  transport->Handle(kChunkType, [weak](const transport::Sender&, Message m, Reply reply) {
    if (auto self = weak.lock()) self->OnChunk(std::move(m), std::move(reply));
  });
  transport->Handle(kAppsType, [weak](const transport::Sender&, Message, Reply reply) {
    auto self = weak.lock();
    if (!self) return;
    self->read_worker.Post([self, reply] {
      self->ReplyOnLoop(reply, Message{kAppsType, EncodeAppList(self->LocalApps())});
    });
  });
}

/// Replies are sent from the loop thread (transport.h): workers hand them back.
void FarmDeployer::Impl::ReplyOnLoop(const transport::Transport::Reply& reply, Message m) {
  loop->Post([reply, m = std::move(m)]() mutable { reply(std::move(m)); });
}

void FarmDeployer::Impl::OnAnnounce(const transport::Sender& from, Message m,
                                    transport::Transport::Reply reply) {
  Result<Announce> announce = DecodeAnnounce(m.body);
  std::optional<transport::PeerAddress> origin;
  for (const replication::Peer& p : SortedPeers(options))
    if (announce.ok() && p.name == from.node) origin = p.address;
  if (!announce.ok() || !origin) {
    std::string why = announce.ok() ? from.node + " is not an alive member" : announce.status().message();
    reply(Message{kAnnounceType, EncodeNodeResult({options.node_name, false, why, "", 0})});
    return;
  }
  deploy_worker.Post([self = shared_from_this(), a = *announce, at = *origin, reply] {
    NodeResult r = self->PullAndDeploy(a.app, at, "farm:" + a.origin);
    self->ReplyOnLoop(reply, Message{kAnnounceType, EncodeNodeResult(r)});
  });
}

void FarmDeployer::Impl::OnUndeploy(Message m, transport::Transport::Reply reply) {
  Result<UndeployRequest> req = DecodeUndeployRequest(m.body);
  if (!req.ok()) {
    reply(Message{kUndeployType, EncodeNodeResult({options.node_name, false, req.status().message(), "", 0})});
    return;
  }
  deploy_worker.Post([self = shared_from_this(), r = *req, reply] {
    int64_t start = MonotonicMillis();
    Result<std::string> removed = self->UndeployLocal(r.name);
    NodeResult out{self->options.node_name, removed.ok(), removed.ok() ? "" : removed.status().message(),
                   removed.ok() ? *removed : "", MonotonicMillis() - start};
    if (removed.ok() && !removed->empty())
      self->Event("undeployed " + r.name + " (asked by " + r.origin + ")", {{"app", r.name}});
    self->ReplyOnLoop(reply, Message{kUndeployType, EncodeNodeResult(out)});
  });
}

void FarmDeployer::Impl::OnChunk(Message m, transport::Transport::Reply reply) {
  Result<ChunkRequest> req = DecodeChunkRequest(m.body);
  if (!req.ok()) {
    reply(Message{kChunkType, EncodeChunkReply({false, req.status().message(), ""})});
    return;
  }
  read_worker.Post([self = shared_from_this(), r = *req, reply] {
    Result<std::string> bytes = self->wars.Read(r.sha256, r.offset, r.length);
    ChunkReply out = bytes.ok() ? ChunkReply{true, "", std::move(*bytes)}
                                : ChunkReply{false, bytes.status().message() + " on " + self->options.node_name, ""};
    self->ReplyOnLoop(reply, Message{kChunkType, EncodeChunkReply(out)});
  });
}

/// Pulls `sha256` (`size` bytes) from `from` into the store, chunk by chunk, and verifies it.
Status FarmDeployer::Impl::Pull(const AppVersion& app, const transport::PeerAddress& from) {
  if (wars.Has(app.sha256, app.size)) return Status::Ok();
  Result<std::string> tmp = wars.NewTemp();
  if (!tmp.ok()) return tmp.status();
  std::FILE* out = std::fopen(tmp->c_str(), "wb");
  if (!out) return Status::Internal("cannot write " + *tmp);
  Status s;
  for (uint64_t offset = 0; offset < app.size && s.ok();) {
    uint32_t want = static_cast<uint32_t>(std::min<uint64_t>(kChunkBytes, app.size - offset));
    Result<Message> r = RequestAndWait(transport, from,
                                       Message{kChunkType, EncodeChunkRequest({app.sha256, offset, want})},
                                       kChunkTimeoutMs);
    Result<ChunkReply> chunk = r.ok() ? DecodeChunkReply(r->body) : Result<ChunkReply>(r.status());
    if (!chunk.ok()) s = chunk.status();
    else if (!chunk->ok) s = Status::Unavailable(chunk->error);
    else if (chunk->bytes.empty()) s = Status::BadRequest("WAR ended at byte " + std::to_string(offset));
    else if (std::fwrite(chunk->bytes.data(), 1, chunk->bytes.size(), out) != chunk->bytes.size())
      s = Status::Internal("cannot write " + *tmp);
    if (s.ok()) offset += chunk->bytes.size();
  }
  if (std::fclose(out) != 0 && s.ok()) s = Status::Internal("cannot write " + *tmp);
  if (!s.ok()) {
    std::error_code ec;
    fs::remove(*tmp, ec);
    return s.Annotate("pulling " + Short(app.sha256) + " from " + from.ToString());
  }
  return wars.Publish(*tmp, app.sha256);
}

NodeResult FarmDeployer::Impl::PullAndDeploy(const AppVersion& app, const transport::PeerAddress& from,
                                             const std::string& source) {
  int64_t start = MonotonicMillis();
  HoldWar(app.sha256);  // from the pull to its registry row
  Status s = Pull(app, from);
  if (s.ok()) s = DeployLocal(app, source);
  ReleaseWar(app.sha256);
  NodeResult r{options.node_name, s.ok(), s.ok() ? "" : s.message(), s.ok() ? app.sha256 : "",
               MonotonicMillis() - start};
  if (s.ok()) {
    Event("deployed " + app.name + " (" + Short(app.sha256) + ") from " + source,
          {{"app", app.name}, {"sha256", app.sha256}, {"source", source}});
  } else {
    Event("deploy of " + app.name + " failed: " + s.message(), {{"app", app.name}, {"source", source}});
  }
  return r;
}

// ---- start-up ------------------------------------------------------------------------------

std::vector<std::string> FarmDeployer::Impl::RestoreFromRegistry() {
  std::vector<std::string> problems;
  for (const AppVersion& app : LocalApps()) {
    Status s = wars.Has(app.sha256, app.size)
                   ? DeployLocal(app, "restart")
                   : Status::NotFound("stored WAR " + wars.PathOf(app.sha256) + " is missing");
    if (!s.ok()) problems.push_back(app.name + ": " + s.message());
  }
  return problems;
}

Status FarmDeployer::Impl::Converge(int64_t timeout_ms) {
  if (!transport) return Status::Ok();
  for (const replication::Peer& peer : SortedPeers(options)) {
    Result<Message> r = AskAppList(peer, timeout_ms);
    Result<AppList> theirs = r.ok() ? DecodeAppList(r->body) : Result<AppList>(r.status());
    if (!theirs.ok()) continue;  // the next member may answer
    return ConvergeWith(peer, *theirs);
  }
  return Status::Ok();  // nobody alive answered: nothing to converge to
}

/// A member that is starting too may not have registered its farm handlers yet ("no handler",
/// kNotFound): ask again for a moment rather than take it for a member without apps.
Result<Message> FarmDeployer::Impl::AskAppList(const replication::Peer& peer, int64_t timeout_ms) {
  int64_t deadline = MonotonicMillis() + std::min<int64_t>(timeout_ms, kStartingMemberMs);
  while (true) {
    Result<Message> r = RequestAndWait(transport, peer.address, Message{kAppsType, ""}, timeout_ms);
    if (r.ok() || r.status().code() != Code::kNotFound || MonotonicMillis() > deadline) return r;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

Status FarmDeployer::Impl::ConvergeWith(const replication::Peer& peer, const AppList& theirs) {
  AppList mine = LocalApps();
  std::vector<std::string> problems;
  for (const AppVersion& app : theirs) {
    bool same = std::any_of(mine.begin(), mine.end(), [&](const AppVersion& m) {
      return m.name == app.name && m.sha256 == app.sha256;
    });
    if (same) continue;
    NodeResult r = PullAndDeploy(app, peer.address, "join:" + peer.name);
    if (!r.ok) problems.push_back(app.name + " from " + peer.name + ": " + r.error);
  }
  for (const AppVersion& app : mine) {
    bool kept = std::any_of(theirs.begin(), theirs.end(), [&](const AppVersion& t) { return t.name == app.name; });
    if (kept) continue;
    Result<std::string> removed = UndeployLocal(app.name);
    if (removed.ok()) Event("undeployed " + app.name + ": " + peer.name + " no longer has it", {{"app", app.name}});
    else problems.push_back(app.name + ": " + removed.status().message());
  }
  if (problems.empty()) return Status::Ok();
  std::string joined;
  for (const std::string& p : problems) joined += (joined.empty() ? "" : "; ") + p;
  return Status::Unavailable("app convergence: " + joined);
}

std::vector<MemberApps> FarmDeployer::Impl::ClusterApps(int64_t timeout_ms) {
  std::vector<MemberApps> out;
  out.push_back({options.node_name, true, LocalApps()});
  if (!transport || loop->InLoop()) return out;
  std::vector<replication::Peer> peers = SortedPeers(options);
  std::vector<std::future<Result<Message>>> answers;
  for (const replication::Peer& p : peers) {
    auto promise = std::make_shared<std::promise<Result<Message>>>();
    answers.push_back(promise->get_future());
    transport->Request(p.address, Message{kAppsType, ""}, std::max<int64_t>(1, timeout_ms),
                       [promise](Result<Message> r) { promise->set_value(std::move(r)); });
  }
  for (size_t i = 0; i < peers.size(); ++i) {
    Result<Message> r = answers[i].get();
    Result<AppList> list = r.ok() ? DecodeAppList(r->body) : Result<AppList>(r.status());
    out.push_back({peers[i].name, list.ok(), list.ok() ? *list : AppList{}});
  }
  return out;
}

// ---- public face -----------------------------------------------------------------------------

Result<std::unique_ptr<FarmDeployer>> FarmDeployer::Start(transport::EventLoop* loop,
                                                          transport::Transport* transport,
                                                          store::Database* db, FarmOptions options) {
  if (!db) return Status::Internal("FarmDeployer::Start: no database");
  if (transport && !loop) return Status::Internal("FarmDeployer::Start: a transport without its loop");
  auto impl = std::make_shared<Impl>(loop, transport, db, std::move(options));
  SESSIOND_RETURN_IF_ERROR(impl->wars.Init());
  impl->RegisterHandlers();
  SESSIOND_RETURN_IF_ERROR(impl->StartWatcher());
  return std::unique_ptr<FarmDeployer>(new FarmDeployer(std::move(impl)));
}

FarmDeployer::FarmDeployer(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}
FarmDeployer::~FarmDeployer() { Stop(); }

Result<FarmReport> FarmDeployer::Deploy(const std::string& name, const std::string& war_path,
                                        bool take_file, const std::string& source, int64_t wait_ms) {
  return impl_->Deploy(name, war_path, take_file, source, wait_ms);
}
Result<FarmReport> FarmDeployer::DeployOnNode(const std::string& name, const std::string& war_path,
                                              bool take_file, const std::string& source,
                                              const std::optional<replication::Peer>& member,
                                              int64_t wait_ms) {
  return impl_->DeployOnNode(name, war_path, take_file, source, member, wait_ms);
}
Result<FarmReport> FarmDeployer::Undeploy(const std::string& name, int64_t wait_ms) {
  return impl_->Undeploy(name, wait_ms);
}
AppList FarmDeployer::LocalApps() const { return impl_->LocalApps(); }
std::vector<MemberApps> FarmDeployer::ClusterApps(int64_t timeout_ms) {
  return impl_->ClusterApps(timeout_ms);
}
std::vector<std::string> FarmDeployer::RestoreFromRegistry() { return impl_->RestoreFromRegistry(); }
Status FarmDeployer::Converge(int64_t timeout_ms) { return impl_->Converge(timeout_ms); }
void FarmDeployer::Stop() { impl_->Stop(); }

}  // namespace sessiond::deploy
