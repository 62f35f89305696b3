// Feature inversion (Shen et al. 2019; core/methods/shen/feature_inversion.h)
// on a small network trained here on MNIST: the loss's gradient matches
// finite differences, the loss falls on every sample with each optimiser,
// norm correction gives each sample the corpus psi, and a stop request and
// progress arrive when asked.
#include "core/methods/shen/feature_inversion.h"

#include <cmath>
#include <cstdio>
#include <random>

#include "core/data/dataset.h"
#include "core/data/image_corpus.h"
#include "core/generation/icg.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/digit69.h"
#include "tests/testing/test_paths.h"

namespace v2p::core {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

class ShenInversion : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto mnist =
        ReadIdx(testing::DataDir() + "/corpora/mnist/mnist-10k-images-idx3-ubyte",
                testing::DataDir() + "/corpora/mnist/mnist-10k-labels-idx1-ubyte", "mnist");
    ASSERT_TRUE(mnist.ok()) << mnist.status();
    FeatureNetworkTrainOptions o;
    o.epochs = 1;
    auto net = FeatureNetwork::Train(mnist->Slice(0, 2000), o);
    ASSERT_TRUE(net.ok()) << net.status();
    ASSERT_TRUE((*net)->ComputeStatistics(mnist->Slice(2000, 2500).images).ok());
    network_ = net->release();
    auto ds = LoadDataset(testing::Digit69Options());
    ASSERT_TRUE(ds.ok()) << ds.status();
    stimuli_ = new Eigen::MatrixXf(ds->test.stimuli.cast<float>());
  }
  static void TearDownTestSuite() {
    delete network_;
    delete stimuli_;
  }
  static std::vector<std::string> Layers() {
    std::vector<std::string> names;
    for (const auto& l : network_->layers())
      if (l.name != "fc8") names.push_back(l.name);
    return names;
  }
  static LayerFeatures TrueFeatures(const Eigen::MatrixXf& images) {
    auto f = network_->Extract(images, Layers());
    EXPECT_TRUE(f.ok()) << f.status();
    return *f;
  }

  static FeatureNetwork* network_;
  static Eigen::MatrixXf* stimuli_;
  const ImageShape shape_{28, 28, 1};
};
FeatureNetwork* ShenInversion::network_;
Eigen::MatrixXf* ShenInversion::stimuli_;

TEST_F(ShenInversion, GradientMatchesFiniteDifferences) {
  const LayerFeatures targets = TrueFeatures(stimuli_->topRows(3));
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> pixel(0.2f, 0.8f);
  std::normal_distribution<float> normal(0, 1);
  Eigen::MatrixXf x(3, shape_.num_pixels()), d(3, shape_.num_pixels());
  for (Eigen::Index i = 0; i < x.size(); ++i) x(i) = pixel(rng), d(i) = normal(rng);
  d.rowwise().normalize();
  for (double tv : {0.0, 0.01}) {
    Eigen::MatrixXf gradient;
    auto loss = InversionLoss(*network_, targets, x, shape_, &gradient, tv);
    ASSERT_TRUE(loss.ok()) << loss.status();
    ASSERT_EQ(gradient.rows(), 3);
    ASSERT_EQ(gradient.cols(), shape_.num_pixels());
    // Along the gradient and along a random direction: the directional
    // derivative against a central difference, within 0.5% of |gradient|
    // (float32 network, ReLU and max-pooling kinks).
    const Eigen::MatrixXf along = gradient.rowwise().normalized();
    for (const Eigen::MatrixXf* dir : {&along, static_cast<const Eigen::MatrixXf*>(&d)}) {
      const float eps = 1e-3f;
      auto up = InversionLoss(*network_, targets, x + eps * *dir, shape_, nullptr, tv);
      auto down = InversionLoss(*network_, targets, x - eps * *dir, shape_, nullptr, tv);
      ASSERT_TRUE(up.ok() && down.ok());
      for (int i = 0; i < 3; ++i) {
        const double numeric = ((*up)(i) - (*down)(i)) / (2 * eps);
        const double analytic = gradient.row(i).dot(dir->row(i));
        std::printf("tv %.2f sample %d: analytic %.6f numeric %.6f |g| %.6f\n", tv, i, analytic,
                    numeric, gradient.row(i).norm());
        EXPECT_NEAR(analytic, numeric, 0.005 * gradient.row(i).norm())
            << "sample " << i << ", tv " << tv;
      }
    }
    // Each sample's gradient depends only on its own pixels.
    Eigen::MatrixXf moved = x, moved_gradient;
    moved.row(1).setConstant(0.5f);
    ASSERT_TRUE(InversionLoss(*network_, targets, moved, shape_, &moved_gradient, tv).ok());
    EXPECT_EQ(moved_gradient.row(0), gradient.row(0));
    EXPECT_EQ(moved_gradient.row(2), gradient.row(2));
  }
}

// The start is the mean pixel dithered by a grey level, one fixed pattern
// for every sample, so that it is a point where the gradient predicts the
// loss: a flat image ties every max-pooling window, and from it L-BFGS's
// line search can find no step (feature_inversion.h, start_dither).
TEST_F(ShenInversion, StartIsDitheredTheSameForEverySampleAndTheGradientPredictsTheLossThere) {
  const float mean = stimuli_->mean(), dither = InversionOptions().start_dither;
  const Eigen::RowVectorXf start = InversionStartImage(shape_.num_pixels(), mean, dither);
  EXPECT_EQ(start, InversionStartImage(shape_.num_pixels(), mean, dither));
  EXPECT_LE((start.array() - mean).abs().maxCoeff(), dither);
  EXPECT_GT(start.maxCoeff() - start.minCoeff(), dither);  // not flat
  const LayerFeatures targets = TrueFeatures(stimuli_->topRows(3));
  const Eigen::MatrixXf x = start.replicate(3, 1);
  Eigen::MatrixXf g;
  auto loss = InversionLoss(*network_, targets, x, shape_, &g, 0);
  ASSERT_TRUE(loss.ok()) << loss.status();
  for (int i = 0; i < 3; ++i) {
    // A step of a tenth of a grey level along -g lowers the loss by about
    // t |g|^2 (first order), as L-BFGS's line search expects.
    const float t = 0.1f / 255 / g.row(i).cwiseAbs().maxCoeff();
    Eigen::MatrixXf stepped = x;
    stepped.row(i) -= t * g.row(i);
    auto after = InversionLoss(*network_, targets, stepped, shape_, nullptr, 0);
    ASSERT_TRUE(after.ok());
    const double predicted = t * g.row(i).squaredNorm(), fell = (*loss)(i) - (*after)(i);
    std::printf("sample %d: the loss fell %.3g for a predicted %.3g\n", i, fell, predicted);
    EXPECT_NEAR(fell, predicted, 0.2 * predicted) << "sample " << i;
  }
}

TEST_F(ShenInversion, LossFallsOnEverySampleWithEachOptimiser) {
  const LayerFeatures targets = TrueFeatures(*stimuli_);
  for (const auto& [name, optimizer, tv] :
       {std::tuple<const char*, InversionOptimizer, double>{"lbfgs", InversionOptimizer::kLbfgs, 0},
        {"gd", InversionOptimizer::kGradientDescent, 0},
        {"gd+tv", InversionOptimizer::kGradientDescent, 0.005}}) {
    InversionOptions o;
    o.optimizer = optimizer;
    o.tv_weight = tv;
    o.iterations = 30;
    o.start_value = stimuli_->mean();
    auto r = InvertFeatures(*network_, targets, shape_, o);
    ASSERT_TRUE(r.ok()) << name << ": " << r.status();
    EXPECT_EQ(r->iterations, 30) << name;
    EXPECT_FALSE(r->stopped_early) << name;
    ASSERT_EQ(r->images.rows(), 10);
    EXPECT_GE(r->images.minCoeff(), 0.0f);
    EXPECT_LE(r->images.maxCoeff(), 1.0f);
    for (int i = 0; i < 10; ++i)
      EXPECT_LT(r->final_loss(i), 0.9 * r->initial_loss(i)) << name << ", sample " << i;
  }
}

TEST_F(ShenInversion, NormCorrectionGivesEachSampleTheCorpusPsi) {
  const LayerFeatures features = TrueFeatures(*stimuli_);
  for (const std::string& layer : Layers()) {
    const LayerStatistics* stats = network_->statistics(layer);
    ASSERT_NE(stats, nullptr);
    ASSERT_TRUE(stats->has_psi);
    const auto info = network_->Layer(layer);
    Eigen::MatrixXf scaled = features.at(layer);
    for (Eigen::Index i = 0; i < scaled.rows(); ++i) scaled.row(i) *= 0.3f + 0.4f * i;
    const Eigen::MatrixXf corrected = CorrectFeatureNorm(scaled, info->shape, stats->psi_mean);
    for (Eigen::Index i = 0; i < corrected.rows(); ++i) {
      const double psi = ShenFeatureStd(corrected.row(i).transpose().cast<double>(), info->shape);
      EXPECT_NEAR(psi / stats->psi_mean, 1.0, 1e-6) << layer << ", sample " << i;
    }
  }
}

TEST_F(ShenInversion, StopsWhenAskedAndReportsProgressAtItsInterval) {
  const LayerFeatures targets = TrueFeatures(stimuli_->topRows(2));
  for (InversionOptimizer optimizer :
       {InversionOptimizer::kLbfgs, InversionOptimizer::kGradientDescent}) {
    InversionOptions o;
    o.optimizer = optimizer;
    o.iterations = 1000;
    o.progress_every = 3;
    std::vector<int> reported;
    o.on_progress = [&](int iteration, const Eigen::VectorXd& loss, const Eigen::MatrixXf& images) {
      reported.push_back(iteration);
      EXPECT_EQ(loss.size(), 2);
      EXPECT_EQ(images.rows(), 2);
      EXPECT_GE(images.minCoeff(), 0.0f);
      EXPECT_LE(images.maxCoeff(), 1.0f);
    };
    int asked = 0;
    o.should_stop = [&] { return ++asked > 7; };
    auto r = InvertFeatures(*network_, targets, shape_, o);
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_TRUE(r->stopped_early);
    EXPECT_EQ(r->iterations, 7);
    EXPECT_THAT(reported, ElementsAre(3, 6));
  }
}

// The deep-generator-network prior: a DeCNN trained here on fc6 of 512
// MNIST digits. The loss's gradient with respect to the generator's
// condition matches finite differences, and optimising the condition
// lowers every sample's loss with either optimiser.
TEST_F(ShenInversion, GeneratorPriorGradientMatchesFiniteDifferencesAndTheLossFalls) {
  auto mnist = ReadIdx(testing::DataDir() + "/corpora/mnist/mnist-10k-images-idx3-ubyte",
                       testing::DataDir() + "/corpora/mnist/mnist-10k-labels-idx1-ubyte", "mnist");
  ASSERT_TRUE(mnist.ok());
  const Eigen::MatrixXf images = mnist->Slice(3000, 3512).images;
  auto conditions = network_->ExtractConcatenated(images, {"fc6"});
  ASSERT_TRUE(conditions.ok());
  auto io = IcgOptions::Preset("DeCNN");
  ASSERT_TRUE(io.ok());
  io->epochs = 3;
  auto trainer = IcgTrainer::Create(images, *conditions, shape_, *io);
  ASSERT_TRUE(trainer.ok()) << trainer.status();
  ASSERT_TRUE((*trainer)->Train().ok());
  const std::unique_ptr<IcgGenerator> generator = (*trainer)->Finish();
  GeneratorPrior prior;
  prior.generator = generator.get();
  prior.low = conditions->colwise().minCoeff();
  prior.high = conditions->colwise().maxCoeff();
  prior.start = conditions->colwise().mean();

  const LayerFeatures targets = TrueFeatures(stimuli_->topRows(3));
  std::mt19937 rng(11);
  std::uniform_real_distribution<float> u(0.3f, 0.7f);
  std::normal_distribution<float> normal(0, 1);
  Eigen::MatrixXf c(3, prior.low.size()), d(3, prior.low.size());
  for (Eigen::Index i = 0; i < c.rows(); ++i)
    for (Eigen::Index j = 0; j < c.cols(); ++j) {
      c(i, j) = prior.low(j) + u(rng) * (prior.high(j) - prior.low(j));
      d(i, j) = normal(rng);
    }
  // Directions scaled by each unit's range (the generator standardises
  // its condition: a unit with a small range is a steep input).
  const Eigen::RowVectorXf range = prior.high - prior.low;
  d = (d.array().rowwise() * range.array()).matrix().rowwise().normalized();
  Eigen::MatrixXf gradient;
  auto loss = InversionLossOverCondition(*network_, targets, prior, c, shape_, &gradient);
  ASSERT_TRUE(loss.ok()) << loss.status();
  ASSERT_EQ(gradient.rows(), 3);
  ASSERT_EQ(gradient.cols(), prior.low.size());
  const Eigen::MatrixXf along =
      (gradient.array().rowwise() * range.array()).matrix().rowwise().normalized();
  for (const Eigen::MatrixXf* dir : {&along, static_cast<const Eigen::MatrixXf*>(&d)}) {
    const float eps = 1e-3f;
    auto up = InversionLossOverCondition(*network_, targets, prior, c + eps * *dir, shape_);
    auto down = InversionLossOverCondition(*network_, targets, prior, c - eps * *dir, shape_);
    ASSERT_TRUE(up.ok() && down.ok());
    for (int i = 0; i < 3; ++i) {
      const double numeric = ((*up)(i) - (*down)(i)) / (2 * eps);
      const double analytic = gradient.row(i).dot(dir->row(i));
      std::printf("condition, sample %d: analytic %.6f numeric %.6f |g| %.6f\n", i, analytic,
                  numeric, gradient.row(i).norm());
      // Within 2% of the derivative along the gradient: a float32 network
      // behind a float32 generator (ReLU kinks on both); at eps 1e-2, 3e-4
      // and 1e-4 the two agree as closely, so the gap is noise, not a bias.
      EXPECT_NEAR(analytic, numeric, 0.02 * std::abs(along.row(i).dot(gradient.row(i))))
          << "sample " << i;
    }
  }

  for (InversionOptimizer optimizer :
       {InversionOptimizer::kLbfgs, InversionOptimizer::kGradientDescent}) {
    InversionOptions o;
    o.optimizer = optimizer;
    o.iterations = 30;
    o.prior = &prior;
    auto r = InvertFeatures(*network_, targets, shape_, o);
    ASSERT_TRUE(r.ok()) << r.status();
    ASSERT_EQ(r->images.rows(), 3);
    ASSERT_EQ(r->images.cols(), shape_.num_pixels());
    for (int i = 0; i < 3; ++i) EXPECT_LT(r->final_loss(i), r->initial_loss(i)) << "sample " << i;
  }
  GeneratorPrior narrow = prior;
  narrow.low = narrow.low.head(3);
  InversionOptions o;
  o.prior = &narrow;
  EXPECT_EQ(InvertFeatures(*network_, targets, shape_, o).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(ShenInversion, BadTargetsAreRefusedWithWhatIsWrong) {
  LayerFeatures targets = TrueFeatures(stimuli_->topRows(2));
  InversionOptions o;
  o.iterations = 2;
  LayerFeatures narrow = targets;
  narrow["fc6"] = narrow["fc6"].leftCols(10);
  auto r = InvertFeatures(*network_, narrow, shape_, o);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(r.status().message(), HasSubstr("targets of fc6 are 2x10"));
  LayerFeatures unknown = {{"conv9", targets["fc6"]}};
  EXPECT_THAT(InvertFeatures(*network_, unknown, shape_, o).status().message(), HasSubstr("conv9"));
  LayerFeatures nan = targets;
  nan["conv1"](0, 0) = std::nanf("");
  EXPECT_EQ(InvertFeatures(*network_, nan, shape_, o).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(InvertFeatures(*network_, targets, {28, 28, 3}, o).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(InversionLoss(*network_, targets, Eigen::MatrixXf::Zero(2, 10), shape_).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace v2p::core
