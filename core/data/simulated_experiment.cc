#include "core/data/simulated_experiment.h"

#include <cmath>
#include <random>

#include "absl/strings/str_cat.h"

namespace v2p::core {
namespace {

Eigen::MatrixXd Normal(Eigen::Index r, Eigen::Index c, std::mt19937_64& rng) {
  std::normal_distribution<double> n(0, 1);
  Eigen::MatrixXd m(r, c);
  for (Eigen::Index i = 0; i < m.size(); ++i) m.data()[i] = n(rng);
  return m;
}

// Rows of AR(1) noise along the columns: unit marginal variance, adjacent
// correlation rho.
Eigen::MatrixXd Ar1Noise(Eigen::Index n, Eigen::Index v, double rho, std::mt19937_64& rng) {
  Eigen::MatrixXd e = Normal(n, v, rng);
  const double innovation = std::sqrt(1 - rho * rho);
  for (Eigen::Index j = 1; j < v; ++j) e.col(j) = rho * e.col(j - 1) + innovation * e.col(j);
  return e;
}

}  // namespace

absl::StatusOr<SimulatedResponses> SimulateResponses(const Eigen::MatrixXd& train,
                                                     const Eigen::MatrixXd& test,
                                                     const SimulationOptions& o) {
  if (train.rows() < 2 || train.cols() < 1 || test.cols() != train.cols())
    return absl::InvalidArgumentError(absl::StrCat("simulation: ", train.rows(), "x", train.cols(),
                                                   " training and ", test.rows(), "x", test.cols(),
                                                   " test features"));
  if (!train.allFinite() || !test.allFinite())
    return absl::InvalidArgumentError("simulation: features contain NaN or Inf");
  if (o.num_voxels < 1 || !(o.snr > 0) || !(o.noise_correlation >= 0 && o.noise_correlation < 1) ||
      o.test_repeats < 1)
    return absl::InvalidArgumentError(
        "simulation: num_voxels >= 1, snr > 0, noise_correlation in [0, 1), test_repeats >= 1");
  std::mt19937_64 rng(o.seed);
  const Eigen::RowVectorXd mean = train.colwise().mean();
  Eigen::RowVectorXd sd =
      ((train.rowwise() - mean).array().square().colwise().sum() / (train.rows() - 1)).sqrt();
  sd = (sd.array() > 0).select(sd, 1.0);
  auto standardise = [&](const Eigen::MatrixXd& f) {
    return Eigen::MatrixXd((f.rowwise() - mean).array().rowwise() / sd.array());
  };
  SimulatedResponses r;
  r.weights =
      Normal(train.cols(), o.num_voxels, rng) / std::sqrt(static_cast<double>(train.cols()));
  r.train_signal = standardise(train) * r.weights;
  // Unit signal variance per voxel over the training stimuli.
  const Eigen::RowVectorXd s_mean = r.train_signal.colwise().mean();
  Eigen::RowVectorXd s_sd =
      ((r.train_signal.rowwise() - s_mean).array().square().colwise().sum() / (train.rows() - 1))
          .sqrt();
  s_sd = (s_sd.array() > 0).select(s_sd, 1.0);
  for (Eigen::Index j = 0; j < o.num_voxels; ++j) r.weights.col(j) /= s_sd(j);
  r.train_signal = standardise(train) * r.weights;
  r.test_signal = standardise(test) * r.weights;
  const double noise_sd = 1 / std::sqrt(o.snr);
  r.train =
      r.train_signal + noise_sd * Ar1Noise(train.rows(), o.num_voxels, o.noise_correlation, rng);
  r.test = r.test_signal;
  Eigen::MatrixXd sum = Eigen::MatrixXd::Zero(test.rows(), o.num_voxels);
  for (int k = 0; k < o.test_repeats; ++k)
    sum += Ar1Noise(test.rows(), o.num_voxels, o.noise_correlation, rng);
  r.test += noise_sd * sum / o.test_repeats;
  return r;
}

Dataset SimulatedDataset(const std::string& name, ImageShape image,
                         const Eigen::MatrixXd& train_stimuli, const Eigen::MatrixXd& test_stimuli,
                         const SimulatedResponses& r) {
  Dataset ds;
  ds.name = absl::StrCat(name, " (simulated responses)");
  ds.image = image;
  ds.train.betas = r.train;
  ds.train.stimuli = train_stimuli;
  ds.test.betas = r.test;
  ds.test.stimuli = test_stimuli;
  return ds;
}

}  // namespace v2p::core
