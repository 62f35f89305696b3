// Seeded standard-normal matrices for tests.
#ifndef V2P_TESTS_TESTING_RANDOM_MATRIX_H_
#define V2P_TESTS_TESTING_RANDOM_MATRIX_H_

#include <random>

#include "Eigen/Core"

namespace v2p::testing {

// r x c draws from N(0, 1), filled column by column from `rng`.
inline Eigen::MatrixXd Gaussian(Eigen::Index r, Eigen::Index c, std::mt19937_64& rng) {
  std::normal_distribution<double> n(0, 1);
  Eigen::MatrixXd m(r, c);
  for (Eigen::Index j = 0; j < c; ++j)
    for (Eigen::Index i = 0; i < r; ++i) m(i, j) = n(rng);
  return m;
}

}  // namespace v2p::testing

#endif  // V2P_TESTS_TESTING_RANDOM_MATRIX_H_
