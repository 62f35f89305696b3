#include "core/decoding/fastl2lir.h"

#include <algorithm>
#include <numeric>
#include <vector>

#include "Eigen/Cholesky"
#include "Eigen/LU"
#include "absl/strings/str_cat.h"
#include "core/base/status_macros.h"

namespace v2p::core {
namespace {

Eigen::MatrixXd WithBiasColumn(const Eigen::MatrixXd& x) {
  Eigen::MatrixXd xb(x.rows(), x.cols() + 1);
  xb.leftCols(x.cols()) = x;
  xb.col(x.cols()).setOnes();
  return xb;
}

// Pearson r between every column of x and every column of y (voxels x
// targets); voxels with variance below 1e-8 get r = 0, as FastL2LiR does.
Eigen::MatrixXd ColumnCorrelations(const Eigen::MatrixXd& x,
                                   const Eigen::MatrixXd& y) {
  const Eigen::MatrixXd xc = x.rowwise() - x.colwise().mean();
  const Eigen::MatrixXd yc = y.rowwise() - y.colwise().mean();
  const Eigen::RowVectorXd xn = xc.colwise().norm();
  const Eigen::RowVectorXd yn = yc.colwise().norm();
  Eigen::MatrixXd r = xc.transpose() * yc;
  const double n = static_cast<double>(x.rows());
  for (Eigen::Index v = 0; v < r.rows(); ++v) {
    const bool flat = xn(v) * xn(v) / n < 1e-8;
    for (Eigen::Index t = 0; t < r.cols(); ++t) {
      r(v, t) = (flat || yn(t) == 0) ? 0.0 : r(v, t) / (xn(v) * yn(t));
    }
  }
  return r;
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
  if (options.alpha < 0 || options.n_feat < 0 || options.chunk_size < 0) {
    return absl::InvalidArgumentError("alpha, n_feat and chunk_size must be >= 0");
  }
  if (!x.allFinite() || !y.allFinite()) {
    return absl::InvalidArgumentError("regression input contains NaN or Inf");
  }
  std::unique_ptr<FastL2LiRFitter> f(new FastL2LiRFitter());
  f->options_ = options;
  f->x_ = x;
  f->y_ = y;
  f->xb_ = WithBiasColumn(x);
  f->chunk_ = options.chunk_size > 0 ? options.chunk_size : static_cast<int>(y.cols());
  f->select_ = options.n_feat > 0 && options.n_feat < x.cols();
  const Eigen::Index n = f->xb_.rows(), d = f->xb_.cols();
  if (f->select_) {
    f->gram_ = f->xb_.transpose() * f->xb_;
  } else {
    // The LU keeps alpha = 0 usable when the system is still non-singular,
    // like numpy.linalg.solve.
    f->dual_ = n < d;
    f->lu_.compute(f->dual_ ? Eigen::MatrixXd(f->xb_ * f->xb_.transpose() +
                                              options.alpha * Eigen::MatrixXd::Identity(n, n))
                            : Eigen::MatrixXd(f->xb_.transpose() * f->xb_ +
                                              options.alpha * Eigen::MatrixXd::Identity(d, d)));
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

absl::StatusOr<Eigen::MatrixXd> FastL2LiRFitter::FitChunk(int chunk) const {
  const Eigen::Index start = chunk_begin(chunk), len = chunk_size(chunk);
  const Eigen::Index d = x_.cols();
  const Eigen::MatrixXd yc = y_.middleCols(start, len);
  Eigen::MatrixXd wb;
  if (!select_) {
    wb = dual_ ? Eigen::MatrixXd(xb_.transpose() * lu_.solve(yc))
               : Eigen::MatrixXd(lu_.solve(xb_.transpose() * yc));
  } else {
    wb = Eigen::MatrixXd::Zero(d + 1, len);
    const Eigen::MatrixXd r = ColumnCorrelations(x_, yc);
    const Eigen::MatrixXd xty = xb_.transpose() * yc;
    const int n_feat = options_.n_feat;
    std::vector<int> order(d);
    for (Eigen::Index t = 0; t < len; ++t) {
      std::iota(order.begin(), order.end(), 0);
      std::partial_sort(order.begin(), order.begin() + n_feat, order.end(), [&](int a, int b) {
        const double ra = std::abs(r(a, t)), rb = std::abs(r(b, t));
        return ra != rb ? ra > rb : a > b;
      });
      std::vector<int> idx(order.begin(), order.begin() + n_feat);
      idx.push_back(static_cast<int>(d));  // the bias column
      const Eigen::Index m = static_cast<Eigen::Index>(idx.size());
      Eigen::MatrixXd a(m, m);
      Eigen::VectorXd rhs(m);
      for (Eigen::Index i = 0; i < m; ++i) {
        rhs(i) = xty(idx[i], t);
        for (Eigen::Index j = 0; j < m; ++j) a(i, j) = gram_(idx[i], idx[j]);
      }
      a.diagonal().array() += options_.alpha;
      const Eigen::VectorXd w = a.partialPivLu().solve(rhs);
      for (Eigen::Index i = 0; i < m; ++i) wb(idx[i], t) = w(i);
    }
  }
  if (!wb.allFinite()) {
    return absl::FailedPreconditionError(
        "ridge system is singular (alpha = 0 with collinear voxels?); use alpha > 0");
  }
  return wb;
}

double FastL2LiRFitter::ChunkObjective(int chunk, const Eigen::MatrixXd& wb) const {
  const Eigen::MatrixXd residual = y_.middleCols(chunk_begin(chunk), chunk_size(chunk)) - xb_ * wb;
  return (residual.squaredNorm() + options_.alpha * wb.squaredNorm()) /
         static_cast<double>(x_.rows());
}

LinearFit FastL2LiRFitter::Assemble(const std::vector<Eigen::MatrixXd>& chunks) const {
  Eigen::MatrixXd wb(x_.cols() + 1, y_.cols());
  for (size_t c = 0; c < chunks.size(); ++c) {
    wb.middleCols(chunk_begin(static_cast<int>(c)), chunks[c].cols()) = chunks[c];
  }
  LinearFit fit;
  fit.weights = wb.topRows(x_.cols());
  fit.bias = wb.row(x_.cols());
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
