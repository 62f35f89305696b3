// The public Models service, answered by any worker (they all read the
// same repository). Thread-safe.
#ifndef V2P_SERVER_MODELS_SERVICE_H_
#define V2P_SERVER_MODELS_SERVICE_H_

#include "server/dispatcher.h"
#include "voxel2pixel/v1/models_service.grpc.pb.h"

namespace v2p::server {

class ModelsService final : public voxel2pixel::v1::Models::Service {
 public:
  explicit ModelsService(const Dispatcher* dispatcher)
      : dispatcher_(dispatcher) {}

  grpc::Status ListModels(
      grpc::ServerContext* context,
      const voxel2pixel::v1::ListModelsRequest* request,
      voxel2pixel::v1::ListModelsResponse* response) override;
  grpc::Status GetModel(grpc::ServerContext* context,
                        const voxel2pixel::v1::GetModelRequest* request,
                        voxel2pixel::v1::Model* response) override;

 private:
  const Dispatcher* const dispatcher_;
};

}  // namespace v2p::server

#endif  // V2P_SERVER_MODELS_SERVICE_H_
