#include "core/data/npy.h"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <limits>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "core/base/files.h"
#include "core/base/status_macros.h"
#include "core/data/zip_reader.h"

namespace v2p::core {
namespace {

// Format reference: numpy/lib/format.py docstring (magic, version, header
// length, then a Python dict literal with descr, fortran_order, shape).
constexpr char kMagic[] = "\x93NUMPY";

absl::StatusOr<std::string> HeaderValue(const std::string& header, const std::string& key) {
  const std::string needle = absl::StrCat("'", key, "':");
  const size_t at = header.find(needle);
  if (at == std::string::npos) {
    return absl::DataLossError(absl::StrCat("npy header lacks '", key, "'"));
  }
  size_t start = at + needle.size();
  while (start < header.size() && header[start] == ' ') ++start;
  size_t end = start;
  if (header[start] == '(') {
    end = header.find(')', start);
    if (end == std::string::npos) return absl::DataLossError("npy shape unterminated");
    return header.substr(start + 1, end - start - 1);
  }
  if (header[start] == '\'') {
    end = header.find('\'', start + 1);
    if (end == std::string::npos) return absl::DataLossError("npy descr unterminated");
    return header.substr(start + 1, end - start - 1);
  }
  end = header.find_first_of(",}", start);
  return std::string(absl::StripAsciiWhitespace(header.substr(start, end - start)));
}

template <typename T>
void Convert(const char* src, int64_t n, std::vector<double>* out) {
  out->resize(n);
  for (int64_t i = 0; i < n; ++i) {
    T v;
    std::memcpy(&v, src + i * sizeof(T), sizeof(T));
    (*out)[i] = static_cast<double>(v);
  }
}

// Reorders Fortran-order values into C order.
std::vector<double> FortranToC(const std::vector<double>& f, const std::vector<int64_t>& shape) {
  std::vector<double> c(f.size());
  const size_t rank = shape.size();
  std::vector<int64_t> idx(rank, 0);
  for (size_t flat_c = 0; flat_c < f.size(); ++flat_c) {
    int64_t flat_f = 0, stride = 1;
    for (size_t d = 0; d < rank; ++d) {
      flat_f += idx[d] * stride;
      stride *= shape[d];
    }
    c[flat_c] = f[flat_f];
    for (size_t d = rank; d-- > 0;) {
      if (++idx[d] < shape[d]) break;
      idx[d] = 0;
    }
  }
  return c;
}

template <typename Matrix>
absl::Status WriteNpy(const std::string& path, const Matrix& m, const char* descr) {
  std::string header = absl::StrCat("{'descr': '", descr, "', 'fortran_order': False, 'shape': (",
                                    m.rows(), ", ", m.cols(), "), }");
  // Pad so that magic + version + length + header + '\n' is a multiple of 64.
  const size_t unpadded = 6 + 2 + 2 + header.size() + 1;
  header.append((64 - unpadded % 64) % 64, ' ');
  header.push_back('\n');
  std::ofstream f(path, std::ios::binary);
  if (!f) return absl::InternalError(absl::StrCat("cannot write ", path));
  f.write(kMagic, 6);
  const char version[2] = {1, 0};
  f.write(version, 2);
  const uint16_t len = static_cast<uint16_t>(header.size());
  const char len_le[2] = {static_cast<char>(len & 0xFF), static_cast<char>(len >> 8)};
  f.write(len_le, 2);
  f.write(header.data(), header.size());
  const Eigen::Matrix<typename Matrix::Scalar, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>
      row_major = m;
  f.write(reinterpret_cast<const char*>(row_major.data()),
          sizeof(typename Matrix::Scalar) * row_major.size());
  f.close();
  if (!f) return WriteError(path, errno);
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<Eigen::MatrixXd> NpyArray::AsMatrix() const {
  int64_t rows = 1, cols = 0;
  if (shape.size() == 1) {
    cols = shape[0];
  } else if (shape.size() == 2) {
    rows = shape[0];
    cols = shape[1];
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat("expected a 1-d or 2-d array, got rank ", shape.size()));
  }
  Eigen::MatrixXd m(rows, cols);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c) m(r, c) = values[r * cols + c];
  return m;
}

absl::StatusOr<NpyArray> ParseNpy(const std::string& bytes) {
  if (bytes.size() < 10 || bytes.compare(0, 6, kMagic, 6) != 0) {
    return absl::DataLossError("not an npy array (bad magic)");
  }
  const uint8_t major = static_cast<uint8_t>(bytes[6]);
  size_t header_len, header_start;
  if (major == 1) {
    header_len = static_cast<uint8_t>(bytes[8]) | (static_cast<uint8_t>(bytes[9]) << 8);
    header_start = 10;
  } else if (major == 2 || major == 3) {
    if (bytes.size() < 12) return absl::DataLossError("npy header truncated");
    header_len = 0;
    for (int i = 3; i >= 0; --i)
      header_len = (header_len << 8) | static_cast<uint8_t>(bytes[8 + i]);
    header_start = 12;
  } else {
    return absl::UnimplementedError(absl::StrCat("npy format version ", major));
  }
  if (header_start + header_len > bytes.size()) return absl::DataLossError("npy header truncated");
  const std::string header = bytes.substr(header_start, header_len);
  ASSIGN_OR_RETURN(const std::string descr, HeaderValue(header, "descr"));
  ASSIGN_OR_RETURN(const std::string fortran, HeaderValue(header, "fortran_order"));
  ASSIGN_OR_RETURN(const std::string shape_text, HeaderValue(header, "shape"));

  NpyArray array;
  int64_t count = 1;
  for (absl::string_view part : absl::StrSplit(shape_text, ',', absl::SkipWhitespace())) {
    int64_t dim;
    if (!absl::SimpleAtoi(absl::StripAsciiWhitespace(part), &dim) || dim < 0) {
      return absl::DataLossError(absl::StrCat("bad npy shape (", shape_text, ")"));
    }
    // A shape whose size overflows is refused before it is multiplied
    // (found by fuzz_npy: 3 x 3333333333333333333 wrapped around).
    if (dim > 0 && count > std::numeric_limits<int64_t>::max() / dim) {
      return absl::DataLossError(absl::StrCat("npy shape (", shape_text, ") is too large"));
    }
    array.shape.push_back(dim);
    count *= dim;
  }
  const char* payload = bytes.data() + header_start + header_len;
  const size_t available = bytes.size() - header_start - header_len;
  size_t item = 0;
  if (descr == "<f8")
    item = 8;
  else if (descr == "<f4")
    item = 4;
  else if (descr == "|u1" || descr == "<u1")
    item = 1;
  else if (descr == "<i4")
    item = 4;
  else if (descr == "<i8")
    item = 8;
  else
    return absl::UnimplementedError(absl::StrCat("npy dtype ", descr, " not supported"));
  if (static_cast<uint64_t>(count) > available / item) {
    return absl::DataLossError(
        absl::StrCat("npy payload truncated: need ", count * item, " bytes, have ", available));
  }
  if (descr == "<f8")
    Convert<double>(payload, count, &array.values);
  else if (descr == "<f4")
    Convert<float>(payload, count, &array.values);
  else if (item == 1)
    Convert<uint8_t>(payload, count, &array.values);
  else if (descr == "<i4")
    Convert<int32_t>(payload, count, &array.values);
  else
    Convert<int64_t>(payload, count, &array.values);
  if (fortran == "True") array.values = FortranToC(array.values, array.shape);
  return array;
}

absl::StatusOr<NpyArray> ReadNpy(const std::string& path) {
  ASSIGN_OR_RETURN(const std::string bytes, ReadFile(path));
  auto array = ParseNpy(bytes);
  if (!array.ok()) {
    return absl::Status(array.status().code(), absl::StrCat(path, ": ", array.status().message()));
  }
  return array;
}

absl::StatusOr<std::map<std::string, NpyArray>> ReadNpz(const std::string& path) {
  ASSIGN_OR_RETURN(auto members, ReadZipArchive(path));
  std::map<std::string, NpyArray> arrays;
  for (const auto& [name, bytes] : members) {
    auto array = ParseNpy(bytes);
    if (!array.ok()) {
      return absl::Status(array.status().code(),
                          absl::StrCat(path, ":", name, ": ", array.status().message()));
    }
    std::string key = name;
    if (absl::EndsWith(key, ".npy")) key.resize(key.size() - 4);
    arrays[key] = *std::move(array);
  }
  return arrays;
}

absl::Status WriteNpyFloat32(const std::string& path, const Eigen::MatrixXf& m) {
  return WriteNpy(path, m, "<f4");
}
absl::Status WriteNpyFloat64(const std::string& path, const Eigen::MatrixXd& m) {
  return WriteNpy(path, m, "<f8");
}

}  // namespace v2p::core
