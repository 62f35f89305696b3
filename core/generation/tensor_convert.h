// Eigen <-> LibTorch conversions shared by the generators' .cc files.
// Internal: includes torch, so only implementation files include it.
#ifndef V2P_CORE_GENERATION_TENSOR_CONVERT_H_
#define V2P_CORE_GENERATION_TENSOR_CONVERT_H_

#include <torch/torch.h>

#include "Eigen/Core"

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

}  // namespace v2p::core::internal

#endif  // V2P_CORE_GENERATION_TENSOR_CONVERT_H_
