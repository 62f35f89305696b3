#include "core/pipeline/trainer.h"
#include "core/methods/pixels/pixels_method.h"
#include "core/methods/registry.h"

#include <filesystem>

#include "core/data/npy.h"
#include "core/features/pca.h"
#include "core/pipeline/pipeline.h"
#include "gtest/gtest.h"
#include "tests/testing/digit69.h"
#include "tests/testing/test_paths.h"

namespace v2p::core {
namespace {

namespace fs = std::filesystem;

class TrainerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = testing::MakeTempDir("trainer");
    repo_ = *ModelRepository::Open({root_, true});
    auto ds = LoadDataset(testing::Digit69Options());
    ASSERT_TRUE(ds.ok()) << ds.status();
    dataset_ = *std::move(ds);
    request_.model_name = "m";
    pixels_.ridge.ridge = {{1e3, 0, 0}, true, false};
    request_.method = std::make_shared<PixelsMethod>(pixels_);
  }
  void TearDown() override { fs::remove_all(root_); }
  Eigen::MatrixXd Weights(int64_t version) {
    auto a = ReadNpy(repo_->VersionDir("m", version) + "/ridge_weights.npy");
    EXPECT_TRUE(a.ok()) << a.status();
    return *a->AsMatrix();
  }
  std::string root_;
  std::unique_ptr<ModelRepository> repo_;
  Dataset dataset_;
  PixelsOptions pixels_;
  TrainRequest request_;
};

TEST_F(TrainerTest, ProgressIsMonotoneThroughEveryPhase) {
  std::vector<TrainingProgress> seen;
  TrainHooks hooks;
  hooks.on_progress = [&](const TrainingProgress& p) { seen.push_back(p); };
  ASSERT_TRUE(TrainModel(dataset_, request_, *repo_, hooks).ok());
  ASSERT_GE(seen.size(), 3u);
  EXPECT_EQ(seen.front().step, 0);
  int64_t last_step = -1;
  for (const auto& p : seen) {
    if (p.phase != TrainingProgress::Phase::kFitting) continue;
    EXPECT_GE(p.step, last_step);
    EXPECT_EQ(p.total_steps, RidgeDecoder::Fitter::kDefaultSteps);
    last_step = p.step;
  }
  EXPECT_EQ(last_step, RidgeDecoder::Fitter::kDefaultSteps);
  EXPECT_EQ(seen.back().phase, TrainingProgress::Phase::kSaving);
}

TEST_F(TrainerTest, ManifestRecordsTheFitTimeWithinTheWholeTraining) {
  Stopwatch whole;
  auto m = TrainModel(dataset_, request_, *repo_);
  const double total = absl::ToDoubleSeconds(whole.Elapsed());
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_GT(m->fit_seconds, 0);
  EXPECT_LT(m->fit_seconds, total);
  auto read = ReadManifest(repo_->VersionDir("m", m->version) + "/" + kManifestFile);
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_NEAR(read->fit_seconds, m->fit_seconds, 1e-5 * m->fit_seconds);
}

TEST_F(TrainerTest, ResumedTrainingEqualsUninterruptedTraining) {
  ASSERT_TRUE(TrainModel(dataset_, request_, *repo_).ok());  // version 1, no checkpoints
  const std::string ckpt = root_ + "/ckpt";
  TrainHooks interrupted;
  interrupted.checkpoint_dir = ckpt;
  int steps_done = 0;
  interrupted.on_progress = [&](const TrainingProgress& p) { steps_done = p.step; };
  interrupted.is_cancelled = [&] { return steps_done >= 5; };
  EXPECT_EQ(TrainModel(dataset_, request_, *repo_, interrupted).status().code(),
            absl::StatusCode::kCancelled);
  EXPECT_EQ(repo_->ListVersions("m")->size(), 1u) << "a cancelled run must not commit";

  TrainHooks resumed;
  resumed.checkpoint_dir = ckpt;
  int64_t resumed_from = -1;
  resumed.on_progress = [&](const TrainingProgress& p) {
    if (resumed_from < 0) resumed_from = p.resumed_from_step;
  };
  auto m = TrainModel(dataset_, request_, *repo_, resumed);
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ(resumed_from, 5);
  EXPECT_EQ(m->version, 2);
  EXPECT_LE((Weights(1) - Weights(2)).cwiseAbs().maxCoeff(), 1e-6);
}

TEST_F(TrainerTest, FailedCommitCheckLeavesNoVersion) {
  TrainHooks hooks;
  hooks.before_commit = [] { return absl::AbortedError("lease lost"); };
  EXPECT_EQ(TrainModel(dataset_, request_, *repo_, hooks).status().code(),
            absl::StatusCode::kAborted);
  EXPECT_EQ(repo_->ListVersions("m").status().code(), absl::StatusCode::kNotFound);
}

// The eigenface baseline (pixel_components_variance): served as one linear
// map that equals ridge to the principal components followed by the
// inverse PCA, and on digit69 it beats the mean image.
TEST_F(TrainerTest, EigenimagesServeRidgeToComponentsThenInversePca) {
  pixels_.components_variance = 0.9;
  request_.method = std::make_shared<PixelsMethod>(pixels_);
  auto m = TrainModel(dataset_, request_, *repo_);
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_NE(m->description.find("eigenimages (90% variance)"), std::string::npos) << m->description;
  auto pipeline = LoadPipeline(repo_->VersionDir("m", m->version), m->version);
  ASSERT_TRUE(pipeline.ok()) << pipeline.status();
  auto recs = (*pipeline)->Run(dataset_.test.betas.cast<float>());
  ASSERT_TRUE(recs.ok()) << recs.status();

  auto pca = PcaLayer::Fit(dataset_.train.stimuli, {.explained_variance = 0.9});
  ASSERT_TRUE(pca.ok());
  EXPECT_LT((*pca)->num_components(), 90);
  auto ridge = RidgeDecoder::Fit(dataset_.train.betas, *(*pca)->Transform(dataset_.train.stimuli),
                                 pixels_.ridge.ridge);
  ASSERT_TRUE(ridge.ok());
  Eigen::MatrixXf z = dataset_.test.betas.cast<float>();
  (*ridge)->Standardize(&z);
  // Served clipped to [0, 1] (clip_output defaults to true).
  const Eigen::MatrixXd want =
      (*(*pca)->Inverse((*ridge)->Decode(z).cast<double>())).cwiseMax(0.0).cwiseMin(1.0);
  for (size_t i = 0; i < recs->size(); ++i)
    EXPECT_LT(((*recs)[i].pixels.cast<double>() - want.row(i).transpose()).cwiseAbs().maxCoeff(),
              1e-3);
  EXPECT_GT(m->evaluation.metrics.at("pcc"), m->evaluation.baseline_metrics.at("pcc"));
  EXPECT_GE(m->evaluation.metrics.at("identification_pcc"), 0.9);
}

TEST_F(TrainerTest, ValidationSplitIsSeededAndDisjoint) {
  DatasetSplit fit_a, val_a, fit_b, val_b, fit_c, val_c;
  SplitForValidation(dataset_.train, 0.2, 7, &fit_a, &val_a);
  SplitForValidation(dataset_.train, 0.2, 7, &fit_b, &val_b);
  SplitForValidation(dataset_.train, 0.2, 8, &fit_c, &val_c);
  EXPECT_EQ(val_a.betas.rows(), 18);
  EXPECT_EQ(fit_a.betas.rows(), 72);
  EXPECT_EQ(val_a.betas, val_b.betas);
  EXPECT_NE(val_a.betas, val_c.betas);
  for (Eigen::Index i = 0; i < val_a.betas.rows(); ++i)
    for (Eigen::Index j = 0; j < fit_a.betas.rows(); ++j)
      ASSERT_NE(val_a.betas.row(i), fit_a.betas.row(j));

  request_.validation_split = 0.2;
  request_.seed = 7;
  auto m = TrainModel(dataset_, request_, *repo_);
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ(m->evaluation.split, "validation");
  EXPECT_EQ(m->evaluation.num_samples, 18);
  request_.validation_split = 0.9;
  EXPECT_EQ(TrainModel(dataset_, request_, *repo_).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
// Folds are contiguous blocks of each label's trials in stored order: with
// 50 sixes then 50 nines (69dataset2.mat's order), 5 folds hold 10 of each,
// and a fold's trials of one label are consecutive.
TEST(ContiguousFolds, EachFoldHoldsEveryLabelInProportionAndInOrder) {
  DatasetSplit trials;
  trials.betas = Eigen::MatrixXd::Zero(100, 1);
  trials.labels = Eigen::VectorXi::Ones(100);
  trials.labels.tail(50).setConstant(2);
  const std::vector<int> fold = ContiguousFolds(trials, 5);
  ASSERT_EQ(fold.size(), 100u);
  for (int k = 0; k < 5; ++k) {
    std::vector<int> rows;
    for (int i = 0; i < 100; ++i)
      if (fold[i] == k) rows.push_back(i);
    ASSERT_EQ(rows.size(), 20u) << k;
    EXPECT_EQ(rows[0], 10 * k);
    EXPECT_EQ(rows[9], 10 * k + 9);
    EXPECT_EQ(rows[10], 50 + 10 * k);
  }
  trials.labels.resize(0);  // no labels: 7 trials in 3 folds of 3, 2, 2
  trials.betas = Eigen::MatrixXd::Zero(7, 1);
  EXPECT_EQ(ContiguousFolds(trials, 3), (std::vector<int>{0, 0, 0, 1, 1, 2, 2}));
}

}  // namespace v2p::core
