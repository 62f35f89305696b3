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

// A refiner's progress: the iterations run, each sample's loss and the
// images so far (n x pixels).
using RefineProgressFn =
    std::function<void(int iteration, const Eigen::VectorXd& loss, const Eigen::MatrixXf& images)>;

// What one request asks of the refine stage.
struct RefineControl {
  // Checked at least once per iteration; when it fires the refiner returns
  // CANCELLED.
  std::function<bool()> is_cancelled;
  // The request's iteration count; 0: the model's own.
  int iterations = 0;
  // Checked at least once per iteration; when it fires the refiner stops
  // and returns the images so far, marked truncated (a deadline the caller
  // asked partial results for).
  std::function<bool()> stop_early;
  // Called every `progress_every` iterations (0: never) with the iteration
  // count, each sample's loss and the images so far (n x pixels).
  int progress_every = 0;
  RefineProgressFn on_progress;
};

struct Refined {
  Eigen::MatrixXf images;  // n x pixels, row-major HWC
  int iterations = 0;      // iterations run
  bool truncated = false;  // stop_early fired before the last iteration
};

class Refiner {
 public:
  virtual ~Refiner() = default;

  // One line for logs and model descriptions.
  virtual std::string Describe() const = 0;

  // decoded: n x the decoder's outputs. start: n x pixels, the generator's
  // images (clipped when the model clips), or 0 x 0 when the pipeline has
  // no generator and the refiner starts on its own. INVALID_ARGUMENT for an
  // iteration count the refiner does not take.
  virtual absl::StatusOr<Refined> Refine(const Eigen::MatrixXf& decoded,
                                         const Eigen::MatrixXf& start,
                                         const RefineControl& control) const = 0;
};

}  // namespace v2p::core

#endif  // V2P_CORE_PIPELINE_REFINER_H_
