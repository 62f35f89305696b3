#include "server/dispatcher.h"

#include "absl/time/clock.h"
#include "proto/rpc_status.h"

namespace v2p::server {

absl::Time Dispatcher::DeadlineFor(const grpc::ServerContext* context) const {
  absl::Time deadline = absl::Now() + options_.default_deadline;
  if (context != nullptr) {
    const absl::Time caller = absl::FromChrono(context->deadline());
    if (caller < deadline) deadline = caller;
  }
  return deadline;
}

grpc::Status Dispatcher::Run(const grpc::ServerContext* context, const Call& call,
                             const std::string& model) const {
  return RunWith(context, DeadlineFor(context), call, model);
}

grpc::Status Dispatcher::RunUntil(absl::Time deadline, const Call& call,
                                  const std::string& model) const {
  return RunWith(nullptr, deadline, call, model);
}

grpc::Status Dispatcher::RunWith(const grpc::ServerContext* context, absl::Time deadline,
                                 const Call& call, const std::string& model) const {
  grpc::Status status;
  std::shared_ptr<WorkerHandle> failed;
  for (int attempt = 0; attempt < 2; ++attempt) {
    auto worker = pool_->Acquire(deadline, failed.get(), model);
    if (!worker.ok()) {
      return attempt == 0 ? ToGrpcStatus(worker.status()) : status;
    }
    std::unique_ptr<grpc::ClientContext> client;
    if (context != nullptr) {
      client = grpc::ClientContext::FromServerContext(*context);
    } else {
      client = std::make_unique<grpc::ClientContext>();
      client->set_deadline(absl::ToChronoTime(deadline));
    }
    ++(*worker)->outstanding;
    status = call(*(*worker)->stub, *client);
    --(*worker)->outstanding;
    if (status.ok() && !model.empty()) (*worker)->NoteHolds(model);
    if (status.error_code() != grpc::StatusCode::UNAVAILABLE) return status;
    if (context != nullptr && context->IsCancelled()) return status;
    failed = *worker;
  }
  return status;
}

}  // namespace v2p::server
