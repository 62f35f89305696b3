#include "core/evaluation/metrics.h"

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "core/base/status_macros.h"

namespace v2p::core {

const char kSsimDefinition[] =
    "SSIM-11g: Gaussian window 11x11, sigma 1.5, population covariance, K1 "
    "0.01, K2 0.03, "
    "data range 1 (pixels in [0,1]), mean over windows inside the image (Wang "
    "et al. 2004)";

namespace {

std::vector<double> GaussianKernel(int size, double sigma) {
  std::vector<double> k(size);
  const double c = (size - 1) / 2.0;
  double sum = 0;
  for (int i = 0; i < size; ++i) {
    k[i] = std::exp(-(i - c) * (i - c) / (2 * sigma * sigma));
    sum += k[i];
  }
  for (double& v : k) v /= sum;
  return k;
}

// 'valid' separable filtering of an h x w plane (row-major) with kernel k
// along both axes: (h-n+1) x (w-n+1) outputs.
std::vector<double> FilterValid(const std::vector<double>& img, int h, int w,
                                const std::vector<double>& k) {
  const int n = static_cast<int>(k.size());
  const int oh = h - n + 1, ow = w - n + 1;
  std::vector<double> rows(static_cast<size_t>(h) * ow, 0.0);
  for (int r = 0; r < h; ++r)
    for (int c = 0; c < ow; ++c) {
      double s = 0;
      for (int i = 0; i < n; ++i) s += k[i] * img[r * w + c + i];
      rows[r * ow + c] = s;
    }
  std::vector<double> out(static_cast<size_t>(oh) * ow, 0.0);
  for (int r = 0; r < oh; ++r)
    for (int c = 0; c < ow; ++c) {
      double s = 0;
      for (int i = 0; i < n; ++i) s += k[i] * rows[(r + i) * ow + c];
      out[r * ow + c] = s;
    }
  return out;
}

}  // namespace

double PixelPcc(const Eigen::VectorXd& a, const Eigen::VectorXd& b) {
  const Eigen::ArrayXd ac = a.array() - a.mean();
  const Eigen::ArrayXd bc = b.array() - b.mean();
  const double denom = std::sqrt((ac * ac).sum() * (bc * bc).sum());
  return denom > 0 ? (ac * bc).sum() / denom : 0.0;
}

double PixelMse(const Eigen::VectorXd& a, const Eigen::VectorXd& b) {
  return (a - b).squaredNorm() / static_cast<double>(a.size());
}

double EuclideanSimilarity(const Eigen::VectorXd& a, const Eigen::VectorXd& b) {
  return 1.0 / (1.0 + (a - b).norm());
}

absl::StatusOr<Eigen::MatrixXf> HyperSmoothedImages(const Eigen::MatrixXf& images,
                                                    ImageShape shape) {
  if (shape.channels != 1)
    return absl::InvalidArgumentError("HYPER's smoothed SSIM takes grayscale images");
  ASSIGN_OR_RETURN(const Eigen::MatrixXf resized, ResizeImages(images, shape, kHyperSmoothedShape));
  return SmoothImages(resized, kHyperSmoothedShape, 0.8, /*kernel=*/3);
}

SsimOptions SsimOptionsFor(ImageShape shape) {
  SsimOptions o;
  const int side = std::min(shape.height, shape.width);
  if (side >= o.window) return o;
  o.window = std::max(3, side % 2 == 1 ? side : side - 1);
  o.sigma = 1.5 * o.window / 11.0;
  return o;
}

std::string SsimDefinition(ImageShape shape) {
  const SsimOptions o = SsimOptionsFor(shape);
  if (o.window == SsimOptions().window) return kSsimDefinition;
  return absl::StrCat("SSIM-", o.window, "g (images ", shape.height, "x", shape.width,
                      " are narrower than SSIM-11g's window): Gaussian window ", o.window, "x",
                      o.window, ", sigma ", o.sigma,
                      ", population covariance, K1 0.01, K2 0.03, data range 1 (pixels in "
                      "[0,1]), mean over windows inside the image (Wang et al. 2004)");
}

absl::StatusOr<double> Ssim(const Eigen::VectorXd& a, const Eigen::VectorXd& b, ImageShape shape,
                            const SsimOptions& options) {
  const int h = shape.height, w = shape.width, ch = shape.channels;
  if (a.size() != shape.num_pixels() || b.size() != shape.num_pixels()) {
    return absl::InvalidArgumentError(absl::StrCat("SSIM: images have ", a.size(), " and ",
                                                   b.size(), " values; shape needs ",
                                                   shape.num_pixels()));
  }
  if (h < options.window || w < options.window) {
    return absl::InvalidArgumentError(absl::StrCat(
        "SSIM: image ", h, "x", w, " is smaller than the ", options.window, "-pixel window"));
  }
  const std::vector<double> k = GaussianKernel(options.window, options.sigma);
  const double c1 = std::pow(options.k1 * options.data_range, 2);
  const double c2 = std::pow(options.k2 * options.data_range, 2);
  const size_t plane = static_cast<size_t>(h) * w;
  double total = 0;
  for (int channel = 0; channel < ch; ++channel) {
    std::vector<double> x(plane), y(plane), xx(plane), yy(plane), xy(plane);
    for (size_t i = 0; i < plane; ++i) {
      x[i] = a(i * ch + channel);
      y[i] = b(i * ch + channel);
      xx[i] = x[i] * x[i];
      yy[i] = y[i] * y[i];
      xy[i] = x[i] * y[i];
    }
    const auto mx = FilterValid(x, h, w, k), my = FilterValid(y, h, w, k);
    const auto sxx = FilterValid(xx, h, w, k), syy = FilterValid(yy, h, w, k);
    const auto sxy = FilterValid(xy, h, w, k);
    double sum = 0;
    for (size_t i = 0; i < mx.size(); ++i) {
      const double vx = sxx[i] - mx[i] * mx[i], vy = syy[i] - my[i] * my[i];
      const double cov = sxy[i] - mx[i] * my[i];
      sum += ((2 * mx[i] * my[i] + c1) * (2 * cov + c2)) /
             ((mx[i] * mx[i] + my[i] * my[i] + c1) * (vx + vy + c2));
    }
    total += sum / static_cast<double>(mx.size());
  }
  return total / ch;
}

}  // namespace v2p::core
