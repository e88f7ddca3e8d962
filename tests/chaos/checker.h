// Chaos checker: judges a recorded client history against the sessions the live nodes hold after
// the faults stopped and the cluster had time to converge (issue 6, item 2).
//
// What it asserts (synchronized-ack mode):
// - no acknowledged write is lost: an attribute write that got a 2xx must be visible on a live
//   node unless another operation on the same session may have come after it — a write of the
//   same attribute, its removal, or the session's invalidation whose window does not end before
//   the write's window starts (acknowledged or not: an unanswered request may have been applied);
// - every live node holds the same sessions with the same attributes (convergence);
// - no session comes back after an acknowledged invalidation (resurrection);
// - no session that an acknowledged request created and nothing invalidated disappears.
//
// Sessions are identified by their id's base (the 32 hex digits): JvmRouteBinderValve changes
// the route suffix on failover, never the base. Time windows are microseconds on one monotonic
// clock (the chaos runner's).
//
// Thread-safety: none; pure functions over values.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace sessiond::chaos {

enum class OpKind { kPut, kRemoveAttribute, kInvalidate };
/// kOk: a 2xx. kFailed: a 4xx, which the API answers before changing anything. kUnknown: no
/// answer, a timeout or a 5xx — the change may or may not have been applied.
enum class Outcome { kOk, kFailed, kUnknown };

struct Op {
  int client = 0;
  OpKind kind = OpKind::kPut;
  std::string base;       ///< the session's id base; empty when a failed create named none
  std::string id;         ///< the id the request carried, or the one it was given
  std::string attribute;  ///< put / remove
  std::string value;      ///< put: the JSON text written (unique per run)
  std::string node;       ///< the node that served it
  int64_t start_us = 0;
  int64_t end_us = 0;
  Outcome outcome = Outcome::kUnknown;
  int http_status = 0;    ///< 0 when there was no answer
};

/// One node's sessions: id -> attributes (a JSON object).
using NodeState = std::map<std::string, nlohmann::json>;

struct Finding {
  std::string kind;    ///< lost_write | diverged | resurrected | lost_session
  std::string detail;  ///< what, where, with the op's window
};

struct Verdict {
  int64_t acked_writes = 0;  ///< acknowledged puts checked
  int64_t lost = 0;          ///< of those, lost
  std::vector<Finding> findings;
  bool ok() const { return findings.empty(); }
};

/// True when every state in `live` is the same (ids and attributes).
bool Converged(const std::map<std::string, NodeState>& live);

/// Checks `history` against the states of the live nodes (name -> state). A session whose last
/// request ended before `idle_expired_before_us` may have expired (its max inactive interval,
/// less the clock skew a node may have): its absence and its writes' are excused.
Verdict Check(const std::vector<Op>& history, const std::map<std::string, NodeState>& live,
              int64_t idle_expired_before_us = INT64_MIN);

/// The base of a session id ("3F…7A" of "3F…7A.node1").
std::string BaseOf(const std::string& id);

std::string Describe(const Op& op);

}  // namespace sessiond::chaos
