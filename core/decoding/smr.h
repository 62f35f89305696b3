// Structured multi-output regression (SMR) for feature decoding:
//   Du C, Du C, Huang L, He H (2020). Conditional generative neural decoding
//   with structured CNN feature prediction. AAAI 2020 (Eqs. 1-6 and 10; the
//   W step and its Kronecker closed form, Proposition 1).
//
// Model: H = X W + 1 b' + E, rows of E ~ N(0, Omega), W ~ MN(0, Sr, Sc)
// (matrix normal: Sr couples voxels' weights, Sc couples units). The MAP
// objective, minimised by alternating over b, W, Omega^-1, Sr^-1, Sc^-1
// (B = Omega^-1, P = Sr^-1, Q = Sc^-1; X: N x D voxels, H: N x K units):
//
//   J = tr((H - XW - 1b') B (H - XW - 1b')') - N log|B| + g_B tr(B)
//     + lambda ||W||^2 + lambda1 tr(P W Q W') - K log|P| - D log|Q|
//     + rho_B ||B||_1 + rho_P ||P||_1 + rho_Q ||Q||_1,
//   minimised subject to tr(P) = D and tr(Q) = K,
//
// with rho_B = lambda2 N v_B, rho_P = lambda3 K v_P, rho_Q = lambda3 D v_Q,
// where v is the mean variance of the start's scatter matrix for that
// precision: an l1 penalty is not scale-free, and this makes lambda2 and
// lambda3 act like a graphical-lasso penalty on correlations whatever the
// units of W and H. ||.||_1 sums |entries| over the whole matrix, the
// diagonal included, as the paper's does. On P and Q its diagonal part is
// tr(P) = D and tr(Q) = K under the trace constraints below, a constant, so
// there it only changes the graphical lasso's path; on B it shrinks the
// noise precision as a larger g_B would.
//
// Two departures from the paper, both because its objective has no useful
// minimiser as written when N and D are small against K:
//  - The trace constraints. The prior's overall strength is lambda1 (chosen
//    by cross-validation); P and Q carry only its shape. Unconstrained, the
//    joint minimum over W, P and Q drives W towards 0 and P, Q to infinity
//    (each smaller W makes larger precisions optimal, which shrink W
//    further), so the fitted W is over-shrunk. Scaling P by c and Q by 1/c
//    leaves J unchanged, so the constraints remove nothing else. Each
//    constrained update is still the exact minimiser of its block (see the
//    P and Q steps), so J never increases.
//  - g_B tr(B): an inverse-Wishart prior on the noise covariance. With
//    N < K (digit69: 90 trials, hundreds of units) R'R is singular and the
//    paper's closed-form B update does not exist. g_B is fixed once, from
//    the ridge start, at `precision_shrinkage` times the mean residual
//    variance, so J is one fixed function during the fit. B keeps its scale:
//    the noise level it estimates is what weighs the data against the prior.
//
// Steps (each the exact minimiser of J in its block, or a decrease of it):
//  b:  column means of H - XW (X and H are centred, so b = 0 in that frame).
//  W:  X'X W B + lambda W + lambda1 P W Q = X'(H - 1b') B, solved without the
//      KD x KD Kronecker system: in the eigenbases of P and Q the prior and
//      lambda terms are diagonal, and preconditioned conjugate gradients run
//      on the rest, warm-started at the current W (so J cannot increase).
//      Preconditioner: in the basis that diagonalises B and Q together (a
//      generalised eigenproblem) every column is an N x N Woodbury solve,
//      exact but for the lambda ||W||^2 term (lambda = 1e-3), so CG needs
//      few iterations.
//  B:  N [tr(B S) - log|B|] + lambda2 ||B||_1 with S = (R'R + g_B I)/N:
//      B = S^-1, or the graphical lasso (ADMM, Boyd et al. 2011 section 6.5)
//      when lambda2 > 0.
//  P:  K [tr(P S) - log|P|] + lambda3 ||P||_1 on tr(P) = D, with
//      S = lambda1 W Q W' / K: P = (S + nu I)^-1 (the Lagrange condition),
//      nu > -min eig(S) the root of tr((S + nu I)^-1) = D (Newton on the
//      eigenvalues; it exists even when S is singular). With lambda3 > 0,
//      the graphical lasso on S + nu I rescaled onto tr(P) = D, kept only
//      when it lowers J.
//  Q:  D [tr(Q S) - log|Q|] + lambda3 ||Q||_1 on tr(Q) = K, with
//      S = lambda1 W' P W / D; as P.
// A precision fixed to I drops its terms. The ablations are named, as in
// the paper, by what they learn: SMR-O learns only Omega^-1 (Sigma_r^-1 =
// Sigma_c^-1 = I), SMR-IT learns Sigma_r^-1 and Sigma_c^-1 (Omega^-1 = I).
//
// Cost per outer iteration (N samples, D voxels, K units, c CG iterations):
//  W step  O(D^2 K + D K^2) rotations, O(K^3 + K N^2 D) preconditioner
//          set-up (the N x N blocks as one product), O(c (N D K + N K^2 +
//          D K^2)) for CG;
//  B step  O(N K^2 + K^3); when N < K, O(N^2 K + N^3): R'R has rank <= N,
//          so B = S^-1 is a multiple of I plus a rank-N term, kept as such
//          (graphical lasso: O(K^3) per ADMM iteration);
//  P step  O(D^2 K + D K^2) when K < D (S = A A' decomposed through A's QR),
//          else O(D^3) (LAPACK dsyevd);
//  Q step  O(D^2 K + D K^2 + K^3).
// Work is reused between steps (SmrOptions::reuse_decompositions): the
// eigenbases of P and Q, W in Q's basis and in P's, W'PW for the objective;
// bench/smr_fit_bench prints the time per iteration with and without.
// Memory: O(D^2 + K^2 + D K + K N^2 + D N^2) doubles; at D = 3092 the D x D
// matrices take 76 MB each. The graphical lasso at D in the thousands costs
// minutes per step: use the sparse variants on selected voxels (n_voxels).
#ifndef V2P_CORE_DECODING_SMR_H_
#define V2P_CORE_DECODING_SMR_H_

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "Eigen/Core"
#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace v2p::core {

struct SmrOptions {
  // Which precisions are learned; false fixes that one to I.
  bool learn_output = true;  // Omega^-1 (O)
  bool learn_input = true;   // Sigma_r^-1 (I)
  bool learn_task = true;    // Sigma_c^-1 (T)
  double lambda = 1e-3;      // ||W||^2 (the paper's value)
  double lambda1 = 1.0;      // matrix-normal prior weight (choose by CV)
  // l1 weights (relative: see rho above); 0 gives the closed-form
  // (non-sparse) updates.
  double lambda2 = 0;  // on Omega^-1
  double lambda3 = 0;  // on Sigma_r^-1 and Sigma_c^-1
  double precision_shrinkage = 0.1;
  int max_iterations = 15;
  // Stop when J falls by less than this fraction of |J| in one iteration.
  double tolerance = 1e-6;
  int cg_max_iterations = 300;
  double cg_tolerance = 1e-9;  // relative residual norm
  int glasso_max_iterations = 300;
  double glasso_tolerance = 1e-7;
  // Reuse work between steps (same result to rounding): the eigenbases of
  // P and Q from their closed-form steps in the W step, their eigenvalues
  // for log|P| and log|Q|, W'PW from the Q step in the objective, no
  // decomposition of the identity the fit starts from, and the W step's
  // N x N preconditioner blocks as one matrix product. false recomputes
  // each where it is used (the fit before this existed: for benchmarks and
  // tests).
  bool reuse_decompositions = true;
  // Called after each outer iteration with its objective.
  std::function<void(int iteration, double objective)> on_iteration;
  std::function<bool()> is_cancelled;

  // "SMR", "SMR-O", "SMR-I", "SMR-T", "SMR-IT", "SMR-OT", "SMR-IO" (the
  // letters name the precisions learned, O: Omega^-1, I: Sigma_r^-1, T:
  // Sigma_c^-1; the rest are fixed to I; "SMR" learns all three, as Du et
  // al. name them), optionally prefixed "sparse-" for lambda2 = lambda3 =
  // `sparse_l1`. INVALID_ARGUMENT otherwise.
  static absl::StatusOr<SmrOptions> Variant(const std::string& name, double sparse_l1 = 0.05);
  static std::vector<std::string> VariantNames();
};

// Alternating optimiser with each step exposed, so tests can check one
// block update against its closed form. X and H are z-scored inside
// (population SD; SD 0 columns are only centred) and predictions returned
// in H's units.
class SmrSolver {
 public:
  // x: N x D voxels, h: N x K targets, N >= 2. Starts from the ridge
  // solution (all precisions I).
  static absl::StatusOr<std::unique_ptr<SmrSolver>> Create(const Eigen::MatrixXd& x,
                                                           const Eigen::MatrixXd& h,
                                                           const SmrOptions& options);

  // Runs outer iterations until converged or max_iterations; returns the
  // objective after each (objectives()[0] is the start).
  absl::Status Fit();

  void StepW();
  void StepOutput();  // B = Omega^-1
  void StepInput();   // P = Sigma_r^-1
  void StepTask();    // Q = Sigma_c^-1
  double Objective() const;

  // x (N x D) -> predicted targets in H's units.
  Eigen::MatrixXd Predict(const Eigen::MatrixXd& x) const;
  // The fitted map in original units: prediction = x * weights + bias.
  Eigen::MatrixXd weights() const;
  Eigen::RowVectorXd bias() const;

  // Standardised, centred data and the current state (mutable for tests:
  // each mutable accessor drops what was cached about the state).
  const Eigen::MatrixXd& xs() const { return xs_; }
  const Eigen::MatrixXd& hs() const { return hs_; }
  Eigen::MatrixXd& w() {
    wpw_valid_ = rotated_w_valid_ = w_uq_valid_ = false;
    return w_;
  }
  Eigen::MatrixXd& output_precision() {
    FormOutputPrecision();
    b_eigen_.Forget();
    b_low_.valid = false;
    return b_prec_;
  }
  Eigen::MatrixXd& input_precision() {
    FormInputPrecision();
    p_eigen_.Forget();
    wpw_valid_ = rotated_w_valid_ = false;
    return p_;
  }
  Eigen::MatrixXd& task_precision() {
    q_eigen_.Forget();
    w_uq_valid_ = false;
    return q_;
  }
  const SmrOptions& options() const { return options_; }
  double rho_output() const { return rho_b_; }
  double g_output() const { return g_b_; }
  const std::vector<double>& objectives() const { return objectives_; }
  int last_cg_iterations() const { return last_cg_iterations_; }

 private:
  SmrSolver() = default;

  // What is known of a precision's eigendecomposition T = V diag(e) V':
  // nothing, that T is I, or V and e (from its closed-form step).
  struct Eigenbasis {
    enum class State { kUnknown, kIdentity, kKnown } state = State::kUnknown;
    Eigen::VectorXd values;
    Eigen::MatrixXd vectors;
    void Forget() { state = State::kUnknown; }
  };
  // T's eigenvalues and vectors: cached, or computed now.
  void Decompose(const Eigen::MatrixXd& t, const Eigenbasis& cache, Eigen::VectorXd* values,
                 Eigen::MatrixXd* vectors, bool* identity) const;
  // log|T|, from the cache when it holds T's eigenvalues.
  double LogDetOf(const Eigen::MatrixXd& t, const Eigenbasis& cache) const;
  // B in Q's eigenbasis Uq (uq null: B itself), however B is kept.
  Eigen::MatrixXd OutputPrecisionInTaskBasis(const Eigen::MatrixXd* uq) const;
  // Reusing decompositions, the dense P step keeps P as its eigenbasis
  // only (p_ empty): this forms p_ from it.
  void FormInputPrecision();
  // With fewer trials than units the dense B step keeps B as b_low_ only
  // (b_prec_ empty): this forms b_prec_ from it.
  void FormOutputPrecision();
  // h B (h: rows x K) for the current B, however it is kept.
  Eigen::MatrixXd TimesOutputPrecision(const Eigen::MatrixXd& h) const;

  SmrOptions options_;
  Eigenbasis b_eigen_, p_eigen_, q_eigen_;
  // B = base I + U diag(delta) U' (U: K x r, orthonormal columns): the
  // dense B step's closed form when N < K, where R'R has rank <= N.
  struct LowRankPrecision {
    bool valid = false;
    double base = 0;
    Eigen::MatrixXd u;
    Eigen::VectorXd delta;
  } b_low_;
  Eigen::MatrixXd wpw_;  // W'PW as the Q step computed it
  bool wpw_valid_ = false;
  // V'W for P's cached eigenvectors V, from the Q step, for the W step's
  // rotation while W and P are unchanged.
  Eigen::MatrixXd rotated_w_;
  bool rotated_w_valid_ = false;
  // W Uq for Q's cached eigenvectors Uq, from the W step, for the P step
  // while W and Q are unchanged.
  Eigen::MatrixXd w_uq_;
  bool w_uq_valid_ = false;
  Eigen::MatrixXd xs_, hs_;  // z-scored
  Eigen::RowVectorXd x_mean_, x_sd_, h_mean_, h_sd_;
  Eigen::MatrixXd w_;       // D x K in the z-scored frame
  Eigen::MatrixXd b_prec_;  // K x K
  Eigen::MatrixXd p_;       // D x D
  Eigen::MatrixXd q_;       // K x K
  double g_b_ = 0;
  double rho_b_ = 0, rho_p_ = 0, rho_q_ = 0;
  std::vector<double> objectives_;
  int last_cg_iterations_ = 0;
};

// Minimiser of n [tr(T S) - log|T|] + rho ||T||_1 over positive-definite T
// (rho = 0: S^-1), with trace > 0 on tr(T) = trace (then S may be
// singular). Without the constraint S must be positive definite. With
// rho > 0, ADMM is started from `start` when it is given and the result is
// kept only if it lowers the objective below `start`'s.
// When `values` and `vectors` are given they receive T's eigendecomposition
// if T came out of the closed form, and are emptied otherwise.
Eigen::MatrixXd PrecisionStep(const Eigen::MatrixXd& s, double n, double rho, int max_iterations,
                              double tolerance, const Eigen::MatrixXd* start = nullptr,
                              double trace = 0, Eigen::VectorXd* values = nullptr,
                              Eigen::MatrixXd* vectors = nullptr);
// n [tr(T S) - log|T|] + rho ||T||_1 (inf when T is not positive definite).
double PrecisionObjective(const Eigen::MatrixXd& t, const Eigen::MatrixXd& s, double n, double rho);

}  // namespace v2p::core

#endif  // V2P_CORE_DECODING_SMR_H_
