// Membership: drives the MemberTable from the cluster loop — multicast heartbeats, PINGs to
// static members, probes of suspects, the transport's peer failures and goodbyes.
//
// Everything below runs on the loop thread except the public snapshot getters, which take mu_.
// Callbacks handed to the transport and the loop capture a weak token: the destructor drops it on
// the loop thread, so a callback that arrives afterwards does nothing.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>

#include "membership/membership_internal.h"
#include "transport/loop_internal.h"

namespace sessiond::membership {

namespace {

using transport::Message;
using transport::PeerAddress;

constexpr int kGoodbyeDatagrams = 3;

Clock Now() { return {MonotonicMillis(), WallMillis()}; }

// How often silence is checked: a fraction of the heartbeat period, so detection lags
// drop_time by at most this much.
int64_t TickPeriod(int64_t frequency_ms) { return std::clamp<int64_t>(frequency_ms / 5, 10, 100); }

Status Validate(const MembershipOptions& o, const Heartbeat& first) {
  if (first.name.empty() || first.name.size() > kMaxNameBytes)
    return Status::BadRequest("membership: the node name must have 1.." +
                              std::to_string(kMaxNameBytes) + " bytes");
  if (o.frequency_ms <= 0 || o.drop_time_ms <= 0 || o.probe_timeout_ms <= 0)
    return Status::BadRequest("membership: frequency, dropTime and the probe timeout must be > 0");
  return Status::Ok();
}

}  // namespace

class Membership::Impl {
 public:
  Impl(transport::EventLoop* loop, transport::Transport* transport, MembershipOptions options,
       std::function<Heartbeat()> self)
      : loop_(loop), transport_(transport), options_(std::move(options)), self_(std::move(self)),
        table_(options_.drop_time_ms, 2 * options_.probe_timeout_ms + 1000) {}

  Status Start();
  /// Loop thread: drops the token, cancels timers, closes the socket.
  void Shutdown();
  /// Any thread: Shutdown on the loop, waited for.
  void Stop() { loop_->impl().RunAndWait([this] { Shutdown(); }); }
  void Leave();
  /// Registration and the replay of the members already known run on the loop, where every
  /// change is delivered, so a member that appeared before the callback existed (a heartbeat
  /// can arrive between Start and OnChange) is reported exactly once, as appeared.
  void AddCallback(std::function<void(const Member&, std::optional<State>)> cb) {
    auto add = [this, cb = std::move(cb)] {
      std::vector<Member> known;
      {
        std::lock_guard lock(mu_);
        callbacks_.push_back(cb);
        known = table_.Members();
      }
      for (const Member& m : known) cb(m, std::nullopt);
    };
    if (loop_->InLoop()) {
      add();
    } else {
      loop_->impl().RunAndWait(add);
    }
  }
  std::vector<Member> Members() const {
    std::lock_guard lock(mu_);
    return table_.Members();
  }
  std::optional<Member> Find(std::string_view name) const {
    std::lock_guard lock(mu_);
    return table_.Find(std::string(name));
  }
  MembershipStats stats() const {
    std::lock_guard lock(mu_);
    MembershipStats s = stats_;
    s.max_heartbeat_lag_ms = table_.max_lag_ms();
    return s;
  }

 private:
  // Wraps a loop-thread callback so it does nothing once the Membership is gone.
  template <typename Fn>
  auto Guard(Fn fn) {
    return [weak = std::weak_ptr<int>(token_), fn = std::move(fn)](auto&&... args) mutable {
      if (!weak.expired()) fn(std::forward<decltype(args)>(args)...);
    };
  }
  Status ResolveInterface();
  void RegisterHandlers();
  void StartTimers();
  void RefreshSelf();
  /// This node's heartbeat, refreshed: every one carries a new HLC stamp, which receivers use
  /// to refuse a replayed or duplicated heartbeat (MemberTable::OnHeartbeat).
  std::string FreshSelf() {
    RefreshSelf();
    return EncodeHeartbeat(self_hb_, options_.secret);
  }
  void SendHeartbeat();
  void Greet();
  void OnDatagram(std::string_view bytes);
  void Accept(const Heartbeat& hb, bool is_static);
  void PingStatics();
  void SendProbe(const Probe& probe);
  void OnProbeReply(const Probe& probe, Result<Message> reply);
  void Apply(Effects fx);
  template <typename Event>
  void Run(Event event) {
    Effects fx;
    {
      std::lock_guard lock(mu_);
      fx = event(table_);
    }
    Apply(std::move(fx));
  }
  void Count(uint64_t MembershipStats::*field) {
    std::lock_guard lock(mu_);
    ++(stats_.*field);
  }

  transport::EventLoop* loop_;
  transport::Transport* transport_;
  MembershipOptions options_;
  std::function<Heartbeat()> self_;
  std::shared_ptr<int> token_ = std::make_shared<int>(0);

  // Loop thread only.
  Heartbeat self_hb_;
  int64_t start_ms_ = 0;
  bool leaving_ = false;
  int64_t last_greeting_mono_ms_ = 0;
  uint64_t own_stamps_ = 0;  // heartbeat stamps when `self` gives none
  std::string interface_;
  std::unique_ptr<McastChannel> channel_;
  std::vector<uint64_t> timers_;
  std::vector<PeerAddress> pinging_;  // static members with a routine PING outstanding

  mutable std::mutex mu_;
  MemberTable table_;                                                      // GUARDED_BY(mu_)
  MembershipStats stats_;                                                  // GUARDED_BY(mu_)
  std::vector<std::function<void(const Member&, std::optional<State>)>> callbacks_;  // mu_
};

// ---- start and stop --------------------------------------------------------------------------

Status Membership::Impl::Start() {
  self_hb_ = self_();
  SESSIOND_RETURN_IF_ERROR(Validate(options_, self_hb_));
  start_ms_ = self_hb_.start_ms != 0 ? self_hb_.start_ms : WallMillis();
  if (options_.multicast) SESSIOND_RETURN_IF_ERROR(ResolveInterface());
  RefreshSelf();
  if (options_.multicast) {
    auto channel = McastChannel::Open(
        *loop_, {options_.group, options_.port, interface_, options_.ttl},
        Guard([this](std::string_view bytes) { OnDatagram(bytes); }));
    if (!channel.ok()) return channel.status();
    channel_ = std::move(channel).value();
  }
  RegisterHandlers();
  StartTimers();
  return Status::Ok();
}

Status Membership::Impl::ResolveInterface() {
  interface_ = !options_.bind.empty() ? options_.bind : self_hb_.receiver_host;
  if (interface_.empty() || interface_ == "0.0.0.0" || interface_ == "*" || interface_ == "auto")
    return Status::BadRequest("multicast " + options_.group + ":" +
                              std::to_string(options_.port) +
                              " needs an interface address: set Membership bind "
                              "(--mcast-bind) or a receiver address");
  return Status::Ok();
}

void Membership::Impl::RegisterHandlers() {
  transport_->Handle(kPingType, Guard([this](const transport::Sender&, Message m,
                                             transport::Transport::Reply reply) {
    // The prober's heartbeat rides in the request, so a static member need not list us.
    // Without multicast, PINGs are how we know it: a static member.
    if (!m.body.empty()) {
      Result<Heartbeat> hb = DecodeHeartbeat(m.body, options_.secret);
      if (hb.ok()) Accept(*hb, !options_.multicast);
      else Count(&MembershipStats::heartbeats_rejected);
    }
    reply(Message{kPingType, FreshSelf()});
  }));
  transport_->Handle(kGoodbyeType, Guard([this](const transport::Sender&, Message m,
                                                transport::Transport::Reply reply) {
    Result<Heartbeat> hb = DecodeHeartbeat(m.body, options_.secret);
    if (hb.ok() && hb->goodbye) Accept(*hb, false);
    else Count(&MembershipStats::heartbeats_rejected);
    reply(Message{kGoodbyeType, {}});
  }));
  transport_->OnPeerFailure(Guard([this](const PeerAddress& peer, const Status&) {
    Clock now = Now();
    Run([&](MemberTable& t) { return t.OnPeerFailure(peer, now); });
  }));
}

void Membership::Impl::StartTimers() {
  // The first heartbeat and PINGs go out at once: a cluster forms in one round trip.
  auto beat = Guard([this] { SendHeartbeat(); });
  auto ping = Guard([this] { PingStatics(); });
  auto tick = Guard([this] {
    Clock now = Now();
    Run([&](MemberTable& t) { return t.Tick(now); });
  });
  beat();
  ping();
  timers_.push_back(loop_->Every(options_.frequency_ms, beat));
  timers_.push_back(loop_->Every(options_.frequency_ms, ping));
  timers_.push_back(loop_->Every(TickPeriod(options_.frequency_ms), tick));
}

void Membership::Impl::Shutdown() {
  token_.reset();
  for (uint64_t id : timers_) loop_->Cancel(id);
  timers_.clear();
  if (channel_) channel_->Close();
  channel_.reset();
}

// ---- heartbeats --------------------------------------------------------------------------------

void Membership::Impl::RefreshSelf() {
  Heartbeat hb = self_();
  hb.start_ms = start_ms_;
  hb.domain = options_.domain;
  hb.goodbye = leaving_;
  hb.protocol = kProtocolVersion;
  if (hb.receiver_host.empty()) hb.receiver_host = interface_;
  if (hb.receiver_port == 0) hb.receiver_port = transport_->port();
  // Receivers refuse a heartbeat whose stamp is not newer than the last (replays): without a
  // clock behind `self` (hlc 0), number them here so that rule still holds.
  if (hb.hlc == 0) hb.hlc = ++own_stamps_;
  self_hb_ = std::move(hb);
}

void Membership::Impl::SendHeartbeat() {
  if (!channel_ || leaving_) return;
  Status st = channel_->Send(FreshSelf());
  Count(st.ok() ? &MembershipStats::heartbeats_sent : &MembershipStats::send_failures);
}

/// Effects::greet: one extra heartbeat, at most every kGreetingGapMs (a node that starts
/// beside several others hears them all at once and needs to answer only once).
void Membership::Impl::Greet() {
  constexpr int64_t kGreetingGapMs = 50;
  const int64_t now = MonotonicMillis();
  if (now - last_greeting_mono_ms_ < kGreetingGapMs) return;
  last_greeting_mono_ms_ = now;
  SendHeartbeat();
}

void Membership::Impl::OnDatagram(std::string_view bytes) {
  Result<Heartbeat> hb = DecodeHeartbeat(bytes, options_.secret);
  if (!hb.ok()) {
    Count(&MembershipStats::heartbeats_rejected);
    return;
  }
  Accept(*hb, false);
}

void Membership::Impl::Accept(const Heartbeat& hb, bool is_static) {
  if (hb.name == self_hb_.name && hb.start_ms <= start_ms_) return;  // our own (or our past)
  if (hb.domain != options_.domain) {
    Count(&MembershipStats::heartbeats_rejected);
    return;
  }
  Count(&MembershipStats::heartbeats_received);
  if (options_.observe_clock) options_.observe_clock(hb.hlc);
  Clock now = Now();
  Run([&](MemberTable& t) { return t.OnHeartbeat(hb, is_static, now); });
}

// ---- static members and probes -----------------------------------------------------------------

void Membership::Impl::PingStatics() {
  for (const PeerAddress& peer : options_.static_members) {
    // One routine PING at a time per peer: a stopped peer must not pile them up.
    if (std::find(pinging_.begin(), pinging_.end(), peer) != pinging_.end()) continue;
    pinging_.push_back(peer);
    int64_t timeout = std::max(options_.drop_time_ms, options_.probe_timeout_ms);
    transport_->Request(peer, Message{kPingType, FreshSelf()}, timeout,
                        Guard([this, peer](Result<Message> reply) {
      std::erase(pinging_, peer);
      if (!reply.ok()) return;  // silence is judged by drop_time; refusals by OnPeerFailure
      Result<Heartbeat> hb = DecodeHeartbeat(reply->body, options_.secret);
      if (hb.ok()) Accept(*hb, true);
      else Count(&MembershipStats::heartbeats_rejected);
    }));
  }
}

void Membership::Impl::SendProbe(const Probe& probe) {
  Count(&MembershipStats::probes_sent);
  transport_->Request(probe.address, Message{kPingType, FreshSelf()}, options_.probe_timeout_ms,
                      Guard([this, probe](Result<Message> reply) {
    OnProbeReply(probe, std::move(reply));
  }));
}

void Membership::Impl::OnProbeReply(const Probe& probe, Result<Message> reply) {
  Result<Heartbeat> hb = reply.ok() ? DecodeHeartbeat(reply->body, options_.secret)
                                    : Result<Heartbeat>(reply.status());
  // Only the member itself can clear its suspicion; another node now on its address cannot.
  if (hb.ok() && hb->name == probe.name) {
    Accept(*hb, false);
    return;
  }
  Count(&MembershipStats::probes_failed);
  Clock now = Now();
  Run([&](MemberTable& t) { return t.OnProbeFailed(probe.name, probe.id, now); });
  if (hb.ok()) Accept(*hb, false);
}

void Membership::Impl::Apply(Effects fx) {
  if (fx.stale) Count(&MembershipStats::heartbeats_replayed);
  for (const Probe& p : fx.probes) SendProbe(p);
  if (fx.greet) Greet();
  if (fx.changes.empty()) return;
  std::vector<std::function<void(const Member&, std::optional<State>)>> callbacks;
  {
    std::lock_guard lock(mu_);
    callbacks = callbacks_;
  }
  for (const Change& c : fx.changes)
    for (auto& cb : callbacks) cb(c.member, c.before);
}

// ---- leaving -----------------------------------------------------------------------------------

void Membership::Impl::Leave() {
  // Runs on the loop; `pending` counts GOODBYE messages not yet written, for the waiter.
  struct Pending {
    std::mutex mu;
    std::condition_variable cv;
    int left = 0;
  };
  auto pending = std::make_shared<Pending>();
  loop_->impl().RunAndWait([this, pending] {
    if (token_ == nullptr || leaving_) return;
    leaving_ = true;
    std::string bytes = FreshSelf();  // the same bytes each time: receivers take the first
    for (int i = 0; channel_ && i < kGoodbyeDatagrams; ++i) {
      Status st = channel_->Send(bytes);
      Count(st.ok() ? &MembershipStats::heartbeats_sent : &MembershipStats::send_failures);
    }
    {
      std::lock_guard lock(pending->mu);  // not held across Send: `done` may run inline
      pending->left = static_cast<int>(options_.static_members.size());
    }
    for (const PeerAddress& peer : options_.static_members) {
      transport_->Send(peer, Message{kGoodbyeType, bytes}, transport::SendMode::kAsynchronous,
                       [pending](Status) {
        std::lock_guard lock(pending->mu);
        if (--pending->left == 0) pending->cv.notify_all();
      });
    }
  });
  if (loop_->InLoop()) return;
  std::unique_lock lock(pending->mu);
  pending->cv.wait_for(lock, std::chrono::milliseconds(options_.probe_timeout_ms),
                       [&] { return pending->left <= 0; });
}

// ---- the public face ---------------------------------------------------------------------------

Result<std::unique_ptr<Membership>> Membership::Start(transport::EventLoop* loop,
                                                     transport::Transport* transport,
                                                     MembershipOptions options,
                                                     std::function<Heartbeat()> self) {
  auto impl = std::make_unique<Impl>(loop, transport, std::move(options), std::move(self));
  Status st;
  loop->impl().RunAndWait([&] {
    st = impl->Start();
    if (!st.ok()) impl->Shutdown();
  });
  if (!st.ok()) return st;
  return std::unique_ptr<Membership>(new Membership(std::move(impl)));
}

Membership::Membership(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Membership::~Membership() {
  if (impl_) impl_->Stop();
}

std::vector<Member> Membership::Members() const { return impl_->Members(); }
std::optional<Member> Membership::Find(std::string_view name) const { return impl_->Find(name); }
void Membership::OnChange(std::function<void(const Member&, std::optional<State>)> callback) {
  impl_->AddCallback(std::move(callback));
}
void Membership::Leave() { impl_->Leave(); }
MembershipStats Membership::stats() const { return impl_->stats(); }

}  // namespace sessiond::membership
