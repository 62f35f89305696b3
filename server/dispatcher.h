// Sends calls to a worker on the caller's behalf: the caller's deadline and
// cancellation travel with the call (ClientContext::FromServerContext), the
// least busy ready worker is chosen, and a call that fails UNAVAILABLE
// (its worker died before answering) is retried once on a worker chosen
// afresh, which may be the restarted one. Only for idempotent calls.
#ifndef V2P_SERVER_DISPATCHER_H_
#define V2P_SERVER_DISPATCHER_H_

#include <grpcpp/grpcpp.h>

#include <functional>

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
  Dispatcher(WorkerPool* pool, Options options)
      : pool_(pool), options_(options) {}

  using Call =
      std::function<grpc::Status(voxel2pixel::worker::v1::Worker::Stub& stub,
                                 grpc::ClientContext& context)>;
  // `context` may be null (internal calls): then default_deadline applies.
  // `model`, when given, routes to a worker that holds it (see
  // WorkerPool::Acquire); a worker that answers OK is noted as holding it.
  grpc::Status Run(const grpc::ServerContext* context, const Call& call,
                   const std::string& model = "") const;
  // For a call made on behalf of several callers (a coalesced batch): no
  // caller context, `deadline` bounds it.
  grpc::Status RunUntil(absl::Time deadline, const Call& call, const std::string& model = "") const;
  // The caller's deadline, or default_deadline from now when it set none
  // (or it is later).
  absl::Time DeadlineFor(const grpc::ServerContext* context) const;

 private:
  grpc::Status RunWith(const grpc::ServerContext* context, absl::Time deadline, const Call& call,
                       const std::string& model) const;

  WorkerPool* const pool_;
  const Options options_;
};

}  // namespace v2p::server

#endif  // V2P_SERVER_DISPATCHER_H_
