// membership internals: the failure-detection state machine (a plain class driven by explicit
// time and events, so tests run it with a fake clock and no sockets) and the multicast channel.
// Not a public header.
//
// Thread-safety: MemberTable is not synchronised (Membership guards it with its mutex);
// McastChannel is loop thread only.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "membership/membership.h"

namespace sessiond::transport {
class EventLoop;
}

namespace sessiond::membership {

/// Both clocks at one instant: monotonic for silence and lag, wall for what operators see.
struct Clock {
  int64_t mono_ms = 0;
  int64_t wall_ms = 0;
};

/// A member whose state or mode changed (or that appeared: before is empty).
struct Change {
  Member member;
  std::optional<State> before;
};

/// "Probe this member now": send a PING request and report the outcome (Heartbeat() with the
/// reply, or ProbeFailed() with this id).
struct Probe {
  uint64_t id = 0;
  std::string name;
  transport::PeerAddress address;
};

/// What an event asks of the caller: callbacks to fire and probes to send.
struct Effects {
  std::vector<Change> changes;
  std::vector<Probe> probes;
  /// A member appeared, restarted or came back: answer with our heartbeat now rather than at the
  /// next `frequency` tick, so a joining node learns the cluster in one round trip (and pulls
  /// the state from it) however long `frequency` is.
  bool greet = false;
  /// The heartbeat was a duplicate or a replay (not newer than the last of its life): ignored.
  bool stale = false;
  void Append(Effects other);
};

/// Members by name and their states. The rules (DESIGN.md §5):
///   alive   --silent for drop_time--------------------------> suspect (+ probe)
///   alive   --PeerFailure on its address--------------------> suspect (+ probe)
///   suspect --heartbeat or probe reply (same incarnation)---> alive
///   suspect --probe failed (refused, reset, timeout)--------> dead
///   suspect --no probe outcome for probe_deadline_ms--------> dead (a lost callback is no reply)
///   dead    --heartbeat, same incarnation (SIGCONT)---------> alive
///   any     --goodbye-----------------------------------------> left
///   any     --heartbeat with a newer start_ms (restart)------> alive, a new incarnation
/// A left member ignores further heartbeats of the same incarnation (a reordered datagram
/// must not resurrect it); heartbeats of an older incarnation are always ignored.
class MemberTable {
 public:
  MemberTable(int64_t drop_time_ms, int64_t probe_deadline_ms)
      : drop_time_ms_(drop_time_ms), probe_deadline_ms_(probe_deadline_ms) {}

  /// A heartbeat (multicast, PING reply or goodbye) from `hb.name`.
  Effects OnHeartbeat(const Heartbeat& hb, bool is_static, Clock now);
  /// The transport saw a refused or reset connection to `address`.
  Effects OnPeerFailure(const transport::PeerAddress& address, Clock now);
  /// The probe `probe_id` of member `name` got no answer.
  Effects OnProbeFailed(const std::string& name, uint64_t probe_id, Clock now);
  /// Periodic: finds members silent for drop_time and suspects whose probe never resolved.
  Effects Tick(Clock now);

  /// Every member ever seen, sorted by name.
  std::vector<Member> Members() const;
  std::optional<Member> Find(const std::string& name) const;
  /// The largest gap seen between two heartbeats of an alive member.
  int64_t max_lag_ms() const { return max_lag_ms_; }

 private:
  struct Entry {
    Member member;
    int64_t heard_mono_ms = 0;     // last heartbeat or probe reply
    int64_t suspect_mono_ms = 0;   // when it became suspect
    uint64_t probe_id = 0;         // the probe whose failure counts; 0 = none outstanding
  };
  Effects SetState(Entry& e, State state, Clock now, std::optional<State> before);
  Effects Suspect(Entry& e, Clock now);
  Effects NewIncarnation(Entry& e, const Heartbeat& hb, Clock now);

  int64_t drop_time_ms_;
  int64_t probe_deadline_ms_;
  uint64_t next_probe_id_ = 1;
  int64_t max_lag_ms_ = 0;
  std::map<std::string, Entry> entries_;
};

/// The multicast UDP socket on the loop's io_context: joined on one interface, sending on it,
/// looping back to other nodes on this host. Asio stays in multicast.cc.
class McastChannel {
 public:
  struct Options {
    std::string group;
    uint16_t port = 0;
    std::string interface;  ///< an IPv4 address; never empty (Membership resolves it)
    int ttl = 1;
  };
  /// Opens, binds the group port (SO_REUSEADDR), joins, sets IP_MULTICAST_IF/TTL/LOOP and starts
  /// receiving; every datagram goes to `on_datagram` on the loop thread. Loop thread only.
  static Result<std::unique_ptr<McastChannel>> Open(transport::EventLoop& loop, Options options,
                                                    std::function<void(std::string_view)> on_datagram);
  virtual ~McastChannel() = default;
  /// Sends one datagram to the group; errors are counted by the caller and otherwise ignored
  /// (a heartbeat is sent again a moment later).
  virtual Status Send(std::string_view bytes) = 0;
  /// Stops receiving and closes the socket; `on_datagram` is not called afterwards.
  virtual void Close() = 0;
  /// The interface address actually used for IP_MULTICAST_IF (after the loopback fallback).
  virtual std::string interface() const = 0;
};

}  // namespace sessiond::membership
