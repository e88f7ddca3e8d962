// The chaos checker (see checker.h for what it asserts and why).
#include "chaos/checker.h"

#include <algorithm>
#include <climits>
#include <set>
#include <sstream>

namespace sessiond::chaos {

using nlohmann::json;

namespace {

const char* KindName(OpKind k) {
  switch (k) {
    case OpKind::kPut: return "put";
    case OpKind::kRemoveAttribute: return "remove";
    case OpKind::kInvalidate: return "invalidate";
  }
  return "?";
}

const char* OutcomeName(Outcome o) {
  switch (o) {
    case Outcome::kOk: return "ok";
    case Outcome::kFailed: return "failed";
    case Outcome::kUnknown: return "unknown";
  }
  return "?";
}

/// May `later` have taken effect after `w`? Not when it ended before `w` started, and not when it
/// definitely did nothing (a 4xx).
bool MayFollow(const Op& later, const Op& w) {
  return &later != &w && later.outcome != Outcome::kFailed && later.end_us > w.start_us;
}

/// Does `o` replace or remove what put `w` wrote?
bool Supersedes(const Op& o, const Op& w) {
  if (o.kind == OpKind::kInvalidate) return true;
  if (o.attribute != w.attribute) return false;
  return o.kind == OpKind::kRemoveAttribute || (o.kind == OpKind::kPut && o.value != w.value);
}

/// What each live node shows for attribute `name` of the session with base `base`.
std::string Shown(const std::map<std::string, NodeState>& live, const std::string& base,
                  const std::string& name) {
  std::ostringstream out;
  for (const auto& [node, state] : live) {
    out << " " << node << "=";
    bool any = false;
    for (const auto& [id, attrs] : state) {
      if (BaseOf(id) != base) continue;
      any = true;
      out << id.substr(id.find('.') == std::string::npos ? id.size() : id.find('.')) << ":"
          << (attrs.contains(name) ? attrs[name].dump() : "absent") << ";";
    }
    if (!any) out << "no-session";
  }
  return out.str();
}

bool Visible(const std::map<std::string, NodeState>& live, const std::string& base,
             const std::string& name, const json& value) {
  for (const auto& [node, state] : live)
    for (const auto& [id, attrs] : state)
      if (BaseOf(id) == base && attrs.contains(name) && attrs[name] == value) return true;
  return false;
}

bool HeldAnywhere(const std::map<std::string, NodeState>& live, const std::string& base) {
  for (const auto& [node, state] : live)
    for (const auto& [id, attrs] : state)
      if (BaseOf(id) == base) return true;
  return false;
}

/// The sessions on which some node differs from the first one: up to five, and how many.
std::string Differences(const std::map<std::string, NodeState>& live) {
  const auto& [first_node, first] = *live.begin();
  std::set<std::string> ids;
  for (const auto& [node, state] : live)
    for (const auto& [id, a] : state) ids.insert(id);
  std::ostringstream out;
  int differing = 0;
  for (const std::string& id : ids) {
    auto a = first.find(id);
    std::string va = a == first.end() ? "absent" : a->second.dump();
    std::string line;
    for (const auto& [node, state] : live) {
      auto b = state.find(id);
      std::string vb = b == state.end() ? "absent" : b->second.dump();
      if (vb != va) line += " " + node + "=" + vb;
    }
    if (line.empty()) continue;
    if (++differing <= 5) out << "\n  session " << id << ": " << first_node << "=" << va << line;
  }
  return std::to_string(differing) + " of " + std::to_string(ids.size()) +
         " sessions differ between live nodes" + out.str();
}

}  // namespace

std::string BaseOf(const std::string& id) { return id.substr(0, id.find('.')); }

std::string Describe(const Op& op) {
  std::ostringstream out;
  out << "client " << op.client << " " << KindName(op.kind) << " " << op.id;
  if (!op.attribute.empty()) out << " " << op.attribute;
  if (op.kind == OpKind::kPut) out << "=" << op.value;
  out << " via " << op.node << " [" << op.start_us / 1000 << "ms, " << op.end_us / 1000
      << "ms] " << OutcomeName(op.outcome) << " " << op.http_status;
  return out.str();
}

bool Converged(const std::map<std::string, NodeState>& live) {
  for (const auto& [node, state] : live)
    if (state != live.begin()->second) return false;
  return true;
}

Verdict Check(const std::vector<Op>& history, const std::map<std::string, NodeState>& live,
              int64_t idle_expired_before_us) {
  Verdict v;
  if (!live.empty() && !Converged(live))
    v.findings.push_back({"diverged", Differences(live)});

  std::map<std::string, std::vector<const Op*>> by_base;
  for (const Op& op : history)
    if (!op.base.empty()) by_base[op.base].push_back(&op);

  for (const auto& [base, ops] : by_base) {
    bool invalidated = false, acked_invalidate = false, acked_any = false;
    int64_t last_end_us = INT64_MIN;
    for (const Op* op : ops) last_end_us = std::max(last_end_us, op->end_us);
    bool may_have_expired = last_end_us < idle_expired_before_us;
    for (const Op* op : ops) {
      if (op->kind == OpKind::kInvalidate && op->outcome != Outcome::kFailed) invalidated = true;
      if (op->kind == OpKind::kInvalidate && op->outcome == Outcome::kOk) acked_invalidate = true;
      if (op->outcome == Outcome::kOk) acked_any = true;
    }
    bool held = HeldAnywhere(live, base);
    if (acked_invalidate && held) {
      v.findings.push_back({"resurrected", "session " + base +
                                               " is held after an acknowledged invalidation:" +
                                               Shown(live, base, "")});
    }
    if (acked_any && !invalidated && !held && !may_have_expired) {
      v.findings.push_back({"lost_session", "session " + base +
                                                " (acknowledged, never invalidated) is on no live node"});
    }
    for (const Op* w : ops) {
      if (w->kind != OpKind::kPut || w->outcome != Outcome::kOk) continue;
      ++v.acked_writes;
      json value = json::parse(w->value, nullptr, false);
      if (Visible(live, base, w->attribute, value)) continue;
      if (may_have_expired && !held) continue;
      bool superseded = false;
      for (const Op* o : ops) {
        if (MayFollow(*o, *w) && Supersedes(*o, *w)) {
          superseded = true;
          break;
        }
      }
      if (superseded) continue;
      ++v.lost;
      v.findings.push_back({"lost_write", Describe(*w) + "; live nodes show" +
                                              Shown(live, base, w->attribute)});
    }
  }
  return v;
}

}  // namespace sessiond::chaos
