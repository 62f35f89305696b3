// The foreground-attention method's parts against hand-computed values,
// and its training's determinism (core/methods/fattention/).
#include <torch/torch.h>

#include <cmath>
#include <filesystem>
#include <vector>

#include "absl/strings/str_cat.h"
#include "core/base/files.h"
#include "core/data/dataset.h"
#include "core/methods/fattention/attention_labels.h"
#include "core/methods/fattention/fattention_method.h"
#include "core/methods/fattention/networks.h"
#include "core/methods/fattention/sgdr.h"
#include "core/methods/registry.h"
#include "core/pipeline/model_repository.h"
#include "core/pipeline/trainer.h"
#include "gtest/gtest.h"
#include "tests/testing/digit69.h"
#include "tests/testing/test_paths.h"

namespace v2p::core {
namespace {

TEST(Sgdr, WarmsUpLinearlyThenAnnealsByCosineAndRestarts) {
  SgdrSchedule s;  // peak 0.03, floor 4e-5
  s.warmup_steps = 10;
  s.period_steps = 20;
  s.period_mult = 1;
  EXPECT_NEAR(s.Rate(0), 0.003, 1e-12);     // 0.03 * 1 / 10
  EXPECT_NEAR(s.Rate(4), 0.015, 1e-12);     // 0.03 * 5 / 10
  EXPECT_NEAR(s.Rate(9), 0.03, 1e-12);      // the warm-up's last step
  EXPECT_NEAR(s.Rate(10), 0.03, 1e-12);     // a period starts at the peak
  EXPECT_NEAR(s.Rate(20), 0.01502, 1e-12);  // halfway: 4e-5 + 0.02996 / 2
  // 19 of 20 steps in: 4e-5 + 0.01498 * (1 - 0.987688) = 2.24429e-4
  EXPECT_NEAR(s.Rate(29), 4e-5 + 0.02996 * (1 + std::cos(0.95 * M_PI)) / 2, 1e-12);
  EXPECT_NEAR(s.Rate(29), 2.24429e-4, 1e-9);
  EXPECT_NEAR(s.Rate(30), 0.03, 1e-12);  // restart
  s.period_mult = 2;                     // the second period lasts 40 steps
  EXPECT_NEAR(s.Rate(30 + 20), 0.01502, 1e-12);
  EXPECT_NEAR(s.Rate(30 + 40), 0.03, 1e-12);
}

// C = 1, a 1 x 2 map x = (1, 2), every 1x1 weight 1 and bias 0, gamma 1:
// q = k = v = x; a_0 = softmax(1*1, 1*2) = (0.268941, 0.731059),
// a_1 = softmax(2*1, 2*2) = (0.119203, 0.880797);
// o = (0.268941 + 2 * 0.731059, 0.119203 + 2 * 0.880797) = (1.731059, 1.880797);
// y = o + x = (2.731059, 3.880797).
TEST(SelfAttention, MatchesHandComputedValues) {
  torch::NoGradGuard no_grad;
  internal::SelfAttention2d attention(1);
  for (auto* conv : {&attention->query, &attention->key, &attention->value}) {
    (*conv)->weight.fill_(1.0);
    (*conv)->bias.fill_(0.0);
  }
  const torch::Tensor x = torch::tensor({1.0f, 2.0f}).view({1, 1, 1, 2});
  attention->gamma.fill_(1.0);
  const torch::Tensor y = attention->forward(x).flatten();
  EXPECT_NEAR(y[0].item<float>(), 2.731059f, 1e-5);
  EXPECT_NEAR(y[1].item<float>(), 3.880797f, 1e-5);
  attention->gamma.fill_(0.0);  // SAGAN's start: the block passes x on
  EXPECT_TRUE(torch::equal(attention->forward(x), x));
  // Value weight 2, query weight -1: a_0 = softmax(-1, -2) = (0.731059,
  // 0.268941), o_0 = 2 * (0.731059 + 2 * 0.268941) = 2.537882.
  attention->gamma.fill_(1.0);
  attention->value->weight.fill_(2.0);
  attention->query->weight.fill_(-1.0);
  EXPECT_NEAR(attention->forward(x).flatten()[0].item<float>(), 1 + 2.537882f, 1e-5);
}

TEST(AttentionLabels, BinariseThenDilateByA3x3Square) {
  // A 5x5 image with one bright pixel at (1, 1) and a dim one at (4, 4).
  Eigen::MatrixXf image = Eigen::MatrixXf::Zero(1, 25);
  image(0, 1 * 5 + 1) = 0.9f;
  image(0, 4 * 5 + 4) = 0.3f;
  auto labels = ForegroundLabels(image, {5, 5, 1});
  ASSERT_TRUE(labels.ok()) << labels.status();
  for (int r = 0; r < 5; ++r) {
    for (int c = 0; c < 5; ++c) {
      EXPECT_EQ((*labels)(0, r * 5 + c), (r <= 2 && c <= 2) ? 1.0f : 0.0f) << r << "," << c;
    }
  }
  AttentionLabelOptions none;
  none.dilations = 0;
  none.threshold = 0.2;  // both pixels, undilated
  EXPECT_EQ(ForegroundLabels(image, {5, 5, 1}, none)->sum(), 2.0f);
  // Otsu on two levels puts the threshold between them.
  Eigen::VectorXf grey(10);
  grey << 0.1f, 0.1f, 0.1f, 0.1f, 0.1f, 0.1f, 0.8f, 0.8f, 0.8f, 0.8f;
  const double t = OtsuThreshold(grey);
  EXPECT_GT(t, 0.1);
  EXPECT_LE(t, 0.8);
  // RGB: the grey level is the channels' mean.
  Eigen::MatrixXf rgb = Eigen::MatrixXf::Zero(1, 3);
  rgb << 0.9f, 0.9f, 0.0f;  // mean 0.6
  EXPECT_EQ((*ForegroundLabels(rgb, {1, 1, 3}))(0, 0), 1.0f);
  EXPECT_EQ(ForegroundLabels(image, {4, 5, 1}).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(FAttention, ParametersAreCheckedByName) {
  EXPECT_TRUE(FAttentionMethod::Create({{"lambda", "0"}, {"mu", "1"}}).ok());
  const auto unknown = FAttentionMethod::Create({{"lamda", "0"}});
  EXPECT_EQ(unknown.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(unknown.status().message().find("unknown parameter 'lamda'"), std::string::npos);
  EXPECT_NE(unknown.status().message().find("lambda"), std::string::npos) << "lists what it takes";
  EXPECT_FALSE(FAttentionMethod::Create({{"lambda", "nan"}}).ok());
  EXPECT_FALSE(FAttentionMethod::Create({{"channels", "6"}}).ok());
  EXPECT_FALSE(FAttentionMethod::Create({{"loop_uses_labels", "yes"}}).ok());
  EXPECT_FALSE(FAttentionMethod::Create({{"loop_weight", "-1"}}).ok());
  EXPECT_TRUE(MethodRegistry::Global().Find("fattention").ok());
}

// The served images of the test trials for a model version just trained
// in `root` (one row per trial), or an empty matrix (with a failure).
Eigen::MatrixXf ServedTestImages(const std::string& root, const ModelManifest& m,
                                 const Dataset& dataset) {
  auto pipeline =
      LoadPipeline(root + "/models/" + m.name + "/" + std::to_string(m.version), m.version);
  EXPECT_TRUE(pipeline.ok()) << pipeline.status();
  if (!pipeline.ok()) return {};
  RunOptions o;
  o.encode_png = false;
  auto recs = (*pipeline)->Run(dataset.test.betas.cast<float>(), o);
  EXPECT_TRUE(recs.ok()) << recs.status();
  if (!recs.ok()) return {};
  Eigen::MatrixXf out(recs->size(), dataset.image.num_pixels());
  for (size_t i = 0; i < recs->size(); ++i) out.row(i) = (*recs)[i].pixels.transpose();
  return out;
}

// Two trainings with one seed give the same served images; another seed
// does not.
TEST(FAttention, TrainingIsDeterministicForAFixedSeed) {
  auto dataset = LoadDataset(testing::Digit69Options());
  ASSERT_TRUE(dataset.ok()) << dataset.status();
  const std::string root = testing::MakeTempDir("fattention");
  auto repo = ModelRepository::Open({root, true});
  ASSERT_TRUE(repo.ok()) << repo.status();
  auto train = [&](const std::string& seed) -> Eigen::MatrixXf {
    auto method = FAttentionMethod::Create({{"attention_epochs", "3"},
                                            {"encoder_epochs", "2"},
                                            {"decoder_epochs", "2"},
                                            {"channels", "16"},
                                            {"seed", seed}});
    EXPECT_TRUE(method.ok()) << method.status();
    TrainRequest req;
    req.model_name = "fa";
    req.method = *method;
    auto m = TrainModel(*dataset, req, **repo);
    EXPECT_TRUE(m.ok()) << m.status();
    if (!m.ok()) return {};
    EXPECT_GT(m->evaluation.metrics.count("attention_iou"), 0u);
    return ServedTestImages(root, *m, *dataset);
  };
  const Eigen::MatrixXf a = train("7"), b = train("7"), c = train("8");
  ASSERT_EQ(a.rows(), 10);
  EXPECT_EQ(a, b);
  EXPECT_GT((a - c).cwiseAbs().maxCoeff(), 1e-4);
  std::filesystem::remove_all(root);
}

// A training cancelled in each of its three stages and resumed from its
// epoch checkpoints (as a job is after its worker is lost) reports where it
// resumed and ends with the same images as one never interrupted; a
// checkpoint that does not read is set aside and the training starts over.
TEST(FAttention, ResumedFromItsEpochCheckpointsItEndsAsAnUninterruptedRun) {
  auto dataset = LoadDataset(testing::Digit69Options());
  ASSERT_TRUE(dataset.ok()) << dataset.status();
  const std::string root = testing::MakeTempDir("fattention_resume");
  auto repo = ModelRepository::Open({root, true});
  ASSERT_TRUE(repo.ok()) << repo.status();
  auto method = FAttentionMethod::Create({{"attention_epochs", "3"},
                                          {"encoder_epochs", "2"},
                                          {"decoder_epochs", "2"},
                                          {"channels", "16"},
                                          {"checkpoint_seconds", "0"}});
  ASSERT_TRUE(method.ok()) << method.status();
  // Trains with `hooks`; the served images of the test trials, or an empty
  // matrix with the status.
  auto train = [&](const TrainHooks& hooks, absl::Status* status) -> Eigen::MatrixXf {
    TrainRequest req;
    req.model_name = "fa";
    req.method = *method;
    auto m = TrainModel(*dataset, req, **repo, hooks);
    *status = m.status();
    if (!m.ok()) return {};
    return ServedTestImages(root, *m, *dataset);
  };
  absl::Status status;
  const Eigen::MatrixXf reference = train({}, &status);
  ASSERT_TRUE(status.ok()) << status;

  for (int cut : {2, 4, 6}) {  // epochs done: in the attention, encoder and decoder stages
    SCOPED_TRACE(cut);
    const std::string dir = absl::StrCat(root, "/checkpoints_", cut);
    int64_t epochs_done = 0;
    TrainHooks first;
    first.checkpoint_dir = dir;
    first.on_progress = [&](const TrainingProgress& p) {
      if (p.phase == TrainingProgress::Phase::kTrainingGenerator) epochs_done = p.step;
    };
    first.is_cancelled = [&] { return epochs_done >= cut; };
    train(first, &status);
    ASSERT_EQ(status.code(), absl::StatusCode::kCancelled) << status;
    ASSERT_EQ(epochs_done, cut);

    std::vector<TrainingProgress> reports;
    TrainHooks resumed;
    resumed.checkpoint_dir = dir;
    resumed.on_progress = [&](const TrainingProgress& p) {
      if (p.phase == TrainingProgress::Phase::kTrainingGenerator) reports.push_back(p);
    };
    const Eigen::MatrixXf images = train(resumed, &status);
    ASSERT_TRUE(status.ok()) << status;
    ASSERT_FALSE(reports.empty());
    EXPECT_EQ(reports.front().resumed_from_step, cut);
    EXPECT_EQ(reports.front().step, cut);
    EXPECT_EQ(reports.back().step, 7);
    EXPECT_EQ(reports.size(), 1u + 7 - cut) << "each epoch left, once";
    ASSERT_EQ(images.rows(), reference.rows());
    EXPECT_LT((images - reference).cwiseAbs().maxCoeff(), 1e-6);
  }

  // A damaged checkpoint: the training starts over, and still ends the same.
  const std::string damaged = root + "/checkpoints_4/fattention";
  ASSERT_TRUE(std::filesystem::exists(damaged + "/progress.txt"));
  ASSERT_TRUE(WriteFile(damaged + "/progress.txt", "stage 1\nepochs 99\nshuffler x\n").ok());
  TrainHooks again;
  again.checkpoint_dir = root + "/checkpoints_4";
  int64_t resumed_from = -1;
  again.on_progress = [&](const TrainingProgress& p) {
    if (p.phase == TrainingProgress::Phase::kTrainingGenerator && resumed_from < 0)
      resumed_from = p.resumed_from_step;
  };
  const Eigen::MatrixXf over = train(again, &status);
  ASSERT_TRUE(status.ok()) << status;
  EXPECT_EQ(resumed_from, 0);
  EXPECT_LT((over - reference).cwiseAbs().maxCoeff(), 1e-6);
  std::filesystem::remove_all(root);
}

}  // namespace
}  // namespace v2p::core
