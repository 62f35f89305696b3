// Per-image similarity measures between a reconstruction and a stimulus.
// Images are flattened row-major HWC vectors of pixels in [0, 1].
#ifndef V2P_CORE_EVALUATION_METRICS_H_
#define V2P_CORE_EVALUATION_METRICS_H_

#include "Eigen/Core"
#include "absl/status/statusor.h"
#include "core/data/image.h"

namespace v2p::core {

// Pearson correlation over all pixels. 0 when either image is constant
// (the correlation is undefined there; 0 = "no linear relation").
double PixelPcc(const Eigen::VectorXd& a, const Eigen::VectorXd& b);

// Mean squared error over all pixels.
double PixelMse(const Eigen::VectorXd& a, const Eigen::VectorXd& b);

struct SsimOptions {
  int window = 11;
  double sigma = 1.5;
  // Dynamic range L of the pixel values; 1 for pixels in [0, 1].
  double data_range = 1.0;
  double k1 = 0.01;
  double k2 = 0.03;
};

// Human-readable definition for reports (the figure depends on it).
extern const char kSsimDefinition[];

// Mean SSIM (Wang, Bovik, Sheikh & Simoncelli 2004, IEEE TIP 13(4)):
// Gaussian-weighted local means, variances and covariance (population
// form, weights sum to 1), C1 = (k1 L)^2, C2 = (k2 L)^2, averaged over every
// window that lies wholly inside the image (MATLAB ssim_index 'valid'),
// then over channels. INVALID_ARGUMENT when the image is smaller than the
// window or the sizes disagree.
absl::StatusOr<double> Ssim(const Eigen::VectorXd& a, const Eigen::VectorXd& b,
                            ImageShape shape, const SsimOptions& options = {});

}  // namespace v2p::core

#endif  // V2P_CORE_EVALUATION_METRICS_H_
