// The simulated HYPER experiment, after
//   Dado T, Güçlütürk Y, Ambrogioni L, Ras G, Bosch S, van Gerven M, Güçlü U
//   (2022). Hyperrealistic neural decoding for reconstructing faces from
//   fMRI activations via the GAN latent space. Sci Rep 12:141.
// Their stimuli were drawn by a GAN from known latents and shown in the
// scanner (1050 unique training stimuli; 36 test stimuli repeated 14 times
// and averaged). We cannot scan anyone, so the responses are simulated
// (core/data/simulated_experiment.h) from the feature network's features
// of each drawn stimulus (resized to the network's input when the GAN draws
// another size, e.g. 64x64 faces through a 28x28 network). The latents are then decoded from the responses
// by ridge, redrawn by the GAN, and scored against the true latents (cosine
// similarity) and stimuli (SSIM, PCC). As in the paper, each score is set
// against a null distribution of random latents (z ~ N(0, I) for every
// test stimulus, --permutations sets): p = (1 + #null >= observed) / (1 +
// permutations).
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
  int permutations = 1000;
  uint64_t seed = 1;
};

struct HyperSimulationResult {
  // Means over the test stimuli.
  double latent_cosine = 0, ssim = 0, pcc = 0;
  // Means over the null sets, and the permutation p-values.
  double null_latent_cosine = 0, null_ssim = 0;
  double p_latent = 1, p_ssim = 1;
  Eigen::MatrixXf stimuli, reconstructions;  // test: drawn from true / decoded latents
  Eigen::MatrixXf true_latents, decoded_latents;  // test
  // The experiment itself, for scoring other decoders on it.
  Eigen::MatrixXf train_stimuli;
  SimulatedResponses responses;
};

// HYPER's permutation test (Dado et al. 2022): `permutations` sets of
// random latents z ~ N(0, I), one per test stimulus, drawn by the GAN and
// scored like the decoded ones: mean cosine to the true latents and mean
// SSIM to the stimuli. p = (1 + #null >= observed) / (1 + permutations).
struct LatentNull {
  double latent_cosine = 0, ssim = 0;  // means over the null sets
  double p_latent = 1, p_ssim = 1;
};
absl::StatusOr<LatentNull> RandomLatentNull(const GanGenerator& gan,
                                            const Eigen::MatrixXf& true_latents,
                                            const Eigen::MatrixXf& stimuli,
                                            double observed_cosine, double observed_ssim,
                                            int permutations, uint64_t seed);

// Mean over rows of the cosine between a's and b's rows.
double MeanRowCosine(const Eigen::MatrixXf& a, const Eigen::MatrixXf& b);

absl::StatusOr<HyperSimulationResult> SimulateHyper(const GanGenerator& gan,
                                                    const FeatureNetwork& network,
                                                    const HyperSimulationOptions& options);

}  // namespace v2p::core

#endif  // V2P_CORE_PIPELINE_HYPER_SIMULATION_H_
