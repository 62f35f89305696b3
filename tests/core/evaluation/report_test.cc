#include "core/evaluation/report.h"

#include <cmath>
#include <cstdlib>

#include "core/data/dataset.h"
#include "core/evaluation/identification.h"
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
  auto s =
      ScoreReconstructions(MeanImageBaseline(ds->train.stimuli, 10), ds->test.stimuli, ds->image);
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_NEAR(s->pcc, 0.655, 0.005);
  EXPECT_NEAR(s->mse, 0.055, 0.0015);
  EXPECT_NEAR(s->ssim, 0.25, 0.01);
  EXPECT_DOUBLE_EQ(s->identification_pcc, 0.5);
  EXPECT_DOUBLE_EQ(s->identification_ssim, 0.5);
}

TEST(Report, PerfectReconstructionScoresOne) {
  const Eigen::MatrixXd stim = (Eigen::MatrixXd::Random(4, 144).array() + 1) / 2;
  auto s = ScoreReconstructions(stim, stim, {12, 12, 1});
  ASSERT_TRUE(s.ok());
  EXPECT_NEAR(s->pcc, 1.0, 1e-12);
  EXPECT_NEAR(s->ssim, 1.0, 1e-12);
  EXPECT_EQ(s->mse, 0.0);
  EXPECT_EQ(s->identification_pcc, 1.0);
}

// Pairs within a class, by hand: labels 0, 0, 1, 1. Row 0 beats row 0's
// classmate 1 (0.9 > 0.5); row 1 ties with 0 (0.4 = 0.4, a half); row 2
// loses to 3 (0.3 < 0.6); row 3 beats 2 (0.8 > 0.2). 2.5 wins of 4 pairs.
// Across classes every reconstruction wins, so 2-way identification is
// higher: (2.5 + 8) / 12.
TEST(Identification, WithinClassCountsOnlyPairsWithTheSameLabel) {
  Eigen::MatrixXd s(4, 4);
  s << 0.9, 0.5, 0.0, 0.0,  //
      0.4, 0.4, 0.0, 0.0,   //
      0.0, 0.0, 0.3, 0.6,   //
      0.0, 0.0, 0.2, 0.8;
  Eigen::VectorXi labels(4);
  labels << 0, 0, 1, 1;
  EXPECT_DOUBLE_EQ(PairwiseIdentificationWithinClass(s, labels), 2.5 / 4);
  EXPECT_DOUBLE_EQ(PairwiseIdentification(s), 10.5 / 12);
  Eigen::VectorXi distinct(4);
  distinct << 0, 1, 2, 3;
  EXPECT_TRUE(std::isnan(PairwiseIdentificationWithinClass(s, distinct)));
  EXPECT_TRUE(std::isnan(PairwiseIdentificationWithinClass(s, Eigen::VectorXi::Zero(3))));
}

// A generator that draws one template per class for every trial of that
// class: 2-way identification looks fine (class identity), within-class
// identification is chance (ties), and the scores say the reconstructions
// collapsed. Perfect reconstructions do not collapse.
TEST(Report, ClassTemplatesAreCaughtByWithinClassIdentificationAndCollapse) {
  std::srand(3);
  // Two classes: each stimulus is its class's prototype plus as much noise
  // (classmates correlate at about 0.5); the "generator" draws the
  // prototype.
  const Eigen::MatrixXd prototypes = Eigen::MatrixXd::Random(2, 144);
  Eigen::VectorXi labels(8);
  labels << 0, 0, 0, 0, 1, 1, 1, 1;
  Eigen::MatrixXd stim(8, 144), templates(8, 144);
  for (int i = 0; i < 8; ++i) {
    templates.row(i) = (prototypes.row(labels(i)).array() + 1) / 4;
    stim.row(i) = templates.row(i) + (Eigen::RowVectorXd::Random(144).array() + 1).matrix() / 4;
  }
  auto s = ScoreReconstructions(templates, stim, {12, 12, 1}, labels);
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_GT(s->identification_pcc, 0.6);
  EXPECT_LT(s->identification_pcc_within_class, 0.7);
  EXPECT_TRUE(s->Collapsed());
  EXPECT_NE(s->CollapseWarning().find("much closer to each other"), std::string::npos);
  EXPECT_EQ(s->ToMap().count("identification_pcc_within_class"), 1u);
  auto perfect = ScoreReconstructions(stim, stim, {12, 12, 1}, labels);
  ASSERT_TRUE(perfect.ok());
  EXPECT_EQ(perfect->identification_pcc_within_class, 1.0);
  EXPECT_FALSE(perfect->Collapsed());
  EXPECT_EQ(perfect->CollapseWarning(), "");
  auto unlabeled = ScoreReconstructions(stim, stim, {12, 12, 1});
  ASSERT_TRUE(unlabeled.ok());
  EXPECT_EQ(unlabeled->ToMap().count("identification_pcc_within_class"), 0u);
}

// FromMap reads back what ToMap wrote (a model's recorded evaluation), so
// the CLI judges collapse from the same fields the trainer did.
TEST(Report, FromMapInvertsToMap) {
  ImageScores s;
  s.num_samples = 10;
  s.pcc = 0.79;
  s.identification_pcc = 0.94;
  s.identification_pcc_within_class = 0.5;
  s.reconstruction_similarity = 0.95;
  s.stimulus_similarity = 0.5;
  s.similarity_within_class = true;
  const ImageScores back = ImageScores::FromMap(s.ToMap());
  EXPECT_EQ(back.ToMap(), s.ToMap());
  EXPECT_TRUE(back.Collapsed());
  EXPECT_EQ(back.CollapseWarning(), s.CollapseWarning());
  EXPECT_TRUE(std::isnan(ImageScores::FromMap({}).identification_pcc_within_class));
}

TEST(Report, RejectsMismatchedShapes) {
  EXPECT_FALSE(ScoreReconstructions(Eigen::MatrixXd::Zero(3, 144), Eigen::MatrixXd::Zero(2, 144),
                                    {12, 12, 1})
                   .ok());
  EXPECT_FALSE(ScoreReconstructions(Eigen::MatrixXd::Zero(0, 144), Eigen::MatrixXd::Zero(0, 144),
                                    {12, 12, 1})
                   .ok());
}

}  // namespace
}  // namespace v2p::core
