// The public Reconstruction service: validates each request, then forwards
// it to a worker through the Dispatcher, coalescing concurrent requests for
// one model into one worker call (RequestCoalescer) unless
// `coalescing.max_batch_size` is 1. Holds no model. Thread-safe.
//
// Reconstruct is served on gRPC's callback API: no thread waits for a
// worker per request, and one batch's answer completes all its requests on
// the thread it arrives on (under load this took about 40% off the
// gateway's CPU per sample; README, "Serving figures"). StreamReconstruct
// too: each stream keeps up to `stream_window` samples in flight through
// the same queue and writes their results in the order sent; it reads no
// further while its window is full, so a client's sends block (HTTP/2 flow
// control) rather than samples being dropped.
#ifndef V2P_SERVER_RECONSTRUCTION_SERVICE_H_
#define V2P_SERVER_RECONSTRUCTION_SERVICE_H_

#include <prometheus/gauge.h>

#include "server/auth.h"
#include "server/caller_limits.h"
#include "server/dispatcher.h"
#include "server/model_catalog.h"
#include "server/request_coalescer.h"
#include "voxel2pixel/v1/reconstruction_service.grpc.pb.h"

namespace v2p::server {

class ReconstructionService final : public voxel2pixel::v1::Reconstruction::CallbackService {
 public:
  // Both must outlive the service.
  // `streams_in_flight` may be null.
  ReconstructionService(const Dispatcher* dispatcher, ModelCatalog* catalog,
                        prometheus::Gauge* streams_in_flight = nullptr,
                        RequestCoalescer::Options coalescing = NoCoalescing(),
                        int stream_window = 8);
  static RequestCoalescer::Options NoCoalescing() {
    RequestCoalescer::Options o;
    o.max_batch_size = 1;
    return o;
  }

  // Calls need the `reconstruct` role (server/auth.h); null: no tokens.
  // Set before serving.
  void set_authorizer(const Authorizer* auth) { auth_ = auth; }
  // Streams beyond a caller's ceiling are refused; null: no ceiling.
  void set_caller_limits(CallerLimits* limits) { limits_ = limits; }

  grpc::ServerUnaryReactor* Reconstruct(grpc::CallbackServerContext* context,
                                        const voxel2pixel::v1::ReconstructRequest* request,
                                        voxel2pixel::v1::ReconstructResponse* response) override;

  grpc::ServerBidiReactor<voxel2pixel::v1::StreamReconstructRequest,
                          voxel2pixel::v1::StreamReconstructResponse>*
  StreamReconstruct(grpc::CallbackServerContext* context) override;

  // Not coalesced (a request with progress is refined as a batch of its
  // own anyway): relayed from one worker's ReconstructWithProgress, one
  // message at a time, the next read from the worker once the last is
  // written to the caller, so a slow reader slows the refiner instead of
  // messages piling up here.
  grpc::ServerWriteReactor<voxel2pixel::v1::ReconstructProgress>* ReconstructWithProgress(
      grpc::CallbackServerContext* context,
      const voxel2pixel::v1::ReconstructRequest* request) override;

 private:
  class UnaryCall;
  class StreamCall;
  class ProgressCall;
  // What can be checked without the model's description (`with_progress`:
  // for ReconstructWithProgress, which alone takes progress_every) ...
  static absl::Status ValidateRequest(const voxel2pixel::v1::ReconstructRequest& request,
                                      bool with_progress);
  // ... and each sample against it (voxel count, finite values).
  static absl::Status ValidateSamples(const voxel2pixel::v1::ReconstructRequest& request,
                                      const voxel2pixel::v1::Model& model);
  // Both, looking the model up without blocking; `done` gets the verdict.
  // `request` and `context` must stay valid until then.
  void ValidateAsync(const grpc::ServerContextBase* context,
                     const voxel2pixel::v1::ReconstructRequest& request,
                     std::function<void(absl::Status)> done, bool with_progress = false);

  const Dispatcher* const dispatcher_;
  ModelCatalog* const catalog_;
  prometheus::Gauge* const streams_in_flight_;
  RequestCoalescer coalescer_;
  const int stream_window_;
  const Authorizer* auth_ = nullptr;
  CallerLimits* limits_ = nullptr;
};

}  // namespace v2p::server

#endif  // V2P_SERVER_RECONSTRUCTION_SERVICE_H_
