// Per-image similarity measures between a reconstruction and a stimulus.
// Images are flattened row-major HWC vectors of pixels in [0, 1].
#ifndef V2P_CORE_EVALUATION_METRICS_H_
#define V2P_CORE_EVALUATION_METRICS_H_

#include <string>

#include "Eigen/Core"
#include "absl/status/statusor.h"
#include "core/data/image.h"

namespace v2p::core {

// Pearson correlation over all pixels. 0 when either image is constant
// (the correlation is undefined there; 0 = "no linear relation").
double PixelPcc(const Eigen::VectorXd& a, const Eigen::VectorXd& b);

// Mean squared error over all pixels.
double PixelMse(const Eigen::VectorXd& a, const Eigen::VectorXd& b);

// Dado et al. (2022)'s Euclidean similarity of two vectors (latents or
// feature activations): 1 / (1 + ||a - b||), in (0, 1], 1 when they are
// equal. Unlike the cosine it depends on the vectors' scale, so it only
// compares methods on the same latent space or feature layer.
double EuclideanSimilarity(const Eigen::VectorXd& a, const Eigen::VectorXd& b);

// Images as HYPER Table 1 prepares them for structural similarity: resized
// to 224 x 224 (bilinear) and smoothed with a 3 x 3 Gaussian kernel (sigma
// 0.8, the value OpenCV derives for that kernel size).
inline constexpr ImageShape kHyperSmoothedShape{224, 224, 1};
absl::StatusOr<Eigen::MatrixXf> HyperSmoothedImages(const Eigen::MatrixXf& images,
                                                    ImageShape shape);

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

// The SSIM-11g options, or for an image narrower than 11 pixels (e.g. the
// 10x10 patterns of Miyawaki et al. 2008) the largest odd window that fits,
// with sigma scaled alike (1.5 * window / 11); at least 3.
SsimOptions SsimOptionsFor(ImageShape shape);
// kSsimDefinition, or the definition of the narrower window
// SsimOptionsFor(shape) takes.
std::string SsimDefinition(ImageShape shape);

// Mean SSIM (Wang, Bovik, Sheikh & Simoncelli 2004, IEEE TIP 13(4)):
// Gaussian-weighted local means, variances and covariance (population
// form, weights sum to 1), C1 = (k1 L)^2, C2 = (k2 L)^2, averaged over every
// window that lies wholly inside the image (MATLAB ssim_index 'valid'),
// then over channels. INVALID_ARGUMENT when the image is smaller than the
// window or the sizes disagree.
absl::StatusOr<double> Ssim(const Eigen::VectorXd& a, const Eigen::VectorXd& b, ImageShape shape,
                            const SsimOptions& options = {});

}  // namespace v2p::core

#endif  // V2P_CORE_EVALUATION_METRICS_H_
