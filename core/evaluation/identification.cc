#include "core/evaluation/identification.h"

#include <cstdint>
#include <limits>

namespace v2p::core {

double PairwiseIdentification(const Eigen::MatrixXd& similarity) {
  return PairwiseIdentificationWithinClass(similarity, Eigen::VectorXi());
}

double PairwiseIdentificationWithinClass(const Eigen::MatrixXd& similarity,
                                         const Eigen::VectorXi& labels) {
  const Eigen::Index n = similarity.rows();
  const bool within = labels.size() > 0;
  if (n < 2 || similarity.cols() != n || (within && labels.size() != n))
    return std::numeric_limits<double>::quiet_NaN();
  double wins = 0;
  int64_t pairs = 0;
  for (Eigen::Index i = 0; i < n; ++i) {
    for (Eigen::Index j = 0; j < n; ++j) {
      if (j == i || (within && labels(i) != labels(j))) continue;
      ++pairs;
      if (similarity(i, i) > similarity(i, j)) {
        wins += 1;
      } else if (similarity(i, i) == similarity(i, j)) {
        wins += 0.5;
      }
    }
  }
  return pairs == 0 ? std::numeric_limits<double>::quiet_NaN() : wins / pairs;
}

Eigen::VectorXd IdentificationPerItem(const Eigen::MatrixXd& similarity) {
  const Eigen::Index n = similarity.rows();
  Eigen::VectorXd out = Eigen::VectorXd::Constant(n, std::numeric_limits<double>::quiet_NaN());
  if (n < 2 || similarity.cols() != n) return out;
  for (Eigen::Index i = 0; i < n; ++i) {
    double wins = 0;
    for (Eigen::Index j = 0; j < n; ++j) {
      if (j == i) continue;
      wins += similarity(i, i) > similarity(i, j)    ? 1.0
              : similarity(i, i) == similarity(i, j) ? 0.5
                                                     : 0.0;
    }
    out(i) = wins / static_cast<double>(n - 1);
  }
  return out;
}

}  // namespace v2p::core
