#include "core/pipeline/pipeline.h"
#include "core/base/files.h"
#include "core/methods/pixels/pixels_method.h"
#include "core/methods/registry.h"

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <limits>

#include "core/data/dataset.h"
#include "core/generation/icg.h"
#include "core/generation/identity_generator.h"
#include "core/pipeline/refiner.h"
#include "core/pipeline/trainer.h"
#include "gtest/gtest.h"
#include "tests/testing/attention_generator.h"
#include "tests/testing/digit69.h"
#include "tests/testing/random_matrix.h"
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
    core::PixelsOptions pixels;
    pixels.ridge.ridge = {{1e3, 0, 0}, true};
    req.method = std::make_shared<core::PixelsMethod>(pixels);
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
    auto p = LoadPipeline(*root_ + "/models/digit69_ridge/1", 1);
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
  EXPECT_NE(bad.status().message().find("sample 2"), std::string::npos) << bad.status();

  EXPECT_EQ(p->Run(Eigen::MatrixXf(0, 3092)).status().code(), absl::StatusCode::kInvalidArgument);

  // Every kind of non-finite value, anywhere (the first value, inside a
  // block of the vectorised check, the tail after the last block, the last
  // value); the extreme finite values pass.
  using L = std::numeric_limits<float>;
  for (float value : {L::quiet_NaN(), -L::quiet_NaN(), L::infinity(), -L::infinity()}) {
    for (auto [r, c] : {std::pair{0, 0}, {1, 1500}, {0, 3091}, {2, 3091}}) {
      Eigen::MatrixXf m = Eigen::MatrixXf::Zero(3, 3092);
      m(r, c) = value;
      auto s = CheckFiniteRows(m);
      EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << value << " at " << r << "," << c;
      EXPECT_NE(s.message().find("sample " + std::to_string(r)), std::string::npos) << s;
    }
  }
  Eigen::MatrixXf extremes = Eigen::MatrixXf::Zero(3, 3092);
  extremes(0, 0) = L::max();
  extremes(1, 1500) = L::lowest();
  extremes(2, 3091) = L::denorm_min();
  EXPECT_TRUE(CheckFiniteRows(extremes).ok());
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
  ASSERT_TRUE(WriteFile(dir + "/manifest.txt", "format_version: 1\nname: x\n").ok());
  EXPECT_EQ(LoadPipeline(dir, 1).status().code(), absl::StatusCode::kDataLoss);
  std::filesystem::remove_all(dir);
}

// A features pipeline whose generator takes a subset of the decoded units
// (condition units, in their order) and draws several z per sample.
TEST(GeneratorPipeline, ConditionUnitsSelectTheInputAndSamplesCarryTheirSd) {
  std::mt19937_64 rng(3);
  const Eigen::MatrixXd x = testing::Gaussian(64, 20, rng);
  const Eigen::MatrixXd h = x * testing::Gaussian(20, 6, rng);
  RidgeDecoder::Options ro;
  ro.regression.alpha = 1;
  auto decoder = RidgeDecoder::Fit(x, h, ro);
  ASSERT_TRUE(decoder.ok()) << decoder.status();
  auto options = IcgOptions::Preset("ICG");
  options->latent_size = 4;
  options->epochs = 1;
  options->batch_size = 16;
  const Eigen::MatrixXf images =
      (testing::Gaussian(64, 784, rng).array() * 0.1 + 0.5).cwiseMax(0).cwiseMin(1).cast<float>();
  const std::vector<int> units = {4, 0, 2};
  Eigen::MatrixXf conditions(64, 3);
  for (int j = 0; j < 3; ++j) conditions.col(j) = h.col(units[j]).cast<float>();
  auto trainer = IcgTrainer::Create(images, conditions, {28, 28, 1}, *options);
  ASSERT_TRUE(trainer.ok()) << trainer.status();
  ASSERT_TRUE((*trainer)->Train().ok());
  std::shared_ptr<IcgGenerator> reference = (*trainer)->Finish();
  const std::string dir = ::testing::TempDir() + "/condition_units_generator";
  ASSERT_TRUE(reference->Save(dir).ok());

  ModelManifest m;
  m.name = "units";
  m.num_voxels = 20;
  m.image = {28, 28, 1};
  m.target = "features";
  m.feature_layers = {{"fc", {6}, 6}};
  m.generator = "stored";
  auto make = [&](std::vector<int> u) {
    return Pipeline::Create(m, *RidgeDecoder::Fit(x, h, ro), *IcgGenerator::Load(dir),
                            std::move(u));
  };
  EXPECT_EQ(make({0, 1, 6}).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(make({0, 1}).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(make({}).status().code(), absl::StatusCode::kInvalidArgument);  // 6 != 3 inputs
  auto pipeline = make(units);
  ASSERT_TRUE(pipeline.ok()) << pipeline.status();
  ASSERT_TRUE((*pipeline)->can_sample());

  const Eigen::MatrixXf betas = x.topRows(3).cast<float>();
  RunOptions o;
  o.samples = 6;
  o.sample_seed = 9;
  auto recs = (*pipeline)->Run(betas, o);
  ASSERT_TRUE(recs.ok()) << recs.status();
  Eigen::MatrixXf z = betas;
  (*decoder)->Standardize(&z);
  const Eigen::MatrixXf decoded = (*decoder)->Decode(z);
  Eigen::MatrixXf picked(3, 3);
  for (int j = 0; j < 3; ++j) picked.col(j) = decoded.col(units[j]);
  const Eigen::MatrixXf want = reference->Generate(picked)->cwiseMax(0.0f).cwiseMin(1.0f);
  for (int i = 0; i < 3; ++i) {
    const Reconstruction& r = (*recs)[i];
    EXPECT_LT((r.pixels - want.row(i).transpose()).cwiseAbs().maxCoeff(), 1e-6);
    EXPECT_EQ(r.features.size(), 6);
    ASSERT_EQ(r.samples.size(), 6u);
    ASSERT_EQ(r.sample_pngs.size(), 6u);
    EXPECT_FALSE(r.pixel_sd_png.empty());
    Eigen::VectorXd mean = Eigen::VectorXd::Zero(784), sq = mean;
    for (const auto& s : r.samples) {
      mean += s.cast<double>() / 6;
      sq += s.cast<double>().cwiseProduct(s.cast<double>()) / 6;
    }
    const Eigen::VectorXd sd = (sq - mean.cwiseProduct(mean)).cwiseMax(0).cwiseSqrt();
    EXPECT_LT((sd - r.pixel_sd.cast<double>()).cwiseAbs().maxCoeff(), 1e-5);
    EXPECT_GT(r.pixel_sd.maxCoeff(), 0.0f);
  }
  auto again = (*pipeline)->Run(betas, o);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ((*again)[1].samples[4], (*recs)[1].samples[4]);
  std::filesystem::remove_all(dir);
}

TEST_F(PipelineTest, DeterministicGeneratorRefusesSamples) {
  auto p = Load();
  ASSERT_NE(p, nullptr);
  EXPECT_FALSE(p->can_sample());
  RunOptions o;
  o.samples = 2;
  auto recs = p->Run(dataset_->test.betas.topRows(1).cast<float>(), o);
  EXPECT_EQ(recs.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(recs.status().message().find("deterministic"), std::string::npos) << recs.status();
}

// A refine stage for the tests: `iterations` steps, each checking for
// cancellation, that move every pixel halfway towards 1 - start (from 0.5
// when it has no start), so after k steps p = t + (s - t) / 2^k.
class StepRefiner final : public Refiner {
 public:
  StepRefiner(int iterations, int num_pixels, std::atomic<int>* steps)
      : iterations_(iterations), num_pixels_(num_pixels), steps_(steps) {}
  std::string Describe() const override { return "step refiner"; }
  absl::StatusOr<Refined> Refine(const Eigen::MatrixXf& decoded, const Eigen::MatrixXf& start,
                                 const RefineControl& control) const override {
    Refined r;
    r.images =
        start.rows() > 0 ? start : Eigen::MatrixXf::Constant(decoded.rows(), num_pixels_, 0.5f);
    const Eigen::MatrixXf target = 1.0f - r.images.array();
    const int iterations = control.iterations > 0 ? control.iterations : iterations_;
    for (; r.iterations < iterations; ++r.iterations) {
      if (control.is_cancelled && control.is_cancelled())
        return absl::CancelledError("refine cancelled");
      if (control.stop_early && control.stop_early()) return r.truncated = true, r;
      ++*steps_;
      r.images += 0.5f * (target - r.images);
      if (control.progress_every > 0 && (r.iterations + 1) % control.progress_every == 0)
        control.on_progress(r.iterations + 1,
                            (target - r.images).rowwise().squaredNorm().cast<double>(), r.images);
    }
    return r;
  }

 private:
  const int iterations_, num_pixels_;
  std::atomic<int>* steps_;
};

// Betas x (n x voxels) and targets y, a linear map of them around 0.5
// (n x outputs), for a refined model's decoder; the manifest of such a
// model.
struct RefinedModelData {
  Eigen::MatrixXd x, y;
  ModelManifest manifest;
  RidgeDecoder::Options ridge;
};
RefinedModelData RefinedModel(uint64_t seed, int n, int voxels, ImageShape image,
                              const std::string& target) {
  std::mt19937_64 rng(seed);
  RefinedModelData d;
  d.x = testing::Gaussian(n, voxels, rng);
  d.y = (d.x * testing::Gaussian(voxels, image.num_pixels(), rng)).array() * 0.05 + 0.5;
  d.manifest.name = "refined";
  d.manifest.num_voxels = voxels;
  d.manifest.image = image;
  d.manifest.target = target;
  d.ridge.regression.alpha = 1;
  return d;
}

TEST(RefineStage, RunsAfterTheGeneratorOrAloneIsTimedAndStopsWhenCancelled) {
  const RefinedModelData d = RefinedModel(5, 40, 12, {4, 4, 1}, "pixels");
  const Eigen::MatrixXd &x = d.x, &y = d.y;
  const RidgeDecoder::Options& ro = d.ridge;
  ModelManifest m = d.manifest;
  std::atomic<int> steps{0};
  auto stages = [&](int iterations, int pixels, bool with_generator) {
    PipelineStages s;
    s.decoder = *RidgeDecoder::Fit(x, y, ro);
    if (with_generator) s.generator = std::make_unique<const IdentityGenerator>(m.image);
    s.refiner = std::make_unique<const StepRefiner>(iterations, pixels, &steps);
    return s;
  };
  const Eigen::MatrixXf betas = x.topRows(3).cast<float>();

  // After the (identity) generator: 4 steps from the decoded image s give
  // t + (s - t) / 16 with t = 1 - s.
  auto refined = Pipeline::Create(m, stages(4, 16, true));
  ASSERT_TRUE(refined.ok()) << refined.status();
  EXPECT_TRUE((*refined)->makes_images());
  EXPECT_FALSE((*refined)->can_sample());
  auto plain = Pipeline::Create(m, *RidgeDecoder::Fit(x, y, ro),
                                std::make_unique<const IdentityGenerator>(m.image));
  ASSERT_TRUE(plain.ok()) << plain.status();
  auto recs = (*refined)->Run(betas);
  auto base = (*plain)->Run(betas);
  ASSERT_TRUE(recs.ok() && base.ok()) << recs.status() << base.status();
  EXPECT_EQ(steps, 4);
  for (int i = 0; i < 3; ++i) {
    const Eigen::VectorXf s = (*base)[i].pixels;
    const Eigen::VectorXf want = (1.0f - s.array()) + (2.0f * s.array() - 1.0f) / 16.0f;
    EXPECT_LT(((*recs)[i].pixels - want).cwiseAbs().maxCoeff(), 1e-6);
    EXPECT_FALSE((*recs)[i].png.empty());
    EXPECT_GT((*recs)[i].timings.refine, absl::ZeroDuration());
    EXPECT_EQ((*base)[i].timings.refine, absl::ZeroDuration());
  }

  // Alone, on a features pipeline: the refiner makes the images.
  m.target = "features";
  m.feature_layers = {{"fc", {16}, 16}};
  EXPECT_EQ(Pipeline::Create(m, stages(1, 16, false)).ok(), true);
  auto alone = Pipeline::Create(m, stages(1, 16, false));
  auto out = (*alone)->Run(betas);
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ((*out)[0].pixels.size(), 16);
  EXPECT_EQ((*out)[0].features.size(), 16);
  EXPECT_FLOAT_EQ((*out)[0].pixels(0), 0.5f);  // halfway from 0.5 to 0.5

  // A refiner giving the wrong shape is an INTERNAL error naming it.
  auto wrong = Pipeline::Create(m, stages(1, 15, false));
  EXPECT_EQ((*wrong)->Run(betas).status().code(), absl::StatusCode::kInternal);
  EXPECT_NE((*wrong)->Run(betas).status().message().find("step refiner"), std::string::npos);

  // A cancel inside the refiner's iterations stops it there.
  steps = 0;
  auto long_run = Pipeline::Create(m, stages(1000, 16, false));
  RunOptions o;
  o.is_cancelled = [&] { return steps >= 3; };
  EXPECT_EQ((*long_run)->Run(betas, o).status().code(), absl::StatusCode::kCancelled);
  EXPECT_EQ(steps, 3);

  // A pixels pipeline needs its generator; a refiner does not replace it.
  m.target = "pixels";
  EXPECT_EQ(Pipeline::Create(m, stages(1, 16, false)).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(RefineStage, ReportsProgressAtItsIntervalAndOnlyWhenItHasARefiner) {
  const RefinedModelData d = RefinedModel(6, 30, 8, {3, 3, 1}, "features");
  const Eigen::MatrixXd &x = d.x, &y = d.y;
  const RidgeDecoder::Options& ro = d.ridge;
  ModelManifest m = d.manifest;
  m.feature_layers = {{"fc", {9}, 9}};
  std::atomic<int> steps{0};
  PipelineStages s;
  s.decoder = *RidgeDecoder::Fit(x, y, ro);
  s.refiner = std::make_unique<const StepRefiner>(10, 9, &steps);
  auto refined = Pipeline::Create(m, std::move(s));
  ASSERT_TRUE(refined.ok()) << refined.status();
  const Eigen::MatrixXf betas = x.topRows(2).cast<float>();
  RunOptions o;
  o.progress_every = 3;
  std::vector<int> reported;
  Eigen::MatrixXf last;
  o.on_progress = [&](int iteration, const Eigen::VectorXd& loss, const Eigen::MatrixXf& images) {
    reported.push_back(iteration);
    EXPECT_EQ(loss.size(), 2);
    EXPECT_EQ(images.rows(), 2);
    last = images;
  };
  auto recs = (*refined)->Run(betas, o);
  ASSERT_TRUE(recs.ok()) << recs.status();
  EXPECT_EQ(reported, (std::vector<int>{3, 6, 9}));
  o.refine_iterations = 9;  // the last progress is the result
  ASSERT_TRUE((recs = (*refined)->Run(betas, o)).ok());
  EXPECT_LT(((*recs)[1].pixels - last.row(1).transpose()).cwiseAbs().maxCoeff(), 1e-7);

  auto plain = Pipeline::Create(m, *RidgeDecoder::Fit(x, y, ro), nullptr);
  ASSERT_TRUE(plain.ok()) << plain.status();
  o.refine_iterations = 0;
  const auto refused = (*plain)->Run(betas, o);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(refused.status().message().find("no refine stage"), std::string::npos);
}

TEST(AttentionMaps, ComeOnlyWhenAskedOneChannelClippedAndOnlyFromAGeneratorThatHasThem) {
  std::mt19937_64 rng(7);
  const ImageShape shape{4, 5, 3};
  const Eigen::MatrixXd x = testing::Gaussian(40, 12, rng);
  const Eigen::MatrixXd y =
      (x * testing::Gaussian(12, shape.num_pixels(), rng)).array() * 0.2 + 0.5;
  RidgeDecoder::Options ro;
  ro.regression.alpha = 1;
  ModelManifest m;
  m.name = "attending";
  m.num_voxels = 12;
  m.image = shape;
  m.target = "pixels";
  auto make = [&](std::unique_ptr<const Generator> g) {
    return Pipeline::Create(m, *RidgeDecoder::Fit(x, y, ro), std::move(g));
  };
  auto attending = make(std::make_unique<const testing::ChannelMeanAttention>(shape, 1.5f, 20));
  ASSERT_TRUE(attending.ok()) << attending.status();
  EXPECT_TRUE((*attending)->gives_attention());
  const Eigen::MatrixXf betas = x.topRows(3).cast<float>();

  auto plain_run = (*attending)->Run(betas);
  ASSERT_TRUE(plain_run.ok()) << plain_run.status();
  EXPECT_EQ((*plain_run)[0].attention.size(), 0);
  EXPECT_TRUE((*plain_run)[0].attention_png.empty());

  RunOptions o;
  o.attention = true;
  auto recs = (*attending)->Run(betas, o);
  ASSERT_TRUE(recs.ok()) << recs.status();
  // The decoded pixels before clipping are the generator's input.
  Eigen::MatrixXf decoded = betas;
  auto decoder = *RidgeDecoder::Fit(x, y, ro);
  decoder->Standardize(&decoded);
  decoded = decoder->Decode(decoded);
  bool clipped_any = false;
  for (int i = 0; i < 3; ++i) {
    const Reconstruction& r = (*recs)[i];
    EXPECT_EQ(r.pixels, (*plain_run)[i].pixels);
    ASSERT_EQ(r.attention.size(), 20);
    for (int p = 0; p < 20; ++p) {
      const float raw = 1.5f * decoded.row(i).segment(p * 3, 3).mean();
      clipped_any |= raw > 1.0f || raw < 0.0f;
      EXPECT_NEAR(r.attention(p), std::clamp(raw, 0.0f, 1.0f), 1e-5) << "sample " << i;
    }
    EXPECT_EQ(testing::PngHeader(r.attention_png), std::make_tuple(4, 5, 0));  // grey
    EXPECT_EQ(std::get<2>(testing::PngHeader(r.png)), 2);                      // RGB
  }
  EXPECT_TRUE(clipped_any) << "the test's gain should push some values out of [0, 1]";

  // A generator with no attention map: INVALID_ARGUMENT saying so.
  auto identity = make(std::make_unique<const IdentityGenerator>(shape));
  ASSERT_TRUE(identity.ok());
  EXPECT_FALSE((*identity)->gives_attention());
  const absl::Status refused = (*identity)->Run(betas, o).status();
  EXPECT_EQ(refused.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(refused.message().find("no attention map"), std::string::npos) << refused;
  // Maps of the wrong size are the generator's fault: INTERNAL naming it.
  auto wrong = make(std::make_unique<const testing::ChannelMeanAttention>(shape, 1.0f, 19));
  const absl::Status internal = (*wrong)->Run(betas, o).status();
  EXPECT_EQ(internal.code(), absl::StatusCode::kInternal);
  EXPECT_NE(internal.message().find("channel-mean attention"), std::string::npos) << internal;
}

}  // namespace
}  // namespace v2p::core
