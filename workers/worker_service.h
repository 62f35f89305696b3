// The worker's gRPC edge (voxel2pixel.worker.v1.Worker): validates,
// converts, runs the loaded pipeline, converts back. Thread-safe.
//
// Reconstruct is served on gRPC's callback API: the call is validated on
// the thread gRPC delivers it on and handed to the Batcher, whose thread
// answers it; no thread waits per call (a synchronous handler cost the
// worker twice the CPU per single-sample call, in thread hand-offs). A
// model not loaded yet is loaded on a thread of its own. The other methods
// are quick and stay synchronous.
#ifndef V2P_WORKERS_WORKER_SERVICE_H_
#define V2P_WORKERS_WORKER_SERVICE_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "core/base/stopwatch.h"
#include "voxel2pixel/worker/v1/worker.grpc.pb.h"
#include "workers/batcher.h"
#include "workers/model_registry.h"
#include "workers/worker_metrics.h"

namespace v2p::worker {

class WorkerService final
    : public voxel2pixel::worker::v1::Worker::WithCallbackMethod_Reconstruct<
          voxel2pixel::worker::v1::Worker::WithCallbackMethod_ReconstructWithProgress<
              voxel2pixel::worker::v1::Worker::Service>> {
 public:
  struct Options {
    std::string device = "cpu";
    // A ReconstructWithProgress whose caller takes no message for this
    // long ends with RESOURCE_EXHAUSTED, freeing its batch thread.
    absl::Duration progress_stall = absl::Seconds(10);
  };
  // All three must outlive the service; `metrics` may be null.
  WorkerService(ModelRegistry* registry, Batcher* batcher, WorkerMetrics* metrics, Options options)
      : registry_(registry), batcher_(batcher), metrics_(metrics), options_(std::move(options)) {}

  grpc::ServerUnaryReactor* Reconstruct(grpc::CallbackServerContext* context,
                                        const voxel2pixel::v1::ReconstructRequest* request,
                                        voxel2pixel::v1::ReconstructResponse* response) override;
  // As Reconstruct, with the refiner's progress written every
  // request->progress_every iterations, then the response. At most a few
  // messages wait to be written: beyond that the refiner waits for the
  // caller to read (so none is dropped), for its cancel, or for
  // Options::progress_stall.
  grpc::ServerWriteReactor<voxel2pixel::v1::ReconstructProgress>* ReconstructWithProgress(
      grpc::CallbackServerContext* context,
      const voxel2pixel::v1::ReconstructRequest* request) override;
  grpc::Status ListModels(grpc::ServerContext* context,
                          const voxel2pixel::v1::ListModelsRequest* request,
                          voxel2pixel::v1::ListModelsResponse* response) override;
  grpc::Status GetModel(grpc::ServerContext* context,
                        const voxel2pixel::v1::GetModelRequest* request,
                        voxel2pixel::v1::Model* response) override;
  grpc::Status ValidateDataset(grpc::ServerContext* context,
                               const voxel2pixel::worker::v1::ValidateDatasetRequest* request,
                               voxel2pixel::worker::v1::ValidateDatasetResponse* response) override;
  grpc::Status LoadModel(grpc::ServerContext* context,
                         const voxel2pixel::v1::LoadModelRequest* request,
                         voxel2pixel::v1::Model* response) override;
  grpc::Status UnloadModel(grpc::ServerContext* context,
                           const voxel2pixel::v1::UnloadModelRequest* request,
                           google::protobuf::Empty* response) override;
  grpc::Status GetWorkerInfo(grpc::ServerContext* context,
                             const voxel2pixel::worker::v1::GetWorkerInfoRequest* request,
                             voxel2pixel::worker::v1::WorkerInfo* response) override;

 private:
  // How one call is answered: a unary reactor, or a progress stream.
  class Reply;
  class UnaryReply;
  class ProgressStream;
  // Serves `request` into `reply`: with the model loaded already, at once;
  // otherwise through LoadThenSubmit.
  void Start(grpc::CallbackServerContext* context,
             const voxel2pixel::v1::ReconstructRequest* request, Reply* reply);
  // Fetches the requested model (loading it on a thread of its own, never
  // on gRPC's) and Submits the request to it; `reply` is done either way.
  void LoadThenSubmit(grpc::CallbackServerContext* context,
                      const voxel2pixel::v1::ReconstructRequest* request, Reply* reply,
                      core::Stopwatch received, bool is_retry);
  // Validates the request and submits it to the batcher; `reply` is done
  // either way. `received` started when the call arrived. A request that
  // raced UnloadModel (the batcher answers ABORTED) fetches the model
  // again, once.
  void Submit(grpc::CallbackServerContext* context,
              const voxel2pixel::v1::ReconstructRequest* request, Reply* reply,
              std::shared_ptr<const core::Pipeline> pipeline, core::Stopwatch received,
              bool is_retry);
  // Fills `response` from the pipeline's results.
  void Answer(const voxel2pixel::v1::ReconstructRequest& request, const core::Pipeline& pipeline,
              std::vector<core::Reconstruction> recs, absl::Duration before_queue,
              const core::Stopwatch& received,
              voxel2pixel::v1::ReconstructResponse* response) const;

  ModelRegistry* const registry_;
  Batcher* const batcher_;
  WorkerMetrics* const metrics_;  // may be null
  const Options options_;
};

}  // namespace v2p::worker

#endif  // V2P_WORKERS_WORKER_SERVICE_H_
