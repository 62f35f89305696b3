// A linear decoder's weight matrix W (n inputs x m outputs) written as
// W = A B, where A is k of W's own columns (n x k) and B is k x m, when W
// has numerical rank k small enough that the two products cost less than
// one with W.
//
// Why a decoder's W is often of low rank: ridge regression fitted on t
// trials with more voxels than trials has W = X' (X X' + alpha I)^-1 Y
// (X: t x n centred betas, Y: t x m targets), so rank(W) <= t. On digit69
// (90 training trials, 3,092 voxels, 784 pixels) k = 89 and the factored
// product does 7x fewer multiply-adds and reads 1.4 MB of weights instead
// of 9.7 MB, which fit in a core's cache; the served product is
// memory-bound, so this is what a request pays for (bench/
// batch_throughput_bench prints both). A decoder that selects voxels per
// output (FastL2LiR's n_feat) has no such structure and stays whole.
//
// Method: pivoted Cholesky of the Gram matrix G = W'W (in double, one
// column of G computed per pivot, so O(n m k)) picks the columns S of W
// greedily by the norm of what the columns chosen so far leave
// unexplained, and stops once that remainder, which is exactly
// ||W - A B||_F^2, is below tolerance^2 ||W||_F^2. Then A = W[:, S] and
// B = L_S^-T L' (G = L L' on the chosen pivots), the least-squares fit of W
// on those columns. The result is checked against W entry by entry before
// it is used. A W without low rank costs up to max_cost (n m)^2 / (n + m)
// multiply-adds to find out.
#ifndef V2P_CORE_DECODING_LOW_RANK_H_
#define V2P_CORE_DECODING_LOW_RANK_H_

#include <optional>
#include <vector>

#include "Eigen/Core"

namespace v2p::core {

struct LowRankFactors {
  std::vector<int> columns;  // of W, in pivot order: A = W[:, columns]
  Eigen::MatrixXf a;         // n x k
  Eigen::MatrixXf b;         // k x m
  int rank() const { return static_cast<int>(columns.size()); }
};

struct LowRankOptions {
  // Largest |W - A B| entry allowed, relative to W's largest entry: float
  // rounding, so that a factored decoder decodes what the whole one does.
  double tolerance = 1e-5;
  // Factor only when k (n + m) <= max_cost * n m (multiply-adds per row).
  double max_cost = 0.25;
  // Larger matrices (n m entries) are left whole: finding out would take
  // seconds.
  double max_entries = 16e6;
};

// nullopt when W is not of low enough rank (or is empty).
std::optional<LowRankFactors> FactorLowRank(const Eigen::MatrixXf& w,
                                            const LowRankOptions& options = {});

}  // namespace v2p::core

#endif  // V2P_CORE_DECODING_LOW_RANK_H_
