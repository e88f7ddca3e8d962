// drain: taking a node out of service without a failed request (DESIGN.md §5 "Drain", §7).
//
// Modes active -> draining -> drained, and back to active on undrain:
//   draining  /readyz answers 503 and the HAProxy agent port answers "drain" for the grace
//             period (default 5 s: more than two of HAProxy's default 2 s agent-inter), so load
//             balancers stop sending new work while the data plane still serves everything.
//   (grace over) new data-plane requests get 503 + Retry-After (nginx proxy_next_upstream
//             http_503 and HAProxy retry-on 503 resend them to another node); the drain waits
//             for the requests already running to finish, then flushes replication and waits
//             until every alive member acknowledged it.
//   drained   all of that is done, or the deadline (default grace + 30 s, counted from the
//             drain command) came first: the event log says what was still pending then
//             (requests still running keep running; with `shutdown` the process exits and its
//             stop cuts them). With `shutdown` the node then stops as on SIGTERM (exit 0).
// The mode is persisted by the daemon (Hooks::mode_changed) and a node that restarts while
// draining or drained comes back drained (Restore) until undrained.
//
// Wire format of the forwarded command (transport message kDrainType; a drain or undrain for
// NODE given to any node's admin endpoint travels to NODE), every integer big-endian:
//   request:  u8 format (1), u8 op (1 drain, 2 undrain), u8 flags (0x01 shutdown,
//             0x02 grace given, 0x04 deadline given; other bits malformed), i64 grace_ms,
//             i64 deadline_ms (each >= 0, and 0 when not given), u16 length + bytes: the node
//             that forwarded it (<= 128)
//   reply:    u8 format (1), u8 code (base::Code), u8 mode (0 active, 1 draining, 2 drained),
//             u8 flags (0x01 shutdown, 0x02 changed), i64 grace_ms, i64 deadline_ms,
//             u16 length + bytes: message (<= 1024)
// Decoders never trust a length; trailing bytes are malformed; Encode(Decode(x)) == x.
//
// CommandRelay carries that message on one node's cluster transport: it answers the commands
// other nodes forward here (run one at a time, in arrival order, on a worker thread of its own,
// never on the cluster loop: a command writes SQLite) and forwards this node's commands to a
// member on the transport's control lane, so the command never queues behind the deltas of a
// replication backlog.
//
// Thread-safety: Drainer is thread-safe; its hooks run on its own worker thread ("drain") or on
// the caller's, never under its lock. AgentServer runs one accept thread of its own.
// CommandRelay::Forward/Stop are thread-safe; its handler runs on its worker ("drain-relay").
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "base/base.h"
#include "membership/membership.h"
#include "transport/transport.h"

namespace sessiond::drain {

using membership::Mode;

/// Transport message type of a forwarded drain/undrain (0x04xx: node control).
inline constexpr uint16_t kDrainType = 0x0401;
inline constexpr int64_t kDefaultGraceMs = 5000;
/// The deadline when none is given: the grace plus this.
inline constexpr int64_t kDefaultDeadlineAfterGraceMs = 30000;
/// Retry-After (seconds) on a drained node's 503s.
inline constexpr int kRetryAfterSeconds = 5;

/// "active", "draining", "drained" (membership's names); ParseMode is the inverse.
std::string_view ModeWord(Mode m);
std::optional<Mode> ParseMode(std::string_view word);

/// What a drain command asks for; empty optionals take the node's defaults.
struct DrainParams {
  std::optional<int64_t> grace_ms;
  std::optional<int64_t> deadline_ms;  ///< from the command; must be >= the grace
  bool shutdown = false;
  friend bool operator==(const DrainParams&, const DrainParams&) = default;
};

/// Where a node's drain stands.
struct DrainState {
  Mode mode = Mode::kActive;
  int64_t grace_ms = 0;     ///< of the drain in progress or done (0 when active)
  int64_t deadline_ms = 0;
  bool shutdown = false;
  bool changed = false;     ///< the command changed the mode (false: it was already so)
  friend bool operator==(const DrainState&, const DrainState&) = default;
};

// ---- the forwarded command ------------------------------------------------------------------

struct DrainRequest {
  bool undrain = false;
  DrainParams params;
  std::string via;  ///< the node whose admin endpoint took the command
  friend bool operator==(const DrainRequest&, const DrainRequest&) = default;
};
struct DrainReply {
  Code code = Code::kOk;
  std::string message;  ///< the error's message when code is not kOk
  DrainState state;
  friend bool operator==(const DrainReply&, const DrainReply&) = default;
};
std::string EncodeDrainRequest(const DrainRequest& request);
/// kBadRequest naming the field when malformed.
Result<DrainRequest> DecodeDrainRequest(std::string_view bytes);
std::string EncodeDrainReply(const DrainReply& reply);
Result<DrainReply> DecodeDrainReply(std::string_view bytes);

/// Both ends of the forwarded command on one node (see the file comment).
class CommandRelay {
 public:
  /// Runs one command that another node forwarded here and says how it went.
  using Handler = std::function<DrainReply(const DrainRequest&)>;

  /// Registers kDrainType on `transport` and starts the worker. `loop` and `transport` must
  /// outlive Stop(); the handler is never called after Stop() returns. `node_name` is this
  /// node's, for the answers it gives on its own.
  CommandRelay(transport::EventLoop* loop, transport::Transport* transport, std::string node_name,
               Handler handler);
  ~CommandRelay();  ///< Stop()
  CommandRelay(const CommandRelay&) = delete;
  CommandRelay& operator=(const CommandRelay&) = delete;

  /// Sends `request` to the member `node` at `to` on the control lane and waits up to
  /// `timeout_ms` for its answer: kUnavailable naming `node` when it does not answer in time or
  /// cannot be reached, or when this relay stops meanwhile; the answer otherwise (whose code may
  /// be an error of the member's). Blocks the caller: never call it on the loop thread.
  Result<DrainReply> Forward(const std::string& node, const transport::PeerAddress& to,
                             const DrainRequest& request, int64_t timeout_ms) const;
  /// Shutdown: commands still queued and any that arrive later are answered kUnavailable ("NODE
  /// is stopping"), the running one finishes, the worker is joined, and Forward calls still
  /// waiting return kUnavailable. Idempotent; the destructor calls it.
  void Stop();

  class Impl;

 private:
  std::shared_ptr<Impl> impl_;  // shared with the transport's handler, which outlives Stop()
};

// ---- the state machine ----------------------------------------------------------------------

class Drainer {
 public:
  /// What the drain steers. Every hook may be empty (then that step is skipped).
  struct Hooks {
    /// true: new data-plane requests get 503 + Retry-After from now on; false: serve again.
    std::function<void(bool refusing)> set_refusing;
    /// Data-plane requests admitted and still running.
    std::function<uint64_t()> in_flight;
    /// Flushes replication and waits for every alive member's acknowledgement, at most
    /// `timeout_ms`; kUnavailable when time ran out.
    std::function<Status(int64_t timeout_ms)> flush;
    /// The mode changed (persist it, heartbeat it).
    std::function<void(Mode mode)> mode_changed;
    /// One step for the event log (kind "drain").
    std::function<void(std::string message, std::map<std::string, std::string> fields)> record;
    /// Drained with `shutdown`: stop the process as SIGTERM does.
    std::function<void()> shutdown;
  };
  struct Options {
    int64_t default_grace_ms = kDefaultGraceMs;
    int64_t default_deadline_ms = 0;  ///< 0: the grace + kDefaultDeadlineAfterGraceMs
  };

  Drainer(Options options, Hooks hooks);
  ~Drainer();  ///< cancels a drain in progress and joins the worker
  Drainer(const Drainer&) = delete;
  Drainer& operator=(const Drainer&) = delete;

  /// Starts draining (returns at once; the worker runs the steps). Already draining or drained:
  /// OK with changed=false, the drain in progress untouched. kBadRequest for a negative grace
  /// or deadline, or a deadline shorter than the grace.
  Result<DrainState> Drain(const DrainParams& params, const std::string& via);
  /// Back to active at once: serving again, /readyz ready. Cancels a drain in progress (a
  /// pending shutdown included). Already active: OK with changed=false.
  DrainState Undrain(const std::string& via);
  /// At start-up, the persisted mode: draining or drained comes back as drained (refusing).
  void Restore(Mode persisted);
  DrainState state() const;
  Mode mode() const;
  /// Milliseconds the last completed drain took from the command to drained (0: none yet).
  int64_t last_drain_ms() const;
  /// Cancels a drain in progress and joins the worker; the mode stays readable and commands
  /// after Stop change nothing but the state. Idempotent; the destructor calls it.
  void Stop();

  class Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

// ---- HAProxy agent-check --------------------------------------------------------------------

/// The agent-check answer for a mode, as HAProxy reads it: "up ready" (active: operationally
/// up, administrative drain/maint lifted), "drain" (draining: weight 0, no new sessions),
/// "maint" (drained: no traffic at all). One line, "\n"-terminated.
std::string AgentAnswer(Mode mode);

/// A TCP listener that answers every connection with one line and closes it (HAProxy's
/// agent-check protocol: the agent speaks first; anything HAProxy sends is ignored).
class AgentServer {
 public:
  /// Binds address:port (0: any free port). kUnavailable naming address:port when it cannot.
  /// `answer` is called on the agent thread for every connection.
  static Result<std::unique_ptr<AgentServer>> Start(const std::string& address, uint16_t port,
                                                    std::function<std::string()> answer);
  ~AgentServer();  ///< Stop()
  uint16_t port() const;
  void Stop();  ///< idempotent

  class Impl;

 private:
  explicit AgentServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace sessiond::drain
