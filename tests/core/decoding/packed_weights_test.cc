#include "core/decoding/packed_weights.h"

#include <gtest/gtest.h>

namespace v2p::core {
namespace {

// Every shape the product splits on: rows in even blocks of 1 to 6,
// columns in panels of 16 and a narrower last one, inputs in slices of 384
// and a shorter last slice.
TEST(PackedWeights, MatchesTheMatrixProductForEveryBlockShape) {
  for (int k : {1, 2, 3, 4, 5, 6, 7, 13, 40}) {
    for (int m : {1, 15, 16, 17, 40}) {
      for (int n : {1, 8, 13, 384, 385, 900}) {
        const Eigen::MatrixXf x = Eigen::MatrixXf::Random(k, n);
        const Eigen::MatrixXf w = Eigen::MatrixXf::Random(n, m);
        const Eigen::MatrixXf want = (x.cast<double>() * w.cast<double>()).cast<float>();
        const Eigen::MatrixXf got = PackedWeights(w).LeftMultiply(x);
        ASSERT_EQ(got.rows(), k);
        ASSERT_EQ(got.cols(), m);
        EXPECT_LT((got - want).cwiseAbs().maxCoeff(), 1e-5f * n)
            << k << "x" << n << " * " << n << "x" << m;
      }
    }
  }
}

TEST(PackedWeights, UnpacksToExactlyTheMatrixItWasGiven) {
  const Eigen::MatrixXf w = Eigen::MatrixXf::Random(37, 21);
  const PackedWeights packed(w);
  EXPECT_EQ(packed.rows(), 37);
  EXPECT_EQ(packed.cols(), 21);
  EXPECT_EQ(packed.Unpack(), w);
}

TEST(PackedWeights, NoRowsGiveAnEmptyProduct) {
  const PackedWeights packed(Eigen::MatrixXf::Random(10, 20));
  const Eigen::MatrixXf y = packed.LeftMultiply(Eigen::MatrixXf(0, 10));
  EXPECT_EQ(y.rows(), 0);
  EXPECT_EQ(y.cols(), 20);
}

}  // namespace
}  // namespace v2p::core
