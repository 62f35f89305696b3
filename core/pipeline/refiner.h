// The refine stage of a Pipeline (PipelineStages::refiner, method.h): an
// image-space step after the generator that is given what the decoder
// decoded. Shen, Horikawa, Majima & Kamitani (PLoS Comput Biol 2019) is
// the model case: it optimises an image, for hundreds of iterations per
// request, so that a feature network's responses match the decoded
// features. A refiner's cost is per request, so it must stop when asked.
#ifndef V2P_CORE_PIPELINE_REFINER_H_
#define V2P_CORE_PIPELINE_REFINER_H_

#include <functional>
#include <string>

#include "Eigen/Core"
#include "absl/status/statusor.h"

namespace v2p::core {

class Refiner {
 public:
  virtual ~Refiner() = default;

  // One line for logs and model descriptions.
  virtual std::string Describe() const = 0;

  // decoded: n x the decoder's outputs. start: n x pixels, the generator's
  // images (clipped when the model clips), or 0 x 0 when the pipeline has
  // no generator and the refiner starts on its own. Returns n x pixels,
  // row-major HWC. `is_cancelled` may be empty; otherwise it is to be
  // checked at least once per iteration, returning CANCELLED when it fires.
  virtual absl::StatusOr<Eigen::MatrixXf> Refine(
      const Eigen::MatrixXf& decoded, const Eigen::MatrixXf& start,
      const std::function<bool()>& is_cancelled) const = 0;
};

}  // namespace v2p::core

#endif  // V2P_CORE_PIPELINE_REFINER_H_
