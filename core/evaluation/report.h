// Scores a set of reconstructions against their stimuli with every image
// metric the project reports, and builds the mean-image reference.
#ifndef V2P_CORE_EVALUATION_REPORT_H_
#define V2P_CORE_EVALUATION_REPORT_H_

#include <cmath>
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
  // By PCC, over pairs of stimuli with the same label; NaN without labels.
  double identification_pcc_within_class = std::nan("");
  // Mean PCC between the reconstructions of different trials, and between
  // their stimuli: over the pairs with the same label when labels are given
  // (similarity_within_class), else over all pairs. Reconstructions much
  // closer to each other than their stimuli are (a class template drawn
  // for every trial of the class, or the mean image) make 2-way
  // identification mostly class identity: Collapsed() says so.
  double reconstruction_similarity = 0;
  double stimulus_similarity = 0;
  bool similarity_within_class = false;
  // The reconstructions' spread (1 - their mean pairwise PCC) is under
  // half of the stimuli's and, where labels give within-class
  // identification, that is under 0.75: a blurred but trial-specific
  // reconstruction (ridge on digit69: mean PCC 0.856 among reconstructions
  // of a class against 0.548 among their stimuli, within-class
  // identification 0.875, as `v2p train` records them) is not flagged, one
  // template per class is.
  bool Collapsed() const;
  // A sentence for logs when Collapsed(), else "".
  std::string CollapseWarning() const;

  // Keys: num_samples, pcc, pcc_sd, mse, mse_sd, ssim, ssim_sd,
  // identification_pcc, identification_ssim, reconstruction_similarity,
  // stimulus_similarity, similarity_within_class (0 or 1), and
  // identification_pcc_within_class with labels.
  std::map<std::string, double> ToMap() const;
  // The inverse of ToMap (e.g. from a model's recorded evaluation); keys
  // not present keep their defaults.
  static ImageScores FromMap(const std::map<std::string, double>& map);
};

// reconstructions, stimuli: n x pixels (row-major HWC, [0, 1]); labels:
// one per stimulus, or empty. Errors when shapes disagree or n == 0.
absl::StatusOr<ImageScores> ScoreReconstructions(const Eigen::MatrixXd& reconstructions,
                                                 const Eigen::MatrixXd& stimuli, ImageShape shape,
                                                 const Eigen::VectorXi& labels = Eigen::VectorXi());

// The "no brain data" reference: the mean training stimulus, repeated for
// each of n test samples.
Eigen::MatrixXd MeanImageBaseline(const Eigen::MatrixXd& train_stimuli, Eigen::Index n);

}  // namespace v2p::core

#endif  // V2P_CORE_EVALUATION_REPORT_H_
