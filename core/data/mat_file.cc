#include "core/data/mat_file.h"

#include <matio.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace v2p::core {
namespace {

mat_t* M(void* p) { return static_cast<mat_t*>(p); }

template <typename T>
void CopyColumnMajor(const void* data, Eigen::MatrixXd* out) {
  const T* src = static_cast<const T*>(data);
  double* dst = out->data();  // Eigen's default storage is column-major too.
  for (Eigen::Index i = 0; i < out->size(); ++i) dst[i] = static_cast<double>(src[i]);
}

// Whether the file starts with the 128-byte header of MATLAB's v5 or v7.3
// format: version 0x0100 or 0x0200 and the endian indicator "IM" or "MI"
// at bytes 124-127. Without one, matio tries the headerless v4 format,
// where a crafted file kept it filling memory for over 10 s (found by
// tests/fuzz/fuzz_mat.cc): files without the header are refused first.
bool HasMatlabHeader(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  char header[128];
  if (!in.read(header, sizeof(header))) return false;
  const std::string endian(header + 126, 2);
  const uint8_t a = static_cast<uint8_t>(header[124]), b = static_cast<uint8_t>(header[125]);
  const int version = endian == "IM" ? (b << 8 | a) : endian == "MI" ? (a << 8 | b) : -1;
  return version == 0x0100 || version == 0x0200;
}

}  // namespace

absl::StatusOr<std::unique_ptr<MatFile>> MatFile::Open(const std::string& path) {
  if (!std::filesystem::exists(path)) {
    return absl::NotFoundError(absl::StrCat("MATLAB file not found: ", path));
  }
  if (!HasMatlabHeader(path)) {
    return absl::InvalidArgumentError(absl::StrCat(
        path, " is not a MATLAB v5 or v7.3 file (no MATLAB header; save with -v7 or -v7.3)"));
  }
  mat_t* mat = Mat_Open(path.c_str(), MAT_ACC_RDONLY);
  if (mat == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat(path, " is not a readable MATLAB file"));
  }
  return std::unique_ptr<MatFile>(new MatFile(path, mat));
}

MatFile::~MatFile() { Mat_Close(M(mat_)); }

std::vector<std::string> MatFile::VariableNames() const {
  std::vector<std::string> names;
  Mat_Rewind(M(mat_));
  while (matvar_t* info = Mat_VarReadNextInfo(M(mat_))) {
    if (info->name != nullptr) names.emplace_back(info->name);
    Mat_VarFree(info);
  }
  Mat_Rewind(M(mat_));
  return names;
}

absl::StatusOr<Eigen::MatrixXd> MatFile::ReadMatrix(const std::string& name) const {
  matvar_t* var = Mat_VarRead(M(mat_), name.c_str());
  if (var == nullptr) {
    return absl::NotFoundError(absl::StrCat("variable '", name, "' not in ", path_, " (it has: ",
                                            absl::StrJoin(VariableNames(), ", "), ")"));
  }
  std::unique_ptr<matvar_t, void (*)(matvar_t*)> guard(var, Mat_VarFree);
  if (var->isComplex || var->class_type == MAT_C_SPARSE || var->data == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat(path_, ": variable '", name, "' is not a dense real array"));
  }
  const int64_t rows = var->rank >= 1 ? static_cast<int64_t>(var->dims[0]) : 0;
  int64_t cols = 1;
  for (int d = 1; d < var->rank; ++d) {
    const int64_t dim = static_cast<int64_t>(var->dims[d]);
    if (dim != 0 && cols > (int64_t{1} << 40) / dim) cols = -1;  // overflow: refused below
    if (cols >= 0) cols *= dim;
  }
  // The values read must cover the shape declared (a damaged file may
  // declare more than it holds).
  if (rows < 0 || cols < 0 || var->data_size <= 0 ||
      (rows > 0 && cols > static_cast<int64_t>(var->nbytes / var->data_size) / rows)) {
    return absl::InvalidArgumentError(absl::StrCat(
        path_, ": variable '", name, "' declares more values than the file holds for it"));
  }
  Eigen::MatrixXd m(rows, cols);
  switch (var->class_type) {
    case MAT_C_DOUBLE:
      CopyColumnMajor<double>(var->data, &m);
      break;
    case MAT_C_SINGLE:
      CopyColumnMajor<float>(var->data, &m);
      break;
    case MAT_C_UINT8:
      CopyColumnMajor<uint8_t>(var->data, &m);
      break;
    case MAT_C_INT8:
      CopyColumnMajor<int8_t>(var->data, &m);
      break;
    case MAT_C_UINT16:
      CopyColumnMajor<uint16_t>(var->data, &m);
      break;
    case MAT_C_INT16:
      CopyColumnMajor<int16_t>(var->data, &m);
      break;
    case MAT_C_UINT32:
      CopyColumnMajor<uint32_t>(var->data, &m);
      break;
    case MAT_C_INT32:
      CopyColumnMajor<int32_t>(var->data, &m);
      break;
    case MAT_C_UINT64:
      CopyColumnMajor<uint64_t>(var->data, &m);
      break;
    case MAT_C_INT64:
      CopyColumnMajor<int64_t>(var->data, &m);
      break;
    default:
      return absl::InvalidArgumentError(absl::StrCat(path_, ": variable '", name,
                                                     "' is not numeric (class ",
                                                     static_cast<int>(var->class_type), ")"));
  }
  return m;
}

absl::Status WriteMatFile(const std::string& path,
                          const std::vector<std::pair<std::string, Eigen::MatrixXd>>& variables) {
  std::set<std::string> seen;
  for (const auto& [name, m] : variables) {
    if (name.empty() || !seen.insert(name).second)
      return absl::InvalidArgumentError(
          absl::StrCat("variable name '", name, "' is empty or repeated"));
  }
  std::error_code ec;
  std::filesystem::remove(path, ec);
  mat_t* mat = Mat_CreateVer(path.c_str(), nullptr, MAT_FT_MAT5);
  if (mat == nullptr) return absl::InternalError(absl::StrCat("cannot create MATLAB file ", path));
  std::unique_ptr<mat_t, int (*)(mat_t*)> guard(mat, Mat_Close);
  for (const auto& [name, m] : variables) {
    size_t dims[2] = {static_cast<size_t>(m.rows()), static_cast<size_t>(m.cols())};
    // matio reads the data in place (column-major, as Eigen stores it).
    matvar_t* var = Mat_VarCreate(name.c_str(), MAT_C_DOUBLE, MAT_T_DOUBLE, 2, dims,
                                  const_cast<double*>(m.data()), MAT_F_DONT_COPY_DATA);
    if (var == nullptr) return absl::InternalError(absl::StrCat("cannot create variable ", name));
    const int rc = Mat_VarWrite(mat, var, MAT_COMPRESSION_ZLIB);
    Mat_VarFree(var);
    if (rc != 0) return absl::InternalError(absl::StrCat("writing variable ", name, " to ", path));
  }
  return absl::OkStatus();
}

}  // namespace v2p::core
