// Per-unit decodability on held-out folds and top-K unit selection.
#include "core/decoding/unit_decodability.h"

#include <cmath>
#include <random>

#include "core/decoding/ridge_decoder.h"
#include "gtest/gtest.h"
#include "tests/testing/random_matrix.h"

namespace v2p::core {
namespace {

using Eigen::MatrixXd;

using testing::Gaussian;

FoldDecoder Ridge(double alpha) {
  return [alpha](const MatrixXd& xtr, const MatrixXd& htr,
                 const MatrixXd& xte) -> absl::StatusOr<MatrixXd> {
    RidgeDecoder::Options o;
    o.regression.alpha = alpha;
    auto d = RidgeDecoder::Fit(xtr, htr, o);
    if (!d.ok()) return d.status();
    Eigen::MatrixXf z = xte.cast<float>();
    (*d)->Standardize(&z);
    return MatrixXd((*d)->Decode(z).cast<double>());
  };
}

// Units 0..9 are linear in the voxels plus a little noise, units 10..19
// are noise: the first are decodable on held-out folds, the others are not,
// and top-10 selects exactly the first.
TEST(UnitDecodability, SeparatesDecodableUnitsFromNoise) {
  std::mt19937_64 rng(5);
  const int n = 120, d = 30;
  const MatrixXd x = Gaussian(n, d, rng);
  MatrixXd h(n, 20);
  h.leftCols(10) = x * Gaussian(d, 10, rng) + 0.5 * Gaussian(n, 10, rng);
  h.rightCols(10) = Gaussian(n, 10, rng);
  auto r = UnitDecodability(x, h, Ridge(1.0), {});
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->size(), 20);
  for (int j = 0; j < 10; ++j) EXPECT_GT((*r)(j), 0.9) << "unit " << j;
  for (int j = 10; j < 20; ++j) EXPECT_LT(std::abs((*r)(j)), 0.35) << "unit " << j;
  std::vector<int> top = TopDecodableUnits(*r, 10);
  std::sort(top.begin(), top.end());
  EXPECT_EQ(top, std::vector<int>({0, 1, 2, 3, 4, 5, 6, 7, 8, 9}));
}

// Every sample is predicted exactly once, by the fold that held it out: a
// decoder that copies its input gives correlation 1 for h = x whatever the
// shuffle, and a constant unit scores 0.
TEST(UnitDecodability, PoolsEverySampleOnceAndScoresConstantUnitsZero) {
  std::mt19937_64 rng(9);
  const MatrixXd x = Gaussian(23, 3, rng);
  MatrixXd h(23, 4);
  h.leftCols(3) = x;
  h.col(3).setConstant(2.5);
  int calls = 0;
  FoldDecoder copy = [&](const MatrixXd& xtr, const MatrixXd&,
                         const MatrixXd& xte) -> absl::StatusOr<MatrixXd> {
    ++calls;
    EXPECT_EQ(xtr.rows() + xte.rows(), 23);
    EXPECT_GE(xte.rows(), 4);  // 23 / 5 folds: sizes 4 or 5
    EXPECT_LE(xte.rows(), 5);
    MatrixXd out(xte.rows(), 4);
    out.leftCols(3) = xte;
    out.col(3).setZero();
    return out;
  };
  for (uint64_t seed : {0, 1, 77}) {
    DecodabilityOptions o;
    o.seed = seed;
    auto r = UnitDecodability(x, h, copy, o);
    ASSERT_TRUE(r.ok()) << r.status();
    for (int j = 0; j < 3; ++j) EXPECT_NEAR((*r)(j), 1.0, 1e-12);
    EXPECT_EQ((*r)(3), 0.0);
  }
  EXPECT_EQ(calls, 15);
}

TEST(UnitDecodability, RejectsBadInputAndStopsWhenCancelled) {
  std::mt19937_64 rng(1);
  const MatrixXd x = Gaussian(10, 3, rng), h = Gaussian(10, 2, rng);
  DecodabilityOptions o;
  o.folds = 1;
  EXPECT_EQ(UnitDecodability(x, h, Ridge(1), o).status().code(),
            absl::StatusCode::kInvalidArgument);
  o.folds = 11;
  EXPECT_EQ(UnitDecodability(x, h, Ridge(1), o).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(UnitDecodability(x, Gaussian(9, 2, rng), Ridge(1), {}).status().code(),
            absl::StatusCode::kInvalidArgument);
  o.folds = 5;
  o.is_cancelled = [] { return true; };
  EXPECT_EQ(UnitDecodability(x, h, Ridge(1), o).status().code(), absl::StatusCode::kCancelled);
  FoldDecoder failing = [](const MatrixXd&, const MatrixXd&,
                           const MatrixXd&) -> absl::StatusOr<MatrixXd> {
    return absl::FailedPreconditionError("singular");
  };
  EXPECT_EQ(UnitDecodability(x, h, failing, {}).status().code(),
            absl::StatusCode::kFailedPrecondition);
  FoldDecoder wrong_shape = [](const MatrixXd&, const MatrixXd&,
                               const MatrixXd& xte) -> absl::StatusOr<MatrixXd> {
    return MatrixXd::Zero(xte.rows(), 7);
  };
  EXPECT_FALSE(UnitDecodability(x, h, wrong_shape, {}).ok());
}

TEST(TopDecodableUnits, OrdersBestFirstWithTiesByIndexAndNonFiniteLast) {
  Eigen::VectorXd r(6);
  r << 0.2, std::nan(""), 0.9, 0.2, -0.5, 0.9;
  EXPECT_EQ(TopDecodableUnits(r, 3), std::vector<int>({2, 5, 0}));
  EXPECT_EQ(TopDecodableUnits(r, 0), std::vector<int>({2, 5, 0, 3, 4, 1}));
  EXPECT_EQ(TopDecodableUnits(r, 99).size(), 6u);
}

}  // namespace
}  // namespace v2p::core
