// MemberTable: the failure-detection state machine (rules in membership_internal.h). Pure: no
// clock reads, no sockets; every event says what time it is and returns what to do.
#include <iterator>

#include "membership/membership_internal.h"

namespace sessiond::membership {

void Effects::Append(Effects other) {
  changes.insert(changes.end(), std::make_move_iterator(other.changes.begin()),
                 std::make_move_iterator(other.changes.end()));
  probes.insert(probes.end(), std::make_move_iterator(other.probes.begin()),
                std::make_move_iterator(other.probes.end()));
  greet = greet || other.greet;
}

Effects MemberTable::SetState(Entry& e, State state, Clock now, std::optional<State> before) {
  e.member.state = state;
  e.member.state_since_ms = now.wall_ms;
  if (state != State::kSuspect) e.probe_id = 0;  // a late probe outcome no longer counts
  Effects fx;
  fx.changes.push_back({e.member, before});
  return fx;
}

Effects MemberTable::Suspect(Entry& e, Clock now) {
  Effects fx = SetState(e, State::kSuspect, now, e.member.state);
  e.suspect_mono_ms = now.mono_ms;
  e.probe_id = next_probe_id_++;
  fx.probes.push_back({e.probe_id, e.member.info.name, e.member.address()});
  return fx;
}

Effects MemberTable::NewIncarnation(Entry& e, const Heartbeat& hb, Clock now) {
  std::optional<State> before = e.member.state;
  e.member.info = hb;
  e.member.last_seen_ms = now.wall_ms;
  e.member.heartbeat_lag_ms = 0;
  e.heard_mono_ms = now.mono_ms;
  return SetState(e, hb.goodbye ? State::kLeft : State::kAlive, now, before);
}

Effects MemberTable::OnHeartbeat(const Heartbeat& hb, bool is_static, Clock now) {
  auto [it, inserted] = entries_.try_emplace(hb.name);
  Entry& e = it->second;
  e.member.is_static = e.member.is_static || is_static;
  if (inserted) {
    Effects fx = NewIncarnation(e, hb, now);
    fx.changes.back().before.reset();  // it appeared
    fx.greet = !hb.goodbye;
    return fx;
  }
  if (hb.start_ms > e.member.info.start_ms) {
    Effects fx = NewIncarnation(e, hb, now);
    fx.greet = !hb.goodbye;
    return fx;
  }
  if (hb.start_ms < e.member.info.start_ms) return {};  // a datagram from a past life
  if (e.member.state == State::kLeft) return {};        // reordered after its goodbye
  // Not newer than the last heartbeat of this life by the sender's HLC (which only moves
  // forward, and every heartbeat and probe reply takes a new stamp): a duplicate or a replay,
  // which must not keep a dead member alive nor undo a mode change.
  if (hb.hlc != 0 && hb.hlc <= e.member.info.hlc) {
    Effects fx;
    fx.stale = true;
    return fx;
  }

  State before = e.member.state;
  if (before == State::kAlive) {
    e.member.heartbeat_lag_ms = now.mono_ms - e.heard_mono_ms;
    max_lag_ms_ = std::max(max_lag_ms_, e.member.heartbeat_lag_ms);
  }
  bool mode_changed = hb.mode != e.member.info.mode;
  e.member.info = hb;
  e.member.last_seen_ms = now.wall_ms;
  e.heard_mono_ms = now.mono_ms;
  if (hb.goodbye) return SetState(e, State::kLeft, now, before);
  if (before != State::kAlive) {
    Effects fx = SetState(e, State::kAlive, now, before);
    fx.greet = true;
    return fx;
  }
  Effects fx;
  if (mode_changed) fx.changes.push_back({e.member, before});
  return fx;
}

Effects MemberTable::OnPeerFailure(const transport::PeerAddress& address, Clock now) {
  Effects fx;
  for (auto& [name, e] : entries_) {
    if (e.member.state == State::kAlive && e.member.address() == address)
      fx.Append(Suspect(e, now));
  }
  return fx;
}

Effects MemberTable::OnProbeFailed(const std::string& name, uint64_t probe_id, Clock now) {
  auto it = entries_.find(name);
  if (it == entries_.end()) return {};
  Entry& e = it->second;
  if (e.member.state != State::kSuspect || e.probe_id != probe_id) return {};
  return SetState(e, State::kDead, now, State::kSuspect);
}

Effects MemberTable::Tick(Clock now) {
  Effects fx;
  for (auto& [name, e] : entries_) {
    if (e.member.state == State::kAlive && now.mono_ms - e.heard_mono_ms >= drop_time_ms_) {
      fx.Append(Suspect(e, now));
    } else if (e.member.state == State::kSuspect &&
               now.mono_ms - e.suspect_mono_ms >= probe_deadline_ms_) {
      fx.Append(SetState(e, State::kDead, now, State::kSuspect));
    }
  }
  return fx;
}

std::vector<Member> MemberTable::Members() const {
  std::vector<Member> out;
  out.reserve(entries_.size());
  for (const auto& [name, e] : entries_) out.push_back(e.member);  // std::map: sorted by name
  return out;
}

std::optional<Member> MemberTable::Find(const std::string& name) const {
  auto it = entries_.find(name);
  if (it == entries_.end()) return std::nullopt;
  return it->second.member;
}

}  // namespace sessiond::membership
