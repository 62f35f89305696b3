#include "server/training_service.h"

#include <google/protobuf/util/time_util.h>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "proto/rpc_status.h"
#include "proto/text_proto.h"
#include "spec/pipeline_spec_rules.h"
#include "store/names.h"
#include "store/owners.h"
#include "voxel2pixel/v1/pipeline_spec.pb.h"

namespace v2p::server {

namespace v1 = voxel2pixel::v1;

absl::Status TrainingService::Validate(const v1::CreateTrainingJobRequest& request) {
  if (absl::Status s = store::ValidateName(request.model(), "model name"); !s.ok()) return s;
  auto dataset = datasets_->Get(request.dataset());
  if (!dataset.ok()) return dataset.status();
  auto spec = ParseTextProto<v1::PipelineSpec>(request.pipeline_spec(), "pipeline_spec");
  if (!spec.ok()) return spec.status();
  spec::DatasetFacts facts;
  facts.name = request.dataset();
  facts.num_voxels = dataset->num_voxels();
  facts.has_unpaired_images = !dataset->description().unpaired_images().empty();
  // A `method { ... }` this gateway does not know by type is checked for
  // its generic bounds here; the worker that builds it checks the rest.
  if (absl::Status s = spec::ValidateTrainingSpec(*spec, facts, datasets_->root()); !s.ok())
    return s;
  if (!(request.validation_split() >= 0 && request.validation_split() <= 0.5)) {
    return absl::InvalidArgumentError(
        absl::StrCat("validation_split ", request.validation_split(), " is outside [0, 0.5]"));
  }
  return absl::OkStatus();
}

absl::Status TrainingService::Permit(const Caller& caller,
                                     const v1::CreateTrainingJobRequest& request) {
  if (auth_ == nullptr || caller.admin()) return absl::OkStatus();
  auto dataset = datasets_->Get(request.dataset());
  if (!dataset.ok()) return dataset.status();
  if (absl::Status s = CheckDatasetUse(caller, dataset->owner(), request.dataset()); !s.ok())
    return s;
  return store::ClaimModel(datasets_->root(), request.model(), caller.lab);
}

grpc::Status TrainingService::CreateTrainingJob(grpc::ServerContext* context,
                                                const v1::CreateTrainingJobRequest* request,
                                                google::longrunning::Operation* response) {
  auto caller = Identify(auth_, context);
  if (!caller.ok()) return ToGrpcStatus(caller.status());
  if (absl::Status s = Validate(*request); !s.ok()) return ToGrpcStatus(s);
  if (absl::Status s = Permit(*caller, *request); !s.ok()) return ToGrpcStatus(s);
  v1::TrainingJobMetadata metadata;
  metadata.set_phase(v1::TrainingJobMetadata::QUEUED);
  metadata.set_dataset(request->dataset());
  metadata.set_model(request->model());
  metadata.set_owner(caller->lab);
  *metadata.mutable_create_time() =
      google::protobuf::util::TimeUtil::NanosecondsToTimestamp(absl::ToUnixNanos(absl::Now()));
  *metadata.mutable_update_time() = metadata.create_time();
  auto op = operations_->Create(*request, metadata);
  if (!op.ok()) return ToGrpcStatus(op.status());
  *response = *std::move(op);
  return grpc::Status::OK;
}

}  // namespace v2p::server
