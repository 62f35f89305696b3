#include "core/methods/fattention/attention_labels.h"

#include <algorithm>
#include <array>

#include "absl/strings/str_cat.h"
#include "core/evaluation/metrics.h"

namespace v2p::core {
namespace {

// One 3x3 dilation of a binary h x w map (row-major).
Eigen::VectorXf Dilate(const Eigen::VectorXf& map, int h, int w) {
  Eigen::VectorXf out = map;
  for (int r = 0; r < h; ++r) {
    for (int c = 0; c < w; ++c) {
      if (map(r * w + c) == 0) continue;
      for (int dr = -1; dr <= 1; ++dr) {
        for (int dc = -1; dc <= 1; ++dc) {
          const int rr = r + dr, cc = c + dc;
          if (rr >= 0 && rr < h && cc >= 0 && cc < w) out(rr * w + cc) = 1;
        }
      }
    }
  }
  return out;
}

}  // namespace

double OtsuThreshold(const Eigen::VectorXf& grey) {
  constexpr int kBins = 256;
  std::array<double, kBins> hist{};
  for (Eigen::Index i = 0; i < grey.size(); ++i) {
    const int b = std::clamp(static_cast<int>(grey(i) * kBins), 0, kBins - 1);
    hist[b] += 1;
  }
  const double n = static_cast<double>(grey.size());
  double total = 0;
  for (int b = 0; b < kBins; ++b) total += b * hist[b];
  double w0 = 0, sum0 = 0, best = -1;
  int best_bin = kBins / 2 - 1;
  for (int b = 0; b < kBins - 1; ++b) {
    w0 += hist[b];
    sum0 += b * hist[b];
    const double w1 = n - w0;
    if (w0 == 0 || w1 == 0) continue;
    const double m0 = sum0 / w0, m1 = (total - sum0) / w1;
    const double between = w0 * w1 * (m0 - m1) * (m0 - m1);
    if (between > best) {
      best = between;
      best_bin = b;
    }
  }
  return static_cast<double>(best_bin + 1) / kBins;
}

absl::StatusOr<Eigen::MatrixXf> ForegroundLabels(const Eigen::MatrixXf& images, ImageShape shape,
                                                 const AttentionLabelOptions& options) {
  const int h = shape.height, w = shape.width, ch = shape.channels;
  if (h < 1 || w < 1 || ch < 1 || images.cols() != shape.num_pixels())
    return absl::InvalidArgumentError(absl::StrCat("attention labels: ", images.cols(),
                                                   " pixels per image for a ", h, "x", w, "x", ch,
                                                   " shape"));
  if (!images.allFinite()) return absl::InvalidArgumentError("attention labels: NaN or Inf pixel");
  if (options.dilations < 0) return absl::InvalidArgumentError("attention labels: dilations < 0");
  Eigen::MatrixXf out(images.rows(), h * w);
  for (Eigen::Index i = 0; i < images.rows(); ++i) {
    Eigen::VectorXf grey(h * w);
    for (int p = 0; p < h * w; ++p) grey(p) = images.row(i).segment(p * ch, ch).mean();
    const float t = static_cast<float>(options.otsu ? OtsuThreshold(grey) : options.threshold);
    Eigen::VectorXf map = (grey.array() > t).cast<float>();
    for (int d = 0; d < options.dilations; ++d) map = Dilate(map, h, w);
    out.row(i) = map.transpose();
  }
  return out;
}

AttentionMapScores ScoreAttentionMaps(const Eigen::MatrixXd& maps, const Eigen::MatrixXd& labels) {
  AttentionMapScores s;
  for (Eigen::Index i = 0; i < maps.rows(); ++i) {
    const Eigen::ArrayXd m = (maps.row(i).array() > 0.5).cast<double>();
    const Eigen::ArrayXd l = (labels.row(i).array() > 0.5).cast<double>();
    const double uni = (m + l).cwiseMin(1.0).sum();
    s.iou += uni > 0 ? (m * l).sum() / uni : 1.0;
    s.pcc += PixelPcc(maps.row(i).transpose(), labels.row(i).transpose());
  }
  const double n = static_cast<double>(std::max<Eigen::Index>(1, maps.rows()));
  s.iou /= n;
  s.pcc /= n;
  return s;
}

}  // namespace v2p::core
