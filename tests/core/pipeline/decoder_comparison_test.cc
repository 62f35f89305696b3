// The cross-validated decoder comparison (Du et al. 2020 Table 2 style).
#include "core/pipeline/decoder_comparison.h"

#include <random>

#include "gtest/gtest.h"
#include "tests/testing/random_matrix.h"

namespace v2p::core {
namespace {

using Eigen::MatrixXd;

using testing::Gaussian;

// Units linear in a few voxels plus noise: every decoder predicts held-out
// trials better than the mean (NMSE < 1), each row has one score and one
// penalty per fold, penalties come from the grids, and a sparse variant
// reuses its counterpart's lambda1 fold by fold.
TEST(CompareFeatureDecoders, ScoresEveryDecoderOnEveryFold) {
  std::mt19937_64 rng(12);
  const int n = 60, d = 50, k = 8;
  const MatrixXd x = Gaussian(n, d, rng);
  const MatrixXd h = x.leftCols(6) * Gaussian(6, k, rng) + 0.5 * Gaussian(n, k, rng);
  DecoderComparisonOptions o;
  o.folds = 3;
  o.inner_folds = 3;
  o.n_voxels = 20;
  o.max_iterations = 3;
  o.ridge_alphas = {1, 100};
  o.lambda1_grid = {1, 30};
  o.variants = {"SMR", "SMR-IT", "sparse-SMR"};
  int reported = 0;
  o.on_fold = [&](const std::string&, int, double, double) { ++reported; };
  auto rows = CompareFeatureDecoders(x, h, o);
  ASSERT_TRUE(rows.ok()) << rows.status();
  ASSERT_EQ(rows->size(), 5u);
  EXPECT_EQ((*rows)[0].decoder, "ridge (all voxels)");
  EXPECT_EQ((*rows)[1].decoder, "ridge (20 selected voxels)");
  EXPECT_EQ((*rows)[4].decoder, "sparse-SMR");
  EXPECT_EQ(reported, 15);
  for (const auto& r : *rows) {
    SCOPED_TRACE(r.decoder);
    ASSERT_EQ(r.nmse.size(), 3u);
    ASSERT_EQ(r.penalty.size(), 3u);
    for (double e : r.nmse) {
      EXPECT_GT(e, 0);
      EXPECT_LT(e, 0.6);
    }
    EXPECT_GE(r.sd(), 0);
  }
  for (int f = 0; f < 3; ++f) {
    EXPECT_TRUE((*rows)[0].penalty[f] == 1 || (*rows)[0].penalty[f] == 100);
    EXPECT_TRUE((*rows)[2].penalty[f] == 1 || (*rows)[2].penalty[f] == 30);
    EXPECT_EQ((*rows)[4].penalty[f], (*rows)[2].penalty[f]);
  }
}

TEST(CompareFeatureDecoders, RejectsBadSetups) {
  std::mt19937_64 rng(2);
  const MatrixXd x = Gaussian(20, 5, rng), h = Gaussian(20, 3, rng);
  DecoderComparisonOptions o;
  o.folds = 5;
  o.inner_folds = 5;  // 25 > 20 trials
  EXPECT_EQ(CompareFeatureDecoders(x, h, o).status().code(), absl::StatusCode::kInvalidArgument);
  o.inner_folds = 2;
  o.variants = {"sparse-SMR"};  // without its counterpart
  EXPECT_EQ(CompareFeatureDecoders(x, h, o).status().code(), absl::StatusCode::kInvalidArgument);
  o.variants = {"SMR-Q"};
  EXPECT_EQ(CompareFeatureDecoders(x, h, o).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_FALSE(CompareFeatureDecoders(x, Gaussian(19, 3, rng), {}).ok());
}

}  // namespace
}  // namespace v2p::core
