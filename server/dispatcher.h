// Sends calls to a worker on the caller's behalf: the caller's deadline and
// cancellation travel with the call (ClientContext::FromServerContext), the
// least busy ready worker is chosen, and a call that fails UNAVAILABLE
// (its worker died before answering) is retried once on a worker chosen
// afresh, which may be the restarted one. Only for idempotent calls.
//
// Run blocks its thread for the call; RunAsync does not, for callers on
// gRPC's callback threads, and waits for a worker on a thread of its own
// only when none is ready (one restarting).
#ifndef V2P_SERVER_DISPATCHER_H_
#define V2P_SERVER_DISPATCHER_H_

#include <grpcpp/grpcpp.h>

#include <functional>
#include <memory>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "server/worker_pool.h"

namespace v2p::server {

class Dispatcher {
 public:
  struct Options {
    // Bound on waiting for a ready worker when the caller set no deadline.
    absl::Duration default_deadline = absl::Seconds(60);
  };
  // `pool` must outlive the dispatcher.
  Dispatcher(WorkerPool* pool, Options options) : pool_(pool), options_(options) {}
  ~Dispatcher();  // waits for RunAsync calls to finish and release their worker

  using Stub = voxel2pixel::worker::v1::Worker::Stub;
  using Call = std::function<grpc::Status(Stub& stub, grpc::ClientContext& context)>;
  // `context` may be null (internal calls): then default_deadline applies.
  // `model`, when given, routes to a worker that holds it (see
  // WorkerPool::Acquire); a worker that answers OK is noted as holding it.
  grpc::Status Run(const grpc::ServerContextBase* context, const Call& call,
                   const std::string& model = "") const;

  // Starts the call on `stub` with `context` (e.g. with stub.async()), and
  // has it call `done` once when answered.
  using AsyncCall = std::function<void(Stub& stub, grpc::ClientContext* context,
                                       std::function<void(grpc::Status)> done)>;
  // Run without blocking: `done` is called once, with the last attempt's
  // status, on a gRPC thread or the thread that waited for a worker. With a
  // `context` (which must stay valid until `done`), the caller's deadline
  // and cancellation travel; without, `deadline` bounds the call.
  void RunAsync(const grpc::ServerContextBase* context, absl::Time deadline, AsyncCall call,
                std::string model, std::function<void(grpc::Status)> done) const;

  // The caller's deadline, or default_deadline from now when it set none
  // (or it is later).
  absl::Time DeadlineFor(const grpc::ServerContextBase* context) const;

 private:
  struct Attempts;
  // Sends `a` to a ready worker, waiting for one on a thread of its own
  // when none is ready now.
  void Try(std::shared_ptr<Attempts> a) const;
  void Issue(std::shared_ptr<Attempts> a, std::shared_ptr<WorkerHandle> worker) const;
  void Answered(std::shared_ptr<Attempts> a, grpc::Status status) const;
  void AsyncStarted() const;
  void AsyncEnded() const;

  WorkerPool* const pool_;
  const Options options_;
  mutable absl::Mutex mu_;
  mutable int async_in_flight_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace v2p::server

#endif  // V2P_SERVER_DISPATCHER_H_
