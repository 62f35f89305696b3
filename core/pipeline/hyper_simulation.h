// The simulated HYPER experiment, after
//   Dado T, Güçlütürk Y, Ambrogioni L, Ras G, Bosch S, van Gerven M, Güçlü U
//   (2022). Hyperrealistic neural decoding for reconstructing faces from
//   fMRI activations via the GAN latent space. Sci Rep 12:141.
// Their stimuli were drawn by a GAN from known latents and shown in the
// scanner (1050 unique training stimuli; 36 test stimuli repeated 14 times
// and averaged). We cannot scan anyone, so the responses are simulated
// (core/data/simulated_experiment.h) from the feature network's features
// of each drawn stimulus (resized to the network's input when the GAN draws
// another size, e.g. 64x64 faces through a 28x28 network). The latents are then decoded from the
// responses by ridge, redrawn by the GAN, and scored against the true latents (cosine similarity)
// and stimuli (SSIM, PCC). As in the paper, each score is set against a null distribution of random
// latents (z ~ N(0, I) for every test stimulus, --permutations sets): p = (1 + #null >= observed) /
// (1 + permutations), for latent similarity (cosine and Euclidean), SSIM and feature similarity.
//
// Feature similarity (FeatureSimilarity): the paper compares VGG-Face
// activations of reconstruction and stimulus by Euclidean similarity
// 1 / (1 + distance) (core/evaluation/metrics.h). Both forms are kept: that
// one, of the raw activations of `feature_layer` (fc7 of our network), and
// the correlation of the activations each less their mean over the
// training stimuli, which has a common scale across networks (without
// centring, the pattern every face shares makes any two correlate at 0.99).
#ifndef V2P_CORE_PIPELINE_HYPER_SIMULATION_H_
#define V2P_CORE_PIPELINE_HYPER_SIMULATION_H_

#include <cstdint>
#include <string>
#include <vector>

#include "Eigen/Core"
#include "absl/status/statusor.h"
#include "core/data/simulated_experiment.h"
#include "core/features/feature_network.h"
#include "core/generation/gan.h"

namespace v2p::core {

struct HyperSimulationOptions {
  int train_stimuli = 1050;
  int test_stimuli = 36;
  SimulationOptions responses;  // test_repeats 14 by default
  std::vector<std::string> layers = {"fc6"};
  double ridge_alpha = 100;
  std::string feature_layer = "fc7";
  int permutations = 1000;
  uint64_t seed = 1;
};

// Feature similarity of reconstructions to fixed stimuli through one layer
// of the network (see the header comment).
class FeatureSimilarity {
 public:
  // `stimuli` are what reconstructions are scored against; the centring
  // mean comes from `train_stimuli`. All of `shape`.
  static absl::StatusOr<FeatureSimilarity> Create(const FeatureNetwork& network,
                                                  const std::string& layer,
                                                  const Eigen::MatrixXf& train_stimuli,
                                                  const Eigen::MatrixXf& stimuli, ImageShape shape);
  struct Scores {
    std::vector<double> correlation, euclidean;  // per image
  };
  // One row per stimulus.
  absl::StatusOr<Scores> Score(const Eigen::MatrixXf& reconstructions) const;

 private:
  const FeatureNetwork* network_ = nullptr;
  std::string layer_;
  ImageShape shape_;
  Eigen::RowVectorXf mean_;
  Eigen::MatrixXf stimulus_features_;  // raw
};

// HYPER's permutation test (Dado et al. 2022): `permutations` sets of
// random latents z ~ N(0, I), one per test stimulus, drawn by the GAN and
// scored like the decoded ones: mean cosine and Euclidean similarity to the
// true latents, mean SSIM to the stimuli and, with `features`, mean feature
// correlation. p = (1 + #null >= observed) / (1 + permutations).
struct LatentNull {
  // Means over the null sets.
  double latent_cosine = 0, latent_euclidean = 0, ssim = 0, feature = 0;
  double p_latent = 1, p_latent_euclidean = 1, p_ssim = 1, p_feature = 1;
  bool with_feature = false;
};
struct HyperObserved {  // the decoded reconstructions' means
  double latent_cosine = 0, latent_euclidean = 0, ssim = 0, feature = 0;
};
absl::StatusOr<LatentNull> RandomLatentNull(const GanGenerator& gan,
                                            const Eigen::MatrixXf& true_latents,
                                            const Eigen::MatrixXf& stimuli,
                                            const HyperObserved& observed,
                                            const FeatureSimilarity* features, int permutations,
                                            uint64_t seed);

struct HyperSimulationResult {
  // Means over the test stimuli.
  double latent_cosine = 0, latent_euclidean = 0, ssim = 0, pcc = 0, feature = 0;
  // Means over the null sets, and the permutation p-values.
  double null_latent_cosine = 0, null_ssim = 0, null_feature = 0;
  double p_latent = 1, p_ssim = 1, p_feature = 1;
  LatentNull null;                                // all of the permutation test
  Eigen::MatrixXf stimuli, reconstructions;       // test: drawn from true / decoded latents
  Eigen::MatrixXf true_latents, decoded_latents;  // test
  // The experiment itself, for scoring other decoders on it.
  Eigen::MatrixXf train_stimuli;
  SimulatedResponses responses;
};

// Mean over rows of the cosine between a's and b's rows.
double MeanRowCosine(const Eigen::MatrixXf& a, const Eigen::MatrixXf& b);
// Mean over rows of the Euclidean similarity 1 / (1 + ||a_i - b_i||).
double MeanRowEuclidean(const Eigen::MatrixXf& a, const Eigen::MatrixXf& b);

absl::StatusOr<HyperSimulationResult> SimulateHyper(const GanGenerator& gan,
                                                    const FeatureNetwork& network,
                                                    const HyperSimulationOptions& options);

}  // namespace v2p::core

#endif  // V2P_CORE_PIPELINE_HYPER_SIMULATION_H_
