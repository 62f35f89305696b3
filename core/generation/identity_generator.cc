#include "core/generation/identity_generator.h"

#include "absl/strings/str_cat.h"

namespace v2p::core {

absl::StatusOr<Eigen::MatrixXf> IdentityGenerator::Generate(const Eigen::MatrixXf& targets) const {
  if (targets.cols() != shape_.num_pixels()) {
    return absl::InvalidArgumentError(absl::StrCat("identity generator expects ",
                                                   shape_.num_pixels(), " values per sample, got ",
                                                   targets.cols()));
  }
  return targets;
}

}  // namespace v2p::core
