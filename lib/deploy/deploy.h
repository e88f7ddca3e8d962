// deploy: WAR archives — validation, safe unpacking, hashing — and farm deployment (DESIGN.md §5
// "Farm deploy"): a WAR given to any node is stored under the data dir by SHA-256, validated,
// unpacked into appBase/NAME, deployed in the running container, recorded in the SQLite app
// registry, and announced to every alive member, which pulls it in chunks, verifies the hash,
// deploys it and answers with its result. Undeploy goes the same way. A node that starts
// redeploys its registry's WARs (RestoreFromRegistry) and then converges to an alive member's app
// set (Converge) before it reports ready. With watchEnabled, WARs dropped into watchDir are
// farm-deployed once their size and mtime stay still for a while, and removing one undeploys it.
//
// Per-node deploy and skew (a rolling deploy, examples/rolling-deploy): DeployOnNode has exactly
// one node deploy a version — this node without announcing it, or one member, which pulls the
// WAR from this node while this node keeps serving what it served. Until every node has it, the
// cluster serves two versions on purpose, and GET /v1/apps (`sessctl apps`) shows the skew. The
// rules meanwhile: a node that restarts redeploys what its own registry holds
// (RestoreFromRegistry), then converges to the app set of the first member by name among those
// it sees alive then (Converge), as a late joiner does. A rolling deploy in name order therefore hands the new
// version to joiners once it has passed the first node, but a node restarted mid-roll may come
// back on the other version: the roll checks every node's version at its end, and a farm deploy
// (Deploy) ends any skew.
//
// Wire messages (transport types 0x03xx, format version 1; layouts in farm_codec.cc, each with a
// round-trip test and a fuzz target): kAnnounceType "deploy this WAR, pull it from me" (reply:
// the member's NodeResult once it serves it), kChunkType (sha, offset, length -> bytes),
// kUndeployType (name -> NodeResult), kAppsType (-> the member's farmed app set).
//
// Threads: the WAR free functions run on the caller's thread (never the event loop). FarmDeployer:
// Deploy/Undeploy/ClusterApps/RestoreFromRegistry/Converge block their caller (admin workers, the
// daemon's main thread) and are thread-safe; the transport handlers only decode and hand work to
// two named workers ("farm-deploy": pull, hash, unzip, deploy — FIFO; "farm-read": reading chunks
// for members), so no slow work runs on the loop thread. Local deploys are serialized.
// Ownership: borrows the loop, the transport, the database; they must outlive the FarmDeployer.
// Dependencies: deploy -> replication (Peer) / transport / store / base; never back.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/base.h"
#include "replication/replication.h"
#include "store/store.h"
#include "transport/transport.h"

namespace sessiond::deploy {

struct WarLimits {
  int64_t max_archive_bytes = 512LL << 20;    ///< the .war file itself
  int64_t max_unpacked_bytes = 2048LL << 20;  ///< sum of entry sizes (zip bombs)
  int64_t max_entries = 100000;
};

/// Checks every entry without writing anything: zip-slip ("../"), absolute paths, drive letters,
/// backslashes, NUL, symlink entries (unix mode), oversize, too many entries and broken archives
/// are kBadRequest naming the archive, the entry and the reason; over a size limit is kTooLarge.
Status ValidateWar(const std::string& war_path, const WarLimits& limits);

/// Validates, then unpacks into a fresh temporary folder beside `dest_dir` and renames it into
/// place (replacing an old `dest_dir` only once the new one is complete), so a failure leaves the
/// old app untouched. Nothing is ever written outside `dest_dir`.
Status UnpackWar(const std::string& war_path, const std::string& dest_dir, const WarLimits& limits);

/// Lower-case hex SHA-256 of a file's bytes.
Result<std::string> Sha256File(const std::string& path);

/// Where an unpacked folder records the SHA-256 of its WAR (META-INF is never served).
inline constexpr const char* kWarMarkerFile = "META-INF/.sessiond-war.sha256";
/// The hash recorded in `dir`'s marker, or "" when there is none.
std::string ReadWarMarker(const std::string& dir);
/// Unpacks `war_path` (whose hash is `sha256`) into `dest_dir` as UnpackWar does and writes the
/// marker — unless `dest_dir` already carries this hash, then nothing is touched.
Status UnpackWarMarked(const std::string& war_path, const std::string& sha256,
                       const std::string& dest_dir, const WarLimits& limits);

// ---- farm deployment ---------------------------------------------------------------------

inline constexpr uint16_t kAnnounceType = 0x0301;  ///< deploy name/sha/size, pulling from the sender
inline constexpr uint16_t kChunkType = 0x0302;     ///< sha, offset, length -> bytes of a stored WAR
inline constexpr uint16_t kUndeployType = 0x0303;  ///< name -> NodeResult
inline constexpr uint16_t kAppsType = 0x0304;      ///< -> the member's farmed apps

/// Bytes per chunk request: a 50 MB WAR is 13 round trips.
inline constexpr uint32_t kChunkBytes = 4u << 20;

/// One farmed app as a node holds it.
struct AppVersion {
  std::string name;          ///< context name: "myapp"; "ROOT" for "/"
  std::string sha256;        ///< lower-case hex
  uint64_t size = 0;         ///< WAR bytes
  int64_t deployed_ms = 0;
  friend bool operator==(const AppVersion&, const AppVersion&) = default;
};

/// kAnnounceType's body: deploy `app`; pull its bytes from the sender with kChunkType.
struct Announce {
  AppVersion app;
  std::string origin;  ///< the node the WAR was given to
  friend bool operator==(const Announce&, const Announce&) = default;
};
struct ChunkRequest {
  std::string sha256;
  uint64_t offset = 0;
  uint32_t length = 0;  ///< at most kChunkBytes
  friend bool operator==(const ChunkRequest&, const ChunkRequest&) = default;
};
struct ChunkReply {
  bool ok = true;
  std::string error;   ///< why not (no such WAR here)
  std::string bytes;   ///< fewer than asked only at the end of the file
  friend bool operator==(const ChunkReply&, const ChunkReply&) = default;
};
struct UndeployRequest {
  std::string name;
  std::string origin;
  friend bool operator==(const UndeployRequest&, const UndeployRequest&) = default;
};
/// What one node did with a deploy or an undeploy (also kAnnounceType/kUndeployType's reply).
struct NodeResult {
  std::string node;
  bool ok = false;
  std::string error;      ///< names the entry and the reason for a refused WAR
  std::string sha256;     ///< what the node serves now ("" after an undeploy)
  int64_t duration_ms = 0;
  friend bool operator==(const NodeResult&, const NodeResult&) = default;
};
using AppList = std::vector<AppVersion>;

std::string EncodeAnnounce(const Announce& m);
Result<Announce> DecodeAnnounce(std::string_view bytes);
std::string EncodeChunkRequest(const ChunkRequest& m);
Result<ChunkRequest> DecodeChunkRequest(std::string_view bytes);
std::string EncodeChunkReply(const ChunkReply& m);
Result<ChunkReply> DecodeChunkReply(std::string_view bytes);
std::string EncodeUndeployRequest(const UndeployRequest& m);
Result<UndeployRequest> DecodeUndeployRequest(std::string_view bytes);
std::string EncodeNodeResult(const NodeResult& m);
Result<NodeResult> DecodeNodeResult(std::string_view bytes);
std::string EncodeAppList(const AppList& m);
Result<AppList> DecodeAppList(std::string_view bytes);

/// kBadRequest unless `name` is "ROOT" or one path segment of [A-Za-z0-9._-] not starting with
/// "." (it becomes a folder name under appBase and the data dir).
Status ValidateAppName(std::string_view name);

/// The running container, as the daemon adapts it. Both are called on deploy workers and admin
/// threads: thread-safe.
struct AppHost {
  /// Serve the unpacked folder `dir` as app `app.name` (replacing the old version atomically:
  /// requests in flight finish on the old one).
  std::function<Status(const AppVersion& app, const std::string& dir)> deploy;
  std::function<Status(const std::string& name)> undeploy;
};

struct FarmOptions {
  std::string node_name;
  std::string data_dir;   ///< WARs in DATA/wars/<sha256>.war
  std::string app_base;   ///< unpacked into APPBASE/NAME
  WarLimits limits;
  std::string watch_dir;  ///< "" = no watching
  int64_t watch_interval_ms = 500;  ///< a dropped file is taken after 2 unchanged scans
  /// Alive members (not this node). Thread-safe.
  std::function<std::vector<replication::Peer>()> alive_peers;
  AppHost host;
  /// Appends to the node's event log (kind "deploy"). Thread-safe; may be empty.
  std::function<void(std::string message, std::map<std::string, std::string> fields)> record_event;
};

/// A deploy or undeploy across the cluster: this node first, then every member alive when it
/// began, by name. A member that did not answer within the wait has ok=false and error "no
/// answer within …" (or "pending" when the caller did not wait).
struct FarmReport {
  AppVersion app;
  std::vector<NodeResult> nodes;
  bool all_ok() const;
};

/// One member's farmed apps (sessctl apps' per-node columns).
struct MemberApps {
  std::string node;
  bool answered = false;
  AppList apps;
};

class FarmDeployer {
 public:
  /// Registers the kAnnounce/kChunk/kUndeploy/kApps handlers on `transport` (may be null: a node
  /// without a <Cluster> deploys locally only), creates DATA/wars, starts the workers and, when
  /// `watch_dir` is set, the watcher. `db` is required.
  static Result<std::unique_ptr<FarmDeployer>> Start(transport::EventLoop* loop,
                                                     transport::Transport* transport,
                                                     store::Database* db, FarmOptions options);
  ~FarmDeployer();

  /// Takes the WAR at `war_path` (moved into the store when `take_file`, else copied), deploys it
  /// here — a hostile or broken WAR is refused before anything is replaced (kBadRequest naming the
  /// entry and the reason) — records it, then announces it to every alive member and waits up to
  /// `wait_ms` for their results (0: does not wait; their rows say "pending"). `source`: "api",
  /// "watch". Errors only for this node's own failure.
  Result<FarmReport> Deploy(const std::string& name, const std::string& war_path, bool take_file,
                            const std::string& source, int64_t wait_ms);
  /// One node's deploy (sessctl deploy --node): `member` empty, this node deploys the WAR as
  /// Deploy does but announces it to nobody. `member` set: the WAR is validated (a hostile one is
  /// refused before anything is sent) and stored here by SHA-256 WITHOUT being deployed here,
  /// then announced to that member only, which pulls it, verifies the hash, deploys it and
  /// answers within `wait_ms` (0: its row says "pending"); the stored copy goes once the member
  /// answered, unless this node serves that version too. The report's nodes: the one row.
  Result<FarmReport> DeployOnNode(const std::string& name, const std::string& war_path,
                                  bool take_file, const std::string& source,
                                  const std::optional<replication::Peer>& member, int64_t wait_ms);
  /// Undeploys here (kNotFound when this node has no such farmed app) and on every alive member.
  Result<FarmReport> Undeploy(const std::string& name, int64_t wait_ms);
  /// This node's farmed apps (from the registry).
  AppList LocalApps() const;
  /// Every alive member's farmed apps (this node first), waiting at most `timeout_ms`.
  std::vector<MemberApps> ClusterApps(int64_t timeout_ms);
  /// Start-up: redeploys every app of the registry from its stored WAR (unpacking only when the
  /// folder does not carry the hash). Problems are returned per app, never fatal.
  std::vector<std::string> RestoreFromRegistry();
  /// Start-up, after membership found the others: takes the app set of the first alive member (by
  /// name), pulls and deploys what differs, undeploys farmed apps it no longer has. OK at once
  /// when no member is alive. Errors name the app and the member.
  Status Converge(int64_t timeout_ms);
  /// Stops the watcher and the workers (pending member work is dropped). Idempotent.
  void Stop();

  class Impl;

 private:
  explicit FarmDeployer(std::shared_ptr<Impl> impl);
  std::shared_ptr<Impl> impl_;  // shared with the transport's callbacks and the workers' jobs
};

}  // namespace sessiond::deploy
