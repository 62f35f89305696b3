#include "server/validation.h"

#include <cmath>

#include "absl/strings/str_cat.h"

namespace v2p::server {

absl::Status ValidateModelRef(const std::string& model) {
  if (model.empty()) {
    return absl::InvalidArgumentError(
        "no model named: set 'model' (see Models.ListModels)");
  }
  return absl::OkStatus();
}

absl::Status ValidateNotEmpty(
    const voxel2pixel::v1::ReconstructRequest& request) {
  if (request.samples().empty()) {
    return absl::InvalidArgumentError(
        "empty batch: expected at least one sample, received 0");
  }
  return absl::OkStatus();
}

absl::Status ValidateSample(const voxel2pixel::v1::Sample& sample, int index,
                            const voxel2pixel::v1::Model& model) {
  if (sample.betas_size() != model.num_voxels()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "sample '", sample.id(), "' (index ", index, "): model ", model.name(),
        " v", model.version(), " expects ", model.num_voxels(),
        " betas, received ", sample.betas_size()));
  }
  for (int v = 0; v < sample.betas_size(); ++v) {
    if (!std::isfinite(sample.betas(v))) {
      return absl::InvalidArgumentError(
          absl::StrCat("sample '", sample.id(), "' (index ", index, "): beta ",
                       v, " is ", sample.betas(v), "; expected finite values"));
    }
  }
  return absl::OkStatus();
}

}  // namespace v2p::server
