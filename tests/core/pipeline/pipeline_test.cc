#include "core/base/files.h"
#include "core/pipeline/pipeline.h"

#include <filesystem>
#include <limits>

#include "core/data/dataset.h"
#include "core/pipeline/trainer.h"
#include "gtest/gtest.h"
#include "tests/testing/digit69.h"
#include "tests/testing/test_paths.h"

namespace v2p::core {
namespace {

class PipelineTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    root_ = new std::string(testing::MakeTempDir("pipeline"));
    dataset_ = new Dataset(*LoadDataset(testing::Digit69Options()));
    auto repo = *ModelRepository::Open({*root_, true});
    TrainRequest req;
    req.model_name = "digit69_ridge";
    req.pipeline.ridge = {{1e3, 0, 0}, true};
    req.spec_text = "# test\n";
    manifest_ = new ModelManifest(*TrainModel(*dataset_, req, *repo));
  }
  static void TearDownTestSuite() {
    std::filesystem::remove_all(*root_);
    delete root_;
    delete dataset_;
    delete manifest_;
  }
  std::shared_ptr<const Pipeline> Load() {
    auto p = Pipeline::Load(*root_ + "/models/digit69_ridge/1", 1);
    EXPECT_TRUE(p.ok()) << p.status();
    return p.ok() ? *p : nullptr;
  }
  static std::string* root_;
  static Dataset* dataset_;
  static ModelManifest* manifest_;
};
std::string* PipelineTest::root_;
Dataset* PipelineTest::dataset_;
ModelManifest* PipelineTest::manifest_;

TEST_F(PipelineTest, TrainingRecordsEvaluationAboveMeanImage) {
  EXPECT_EQ(manifest_->version, 1);
  const auto& m = manifest_->evaluation.metrics;
  const auto& b = manifest_->evaluation.baseline_metrics;
  EXPECT_GE(m.at("pcc"), 0.75);
  EXPECT_GT(m.at("pcc"), b.at("pcc"));
  EXPECT_GE(m.at("identification_pcc"), 0.85);
  EXPECT_EQ(manifest_->evaluation.num_samples, 10);
}

TEST_F(PipelineTest, LoadedPipelineReproducesRecordedScores) {
  auto p = Load();
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(p->num_voxels(), 3092);
  EXPECT_EQ(p->manifest().description, manifest_->description);
  auto recs = p->Run(dataset_->test.betas.cast<float>());
  ASSERT_TRUE(recs.ok()) << recs.status();
  ASSERT_EQ(recs->size(), 10u);
  for (const auto& r : *recs) {
    EXPECT_EQ(r.pixels.size(), 784);
    EXPECT_GE(r.pixels.minCoeff(), 0.0f);
    EXPECT_LE(r.pixels.maxCoeff(), 1.0f);
    EXPECT_EQ(r.png.substr(1, 3), "PNG");
    EXPECT_GE(r.timings.total, r.timings.SumOfStages());
    EXPECT_GT(r.timings.decode, absl::ZeroDuration());
  }
}

TEST_F(PipelineTest, RejectsBadBetasNamingTheProblem) {
  auto p = Load();
  ASSERT_NE(p, nullptr);
  auto wrong = p->Run(Eigen::MatrixXf::Zero(1, 3091));
  EXPECT_EQ(wrong.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(wrong.status().message().find("3092"), std::string::npos);
  EXPECT_NE(wrong.status().message().find("3091"), std::string::npos);

  Eigen::MatrixXf nan = Eigen::MatrixXf::Zero(3, 3092);
  nan(2, 17) = std::numeric_limits<float>::infinity();
  auto bad = p->Run(nan);
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(bad.status().message().find("sample 2"), std::string::npos)
      << bad.status();

  EXPECT_EQ(p->Run(Eigen::MatrixXf(0, 3092)).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(PipelineTest, CancellationStopsBetweenStages) {
  auto p = Load();
  ASSERT_NE(p, nullptr);
  RunOptions o;
  o.is_cancelled = [] { return true; };
  EXPECT_EQ(p->Run(Eigen::MatrixXf::Zero(1, 3092), o).status().code(),
            absl::StatusCode::kCancelled);
}

TEST_F(PipelineTest, CorruptArtifactIsReportedNotServed) {
  const std::string dir = testing::MakeTempDir("corrupt");
  std::filesystem::copy(*root_ + "/models/digit69_ridge/1", dir,
                        std::filesystem::copy_options::recursive);
  ASSERT_TRUE(
      WriteFile(dir + "/manifest.txt", "format_version: 1\nname: x\n").ok());
  EXPECT_EQ(Pipeline::Load(dir, 1).status().code(),
            absl::StatusCode::kDataLoss);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace v2p::core
