// Deep image reconstruction by feature inversion:
//   Shen G, Horikawa T, Majima K, Kamitani Y (2019). Deep image
//   reconstruction from human brain activity. PLoS Comput Biol 15(1):
//   e1006633.
// An image x is optimised so that the feature network's responses phi_l(x)
// at layers l match target features y_l (true features of an image, or
// features decoded from fMRI):
//   L(x) = sum_l beta_l * 1/2 ||phi_l(x) - y_l||^2,   beta_l = 1 / ||y_l||^2,
// per sample. Optimisers, as in the authors' icnn code (github.com/
// KamitaniLab/icnn, read for the algorithm, not copied):
//   - L-BFGS over pixels (icnn_lbfgs: scipy's L-BFGS-B within the pixel
//     range; here LibTorch's L-BFGS with a strong-Wolfe line search,
//     unbounded, the images clipped to [0, 1] when reported);
//   - gradient descent with momentum over pixels (icnn_gd): the gradient
//     divided by its mean absolute value, momentum 0.9, a step falling
//     linearly from lr_start to lr_end (2 grey levels to ~0, i.e. 2/255
//     here, where pixels are [0, 1]);
//   - either, with a total-variation prior on pixels (Grad-TV: Mahendran &
//     Vedaldi 2015, Understanding deep image representations by inverting
//     them, CVPR), the baseline Du et al. (2020) compare against;
//   - either, over the condition of a feature-conditioned generator instead
//     of the pixels (the deep-generator-network prior, GeneratorPrior;
//     icnn_dgn_lbfgs and icnn_dgn_gd).
// Norm correction (Shen et al., Methods): decoded features are scaled per
// sample so that their psi (ShenFeatureStd, core/features/feature_network.h)
// equals the mean psi of the layer over the network's corpus.
//
// Samples are optimised together as one batch (their losses add; each
// sample's gradient depends only on its own pixels). Plain Eigen here;
// LibTorch stays in the .cc.
#ifndef V2P_CORE_METHODS_SHEN_FEATURE_INVERSION_H_
#define V2P_CORE_METHODS_SHEN_FEATURE_INVERSION_H_

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "Eigen/Core"
#include "absl/status/statusor.h"
#include "core/features/feature_network.h"
#include "core/pipeline/refiner.h"

namespace v2p::core {

class IcgGenerator;

// Shen et al.'s deep-generator-network prior: the image is G(c), the image
// a stored feature-conditioned generator (core/generation/icg.h: DeCNN,
// ICG, ...) draws for condition c, and c is what is optimised, clamped
// inside G to [low, high] (the range its conditions took in training),
// from `start`. Gradient descent steps each unit by (high - low) times the
// pixel step.
struct GeneratorPrior {
  const IcgGenerator* generator = nullptr;
  Eigen::RowVectorXf low, high, start;  // each generator->input_size() long
};

// Per layer name: n x layer size targets (one row per sample).
using LayerFeatures = std::map<std::string, Eigen::MatrixXf>;

enum class InversionOptimizer { kLbfgs, kGradientDescent };

struct InversionOptions {
  InversionOptimizer optimizer = InversionOptimizer::kLbfgs;
  int iterations = 200;
  // Gradient descent (icnn_gd's defaults, pixels [0, 1] here).
  double lr_start = 2.0 / 255;
  double lr_end = 1e-10;
  double momentum = 0.9;
  // L-BFGS: history kept (LibTorch's default 100).
  int lbfgs_history = 100;
  // Weight of a total-variation prior, sum of squared neighbour
  // differences (beta = 2), relative to the feature loss; 0: none.
  double tv_weight = 0;
  // Every pixel starts here (the corpus mean pixel), give or take
  // start_dither: a fixed pattern of uniform noise in [-d, d], the same for
  // every sample (so that a sample's result does not depend on its batch).
  // A perfectly flat image sits on the kinks of max pooling (every window
  // tied) and ReLU, where the gradient does not predict the loss along it;
  // L-BFGS's line search then finds no step and never moves (on digit69
  // with one alexnet28 and all layers: loss 39.63 after 20 iterations from
  // flat, PCC 0.000). Dither of a grey level breaks the ties.
  float start_value = 0.5f;
  float start_dither = 1.0f / 255;
  // When set, the optimisation is over the generator's condition instead
  // of the pixels (start_value is then unused).
  const GeneratorPrior* prior = nullptr;
  // Called every `progress_every` iterations (0: never) with the
  // iteration count, each sample's loss and the current images.
  int progress_every = 0;
  RefineProgressFn on_progress;
  // Checked before every iteration: when it fires the optimisation stops
  // and returns the images so far (InversionResult::stopped_early).
  std::function<bool()> should_stop;
};

struct InversionResult {
  Eigen::MatrixXf images;        // n x pixels, row-major HWC, in [0, 1]
  Eigen::VectorXd initial_loss;  // per sample, at the start image
  Eigen::VectorXd final_loss;    // per sample, at `images`
  int iterations = 0;            // iterations completed
  bool stopped_early = false;    // should_stop fired
};

// L(x) (plus tv_weight times the total variation) per sample for images (n x pixels of `shape`,
// row-major HWC), and into `gradient` (when not null) dL/dx, n x pixels. INVALID_ARGUMENT for an
// unknown layer, targets of the wrong width or count, or images that do not fit the network.
absl::StatusOr<Eigen::VectorXd> InversionLoss(const FeatureNetwork& network,
                                              const LayerFeatures& targets,
                                              const Eigen::MatrixXf& images, ImageShape shape,
                                              Eigen::MatrixXf* gradient = nullptr,
                                              double tv_weight = 0);

// As InversionLoss for images G(clamp(conditions)) drawn by prior's
// generator, the gradient (n x condition units) with respect to the
// conditions.
absl::StatusOr<Eigen::VectorXd> InversionLossOverCondition(
    const FeatureNetwork& network, const LayerFeatures& targets, const GeneratorPrior& prior,
    const Eigen::MatrixXf& conditions, ImageShape shape, Eigen::MatrixXf* gradient = nullptr);

// Optimises images of `shape` to match `targets`.
// The pixels every sample starts from: `value` plus the fixed dither
// pattern (InversionOptions::start_value, start_dither), 1 x num_pixels.
Eigen::RowVectorXf InversionStartImage(int num_pixels, float value, float dither);

absl::StatusOr<InversionResult> InvertFeatures(const FeatureNetwork& network,
                                               const LayerFeatures& targets, ImageShape shape,
                                               const InversionOptions& options);

// Each row of `features` (one layer, of `layer_shape`: C, H, W or units)
// scaled so that its psi equals `psi_mean`; rows whose psi is 0 are left.
Eigen::MatrixXf CorrectFeatureNorm(const Eigen::MatrixXf& features,
                                   const std::vector<int64_t>& layer_shape, double psi_mean);

}  // namespace v2p::core

#endif  // V2P_CORE_METHODS_SHEN_FEATURE_INVERSION_H_
