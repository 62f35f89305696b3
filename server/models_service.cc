#include "server/models_service.h"

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "proto/rpc_status.h"
#include "server/validation.h"
#include "store/owners.h"

namespace v2p::server {

namespace v1 = voxel2pixel::v1;

namespace {

// Where an error came from: the worker's address for admins (and with
// tokens off), "a worker" for labs, who have no business with addresses.
std::string WorkerLabel(const Caller& caller, const std::string& address) {
  return caller.admin() ? absl::StrCat("worker ", address) : "a worker";
}

}  // namespace

void ModelsService::AddOwner(v1::Model* model) const {
  if (auth_ != nullptr) model->set_owner(store::ModelOwner(repository_, model->name()));
}

grpc::Status ModelsService::ListModels(grpc::ServerContext* context,
                                       const v1::ListModelsRequest* request,
                                       v1::ListModelsResponse* response) {
  if (auto caller = Identify(auth_, context); !caller.ok()) return ToGrpcStatus(caller.status());
  const grpc::Status status = dispatcher_->Run(context, [&](auto& stub, grpc::ClientContext& ctx) {
    response->Clear();
    return stub.ListModels(&ctx, *request, response);
  });
  for (v1::Model& model : *response->mutable_models()) AddOwner(&model);
  return status;
}

grpc::Status ModelsService::GetModel(grpc::ServerContext* context,
                                     const v1::GetModelRequest* request, v1::Model* response) {
  auto caller = Identify(auth_, context);
  if (!caller.ok()) return ToGrpcStatus(caller.status());
  if (absl::Status s = ValidateModelRef(request->name(), request->version()); !s.ok())
    return ToGrpcStatus(s);
  const grpc::Status status = dispatcher_->Run(context, [&](auto& stub, grpc::ClientContext& ctx) {
    response->Clear();
    return stub.GetModel(&ctx, *request, response);
  });
  if (status.ok()) {
    AddPlacement(context, *caller, response);
    AddOwner(response);
  }
  return status;
}

void ModelsService::AddPlacement(const grpc::ServerContext* context, const Caller& caller,
                                 v1::Model* model) const {
  const std::string prefix = model->name() + "/";
  for (const auto& worker : pool_->ReadyWorkers()) {
    auto ctx = grpc::ClientContext::FromServerContext(*context);
    voxel2pixel::worker::v1::WorkerInfo info;
    if (!worker->stub->GetWorkerInfo(ctx.get(), {}, &info).ok()) continue;
    v1::Placement placement;
    if (caller.admin()) placement.set_worker(worker->address);
    for (const std::string& loaded : info.loaded_models()) {
      int64_t version = 0;
      if (absl::StartsWith(loaded, prefix) &&
          absl::SimpleAtoi(loaded.substr(prefix.size()), &version)) {
        placement.add_versions(version);
      }
    }
    if (placement.versions_size() > 0) *model->add_placement() = std::move(placement);
  }
}

grpc::Status ModelsService::LoadModel(grpc::ServerContext* context,
                                      const v1::LoadModelRequest* request, v1::Model* response) {
  auto caller = Identify(auth_, context);
  if (!caller.ok()) return ToGrpcStatus(caller.status());
  if (absl::Status s = ValidateModelRef(request->name(), request->version()); !s.ok())
    return ToGrpcStatus(s);
  const auto workers = pool_->ReadyWorkers();
  if (workers.empty()) return grpc::Status(grpc::StatusCode::UNAVAILABLE, "no worker is ready");
  for (const auto& worker : workers) {
    auto ctx = grpc::ClientContext::FromServerContext(*context);
    v1::Model model;
    const grpc::Status s = worker->stub->LoadModel(ctx.get(), *request, &model);
    if (!s.ok()) {
      return grpc::Status(s.error_code(), absl::StrCat(WorkerLabel(*caller, worker->address), ": ",
                                                       s.error_message()));
    }
    worker->NoteHolds(request->name());
    *response = std::move(model);
  }
  AddPlacement(context, *caller, response);
  AddOwner(response);
  return grpc::Status::OK;
}

grpc::Status ModelsService::UnloadModel(grpc::ServerContext* context,
                                        const v1::UnloadModelRequest* request,
                                        google::protobuf::Empty*) {
  auto caller = Identify(auth_, context);
  if (!caller.ok()) return ToGrpcStatus(caller.status());
  if (absl::Status s = ValidateModelRef(request->name(), request->version()); !s.ok())
    return ToGrpcStatus(s);
  if (auth_ != nullptr) {
    if (absl::Status s = CheckOwner(*caller, store::ModelOwner(repository_, request->name()),
                                    absl::StrCat("model '", request->name(), "'"));
        !s.ok())
      return ToGrpcStatus(s);
  }
  for (const auto& worker : pool_->ReadyWorkers()) {
    auto ctx = grpc::ClientContext::FromServerContext(*context);
    google::protobuf::Empty empty;
    const grpc::Status s = worker->stub->UnloadModel(ctx.get(), *request, &empty);
    // Even when one version of several went: the hint is relearnt from the
    // next answered call.
    worker->NoteUnloaded(request->name());
    if (!s.ok()) {
      return grpc::Status(s.error_code(), absl::StrCat(WorkerLabel(*caller, worker->address), ": ",
                                                       s.error_message()));
    }
  }
  return grpc::Status::OK;
}

}  // namespace v2p::server
