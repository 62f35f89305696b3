// The PCA layer (DAND's latent feature model and the eigenface baseline).
#include "core/features/pca.h"

#include <filesystem>
#include <random>

#include "Eigen/QR"
#include "gtest/gtest.h"
#include "tests/testing/random_matrix.h"

namespace v2p::core {
namespace {

// Data with a known spectrum: a random rotation of columns scaled by
// 10, 5, 2, 1, 0.1, ... plus an offset.
Eigen::MatrixXd Spectral(int n, int d, std::mt19937_64& rng) {
  Eigen::MatrixXd x = testing::Gaussian(n, d, rng);
  for (int j = 0; j < d; ++j) x.col(j) *= j < 4 ? std::vector<double>{10, 5, 2, 1}[j] : 0.1;
  const Eigen::MatrixXd q = testing::Gaussian(d, d, rng).householderQr().householderQ();
  return (x * q).rowwise() + testing::Gaussian(1, d, rng).row(0);
}

TEST(PcaLayer, RoundTripsAtFullRankAndOrdersComponents) {
  std::mt19937_64 rng(4);
  const Eigen::MatrixXd x = Spectral(300, 12, rng);
  for (bool whiten : {false, true}) {
    auto pca = PcaLayer::Fit(x, {.components = 12, .whiten = whiten});
    ASSERT_TRUE(pca.ok()) << pca.status();
    const Eigen::MatrixXd w = (*pca)->components();
    EXPECT_LT((w.transpose() * w - Eigen::MatrixXd::Identity(12, 12)).cwiseAbs().maxCoeff(), 1e-10);
    for (int j = 1; j < 12; ++j) EXPECT_GE((*pca)->variance()(j - 1), (*pca)->variance()(j));
    auto z = (*pca)->Transform(x);
    ASSERT_TRUE(z.ok());
    auto back = (*pca)->Inverse(*z);
    ASSERT_TRUE(back.ok());
    EXPECT_LT((*back - x).cwiseAbs().maxCoeff(), 1e-9);
    // The inverse as the linear map the eigenface pipeline serves.
    const Eigen::MatrixXd linear = ((*z) * (*pca)->inverse_map()).rowwise() + (*pca)->mean();
    EXPECT_LT((linear - *back).cwiseAbs().maxCoeff(), 1e-9);
    // Components are uncorrelated; whitened ones have unit variance.
    const Eigen::MatrixXd c = z->rowwise() - z->colwise().mean();
    const Eigen::MatrixXd cov = c.transpose() * c / (x.rows() - 1);
    for (int i = 0; i < 12; ++i)
      for (int j = 0; j < 12; ++j) {
        const double want = i != j ? 0 : whiten ? 1 : (*pca)->variance()(i);
        EXPECT_NEAR(cov(i, j), want, 1e-8 * std::max(1.0, want));
      }
  }
}

TEST(PcaLayer, ChoosesTheCountByExplainedVarianceAndReloads) {
  std::mt19937_64 rng(6);
  const Eigen::MatrixXd x = Spectral(2000, 20, rng);
  // Variances about 100, 25, 4, 1 and 16 x 0.01 (cumulative 76.8%, 96.0%,
  // 99.1%, 99.9%): 90% needs two components, 99.5% four.
  auto p90 = PcaLayer::Fit(x, {.explained_variance = 0.9});
  auto p99 = PcaLayer::Fit(x, {.explained_variance = 0.995});
  ASSERT_TRUE(p90.ok() && p99.ok());
  EXPECT_EQ((*p90)->num_components(), 2);
  EXPECT_EQ((*p99)->num_components(), 4);
  EXPECT_GE((*p99)->explained_fraction(), 0.995);
  // Truncation loses only the dropped variance.
  const Eigen::MatrixXd back = *(*p99)->Inverse(*(*p99)->Transform(x));
  const double lost = (back - x).array().square().sum() / (x.rows() - 1);
  const double total = (x.rowwise() - x.colwise().mean()).array().square().sum() / (x.rows() - 1);
  EXPECT_NEAR(lost / total, 1 - (*p99)->explained_fraction(), 1e-9);

  const std::string dir = ::testing::TempDir() + "/pca_layer";
  ASSERT_TRUE((*p99)->Save(dir).ok());
  auto loaded = PcaLayer::Load(dir);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ(*(*loaded)->Transform(x.topRows(5)), *(*p99)->Transform(x.topRows(5)));
  EXPECT_DOUBLE_EQ((*loaded)->explained_fraction(), (*p99)->explained_fraction());
  std::filesystem::remove(dir + "/pca_scale.npy");
  EXPECT_FALSE(PcaLayer::Load(dir).ok());
  std::filesystem::remove_all(dir);
}

TEST(PcaLayer, RejectsBadInput) {
  std::mt19937_64 rng(1);
  const Eigen::MatrixXd x = testing::Gaussian(5, 3, rng);
  EXPECT_FALSE(PcaLayer::Fit(x.topRows(1), {}).ok());
  EXPECT_FALSE(PcaLayer::Fit(x, {.components = 4}).ok());
  EXPECT_FALSE(PcaLayer::Fit(x, {.explained_variance = 1.5}).ok());
  Eigen::MatrixXd bad = x;
  bad(0, 0) = std::nan("");
  EXPECT_FALSE(PcaLayer::Fit(bad, {}).ok());
  auto pca = PcaLayer::Fit(x, {.components = 2});
  ASSERT_TRUE(pca.ok());
  EXPECT_FALSE((*pca)->Transform(Eigen::MatrixXd::Zero(1, 2)).ok());
  EXPECT_FALSE((*pca)->Inverse(Eigen::MatrixXd::Zero(1, 3)).ok());
}

}  // namespace
}  // namespace v2p::core
