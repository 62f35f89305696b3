// The public Models service, answered by any worker (they all read the
// same repository). Thread-safe.
#ifndef V2P_SERVER_MODELS_SERVICE_H_
#define V2P_SERVER_MODELS_SERVICE_H_

#include <string>

#include "server/auth.h"
#include "server/dispatcher.h"
#include "voxel2pixel/v1/models_service.grpc.pb.h"

namespace v2p::server {

class ModelsService final : public voxel2pixel::v1::Models::Service {
 public:
  // Both must outlive the service. LoadModel, UnloadModel and the
  // placement in GetModel go to every ready worker of `pool`.
  ModelsService(const Dispatcher* dispatcher, const WorkerPool* pool)
      : dispatcher_(dispatcher), pool_(pool) {}
  // With tokens (server/auth.h): reads need `reconstruct`, UnloadModel
  // `train` and ownership of the model; models carry their owner from
  // `repository`; worker addresses are shown to admins only. Set before
  // serving.
  void set_authorizer(const Authorizer* auth, std::string repository) {
    auth_ = auth;
    repository_ = std::move(repository);
  }

  grpc::Status ListModels(grpc::ServerContext* context,
                          const voxel2pixel::v1::ListModelsRequest* request,
                          voxel2pixel::v1::ListModelsResponse* response) override;
  grpc::Status GetModel(grpc::ServerContext* context,
                        const voxel2pixel::v1::GetModelRequest* request,
                        voxel2pixel::v1::Model* response) override;

  grpc::Status LoadModel(grpc::ServerContext* context,
                         const voxel2pixel::v1::LoadModelRequest* request,
                         voxel2pixel::v1::Model* response) override;
  grpc::Status UnloadModel(grpc::ServerContext* context,
                           const voxel2pixel::v1::UnloadModelRequest* request,
                           google::protobuf::Empty* response) override;

 private:
  // Fills model->placement from every ready worker's loaded models.
  void AddPlacement(const grpc::ServerContext* context, const Caller& caller,
                    voxel2pixel::v1::Model* model) const;
  void AddOwner(voxel2pixel::v1::Model* model) const;

  const Dispatcher* const dispatcher_;
  const WorkerPool* const pool_;
  const Authorizer* auth_ = nullptr;
  std::string repository_;
};

}  // namespace v2p::server

#endif  // V2P_SERVER_MODELS_SERVICE_H_
