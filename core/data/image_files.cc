#include "core/data/image_files.h"

#include <algorithm>
#include <filesystem>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "core/base/exceptions.h"
#include "core/base/files.h"
#include "core/base/status_macros.h"

namespace v2p::core {
namespace {

namespace fs = std::filesystem;

uint32_t BigEndian(absl::string_view b, size_t at, int bytes) {
  uint32_t v = 0;
  for (int i = 0; i < bytes; ++i) v = (v << 8) | static_cast<uint8_t>(b[at + i]);
  return v;
}

// PNG: the signature, then the IHDR chunk (length, "IHDR", width, height,
// bit depth, colour type).
absl::StatusOr<ImageHeader> PngHeader(absl::string_view b) {
  if (b.size() < 26 || b.substr(12, 4) != "IHDR")
    return absl::DataLossError("PNG file is cut short before its IHDR header");
  ImageHeader h;
  h.format = ImageFormat::kPng;
  const uint32_t width = BigEndian(b, 16, 4), height = BigEndian(b, 20, 4);
  if (width > INT32_MAX || height > INT32_MAX)
    return absl::InvalidArgumentError(
        absl::StrCat("PNG declares ", width, " x ", height, " pixels"));
  h.shape.width = static_cast<int>(width);
  h.shape.height = static_cast<int>(height);
  const uint8_t colour = static_cast<uint8_t>(b[25]);
  h.shape.channels = (colour == 0 || colour == 4) ? 1 : 3;  // grey, grey + alpha
  return h;
}

// JPEG: markers from SOI until the first start-of-frame (SOF0..SOF15 but
// DHT C4, JPG C8 and DAC CC), whose segment holds precision, height,
// width and the number of components.
absl::StatusOr<ImageHeader> JpegHeader(absl::string_view b) {
  size_t at = 2;
  while (at + 4 <= b.size()) {
    if (static_cast<uint8_t>(b[at]) != 0xFF) break;
    const uint8_t marker = static_cast<uint8_t>(b[at + 1]);
    if (marker == 0xFF) {  // fill byte
      ++at;
      continue;
    }
    if (marker == 0x01 || (marker >= 0xD0 && marker <= 0xD8)) {  // no length
      at += 2;
      continue;
    }
    if (marker == 0xDA || marker == 0xD9) break;  // scan or end before any frame
    const uint32_t length = BigEndian(b, at + 2, 2);
    if (length < 2) break;
    const bool frame =
        marker >= 0xC0 && marker <= 0xCF && marker != 0xC4 && marker != 0xC8 && marker != 0xCC;
    if (frame) {
      if (length < 8 || at + 10 > b.size()) break;
      ImageHeader h;
      h.format = ImageFormat::kJpeg;
      h.shape.height = static_cast<int>(BigEndian(b, at + 5, 2));
      h.shape.width = static_cast<int>(BigEndian(b, at + 7, 2));
      h.shape.channels = static_cast<uint8_t>(b[at + 9]) == 1 ? 1 : 3;
      // libjpeg fills a cut-short scan with grey and only warns: refuse a
      // file with no end-of-image marker after its frame instead.
      if (b.find(absl::string_view("\xFF\xD9", 2), at) == absl::string_view::npos)
        return absl::DataLossError("JPEG file is cut short (no end-of-image marker)");
      return h;
    }
    at += 2 + length;
  }
  return absl::DataLossError("JPEG file has no readable frame header (SOF)");
}

// One decoded OpenCV image (8 or 16 bit, 1 or 3 channels, BGR) as floats
// in [0, 1], RGB.
DecodedImage ToFloats(const cv::Mat& decoded) {
  cv::Mat rgb = decoded;
  if (decoded.channels() == 3) cv::cvtColor(decoded, rgb, cv::COLOR_BGR2RGB);
  const double scale = rgb.depth() == CV_16U ? 1.0 / 65535.0 : 1.0 / 255.0;
  cv::Mat floats;
  rgb.convertTo(floats, CV_32F, scale);
  if (!floats.isContinuous()) floats = floats.clone();
  DecodedImage out;
  out.shape = {floats.rows, floats.cols, floats.channels()};
  const float* p = floats.ptr<float>();
  out.pixels.assign(p, p + out.shape.num_pixels());
  return out;
}

// `image` (HWC) with its channels converted to `channels` (1 or 3).
std::vector<float> ConvertChannels(const DecodedImage& image, int channels) {
  const int from = image.shape.channels;
  if (from == channels) return image.pixels;
  const int n = image.shape.height * image.shape.width;
  std::vector<float> out(static_cast<size_t>(n) * channels);
  for (int i = 0; i < n; ++i) {
    if (channels == 1) {
      const float* rgb = &image.pixels[static_cast<size_t>(i) * 3];
      out[i] = 0.299f * rgb[0] + 0.587f * rgb[1] + 0.114f * rgb[2];
    } else {
      std::fill_n(&out[static_cast<size_t>(i) * 3], 3, image.pixels[i]);
    }
  }
  return out;
}

bool IsImageName(const fs::path& path) {
  const std::string ext = absl::AsciiStrToLower(path.extension().string());
  return ext == ".png" || ext == ".jpg" || ext == ".jpeg";
}

}  // namespace

absl::StatusOr<ImageHeader> ReadImageHeader(absl::string_view bytes, const ImageLimits& limits) {
  static constexpr absl::string_view kPngSignature("\x89PNG\r\n\x1a\n", 8);
  absl::StatusOr<ImageHeader> header;
  if (absl::StartsWith(bytes, kPngSignature)) {
    header = PngHeader(bytes);
  } else if (bytes.size() >= 3 && static_cast<uint8_t>(bytes[0]) == 0xFF &&
             static_cast<uint8_t>(bytes[1]) == 0xD8 && static_cast<uint8_t>(bytes[2]) == 0xFF) {
    header = JpegHeader(bytes);
  } else {
    return absl::DataLossError("not a PNG or JPEG file (its first bytes are neither signature)");
  }
  if (!header.ok()) return header.status();
  const ImageShape& s = header->shape;
  if (s.height <= 0 || s.width <= 0)
    return absl::InvalidArgumentError(
        absl::StrCat("image declares ", s.height, " x ", s.width, " pixels"));
  if (s.height > limits.max_side || s.width > limits.max_side ||
      static_cast<int64_t>(s.height) * s.width > limits.max_pixels)
    return absl::InvalidArgumentError(absl::StrCat("image declares ", s.height, " x ", s.width,
                                                   " pixels; the most taken is ", limits.max_side,
                                                   " a side and ", limits.max_pixels, " in all"));
  return header;
}

absl::StatusOr<DecodedImage> DecodeImage(absl::string_view bytes, const ImageLimits& limits) {
  if (static_cast<int64_t>(bytes.size()) > limits.max_file_bytes)
    return absl::InvalidArgumentError(absl::StrCat(
        "image file of ", bytes.size(), " bytes; the most taken is ", limits.max_file_bytes));
  ASSIGN_OR_RETURN(const ImageHeader header, ReadImageHeader(bytes, limits));
  const int flags =
      cv::IMREAD_ANYDEPTH | (header.shape.channels == 1 ? cv::IMREAD_GRAYSCALE : cv::IMREAD_COLOR);
  ASSIGN_OR_RETURN(const cv::Mat decoded, CallGuarded("decoding image", [&] {
                     const cv::Mat raw(1, static_cast<int>(bytes.size()), CV_8U,
                                       const_cast<char*>(bytes.data()));
                     return cv::imdecode(raw, flags);
                   }));
  // A JPEG's EXIF orientation may swap the sides OpenCV returns.
  if (decoded.empty() ||
      static_cast<int64_t>(decoded.total()) !=
          static_cast<int64_t>(header.shape.height) * header.shape.width ||
      decoded.channels() != header.shape.channels)
    return absl::DataLossError(absl::StrCat(
        header.format == ImageFormat::kPng ? "PNG" : "JPEG", " declaring ", header.shape.height,
        " x ", header.shape.width, " pixels does not decode (damaged or cut short)"));
  return CallGuarded("converting image", [&] { return ToFloats(decoded); });
}

absl::StatusOr<ImageFolder> ReadImageFolder(const std::string& dir, ImageShape shape,
                                            const ImageLimits& limits) {
  if (shape.height <= 0 || shape.width <= 0 || (shape.channels != 1 && shape.channels != 3))
    return absl::InvalidArgumentError(absl::StrCat("cannot bring images to ", shape.height, "x",
                                                   shape.width, "x", shape.channels));
  std::error_code ec;
  std::vector<fs::path> files;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    if (it->is_regular_file() && IsImageName(it->path())) files.push_back(it->path());
  }
  if (ec) return absl::NotFoundError(absl::StrCat("cannot list image folder: ", ec.message()));
  if (files.empty()) return absl::NotFoundError("the folder holds no .png, .jpg or .jpeg file");
  std::sort(files.begin(), files.end());
  ImageFolder folder;
  folder.shape = shape;
  folder.images.resize(static_cast<Eigen::Index>(files.size()), shape.num_pixels());
  for (size_t i = 0; i < files.size(); ++i) {
    const std::string name = files[i].filename().string();
    auto fail = [&name](const absl::Status& s) {
      return absl::Status(s.code(), absl::StrCat(name, ": ", s.message()));
    };
    const uintmax_t size = fs::file_size(files[i], ec);
    if (ec || static_cast<int64_t>(size) > limits.max_file_bytes)
      return fail(absl::InvalidArgumentError(
          ec ? ec.message() : absl::StrCat(size, " bytes, over ", limits.max_file_bytes)));
    auto bytes = ReadFile(files[i].string());
    if (!bytes.ok()) return fail(bytes.status());
    auto image = DecodeImage(*bytes, limits);
    if (!image.ok()) return fail(image.status());
    const std::vector<float> converted = ConvertChannels(*image, shape.channels);
    const ImageShape from{image->shape.height, image->shape.width, shape.channels};
    const Eigen::MatrixXf row =
        Eigen::Map<const Eigen::MatrixXf>(converted.data(), 1, from.num_pixels());
    auto resized = ResizeImages(row, from, shape);
    if (!resized.ok()) return fail(resized.status());
    folder.images.row(static_cast<Eigen::Index>(i)) = *resized;
    folder.names.push_back(name);
  }
  return folder;
}

}  // namespace v2p::core
