#include "core/decoding/fastl2lir.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <limits>
#include <numeric>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "core/base/status_macros.h"
#include "core/decoding/blas_threads.h"
#include "core/decoding/lapack.h"

namespace v2p::core {
namespace {

Eigen::MatrixXd WithBiasColumn(const Eigen::MatrixXd& x) {
  Eigen::MatrixXd xb(x.rows(), x.cols() + 1);
  xb.leftCols(x.cols()) = x;
  xb.col(x.cols()).setOnes();
  return xb;
}

// The lower triangle of gram[idx, idx] (m x m, column-major) into out: the
// gather of a selected system. Indices ascending, so each column of `gram`
// is read forwards. Built for the CPU it runs on (runtime dispatch).
__attribute__((target_clones("arch=x86-64-v3", "default"))) void GatherLower(const double* gram,
                                                                             Eigen::Index ld,
                                                                             const int* idx, int m,
                                                                             double* out) {
  for (int j = 0; j < m; ++j) {
    const double* column = gram + static_cast<Eigen::Index>(idx[j]) * ld;
    double* dst = out + static_cast<Eigen::Index>(j) * m;
    for (int i = j; i < m; ++i) dst[i] = column[idx[i]];
  }
}

// The voxels FastL2LiR selects for one target: the n_feat largest |r|
// (ties to the larger index, as a reversed stable argsort gives), then the
// bias column d, ascending.
void SelectVoxels(const double* r, int d, int n_feat, std::vector<int>* order,
                  std::vector<int>* idx) {
  order->resize(d);
  std::iota(order->begin(), order->end(), 0);
  std::nth_element(order->begin(), order->begin() + (n_feat - 1), order->end(), [r](int a, int b) {
    const double ra = std::abs(r[a]), rb = std::abs(r[b]);
    return ra != rb ? ra > rb : a > b;
  });
  idx->assign(order->begin(), order->begin() + n_feat);
  std::sort(idx->begin(), idx->end());
  idx->push_back(d);
}

// Whether a factorisation's pivots (|U_ii| of an LU, L_ii^2 of a Cholesky
// factor) say the system is singular to working precision: then its
// solution is rounding noise, not a fit.
bool NumericallySingular(const Eigen::VectorXd& pivots) {
  if (pivots.size() == 0) return false;
  return pivots.minCoeff() <= pivots.maxCoeff() * static_cast<double>(pivots.size()) *
                                  std::numeric_limits<double>::epsilon();
}

bool NumericallySingular(const Eigen::PartialPivLU<Eigen::MatrixXd>& lu) {
  return NumericallySingular(Eigen::VectorXd(lu.matrixLU().diagonal().cwiseAbs()));
}

// Cholesky in place; false when the system is not positive definite or is
// singular to working precision (the caller then solves by LU, which says
// which).
bool FactorSystem(double* a, int m) {
  if (!CholeskyFactorLower(a, m, m)) return false;
  const Eigen::Map<const Eigen::MatrixXd> l(a, m, m);
  return !NumericallySingular(Eigen::VectorXd(l.diagonal().cwiseAbs2()));
}

absl::Status SingularError() {
  return absl::FailedPreconditionError(
      "ridge system is singular (alpha = 0 with collinear voxels?); use alpha > 0");
}

int ThreadCount(int requested) {
  if (requested > 0) return requested;
  return std::max(1u, std::thread::hardware_concurrency());
}

}  // namespace

absl::StatusOr<std::unique_ptr<FastL2LiRFitter>> FastL2LiRFitter::Create(
    const Eigen::MatrixXd& x, const Eigen::MatrixXd& y, const FastL2LiROptions& options) {
  if (x.rows() == 0 || x.cols() == 0 || y.cols() == 0) {
    return absl::InvalidArgumentError(absl::StrCat("empty regression input: X is ", x.rows(), "x",
                                                   x.cols(), ", Y is ", y.rows(), "x", y.cols()));
  }
  if (x.rows() != y.rows()) {
    return absl::InvalidArgumentError(
        absl::StrCat("X has ", x.rows(), " samples, Y has ", y.rows()));
  }
  if (!(options.alpha >= 0) || options.n_feat < 0 || options.chunk_size < 0 ||
      options.threads < 0) {
    return absl::InvalidArgumentError("alpha, n_feat, chunk_size and threads must be >= 0");
  }
  if (!x.allFinite() || !y.allFinite()) {
    return absl::InvalidArgumentError("regression input contains NaN or Inf");
  }
  std::unique_ptr<FastL2LiRFitter> f(new FastL2LiRFitter());
  f->options_ = options;
  f->y_ = y;
  f->xb_ = WithBiasColumn(x);
  f->chunk_ = options.chunk_size > 0 ? options.chunk_size : static_cast<int>(y.cols());
  f->select_ = options.n_feat > 0 && options.n_feat < x.cols();
  const Eigen::Index n = f->xb_.rows(), d = f->xb_.cols();
  if (f->select_) {
    f->gram_ = GramOfColumns(f->xb_);
    f->gram_.diagonal().array() += options.alpha;
    // Correlations need the centred voxels; FastL2LiR gives voxels of
    // variance < 1e-8 r = 0 (norm 0 here).
    f->xc_ = x.rowwise() - x.colwise().mean();
    f->xc_norm_ = f->xc_.colwise().norm();
    for (Eigen::Index v = 0; v < x.cols(); ++v) {
      const double norm = f->xc_norm_(v);
      if (norm * norm / static_cast<double>(n) < 1e-8) f->xc_norm_(v) = 0;
    }
    return f;
  }
  f->dual_ = n < d;
  auto system = [&] {
    Eigen::MatrixXd a = f->dual_ ? GramOfRows(f->xb_) : GramOfColumns(f->xb_);
    a.diagonal().array() += options.alpha;
    return a;
  };
  f->factor_ = system();
  if (!FactorSystem(f->factor_.data(), static_cast<int>(f->factor_.rows()))) {
    // Not positive definite: LU still solves a non-singular system (alpha =
    // 0), like numpy.linalg.solve; a singular one fails in FitChunk.
    f->use_lu_ = true;
    f->lu_.compute(system());
    f->factor_.resize(0, 0);
  }
  return f;
}

int FastL2LiRFitter::num_chunks() const {
  return static_cast<int>((y_.cols() + chunk_ - 1) / chunk_);
}

Eigen::Index FastL2LiRFitter::chunk_begin(int chunk) const {
  return static_cast<Eigen::Index>(chunk) * chunk_;
}

Eigen::Index FastL2LiRFitter::chunk_size(int chunk) const {
  return std::min<Eigen::Index>(chunk_, y_.cols() - chunk_begin(chunk));
}

void FastL2LiRFitter::SolveSystem(Eigen::MatrixXd* rhs) const {
  if (use_lu_) {
    *rhs = lu_.solve(*rhs);
  } else {
    CholeskySolveLower(factor_, rhs);
  }
}

absl::StatusOr<Eigen::MatrixXd> FastL2LiRFitter::FitSelected(Eigen::Index start,
                                                             Eigen::Index len) const {
  const Eigen::Index d = xc_.cols();
  const Eigen::MatrixXd yc = y_.middleCols(start, len);
  const Eigen::MatrixXd ycc = yc.rowwise() - yc.colwise().mean();
  // Pearson r (voxels x targets) and X1'Y: two products on the BLAS.
  Eigen::MatrixXd r = xc_.transpose() * ycc;
  const Eigen::RowVectorXd yn = ycc.colwise().norm();
  for (Eigen::Index t = 0; t < len; ++t) {
    for (Eigen::Index v = 0; v < d; ++v) {
      const double denom = xc_norm_(v) * yn(t);
      r(v, t) = denom == 0 ? 0.0 : r(v, t) / denom;
    }
  }
  const Eigen::MatrixXd xty = xb_.transpose() * yc;
  Eigen::MatrixXd wb = Eigen::MatrixXd::Zero(d + 1, len);
  const int n_feat = options_.n_feat, m = n_feat + 1;
  const int threads = static_cast<int>(std::min<Eigen::Index>(ThreadCount(options_.threads), len));
  std::atomic<Eigen::Index> next{0};
  std::atomic<bool> singular{false};
  auto work = [&] {
    std::vector<int> order, idx;
    Eigen::MatrixXd a(m, m);
    Eigen::VectorXd rhs(m);
    for (Eigen::Index t = next++; t < len; t = next++) {
      SelectVoxels(r.col(t).data(), static_cast<int>(d), n_feat, &order, &idx);
      GatherLower(gram_.data(), gram_.rows(), idx.data(), m, a.data());
      for (int i = 0; i < m; ++i) rhs(i) = xty(idx[i], t);
      if (FactorSystem(a.data(), m)) {
        CholeskySolveLower(a.data(), m, m, rhs.data(), 1, m);
      } else {  // refill the system and solve by LU (see the header)
        for (int j = 0; j < m; ++j)
          for (int i = 0; i < m; ++i) a(i, j) = gram_(idx[i], idx[j]);
        const Eigen::PartialPivLU<Eigen::MatrixXd> lu(a);
        if (NumericallySingular(lu)) singular = true;
        rhs = lu.solve(Eigen::VectorXd(rhs));
      }
      if (!rhs.allFinite()) singular = true;
      for (int i = 0; i < m; ++i) wb(idx[i], t) = rhs(i);
    }
  };
  if (threads <= 1) {
    work();
  } else {
    // Each thread's solves are small: one BLAS thread each, or the BLAS's
    // own threads would contend with ours.
    ScopedBlasThreads single(1);
    std::vector<std::thread> pool;
    for (int i = 0; i < threads; ++i) pool.emplace_back(work);
    for (auto& th : pool) th.join();
  }
  if (singular) return SingularError();
  return wb;
}

absl::StatusOr<Eigen::MatrixXd> FastL2LiRFitter::FitChunk(int chunk) const {
  const Eigen::Index start = chunk_begin(chunk), len = chunk_size(chunk);
  if (select_) return FitSelected(start, len);
  if (use_lu_ && NumericallySingular(lu_)) return SingularError();
  Eigen::MatrixXd wb;
  if (dual_) {
    Eigen::MatrixXd m = y_.middleCols(start, len);
    SolveSystem(&m);
    wb = xb_.transpose() * m;
  } else {
    wb = xb_.transpose() * y_.middleCols(start, len);
    SolveSystem(&wb);
  }
  if (!wb.allFinite()) return SingularError();
  return wb;
}

double FastL2LiRFitter::ChunkObjective(int chunk, const Eigen::MatrixXd& wb) const {
  const Eigen::MatrixXd residual = y_.middleCols(chunk_begin(chunk), chunk_size(chunk)) - xb_ * wb;
  return (residual.squaredNorm() + options_.alpha * wb.squaredNorm()) /
         static_cast<double>(xb_.rows());
}

LinearFit FastL2LiRFitter::Assemble(const std::vector<Eigen::MatrixXd>& chunks) const {
  const Eigen::Index d = xb_.cols() - 1;
  LinearFit fit;
  fit.weights.resize(d, y_.cols());
  fit.bias.resize(y_.cols());
  for (size_t c = 0; c < chunks.size(); ++c) {
    const Eigen::Index start = chunk_begin(static_cast<int>(c)), len = chunks[c].cols();
    fit.weights.middleCols(start, len) = chunks[c].topRows(d);
    fit.bias.segment(start, len) = chunks[c].row(d);
  }
  return fit;
}

absl::StatusOr<LinearFit> FitFastL2LiR(const Eigen::MatrixXd& x, const Eigen::MatrixXd& y,
                                       const FastL2LiROptions& options) {
  ASSIGN_OR_RETURN(auto fitter, FastL2LiRFitter::Create(x, y, options));
  std::vector<Eigen::MatrixXd> chunks;
  for (int c = 0; c < fitter->num_chunks(); ++c) {
    ASSIGN_OR_RETURN(Eigen::MatrixXd wb, fitter->FitChunk(c));
    chunks.push_back(std::move(wb));
  }
  return fitter->Assemble(chunks);
}

Eigen::MatrixXd PredictLinear(const Eigen::MatrixXd& x, const LinearFit& fit) {
  return (x * fit.weights).rowwise() + fit.bias;
}

}  // namespace v2p::core
