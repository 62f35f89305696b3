// Y = X * W for a few rows of X and a large weight matrix W, reading W once
// per call. A served decode is memory-bound on W (the digit69 ridge weights
// are 9.7 MB, larger than most per-core caches): a vector product per row
// reads all of W per row, and a BLAS matrix product first copies W into its
// packed layout, which costs about as much as reading it. Here each pair of
// W's columns is read once and multiplied against every row of X while it
// is in L1, so k rows cost little more than one until the arithmetic itself
// dominates (bench/batch_throughput_bench prints the gain per batch size).
#ifndef V2P_CORE_DECODING_SMALL_BATCH_PRODUCT_H_
#define V2P_CORE_DECODING_SMALL_BATCH_PRODUCT_H_

#include "Eigen/Core"

namespace v2p::core {

// x: k x n, weights: n x m (column-major, as Eigen stores it). Returns
// k x m. Summation order differs from BLAS: results agree to float rounding.
Eigen::MatrixXf SmallBatchProduct(const Eigen::MatrixXf& x, const Eigen::MatrixXf& weights);

}  // namespace v2p::core

#endif  // V2P_CORE_DECODING_SMALL_BATCH_PRODUCT_H_
