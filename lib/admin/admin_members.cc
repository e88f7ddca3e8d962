// GET /v1/members: this node's view of the cluster, and the per-state counts /v1/status shows.

#include <algorithm>
#include <cmath>

#include "admin/admin_internal.h"

namespace sessiond::admin {

using nlohmann::json;

namespace {

constexpr std::string_view kStates[] = {"alive", "suspect", "dead", "left"};

bool IsState(std::string_view word) {
  return std::find(std::begin(kStates), std::end(kStates), word) != std::end(kStates);
}

json TimeOrNull(int64_t ms) { return ms > 0 ? json(FormatRfc3339Millis(ms)) : json(); }

// Seconds since `seen_ms` with millisecond precision (0.412), so `sessctl members` can say
// "0.4s ago" without trusting its own clock against the node's; null when never seen.
json SecondsAgo(const MemberInfo& m, int64_t now_ms) {
  if (m.is_self) return 0.0;
  if (m.last_seen_ms <= 0) return json();
  return static_cast<double>(std::max<int64_t>(0, now_ms - m.last_seen_ms)) / 1000.0;
}

json MemberJson(const MemberInfo& m, int64_t now_ms) {
  return {{"name", m.name},
          {"address", m.address},
          {"admin_url", m.admin_url},
          {"state", m.state},
          {"mode", m.mode},
          {"sessions", m.sessions},
          {"last_seen", TimeOrNull(m.last_seen_ms)},
          {"last_seen_seconds_ago", SecondsAgo(m, now_ms)},
          {"state_since", TimeOrNull(m.state_since_ms)},
          {"version", m.version},
          {"protocol", m.protocol},
          {"incarnation", m.incarnation},
          {"self", m.is_self},
          {"static", m.is_static}};
}

}  // namespace

Result<std::vector<std::string>> StateFilter(const Request& req) {
  std::vector<std::string> states;
  auto [begin, end] = req.params.equal_range("state");
  for (auto it = begin; it != end; ++it) {
    std::string_view text = it->second;
    // Both "state=alive,suspect" and "state=alive&state=suspect".
    for (size_t start = 0; start <= text.size();) {
      size_t comma = std::min(text.find(',', start), text.size());
      std::string_view word = text.substr(start, comma - start);
      if (!IsState(word)) {
        return Status::BadRequest("parameter 'state' must be a comma-separated list of alive, "
                                  "suspect, dead, left; not '" + std::string(word) + "'");
      }
      states.emplace_back(word);
      start = comma + 1;
    }
  }
  return states;
}

MemberCounts CountMembers(const std::vector<MemberInfo>& members) {
  MemberCounts counts;
  for (const MemberInfo& m : members) {
    if (m.state == "alive") ++counts.alive;
    else if (m.state == "suspect") ++counts.suspect;
    else if (m.state == "dead") ++counts.dead;
    else if (m.state == "left") ++counts.left;
  }
  return counts;
}

Response Api::ListMembers(const Request& req) const {
  Result<std::vector<std::string>> filter = StateFilter(req);
  if (!filter.ok()) return ErrorResponse(filter.status());
  if (!services_.members) {
    return ErrorResponse(Status::Unavailable("the member list is not available on this node yet"));
  }
  std::vector<MemberInfo> members = services_.members();
  // Sorted by name: stable output for tables, diffs and tests, whatever order the daemon keeps.
  std::sort(members.begin(), members.end(),
            [](const MemberInfo& a, const MemberInfo& b) { return a.name < b.name; });
  int64_t now_ms = WallMillis();
  json items = json::array();
  for (const MemberInfo& m : members) {
    if (filter->empty() || std::find(filter->begin(), filter->end(), m.state) != filter->end())
      items.push_back(MemberJson(m, now_ms));
  }
  return JsonResponse(items);
}

}  // namespace sessiond::admin
