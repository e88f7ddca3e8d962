// `sessctl members`: the pure parts — the table of GET /v1/members, the --state filter and the
// --watch diff — apart from the polling loop, so they are unit-tested without a server.
//
// Thread-safety: plain functions; one thread.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "base/base.h"
#include "ctl/table.h"

namespace sessctl {

/// The member states the API knows, in the order the docs list them.
inline const std::vector<std::string> kMemberStates = {"alive", "suspect", "dead", "left"};

/// Parses "--state alive,suspect". kBadRequest naming the bad word (and an empty item).
sessiond::Result<std::vector<std::string>> ParseStateList(const std::string& text);

/// The members table: NAME, ADDRESS, STATE, MODE, SESSIONS, LAST-SEEN, VERSION; wide adds
/// ADMIN-URL, INCARNATION, STATIC; JSON carries every key of the API's objects.
Table MembersTable(const nlohmann::json& members);

/// "now" for this node's own row, "0.4s ago", "12s ago", "1m30s ago"; "never" when null.
std::string LastSeenText(const nlohmann::json& member);

/// One change seen by --watch. Previous fields are empty for a member that appeared.
struct MemberChange {
  std::string name;
  std::string state;  ///< the new state, or "gone" when the node no longer lists the member
  std::string mode;
  std::optional<std::string> previous_state;
  std::optional<std::string> previous_mode;
  friend bool operator==(const MemberChange&, const MemberChange&) = default;
};

/// What changed from `previous` to `current` (arrays of the API's member objects): members that
/// appeared, changed state or mode (in `current`'s order), then members that are gone. An empty
/// `previous` makes every member an "appeared" change.
std::vector<MemberChange> DiffMembers(const nlohmann::json& previous,
                                      const nlohmann::json& current);

/// One --watch line with -o json: {"time","name","state","mode","previous_state","previous_mode"}
/// (previous_* null for an appeared member; mode null for a gone one).
/// Keys in that order (ordered_json), so a line reads time-first in a log.
nlohmann::ordered_json ChangeJson(const MemberChange& change, int64_t time_ms);

/// The header and one line of --watch's table output, in fixed columns (lines are printed as
/// changes happen, so widths cannot follow the data): TIME NAME STATE MODE PREVIOUS.
std::string ChangeHeader(bool wide);
std::string ChangeLine(const MemberChange& change, int64_t time_ms, bool wide);

}  // namespace sessctl
