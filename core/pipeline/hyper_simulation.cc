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

double MeanCosine(const Eigen::MatrixXf& a, const Eigen::MatrixXf& b) {
  double sum = 0;
  for (Eigen::Index i = 0; i < a.rows(); ++i)
    sum += a.row(i).dot(b.row(i)) / std::max(1e-12f, a.row(i).norm() * b.row(i).norm());
  return sum / a.rows();
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

absl::StatusOr<HyperSimulationResult> SimulateHyper(const GanGenerator& gan,
                                                    const FeatureNetwork& network,
                                                    const HyperSimulationOptions& o) {
  if (o.train_stimuli < 2 || o.test_stimuli < 2 || o.permutations < 1)
    return absl::InvalidArgumentError(
        "HYPER simulation needs >= 2 training and test stimuli and >= 1 permutation");
  if (!(network.input_shape() == gan.image_shape()))
    return absl::InvalidArgumentError("the GAN's images do not fit the feature network");
  std::mt19937_64 rng(o.seed);
  const int k = gan.input_size();
  const ImageShape shape = gan.image_shape();
  const Eigen::MatrixXf z_train = NormalLatents(o.train_stimuli, k, rng);
  const Eigen::MatrixXf z_test = NormalLatents(o.test_stimuli, k, rng);
  ASSIGN_OR_RETURN(const Eigen::MatrixXf train_images, gan.Generate(z_train));
  HyperSimulationResult r;
  ASSIGN_OR_RETURN(r.stimuli, gan.Generate(z_test));
  ASSIGN_OR_RETURN(const Eigen::MatrixXf f_train,
                   network.ExtractConcatenated(train_images, o.layers));
  ASSIGN_OR_RETURN(const Eigen::MatrixXf f_test, network.ExtractConcatenated(r.stimuli, o.layers));
  SimulationOptions so = o.responses;
  so.seed = o.seed + 1;
  ASSIGN_OR_RETURN(const SimulatedResponses y,
                   SimulateResponses(f_train.cast<double>(), f_test.cast<double>(), so));
  RidgeDecoder::Options ro;
  ro.regression.alpha = o.ridge_alpha;
  ASSIGN_OR_RETURN(auto decoder, RidgeDecoder::Fit(y.train, z_train.cast<double>(), ro));
  Eigen::MatrixXf test = y.test.cast<float>();
  decoder->Standardize(&test);
  const Eigen::MatrixXf decoded = decoder->Decode(test);
  ASSIGN_OR_RETURN(r.reconstructions, gan.Generate(decoded));
  r.latent_cosine = MeanCosine(decoded, z_test);
  ASSIGN_OR_RETURN(r.ssim, MeanSsim(r.reconstructions, r.stimuli, shape));
  for (Eigen::Index i = 0; i < r.stimuli.rows(); ++i)
    r.pcc += PixelPcc(r.reconstructions.row(i).transpose().cast<double>(),
                      r.stimuli.row(i).transpose().cast<double>()) /
             r.stimuli.rows();
  int above_latent = 0, above_ssim = 0;
  for (int p = 0; p < o.permutations; ++p) {
    const Eigen::MatrixXf z_null = NormalLatents(o.test_stimuli, k, rng);
    const double c = MeanCosine(z_null, z_test);
    ASSIGN_OR_RETURN(const Eigen::MatrixXf drawn, gan.Generate(z_null));
    ASSIGN_OR_RETURN(const double s, MeanSsim(drawn, r.stimuli, shape));
    r.null_latent_cosine += c / o.permutations;
    r.null_ssim += s / o.permutations;
    above_latent += c >= r.latent_cosine;
    above_ssim += s >= r.ssim;
  }
  r.p_latent = (1.0 + above_latent) / (1.0 + o.permutations);
  r.p_ssim = (1.0 + above_ssim) / (1.0 + o.permutations);
  return r;
}

}  // namespace v2p::core
