#include "server/reconstruction_service.h"

#include <optional>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "proto/rpc_status.h"
#include "server/validation.h"

namespace v2p::server {

namespace v1 = voxel2pixel::v1;

// Draws per sample one request may ask for (each is a generator pass).
constexpr int kMaxSamplesPerRequest = 64;

ReconstructionService::ReconstructionService(const Dispatcher* dispatcher,
                                             ModelCatalog* catalog,
                                             prometheus::Gauge* streams_in_flight,
                                             RequestCoalescer::Options coalescing)
    : dispatcher_(dispatcher),
      catalog_(catalog),
      streams_in_flight_(streams_in_flight),
      coalescer_(std::move(coalescing),
                 [dispatcher](const grpc::ServerContextBase* context,
                              const v1::ReconstructRequest* request, absl::Time deadline,
                              v1::ReconstructResponse* response,
                              std::function<void(grpc::Status)> done) {
                   dispatcher->RunAsync(
                       context, deadline,
                       [request, response](Dispatcher::Stub& stub, grpc::ClientContext* ctx,
                                           std::function<void(grpc::Status)> cb) {
                         response->Clear();
                         stub.async()->Reconstruct(ctx, request, response, std::move(cb));
                       },
                       request->model(), std::move(done));
                 }) {}

absl::Status ReconstructionService::ValidateRequest(const v1::ReconstructRequest& request) {
  if (absl::Status s = ValidateModelRef(request.model()); !s.ok()) return s;
  if (absl::Status s = ValidateNotEmpty(request); !s.ok()) return s;
  if (request.num_samples() < 0 || request.num_samples() > kMaxSamplesPerRequest)
    return absl::InvalidArgumentError(absl::StrCat(
        "num_samples is ", request.num_samples(), "; ask for 0 (no draws) to ",
        kMaxSamplesPerRequest, " draws per sample"));
  return absl::OkStatus();
}

absl::Status ReconstructionService::ValidateSamples(const v1::ReconstructRequest& request,
                                                    const v1::Model& model) {
  for (int i = 0; i < request.samples_size(); ++i) {
    if (absl::Status s = ValidateSample(request.samples(i), i, model); !s.ok())
      return s;
  }
  return absl::OkStatus();
}

grpc::Status ReconstructionService::ValidateAndForward(
    grpc::ServerContext* context, const v1::ReconstructRequest& request,
    v1::ReconstructResponse* response) {
  if (absl::Status s = ValidateRequest(request); !s.ok()) return ToGrpcStatus(s);
  auto model = catalog_->Lookup(context, request.model(), request.model_version());
  if (!model.ok()) return ToGrpcStatus(model.status());
  if (absl::Status s = ValidateSamples(request, *model); !s.ok()) return ToGrpcStatus(s);
  return coalescer_.Run(context, dispatcher_->DeadlineFor(context), request, response);
}

// One unary Reconstruct: answered through its coalescer ticket, whichever
// comes first of the worker's answer, a validation error, or the caller
// giving up while the request is queued. The answer is held back while the
// request is still being read (Hold/Release around the model lookup):
// gRPC frees the request once the call is finished.
class ReconstructionService::UnaryCall final : public grpc::ServerUnaryReactor {
 public:
  UnaryCall(RequestCoalescer* coalescer, grpc::CallbackServerContext* context,
            v1::ReconstructResponse* response)
      : coalescer_(coalescer), context_(context) {
    ticket_ = coalescer_->Open([this, response](grpc::Status status, v1::ReconstructResponse r) {
      if (status.ok()) *response = std::move(r);
      {
        absl::MutexLock lock(&mu_);
        if (holds_ > 0) {
          held_ = std::move(status);
          return;
        }
      }
      Finish(status);
    });
  }
  const RequestCoalescer::Ticket& ticket() const { return ticket_; }

  void Hold() {
    absl::MutexLock lock(&mu_);
    ++holds_;
  }
  void Release() {
    std::optional<grpc::Status> held;
    {
      absl::MutexLock lock(&mu_);
      if (--holds_ > 0) return;
      held.swap(held_);
    }
    if (held) Finish(*held);
  }

  void OnCancel() override {
    const bool expired = std::chrono::system_clock::now() >= context_->deadline();
    coalescer_->Withdraw(ticket_, expired ? grpc::Status(grpc::StatusCode::DEADLINE_EXCEEDED,
                                                         "deadline passed while waiting for a worker")
                                          : grpc::Status(grpc::StatusCode::CANCELLED,
                                                         "the caller cancelled"));
  }
  void OnDone() override { delete this; }

 private:
  RequestCoalescer* const coalescer_;
  grpc::CallbackServerContext* const context_;
  RequestCoalescer::Ticket ticket_;
  absl::Mutex mu_;
  int holds_ ABSL_GUARDED_BY(mu_) = 0;
  std::optional<grpc::Status> held_ ABSL_GUARDED_BY(mu_);
};

grpc::ServerUnaryReactor* ReconstructionService::Reconstruct(
    grpc::CallbackServerContext* context, const v1::ReconstructRequest* request,
    v1::ReconstructResponse* response) {
  auto* call = new UnaryCall(&coalescer_, context, response);
  const RequestCoalescer::Ticket ticket = call->ticket();
  if (absl::Status s = ValidateRequest(*request); !s.ok()) {
    coalescer_.Withdraw(ticket, ToGrpcStatus(s));
    return call;
  }
  call->Hold();
  catalog_->LookupAsync(
      context, request->model(), request->model_version(),
      [this, call, context, request](absl::StatusOr<v1::Model> model) {
        absl::Status s = model.status();
        if (s.ok()) s = ValidateSamples(*request, *model);
        if (s.ok()) {
          coalescer_.Submit(call->ticket(), context, dispatcher_->DeadlineFor(context), *request);
        } else {
          coalescer_.Withdraw(call->ticket(), ToGrpcStatus(s));
        }
        call->Release();
      });
  return call;
}

grpc::Status ReconstructionService::StreamReconstruct(
    grpc::ServerContext* context,
    grpc::ServerReaderWriter<v1::StreamReconstructResponse,
                             v1::StreamReconstructRequest>* stream) {
  if (streams_in_flight_ != nullptr) streams_in_flight_->Increment();
  const grpc::Status status = Stream(context, stream);
  if (streams_in_flight_ != nullptr) streams_in_flight_->Decrement();
  return status;
}

grpc::Status ReconstructionService::Stream(
    grpc::ServerContext* context,
    grpc::ServerReaderWriter<v1::StreamReconstructResponse, v1::StreamReconstructRequest>* stream) {
  v1::StreamReconstructRequest in;
  std::string model;
  int64_t version = 0;
  for (int64_t n = 0; stream->Read(&in); ++n) {
    if (n == 0) {
      model = in.model();
      version = in.model_version();
    } else if ((!in.model().empty() && in.model() != model) ||
               (in.model_version() != 0 && in.model_version() != version)) {
      return grpc::Status(
          grpc::StatusCode::INVALID_ARGUMENT,
          absl::StrCat("stream message ", n, " names model ", in.model(), " v",
                       in.model_version(), "; this stream serves ", model, " v",
                       version));
    }
    v1::ReconstructRequest request;
    request.set_model(model);
    request.set_model_version(version);
    request.set_include_pixels(in.include_pixels());
    request.set_num_samples(in.num_samples());
    request.set_sample_seed(in.sample_seed());
    *request.add_samples() = std::move(*in.mutable_sample());
    v1::ReconstructResponse response;
    const grpc::Status status = ValidateAndForward(context, request, &response);
    if (!status.ok()) {
      return grpc::Status(
          status.error_code(),
          absl::StrCat("stream message ", n, ": ", status.error_message()));
    }
    v1::StreamReconstructResponse out;
    *out.mutable_result() = std::move(*response.mutable_results(0));
    if (!stream->Write(out)) {
      return grpc::Status(grpc::StatusCode::CANCELLED,
                          "client closed the stream");
    }
  }
  return grpc::Status::OK;
}

}  // namespace v2p::server
