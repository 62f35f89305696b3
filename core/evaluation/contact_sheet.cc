#include "core/evaluation/contact_sheet.h"

#include "absl/strings/str_cat.h"

namespace v2p::core {

absl::StatusOr<std::string> ContactSheetPng(const std::vector<Eigen::MatrixXf>& rows,
                                            ImageShape shape, int scale, int gap) {
  if (rows.empty() || rows[0].rows() == 0) {
    return absl::InvalidArgumentError("contact sheet needs at least one image");
  }
  const Eigen::Index n = rows[0].rows();
  for (const auto& r : rows) {
    if (r.rows() != n || r.cols() != shape.num_pixels()) {
      return absl::InvalidArgumentError(absl::StrCat("contact sheet rows disagree: ", r.rows(), "x",
                                                     r.cols(), " vs ", n, "x", shape.num_pixels()));
    }
  }
  const int cell_h = shape.height * scale, cell_w = shape.width * scale, ch = shape.channels;
  ImageShape sheet{static_cast<int>(rows.size()) * (cell_h + gap) + gap,
                   static_cast<int>(n) * (cell_w + gap) + gap, ch};
  std::vector<float> pixels(sheet.num_pixels(), 0.5f);
  for (size_t row = 0; row < rows.size(); ++row) {
    for (Eigen::Index col = 0; col < n; ++col) {
      const int top = gap + static_cast<int>(row) * (cell_h + gap);
      const int left = gap + static_cast<int>(col) * (cell_w + gap);
      for (int y = 0; y < cell_h; ++y)
        for (int x = 0; x < cell_w; ++x)
          for (int k = 0; k < ch; ++k)
            pixels[((top + y) * sheet.width + left + x) * ch + k] =
                rows[row](col, ((y / scale) * shape.width + x / scale) * ch + k);
    }
  }
  return EncodePng(pixels.data(), sheet);
}

}  // namespace v2p::core
