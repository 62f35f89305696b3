// The worker's gRPC edge (voxel2pixel.worker.v1.Worker): validates,
// converts, runs the loaded pipeline, converts back. Thread-safe.
#ifndef V2P_WORKERS_WORKER_SERVICE_H_
#define V2P_WORKERS_WORKER_SERVICE_H_

#include <memory>
#include <string>

#include "voxel2pixel/worker/v1/worker.grpc.pb.h"
#include "workers/batcher.h"
#include "workers/model_registry.h"
#include "workers/worker_metrics.h"

namespace v2p::worker {

class WorkerService final : public voxel2pixel::worker::v1::Worker::Service {
 public:
  struct Options {
    std::string device = "cpu";
  };
  // `registry` and `batcher` must outlive the service; a null batcher runs
  // each request on its own.
  WorkerService(ModelRegistry* registry, Batcher* batcher, WorkerMetrics* metrics,
                Options options)
      : registry_(registry), batcher_(batcher), metrics_(metrics), options_(std::move(options)) {}

  grpc::Status Reconstruct(
      grpc::ServerContext* context,
      const voxel2pixel::v1::ReconstructRequest* request,
      voxel2pixel::v1::ReconstructResponse* response) override;
  grpc::Status ListModels(
      grpc::ServerContext* context,
      const voxel2pixel::v1::ListModelsRequest* request,
      voxel2pixel::v1::ListModelsResponse* response) override;
  grpc::Status GetModel(grpc::ServerContext* context,
                        const voxel2pixel::v1::GetModelRequest* request,
                        voxel2pixel::v1::Model* response) override;
  grpc::Status ValidateDataset(
      grpc::ServerContext* context,
      const voxel2pixel::worker::v1::ValidateDatasetRequest* request,
      voxel2pixel::worker::v1::ValidateDatasetResponse* response) override;
    grpc::Status LoadModel(grpc::ServerContext* context,
                         const voxel2pixel::v1::LoadModelRequest* request,
                         voxel2pixel::v1::Model* response) override;
  grpc::Status UnloadModel(grpc::ServerContext* context,
                           const voxel2pixel::v1::UnloadModelRequest* request,
                           google::protobuf::Empty* response) override;
  grpc::Status GetWorkerInfo(
      grpc::ServerContext* context,
      const voxel2pixel::worker::v1::GetWorkerInfoRequest* request,
      voxel2pixel::worker::v1::WorkerInfo* response) override;

 private:
  absl::Status DoReconstruct(grpc::ServerContext* context,
                             const voxel2pixel::v1::ReconstructRequest& request,
                             voxel2pixel::v1::ReconstructResponse* response);

  ModelRegistry* const registry_;
  Batcher* const batcher_;
  WorkerMetrics* const metrics_;  // may be null
  const Options options_;
};

}  // namespace v2p::worker

#endif  // V2P_WORKERS_WORKER_SERVICE_H_
