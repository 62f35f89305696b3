// Stimulus images kept as files: PNG and JPEG, one image per file, and
// folders of them as stimulus sets.
//
// The size a file declares is read from its header (PNG IHDR, JPEG SOF)
// and bounded before any pixel is decoded: a file of a few hundred bytes
// can declare a 60000 x 60000 image. Decoding is OpenCV's (libpng and
// libjpeg), with its exceptions stopped at the call. Pixels come back as
// float in [0, 1], row-major HWC; 16-bit PNGs are reduced to 8 bits, alpha
// is dropped, grey files give one channel and colour files three (RGB).
#ifndef V2P_CORE_DATA_IMAGE_FILES_H_
#define V2P_CORE_DATA_IMAGE_FILES_H_

#include <cstdint>
#include <string>
#include <vector>

#include "Eigen/Core"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "core/data/image.h"

namespace v2p::core {

struct ImageLimits {
  int max_side = 8192;               // pixels, either side
  int64_t max_pixels = 1 << 26;      // height x width
  int64_t max_file_bytes = 1 << 27;  // 128 MiB
};

enum class ImageFormat { kPng, kJpeg };

// What a file's header declares, without decoding it.
struct ImageHeader {
  ImageFormat format = ImageFormat::kPng;
  ImageShape shape;  // channels: 1 for grey (with or without alpha), else 3
};

// The header of a PNG or JPEG held in `bytes`. DATA_LOSS when it is
// neither or is cut short; INVALID_ARGUMENT when its size is zero or over
// `limits`.
absl::StatusOr<ImageHeader> ReadImageHeader(absl::string_view bytes,
                                            const ImageLimits& limits = {});

struct DecodedImage {
  ImageShape shape;
  std::vector<float> pixels;  // shape.num_pixels() values in [0, 1], HWC
};

// Decodes a PNG or JPEG held in `bytes` (errors as ReadImageHeader;
// DATA_LOSS when the pixel data does not decode to the declared size).
absl::StatusOr<DecodedImage> DecodeImage(absl::string_view bytes, const ImageLimits& limits = {});

// Every *.png, *.jpg and *.jpeg in `dir` (not its subfolders; case of the
// extension ignored), in name order, brought to `shape`: grey and colour
// converted to shape.channels (luma 0.299 R + 0.587 G + 0.114 B), then
// resized (core/data/image.h ResizeImages). Errors name the file by its
// name within `dir`; NOT_FOUND when `dir` holds no image.
struct ImageFolder {
  ImageShape shape;
  Eigen::MatrixXf images;          // one image per row, files in name order
  std::vector<std::string> names;  // file names, without the folder
};
absl::StatusOr<ImageFolder> ReadImageFolder(const std::string& dir, ImageShape shape,
                                            const ImageLimits& limits = {});

}  // namespace v2p::core

#endif  // V2P_CORE_DATA_IMAGE_FILES_H_
