#include "core/decoding/lapack.h"

// dsyrk_ and dtrsm_ are declared by Eigen's BLAS header (EIGEN_USE_BLAS, set
// for the whole project); dpotrf_ is LAPACK's.
#ifndef EIGEN_USE_BLAS
#error "core/decoding/lapack.cc needs EIGEN_USE_BLAS (the top-level CMakeLists.txt sets it)"
#endif
extern "C" void dpotrf_(const char* uplo, const int* n, double* a, const int* lda, int* info);

namespace v2p::core {
namespace {

// c = op(a)' op(a) through dsyrk into the lower triangle, then mirrored.
Eigen::MatrixXd Syrk(const Eigen::MatrixXd& a, bool columns) {
  const int rows = static_cast<int>(a.rows()), cols = static_cast<int>(a.cols());
  const int n = columns ? cols : rows;
  const int k = columns ? rows : cols;
  Eigen::MatrixXd c(n, n);
  if (n == 0) return c;
  if (k == 0) return Eigen::MatrixXd::Zero(n, n);
  const double one = 1, zero = 0;
  const int lda = rows > 0 ? rows : 1;
  dsyrk_("L", columns ? "T" : "N", &n, &k, &one, a.data(), &lda, &zero, c.data(), &n);
  c.triangularView<Eigen::StrictlyUpper>() = c.transpose();
  return c;
}

}  // namespace

Eigen::MatrixXd GramOfColumns(const Eigen::MatrixXd& a) { return Syrk(a, true); }
Eigen::MatrixXd GramOfRows(const Eigen::MatrixXd& a) { return Syrk(a, false); }

bool CholeskyFactorLower(double* a, int n, int lda) {
  if (n == 0) return true;
  int info = 0;
  dpotrf_("L", &n, a, &lda, &info);
  return info == 0;
}

void CholeskySolveLower(const double* l, int n, int ldl, double* b, int k, int ldb) {
  if (n == 0 || k == 0) return;
  const double one = 1;
  dtrsm_("L", "L", "N", "N", &n, &k, &one, l, &ldl, b, &ldb);  // L y = b
  dtrsm_("L", "L", "T", "N", &n, &k, &one, l, &ldl, b, &ldb);  // L' x = y
}

}  // namespace v2p::core
