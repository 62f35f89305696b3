// Attention labels for the foreground-attention method (fattention_method.h):
// where the foreground object of each stimulus lies, as a binary map. The
// foreground-attention paper (F-attention with Loop-Enc-Dec, ICLR 2022
// submission) trains its attention decoder against such maps; for
// single-object stimuli on a plain background (digits, characters) the
// object is the set of pixels brighter than the background. Method: the
// image's grey level (the mean over channels), binarised at a fixed
// threshold (default 0.5) or at the image's own Otsu threshold, then
// dilated once by a 3x3 square so the map covers the stroke's edges.
#ifndef V2P_CORE_METHODS_FATTENTION_ATTENTION_LABELS_H_
#define V2P_CORE_METHODS_FATTENTION_ATTENTION_LABELS_H_

#include "Eigen/Core"
#include "absl/status/statusor.h"
#include "core/data/image.h"

namespace v2p::core {

struct AttentionLabelOptions {
  // Pixels above this grey level are foreground; ignored with otsu.
  double threshold = 0.5;
  // Each image's threshold by Otsu's method (between-class variance over
  // 256 bins of [0, 1]) instead of the fixed one.
  bool otsu = false;
  // 3x3 dilations applied after binarising (0: none).
  int dilations = 1;
};

// The grey level Otsu's method picks for one image's pixels in [0, 1]: the
// upper edge of the bin that maximises the between-class variance.
double OtsuThreshold(const Eigen::VectorXf& grey);

// images: n x shape.num_pixels(), row-major HWC in [0, 1]. Returns n x
// (height * width) maps of 0 and 1, row-major. INVALID_ARGUMENT for a
// shape or width that disagree, or a non-finite value.
absl::StatusOr<Eigen::MatrixXf> ForegroundLabels(const Eigen::MatrixXf& images, ImageShape shape,
                                                 const AttentionLabelOptions& options = {});

struct AttentionMapScores {
  double iou = 0;  // of the maps and labels binarised at 0.5
  double pcc = 0;  // per-pixel Pearson correlation
};
// The mean over rows of each score of decoded `maps` (n x pixels, values in
// [0, 1]) against `labels` (the same size, 0 or 1): how the method and its
// mean-map baseline are scored. An empty union counts as IoU 1.
AttentionMapScores ScoreAttentionMaps(const Eigen::MatrixXd& maps, const Eigen::MatrixXd& labels);

}  // namespace v2p::core

#endif  // V2P_CORE_METHODS_FATTENTION_ATTENTION_LABELS_H_
