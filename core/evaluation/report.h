// Scores a set of reconstructions against their stimuli with every image
// metric the project reports, and builds the mean-image reference.
#ifndef V2P_CORE_EVALUATION_REPORT_H_
#define V2P_CORE_EVALUATION_REPORT_H_

#include <map>
#include <string>

#include "Eigen/Core"
#include "absl/status/statusor.h"
#include "core/data/image.h"

namespace v2p::core {

struct ImageScores {
  int num_samples = 0;
  double pcc = 0, pcc_sd = 0;  // mean and SD over images
  double mse = 0, mse_sd = 0;
  double ssim = 0, ssim_sd = 0;  // kSsimDefinition
  double identification_pcc = 0;
  double identification_ssim = 0;

  // Keys: num_samples, pcc, pcc_sd, mse, mse_sd, ssim, ssim_sd,
  // identification_pcc, identification_ssim.
  std::map<std::string, double> ToMap() const;
};

// reconstructions, stimuli: n x pixels (row-major HWC, [0, 1]). Errors when
// shapes disagree or n == 0.
absl::StatusOr<ImageScores> ScoreReconstructions(
    const Eigen::MatrixXd& reconstructions, const Eigen::MatrixXd& stimuli,
    ImageShape shape);

// The "no brain data" reference: the mean training stimulus, repeated for
// each of n test samples.
Eigen::MatrixXd MeanImageBaseline(const Eigen::MatrixXd& train_stimuli,
                                  Eigen::Index n);

}  // namespace v2p::core

#endif  // V2P_CORE_EVALUATION_REPORT_H_
