// A decoder's weight matrix W (n inputs x m outputs) kept in the layout its
// product reads fastest, so that Y = X * W for any number of rows of X
// reads W from memory once and never repacks it.
//
// A served decode is memory-bound on W (the digit69 ridge weights are
// 9.7 MB, more than a core's cache): a vector product per row reads all of
// W per row, and a BLAS matrix product first copies W into its own packed
// layout on every call, which at 16 rows took longer than the arithmetic
// (OpenBLAS's sgemm_oncopy: 44% of the worker's time). Here W is packed
// once, at load, into panels of 16 columns, each panel's rows contiguous
// (the layout of a GEMM micro-kernel's B operand). The product walks the
// panels once; within a panel (n x 16 floats, in L2) it multiplies blocks
// of up to 6 rows of X, keeping 6 x 16 sums in registers.
// bench/batch_throughput_bench prints it beside OpenBLAS per batch size.
#ifndef V2P_CORE_DECODING_PACKED_WEIGHTS_H_
#define V2P_CORE_DECODING_PACKED_WEIGHTS_H_

#include <cstddef>
#include <vector>

#include "Eigen/Core"

namespace v2p::core {

class PackedWeights {
 public:
  static constexpr int kPanel = 16;  // columns per panel

  PackedWeights() = default;
  explicit PackedWeights(const Eigen::MatrixXf& weights);

  int rows() const { return n_; }
  int cols() const { return m_; }
  // W exactly as given (packing only moves values).
  Eigen::MatrixXf Unpack() const;
  // x: k x rows(). Returns x * W (k x cols()). Summation order differs
  // from BLAS: results agree to float rounding.
  Eigen::MatrixXf LeftMultiply(const Eigen::MatrixXf& x) const;

 private:
  int n_ = 0;
  int m_ = 0;
  // Where W(v, c) lives in packed_.
  size_t Offset(int v, int c) const {
    return (static_cast<size_t>(c / kPanel) * n_ + v) * kPanel + c % kPanel;
  }
  // Panel p holds W(v, 16p + j) at [(p * n + v) * 16 + j]; columns past m
  // are zero.
  std::vector<float> packed_;
};

}  // namespace v2p::core

#endif  // V2P_CORE_DECODING_PACKED_WEIGHTS_H_
