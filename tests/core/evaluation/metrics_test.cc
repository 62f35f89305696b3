#include "core/evaluation/metrics.h"

#include <cmath>

#include "core/evaluation/identification.h"
#include "gtest/gtest.h"

namespace v2p::core {
namespace {

Eigen::VectorXd V(std::initializer_list<double> v) {
  Eigen::VectorXd out(v.size());
  int i = 0;
  for (double x : v) out(i++) = x;
  return out;
}

TEST(PixelPcc, HandComputedValues) {
  EXPECT_NEAR(PixelPcc(V({1, 2, 3, 4}), V({2, 4, 6, 8})), 1.0, 1e-12);
  EXPECT_NEAR(PixelPcc(V({1, 2, 3, 4}), V({8, 6, 4, 2})), -1.0, 1e-12);
  // deviations (-1,0,1) and (-1,1,0): covariance sum 1, norms sqrt(2) each.
  EXPECT_NEAR(PixelPcc(V({1, 2, 3}), V({1, 3, 2})), 0.5, 1e-12);
  EXPECT_EQ(PixelPcc(V({1, 1, 1}), V({1, 2, 3})), 0.0);
}

TEST(PixelMse, HandComputedValues) {
  EXPECT_DOUBLE_EQ(PixelMse(V({0, 1}), V({1, 1})), 0.5);
  EXPECT_DOUBLE_EQ(PixelMse(V({0.2, 0.4}), V({0.2, 0.4})), 0.0);
}

// SSIM written directly from Wang et al. (2004) Eqs. 13-15 and 17 with a 2-d
// Gaussian window, independently of the separable implementation.
double DirectSsim(const Eigen::MatrixXd& x, const Eigen::MatrixXd& y) {
  const int n = 11;
  Eigen::MatrixXd w(n, n);
  for (int i = 0; i < n; ++i)
    for (int j = 0; j < n; ++j)
      w(i, j) = std::exp(-((i - 5.0) * (i - 5.0) + (j - 5.0) * (j - 5.0)) / (2 * 1.5 * 1.5));
  w /= w.sum();
  const double c1 = 1e-4, c2 = 9e-4;
  double total = 0;
  int count = 0;
  for (int r = 0; r + n <= x.rows(); ++r) {
    for (int c = 0; c + n <= x.cols(); ++c) {
      const Eigen::MatrixXd px = x.block(r, c, n, n), py = y.block(r, c, n, n);
      const double mx = (w.array() * px.array()).sum(), my = (w.array() * py.array()).sum();
      const double vx = (w.array() * (px.array() - mx).square()).sum();
      const double vy = (w.array() * (py.array() - my).square()).sum();
      const double cxy = (w.array() * (px.array() - mx) * (py.array() - my)).sum();
      total += (2 * mx * my + c1) * (2 * cxy + c2) / ((mx * mx + my * my + c1) * (vx + vy + c2));
      ++count;
    }
  }
  return total / count;
}

Eigen::VectorXd Flatten(const Eigen::MatrixXd& img) {
  Eigen::VectorXd v(img.size());
  for (int r = 0; r < img.rows(); ++r)
    for (int c = 0; c < img.cols(); ++c) v(r * img.cols() + c) = img(r, c);
  return v;
}

TEST(Ssim, MatchesDirectDefinition) {
  std::srand(7);
  const Eigen::MatrixXd x = (Eigen::MatrixXd::Random(13, 17).array() + 1) / 2;
  const Eigen::MatrixXd y = (x + 0.2 * Eigen::MatrixXd::Random(13, 17)).cwiseMax(0).cwiseMin(1);
  auto got = Ssim(Flatten(x), Flatten(y), {13, 17, 1});
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_NEAR(*got, DirectSsim(x, y), 1e-12);
  EXPECT_LT(*got, 1.0);
}

TEST(Ssim, IdenticalImagesScoreOne) {
  const Eigen::VectorXd x = (Eigen::VectorXd::Random(28 * 28).array() + 1) / 2;
  EXPECT_NEAR(*Ssim(x, x, {28, 28, 1}), 1.0, 1e-12);
}

TEST(Ssim, ConstantImagesHandValue) {
  // sigma = 0 everywhere: SSIM = (2 mx my + C1) / (mx^2 + my^2 + C1).
  const Eigen::VectorXd x = Eigen::VectorXd::Constant(121, 0.2);
  const Eigen::VectorXd y = Eigen::VectorXd::Constant(121, 0.6);
  EXPECT_NEAR(*Ssim(x, y, {11, 11, 1}), (0.24 + 1e-4) / (0.40 + 1e-4), 1e-12);
}

TEST(Ssim, RejectsImagesSmallerThanWindow) {
  const Eigen::VectorXd x = Eigen::VectorXd::Zero(100);
  EXPECT_EQ(Ssim(x, x, {10, 10, 1}).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Ssim(x, Eigen::VectorXd::Zero(99), {10, 10, 1}).status().code(),
            absl::StatusCode::kInvalidArgument);
}

// 1 / (1 + ||a - b||): 1 for equal vectors, 1/6 at distance 5 (a 3-4-5
// triangle), whatever the direction.
TEST(EuclideanSimilarity, IsOneOverOnePlusTheDistance) {
  Eigen::VectorXd a(2), b(2);
  a << 1, 1;
  b << 4, 5;
  EXPECT_DOUBLE_EQ(EuclideanSimilarity(a, a), 1.0);
  EXPECT_DOUBLE_EQ(EuclideanSimilarity(a, b), 1.0 / 6.0);
  EXPECT_DOUBLE_EQ(EuclideanSimilarity(b, a), 1.0 / 6.0);
}

// HYPER Table 1's preparation: 224 x 224 out; a 3 x 3 Gaussian of sigma
// 0.8 leaves a constant image constant and spreads a single bright pixel
// to its 8 neighbours only, with the centre weight (g0 / (g0 + 2 g1))^2,
// g(x) = exp(-x^2 / (2 * 0.8^2)).
TEST(HyperSmoothedImages, ResizesTo224AndBlursWithAThreeByThreeKernel) {
  const Eigen::MatrixXf flat = Eigen::MatrixXf::Constant(2, 28 * 28, 0.4f);
  auto smoothed = HyperSmoothedImages(flat, {28, 28, 1});
  ASSERT_TRUE(smoothed.ok()) << smoothed.status();
  EXPECT_EQ(smoothed->rows(), 2);
  EXPECT_EQ(smoothed->cols(), 224 * 224);
  EXPECT_NEAR(smoothed->minCoeff(), 0.4f, 1e-5);
  EXPECT_NEAR(smoothed->maxCoeff(), 0.4f, 1e-5);
  // Already 224 x 224: the resize is the identity, so only the blur acts.
  Eigen::MatrixXf dot = Eigen::MatrixXf::Zero(1, 224 * 224);
  dot(0, 100 * 224 + 100) = 1;
  auto blurred = HyperSmoothedImages(dot, {224, 224, 1});
  ASSERT_TRUE(blurred.ok());
  const double g1 = std::exp(-1 / (2 * 0.64));
  const double centre = 1 / ((1 + 2 * g1) * (1 + 2 * g1));
  EXPECT_NEAR((*blurred)(0, 100 * 224 + 100), centre, 1e-5);
  EXPECT_GT((*blurred)(0, 101 * 224 + 101), 0);  // a diagonal neighbour
  EXPECT_EQ((*blurred)(0, 102 * 224 + 100), 0);  // two rows away: outside the kernel
  EXPECT_NEAR(blurred->sum(), 1, 1e-5);
  EXPECT_FALSE(HyperSmoothedImages(flat, {28, 28, 3}).ok());
}

TEST(Identification, CountsWinsAndHalfTies) {
  Eigen::MatrixXd s(2, 2);
  s << 1.0, 0.5,  // reconstruction 0 prefers its own stimulus
      0.9, 0.2;   // reconstruction 1 does not
  EXPECT_DOUBLE_EQ(PairwiseIdentification(s), 0.5);
  Eigen::MatrixXd t(3, 3);
  t << 1, 0, 0, 0, 1, 1,  // a tie counts one half
      0, 0, 1;
  EXPECT_DOUBLE_EQ(PairwiseIdentification(t), 5.5 / 6.0);
  EXPECT_TRUE(std::isnan(PairwiseIdentification(Eigen::MatrixXd::Ones(1, 1))));
  // Per reconstruction: 1 (both others beaten), 0.75 (one beaten, one tie), 1.
  const Eigen::VectorXd per_item = IdentificationPerItem(t);
  ASSERT_EQ(per_item.size(), 3);
  EXPECT_DOUBLE_EQ(per_item(0), 1.0);
  EXPECT_DOUBLE_EQ(per_item(1), 0.75);
  EXPECT_DOUBLE_EQ(per_item(2), 1.0);
  EXPECT_DOUBLE_EQ(per_item.mean(), PairwiseIdentification(t));
  EXPECT_TRUE(std::isnan(IdentificationPerItem(Eigen::MatrixXd::Ones(1, 1))(0)));
}

// SSIM-11g's window on images that hold it; on narrower ones the largest
// odd window that fits, sigma scaled alike, and a definition that says so.
TEST(Ssim, NarrowImagesTakeTheLargestOddWindowThatFits) {
  EXPECT_EQ(SsimOptionsFor({28, 28, 1}).window, 11);
  EXPECT_EQ(SsimDefinition({28, 28, 1}), kSsimDefinition);
  const SsimOptions ten = SsimOptionsFor({10, 12, 1});
  EXPECT_EQ(ten.window, 9);
  EXPECT_DOUBLE_EQ(ten.sigma, 1.5 * 9 / 11);
  EXPECT_EQ(SsimOptionsFor({8, 8, 1}).window, 7);
  EXPECT_EQ(SsimOptionsFor({2, 2, 1}).window, 3);
  EXPECT_NE(SsimDefinition({8, 8, 1}).find("SSIM-7g"), std::string::npos);
  Eigen::VectorXd a = Eigen::VectorXd::LinSpaced(64, 0, 1), b = a.reverse();
  auto same = Ssim(a, a, {8, 8, 1}, SsimOptionsFor({8, 8, 1}));
  ASSERT_TRUE(same.ok()) << same.status();
  EXPECT_NEAR(*same, 1.0, 1e-12);
  auto other = Ssim(a, b, {8, 8, 1}, SsimOptionsFor({8, 8, 1}));
  ASSERT_TRUE(other.ok());
  EXPECT_LT(*other, 0.5);
  EXPECT_FALSE(Ssim(a, a, {8, 8, 1}).ok());  // SSIM-11g itself still refuses
}

}  // namespace
}  // namespace v2p::core
