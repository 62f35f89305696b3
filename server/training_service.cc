#include "server/training_service.h"

#include <google/protobuf/util/time_util.h>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "proto/rpc_status.h"
#include "proto/text_proto.h"
#include "store/names.h"
#include "voxel2pixel/v1/pipeline_spec.pb.h"

namespace v2p::server {

namespace v1 = voxel2pixel::v1;

absl::Status TrainingService::Validate(const v1::CreateTrainingJobRequest& request) {
  if (absl::Status s = store::ValidateName(request.model(), "model name"); !s.ok()) return s;
  auto dataset = datasets_->Get(request.dataset());
  if (!dataset.ok()) return dataset.status();
  auto spec = ParseTextProto<v1::PipelineSpec>(request.pipeline_spec(), "pipeline_spec");
  if (!spec.ok()) return spec.status();
  if (spec->has_pixel_components()) {
    const double v = spec->pixel_components().explained_variance();
    if (spec->target() != v1::TARGET_SPACE_PIXELS || !(v >= 0 && v <= 1))
      return absl::InvalidArgumentError(
          "pipeline_spec: pixel_components goes with TARGET_SPACE_PIXELS, and its "
          "explained_variance must be in [0, 1]");
  }
  if (spec->generator().train().feature_loss() < 0 ||
      (spec->generator().train().feature_loss() > 0 && spec->target() != v1::TARGET_SPACE_DAND))
    return absl::InvalidArgumentError(
        "pipeline_spec: generator.train.feature_loss is DAND's (TARGET_SPACE_DAND) and >= 0");
  if (spec->target() == v1::TARGET_SPACE_DAND) {
    if (!spec->decoder().has_map() || spec->features().network().empty() ||
        spec->features().layers().empty())
      return absl::InvalidArgumentError(
          "pipeline_spec: TARGET_SPACE_DAND takes features { network: ... layers: ... } and "
          "decoder { map { ... } }");
  } else if (!spec->decoder().has_ridge() && !spec->decoder().has_smr()) {
    return absl::InvalidArgumentError(
        "pipeline_spec: no decoder this server knows (expected decoder { ridge { ... } } or "
        "decoder { smr { ... } })");
  } else if (spec->target() == v1::TARGET_SPACE_FEATURES) {
    if (spec->features().network().empty() || spec->features().layers().empty() ||
        (spec->has_generator() && !spec->generator().has_stored() &&
         !spec->generator().has_train())) {
      return absl::InvalidArgumentError(
          "pipeline_spec: TARGET_SPACE_FEATURES needs features { network: ... layers: ... } "
          "and no generator, generator { stored { name: ... } } or generator { train { ... } }");
    }
    if (spec->generator().has_train()) {
      const v1::TrainedGenerator& g = spec->generator().train();
      const std::string kind = g.kind().empty() ? "ICG" : g.kind();
      if (kind != "ICG" && kind != "CVAE" && kind != "CGAN" && kind != "DeCNN")
        return absl::InvalidArgumentError(absl::StrCat(
            "pipeline_spec: generator.train.kind '", kind, "' is not ICG, CVAE, CGAN or DeCNN"));
      // Without unpaired images the generator learns from the (shifted)
      // training stimuli, which exclude_training_stimuli takes away.
      if (dataset->description().unpaired_images().empty() && g.exclude_training_stimuli())
        return absl::InvalidArgumentError(absl::StrCat(
            "pipeline_spec: generator { train { exclude_training_stimuli: true } } leaves no "
            "images: dataset '", request.dataset(),
            "' names no unpaired_images (set them in its description)"));
    }
  } else if (spec->target() == v1::TARGET_SPACE_GAN_LATENT) {
    if (!spec->decoder().has_ridge() ||
        !(spec->generator().has_stored() ||
          (spec->generator().has_train() && spec->generator().train().kind() == "GAN")))
      return absl::InvalidArgumentError(
          "pipeline_spec: TARGET_SPACE_GAN_LATENT takes decoder { ridge { ... } } and "
          "generator { stored { name: ... } } naming a GAN, or generator { train { kind: "
          "\"GAN\" } }");
  } else if (spec->decoder().has_smr()) {
    return absl::InvalidArgumentError(
        "pipeline_spec: decoder { smr } decodes features; set target: TARGET_SPACE_FEATURES");
  } else if (spec->target() != v1::TARGET_SPACE_PIXELS || !spec->generator().has_identity()) {
    return absl::InvalidArgumentError(
        "pipeline_spec: expected target TARGET_SPACE_PIXELS with generator { identity {} }, "
        "or TARGET_SPACE_FEATURES");
  }
  if (spec->num_voxels() > 0 && spec->num_voxels() != dataset->num_voxels()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "pipeline_spec expects ", spec->num_voxels(), " voxels; dataset '", request.dataset(),
        "' has ", dataset->num_voxels()));
  }
  if (!(request.validation_split() >= 0 && request.validation_split() <= 0.5)) {
    return absl::InvalidArgumentError(
        absl::StrCat("validation_split ", request.validation_split(), " is outside [0, 0.5]"));
  }
  return absl::OkStatus();
}

grpc::Status TrainingService::CreateTrainingJob(grpc::ServerContext*,
                                                const v1::CreateTrainingJobRequest* request,
                                                google::longrunning::Operation* response) {
  if (absl::Status s = Validate(*request); !s.ok()) return ToGrpcStatus(s);
  v1::TrainingJobMetadata metadata;
  metadata.set_phase(v1::TrainingJobMetadata::QUEUED);
  metadata.set_dataset(request->dataset());
  metadata.set_model(request->model());
  *metadata.mutable_create_time() =
      google::protobuf::util::TimeUtil::NanosecondsToTimestamp(absl::ToUnixNanos(absl::Now()));
  *metadata.mutable_update_time() = metadata.create_time();
  auto op = operations_->Create(*request, metadata);
  if (!op.ok()) return ToGrpcStatus(op.status());
  *response = *std::move(op);
  return grpc::Status::OK;
}

}  // namespace v2p::server
