// Eigen <-> LibTorch conversions, batching and module storage shared by
// the generators' .cc files.
// Internal: includes torch, so only implementation files include it.
#ifndef V2P_CORE_GENERATION_TENSOR_CONVERT_H_
#define V2P_CORE_GENERATION_TENSOR_CONVERT_H_

#include <torch/torch.h>

#include <algorithm>
#include <numeric>
#include <random>
#include <string>
#include <vector>

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

// One epoch's batches: row indices 0..n-1 shuffled by `rng`, cut into
// batches of batch_size; a last batch of one row is dropped (batch norm
// needs two).
inline std::vector<torch::Tensor> ShuffledBatches(int64_t n, int batch_size, std::mt19937_64& rng) {
  std::vector<int64_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  std::shuffle(order.begin(), order.end(), rng);
  const torch::Tensor perm = torch::tensor(order, torch::kInt64);
  std::vector<torch::Tensor> batches;
  for (int64_t b = 0; b < n; b += batch_size) {
    torch::Tensor idx = perm.slice(0, b, std::min<int64_t>(b + batch_size, n));
    if (idx.size(0) >= 2) batches.push_back(std::move(idx));
  }
  return batches;
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
