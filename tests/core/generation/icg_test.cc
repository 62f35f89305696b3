// ICG (Du et al. AAAI 2020) and its CVAE / CGAN / De-CNN settings: the KL
// term, the directions of the two introspective losses, presets, seeds,
// and the stored generator.
#include "core/generation/icg.h"

#include <cmath>
#include <filesystem>
#include <map>
#include <random>
#include <string>

#include "core/data/image_corpus.h"
#include "core/evaluation/metrics.h"
#include "gtest/gtest.h"
#include "tests/testing/test_paths.h"

namespace v2p::core {
namespace {

// Toy images: a bright 10x10 square in one of four quadrants, with noise;
// the condition is the quadrant one-hot plus noise.
struct Toy {
  Eigen::MatrixXf images, conditions;
};

Toy MakeToy(int n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> noise(0, 0.05f);
  Toy t{Eigen::MatrixXf::Zero(n, 784), Eigen::MatrixXf::Zero(n, 4)};
  for (int i = 0; i < n; ++i) {
    const int q = i % 4, r0 = (q / 2) * 14 + 2, c0 = (q % 2) * 14 + 2;
    for (int r = 0; r < 28; ++r)
      for (int c = 0; c < 28; ++c) {
        const bool on = r >= r0 && r < r0 + 10 && c >= c0 && c < c0 + 10;
        t.images(i, r * 28 + c) = std::clamp((on ? 0.9f : 0.05f) + noise(rng), 0.0f, 1.0f);
      }
    t.conditions(i, q) = 1;
    for (int j = 0; j < 4; ++j) t.conditions(i, j) += noise(rng);
  }
  return t;
}

TEST(IcgKl, MatchesClosedFormAndMonteCarlo) {
  Eigen::MatrixXf mu(2, 3), logvar(2, 3);
  mu << 0.5f, -1.0f, 0.0f, 2.0f, 0.1f, -0.3f;
  logvar << 0.0f, -1.0f, 0.7f, -2.0f, 0.3f, 1.2f;
  const Eigen::VectorXd kl = KlToStandardNormal(mu, logvar);
  std::mt19937_64 rng(1);
  std::normal_distribution<double> g(0, 1);
  for (int i = 0; i < 2; ++i) {
    double closed = 0;
    for (int j = 0; j < 3; ++j) {
      const double v = std::exp(logvar(i, j));
      closed += 0.5 * (v + mu(i, j) * mu(i, j) - 1 - logvar(i, j));
    }
    EXPECT_NEAR(kl(i), closed, 1e-5);
    // E_q[log q(z) - log p(z)] by sampling.
    double mc = 0;
    const int draws = 200000;
    for (int s = 0; s < draws; ++s)
      for (int j = 0; j < 3; ++j) {
        const double sd = std::exp(0.5 * logvar(i, j)), e = g(rng);
        const double z = mu(i, j) + sd * e;
        mc += (-0.5 * e * e - std::log(sd)) - (-0.5 * z * z);
      }
    EXPECT_NEAR(mc / draws, closed, 0.03 * std::max(1.0, closed));
  }
}

TEST(IcgOptionsTest, PresetsSetAlphaAndBeta) {
  auto icg = IcgOptions::Preset("ICG");
  auto cvae = IcgOptions::Preset("CVAE");
  auto cgan = IcgOptions::Preset("CGAN");
  auto decnn = IcgOptions::Preset("DeCNN");
  ASSERT_TRUE(icg.ok() && cvae.ok() && cgan.ok() && decnn.ok());
  EXPECT_EQ(icg->alpha, 0.5);
  EXPECT_EQ(icg->beta, 1.0);
  EXPECT_EQ(cvae->alpha, 0.0);
  EXPECT_EQ(cvae->beta, 1.0);
  EXPECT_EQ(cgan->alpha, 1.0);
  EXPECT_EQ(cgan->beta, 0.0);
  EXPECT_EQ(decnn->latent_size, 0);
  EXPECT_FALSE(IcgOptions::Preset("VAE-GAN").ok());
}

// The introspective game on a toy batch: encoder steps drive the fakes'
// KL above the real images' (the encoder tells them apart); decoder steps
// with the encoder fixed bring the fakes' KL down (the generator closes
// the gap).
TEST(IcgTraining, EncoderSeparatesRealFromFakeAndDecoderClosesTheGap) {
  const Toy toy = MakeToy(64, 3);
  auto options = IcgOptions::Preset("ICG");
  ASSERT_TRUE(options.ok());
  options->latent_size = 8;
  options->learning_rate = 1e-3;
  auto trainer = IcgTrainer::Create(toy.images, toy.conditions, {28, 28, 1}, *options);
  ASSERT_TRUE(trainer.ok()) << trainer.status();
  auto gap = [&](const IcgLosses& l) {
    return 0.5 * (l.kl_reconstructed + l.kl_sampled) - l.kl_real;
  };
  const IcgLosses start = (*trainer)->Measure(0, 64);
  for (int i = 0; i < 15; ++i) (*trainer)->EncoderStep(0, 64);
  const IcgLosses separated = (*trainer)->Measure(0, 64);
  for (int i = 0; i < 15; ++i) (*trainer)->DecoderStep(0, 64);
  const IcgLosses closed = (*trainer)->Measure(0, 64);
  std::printf("KL fake - real: start %.2f, after encoder steps %.2f, after decoder steps %.2f\n",
              gap(start), gap(separated), gap(closed));
  EXPECT_GT(gap(separated), gap(start) + 1.0);
  EXPECT_LT(0.5 * (closed.kl_reconstructed + closed.kl_sampled),
            0.5 * (separated.kl_reconstructed + separated.kl_sampled));
  EXPECT_LT(closed.reconstruction, start.reconstruction);
}

// CVAE (alpha = 0): the encoder never sees fakes, so nothing separates
// them from real images; CGAN (alpha = 1, beta = 0): the encoder only
// discriminates, and the gap opens as under ICG.
TEST(IcgTraining, CvaeAndCganSettingsBehaveAsSpecified) {
  const Toy toy = MakeToy(64, 4);
  std::map<std::string, double> gap;
  for (const char* kind : {"CVAE", "CGAN"}) {
    auto options = IcgOptions::Preset(kind);
    ASSERT_TRUE(options.ok());
    options->latent_size = 8;
    options->learning_rate = 1e-3;
    auto trainer = IcgTrainer::Create(toy.images, toy.conditions, {28, 28, 1}, *options);
    ASSERT_TRUE(trainer.ok());
    for (int i = 0; i < 15; ++i) (*trainer)->EncoderStep(0, 64);
    const IcgLosses after = (*trainer)->Measure(0, 64);
    gap[kind] = 0.5 * (after.kl_reconstructed + after.kl_sampled) - after.kl_real;
  }
  std::printf("KL fake - real after 15 encoder steps: CVAE %.2f, CGAN %.2f\n", gap["CVAE"],
              gap["CGAN"]);
  EXPECT_LT(std::abs(gap["CVAE"]), 5.0);
  EXPECT_GT(gap["CGAN"], 10 * std::max(1.0, std::abs(gap["CVAE"])));
}

TEST(IcgTraining, SameSeedSameWeightsAndGeneratorRoundTrips) {
  const Toy toy = MakeToy(48, 5);
  auto train = [&](uint64_t seed) {
    auto options = IcgOptions::Preset("ICG");
    options->latent_size = 4;
    options->epochs = 1;
    options->batch_size = 16;
    options->seed = seed;
    auto t = IcgTrainer::Create(toy.images, toy.conditions, {28, 28, 1}, *options);
    EXPECT_TRUE(t.ok());
    EXPECT_TRUE((*t)->Train().ok());
    return (*t)->Finish();
  };
  auto a = train(7), b = train(7), c = train(8);
  const Eigen::MatrixXf ga = *a->Generate(toy.conditions.topRows(4));
  EXPECT_EQ(ga, *b->Generate(toy.conditions.topRows(4)));
  EXPECT_GT((ga - *c->Generate(toy.conditions.topRows(4))).cwiseAbs().maxCoeff(), 1e-4);
  EXPECT_EQ(ga.rows(), 4);
  EXPECT_EQ(ga.cols(), 784);
  EXPECT_GE(ga.minCoeff(), 0.0f);
  EXPECT_LE(ga.maxCoeff(), 1.0f);

  const std::string dir = ::testing::TempDir() + "/icg_roundtrip";
  std::filesystem::remove_all(dir);
  ASSERT_TRUE(a->Save(dir).ok());
  auto loaded = IcgGenerator::Load(dir);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ((*loaded)->kind(), "ICG");
  EXPECT_EQ((*loaded)->input_size(), 4);
  EXPECT_EQ(*(*loaded)->Generate(toy.conditions.topRows(4)), ga);
  auto samples = (*loaded)->Sample(toy.conditions.topRows(4), 3, 11);
  ASSERT_TRUE(samples.ok());
  ASSERT_EQ(samples->size(), 3u);
  EXPECT_GT(((*samples)[0] - (*samples)[1]).cwiseAbs().maxCoeff(), 1e-5);
  EXPECT_EQ((*samples)[2], (*(*loaded)->Sample(toy.conditions.topRows(4), 3, 11))[2]);
  EXPECT_EQ((*loaded)->Generate(Eigen::MatrixXf::Zero(2, 5)).status().code(),
            absl::StatusCode::kInvalidArgument);
  std::filesystem::remove(dir + "/decoder.pt");
  EXPECT_FALSE(IcgGenerator::Load(dir).ok());
  std::filesystem::remove_all(dir);
}

TEST(IcgTraining, DeCnnRegressesImagesFromConditions) {
  const Toy toy = MakeToy(64, 6);
  auto options = IcgOptions::Preset("DeCNN");
  ASSERT_TRUE(options.ok());
  options->epochs = 30;
  options->batch_size = 16;
  options->learning_rate = 1e-3;
  auto trainer = IcgTrainer::Create(toy.images, toy.conditions, {28, 28, 1}, *options);
  ASSERT_TRUE(trainer.ok()) << trainer.status();
  ASSERT_TRUE((*trainer)->Train().ok());
  auto g = (*trainer)->Finish();
  const Eigen::MatrixXf out = *g->Generate(toy.conditions);
  // Each output's brightest quadrant is its condition's.
  int right = 0;
  for (int i = 0; i < 64; ++i) {
    float best = -1;
    int arg = -1;
    for (int q = 0; q < 4; ++q) {
      float s = 0;
      for (int r = 0; r < 14; ++r)
        for (int c = 0; c < 14; ++c) s += out(i, ((q / 2) * 14 + r) * 28 + (q % 2) * 14 + c);
      if (s > best) best = s, arg = q;
    }
    right += arg == i % 4;
  }
  EXPECT_EQ(right, 64);
}

// 64x64: the Olivetti faces (the face corpus), conditioned on an 8x8
// thumbnail of each face. Trained on 9 faces of each person, ICG must
// draw the held-out 10th from its thumbnail closer (PCC) than the mean
// training face is.
TEST(IcgTraining, DrawsHeldOutOlivettiFacesAt64x64) {
  auto faces = ReadOlivetti(testing::DataDir() + "/corpora/olivetti_faces/olivettifaces.mat");
  ASSERT_TRUE(faces.ok()) << faces.status();
  ASSERT_EQ(faces->images.cols(), 64 * 64);
  auto thumbnail = [](const Eigen::MatrixXf& im) {
    Eigen::MatrixXf t = Eigen::MatrixXf::Zero(im.rows(), 64);
    for (int r = 0; r < 64; ++r)
      for (int c = 0; c < 64; ++c) t.col((r / 8) * 8 + c / 8) += im.col(r * 64 + c) / 64.0f;
    return t;
  };
  std::vector<int> train, test;
  for (int i = 0; i < faces->size(); ++i) (i % 10 == 9 ? test : train).push_back(i);
  auto rows = [&](const std::vector<int>& idx) {
    Eigen::MatrixXf m(static_cast<Eigen::Index>(idx.size()), faces->images.cols());
    for (size_t j = 0; j < idx.size(); ++j) m.row(j) = faces->images.row(idx[j]);
    return m;
  };
  const Eigen::MatrixXf train_images = rows(train), test_images = rows(test);
  auto options = IcgOptions::Preset("ICG");
  ASSERT_TRUE(options.ok());
  options->epochs = 3;
  options->batch_size = 32;
  options->learning_rate = 1e-3;
  auto trainer = IcgTrainer::Create(train_images, thumbnail(train_images), {64, 64, 1}, *options);
  ASSERT_TRUE(trainer.ok()) << trainer.status();
  ASSERT_TRUE((*trainer)->Train().ok());
  auto g = (*trainer)->Finish();
  EXPECT_EQ(g->image_shape().height, 64);
  auto drawn = g->Generate(thumbnail(test_images));
  ASSERT_TRUE(drawn.ok()) << drawn.status();
  ASSERT_EQ(drawn->cols(), 4096);
  const Eigen::RowVectorXf mean_face = train_images.colwise().mean();
  double pcc = 0, mean_pcc = 0;
  for (Eigen::Index i = 0; i < test_images.rows(); ++i) {
    const Eigen::VectorXd truth = test_images.row(i).transpose().cast<double>();
    pcc += PixelPcc(drawn->row(i).transpose().cast<double>(), truth);
    mean_pcc += PixelPcc(mean_face.transpose().cast<double>(), truth);
  }
  pcc /= test_images.rows();
  mean_pcc /= test_images.rows();
  std::printf("held-out Olivetti faces at 64x64 from 8x8 thumbnails: PCC %.3f (mean face %.3f)\n",
              pcc, mean_pcc);
  EXPECT_GT(pcc, mean_pcc + 0.05);
}

TEST(IcgTraining, RejectsBadInput) {
  const Toy toy = MakeToy(8, 1);
  IcgOptions o;
  EXPECT_FALSE(IcgTrainer::Create(toy.images, toy.conditions, {32, 32, 1}, o).ok());
  EXPECT_FALSE(IcgTrainer::Create(toy.images, toy.conditions.topRows(7), {28, 28, 1}, o).ok());
  Eigen::MatrixXf bad = toy.images;
  bad(0, 0) = std::nanf("");
  EXPECT_FALSE(IcgTrainer::Create(bad, toy.conditions, {28, 28, 1}, o).ok());
  o.kind = "GAN";
  EXPECT_FALSE(IcgTrainer::Create(toy.images, toy.conditions, {28, 28, 1}, o).ok());
}

}  // namespace
}  // namespace v2p::core
