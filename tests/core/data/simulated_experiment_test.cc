// The simulated experiment: the SNR, the noise correlation and the effect
// of averaging repeats are what the options state.
#include "core/data/simulated_experiment.h"

#include <random>

#include "gtest/gtest.h"
#include "tests/testing/random_matrix.h"

namespace v2p::core {
namespace {

double Correlation(const Eigen::VectorXd& a, const Eigen::VectorXd& b) {
  const Eigen::VectorXd x = a.array() - a.mean(), y = b.array() - b.mean();
  return x.dot(y) / (x.norm() * y.norm());
}

TEST(SimulatedExperiment, NoiseHasTheStatedSnrCorrelationAndRepeats) {
  std::mt19937_64 rng(3);
  const Eigen::MatrixXd train = testing::Gaussian(1050, 40, rng) * 3;  // HYPER's design
  const Eigen::MatrixXd test = testing::Gaussian(36, 40, rng) * 3;
  SimulationOptions o;
  o.num_voxels = 400;
  o.snr = 0.5;
  o.noise_correlation = 0.4;
  o.test_repeats = 14;
  auto r = SimulateResponses(train, test, o);
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->train.rows(), 1050);
  ASSERT_EQ(r->train.cols(), 400);
  ASSERT_EQ(r->test.rows(), 36);
  const Eigen::MatrixXd noise = r->train - r->train_signal;
  const Eigen::MatrixXd centred = r->train_signal.rowwise() - r->train_signal.colwise().mean();
  const double signal_var = centred.array().square().mean() * 1050 / 1049;
  const double noise_var = noise.array().square().mean();
  EXPECT_NEAR(signal_var, 1.0, 1e-9);  // scaled per voxel to unit variance
  EXPECT_NEAR(signal_var / noise_var, 0.5, 0.02);
  double adjacent = 0, distant = 0;
  for (int j = 0; j + 10 < 400; ++j) {
    adjacent += Correlation(noise.col(j), noise.col(j + 1));
    distant += Correlation(noise.col(j), noise.col(j + 10));
  }
  EXPECT_NEAR(adjacent / 390, 0.4, 0.02);
  EXPECT_NEAR(distant / 390, std::pow(0.4, 10), 0.02);
  // Averaging 14 repeats divides the test noise variance by 14.
  const double test_noise = (r->test - r->test_signal).array().square().mean();
  EXPECT_NEAR(test_noise * 14 * 0.5, 1.0, 0.1);
  // Responses follow the features: the signal is a linear map of them.
  EXPECT_GT(Correlation(r->test.col(0), r->test_signal.col(0)), 0.8);

  const Dataset ds = SimulatedDataset("faces", {2, 2, 1}, Eigen::MatrixXd::Zero(1050, 4),
                                      Eigen::MatrixXd::Zero(36, 4), *r);
  EXPECT_NE(ds.name.find("simulated"), std::string::npos);
  EXPECT_EQ(ds.test.betas.rows(), 36);
}

TEST(SimulatedExperiment, SameSeedSameResponsesAndBadInputIsRefused) {
  std::mt19937_64 rng(1);
  const Eigen::MatrixXd f = testing::Gaussian(20, 5, rng);
  SimulationOptions o;
  o.num_voxels = 30;
  EXPECT_EQ(SimulateResponses(f, f, o)->train, SimulateResponses(f, f, o)->train);
  o.seed = 2;
  EXPECT_NE(SimulateResponses(f, f, o)->train, SimulateResponses(f, f, {.num_voxels = 30})->train);
  EXPECT_FALSE(SimulateResponses(f, f.leftCols(4), o).ok());
  EXPECT_FALSE(SimulateResponses(f.topRows(1), f, o).ok());
  o.noise_correlation = 1;
  EXPECT_FALSE(SimulateResponses(f, f, o).ok());
}

}  // namespace
}  // namespace v2p::core
