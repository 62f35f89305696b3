// The GAN generators of HYPER (Dado et al. 2022) and DAND (Güçlütürk et al.
// 2017): shapes, seeds, storage, inversion and the paired objective.
#include "core/generation/gan.h"

#include <algorithm>
#include <filesystem>
#include <random>

#include "core/data/image_corpus.h"
#include "core/features/feature_network.h"
#include "gtest/gtest.h"

namespace v2p::core {
namespace {

// A bright 10x10 square in one of four quadrants; one-hot quadrant codes.
void Quadrants(int n, uint64_t seed, Eigen::MatrixXf* images, Eigen::MatrixXf* codes) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> noise(0, 0.05f);
  *images = Eigen::MatrixXf::Zero(n, 784);
  *codes = Eigen::MatrixXf::Zero(n, 4);
  for (int i = 0; i < n; ++i) {
    const int q = i % 4, r0 = (q / 2) * 14 + 2, c0 = (q % 2) * 14 + 2;
    for (int r = 0; r < 28; ++r)
      for (int c = 0; c < 28; ++c) {
        const bool on = r >= r0 && r < r0 + 10 && c >= c0 && c < c0 + 10;
        (*images)(i, r * 28 + c) = std::clamp((on ? 0.9f : 0.05f) + noise(rng), 0.0f, 1.0f);
      }
    (*codes)(i, q) = 1;
  }
}

int BrightestQuadrant(const Eigen::RowVectorXf& image) {
  int arg = -1;
  float best = -1;
  for (int q = 0; q < 4; ++q) {
    float s = 0;
    for (int r = 0; r < 14; ++r)
      for (int c = 0; c < 14; ++c) s += image(((q / 2) * 14 + r) * 28 + (q % 2) * 14 + c);
    if (s > best) best = s, arg = q;
  }
  return arg;
}

TEST(Gan, SeededTrainingStorageAndInversion) {
  Eigen::MatrixXf images, codes;
  Quadrants(64, 2, &images, &codes);
  auto train = [&](uint64_t seed) {
    GanOptions o;
    o.latent_size = 8;
    o.epochs = 2;
    o.batch_size = 16;
    o.seed = seed;
    std::vector<GanEpoch> epochs;
    o.on_epoch = [&](const GanEpoch& e) { epochs.push_back(e); };
    auto t = GanTrainer::Create(images, {28, 28, 1}, o);
    EXPECT_TRUE(t.ok()) << t.status();
    EXPECT_TRUE((*t)->Train().ok());
    EXPECT_EQ(epochs.size(), 2u);
    for (const auto& e : epochs) EXPECT_TRUE(std::isfinite(e.discriminator + e.adversarial));
    return (*t)->Finish();
  };
  auto a = train(3), b = train(3), c = train(4);
  std::mt19937_64 rng(9);
  std::normal_distribution<float> n(0, 1);
  Eigen::MatrixXf z(6, 8);
  for (Eigen::Index i = 0; i < z.size(); ++i) z.data()[i] = n(rng);
  const Eigen::MatrixXf ga = *a->Generate(z);
  EXPECT_EQ(ga.rows(), 6);
  EXPECT_EQ(ga.cols(), 784);
  EXPECT_GE(ga.minCoeff(), 0.0f);
  EXPECT_LE(ga.maxCoeff(), 1.0f);
  EXPECT_EQ(ga, *b->Generate(z));
  EXPECT_GT((ga - *c->Generate(z)).cwiseAbs().maxCoeff(), 1e-4);
  EXPECT_FALSE(a->Generate(Eigen::MatrixXf::Zero(1, 7)).ok());

  const std::string dir = ::testing::TempDir() + "/gan_roundtrip";
  std::filesystem::remove_all(dir);
  ASSERT_TRUE(a->Save(dir).ok());
  auto loaded = GanGenerator::Load(dir);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ(*(*loaded)->Generate(z), ga);

  // Images the generator itself drew are found again by inversion: much
  // closer than the starting point z = 0.
  auto found = (*loaded)->Invert(ga, 400, 0.05, 1e-3);
  ASSERT_TRUE(found.ok()) << found.status();
  const Eigen::MatrixXf again = *(*loaded)->Generate(*found);
  const Eigen::MatrixXf start = *(*loaded)->Generate(Eigen::MatrixXf::Zero(6, 8));
  const double err = (again - ga).squaredNorm(), err0 = (start - ga).squaredNorm();
  EXPECT_LT(err, 0.1 * err0) << "inverted " << err << ", from z = 0 " << err0;
  std::filesystem::remove(dir + "/generator.pt");
  EXPECT_FALSE(GanGenerator::Load(dir).ok());
  std::filesystem::remove_all(dir);
}

// DAND's paired objective: the generator maps each code to its image.
TEST(Gan, PairedGeneratorDrawsTheImageOfItsInput) {
  Eigen::MatrixXf images, codes;
  Quadrants(64, 5, &images, &codes);
  GanOptions o;
  o.epochs = 25;
  o.batch_size = 16;
  o.learning_rate = 1e-3;
  o.lambda_adv = 1;
  o.lambda_sti = 1;
  auto t = GanTrainer::CreatePaired(images, codes, {28, 28, 1}, o);
  ASSERT_TRUE(t.ok()) << t.status();
  ASSERT_TRUE((*t)->Train().ok());
  auto g = (*t)->Finish();
  EXPECT_EQ(g->input_size(), 4);
  const Eigen::MatrixXf out = *g->Generate(codes);
  int right = 0;
  for (int i = 0; i < 64; ++i) right += BrightestQuadrant(out.row(i)) == i % 4;
  EXPECT_EQ(right, 64);
}

// DAND's feature loss alone (no pixel term) teaches the paired generator
// where the square goes, through a feature network that stays unchanged.
TEST(Gan, FeatureLossGuidesThePairedGeneratorThroughAFrozenNetwork) {
  Eigen::MatrixXf images, codes;
  Quadrants(64, 5, &images, &codes);
  LabeledImages labelled;
  labelled.shape = {28, 28, 1};
  labelled.images = images;
  for (int i = 0; i < 64; ++i) labelled.labels.push_back(i % 4);
  labelled.num_classes = 4;
  labelled.class_names = {"q0", "q1", "q2", "q3"};
  FeatureNetworkTrainOptions fo;
  fo.epochs = 2;
  fo.batch_size = 16;
  auto net = FeatureNetwork::Train(labelled, fo);
  ASSERT_TRUE(net.ok()) << net.status();
  const Eigen::MatrixXf before = *(*net)->ExtractConcatenated(images, {"conv3"});

  GanOptions o;
  o.epochs = 25;
  o.batch_size = 16;
  o.learning_rate = 1e-3;
  o.lambda_sti = 0;
  o.lambda_fea = 1;
  o.feature_network = net->get();
  o.feature_layer = "conv3";
  std::vector<double> feature_loss;
  o.on_epoch = [&](const GanEpoch& e) { feature_loss.push_back(e.feature); };
  auto t = GanTrainer::CreatePaired(images, codes, {28, 28, 1}, o);
  ASSERT_TRUE(t.ok()) << t.status();
  ASSERT_TRUE((*t)->Train().ok());
  ASSERT_EQ(feature_loss.size(), 25u);
  EXPECT_GT(feature_loss.front(), 0);
  EXPECT_LT(feature_loss.back(), 0.5 * feature_loss.front());
  const Eigen::MatrixXf out = *(*t)->Finish()->Generate(codes);
  int right = 0;
  for (int i = 0; i < 64; ++i) right += BrightestQuadrant(out.row(i)) == i % 4;
  EXPECT_GE(right, 56);
  EXPECT_EQ(*(*net)->ExtractConcatenated(images, {"conv3"}), before);

  o.feature_layer = "conv9";
  o.on_epoch = nullptr;
  auto bad = GanTrainer::CreatePaired(images, codes, {28, 28, 1}, o);
  ASSERT_TRUE(bad.ok());
  EXPECT_EQ((*bad)->Train().code(), absl::StatusCode::kInvalidArgument);
}

TEST(Gan, RejectsBadInput) {
  Eigen::MatrixXf images, codes;
  Quadrants(8, 1, &images, &codes);
  GanOptions o;
  EXPECT_FALSE(GanTrainer::Create(images, {32, 32, 1}, o).ok());
  EXPECT_FALSE(GanTrainer::Create(images.topRows(1), {28, 28, 1}, o).ok());
  EXPECT_FALSE(GanTrainer::CreatePaired(images, codes.topRows(7), {28, 28, 1}, o).ok());
  o.batch_size = 1;
  EXPECT_FALSE(GanTrainer::Create(images, {28, 28, 1}, o).ok());
}

}  // namespace
}  // namespace v2p::core
