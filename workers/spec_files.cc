#include "core/base/files.h"
#include "workers/spec_files.h"


#include <filesystem>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "core/base/status_macros.h"
#include "core/data/image.h"
#include "proto/text_proto.h"

namespace v2p::worker {
namespace {

namespace v1 = voxel2pixel::v1;

template <typename Message>
absl::StatusOr<Message> ReadTextProto(const std::string& path) {
  ASSIGN_OR_RETURN(const std::string text, core::ReadFile(path));
  return v2p::ParseTextProto<Message>(text, path);
}

}  // namespace

absl::StatusOr<v1::PipelineSpec> ReadPipelineSpec(const std::string& path) {
  return ReadTextProto<v1::PipelineSpec>(path);
}

absl::StatusOr<v1::PipelineSpec> ParsePipelineSpec(const std::string& text) {
  return v2p::ParseTextProto<v1::PipelineSpec>(text, "pipeline spec");
}

absl::StatusOr<v1::DatasetDescription> ReadDatasetDescription(
    const std::string& path) {
  return ReadTextProto<v1::DatasetDescription>(path);
}

absl::StatusOr<core::PipelineOptions> ToPipelineOptions(
    const v1::PipelineSpec& spec) {
  core::PipelineOptions o;
  if (spec.target() != v1::TARGET_SPACE_PIXELS) {
    return absl::InvalidArgumentError(
        "pipeline spec: target must be TARGET_SPACE_PIXELS (the only target "
        "space so far)");
  }
  if (!spec.decoder().has_ridge()) {
    return absl::InvalidArgumentError(
        "pipeline spec: decoder { ridge { ... } } is required");
  }
  const v1::RidgeDecoder& r = spec.decoder().ridge();
  if (r.alpha() < 0 || r.n_feat() < 0 || r.chunk_size() < 0) {
    return absl::InvalidArgumentError(
        "pipeline spec: ridge alpha, n_feat, chunk_size must be >= 0");
  }
  o.ridge.regression = {r.alpha(), r.n_feat(), r.chunk_size()};
  o.ridge.standardize_voxels = r.standardize_voxels();
  o.ridge.penalize_intercept = r.penalize_intercept();
  if (spec.generator().kind_case() != v1::GeneratorSpec::kIdentity) {
    return absl::InvalidArgumentError(
        "pipeline spec: generator { identity {} } is required for pixel "
        "targets");
  }
  o.generator = core::PipelineOptions::Generator::kIdentity;
  o.clip_output = spec.clip_output();
  o.note = spec.description();
  return o;
}

absl::StatusOr<core::DatasetOptions> ToDatasetOptions(
    const v1::DatasetDescription& d, const std::string& data_root) {
  core::DatasetOptions o;
  o.name = d.name();
  if (d.file().empty())
    return absl::InvalidArgumentError("dataset description: 'file' is empty");
  std::filesystem::path file(d.file());
  o.file = file.is_absolute()
               ? file.string()
               : (std::filesystem::path(data_root) / file).string();
  o.train = {d.train().betas(), d.train().stimuli(), d.train().labels()};
  o.test = {d.test().betas(), d.test().stimuli(), d.test().labels()};
  o.image = {d.image().height(), d.image().width(),
             d.image().channels() > 0 ? d.image().channels() : 1};
  switch (d.image().layout()) {
    case v1::IMAGE_LAYOUT_ROW_MAJOR:
      o.layout = core::ImageLayout::kRowMajor;
      break;
    case v1::IMAGE_LAYOUT_COLUMN_MAJOR:
      o.layout = core::ImageLayout::kColumnMajor;
      break;
    default:
      return absl::InvalidArgumentError(
          "dataset description: image.layout must be IMAGE_LAYOUT_ROW_MAJOR or "
          "IMAGE_LAYOUT_COLUMN_MAJOR");
  }
  o.pixel_max = d.image().pixel_max() > 0 ? d.image().pixel_max() : 255.0;
  return o;
}

}  // namespace v2p::worker
