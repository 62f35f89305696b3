#include "core/data/image.h"

#include <algorithm>
#include <cmath>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <vector>

#include <zlib.h>

#include "absl/strings/str_cat.h"
#include "core/base/exceptions.h"
#include "core/base/status_macros.h"

namespace v2p::core {

namespace {

// Calls f(row-major HWC index, MATLAB column-major index) for every value
// of an image of `shape`: pixel (r, c) of channel k at (r*W + c)*C + k and
// at k*H*W + c*H + r.
template <typename F>
void ForEachLayoutIndex(ImageShape shape, F f) {
  const int h = shape.height, w = shape.width, ch = shape.channels;
  for (int k = 0; k < ch; ++k)
    for (int r = 0; r < h; ++r)
      for (int c = 0; c < w; ++c) f((r * w + c) * ch + k, k * h * w + c * h + r);
}

}  // namespace

Eigen::MatrixXd ToRowMajorImages(const Eigen::MatrixXd& images, ImageShape shape,
                                 ImageLayout layout) {
  if (layout == ImageLayout::kRowMajor) return images;
  Eigen::MatrixXd out(images.rows(), images.cols());
  for (Eigen::Index n = 0; n < images.rows(); ++n)
    ForEachLayoutIndex(shape, [&](int row_major, int column_major) {
      out(n, row_major) = images(n, column_major);
    });
  return out;
}

Eigen::MatrixXd FromRowMajorImages(const Eigen::MatrixXd& images, ImageShape shape,
                                   ImageLayout layout) {
  if (layout == ImageLayout::kRowMajor) return images;
  Eigen::MatrixXd out(images.rows(), images.cols());
  for (Eigen::Index n = 0; n < images.rows(); ++n)
    ForEachLayoutIndex(shape, [&](int row_major, int column_major) {
      out(n, column_major) = images(n, row_major);
    });
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
    cv::resize(RowToMat(images, i, from), dst, cv::Size(to.width, to.height), 0, 0, interpolation);
    MatToRow(dst, i, &out);
  }
  return out;
}

Eigen::MatrixXf SmoothImages(const Eigen::MatrixXf& images, ImageShape shape, double sigma,
                             int kernel) {
  if (sigma <= 0) return images;
  const int k = kernel > 0 ? kernel : 2 * static_cast<int>(std::ceil(3 * sigma)) + 1;
  Eigen::MatrixXf out(images.rows(), images.cols());
  for (Eigen::Index i = 0; i < images.rows(); ++i) {
    cv::Mat dst;
    cv::GaussianBlur(RowToMat(images, i, shape), dst, cv::Size(k, k), sigma, sigma,
                     cv::BORDER_REFLECT_101);
    MatToRow(dst, i, &out);
  }
  return out;
}

namespace {

void AppendBigEndian(uint32_t v, std::string* out) {
  const char bytes[4] = {static_cast<char>(v >> 24), static_cast<char>(v >> 16),
                         static_cast<char>(v >> 8), static_cast<char>(v)};
  out->append(bytes, 4);
}

// A chunk: length, type, data, CRC-32 of type and data (PNG spec, 5.3).
void AppendChunk(const char type[4], const std::string& data, std::string* out) {
  AppendBigEndian(static_cast<uint32_t>(data.size()), out);
  const size_t at = out->size();
  out->append(type, 4);
  out->append(data);
  const auto* crc_from = reinterpret_cast<const Bytef*>(out->data() + at);
  AppendBigEndian(static_cast<uint32_t>(
                      crc32(crc32(0, nullptr, 0), crc_from, static_cast<uInt>(4 + data.size()))),
                  out);
}

// The PNG's scanlines of an image enlarged `scale` times, each with filter
// type 1 (Sub: each byte minus the byte of the pixel to its left), which
// helps smooth images compress.
std::string Scanlines(const float* pixels, ImageShape shape, int scale) {
  const int64_t height = int64_t{shape.height} * scale;
  const int64_t width = int64_t{shape.width} * scale;
  const int ch = shape.channels;
  const int64_t stride = 1 + width * ch;  // filter byte, then the row
  std::string raw(static_cast<size_t>(height * stride), '\0');
  const int64_t source_row = int64_t{shape.width} * ch;
  std::vector<uint8_t> source(static_cast<size_t>(source_row));
  std::vector<uint8_t> line(scale > 1 ? static_cast<size_t>(width * ch) : 0);  // enlarged row
  for (int64_t r = 0; r < height; ++r) {
    // Each source row is quantised once and repeated `scale` times across
    // and down (no division per pixel: this runs for every served image).
    if (r % scale == 0) {
      const float* src = pixels + (r / scale) * source_row;
      for (int64_t i = 0; i < source_row; ++i) {
        source[i] = static_cast<uint8_t>(std::clamp(src[i], 0.0f, 1.0f) * 255.0f + 0.5f);
      }
      for (int64_t c = 0, at = 0; scale > 1 && c < shape.width; ++c) {
        for (int s = 0; s < scale; ++s, at += ch) {
          std::copy_n(source.begin() + c * ch, ch, line.begin() + at);
        }
      }
    }
    const std::vector<uint8_t>& row = scale == 1 ? source : line;
    char* dst = raw.data() + r * stride;
    dst[0] = 1;
    for (int64_t i = 0; i < width * ch; ++i) {
      dst[1 + i] = static_cast<char>(row[i] - (i >= ch ? row[i - ch] : 0));
    }
  }
  return raw;
}

// The IDAT payload: `raw` deflated with a window and hash sized to it.
absl::StatusOr<std::string> Deflate(const std::string& raw, PngCompression compression) {
  int window_bits = 9;  // zlib's smallest; the largest is 15 (32 KiB)
  while (window_bits < 15 && (int64_t{1} << window_bits) < static_cast<int64_t>(raw.size())) {
    ++window_bits;
  }
  z_stream z{};
  const int level = compression == PngCompression::kStored ? Z_NO_COMPRESSION : Z_BEST_SPEED;
  if (deflateInit2(&z, level, Z_DEFLATED, window_bits, std::clamp(window_bits - 7, 1, 8),
                   Z_DEFAULT_STRATEGY) != Z_OK) {
    return absl::ResourceExhaustedError("cannot start a deflate stream for a PNG");
  }
  std::string idat(deflateBound(&z, static_cast<uLong>(raw.size())), '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(raw.data()));
  z.avail_in = static_cast<uInt>(raw.size());
  z.next_out = reinterpret_cast<Bytef*>(idat.data());
  z.avail_out = static_cast<uInt>(idat.size());
  const int done = deflate(&z, Z_FINISH);
  idat.resize(z.total_out);
  deflateEnd(&z);
  if (done != Z_STREAM_END) return absl::InternalError("deflate did not finish a PNG");
  return idat;
}

}  // namespace

// Written straight to zlib rather than through an image library: a served
// 28 x 28 reconstruction is 800 bytes, and a general encoder sets up a
// full-size deflate state for it (cv::imencode took 60 us an image, more
// than the decode). The deflate window and hash here are sized to the
// image.
absl::StatusOr<std::string> EncodePng(const float* pixels, ImageShape shape, int scale,
                                      PngCompression compression) {
  if (shape.height <= 0 || shape.width <= 0 || (shape.channels != 1 && shape.channels != 3)) {
    return absl::InvalidArgumentError(absl::StrCat("cannot encode a ", shape.height, "x",
                                                   shape.width, "x", shape.channels, " image"));
  }
  scale = std::max(scale, 1);
  const int64_t height = int64_t{shape.height} * scale;
  const int64_t width = int64_t{shape.width} * scale;
  const int ch = shape.channels;
  const int64_t stride = 1 + width * ch;  // filter byte, then the row
  if (height > (1 << 24) || width > (1 << 24) || height * stride > (int64_t{1} << 31)) {
    return absl::InvalidArgumentError(
        absl::StrCat("a ", height, "x", width, " PNG is too large to encode"));
  }
  const std::string raw = Scanlines(pixels, shape, scale);
  ASSIGN_OR_RETURN(const std::string idat, Deflate(raw, compression));

  std::string png("\x89PNG\r\n\x1a\n", 8);
  std::string header;
  AppendBigEndian(static_cast<uint32_t>(width), &header);
  AppendBigEndian(static_cast<uint32_t>(height), &header);
  // Bit depth 8; colour type 0 (grey) or 2 (RGB); deflate; filtering
  // method 0; no interlace.
  header += {8, static_cast<char>(ch == 1 ? 0 : 2), 0, 0, 0};
  AppendChunk("IHDR", header, &png);
  AppendChunk("IDAT", idat, &png);
  AppendChunk("IEND", std::string(), &png);
  return png;
}

Eigen::MatrixXf ShiftedCopies(const Eigen::MatrixXf& images, ImageShape shape, int shift,
                              bool mirror) {
  const int h = shape.height, w = shape.width, c = shape.channels;
  std::vector<std::pair<int, int>> offsets = {{0, 0}};
  for (int dy : {-shift, 0, shift})
    for (int dx : {-shift, 0, shift})
      if ((dy != 0 || dx != 0) && shift > 0) offsets.emplace_back(dy, dx);
  const int flips = mirror ? 2 : 1;
  const Eigen::Index n = images.rows();
  Eigen::MatrixXf out(n * static_cast<Eigen::Index>(offsets.size()) * flips, images.cols());
  Eigen::Index row = 0;
  for (int flip = 0; flip < flips; ++flip) {
    for (const auto& [dy, dx] : offsets) {
      for (Eigen::Index i = 0; i < n; ++i, ++row) {
        for (int y = 0; y < h; ++y) {
          const int sy = std::clamp(y - dy, 0, h - 1);
          for (int x = 0; x < w; ++x) {
            int sx = std::clamp(x - dx, 0, w - 1);
            if (flip) sx = w - 1 - sx;
            for (int ch = 0; ch < c; ++ch)
              out(row, (y * w + x) * c + ch) = images(i, (sy * w + sx) * c + ch);
          }
        }
      }
    }
  }
  return out;
}

}  // namespace v2p::core
