// Ridge's penalty chosen by k-fold cross-validation on the training trials:
// every alpha of a grid is fitted on k-1 folds (with the same voxel
// standardisation and intercept handling as the served fit) and scored by
// the mean squared error of the held-out fold's targets; the alpha with the
// smallest error over all folds wins (the larger alpha on a tie). Folds are
// contiguous blocks of trials in their stored order, so that trials close
// in time (and in slow scanner drift) do not sit on both sides of a split.
#ifndef V2P_CORE_DECODING_RIDGE_CV_H_
#define V2P_CORE_DECODING_RIDGE_CV_H_

#include <functional>
#include <vector>

#include "Eigen/Core"
#include "absl/status/statusor.h"
#include "core/decoding/ridge_decoder.h"

namespace v2p::core {

struct RidgeCvOptions {
  // Candidate alphas, each > 0; empty: DefaultAlphaGrid().
  std::vector<double> grid;
  int folds = 5;
  // After each of the grid.size() * folds fits.
  std::function<void(int done, int total)> on_fit;
  // Checked before each fit; true stops with CANCELLED.
  std::function<bool()> is_cancelled;
};

struct RidgeCvResult {
  double alpha = 0;
  int folds = 0;
  std::vector<double> grid;
  // Per grid value: held-out mean squared error over every trial and target.
  std::vector<double> error;
};

// Decades from 0.1 to 1e6.
std::vector<double> DefaultAlphaGrid();

// INVALID_ARGUMENT for fewer trials than 2 per fold, folds < 2, or an
// alpha that is not finite and > 0. `base` supplies everything but alpha.
absl::StatusOr<RidgeCvResult> ChooseRidgeAlpha(const Eigen::MatrixXd& betas,
                                               const Eigen::MatrixXd& targets,
                                               const RidgeDecoder::Options& base,
                                               const RidgeCvOptions& options);

}  // namespace v2p::core

#endif  // V2P_CORE_DECODING_RIDGE_CV_H_
