#include "server/models_service.h"

#include "proto/rpc_status.h"
#include "server/validation.h"

namespace v2p::server {

namespace v1 = voxel2pixel::v1;

grpc::Status ModelsService::ListModels(grpc::ServerContext* context,
                                       const v1::ListModelsRequest* request,
                                       v1::ListModelsResponse* response) {
  return dispatcher_->Run(context, [&](auto& stub, grpc::ClientContext& ctx) {
    response->Clear();
    return stub.ListModels(&ctx, *request, response);
  });
}

grpc::Status ModelsService::GetModel(grpc::ServerContext* context,
                                     const v1::GetModelRequest* request,
                                     v1::Model* response) {
  if (absl::Status s = ValidateModelRef(request->name()); !s.ok())
    return ToGrpcStatus(s);
  return dispatcher_->Run(context, [&](auto& stub, grpc::ClientContext& ctx) {
    response->Clear();
    return stub.GetModel(&ctx, *request, response);
  });
}

}  // namespace v2p::server
