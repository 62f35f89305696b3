#include "server/model_catalog.h"

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "proto/rpc_status.h"

namespace v2p::server {

ModelCatalog::Model ModelCatalog::Remembered(const Key& key, absl::Time now) {
  absl::MutexLock lock(&mu_);
  auto it = cache_.find(key);
  if (it != cache_.end() && now - it->second.second < options_.ttl) return it->second.first;
  return nullptr;
}

void ModelCatalog::Remember(const Key& key, Model model, absl::Time when) {
  absl::MutexLock lock(&mu_);
  cache_[key] = {std::move(model), when};
}

void ModelCatalog::LookupAsync(const grpc::ServerContextBase* context, const std::string& name,
                               int64_t version, std::function<void(absl::StatusOr<Model>)> done) {
  const Key key(name, version);
  const absl::Time now = absl::Now();
  if (Model model = Remembered(key, now)) {
    done(std::move(model));
    return;
  }
  struct Call {
    voxel2pixel::v1::GetModelRequest request;
    voxel2pixel::v1::Model model;
  };
  auto call = std::make_shared<Call>();
  call->request.set_name(name);
  call->request.set_version(version);
  dispatcher_->RunAsync(
      context, dispatcher_->DeadlineFor(context),
      [call](Dispatcher::Stub& stub, grpc::ClientContext* ctx,
             std::function<void(grpc::Status)> cb) {
        stub.async()->GetModel(ctx, &call->request, &call->model, std::move(cb));
      },
      "",
      [this, key, now, call, done = std::move(done)](grpc::Status status) {
        if (!status.ok()) {
          absl::Status s = FromGrpcStatus(status);
          // A worker's own answer (NOT_FOUND, a bad version) reads as it
          // is; a failure to reach one says where it happened.
          if (s.code() != absl::StatusCode::kNotFound &&
              s.code() != absl::StatusCode::kInvalidArgument) {
            s = absl::Status(s.code(),
                             absl::StrCat("looking up model ", key.first, ": ", s.message()));
          }
          done(std::move(s));
          return;
        }
        auto model = std::make_shared<const voxel2pixel::v1::Model>(std::move(call->model));
        Remember(key, model, now);
        done(std::move(model));
      });
}

}  // namespace v2p::server
