// A generator maps rows of a pipeline's target space to rows of images
// (row-major HWC pixels in [0, 1] before clipping). Implementations are
// immutable after construction and safe to call from several threads.
#ifndef V2P_CORE_GENERATION_GENERATOR_H_
#define V2P_CORE_GENERATION_GENERATOR_H_

#include <cstdint>
#include <string>
#include <vector>

#include "Eigen/Core"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
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
  virtual absl::StatusOr<Eigen::MatrixXf> Generate(const Eigen::MatrixXf& targets) const = 0;

  // Whether Sample() draws different images for one target row (a latent
  // variable besides the target).
  virtual bool stochastic() const { return false; }
  // `samples` draws per row, seeded: result[s] is n x pixels.
  // INVALID_ARGUMENT unless stochastic().
  virtual absl::StatusOr<std::vector<Eigen::MatrixXf>> Sample(const Eigen::MatrixXf& targets,
                                                              int samples, uint64_t seed) const {
    (void)targets, (void)samples, (void)seed;
    return absl::InvalidArgumentError(
        absl::StrCat("generator ", Describe(), " is deterministic: it has nothing to sample"));
  }

  // Whether Attention() gives the map of where the generator puts the
  // image's foreground (the foreground-attention method decodes one).
  virtual bool gives_attention() const { return false; }
  // targets: n x input_size() -> n x (height * width) of image_shape(),
  // one channel, in [0, 1]. INVALID_ARGUMENT unless gives_attention().
  virtual absl::StatusOr<Eigen::MatrixXf> Attention(const Eigen::MatrixXf& targets) const {
    (void)targets;
    return absl::InvalidArgumentError(
        absl::StrCat("generator ", Describe(), " decodes no attention map"));
  }
};

}  // namespace v2p::core

#endif  // V2P_CORE_GENERATION_GENERATOR_H_
