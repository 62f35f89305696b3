#include "server/reconstruction_service.h"

#include "absl/strings/str_cat.h"
#include "proto/rpc_status.h"
#include "server/validation.h"

namespace v2p::server {

namespace v1 = voxel2pixel::v1;

// Draws per sample one request may ask for (each is a generator pass).
constexpr int kMaxSamplesPerRequest = 64;

namespace {

// The worker call that answers `request` into `response`.
Dispatcher::Call ReconstructOnWorker(const v1::ReconstructRequest& request,
                                     v1::ReconstructResponse* response) {
  return [&request, response](auto& stub, grpc::ClientContext& ctx) {
    response->Clear();
    return stub.Reconstruct(&ctx, request, response);
  };
}

}  // namespace

ReconstructionService::ReconstructionService(const Dispatcher* dispatcher,
                                             ModelCatalog* catalog,
                                             prometheus::Gauge* streams_in_flight,
                                             RequestCoalescer::Options coalescing)
    : dispatcher_(dispatcher),
      catalog_(catalog),
      streams_in_flight_(streams_in_flight),
      coalescer_(std::move(coalescing),
                 [dispatcher](const v1::ReconstructRequest& request, absl::Time deadline,
                              v1::ReconstructResponse* response) {
                   return dispatcher->RunUntil(deadline, ReconstructOnWorker(request, response),
                                               request.model());
                 }) {}

absl::Status ReconstructionService::Validate(
    const grpc::ServerContext* context, const v1::ReconstructRequest& request) {
  if (absl::Status s = ValidateModelRef(request.model()); !s.ok()) return s;
  if (absl::Status s = ValidateNotEmpty(request); !s.ok()) return s;
  if (request.num_samples() < 0 || request.num_samples() > kMaxSamplesPerRequest)
    return absl::InvalidArgumentError(absl::StrCat(
        "num_samples is ", request.num_samples(), "; ask for 0 (no draws) to ",
        kMaxSamplesPerRequest, " draws per sample"));
  auto model =
      catalog_->Lookup(context, request.model(), request.model_version());
  if (!model.ok()) return model.status();
  for (int i = 0; i < request.samples_size(); ++i) {
    if (absl::Status s = ValidateSample(request.samples(i), i, *model); !s.ok())
      return s;
  }
  return absl::OkStatus();
}

grpc::Status ReconstructionService::ValidateAndForward(
    grpc::ServerContext* context, const v1::ReconstructRequest& request,
    v1::ReconstructResponse* response) {
  if (absl::Status s = Validate(context, request); !s.ok())
    return ToGrpcStatus(s);
  // Draws are a generator pass per sample each and are not batched.
  if (request.num_samples() == 0 && coalescer_.Accepts(request)) {
    return coalescer_.Run(context, dispatcher_->DeadlineFor(context), request, response);
  }
  return dispatcher_->Run(context, ReconstructOnWorker(request, response), request.model());
}

grpc::Status ReconstructionService::Reconstruct(
    grpc::ServerContext* context, const v1::ReconstructRequest* request,
    v1::ReconstructResponse* response) {
  return ValidateAndForward(context, *request, response);
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
