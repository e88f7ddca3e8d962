// membership: who is in the cluster (Tomcat's McastService + TcpFailureDetector, DESIGN.md §5).
//
// Multicast heartbeats every `frequency` ms on the configured group, sent and joined on the
// interface of the receiver address (or `bind`): a node on 127.0.0.x never multicasts out of a
// real interface. Static members are probed over the transport instead. Heartbeats are
// authenticated with the cluster secret like frames; a heartbeat from another domain, another
// secret or a malformed one is dropped and counted.
//
// Failure detection: a member silent for dropTime is `suspect`, then probed with a PING request
// over the transport — a stopped (SIGSTOP) process cannot answer it, unlike Tomcat's TCP
// connect — and is `dead` when the probe fails. A refused or reset replication connection makes
// a member suspect at once (probe follows), so a kill -9 with an open connection is found in
// well under a second. A goodbye heartbeat makes it `left`. A member that comes back with a new
// start time (incarnation) is a new incarnation: alive again.
//
// Thread-safety: Membership runs on the EventLoop thread; Members()/Find() return snapshots and
// are thread-safe; change callbacks run on the loop thread.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/base.h"
#include "transport/transport.h"

namespace sessiond::membership {

enum class State : uint8_t { kAlive, kSuspect, kDead, kLeft };
enum class Mode : uint8_t { kActive, kDraining, kDrained };
std::string_view StateName(State s);   ///< "alive", "suspect", "dead", "left"
std::string_view ModeName(Mode m);     ///< "active", "draining", "drained"
std::optional<State> ParseState(std::string_view text);

inline constexpr uint16_t kProtocolVersion = 1;
/// The longest node name (jvmRoute) a heartbeat carries, in bytes.
inline constexpr size_t kMaxNameBytes = 128;
/// Transport message types: PING (reply body: the answering node's encoded heartbeat, so static
/// members learn each other's fields) and GOODBYE (body: the leaving node's goodbye heartbeat).
inline constexpr uint16_t kPingType = 0x0101;
inline constexpr uint16_t kGoodbyeType = 0x0102;

/// What a heartbeat carries (DESIGN.md §5).
struct Heartbeat {
  std::string name;            ///< jvmRoute
  std::string receiver_host;
  uint16_t receiver_port = 0;
  std::string admin_url;       ///< "http://127.0.0.1:8099"
  std::string domain;
  Mode mode = Mode::kActive;
  int64_t start_ms = 0;        ///< incarnation
  uint16_t protocol = kProtocolVersion;
  std::string build;           ///< sessiond version
  uint64_t sessions = 0;
  bool goodbye = false;        ///< the node is leaving
  uint64_t hlc = 0;            ///< sender's clock, merged by receivers; new in every heartbeat:
                               ///< one not newer than the last of its life is refused (replay)
  friend bool operator==(const Heartbeat&, const Heartbeat&) = default;
};
/// Versioned binary encoding (layout in heartbeat.cc), authenticated like transport frames.
std::string EncodeHeartbeat(const Heartbeat& hb, const transport::Secret& secret);
/// kUnauthorized on a bad MAC/checksum, kBadRequest when malformed. Never trusts a length.
Result<Heartbeat> DecodeHeartbeat(std::string_view bytes, const transport::Secret& secret);

struct Member {
  Heartbeat info;
  State state = State::kAlive;
  bool is_static = false;      ///< known through PINGs (static members), not multicast
  int64_t last_seen_ms = 0;    ///< wall time of the last heartbeat or successful probe
  int64_t state_since_ms = 0;  ///< wall time of the last state change
  int64_t heartbeat_lag_ms = 0;  ///< the gap between its last two heartbeats (or probe replies)
  transport::PeerAddress address() const { return {info.receiver_host, info.receiver_port}; }
};

struct MembershipOptions {
  bool multicast = true;
  std::string group = "228.0.0.4";
  uint16_t port = 45564;
  int64_t frequency_ms = 500;
  int64_t drop_time_ms = 3000;
  /// The interface address multicast joins and sends on (IP_ADD_MEMBERSHIP, IP_MULTICAST_IF).
  /// The daemon passes the receiver address here when the config's `bind` is empty; when it is
  /// still empty, Start uses self().receiver_host, and refuses (kBadRequest) an empty or
  /// unspecified one — multicast is never left to the routing table. A 127.0.0.x address keeps
  /// every heartbeat on the loopback device.
  std::string bind;
  int ttl = 1;
  std::string domain;
  std::vector<transport::PeerAddress> static_members;
  /// How long a PING probe may take. A suspect is dead at most drop_time + the tick (≤100 ms) +
  /// probe_timeout after its last heartbeat, so the default keeps SIGSTOP detection under
  /// drop_time + 1 s.
  int64_t probe_timeout_ms = 500;
  transport::Secret secret;
  /// Called on the loop thread with the sender's hybrid logical clock of every accepted
  /// heartbeat (multicast or PING), so replication can merge it. May be empty.
  std::function<void(uint64_t hlc)> observe_clock;
};

struct MembershipStats {
  uint64_t heartbeats_sent = 0, heartbeats_received = 0, heartbeats_rejected = 0;
  uint64_t heartbeats_replayed = 0;  ///< authentic but not newer than the last of its life
  uint64_t send_failures = 0;        ///< multicast datagrams the kernel refused
  uint64_t probes_sent = 0, probes_failed = 0;
  int64_t max_heartbeat_lag_ms = 0;  ///< the largest gap between heartbeats of alive members
};

class Membership {
 public:
  /// Joins the group (kUnavailable naming group:port and interface when it cannot) and starts
  /// heartbeating. `self` is called on the loop thread before each heartbeat to fill the local
  /// fields (sessions, mode); Membership sets domain, goodbye and keeps the first start_ms
  /// (WallMillis() when 0); an empty receiver_host/port default to the interface address and
  /// transport->port(). kBadRequest when the name is empty or over kMaxNameBytes.
  /// Registers the PING and GOODBYE handlers and the OnPeerFailure callback on `transport`
  /// (membership owns that callback). `loop` and `transport` must outlive the Membership.
  static Result<std::unique_ptr<Membership>> Start(transport::EventLoop* loop,
                                                   transport::Transport* transport,
                                                   MembershipOptions options,
                                                   std::function<Heartbeat()> self);
  ~Membership();

  /// Every member ever seen (not this node), sorted by name. Thread-safe snapshot.
  std::vector<Member> Members() const;
  std::optional<Member> Find(std::string_view name) const;
  /// Called on the loop thread whenever a member's state or mode changes (or it appears), with
  /// the state before (empty when it appeared). Registration is thread-safe; members already
  /// known when it is registered are replayed to it at once as appeared, so none is missed.
  void OnChange(std::function<void(const Member& member, std::optional<State> before)> callback);
  /// Sends goodbye heartbeats (SIGTERM) so members mark this node `left` at once: three goodbye
  /// datagrams back to back, and a GOODBYE message to every static member; heartbeating
  /// stops and PING replies say goodbye from then on. Off the loop thread it waits (up to
  /// probe_timeout_ms) until the GOODBYE messages are written.
  void Leave();
  MembershipStats stats() const;

  class Impl;

 private:
  explicit Membership(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace sessiond::membership
