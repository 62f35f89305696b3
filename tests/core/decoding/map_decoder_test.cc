// DAND's MAP posterior decoder (Güçlütürk et al. 2017, Eqs. 5-9): the
// posterior against the Gaussian-conditioning form, its samples, the fit.
#include "core/decoding/map_decoder.h"

#include <random>

#include "Eigen/Dense"
#include "gtest/gtest.h"
#include "tests/testing/random_matrix.h"

namespace v2p::core {
namespace {

struct Problem {
  Eigen::MatrixXd b;  // k x v
  Eigen::VectorXd noise;
  Eigen::RowVectorXd mean;
};

Problem RandomProblem(int k, int v, std::mt19937_64& rng) {
  Problem p;
  p.b = testing::Gaussian(k, v, rng) * 0.7;
  p.noise = (testing::Gaussian(v, 1, rng).array().abs() + 0.2).matrix();
  p.mean = testing::Gaussian(1, v, rng);
  return p;
}

// The product of the prior N(0, I) and the likelihood N(y; B'z + ybar,
// Sigma) against the joint-Gaussian conditioning formulas, which never
// invert the k x k precision: mean = B (B'B + Sigma)^-1 (y - ybar),
// covariance = I - B (B'B + Sigma)^-1 B'.
TEST(MapDecoder, PosteriorEqualsGaussianConditioning) {
  std::mt19937_64 rng(11);
  for (auto [k, v] : {std::pair{3, 5}, {8, 40}, {20, 12}, {1, 1}}) {
    SCOPED_TRACE(testing::Gaussian(1, 1, rng)(0));
    const Problem p = RandomProblem(k, v, rng);
    auto d = MapDecoder::FromModel(p.b, p.noise, p.mean);
    ASSERT_TRUE(d.ok()) << d.status();
    const Eigen::MatrixXd y = testing::Gaussian(4, v, rng);
    Eigen::MatrixXd cov_y = p.b.transpose() * p.b;
    cov_y.diagonal() += p.noise;
    const Eigen::MatrixXd gain = p.b * cov_y.inverse();  // k x v
    const Eigen::MatrixXd want_mean = ((y.rowwise() - p.mean) * gain.transpose());
    const Eigen::MatrixXd want_cov = Eigen::MatrixXd::Identity(k, k) - gain * p.b.transpose();
    auto mean = (*d)->PosteriorMean(y);
    ASSERT_TRUE(mean.ok());
    EXPECT_LT((*mean - want_mean).cwiseAbs().maxCoeff(), 1e-9);
    EXPECT_LT(((*d)->PosteriorCovariance() - want_cov).cwiseAbs().maxCoeff(), 1e-9);
  }
}

// 40,000 draws for one response: their mean and covariance match the
// posterior within sampling error (SE of a covariance entry is at most
// sqrt(2 / N) times the diagonal scale).
TEST(MapDecoder, SamplesHaveThePosteriorCovariance) {
  std::mt19937_64 rng(5);
  const Problem p = RandomProblem(4, 10, rng);
  auto d = MapDecoder::FromModel(p.b, p.noise, p.mean);
  ASSERT_TRUE(d.ok());
  const Eigen::MatrixXd y = testing::Gaussian(1, 10, rng);
  const int n = 40000;
  auto draws = (*d)->Sample(y, n, 3);
  ASSERT_TRUE(draws.ok());
  ASSERT_EQ(draws->size(), static_cast<size_t>(n));
  Eigen::MatrixXd z(n, 4);
  for (int s = 0; s < n; ++s) z.row(s) = (*draws)[s].row(0);
  const Eigen::RowVectorXd m = z.colwise().mean();
  const Eigen::MatrixXd centred = z.rowwise() - m;
  const Eigen::MatrixXd cov = centred.transpose() * centred / (n - 1);
  const Eigen::MatrixXd& want = (*d)->PosteriorCovariance();
  const double scale = want.diagonal().maxCoeff();
  EXPECT_LT((m - *(*d)->PosteriorMean(y)).cwiseAbs().maxCoeff(), 5 * std::sqrt(scale / n));
  EXPECT_LT((cov - want).cwiseAbs().maxCoeff(), 5 * std::sqrt(2.0 / n) * scale);
  // Seeded: the same seed gives the same draws, another seed others.
  EXPECT_EQ((*(*d)->Sample(y, 2, 3))[1], (*draws)[1]);
  EXPECT_NE((*(*d)->Sample(y, 2, 4))[1], (*draws)[1]);
}

// Fitted on many trials of a known model, B and Sigma come back, and the
// decoded latents of new trials correlate with the truth.
TEST(MapDecoder, FitRecoversTheEncodingModel) {
  std::mt19937_64 rng(8);
  const int k = 5, v = 30, n = 20000;
  const Problem p = RandomProblem(k, v, rng);
  const Eigen::MatrixXd z = testing::Gaussian(n, k, rng);
  Eigen::MatrixXd e = testing::Gaussian(n, v, rng);
  for (int j = 0; j < v; ++j) e.col(j) *= std::sqrt(p.noise(j));
  const Eigen::MatrixXd y = (z * p.b + e).rowwise() + p.mean;
  auto d = MapDecoder::Fit(z, y);
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_LT(((*d)->loadings() - p.b).cwiseAbs().maxCoeff(), 0.05);
  EXPECT_LT((((*d)->noise_variance() - p.noise).array() / p.noise.array()).abs().maxCoeff(), 0.1);
  const Eigen::MatrixXd z_new = testing::Gaussian(500, k, rng);
  Eigen::MatrixXd e_new = testing::Gaussian(500, v, rng);
  for (int j = 0; j < v; ++j) e_new.col(j) *= std::sqrt(p.noise(j));
  auto decoded = (*d)->PosteriorMean((z_new * p.b + e_new).rowwise() + p.mean);
  ASSERT_TRUE(decoded.ok());
  for (int j = 0; j < k; ++j) {
    const Eigen::VectorXd a = decoded->col(j).array() - decoded->col(j).mean();
    const Eigen::VectorXd b = z_new.col(j).array() - z_new.col(j).mean();
    EXPECT_GT(a.dot(b) / (a.norm() * b.norm()), 0.7) << "latent " << j;
  }
}

// DAND's latents are whitened over the generator's images, so over the
// fitting trials their mean is not 0. Latents with mean 1.5 (and a
// different one per component): the fitted intercept is the response at
// z = 0, and the decoded latents of new trials are unbiased (mean error
// within the posterior's shrinkage towards the prior, here ~1% of 1.5),
// where a fit on uncentred latents decodes them about 1.5 too low.
TEST(MapDecoder, LatentsWithANonZeroMeanAreDecodedUnbiased) {
  std::mt19937_64 rng(13);
  const int k = 4, v = 200, n = 400;
  const Problem p = RandomProblem(k, v, rng);
  Eigen::RowVectorXd z_mean(k);
  z_mean << 1.5, -1.0, 2.0, 0.5;
  auto draw = [&](int rows, Eigen::MatrixXd* z) {
    *z = testing::Gaussian(rows, k, rng).rowwise() + z_mean;
    Eigen::MatrixXd e = testing::Gaussian(rows, v, rng);
    for (int j = 0; j < v; ++j) e.col(j) *= std::sqrt(p.noise(j));
    return Eigen::MatrixXd((*z * p.b + e).rowwise() + p.mean);
  };
  Eigen::MatrixXd z, z_new;
  const Eigen::MatrixXd y = draw(n, &z);
  auto d = MapDecoder::Fit(z, y);
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_LT(((*d)->response_mean() - p.mean).cwiseAbs().mean(), 0.15);
  auto decoded = (*d)->PosteriorMean(draw(2000, &z_new));
  ASSERT_TRUE(decoded.ok());
  const Eigen::RowVectorXd bias = (*decoded - z_new).colwise().mean();
  for (int j = 0; j < k; ++j)
    EXPECT_LT(std::abs(bias(j)), 0.05 * std::abs(z_mean(j)) + 0.02)
        << "latent " << j << " mean " << z_mean(j) << " decoded with bias " << bias(j);
}

TEST(MapDecoder, RejectsBadInput) {
  std::mt19937_64 rng(2);
  const Eigen::MatrixXd z = testing::Gaussian(5, 6, rng), y = testing::Gaussian(5, 3, rng);
  EXPECT_EQ(MapDecoder::Fit(z, y).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(MapDecoder::Fit(z, y, {.ridge = 1.0}).ok());
  EXPECT_FALSE(MapDecoder::Fit(z.topRows(4), y).ok());
  EXPECT_FALSE(MapDecoder::FromModel(Eigen::MatrixXd::Ones(2, 3), Eigen::VectorXd::Zero(3),
                                     Eigen::RowVectorXd::Zero(3))
                   .ok());
  auto d = MapDecoder::Fit(z, y, {.ridge = 1.0});
  EXPECT_FALSE((*d)->PosteriorMean(Eigen::MatrixXd::Zero(1, 4)).ok());
}

}  // namespace
}  // namespace v2p::core
