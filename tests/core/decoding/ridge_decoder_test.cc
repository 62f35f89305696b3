#include "core/decoding/ridge_decoder.h"

#include <filesystem>

#include "Eigen/Cholesky"
#include "core/data/npy.h"
#include "gtest/gtest.h"
#include "tests/testing/test_paths.h"

namespace v2p::core {
namespace {

TEST(RidgeDecoder, StandardisationLivesInTheModel) {
  // Voxels with wildly different offsets and scales; after standardising
  // with the stored training statistics, decoding equals FastL2LiR on the
  // z-scored inputs.
  Eigen::MatrixXd x = Eigen::MatrixXd::Random(30, 8);
  for (int v = 0; v < 8; ++v)
    x.col(v) = x.col(v) * (v + 1) * 10 + Eigen::VectorXd::Constant(30, 100.0 * v);
  const Eigen::MatrixXd y = Eigen::MatrixXd::Random(30, 4);
  auto dec = RidgeDecoder::Fit(x, y, {{1.0, 0, 0}, true, /*penalize_intercept=*/true});
  ASSERT_TRUE(dec.ok()) << dec.status();

  const Eigen::RowVectorXd mean = x.colwise().mean();
  Eigen::MatrixXd z = x.rowwise() - mean;
  const Eigen::RowVectorXd sd = (z.array().square().colwise().sum() / 30.0).sqrt();
  for (int v = 0; v < 8; ++v) z.col(v) /= sd(v);
  auto ref = FitFastL2LiR(z, y, {1.0, 0, 0});
  ASSERT_TRUE(ref.ok());

  Eigen::MatrixXf xf = x.cast<float>();
  (*dec)->Standardize(&xf);
  const Eigen::MatrixXf got = (*dec)->Decode(xf);
  EXPECT_LT((got.cast<double>() - PredictLinear(z, *ref)).cwiseAbs().maxCoeff(), 1e-4);
}

// With the intercept unpenalised, ridge equals the closed form on centred
// data: W = (Xc'Xc + aI)^-1 Xc'Yc, b = mean(Y) - mean(X) W.
TEST(RidgeDecoder, UnpenalisedInterceptIsOrdinaryRidge) {
  const Eigen::MatrixXd x = Eigen::MatrixXd::Random(25, 6) + Eigen::MatrixXd::Constant(25, 6, 3.0);
  const Eigen::MatrixXd y = Eigen::MatrixXd::Random(25, 2) + Eigen::MatrixXd::Constant(25, 2, 5.0);
  auto dec = RidgeDecoder::Fit(x, y, {{100.0, 0, 0}, false, false});
  ASSERT_TRUE(dec.ok()) << dec.status();
  const Eigen::RowVectorXd mx = x.colwise().mean(), my = y.colwise().mean();
  const Eigen::MatrixXd xc = x.rowwise() - mx, yc = y.rowwise() - my;
  const Eigen::MatrixXd w = (xc.transpose() * xc + 100.0 * Eigen::MatrixXd::Identity(6, 6))
                                .ldlt()
                                .solve(xc.transpose() * yc);
  const Eigen::MatrixXd want = (x * w).rowwise() + (my - mx * w);
  Eigen::MatrixXf xf = x.cast<float>();
  (*dec)->Standardize(&xf);
  EXPECT_LT(((*dec)->Decode(xf).cast<double>() - want).cwiseAbs().maxCoeff(), 1e-4);
}

// The eigenface baseline serves ridge-to-components composed with the
// inverse PCA: decoding through ThenLinear equals decoding, then mapping.
TEST(RidgeDecoder, ThenLinearEqualsDecodingThenMapping) {
  Eigen::MatrixXd x = Eigen::MatrixXd::Random(40, 7) * 5;
  x.col(2).array() += 50;
  const Eigen::MatrixXd y = Eigen::MatrixXd::Random(40, 3);
  auto dec = RidgeDecoder::Fit(x, y, {{10.0, 0, 0}, true, false});
  ASSERT_TRUE(dec.ok()) << dec.status();
  const Eigen::MatrixXd map = Eigen::MatrixXd::Random(3, 9);
  const Eigen::RowVectorXd offset = Eigen::RowVectorXd::Random(9);
  const auto composed = (*dec)->ThenLinear(map, offset);
  EXPECT_EQ(composed->num_voxels(), 7);
  EXPECT_EQ(composed->num_outputs(), 9);
  Eigen::MatrixXf a = x.cast<float>(), b = x.cast<float>();
  (*dec)->Standardize(&a);
  composed->Standardize(&b);
  const Eigen::MatrixXd want = ((*dec)->Decode(a).cast<double>() * map).rowwise() + offset;
  EXPECT_LT((composed->Decode(b).cast<double>() - want).cwiseAbs().maxCoeff(), 1e-4);
}

TEST(RidgeDecoder, SaveLoadRoundTrip) {
  auto dec = RidgeDecoder::Fit(Eigen::MatrixXd::Random(20, 6), Eigen::MatrixXd::Random(20, 3),
                               {{10.0, 0, 0}, true});
  ASSERT_TRUE(dec.ok());
  const std::string dir = testing::MakeTempDir("ridge");
  ASSERT_TRUE((*dec)->Save(dir).ok());
  auto loaded = RidgeDecoder::Load(dir);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  Eigen::MatrixXf a = Eigen::MatrixXf::Random(4, 6), b = a;
  (*dec)->Standardize(&a);
  (*loaded)->Standardize(&b);
  EXPECT_EQ((*dec)->Decode(a), (*loaded)->Decode(b));

  // A shape mismatch between the files is reported, not served.
  ASSERT_TRUE(WriteNpyFloat32(dir + "/voxel_sd.npy", Eigen::MatrixXf::Ones(1, 5)).ok());
  EXPECT_EQ(RidgeDecoder::Load(dir).status().code(), absl::StatusCode::kDataLoss);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace v2p::core
