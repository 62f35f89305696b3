#include "core/data/image.h"

#include <algorithm>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
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
