#include "core/pipeline/hyper_simulation.h"

#include <random>

#include "absl/strings/str_cat.h"
#include "core/base/status_macros.h"
#include "core/decoding/ridge_decoder.h"
#include "core/evaluation/metrics.h"

namespace v2p::core {
namespace {

Eigen::MatrixXf NormalLatents(Eigen::Index n, Eigen::Index k, std::mt19937_64& rng) {
  std::normal_distribution<float> normal(0, 1);
  Eigen::MatrixXf z(n, k);
  for (Eigen::Index i = 0; i < z.size(); ++i) z.data()[i] = normal(rng);
  return z;
}

absl::StatusOr<double> MeanSsim(const Eigen::MatrixXf& a, const Eigen::MatrixXf& b,
                                ImageShape shape) {
  double sum = 0;
  for (Eigen::Index i = 0; i < a.rows(); ++i) {
    ASSIGN_OR_RETURN(const double s, Ssim(a.row(i).transpose().cast<double>(),
                                          b.row(i).transpose().cast<double>(), shape));
    sum += s;
  }
  return sum / a.rows();
}

}  // namespace

double MeanRowCosine(const Eigen::MatrixXf& a, const Eigen::MatrixXf& b) {
  double sum = 0;
  for (Eigen::Index i = 0; i < a.rows(); ++i)
    sum += a.row(i).dot(b.row(i)) / std::max(1e-12f, a.row(i).norm() * b.row(i).norm());
  return sum / std::max<Eigen::Index>(1, a.rows());
}

absl::StatusOr<LatentNull> RandomLatentNull(const GanGenerator& gan,
                                            const Eigen::MatrixXf& true_latents,
                                            const Eigen::MatrixXf& stimuli,
                                            double observed_cosine, double observed_ssim,
                                            int permutations, uint64_t seed) {
  if (permutations < 1 || true_latents.rows() != stimuli.rows() ||
      true_latents.cols() != gan.input_size())
    return absl::InvalidArgumentError(
        "a permutation test needs >= 1 permutation and one true latent per stimulus");
  std::mt19937_64 rng(seed);
  LatentNull n;
  int above_latent = 0, above_ssim = 0;
  for (int p = 0; p < permutations; ++p) {
    const Eigen::MatrixXf z_null = NormalLatents(true_latents.rows(), true_latents.cols(), rng);
    const double c = MeanRowCosine(z_null, true_latents);
    ASSIGN_OR_RETURN(const Eigen::MatrixXf drawn, gan.Generate(z_null));
    ASSIGN_OR_RETURN(const double s, MeanSsim(drawn, stimuli, gan.image_shape()));
    n.latent_cosine += c / permutations;
    n.ssim += s / permutations;
    above_latent += c >= observed_cosine;
    above_ssim += s >= observed_ssim;
  }
  n.p_latent = (1.0 + above_latent) / (1.0 + permutations);
  n.p_ssim = (1.0 + above_ssim) / (1.0 + permutations);
  return n;
}

absl::StatusOr<HyperSimulationResult> SimulateHyper(const GanGenerator& gan,
                                                    const FeatureNetwork& network,
                                                    const HyperSimulationOptions& o) {
  if (o.train_stimuli < 2 || o.test_stimuli < 2 || o.permutations < 1)
    return absl::InvalidArgumentError(
        "HYPER simulation needs >= 2 training and test stimuli and >= 1 permutation");
  std::mt19937_64 rng(o.seed);
  const int k = gan.input_size();
  const ImageShape shape = gan.image_shape();
  const Eigen::MatrixXf z_train = NormalLatents(o.train_stimuli, k, rng);
  const Eigen::MatrixXf z_test = NormalLatents(o.test_stimuli, k, rng);
  ASSIGN_OR_RETURN(const Eigen::MatrixXf train_images, gan.Generate(z_train));
  HyperSimulationResult r;
  ASSIGN_OR_RETURN(r.stimuli, gan.Generate(z_test));
  ASSIGN_OR_RETURN(const Eigen::MatrixXf f_train,
                   network.ExtractConcatenated(train_images, shape, o.layers));
  ASSIGN_OR_RETURN(const Eigen::MatrixXf f_test, network.ExtractConcatenated(r.stimuli, shape, o.layers));
  SimulationOptions so = o.responses;
  so.seed = o.seed + 1;
  ASSIGN_OR_RETURN(r.responses,
                   SimulateResponses(f_train.cast<double>(), f_test.cast<double>(), so));
  const SimulatedResponses& y = r.responses;
  r.train_stimuli = train_images;
  RidgeDecoder::Options ro;
  ro.regression.alpha = o.ridge_alpha;
  ASSIGN_OR_RETURN(auto decoder, RidgeDecoder::Fit(y.train, z_train.cast<double>(), ro));
  Eigen::MatrixXf test = y.test.cast<float>();
  decoder->Standardize(&test);
  const Eigen::MatrixXf decoded = decoder->Decode(test);
  ASSIGN_OR_RETURN(r.reconstructions, gan.Generate(decoded));
  r.latent_cosine = MeanRowCosine(decoded, z_test);
  r.true_latents = z_test;
  r.decoded_latents = decoded;
  ASSIGN_OR_RETURN(r.ssim, MeanSsim(r.reconstructions, r.stimuli, shape));
  for (Eigen::Index i = 0; i < r.stimuli.rows(); ++i)
    r.pcc += PixelPcc(r.reconstructions.row(i).transpose().cast<double>(),
                      r.stimuli.row(i).transpose().cast<double>()) /
             r.stimuli.rows();
  ASSIGN_OR_RETURN(const LatentNull null,
                   RandomLatentNull(gan, z_test, r.stimuli, r.latent_cosine, r.ssim,
                                    o.permutations, o.seed + 2));
  r.null_latent_cosine = null.latent_cosine;
  r.null_ssim = null.ssim;
  r.p_latent = null.p_latent;
  r.p_ssim = null.p_ssim;
  return r;
}

}  // namespace v2p::core
