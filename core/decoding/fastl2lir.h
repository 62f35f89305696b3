// L2-regularised linear regression with per-target voxel selection, with
// the semantics of KamitaniLab's FastL2LiR, the feature decoder of
// Horikawa & Kamitani (2017, Nat. Commun. 8:15037) and Shen et al. (2019,
// PLoS Comput. Biol. 15:e1006633). Reproduces its reference outputs
// (../shared/data/fastl2lir_vectors) to 1e-6.
//
// Semantics:
//  - A column of ones is appended to X and the bias is penalised by alpha
//    like every weight: [W; b] = (X1'X1 + alpha I)^-1 X1'Y.
//  - n_feat > 0 and < voxels: for each target, only the n_feat voxels with
//    the largest |Pearson r| with that target (r = 0 for voxels of variance
//    < 1e-8) enter its regression; other weights are 0.
//  - n_feat == 0 or >= voxels: no selection; when samples < voxels + 1 the
//    dual form X1'(X1X1' + alpha I)^-1 Y is used (same solution, n x n
//    system instead of d x d).
//  - chunk_size > 0 fits targets in chunks (bounds memory; same result).
//
// Cost: no selection, primal O(n d^2 + d^3 + d^2 k), dual O(n^2 d + n^3 +
// n d k); with selection O(n d^2 + n d k + k n_feat^3) and O(d^2) memory
// for the Gram matrix.
//
// How it runs: the products and the Gram matrix (dsyrk, computed once and
// shared by every target and chunk) go to the BLAS the decoders link; the
// systems are symmetric positive definite and solved by Cholesky (dpotrf,
// then two triangular solves), with partial-pivot LU only when Cholesky
// finds the system not positive definite (alpha = 0 with a nearly singular
// Gram matrix, where numpy.linalg.solve would still answer). With selection
// each target is its own n_feat + 1 system: the targets are solved on
// `threads` threads, each with a single-threaded BLAS. The results do not
// depend on the thread count. bench/fastl2lir_bench times it against a
// numpy implementation of the same algorithm.
#ifndef V2P_CORE_DECODING_FASTL2LIR_H_
#define V2P_CORE_DECODING_FASTL2LIR_H_

#include <memory>
#include <vector>

#include "Eigen/Core"
#include "Eigen/LU"
#include "absl/status/statusor.h"

namespace v2p::core {

struct FastL2LiROptions {
  double alpha = 1.0;
  int n_feat = 0;
  int chunk_size = 0;
  // Threads for the per-target solves with selection (0: every hardware
  // thread). Products run on the BLAS's own thread count.
  int threads = 0;
};

struct LinearFit {
  Eigen::MatrixXd weights;  // voxels x targets
  Eigen::RowVectorXd bias;  // targets
};

// The fit split into steps, one chunk of targets each, so that a long fit
// can report progress, be cancelled and be resumed from the steps already
// done. The expensive shared work (factorisation, Gram matrix,
// correlations) happens once in Create(). Immutable; FitChunk() is
// thread-safe and deterministic.
class FastL2LiRFitter {
 public:
  // X: samples x voxels; Y: samples x targets. INVALID_ARGUMENT on
  // mismatched sample counts, empty inputs, negative alpha / n_feat /
  // chunk_size, or non-finite values. chunk_size 0 = one chunk.
  static absl::StatusOr<std::unique_ptr<FastL2LiRFitter>> Create(const Eigen::MatrixXd& x,
                                                                 const Eigen::MatrixXd& y,
                                                                 const FastL2LiROptions& options);

  int num_chunks() const;
  // Targets [first, first + count) of chunk `chunk`.
  Eigen::Index chunk_begin(int chunk) const;
  Eigen::Index chunk_size(int chunk) const;
  // [W; b] for the chunk's targets: (voxels + 1) x chunk_size(chunk).
  // FAILED_PRECONDITION when the system is singular.
  absl::StatusOr<Eigen::MatrixXd> FitChunk(int chunk) const;
  // The ridge objective of the chunk, per sample:
  // (||Y_c - X1 Wb||^2 + alpha ||Wb||^2) / n.
  double ChunkObjective(int chunk, const Eigen::MatrixXd& wb) const;
  // Joins the chunks' [W; b] (in chunk order) into a fit.
  LinearFit Assemble(const std::vector<Eigen::MatrixXd>& chunks) const;

 private:
  FastL2LiRFitter() = default;

  // [W; b] of targets [start, start + len) with per-target selection.
  absl::StatusOr<Eigen::MatrixXd> FitSelected(Eigen::Index start, Eigen::Index len) const;
  // Without selection: system^-1 rhs, in place.
  void SolveSystem(Eigen::MatrixXd* rhs) const;

  FastL2LiROptions options_;
  Eigen::MatrixXd xb_, y_;
  int chunk_ = 0;
  bool select_ = false, dual_ = false;
  // Without selection: the system's Cholesky factor (lower triangle), or
  // its LU when it is not positive definite.
  Eigen::MatrixXd factor_;
  bool use_lu_ = false;
  Eigen::PartialPivLU<Eigen::MatrixXd> lu_;
  // With selection: X1'X1 (both triangles) and the centred voxels' column
  // norms (0 for voxels FastL2LiR treats as flat).
  Eigen::MatrixXd gram_, xc_;
  Eigen::RowVectorXd xc_norm_;
};

// The whole fit in one call (all chunks).
absl::StatusOr<LinearFit> FitFastL2LiR(const Eigen::MatrixXd& x, const Eigen::MatrixXd& y,
                                       const FastL2LiROptions& options);

// X W + 1 b.
Eigen::MatrixXd PredictLinear(const Eigen::MatrixXd& x, const LinearFit& fit);

}  // namespace v2p::core

#endif  // V2P_CORE_DECODING_FASTL2LIR_H_
