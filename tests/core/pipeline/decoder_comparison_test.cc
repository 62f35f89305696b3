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
// set of penalties per fold, penalties come from the grids, a sparse
// variant reuses its counterpart's lambda1 fold by fold and chooses its l1
// weights from l1_grid (0 on a precision it fixes to I), and running the
// outer folds on two threads changes nothing but rounding.
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
  o.l1_grid = {0.02, 0.2};
  o.variants = {"SMR", "SMR-IT", "sparse-SMR", "sparse-SMR-IT"};
  int reported = 0;
  o.on_fold = [&](const std::string&, int, double, const ChosenPenalties&) { ++reported; };
  auto rows = CompareFeatureDecoders(x, h, o);
  ASSERT_TRUE(rows.ok()) << rows.status();
  ASSERT_EQ(rows->size(), 6u);
  EXPECT_EQ((*rows)[0].decoder, "ridge (all voxels)");
  EXPECT_EQ((*rows)[1].decoder, "ridge (20 selected voxels)");
  EXPECT_EQ((*rows)[4].decoder, "sparse-SMR");
  EXPECT_EQ(reported, 18);
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
  auto in_l1_grid = [&](double v) { return v == 0.02 || v == 0.2; };
  for (int f = 0; f < 3; ++f) {
    const auto& p = [&](int row) { return (*rows)[row].penalty[f]; };
    EXPECT_TRUE(p(0).main == 1 || p(0).main == 100);
    EXPECT_TRUE(p(2).main == 1 || p(2).main == 30);
    EXPECT_FALSE(p(2).sparse);
    EXPECT_EQ(p(4).main, p(2).main);  // sparse-SMR takes SMR's lambda1
    EXPECT_TRUE(p(4).sparse);
    EXPECT_TRUE(in_l1_grid(p(4).lambda2)) << p(4).ToString();
    EXPECT_TRUE(in_l1_grid(p(4).lambda3)) << p(4).ToString();
    EXPECT_EQ(p(5).main, p(3).main);  // and sparse-SMR-IT SMR-IT's
    EXPECT_EQ(p(5).lambda2, 0) << "SMR-IT fixes Omega^-1 = I";
    EXPECT_TRUE(in_l1_grid(p(5).lambda3)) << p(5).ToString();
  }
  o.threads = 2;
  auto threaded = CompareFeatureDecoders(x, h, o);
  ASSERT_TRUE(threaded.ok()) << threaded.status();
  for (size_t r = 0; r < rows->size(); ++r)
    for (int f = 0; f < 3; ++f) {
      // To rounding: one BLAS thread instead of two sums in another order.
      EXPECT_NEAR((*threaded)[r].nmse[f], (*rows)[r].nmse[f], 1e-9) << (*rows)[r].decoder << f;
      EXPECT_EQ((*threaded)[r].penalty[f].ToString(), (*rows)[r].penalty[f].ToString());
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
  o.variants = {};
  o.l1_grid = {0.1, -1};
  EXPECT_EQ(CompareFeatureDecoders(x, h, o).status().code(), absl::StatusCode::kInvalidArgument);
  o.l1_grid = {0.1};
  o.threads = -1;
  EXPECT_EQ(CompareFeatureDecoders(x, h, o).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_FALSE(CompareFeatureDecoders(x, Gaussian(19, 3, rng), {}).ok());
}

}  // namespace
}  // namespace v2p::core
