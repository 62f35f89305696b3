#include "core/decoding/small_batch_product.h"

#include <gtest/gtest.h>

namespace v2p::core {
namespace {

// Every shape the kernel splits on: rows in blocks of 4 and the 1-3 left
// over, columns in pairs and an odd last one, and voxels in groups of 8
// with a tail.
TEST(SmallBatchProduct, MatchesTheMatrixProductForEveryBlockShape) {
  for (int k : {1, 2, 3, 4, 5, 7, 9}) {
    for (int m : {1, 2, 5, 8}) {
      for (int n : {1, 8, 13, 67}) {
        const Eigen::MatrixXf x = Eigen::MatrixXf::Random(k, n);
        const Eigen::MatrixXf w = Eigen::MatrixXf::Random(n, m);
        const Eigen::MatrixXf want = (x.cast<double>() * w.cast<double>()).cast<float>();
        const Eigen::MatrixXf got = SmallBatchProduct(x, w);
        ASSERT_EQ(got.rows(), k);
        ASSERT_EQ(got.cols(), m);
        EXPECT_LT((got - want).cwiseAbs().maxCoeff(), 1e-5f * n) << k << "x" << n << " * " << n << "x" << m;
      }
    }
  }
}

}  // namespace
}  // namespace v2p::core
