// Access to MATLAB v5/v7.3 files through matio: reading variables, and
// writing a new v5 file of double matrices (WriteMatFile).
#ifndef V2P_CORE_DATA_MAT_FILE_H_
#define V2P_CORE_DATA_MAT_FILE_H_

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "Eigen/Core"
#include "absl/status/statusor.h"
#include "core/data/matrix_file.h"

namespace v2p::core {

class MatFile : public MatrixFile {
 public:
  // NOT_FOUND when the file is missing; INVALID_ARGUMENT when it is not a
  // MATLAB file.
  static absl::StatusOr<std::unique_ptr<MatFile>> Open(const std::string& path);
  ~MatFile() override;
  MatFile(const MatFile&) = delete;
  MatFile& operator=(const MatFile&) = delete;

  // Names of the variables in the file, in file order.
  std::vector<std::string> VariableNames() const override;

  // Reads a real numeric variable (double, single, any integer class) as a
  // rows x cols matrix of doubles, rows = the first MATLAB dimension. A
  // variable of rank > 2 is flattened to rows x prod(other dims) in MATLAB
  // (column-major) order. NOT_FOUND names the variables that do exist.
  absl::StatusOr<Eigen::MatrixXd> ReadMatrix(const std::string& name) const override;

  const std::string& path() const override { return path_; }

 private:
  MatFile(std::string path, void* mat) : path_(std::move(path)), mat_(mat) {}
  std::string path_;
  void* mat_;  // mat_t*, opaque so that matio stays out of this header.
};

// Writes `variables` (name, matrix) as double arrays to a new MATLAB v5
// file at `path` (replaced if it exists), zlib-compressed. INVALID_ARGUMENT
// for an empty or repeated name; INTERNAL when matio cannot write.
absl::Status WriteMatFile(const std::string& path,
                          const std::vector<std::pair<std::string, Eigen::MatrixXd>>& variables);

}  // namespace v2p::core

#endif  // V2P_CORE_DATA_MAT_FILE_H_
