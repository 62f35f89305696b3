#include "server/health_watch.h"

#include <deque>
#include <optional>
#include <utility>

#include "grpc/health/v1/health.grpc.pb.h"

namespace v2p::server {

using grpc::health::v1::HealthCheckRequest;
using grpc::health::v1::HealthCheckResponse;

namespace {

// One Watch call on gRPC's callback API. Its callbacks only record what
// arrived; the watch's thread waits for that on this mutex. (A thread
// blocked in a synchronous Read instead polls gRPC's sockets: it joins
// the pollers that take turns handling every connection of the process,
// and each hand-off to or from it costs the gateway a context switch.)
class WatchCall final : public grpc::ClientReadReactor<HealthCheckResponse> {
 public:
  void OnReadDone(bool ok) override {
    if (!ok) return;  // OnDone follows
    {
      absl::MutexLock lock(&mu_);
      answers_.push_back(response_.status() == HealthCheckResponse::SERVING);
    }
    StartRead(&response_);
  }
  void OnDone(const grpc::Status& status) override {
    absl::MutexLock lock(&mu_);
    status_ = status;
    done_ = true;
  }

  void Start() {
    StartRead(&response_);
    StartCall();
  }

  // The next answer (true: serving), or nullopt once the call is over and
  // every answer has been taken; the call's status is then in status().
  std::optional<bool> Next() {
    absl::MutexLock lock(&mu_);
    mu_.Await(absl::Condition(
        +[](WatchCall* c)
             ABSL_EXCLUSIVE_LOCKS_REQUIRED(c->mu_) { return c->done_ || !c->answers_.empty(); },
        this));
    if (answers_.empty()) return std::nullopt;
    const bool serving = answers_.front();
    answers_.pop_front();
    return serving;
  }
  grpc::Status status() {
    absl::MutexLock lock(&mu_);
    return status_;
  }

 private:
  HealthCheckResponse response_;  // gRPC's until OnDone
  absl::Mutex mu_;
  std::deque<bool> answers_ ABSL_GUARDED_BY(mu_);
  bool done_ ABSL_GUARDED_BY(mu_) = false;
  grpc::Status status_ ABSL_GUARDED_BY(mu_);
};

}  // namespace

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
    WatchCall call;
    stub->async()->Watch(&context, &request, &call);
    call.Start();
    while (std::optional<bool> serving = call.Next()) {
      Report(*serving);
      // A worker that stops serving may be draining, and it waits for
      // every open call: close the stream, ask again after `retry`.
      if (!*serving) {
        context.TryCancel();
        break;
      }
    }
    while (call.Next().has_value()) {
    }  // the call's end, after a cancel: `call` must outlive it
    const grpc::Status status = call.status();
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
