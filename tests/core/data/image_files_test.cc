// PNG and JPEG stimulus files (core/data/image_files.h): round trips
// through independent encoders (our EncodePng; OpenCV's JPEG encoder),
// declared sizes bounded before decoding, damaged files refused, and
// folders read in name order and brought to one shape.
#include "core/data/image_files.h"

#include <filesystem>
#include <fstream>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/test_paths.h"

namespace v2p::core {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

std::string Png(const Eigen::MatrixXf& row, ImageShape shape) {
  auto png = EncodePng(row.data(), shape);
  EXPECT_TRUE(png.ok()) << png.status();
  return png.ok() ? *png : std::string();
}

// A JPEG of `height` x `width`: red on the left half, blue on the right.
std::string Jpeg(int height, int width) {
  cv::Mat bgr(height, width, CV_8UC3, cv::Scalar(0, 0, 255));
  bgr(cv::Rect(width / 2, 0, width - width / 2, height)).setTo(cv::Scalar(255, 0, 0));
  std::vector<uchar> out;
  cv::imencode(".jpg", bgr, out, {cv::IMWRITE_JPEG_QUALITY, 95});
  return std::string(out.begin(), out.end());
}

void Write(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary) << bytes;
}

Eigen::MatrixXf Random(ImageShape shape, int seed) {
  std::srand(seed);
  return (Eigen::MatrixXf::Random(1, shape.num_pixels()).array() + 1.0f) / 2.0f;
}

TEST(DecodeImage, PngRoundTripsToEightBitsGreyAndRgb) {
  for (const ImageShape shape : {ImageShape{28, 28, 1}, ImageShape{5, 7, 3}}) {
    const Eigen::MatrixXf row = Random(shape, shape.channels);
    auto decoded = DecodeImage(Png(row, shape));
    ASSERT_TRUE(decoded.ok()) << decoded.status();
    EXPECT_EQ(decoded->shape, shape);
    ASSERT_EQ(static_cast<int>(decoded->pixels.size()), shape.num_pixels());
    for (int i = 0; i < shape.num_pixels(); ++i)
      ASSERT_NEAR(decoded->pixels[i], row(0, i), 0.5f / 255 + 1e-6f) << i;
  }
}

TEST(DecodeImage, JpegKeepsItsSizeAndRgbOrder) {
  auto decoded = DecodeImage(Jpeg(30, 40));
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_EQ(decoded->shape, (ImageShape{30, 40, 3}));
  const float* left = &decoded->pixels[(15 * 40 + 2) * 3];
  const float* right = &decoded->pixels[(15 * 40 + 37) * 3];
  EXPECT_GT(left[0], 0.9f);  // red
  EXPECT_LT(left[2], 0.1f);
  EXPECT_GT(right[2], 0.9f);  // blue
  EXPECT_LT(right[0], 0.1f);
}

// A few hundred bytes can declare a huge image: refused from the header,
// before anything is decoded or allocated.
TEST(DecodeImage, DeclaredSizesAreBoundedBeforeDecoding) {
  std::string png = Png(Random({8, 8, 1}, 1), {8, 8, 1});
  const char huge[4] = {0, 0, static_cast<char>(0xEA), 0x60};  // 60000
  png.replace(16, 4, huge, 4);
  png.replace(20, 4, huge, 4);
  auto refused = DecodeImage(png);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kInvalidArgument) << refused.status();
  EXPECT_THAT(refused.status().message(), HasSubstr("60000 x 60000"));

  std::string jpeg = Jpeg(16, 16);
  const size_t sof = jpeg.find("\xFF\xC0");
  ASSERT_NE(sof, std::string::npos);
  jpeg.replace(sof + 5, 2, "\xEA\x60", 2);
  jpeg.replace(sof + 7, 2, "\xEA\x60", 2);
  EXPECT_EQ(DecodeImage(jpeg).status().code(), absl::StatusCode::kInvalidArgument);

  ImageLimits small;
  small.max_side = 10;
  EXPECT_EQ(DecodeImage(Jpeg(16, 16), small).status().code(), absl::StatusCode::kInvalidArgument);
  small = ImageLimits();
  small.max_file_bytes = 10;
  EXPECT_EQ(DecodeImage(Jpeg(16, 16), small).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(DecodeImage, DamagedFilesAreDataLoss) {
  const std::string png = Png(Random({28, 28, 1}, 2), {28, 28, 1});
  const std::string jpeg = Jpeg(32, 32);
  for (const std::string& bad :
       {std::string(), std::string("hello, not an image"), png.substr(0, 20),
        png.substr(0, png.size() / 2), jpeg.substr(0, 6), jpeg.substr(0, jpeg.size() / 3),
        std::string("\xFF\xD8\xFF\xD9", 4)}) {
    auto decoded = DecodeImage(bad);
    EXPECT_EQ(decoded.status().code(), absl::StatusCode::kDataLoss)
        << bad.size() << " bytes: " << decoded.status();
  }
}

TEST(ReadImageFolder, ReadsImagesInNameOrderAndBringsThemToOneShape) {
  const std::string dir = testing::MakeTempDir("image_folder");
  const ImageShape grey{10, 10, 1};
  Write(dir + "/b.png", Png(Eigen::MatrixXf::Constant(1, grey.num_pixels(), 0.4f), grey));
  Write(dir + "/a.jpg", Jpeg(20, 30));
  const ImageShape rgb{6, 6, 3};
  Write(dir + "/c.PNG", Png(Eigen::MatrixXf::Constant(1, rgb.num_pixels(), 0.6f), rgb));
  Write(dir + "/notes.txt", "not an image");
  std::filesystem::create_directory(dir + "/sub.png");  // a folder, skipped

  auto folder = ReadImageFolder(dir, {28, 28, 1});
  ASSERT_TRUE(folder.ok()) << folder.status();
  EXPECT_THAT(folder->names, ElementsAre("a.jpg", "b.png", "c.PNG"));
  ASSERT_EQ(folder->images.rows(), 3);
  ASSERT_EQ(folder->images.cols(), 28 * 28);
  // Constant images stay constant through resizing and channel conversion.
  EXPECT_NEAR(folder->images.row(1).minCoeff(), 102.0f / 255, 1e-5);
  EXPECT_NEAR(folder->images.row(1).maxCoeff(), 102.0f / 255, 1e-5);
  EXPECT_NEAR(folder->images.row(2).mean(), 153.0f / 255, 1e-5);
  // Red on grey: luma 0.299.
  EXPECT_NEAR(folder->images(0, 14 * 28 + 1), 0.299f, 0.03f);

  auto colour = ReadImageFolder(dir, {8, 8, 3});
  ASSERT_TRUE(colour.ok()) << colour.status();
  EXPECT_EQ(colour->images.cols(), 8 * 8 * 3);
  EXPECT_NEAR(colour->images(1, 0), colour->images(1, 2), 1e-6) << "grey copied to R, G and B";
  std::filesystem::remove_all(dir);
}

TEST(ReadImageFolder, ErrorsNameTheFileAndNeverTheFolder) {
  const std::string dir = testing::MakeTempDir("image_folder_bad");
  auto empty = ReadImageFolder(dir, {28, 28, 1});
  EXPECT_EQ(empty.status().code(), absl::StatusCode::kNotFound);
  Write(dir + "/a.png", Png(Random({4, 4, 1}, 3), {4, 4, 1}));
  Write(dir + "/broken.png", "\x89PNG\r\n\x1a\n garbage");
  auto broken = ReadImageFolder(dir, {28, 28, 1});
  EXPECT_EQ(broken.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(broken.status().message(), HasSubstr("broken.png: "));
  EXPECT_THAT(std::string(broken.status().message()), ::testing::Not(HasSubstr(dir)));
  EXPECT_EQ(ReadImageFolder(dir, {28, 28, 2}).status().code(), absl::StatusCode::kInvalidArgument);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace v2p::core
