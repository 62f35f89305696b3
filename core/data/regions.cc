#include "core/data/regions.h"

#include <matio.h>

#include <algorithm>
#include <filesystem>
#include <memory>
#include <set>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace v2p::core {
namespace {

using VarPtr = std::unique_ptr<matvar_t, void (*)(matvar_t*)>;

// A MATLAB char array (8- or 16-bit) as ASCII; other characters become '?'.
std::string CellText(const matvar_t* v) {
  std::string s;
  if (v == nullptr || v->class_type != MAT_C_CHAR || v->data == nullptr) return s;
  size_t n = 1;
  for (int d = 0; d < v->rank; ++d) n *= v->dims[d];
  const bool wide = v->data_type == MAT_T_UINT16 || v->data_type == MAT_T_UTF16;
  for (size_t i = 0; i < n && i < 256; ++i) {
    const unsigned c =
        wide ? static_cast<const uint16_t*>(v->data)[i] : static_cast<const uint8_t*>(v->data)[i];
    s += c < 128 ? static_cast<char>(c) : '?';
  }
  return s;
}

// A numeric mask's voxels as 0/1, column-major; empty when not numeric.
std::vector<uint8_t> MaskBits(const matvar_t* v, size_t* size) {
  std::vector<uint8_t> bits;
  if (v == nullptr || v->data == nullptr || v->isComplex) return bits;
  size_t n = 1;
  for (int d = 0; d < v->rank; ++d) n *= v->dims[d];
  *size = n;
  bits.resize(n);
  for (size_t i = 0; i < n; ++i) {
    switch (v->class_type) {
      case MAT_C_UINT8:
      case MAT_C_INT8:
        bits[i] = static_cast<const uint8_t*>(v->data)[i] != 0;
        break;
      case MAT_C_UINT16:
      case MAT_C_INT16:
        bits[i] = static_cast<const uint16_t*>(v->data)[i] != 0;
        break;
      case MAT_C_DOUBLE:
        bits[i] = static_cast<const double*>(v->data)[i] != 0;
        break;
      default:
        return {};
    }
  }
  return bits;
}

}  // namespace

absl::StatusOr<std::vector<RegionOfInterest>> ReadRegionsOfInterest(const std::string& path,
                                                                    const std::string& labels_var,
                                                                    const std::string& masks_var) {
  if (!std::filesystem::exists(path))
    return absl::NotFoundError(absl::StrCat("MATLAB file not found: ", path));
  std::unique_ptr<mat_t, int (*)(mat_t*)> mat(Mat_Open(path.c_str(), MAT_ACC_RDONLY), Mat_Close);
  if (mat == nullptr) return absl::DataLossError(absl::StrCat(path, " is not a MATLAB file"));
  VarPtr labels(Mat_VarRead(mat.get(), labels_var.c_str()), Mat_VarFree);
  VarPtr masks(Mat_VarRead(mat.get(), masks_var.c_str()), Mat_VarFree);
  if (labels == nullptr || masks == nullptr)
    return absl::NotFoundError(
        absl::StrCat(path, " lacks ", labels == nullptr ? labels_var : masks_var));
  const size_t k = labels->rank == 2 ? labels->dims[0] * labels->dims[1] : 0;
  if (labels->class_type != MAT_C_CELL || masks->class_type != MAT_C_CELL || k == 0 ||
      masks->rank != 2 || masks->dims[0] * masks->dims[1] != k)
    return absl::DataLossError(absl::StrCat(path, ": ", labels_var, " and ", masks_var,
                                            " are not cell arrays of one length"));
  std::vector<std::vector<uint8_t>> bits(k);
  size_t size = 0;
  std::vector<RegionOfInterest> out(k);
  for (size_t i = 0; i < k; ++i) {
    out[i].name = CellText(Mat_VarGetCell(labels.get(), static_cast<int>(i)));
    size_t n = 0;
    bits[i] = MaskBits(Mat_VarGetCell(masks.get(), static_cast<int>(i)), &n);
    if (out[i].name.empty() || bits[i].empty() || (i > 0 && n != size))
      return absl::DataLossError(
          absl::StrCat(path, ": region ", i + 1, " is not a name and a mask of the first's size"));
    size = n;
  }
  std::vector<int> column_of(size, -1);
  int next = 0;
  for (size_t v = 0; v < size; ++v)
    if (bits[0][v]) column_of[v] = next++;
  for (size_t i = 0; i < k; ++i) {
    for (size_t v = 0; v < size; ++v)
      if (bits[i][v] && column_of[v] >= 0) out[i].columns.push_back(column_of[v]);
  }
  return out;
}

std::vector<int> RegionColumns(const std::vector<RegionOfInterest>& regions,
                               const std::vector<std::string>& parts) {
  std::set<int> columns;
  for (size_t i = 1; i < regions.size(); ++i) {
    for (const std::string& p : parts) {
      if (!absl::StrContains(regions[i].name, p)) continue;
      columns.insert(regions[i].columns.begin(), regions[i].columns.end());
      break;
    }
  }
  return {columns.begin(), columns.end()};
}

}  // namespace v2p::core
