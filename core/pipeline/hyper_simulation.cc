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

double MeanRowEuclidean(const Eigen::MatrixXf& a, const Eigen::MatrixXf& b) {
  double sum = 0;
  for (Eigen::Index i = 0; i < a.rows(); ++i)
    sum += EuclideanSimilarity(a.row(i).transpose().cast<double>(),
                               b.row(i).transpose().cast<double>());
  return sum / std::max<Eigen::Index>(1, a.rows());
}

absl::StatusOr<FeatureSimilarity> FeatureSimilarity::Create(const FeatureNetwork& network,
                                                            const std::string& layer,
                                                            const Eigen::MatrixXf& train_stimuli,
                                                            const Eigen::MatrixXf& stimuli,
                                                            ImageShape shape) {
  FeatureSimilarity f;
  f.network_ = &network;
  f.layer_ = layer;
  f.shape_ = shape;
  ASSIGN_OR_RETURN(const Eigen::MatrixXf train,
                   network.ExtractConcatenated(train_stimuli, shape, {layer}));
  f.mean_ = train.colwise().mean();
  ASSIGN_OR_RETURN(f.stimulus_features_, network.ExtractConcatenated(stimuli, shape, {layer}));
  return f;
}

absl::StatusOr<FeatureSimilarity::Scores> FeatureSimilarity::Score(
    const Eigen::MatrixXf& reconstructions) const {
  if (reconstructions.rows() != stimulus_features_.rows())
    return absl::InvalidArgumentError(absl::StrCat("feature similarity: ", reconstructions.rows(),
                                                   " reconstructions for ",
                                                   stimulus_features_.rows(), " stimuli"));
  ASSIGN_OR_RETURN(const Eigen::MatrixXf f,
                   network_->ExtractConcatenated(reconstructions, shape_, {layer_}));
  Scores s;
  const Eigen::VectorXd m = mean_.transpose().cast<double>();
  for (Eigen::Index i = 0; i < f.rows(); ++i) {
    const Eigen::VectorXd a = f.row(i).transpose().cast<double>();
    const Eigen::VectorXd b = stimulus_features_.row(i).transpose().cast<double>();
    s.correlation.push_back(PixelPcc(a - m, b - m));
    s.euclidean.push_back(EuclideanSimilarity(a, b));
  }
  return s;
}

absl::StatusOr<LatentNull> RandomLatentNull(const GanGenerator& gan,
                                            const Eigen::MatrixXf& true_latents,
                                            const Eigen::MatrixXf& stimuli,
                                            const HyperObserved& observed,
                                            const FeatureSimilarity* features, int permutations,
                                            uint64_t seed) {
  if (permutations < 1 || true_latents.rows() != stimuli.rows() ||
      true_latents.cols() != gan.input_size())
    return absl::InvalidArgumentError(
        "a permutation test needs >= 1 permutation and one true latent per stimulus");
  std::mt19937_64 rng(seed);
  LatentNull n;
  n.with_feature = features != nullptr;
  int above_latent = 0, above_euclidean = 0, above_ssim = 0, above_feature = 0;
  for (int p = 0; p < permutations; ++p) {
    const Eigen::MatrixXf z_null = NormalLatents(true_latents.rows(), true_latents.cols(), rng);
    const double c = MeanRowCosine(z_null, true_latents);
    const double e = MeanRowEuclidean(z_null, true_latents);
    ASSIGN_OR_RETURN(const Eigen::MatrixXf drawn, gan.Generate(z_null));
    ASSIGN_OR_RETURN(const double s, MeanSsim(drawn, stimuli, gan.image_shape()));
    n.latent_cosine += c / permutations;
    n.latent_euclidean += e / permutations;
    n.ssim += s / permutations;
    above_latent += c >= observed.latent_cosine;
    above_euclidean += e >= observed.latent_euclidean;
    above_ssim += s >= observed.ssim;
    if (features != nullptr) {
      ASSIGN_OR_RETURN(const FeatureSimilarity::Scores f, features->Score(drawn));
      double mean = 0;
      for (double v : f.correlation) mean += v / f.correlation.size();
      n.feature += mean / permutations;
      above_feature += mean >= observed.feature;
    }
  }
  n.p_latent = (1.0 + above_latent) / (1.0 + permutations);
  n.p_latent_euclidean = (1.0 + above_euclidean) / (1.0 + permutations);
  n.p_ssim = (1.0 + above_ssim) / (1.0 + permutations);
  n.p_feature = (1.0 + above_feature) / (1.0 + permutations);
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
  ASSIGN_OR_RETURN(const Eigen::MatrixXf f_test,
                   network.ExtractConcatenated(r.stimuli, shape, o.layers));
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
  r.latent_euclidean = MeanRowEuclidean(decoded, z_test);
  ASSIGN_OR_RETURN(
      const FeatureSimilarity features,
      FeatureSimilarity::Create(network, o.feature_layer, train_images, r.stimuli, shape));
  ASSIGN_OR_RETURN(const FeatureSimilarity::Scores f, features.Score(r.reconstructions));
  for (double v : f.correlation) r.feature += v / f.correlation.size();
  const HyperObserved observed{r.latent_cosine, r.latent_euclidean, r.ssim, r.feature};
  ASSIGN_OR_RETURN(r.null, RandomLatentNull(gan, z_test, r.stimuli, observed, &features,
                                            o.permutations, o.seed + 2));
  r.null_latent_cosine = r.null.latent_cosine;
  r.null_ssim = r.null.ssim;
  r.null_feature = r.null.feature;
  r.p_latent = r.null.p_latent;
  r.p_ssim = r.null.p_ssim;
  r.p_feature = r.null.p_feature;
  return r;
}

}  // namespace v2p::core
