#include "core/data/image.h"

#include <algorithm>
#include <cmath>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <vector>

#include "absl/strings/str_cat.h"
#include "core/base/exceptions.h"

namespace v2p::core {

Eigen::MatrixXd ToRowMajorImages(const Eigen::MatrixXd& images,
                                 ImageShape shape, ImageLayout layout) {
  if (layout == ImageLayout::kRowMajor) return images;
  const int h = shape.height, w = shape.width, ch = shape.channels;
  Eigen::MatrixXd out(images.rows(), images.cols());
  for (Eigen::Index n = 0; n < images.rows(); ++n) {
    for (int k = 0; k < ch; ++k)
      for (int r = 0; r < h; ++r)
        for (int c = 0; c < w; ++c)
          out(n, (r * w + c) * ch + k) = images(n, k * h * w + c * h + r);
  }
  return out;
}

namespace {

// One image row as an OpenCV matrix (HWC float), and back.
cv::Mat RowToMat(const Eigen::MatrixXf& images, Eigen::Index i, ImageShape shape) {
  cv::Mat m(shape.height, shape.width, CV_32FC(shape.channels));
  for (int j = 0; j < shape.num_pixels(); ++j) m.ptr<float>()[j] = images(i, j);
  return m;
}

void MatToRow(const cv::Mat& m, Eigen::Index i, Eigen::MatrixXf* images) {
  const cv::Mat c = m.isContinuous() ? m : m.clone();
  for (Eigen::Index j = 0; j < images->cols(); ++j) (*images)(i, j) = c.ptr<float>()[j];
}

}  // namespace

absl::StatusOr<Eigen::MatrixXf> ResizeImages(const Eigen::MatrixXf& images, ImageShape from,
                                             ImageShape to) {
  if (from.channels != to.channels || from.num_pixels() <= 0 || to.num_pixels() <= 0 ||
      images.cols() != from.num_pixels())
    return absl::InvalidArgumentError(absl::StrCat(
        "cannot resize ", images.cols(), "-value images of ", from.height, "x", from.width, "x",
        from.channels, " to ", to.height, "x", to.width, "x", to.channels));
  if (from == to) return images;
  const int interpolation =
      to.height < from.height || to.width < from.width ? cv::INTER_AREA : cv::INTER_LINEAR;
  Eigen::MatrixXf out(images.rows(), to.num_pixels());
  for (Eigen::Index i = 0; i < images.rows(); ++i) {
    cv::Mat dst;
    cv::resize(RowToMat(images, i, from), dst, cv::Size(to.width, to.height), 0, 0,
               interpolation);
    MatToRow(dst, i, &out);
  }
  return out;
}

Eigen::MatrixXf SmoothImages(const Eigen::MatrixXf& images, ImageShape shape, double sigma) {
  if (sigma <= 0) return images;
  const int k = 2 * static_cast<int>(std::ceil(3 * sigma)) + 1;
  Eigen::MatrixXf out(images.rows(), images.cols());
  for (Eigen::Index i = 0; i < images.rows(); ++i) {
    cv::Mat dst;
    cv::GaussianBlur(RowToMat(images, i, shape), dst, cv::Size(k, k), sigma, sigma,
                     cv::BORDER_REFLECT_101);
    MatToRow(dst, i, &out);
  }
  return out;
}

absl::StatusOr<std::string> EncodePng(const float* pixels, ImageShape shape,
                                      int scale) {
  if (shape.height <= 0 || shape.width <= 0 ||
      (shape.channels != 1 && shape.channels != 3)) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot encode a ", shape.height, "x", shape.width, "x",
                     shape.channels, " image"));
  }
  scale = std::max(scale, 1);
  const int type = shape.channels == 1 ? CV_8UC1 : CV_8UC3;
  cv::Mat img(shape.height * scale, shape.width * scale, type);
  for (int r = 0; r < img.rows; ++r) {
    uint8_t* row = img.ptr<uint8_t>(r);
    for (int c = 0; c < img.cols; ++c) {
      for (int k = 0; k < shape.channels; ++k) {
        const float v =
            pixels[((r / scale) * shape.width + c / scale) * shape.channels +
                   k];
        // OpenCV stores colour as BGR; our pixels are RGB.
        const int dst_k = shape.channels == 3 ? 2 - k : k;
        row[c * shape.channels + dst_k] =
            static_cast<uint8_t>(std::clamp(v, 0.0f, 1.0f) * 255.0f + 0.5f);
      }
    }
  }
  return CallGuarded("cv::imencode", [&] {
    std::vector<uint8_t> buf;
    cv::imencode(".png", img, buf);
    return std::string(buf.begin(), buf.end());
  });
}

}  // namespace v2p::core
