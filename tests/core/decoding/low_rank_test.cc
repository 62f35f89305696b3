#include "core/decoding/low_rank.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "core/data/dataset.h"
#include "core/data/npy.h"
#include "core/decoding/ridge_decoder.h"
#include "tests/testing/digit69.h"
#include "tests/testing/test_paths.h"

namespace v2p::core {
namespace {

float MaxAbs(const Eigen::MatrixXf& m) { return m.cwiseAbs().maxCoeff(); }

TEST(FactorLowRank, FindsTheRankOfAProductAndReproducesIt) {
  for (int r : {1, 7, 30}) {
    const Eigen::MatrixXf w = Eigen::MatrixXf::Random(500, r) * Eigen::MatrixXf::Random(r, 300);
    const auto f = FactorLowRank(w);
    ASSERT_TRUE(f.has_value()) << "rank " << r;
    EXPECT_EQ(f->rank(), r);
    ASSERT_EQ(f->a.rows(), 500);
    ASSERT_EQ(f->b.cols(), 300);
    EXPECT_LE(MaxAbs(f->a * f->b - w), 1e-5f * MaxAbs(w)) << "rank " << r;
    // A is made of W's own columns.
    for (int i = 0; i < f->rank(); ++i) EXPECT_EQ(f->a.col(i), w.col(f->columns[i]));
  }
}

TEST(FactorLowRank, LeavesAMatrixWithoutLowRankWhole) {
  EXPECT_FALSE(FactorLowRank(Eigen::MatrixXf::Random(500, 300)).has_value());
  // Low rank, but not low enough to pay: 150 (500 + 300) > 0.25 * 500 * 300.
  const Eigen::MatrixXf w = Eigen::MatrixXf::Random(500, 150) * Eigen::MatrixXf::Random(150, 300);
  EXPECT_FALSE(FactorLowRank(w).has_value());
  EXPECT_FALSE(FactorLowRank(Eigen::MatrixXf::Zero(50, 40)).has_value());
  EXPECT_FALSE(FactorLowRank(Eigen::MatrixXf(0, 4)).has_value());
}

// The served ridge decoder on the real data: fitted on digit69's training
// trials (fewer than its voxels), it decodes through the factors, and what
// it decodes is what the whole weight matrix gives.
TEST(FactorLowRank, Digit69RidgeDecodesThroughFactorsAsTheWholeMatrixDoes) {
  auto data = LoadDataset(testing::Digit69Options());
  ASSERT_TRUE(data.ok()) << data.status();
  const Eigen::Index trials = data->train.betas.rows();
  ASSERT_LT(trials, data->train.betas.cols());
  auto dec = RidgeDecoder::Fit(data->train.betas, data->train.stimuli, {{1e3, 0, 0}, true});
  ASSERT_TRUE(dec.ok()) << dec.status();
  EXPECT_GT((*dec)->decode_rank(), 0);
  EXPECT_LE((*dec)->decode_rank(), trials);

  // The same map with W kept whole: a decoder whose W has no low rank is
  // not factored, so compare with the plain product here.
  Eigen::MatrixXf x = data->test.betas.cast<float>();
  (*dec)->Standardize(&x);
  const Eigen::MatrixXf got = (*dec)->Decode(x);
  const std::string dir = testing::MakeTempDir("low_rank");
  ASSERT_TRUE((*dec)->Save(dir).ok());
  auto w = ReadNpy(dir + "/ridge_weights.npy");
  ASSERT_TRUE(w.ok()) << w.status();
  auto b = ReadNpy(dir + "/ridge_bias.npy");
  ASSERT_TRUE(b.ok()) << b.status();
  Eigen::MatrixXd want = x.cast<double>() * *w->AsMatrix();
  want.rowwise() += b->AsMatrix()->row(0);
  ASSERT_EQ(got.rows(), want.rows());
  ASSERT_EQ(got.cols(), want.cols());
  EXPECT_LE((got.cast<double>() - want).cwiseAbs().maxCoeff(), 1e-4 * want.cwiseAbs().maxCoeff());
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace v2p::core
