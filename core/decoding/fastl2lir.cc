#include "core/decoding/fastl2lir.h"

#include <algorithm>
#include <numeric>
#include <vector>

#include "Eigen/Cholesky"
#include "Eigen/LU"
#include "absl/strings/str_cat.h"

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

// [W; b] for all targets, no selection. The LU keeps alpha = 0 usable when
// the system is still non-singular, like numpy.linalg.solve.
Eigen::MatrixXd SolveAll(const Eigen::MatrixXd& xb, const Eigen::MatrixXd& y,
                         double alpha, int chunk) {
  const Eigen::Index n = xb.rows(), d = xb.cols(), k = y.cols();
  Eigen::MatrixXd wb(d, k);
  const bool dual = n < d;
  Eigen::PartialPivLU<Eigen::MatrixXd> lu;
  if (dual) {
    lu.compute(xb * xb.transpose() + alpha * Eigen::MatrixXd::Identity(n, n));
  } else {
    lu.compute(xb.transpose() * xb + alpha * Eigen::MatrixXd::Identity(d, d));
  }
  for (Eigen::Index start = 0; start < k; start += chunk) {
    const Eigen::Index len = std::min<Eigen::Index>(chunk, k - start);
    const auto yc = y.middleCols(start, len);
    wb.middleCols(start, len) =
        dual ? Eigen::MatrixXd(xb.transpose() * lu.solve(yc))
             : Eigen::MatrixXd(lu.solve(xb.transpose() * yc));
  }
  return wb;
}

Eigen::MatrixXd SolveSelected(const Eigen::MatrixXd& x,
                              const Eigen::MatrixXd& xb,
                              const Eigen::MatrixXd& y, double alpha,
                              int n_feat, int chunk) {
  const Eigen::Index d = x.cols(), k = y.cols();
  Eigen::MatrixXd wb = Eigen::MatrixXd::Zero(d + 1, k);
  const Eigen::MatrixXd gram = xb.transpose() * xb;
  std::vector<int> order(d);
  for (Eigen::Index start = 0; start < k; start += chunk) {
    const Eigen::Index len = std::min<Eigen::Index>(chunk, k - start);
    const Eigen::MatrixXd yc = y.middleCols(start, len);
    const Eigen::MatrixXd r = ColumnCorrelations(x, yc);
    const Eigen::MatrixXd xty = xb.transpose() * yc;
    for (Eigen::Index t = 0; t < len; ++t) {
      std::iota(order.begin(), order.end(), 0);
      std::partial_sort(order.begin(), order.begin() + n_feat, order.end(),
                        [&](int a, int b) {
                          const double ra = std::abs(r(a, t)),
                                       rb = std::abs(r(b, t));
                          return ra != rb ? ra > rb : a > b;
                        });
      std::vector<int> idx(order.begin(), order.begin() + n_feat);
      idx.push_back(static_cast<int>(d));  // the bias column
      const Eigen::Index m = static_cast<Eigen::Index>(idx.size());
      Eigen::MatrixXd a(m, m);
      Eigen::VectorXd rhs(m);
      for (Eigen::Index i = 0; i < m; ++i) {
        rhs(i) = xty(idx[i], t);
        for (Eigen::Index j = 0; j < m; ++j) a(i, j) = gram(idx[i], idx[j]);
      }
      a.diagonal().array() += alpha;
      const Eigen::VectorXd w = a.partialPivLu().solve(rhs);
      for (Eigen::Index i = 0; i < m; ++i) wb(idx[i], start + t) = w(i);
    }
  }
  return wb;
}

}  // namespace

absl::StatusOr<LinearFit> FitFastL2LiR(const Eigen::MatrixXd& x,
                                       const Eigen::MatrixXd& y,
                                       const FastL2LiROptions& options) {
  if (x.rows() == 0 || x.cols() == 0 || y.cols() == 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("empty regression input: X is ", x.rows(), "x", x.cols(),
                     ", Y is ", y.rows(), "x", y.cols()));
  }
  if (x.rows() != y.rows()) {
    return absl::InvalidArgumentError(
        absl::StrCat("X has ", x.rows(), " samples, Y has ", y.rows()));
  }
  if (options.alpha < 0 || options.n_feat < 0 || options.chunk_size < 0) {
    return absl::InvalidArgumentError(
        "alpha, n_feat and chunk_size must be >= 0");
  }
  if (!x.allFinite() || !y.allFinite()) {
    return absl::InvalidArgumentError("regression input contains NaN or Inf");
  }
  const Eigen::Index d = x.cols(), k = y.cols();
  const int chunk =
      options.chunk_size > 0 ? options.chunk_size : static_cast<int>(k);
  const bool select = options.n_feat > 0 && options.n_feat < d;
  const Eigen::MatrixXd xb = WithBiasColumn(x);
  const Eigen::MatrixXd wb =
      select ? SolveSelected(x, xb, y, options.alpha, options.n_feat, chunk)
             : SolveAll(xb, y, options.alpha, chunk);
  if (!wb.allFinite()) {
    return absl::FailedPreconditionError(
        "ridge system is singular (alpha = 0 with collinear voxels?); use "
        "alpha > 0");
  }
  LinearFit fit;
  fit.weights = wb.topRows(d);
  fit.bias = wb.row(d);
  return fit;
}

Eigen::MatrixXd PredictLinear(const Eigen::MatrixXd& x, const LinearFit& fit) {
  return (x * fit.weights).rowwise() + fit.bias;
}

}  // namespace v2p::core
