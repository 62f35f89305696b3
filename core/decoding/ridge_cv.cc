#include "core/decoding/ridge_cv.h"

#include <cmath>

#include "absl/strings/str_cat.h"
#include "core/base/status_macros.h"

namespace v2p::core {
namespace {

// Rows [begin, end) of m, or every other row.
Eigen::MatrixXd Rows(const Eigen::MatrixXd& m, Eigen::Index begin, Eigen::Index end, bool inside) {
  if (inside) return m.middleRows(begin, end - begin);
  Eigen::MatrixXd out(m.rows() - (end - begin), m.cols());
  out.topRows(begin) = m.topRows(begin);
  out.bottomRows(m.rows() - end) = m.bottomRows(m.rows() - end);
  return out;
}

}  // namespace

std::vector<double> DefaultAlphaGrid() {
  std::vector<double> grid;
  for (int e = -1; e <= 6; ++e) grid.push_back(std::pow(10.0, e));
  return grid;
}

absl::StatusOr<RidgeCvResult> ChooseRidgeAlpha(const Eigen::MatrixXd& betas,
                                               const Eigen::MatrixXd& targets,
                                               const RidgeDecoder::Options& base,
                                               const RidgeCvOptions& options) {
  RidgeCvResult r;
  r.grid = options.grid.empty() ? DefaultAlphaGrid() : options.grid;
  r.folds = options.folds;
  const Eigen::Index n = betas.rows();
  if (r.folds < 2 || n < 2 * r.folds || targets.rows() != n)
    return absl::InvalidArgumentError(absl::StrCat(
        "choosing alpha by ", r.folds, "-fold cross-validation needs folds >= 2 and at least ",
        2 * std::max(r.folds, 2), " trials; there are ", n));
  for (double a : r.grid)
    if (!(std::isfinite(a) && a > 0))
      return absl::InvalidArgumentError(
          absl::StrCat("alpha grid value ", a, " is not a finite number > 0"));
  r.error.assign(r.grid.size(), 0.0);
  const int total = static_cast<int>(r.grid.size()) * r.folds;
  int done = 0;
  for (int k = 0; k < r.folds; ++k) {
    const Eigen::Index begin = n * k / r.folds, end = n * (k + 1) / r.folds;
    const Eigen::MatrixXd xtr = Rows(betas, begin, end, false);
    const Eigen::MatrixXd ytr = Rows(targets, begin, end, false);
    Eigen::MatrixXf xte = Rows(betas, begin, end, true).cast<float>();
    const Eigen::MatrixXd yte = Rows(targets, begin, end, true);
    for (size_t g = 0; g < r.grid.size(); ++g) {
      if (options.is_cancelled && options.is_cancelled())
        return absl::CancelledError("choosing alpha cancelled");
      RidgeDecoder::Options o = base;
      o.regression.alpha = r.grid[g];
      ASSIGN_OR_RETURN(auto d, RidgeDecoder::Fit(xtr, ytr, o));
      Eigen::MatrixXf z = xte;
      d->Standardize(&z);
      r.error[g] += (d->Decode(z).cast<double>() - yte).squaredNorm();
      if (options.on_fit) options.on_fit(++done, total);
    }
  }
  size_t best = 0;
  for (size_t g = 0; g < r.grid.size(); ++g) {
    r.error[g] /= static_cast<double>(n * targets.cols());
    if (r.error[g] < r.error[best] || (r.error[g] == r.error[best] && r.grid[g] > r.grid[best]))
      best = g;
  }
  r.alpha = r.grid[best];
  return r;
}

}  // namespace v2p::core
