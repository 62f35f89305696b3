// Image shapes, layout conversion and PNG encoding. Pixels are float in
// [0, 1], row-major, channels last (HWC), unless stated otherwise.
#ifndef V2P_CORE_DATA_IMAGE_H_
#define V2P_CORE_DATA_IMAGE_H_

#include <string>

#include "Eigen/Core"
#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace v2p::core {

struct ImageShape {
  int height = 0;
  int width = 0;
  int channels = 1;

  int num_pixels() const { return height * width * channels; }
  bool operator==(const ImageShape& o) const {
    return height == o.height && width == o.width && channels == o.channels;
  }
};

enum class ImageLayout { kRowMajor, kColumnMajor };

// Converts each row of `images` (one flattened image per row, stored in
// `layout`) to row-major HWC. Column-major means MATLAB order: pixel (r, c)
// of channel k at index k*H*W + c*H + r.
Eigen::MatrixXd ToRowMajorImages(const Eigen::MatrixXd& images, ImageShape shape,
                                 ImageLayout layout);

// The inverse: row-major HWC rows stored in `layout`.
Eigen::MatrixXd FromRowMajorImages(const Eigen::MatrixXd& images, ImageShape shape,
                                   ImageLayout layout);

// How a PNG's pixel data is deflated.
enum class PngCompression {
  // zlib's fastest level: for files kept (contact sheets, figures).
  kFastest,
  // Stored blocks, no compression: for served images. On the 2-core
  // machine (bench/batch_throughput_bench prints it) a digit69 28 x 28
  // reconstruction took 31-44 us to encode deflated, more than its ridge
  // decode, and 3-4 us stored, for 571 against 880 bytes (a reconstruction
  // is smooth noise and compresses by a third): 30-40 us to save 309 bytes
  // pays only on links slower than about 60-80 Mbit/s.
  kStored,
};

// PNG of one image (values clipped to [0, 1], scaled to 8 bits). `scale`
// >= 1 enlarges by nearest-neighbour repetition. Written with zlib directly
// (Sub filter): a served reconstruction encodes one per sample.
// INVALID_ARGUMENT for shapes a PNG cannot hold.
absl::StatusOr<std::string> EncodePng(const float* pixels, ImageShape shape, int scale = 1,
                                      PngCompression compression = PngCompression::kFastest);

// Every row of `images` (images of shape `from`) resized to to.height x
// to.width: area averaging when shrinking, bilinear when enlarging. The
// channel counts must agree (INVALID_ARGUMENT otherwise).
absl::StatusOr<Eigen::MatrixXf> ResizeImages(const Eigen::MatrixXf& images, ImageShape from,
                                             ImageShape to);

// Every row smoothed by a Gaussian of `sigma` pixels (kernel `kernel`
// wide, odd; 0: 2 ceil(3 sigma) + 1; edges reflected); sigma <= 0 returns
// the images.
Eigen::MatrixXf SmoothImages(const Eigen::MatrixXf& images, ImageShape shape, double sigma,
                             int kernel = 0);

// Training images for a generator made from few stimuli: each row of
// `images` (row-major HWC) shifted by every (dy, dx) in {-shift, 0,
// shift}^2, edges replicated, and with `mirror` also left-right mirrored:
// 9 (or 18) rows per image, the originals first. Shifts keep any image
// domain; mirroring only domains closed under it (faces, not digits).
Eigen::MatrixXf ShiftedCopies(const Eigen::MatrixXf& images, ImageShape shape, int shift,
                              bool mirror);

}  // namespace v2p::core

#endif  // V2P_CORE_DATA_IMAGE_H_
