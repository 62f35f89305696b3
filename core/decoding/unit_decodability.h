// Per-unit decodability: how well each target unit (a CNN feature, a pixel)
// can be decoded from the voxels, measured as the Pearson correlation
// between its true and decoded values on held-out folds. Horikawa & Kamitani
// (2017, Nat. Commun. 8:15037) report feature decoding accuracy per unit
// this way; Du et al. (AAAI 2020) condition their generator on the K units
// that are decoded best (K = 5000 of AlexNet there), chosen by this score.
//
// Each of the `folds` folds is fitted on the others and predicted; the
// predictions are pooled over folds and one correlation per unit is taken
// over all N samples. Units whose true values are constant over the samples
// (dead ReLU units are common) get 0: no linear relation can be measured.
// Cost: `folds` fits of the decoder plus O(N K).
#ifndef V2P_CORE_DECODING_UNIT_DECODABILITY_H_
#define V2P_CORE_DECODING_UNIT_DECODABILITY_H_

#include <cstdint>
#include <functional>
#include <vector>

#include "Eigen/Core"
#include "absl/status/statusor.h"

namespace v2p::core {

// Fits on (x_train, h_train) and returns predictions for x_test
// (rows of x_test x columns of h_train).
using FoldDecoder = std::function<absl::StatusOr<Eigen::MatrixXd>(
    const Eigen::MatrixXd& x_train, const Eigen::MatrixXd& h_train, const Eigen::MatrixXd& x_test)>;

struct DecodabilityOptions {
  int folds = 5;
  // Samples are shuffled (std::mt19937_64 Fisher-Yates) and dealt into
  // folds in turn, so fold sizes differ by at most one.
  uint64_t seed = 0;
  std::function<bool()> is_cancelled;
};

// x: N x D voxels, h: N x K units. INVALID_ARGUMENT unless 2 <= folds <= N
// and the shapes agree; CANCELLED when is_cancelled fires between folds;
// a decoder error is returned as is.
absl::StatusOr<Eigen::VectorXd> UnitDecodability(const Eigen::MatrixXd& x, const Eigen::MatrixXd& h,
                                                 const FoldDecoder& decoder,
                                                 const DecodabilityOptions& options);

// Indices of the k most decodable units, best first (ties by lower index;
// non-finite scores rank last). k <= 0 or k > size gives every unit.
std::vector<int> TopDecodableUnits(const Eigen::VectorXd& decodability, int k);

}  // namespace v2p::core

#endif  // V2P_CORE_DECODING_UNIT_DECODABILITY_H_
