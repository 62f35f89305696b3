#include "core/decoding/ridge_cv.h"

#include <algorithm>
#include <cmath>
#include <random>

#include "gtest/gtest.h"

namespace v2p::core {
namespace {

// Targets y = x w + noise with w ~ N(0, tau^2) per weight and noise
// ~ N(0, sigma^2), x standard normal: the posterior mean of w is ridge with
// alpha = sigma^2 / tau^2, the penalty with the smallest expected held-out
// error. Many targets drawn alike make the CV curve smooth.
struct Synthetic {
  Eigen::MatrixXd x, y;
};
Synthetic Draw(double true_alpha, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> normal;
  const int n = 200, d = 400, targets = 128;
  const double sigma = 1, tau = sigma / std::sqrt(true_alpha);
  Synthetic s;
  s.x = Eigen::MatrixXd::NullaryExpr(n, d, [&] { return normal(rng); });
  const Eigen::MatrixXd w =
      Eigen::MatrixXd::NullaryExpr(d, targets, [&] { return tau * normal(rng); });
  s.y = s.x * w + Eigen::MatrixXd::NullaryExpr(n, targets, [&] { return sigma * normal(rng); });
  return s;
}

TEST(RidgeCv, ChoosesTheAlphaTheDataWereDrawnWith) {
  RidgeDecoder::Options base;
  base.standardize_voxels = true;
  for (const uint64_t seed : {1, 2, 3}) {
    for (const double truth : {10.0, 100.0, 1e4}) {
      SCOPED_TRACE(seed);
      const Synthetic s = Draw(truth, seed);
      RidgeCvOptions o;
      int calls = 0;
      o.on_fit = [&](int done, int total) {
        ++calls;
        EXPECT_EQ(done, calls);
        EXPECT_EQ(total, 40);
      };
      auto r = ChooseRidgeAlpha(s.x, s.y, base, o);
      ASSERT_TRUE(r.ok()) << r.status();
      EXPECT_EQ(calls, 40);
      EXPECT_EQ(r->alpha, truth);
      ASSERT_EQ(r->error.size(), r->grid.size());
      // The curve is the reason: the chosen value has the least error.
      const auto best = std::min_element(r->error.begin(), r->error.end()) - r->error.begin();
      EXPECT_EQ(r->grid[best], truth);
    }
  }
}

TEST(RidgeCv, RefusesWhatItCannotCrossValidate) {
  const Synthetic s = Draw(100, 1);
  RidgeDecoder::Options base;
  RidgeCvOptions o;
  o.folds = 1;
  EXPECT_EQ(ChooseRidgeAlpha(s.x, s.y, base, o).status().code(),
            absl::StatusCode::kInvalidArgument);
  o.folds = 5;
  EXPECT_EQ(ChooseRidgeAlpha(s.x.topRows(8), s.y.topRows(8), base, o).status().code(),
            absl::StatusCode::kInvalidArgument);
  for (double bad : {0.0, -1.0, std::nan(""), double{INFINITY}}) {
    o.grid = {1, bad};
    EXPECT_EQ(ChooseRidgeAlpha(s.x, s.y, base, o).status().code(),
              absl::StatusCode::kInvalidArgument);
  }
  o.grid = {1, 10};
  o.is_cancelled = [] { return true; };
  EXPECT_EQ(ChooseRidgeAlpha(s.x, s.y, base, o).status().code(), absl::StatusCode::kCancelled);
}

}  // namespace
}  // namespace v2p::core
