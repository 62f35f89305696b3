// Shen et al. (2019)'s feature-norm statistic psi against values computed
// by hand.
#include <cmath>
#include <vector>

#include "Eigen/Core"
#include "core/features/feature_network.h"
#include "gtest/gtest.h"

namespace v2p::core {
namespace {

// Two channels of 2 x 2 units, channel-major: channel 0 holds 1, 2, 3, 4
// (mean 2.5, population variance 1.25), channel 1 holds 0, 0, 0, 2 (mean
// 0.5, variance 0.75). psi = (sqrt(1.25) + sqrt(0.75)) / 2 = 0.99203.
// Taking the SD over all eight units instead (mean 1.5, variance 1.75)
// would give 1.3229, and the L2 norm sqrt(34) = 5.83.
TEST(ShenFeatureStd, ConvolutionalLayerAveragesEachChannelsSd) {
  Eigen::VectorXd a(8);
  a << 1, 2, 3, 4, 0, 0, 0, 2;
  EXPECT_NEAR(ShenFeatureStd(a, {2, 2, 2}), (std::sqrt(1.25) + std::sqrt(0.75)) / 2, 1e-12);
  EXPECT_NEAR(ShenFeatureStd(a, {2, 2, 2}), 0.992030, 1e-6);
}

// A fully connected layer: the SD across units, 1, 3, 5, 7 -> mean 4,
// variance (9 + 1 + 1 + 9) / 4 = 5. A convolutional layer with 1 x 1 maps
// is the same.
TEST(ShenFeatureStd, FullyConnectedLayerTakesTheSdAcrossUnits) {
  Eigen::VectorXd a(4);
  a << 1, 3, 5, 7;
  EXPECT_NEAR(ShenFeatureStd(a, {4}), std::sqrt(5.0), 1e-12);
  EXPECT_NEAR(ShenFeatureStd(a, {4, 1, 1}), std::sqrt(5.0), 1e-12);
  // One channel of 2 x 2: its own SD.
  EXPECT_NEAR(ShenFeatureStd(a, {1, 2, 2}), std::sqrt(5.0), 1e-12);
  // Four channels of one unit each are a fully connected layer, not four
  // zero SDs.
  EXPECT_GT(ShenFeatureStd(a, {4, 1, 1}), 0);
}

}  // namespace
}  // namespace v2p::core
