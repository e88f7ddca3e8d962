// CommandRelay (drain.h): the forwarded drain command on the cluster transport.
//
// The receiving side decodes on the loop and queues; one worker thread runs the commands in
// arrival order (each persists the mode and writes the event log: SQLite, which must not stall
// the loop) and hands the answer back to the loop, which sends it. The worker is joined at Stop,
// so no command runs after the daemon began tearing down what the handler uses — a thread per
// command, detached, could (the use-after-free this class replaces).
//
// Why not deploy's SerialWorker: at Stop, queued commands are answered ("stopping") rather than
// dropped, so the node that forwarded one hears at once instead of at its timeout.
#include <condition_variable>
#include <deque>
#include <mutex>
#include <optional>
#include <set>
#include <thread>

#include <pthread.h>

#include "drain/drain.h"

namespace sessiond::drain {

namespace {

using transport::Message;
using Reply = transport::Transport::Reply;

Message ReplyMessage(const DrainReply& reply) { return Message{kDrainType, EncodeDrainReply(reply)}; }

/// One Forward waiting for its answer (the transport's callback may come after the caller gave up).
struct Waiter {
  std::mutex mu;
  std::condition_variable cv;
  std::optional<Result<Message>> answer;  // GUARDED_BY(mu); the first one wins

  void Set(Result<Message> r) {
    {
      std::lock_guard lock(mu);
      if (answer) return;
      answer = std::move(r);
    }
    cv.notify_all();
  }
};

}  // namespace

class CommandRelay::Impl {
 public:
  Impl(transport::EventLoop* l, transport::Transport* t, std::string name, Handler h)
      : loop(l), transport(t), node_name(std::move(name)), handler(std::move(h)) {}

  /// The transport's handler for kDrainType (loop thread).
  void OnCommand(Message m, Reply reply) {
    Result<DrainRequest> request = DecodeDrainRequest(m.body);
    if (!request.ok()) {
      reply(ReplyMessage({request.status().code(), request.status().message(), {}}));
      return;
    }
    {
      std::lock_guard lock(mu);
      if (!stopping) {
        queue.push_back({std::move(request).value(), std::move(reply)});
        wake.notify_one();
        return;
      }
    }
    reply(ReplyMessage(Stopping()));
  }

  void Work() {
    pthread_setname_np(pthread_self(), "drain-relay");
    std::unique_lock lock(mu);
    while (true) {
      wake.wait(lock, [&] { return stopping || !queue.empty(); });
      if (stopping) return;
      Command c = std::move(queue.front());
      queue.pop_front();
      lock.unlock();
      DrainReply done = handler(c.request);
      // Replies are sent from the loop thread (transport.h).
      loop->Post([reply = std::move(c.reply), m = ReplyMessage(done)] { reply(m); });
      lock.lock();
    }
  }

  Result<DrainReply> Forward(const std::string& node, const transport::PeerAddress& to,
                             const DrainRequest& request, int64_t timeout_ms) {
    auto waiter = std::make_shared<Waiter>();
    {
      // Under the lock: Stop() cannot pass between the check and the send, so the transport is
      // never used after Stop() returned.
      std::lock_guard lock(mu);
      if (stopping) return Status::Unavailable(node_name + " is stopping: it forwards no command now");
      waiters.insert(waiter);
      transport->Request(to, Message{kDrainType, EncodeDrainRequest(request)}, timeout_ms,
                         [waiter](Result<Message> r) { waiter->Set(std::move(r)); },
                         transport::Lane::kControl);
    }
    std::optional<Result<Message>> answer;
    {
      // The transport times the request out itself; the slack only covers a loop that is late.
      std::unique_lock lock(waiter->mu);
      waiter->cv.wait_for(lock, std::chrono::milliseconds(timeout_ms + 500),
                          [&] { return waiter->answer.has_value(); });
      answer = waiter->answer;
    }
    {
      std::lock_guard lock(mu);
      waiters.erase(waiter);
    }
    if (!answer) return Status::Unavailable(node + " did not answer the drain command in time");
    if (!answer->ok()) return answer->status().Annotate("forwarding to " + node);
    return DecodeDrainReply((*answer)->body);
  }

  void Stop() {
    std::deque<Command> queued;
    std::set<std::shared_ptr<Waiter>> waiting;
    {
      std::lock_guard lock(mu);
      if (stopping) return;
      stopping = true;
      queued.swap(queue);
      waiting.swap(waiters);
    }
    wake.notify_all();
    for (Command& c : queued) loop->Post([reply = std::move(c.reply), m = ReplyMessage(Stopping())] { reply(m); });
    for (const auto& w : waiting) w->Set(Status::Unavailable(node_name + " is stopping"));
    if (worker.joinable()) worker.join();
    handler = nullptr;  // what it captured (the daemon's node) is about to go
  }

  DrainReply Stopping() const {
    return {Code::kUnavailable, node_name + " is stopping: it takes no drain command now", {}};
  }

  struct Command {
    DrainRequest request;
    Reply reply;
  };

  transport::EventLoop* const loop;
  transport::Transport* const transport;
  const std::string node_name;
  Handler handler;  // worker thread only (cleared by Stop after the join)
  std::mutex mu;
  std::condition_variable wake;
  std::deque<Command> queue;                   // GUARDED_BY(mu)
  std::set<std::shared_ptr<Waiter>> waiters;   // GUARDED_BY(mu)
  bool stopping = false;                       // GUARDED_BY(mu)
  std::thread worker;
};

CommandRelay::CommandRelay(transport::EventLoop* loop, transport::Transport* transport,
                           std::string node_name, Handler handler)
    : impl_(std::make_shared<Impl>(loop, transport, std::move(node_name), std::move(handler))) {
  impl_->worker = std::thread([impl = impl_.get()] { impl->Work(); });
  // The handler keeps the Impl alive as long as the transport does: after Stop it still answers
  // "stopping" instead of leaving the sender to its timeout.
  transport->Handle(kDrainType, [impl = impl_](const transport::Sender&, Message m, Reply reply) {
    impl->OnCommand(std::move(m), std::move(reply));
  });
}

CommandRelay::~CommandRelay() { Stop(); }

Result<DrainReply> CommandRelay::Forward(const std::string& node, const transport::PeerAddress& to,
                                         const DrainRequest& request, int64_t timeout_ms) const {
  return impl_->Forward(node, to, request, timeout_ms);
}

void CommandRelay::Stop() { impl_->Stop(); }

}  // namespace sessiond::drain
