// Feature decoders compared by cross-validated NMSE, in the style of
// Du et al. (AAAI 2020) Table 2, which reports NMSE (mean +/- sd over
// random runs) of ridge and of SMR with its ablations and sparse variants
// on vim-1 (ridge .641 -> SMR .549).
//
// Outer folds: the trials are shuffled (std::mt19937_64, `seed`) and dealt
// into `folds` folds; each decoder is fitted on the other folds and scored
// on the held-out one. NMSE = sum ||pred - true||^2 / sum ||true - mean of
// the fitted trials||^2 over the held-out trials and all units (0: the
// predictor is perfect; 1: no better than the mean).
//
// Penalties are chosen inside each outer training set by `inner_folds`-fold
// CV (never looking at the held-out fold): ridge's alpha over
// `ridge_alphas`, each non-sparse SMR variant's lambda1 over `lambda1_grid`.
// A sparse variant takes the lambda1 chosen for its non-sparse counterpart
// in the same fold (the graphical lasso makes a joint search 20x dearer),
// then chooses its two l1 weights separately, as Du et al. do, over
// `l1_grid` by `l1_inner_folds`-fold CV (fewer folds than for lambda1: each
// graphical-lasso fit costs seconds), coordinate-wise: lambda2 (on Omega^-1) with lambda3 at the
// grid's middle value, then lambda3 (on Sigma_r^-1 and Sigma_c^-1) with that
// lambda2. A weight on a precision the variant does not learn is 0 and not
// searched. SMR, and ridge in its "selected voxels" row, see only the
// `n_voxels` voxels most correlated with the units in the fitted trials
// (chosen again inside every fit). Outer folds run on `threads` threads
// (each fold's arithmetic is the same whatever the count).
#ifndef V2P_CORE_PIPELINE_DECODER_COMPARISON_H_
#define V2P_CORE_PIPELINE_DECODER_COMPARISON_H_

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "Eigen/Core"
#include "absl/status/statusor.h"

namespace v2p::core {

// What CV chose in one fold: ridge's alpha or SMR's lambda1 in `main`; the
// l1 weights only for a sparse variant (0 where its precision is fixed).
struct ChosenPenalties {
  double main = 0;
  bool sparse = false;
  double lambda2 = 0, lambda3 = 0;
  std::string ToString() const;  // "100" or "100 / 0.05 / 0.01"
};

struct DecoderComparisonOptions {
  int folds = 5;
  int inner_folds = 5;
  uint64_t seed = 0;
  std::vector<double> ridge_alphas = {1, 10, 100, 1000, 10000};
  std::vector<double> lambda1_grid = {10, 30, 100, 300, 1000, 3000, 10000};
  // SMR variant names (SmrOptions::Variant); a "sparse-" one needs its
  // non-sparse counterpart listed before it.
  std::vector<std::string> variants;
  // lambda2 and lambda3 candidates of the sparse variants (relative
  // weights: see SmrOptions).
  std::vector<double> l1_grid = {0.01, 0.05, 0.25};
  int l1_inner_folds = 3;
  int n_voxels = 200;
  int max_iterations = 10;
  // Graphical-lasso ADMM iterations per precision update (warm-started
  // from the previous update, so they add up over outer iterations).
  int glasso_max_iterations = 50;
  // Outer folds fitted at once (0: the hardware's thread count); BLAS runs
  // single-threaded meanwhile.
  int threads = 1;
  // After each decoder's fold: its name, fold, NMSE and chosen penalties
  // (called from the fold's thread, one call at a time).
  std::function<void(const std::string&, int, double, const ChosenPenalties&)> on_fold;
  std::function<bool()> is_cancelled;
};

struct DecoderComparisonRow {
  std::string decoder;
  std::vector<double> nmse;              // per outer fold
  std::vector<ChosenPenalties> penalty;  // per outer fold
  double seconds = 0;                    // total fitting time, CV included
  double mean() const;
  double sd() const;  // sample SD over folds (n - 1)
};

// Rows: "ridge (all voxels)", "ridge (n selected voxels)", then each
// variant. x: N x D betas, h: N x K units.
absl::StatusOr<std::vector<DecoderComparisonRow>> CompareFeatureDecoders(
    const Eigen::MatrixXd& x, const Eigen::MatrixXd& h, const DecoderComparisonOptions& options);

}  // namespace v2p::core

#endif  // V2P_CORE_PIPELINE_DECODER_COMPARISON_H_
