// NumPy .npy / .npz arrays: read (little-endian f8, f4, u1, i4, i8; C or
// Fortran order) and write (f4, f8; C order).
#ifndef V2P_CORE_DATA_NPY_H_
#define V2P_CORE_DATA_NPY_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "Eigen/Core"
#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace v2p::core {

// An n-d array with values converted to double, stored in C (row-major)
// order whatever the file's order.
struct NpyArray {
  std::vector<int64_t> shape;
  std::vector<double> values;

  int64_t size() const { return static_cast<int64_t>(values.size()); }
  // Views a 2-d array (or 1-d as one row) as a matrix. Fails on other ranks.
  absl::StatusOr<Eigen::MatrixXd> AsMatrix() const;
};

absl::StatusOr<NpyArray> ParseNpy(const std::string& bytes);
absl::StatusOr<NpyArray> ReadNpy(const std::string& path);
// Every member of an .npz archive, keyed by name without ".npy".
absl::StatusOr<std::map<std::string, NpyArray>> ReadNpz(const std::string& path);

// Writes a matrix as a 2-d C-order array of float32 or float64.
absl::Status WriteNpyFloat32(const std::string& path, const Eigen::MatrixXf& m);
absl::Status WriteNpyFloat64(const std::string& path, const Eigen::MatrixXd& m);

}  // namespace v2p::core

#endif  // V2P_CORE_DATA_NPY_H_
