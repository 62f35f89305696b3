#include "core/evaluation/report.h"

#include "core/data/dataset.h"
#include "gtest/gtest.h"
#include "tests/testing/digit69.h"

namespace v2p::core {
namespace {

// The mean training image scored on the digit69 test split must reproduce
// the reference figures measured independently in ../shared/data/README.md
// (PCC 0.655, MSE 0.055, SSIM-11g 0.25, identification 0.50).
TEST(Report, MeanImageBaselineMatchesIndependentReference) {
  auto ds = LoadDataset(testing::Digit69Options());
  ASSERT_TRUE(ds.ok()) << ds.status();
  auto s = ScoreReconstructions(MeanImageBaseline(ds->train.stimuli, 10),
                                ds->test.stimuli, ds->image);
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_NEAR(s->pcc, 0.655, 0.005);
  EXPECT_NEAR(s->mse, 0.055, 0.0015);
  EXPECT_NEAR(s->ssim, 0.25, 0.01);
  EXPECT_DOUBLE_EQ(s->identification_pcc, 0.5);
  EXPECT_DOUBLE_EQ(s->identification_ssim, 0.5);
}

TEST(Report, PerfectReconstructionScoresOne) {
  const Eigen::MatrixXd stim =
      (Eigen::MatrixXd::Random(4, 144).array() + 1) / 2;
  auto s = ScoreReconstructions(stim, stim, {12, 12, 1});
  ASSERT_TRUE(s.ok());
  EXPECT_NEAR(s->pcc, 1.0, 1e-12);
  EXPECT_NEAR(s->ssim, 1.0, 1e-12);
  EXPECT_EQ(s->mse, 0.0);
  EXPECT_EQ(s->identification_pcc, 1.0);
}

TEST(Report, RejectsMismatchedShapes) {
  EXPECT_FALSE(ScoreReconstructions(Eigen::MatrixXd::Zero(3, 144),
                                    Eigen::MatrixXd::Zero(2, 144), {12, 12, 1})
                   .ok());
  EXPECT_FALSE(ScoreReconstructions(Eigen::MatrixXd::Zero(0, 144),
                                    Eigen::MatrixXd::Zero(0, 144), {12, 12, 1})
                   .ok());
}

}  // namespace
}  // namespace v2p::core
