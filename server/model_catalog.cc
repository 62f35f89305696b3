#include "server/model_catalog.h"

#include "absl/time/clock.h"
#include "proto/rpc_status.h"

namespace v2p::server {

absl::StatusOr<voxel2pixel::v1::Model> ModelCatalog::Lookup(
    const grpc::ServerContext* context, const std::string& name,
    int64_t version) {
  const auto key = std::make_pair(name, version);
  const absl::Time now = absl::Now();
  {
    absl::MutexLock lock(&mu_);
    auto it = cache_.find(key);
    if (it != cache_.end() && now - it->second.second < options_.ttl)
      return it->second.first;
  }
  voxel2pixel::v1::GetModelRequest request;
  request.set_name(name);
  request.set_version(version);
  voxel2pixel::v1::Model model;
  const grpc::Status status =
      dispatcher_->Run(context, [&](auto& stub, grpc::ClientContext& ctx) {
        return stub.GetModel(&ctx, request, &model);
      });
  if (!status.ok()) return FromGrpcStatus(status);
  absl::MutexLock lock(&mu_);
  cache_[key] = {model, now};
  return model;
}

}  // namespace v2p::server
