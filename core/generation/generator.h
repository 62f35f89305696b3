// A generator maps rows of a pipeline's target space to rows of images
// (row-major HWC pixels in [0, 1] before clipping). Implementations are
// immutable after construction and safe to call from several threads.
#ifndef V2P_CORE_GENERATION_GENERATOR_H_
#define V2P_CORE_GENERATION_GENERATOR_H_

#include <string>

#include "Eigen/Core"
#include "absl/status/statusor.h"
#include "core/data/image.h"

namespace v2p::core {

class Generator {
 public:
  virtual ~Generator() = default;

  virtual ImageShape image_shape() const = 0;
  // Number of columns expected in Generate()'s input.
  virtual int input_size() const = 0;
  // A short description, e.g. "identity".
  virtual std::string Describe() const = 0;
  // targets: n x input_size() -> n x image_shape().num_pixels().
  virtual absl::StatusOr<Eigen::MatrixXf> Generate(
      const Eigen::MatrixXf& targets) const = 0;
};

}  // namespace v2p::core

#endif  // V2P_CORE_GENERATION_GENERATOR_H_
