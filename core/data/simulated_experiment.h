// A simulated fMRI experiment, for methods whose seed papers' data cannot
// be had here (the face experiments of Güçlütürk et al. 2017 and Dado et
// al.'s HYPER): voxel responses from a linear encoding model of stimulus
// features with spatially correlated noise at a stated SNR, in the
// papers' designs (HYPER: 1050 unique training stimuli, 36 test stimuli
// repeated 14 times and averaged). Always labelled as simulated; real data
// (digit69) comes first wherever it exists.
//
//   signal  s = standardise(F) W,  W ~ N(0, 1/f), each voxel's signal then
//           scaled to unit variance over the training stimuli
//   noise   e ~ N(0, R / snr),  R_ij = rho^|i - j| (AR(1) along the voxel
//           index: neighbouring voxels share noise, as in real data)
//   trial   y = s + e;  a test response is the mean of `test_repeats`
//           trials, so its noise variance is 1 / (snr * repeats).
#ifndef V2P_CORE_DATA_SIMULATED_EXPERIMENT_H_
#define V2P_CORE_DATA_SIMULATED_EXPERIMENT_H_

#include <cstdint>

#include "Eigen/Core"
#include "absl/status/statusor.h"
#include "core/data/dataset.h"

namespace v2p::core {

struct SimulationOptions {
  int num_voxels = 1000;
  // Single-trial signal-to-noise variance ratio.
  double snr = 0.5;
  // Noise correlation of adjacent voxels, in [0, 1).
  double noise_correlation = 0.3;
  int test_repeats = 14;
  uint64_t seed = 1;
};

struct SimulatedResponses {
  Eigen::MatrixXd train;                      // n_train x voxels, single trials
  Eigen::MatrixXd test;                       // n_test x voxels, each the mean of the repeats
  Eigen::MatrixXd weights;                    // features x voxels (after the per-voxel scaling)
  Eigen::MatrixXd train_signal, test_signal;  // the noiseless responses
};

// train_features: n_train x f (n_train >= 2), test_features: n_test x f.
// INVALID_ARGUMENT for mismatched widths, non-finite values or options out
// of range.
absl::StatusOr<SimulatedResponses> SimulateResponses(const Eigen::MatrixXd& train_features,
                                                     const Eigen::MatrixXd& test_features,
                                                     const SimulationOptions& options);

// A Dataset of simulated responses to the given stimuli (rows of pixels in
// [0, 1]); its name says it is simulated.
Dataset SimulatedDataset(const std::string& name, ImageShape image,
                         const Eigen::MatrixXd& train_stimuli, const Eigen::MatrixXd& test_stimuli,
                         const SimulatedResponses& responses);

}  // namespace v2p::core

#endif  // V2P_CORE_DATA_SIMULATED_EXPERIMENT_H_
