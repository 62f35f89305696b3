#include "server/health_watch.h"

#include <utility>

#include "grpc/health/v1/health.grpc.pb.h"

namespace v2p::server {

using grpc::health::v1::HealthCheckRequest;
using grpc::health::v1::HealthCheckResponse;

HealthWatch::HealthWatch(std::shared_ptr<grpc::Channel> channel, std::string service,
                         std::function<void(bool)> on_change, absl::Duration retry)
    : channel_(std::move(channel)),
      service_(std::move(service)),
      on_change_(std::move(on_change)),
      retry_(retry),
      thread_(&HealthWatch::Run, this) {}

HealthWatch::~HealthWatch() {
  {
    absl::MutexLock lock(&mu_);
    stop_ = true;
    if (call_ != nullptr) call_->TryCancel();
  }
  thread_.join();
}

void HealthWatch::Report(bool serving) {
  if (last_ == static_cast<int>(serving)) return;
  last_ = serving;
  on_change_(serving);
}

void HealthWatch::Run() {
  auto stub = grpc::health::v1::Health::NewStub(channel_);
  HealthCheckRequest request;
  request.set_service(service_);
  while (true) {
    grpc::ClientContext context;
    {
      absl::MutexLock lock(&mu_);
      if (stop_) return;
      call_ = &context;  // a cancel from here on ends the call below
    }
    auto reader = stub->Watch(&context, request);
    HealthCheckResponse response;
    while (reader->Read(&response)) {
      const bool serving = response.status() == HealthCheckResponse::SERVING;
      Report(serving);
      // A worker that stops serving may be draining, and it waits for
      // every open call: close the stream, ask again after `retry`.
      if (!serving) {
        context.TryCancel();
        break;
      }
    }
    const grpc::Status status = reader->Finish();
    {
      absl::MutexLock lock(&mu_);
      call_ = nullptr;
      if (stop_) return;
    }
    if (status.error_code() == grpc::StatusCode::UNIMPLEMENTED) {
      Report(true);
      return;
    }
    Report(false);
    absl::MutexLock lock(&mu_);
    mu_.AwaitWithTimeout(absl::Condition(&stop_), retry_);
  }
}

}  // namespace v2p::server
