// Eigen <-> LibTorch conversions and module storage shared by the
// generators' .cc files.
// Internal: includes torch, so only implementation files include it.
#ifndef V2P_CORE_GENERATION_TENSOR_CONVERT_H_
#define V2P_CORE_GENERATION_TENSOR_CONVERT_H_

#include <torch/torch.h>

#include <string>

#include "Eigen/Core"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace v2p::core::internal {

using RowMajorF = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

// n x c matrix -> float32 tensor [n, c] (a copy).
inline torch::Tensor ToTensor(const Eigen::MatrixXf& m) {
  RowMajorF rows = m;
  return torch::from_blob(rows.data(), {rows.rows(), rows.cols()}, torch::kFloat32).clone();
}

// Tensor [n, ...] -> n x prod(...) matrix.
inline Eigen::MatrixXf FromTensor(const torch::Tensor& t) {
  const torch::Tensor c = t.contiguous().to(torch::kFloat32).reshape({t.size(0), -1});
  return Eigen::Map<const RowMajorF>(c.data_ptr<float>(), c.size(0), c.size(1));
}

// torch::save / torch::load of a module holder as a Status: INTERNAL when
// writing fails, DATA_LOSS when the file does not load into `module`.
template <typename Module>
absl::Status SaveModule(const Module& module, const std::string& path) {
  try {
    torch::save(module, path);
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat("saving ", path, ": ", e.what()));
  }
  return absl::OkStatus();
}

template <typename Module>
absl::Status LoadModule(Module& module, const std::string& path) {
  try {
    torch::load(module, path);
  } catch (const std::exception& e) {
    return absl::DataLossError(
        absl::StrCat(path, " does not load: ", std::string(e.what()).substr(0, 300)));
  }
  module->eval();
  return absl::OkStatus();
}

}  // namespace v2p::core::internal

#endif  // V2P_CORE_GENERATION_TENSOR_CONVERT_H_
