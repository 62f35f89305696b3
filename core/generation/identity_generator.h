// The generator of pipelines whose target space is pixels (Miyawaki et al.
// 2008 style decoding): the decoded vector is the image.
#ifndef V2P_CORE_GENERATION_IDENTITY_GENERATOR_H_
#define V2P_CORE_GENERATION_IDENTITY_GENERATOR_H_

#include "core/generation/generator.h"

namespace v2p::core {

class IdentityGenerator final : public Generator {
 public:
  explicit IdentityGenerator(ImageShape shape) : shape_(shape) {}

  ImageShape image_shape() const override { return shape_; }
  int input_size() const override { return shape_.num_pixels(); }
  std::string Describe() const override { return "identity"; }
  // INVALID_ARGUMENT when targets do not have num_pixels() columns.
  absl::StatusOr<Eigen::MatrixXf> Generate(const Eigen::MatrixXf& targets) const override;

 private:
  ImageShape shape_;
};

}  // namespace v2p::core

#endif  // V2P_CORE_GENERATION_IDENTITY_GENERATOR_H_
