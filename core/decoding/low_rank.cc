#include "core/decoding/low_rank.h"

#include <cmath>

#include "Eigen/Dense"

namespace v2p::core {

std::optional<LowRankFactors> FactorLowRank(const Eigen::MatrixXf& w,
                                            const LowRankOptions& options) {
  const Eigen::Index n = w.rows(), m = w.cols();
  if (n == 0 || m == 0 || static_cast<double>(n) * m > options.max_entries) return std::nullopt;
  const int max_rank = static_cast<int>(options.max_cost * static_cast<double>(n) * m / (n + m));
  if (max_rank < 1) return std::nullopt;

  const Eigen::MatrixXd wd = w.cast<double>();
  // residual(i): squared norm of column i's part not explained by the
  // columns chosen so far (G's remaining diagonal).
  Eigen::VectorXd residual = wd.colwise().squaredNorm().transpose();
  const double total = residual.sum();
  if (total == 0) return std::nullopt;  // all zero: nothing to gain
  // The entry-wise check below is the guarantee; this only decides where
  // to stop, a little tighter than it.
  const double stop = total * std::pow(0.1 * options.tolerance, 2);

  Eigen::MatrixXd l = Eigen::MatrixXd::Zero(m, max_rank + 1);
  std::vector<bool> chosen(m, false);
  std::vector<int> pivots;
  double left = total;
  while (left > stop) {
    if (static_cast<int>(pivots.size()) == max_rank + 1) return std::nullopt;  // not low rank
    Eigen::Index p = 0;
    double best = -1;
    for (Eigen::Index i = 0; i < m; ++i) {
      if (!chosen[i] && residual(i) > best) best = residual(i), p = i;
    }
    if (best <= 0) break;
    const int j = static_cast<int>(pivots.size());
    const Eigen::VectorXd g = wd.transpose() * wd.col(p);  // G(:, p)
    const double pivot = std::sqrt(best);
    Eigen::VectorXd col = g - l.leftCols(j) * l.row(p).head(j).transpose();
    col /= pivot;
    for (Eigen::Index i = 0; i < m; ++i) {
      if (chosen[i]) col(i) = 0;
    }
    col(p) = pivot;
    l.col(j) = col;
    chosen[p] = true;
    pivots.push_back(static_cast<int>(p));
    residual(p) = 0;
    left = 0;
    for (Eigen::Index i = 0; i < m; ++i) {
      if (chosen[i]) continue;
      residual(i) = std::max(0.0, residual(i) - col(i) * col(i));
      left += residual(i);
    }
  }
  const int k = static_cast<int>(pivots.size());
  if (k == 0 || k > max_rank) return std::nullopt;

  // B = L_S^-T L', L_S = L's pivot rows (lower triangular in pivot order).
  Eigen::MatrixXd ls(k, k);
  for (int i = 0; i < k; ++i) ls.row(i) = l.row(pivots[i]).head(k);
  const Eigen::MatrixXd b =
      ls.transpose().triangularView<Eigen::Upper>().solve(l.leftCols(k).transpose());

  LowRankFactors f;
  f.columns = pivots;
  f.a.resize(n, k);
  for (int i = 0; i < k; ++i) f.a.col(i) = w.col(pivots[i]);
  f.b = b.cast<float>();
  // As served: the float factors.
  const double worst = (f.a.cast<double>() * f.b.cast<double>() - wd).cwiseAbs().maxCoeff();
  if (!(worst <= options.tolerance * wd.cwiseAbs().maxCoeff())) return std::nullopt;
  return f;
}

}  // namespace v2p::core
