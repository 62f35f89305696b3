// Resizing and smoothing image rows (core/data/image.h): the SSIM of HYPER
// Table 1 compares images after both, and 64x64 faces reach a 28x28
// feature network through the resize.
#include "core/data/image.h"

#include <set>

#include <png.h>

#include <algorithm>
#include <random>
#include <vector>

#include "gtest/gtest.h"

namespace v2p::core {
namespace {

Eigen::MatrixXf RandomImages(int n, ImageShape shape, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<float> u(0, 1);
  Eigen::MatrixXf m(n, shape.num_pixels());
  for (Eigen::Index i = 0; i < m.size(); ++i) m.data()[i] = u(rng);
  return m;
}

TEST(ResizeImages, ShrinkingByTwoAveragesEachBlock) {
  const ImageShape from{4, 6, 1}, to{2, 3, 1};
  const Eigen::MatrixXf images = RandomImages(3, from, 1);
  auto out = ResizeImages(images, from, to);
  ASSERT_TRUE(out.ok()) << out.status();
  ASSERT_EQ(out->rows(), 3);
  ASSERT_EQ(out->cols(), 6);
  for (int n = 0; n < 3; ++n)
    for (int r = 0; r < 2; ++r)
      for (int c = 0; c < 3; ++c) {
        const float block =
            (images(n, (2 * r) * 6 + 2 * c) + images(n, (2 * r) * 6 + 2 * c + 1) +
             images(n, (2 * r + 1) * 6 + 2 * c) + images(n, (2 * r + 1) * 6 + 2 * c + 1)) /
            4;
        EXPECT_NEAR((*out)(n, r * 3 + c), block, 1e-5) << n << " " << r << " " << c;
      }
}

TEST(ResizeImages, KeepsConstantImagesAndTheMeanOfLargeOnes) {
  const ImageShape faces{64, 64, 1}, net{28, 28, 1};
  Eigen::MatrixXf flat = Eigen::MatrixXf::Constant(2, faces.num_pixels(), 0.3f);
  auto small = ResizeImages(flat, faces, net);
  ASSERT_TRUE(small.ok());
  EXPECT_NEAR(small->maxCoeff(), 0.3f, 1e-5);
  EXPECT_NEAR(small->minCoeff(), 0.3f, 1e-5);
  const Eigen::MatrixXf images = RandomImages(2, faces, 2);
  auto shrunk = ResizeImages(images, faces, net);
  ASSERT_TRUE(shrunk.ok());
  for (int n = 0; n < 2; ++n) EXPECT_NEAR(shrunk->row(n).mean(), images.row(n).mean(), 1e-3);
  auto grown = ResizeImages(*shrunk, net, faces);
  ASSERT_TRUE(grown.ok());
  EXPECT_EQ(grown->cols(), faces.num_pixels());
  auto same = ResizeImages(images, faces, faces);
  ASSERT_TRUE(same.ok());
  EXPECT_EQ(*same, images);
}

TEST(ResizeImages, RejectsChannelMismatchAndWrongWidth) {
  const Eigen::MatrixXf grey = RandomImages(1, {8, 8, 1}, 3);
  EXPECT_EQ(ResizeImages(grey, {8, 8, 1}, {4, 4, 3}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ResizeImages(grey, {8, 9, 1}, {4, 4, 1}).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(SmoothImages, PreservesConstantsLowersVarianceAndSigmaZeroIsIdentity) {
  const ImageShape shape{16, 16, 1};
  const Eigen::MatrixXf flat = Eigen::MatrixXf::Constant(1, shape.num_pixels(), 0.7f);
  const Eigen::MatrixXf smoothed_flat = SmoothImages(flat, shape, 1.0);
  EXPECT_NEAR((smoothed_flat.array() - 0.7f).abs().maxCoeff(), 0.0f, 1e-5);
  const Eigen::MatrixXf noise = RandomImages(1, shape, 4);
  const Eigen::MatrixXf smoothed = SmoothImages(noise, shape, 1.0);
  auto var = [](const Eigen::MatrixXf& m) { return (m.array() - m.mean()).square().mean(); };
  EXPECT_LT(var(smoothed), 0.5f * var(noise));
  EXPECT_NEAR(smoothed.mean(), noise.mean(), 0.02);
  EXPECT_EQ(SmoothImages(noise, shape, 0), noise);
}

// EncodePng writes PNG itself (through zlib); libpng, an independent
// reader, must get back every 8-bit value, for grey and RGB, enlarged, and
// for an image big enough to need zlib's largest window.
std::vector<uint8_t> ReadPng(const std::string& png, int channels, int* height, int* width) {
  png_image image{};
  image.version = PNG_IMAGE_VERSION;
  if (!png_image_begin_read_from_memory(&image, png.data(), png.size())) return {};
  image.format = channels == 1 ? PNG_FORMAT_GRAY : PNG_FORMAT_RGB;
  std::vector<uint8_t> pixels(PNG_IMAGE_SIZE(image));
  if (!png_image_finish_read(&image, nullptr, pixels.data(), 0, nullptr)) return {};
  *height = static_cast<int>(image.height);
  *width = static_cast<int>(image.width);
  return pixels;
}

TEST(EncodePng, LibpngReadsBackEveryValue) {
  struct Case {
    ImageShape shape;
    int scale;
  };
  for (const Case& c : {Case{{28, 28, 1}, 1}, Case{{5, 7, 3}, 3}, Case{{300, 200, 3}, 1}}) {
    for (PngCompression compression : {PngCompression::kFastest, PngCompression::kStored}) {
      SCOPED_TRACE(compression == PngCompression::kStored ? "stored" : "deflated");
      Eigen::MatrixXf image = RandomImages(1, c.shape, 5) * 1.2f;  // some values above 1
      image(0, 0) = -0.5f;
      auto png = EncodePng(image.data(), c.shape, c.scale, compression);
      ASSERT_TRUE(png.ok()) << png.status();
      int height = 0, width = 0;
      const std::vector<uint8_t> got = ReadPng(*png, c.shape.channels, &height, &width);
      ASSERT_FALSE(got.empty()) << "libpng could not read the PNG";
      ASSERT_EQ(height, c.shape.height * c.scale);
      ASSERT_EQ(width, c.shape.width * c.scale);
      for (int r = 0; r < height; ++r) {
        for (int col = 0; col < width; ++col) {
          for (int k = 0; k < c.shape.channels; ++k) {
            const float v =
                image(0, ((r / c.scale) * c.shape.width + col / c.scale) * c.shape.channels + k);
            const int want = static_cast<int>(std::clamp(v, 0.0f, 1.0f) * 255.0f + 0.5f);
            ASSERT_EQ(got[(r * width + col) * c.shape.channels + k], want)
                << c.shape.height << "x" << c.shape.width << " at " << r << "," << col << "," << k;
          }
        }
      }
    }
  }
}

TEST(EncodePng, StoresWhenAskedAndDeflatesOtherwise) {
  // A smooth ramp: deflate shrinks it well below its raw size; stored, the
  // pixel data is all there (one filter byte a row, a few bytes of block
  // headers and chunks on top).
  const ImageShape shape{64, 64, 1};
  Eigen::VectorXf ramp(shape.num_pixels());
  for (int i = 0; i < ramp.size(); ++i) ramp[i] = static_cast<float>(i % 64) / 64.0f;
  auto deflated = EncodePng(ramp.data(), shape, 1, PngCompression::kFastest);
  auto stored = EncodePng(ramp.data(), shape, 1, PngCompression::kStored);
  ASSERT_TRUE(deflated.ok() && stored.ok());
  const size_t raw = 64 * (1 + 64);
  EXPECT_GT(stored->size(), raw);
  EXPECT_LT(stored->size(), raw + 100);
  EXPECT_LT(deflated->size(), raw / 4);
}

TEST(EncodePng, RejectsShapesItCannotWrite) {
  const float pixel = 0.5f;
  EXPECT_EQ(EncodePng(&pixel, {0, 1, 1}).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(EncodePng(&pixel, {1, 1, 2}).status().code(), absl::StatusCode::kInvalidArgument);
}

// One bright pixel at (1, 2) of a 4x5 image: each copy moves it by its
// offset (edges replicate the dark border), the original comes first, and
// mirroring adds the left-right images of all nine.
TEST(ShiftedCopies, MovesEachImageByEveryOffsetAndMirrorsOnRequest) {
  Eigen::MatrixXf image = Eigen::MatrixXf::Zero(1, 20);
  image(0, 1 * 5 + 2) = 1;
  const Eigen::MatrixXf copies = ShiftedCopies(image, {4, 5, 1}, 1, false);
  ASSERT_EQ(copies.rows(), 9);
  EXPECT_EQ(copies.row(0), image.row(0));
  std::set<std::pair<int, int>> bright;
  for (Eigen::Index r = 0; r < copies.rows(); ++r) {
    EXPECT_FLOAT_EQ(copies.row(r).sum(), 1.0f) << r;
    Eigen::Index at = 0;
    copies.row(r).maxCoeff(&at);
    bright.emplace(static_cast<int>(at / 5), static_cast<int>(at % 5));
  }
  EXPECT_EQ(bright.size(), 9u);  // (0..2) x (1..3): every offset once
  EXPECT_TRUE(bright.count({0, 1}) && bright.count({2, 3}));
  const Eigen::MatrixXf mirrored = ShiftedCopies(image, {4, 5, 1}, 1, true);
  ASSERT_EQ(mirrored.rows(), 18);
  EXPECT_EQ(mirrored(9, 1 * 5 + (4 - 2)), 1.0f);  // the original, mirrored
}

}  // namespace
}  // namespace v2p::core
