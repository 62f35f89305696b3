#include "core/evaluation/identification.h"

#include <limits>

namespace v2p::core {

double PairwiseIdentification(const Eigen::MatrixXd& similarity) {
  const Eigen::Index n = similarity.rows();
  if (n < 2 || similarity.cols() != n)
    return std::numeric_limits<double>::quiet_NaN();
  double wins = 0;
  for (Eigen::Index i = 0; i < n; ++i) {
    for (Eigen::Index j = 0; j < n; ++j) {
      if (j == i) continue;
      if (similarity(i, i) > similarity(i, j)) {
        wins += 1;
      } else if (similarity(i, i) == similarity(i, j)) {
        wins += 0.5;
      }
    }
  }
  return wins / static_cast<double>(n * (n - 1));
}

}  // namespace v2p::core
