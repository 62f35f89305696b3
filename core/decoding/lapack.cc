#include "core/decoding/lapack.h"

#include <algorithm>
#include <vector>

#include "Eigen/Eigenvalues"

// dsyrk_ and dtrsm_ are declared by Eigen's BLAS header (EIGEN_USE_BLAS, set
// for every project target by v2p::options); the LAPACK routines are here.
#ifndef EIGEN_USE_BLAS
#error "core/decoding/lapack.cc needs EIGEN_USE_BLAS (cmake/v2p_options.cmake sets it)"
#endif
extern "C" {
void dpotrf_(const char* uplo, const int* n, double* a, const int* lda, int* info);
void dsyevd_(const char* jobz, const char* uplo, const int* n, double* a, const int* lda, double* w,
             double* work, const int* lwork, int* iwork, const int* liwork, int* info);
void dgeqrf_(const int* m, const int* n, double* a, const int* lda, double* tau, double* work,
             const int* lwork, int* info);
void dorgqr_(const int* m, const int* n, const int* k, double* a, const int* lda, const double* tau,
             double* work, const int* lwork, int* info);
}

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

namespace {

bool Qr(const Eigen::MatrixXd& a, bool full, Eigen::MatrixXd* q, Eigen::MatrixXd* r) {
  const int m = static_cast<int>(a.rows()), k = static_cast<int>(a.cols());
  if (k > m) return false;
  const int cols = full ? m : k;
  q->resize(m, cols);
  q->leftCols(k) = a;
  if (k == 0 || m == 0) {
    q->setIdentity();
    r->resize(0, 0);
    return true;
  }
  std::vector<double> tau(k);
  int info = 0, lwork = -1;
  double query = 0;
  dgeqrf_(&m, &k, q->data(), &m, tau.data(), &query, &lwork, &info);
  lwork = std::max(1, static_cast<int>(query));
  std::vector<double> work(lwork);
  dgeqrf_(&m, &k, q->data(), &m, tau.data(), work.data(), &lwork, &info);
  if (info != 0) return false;
  *r = q->topLeftCorner(k, k).triangularView<Eigen::Upper>();
  lwork = -1;
  dorgqr_(&m, &cols, &k, q->data(), &m, tau.data(), &query, &lwork, &info);
  lwork = std::max(1, static_cast<int>(query));
  work.resize(lwork);
  dorgqr_(&m, &cols, &k, q->data(), &m, tau.data(), work.data(), &lwork, &info);
  return info == 0;
}

}  // namespace

bool FullQr(const Eigen::MatrixXd& a, Eigen::MatrixXd* q, Eigen::MatrixXd* r) {
  return Qr(a, true, q, r);
}

bool ThinQr(const Eigen::MatrixXd& a, Eigen::MatrixXd* q, Eigen::MatrixXd* r) {
  return Qr(a, false, q, r);
}

void SymmetricEigen(const Eigen::MatrixXd& a, Eigen::VectorXd* values, Eigen::MatrixXd* vectors) {
  const int n = static_cast<int>(a.rows());
  *vectors = a;
  values->resize(n);
  if (n == 0) return;
  int info = 0, lwork = -1, liwork = -1, iwork_query = 0;
  double work_query = 0;
  dsyevd_("V", "L", &n, vectors->data(), &n, values->data(), &work_query, &lwork, &iwork_query,
          &liwork, &info);
  lwork = static_cast<int>(work_query);
  liwork = iwork_query;
  std::vector<double> work(std::max(1, lwork));
  std::vector<int> iwork(std::max(1, liwork));
  dsyevd_("V", "L", &n, vectors->data(), &n, values->data(), work.data(), &lwork, iwork.data(),
          &liwork, &info);
  if (info != 0) {  // fall back to Eigen's solver (not expected)
    Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> es(a);
    *values = es.eigenvalues();
    *vectors = es.eigenvectors();
  }
}

bool LowRankSymmetricEigen(const Eigen::MatrixXd& a, Eigen::VectorXd* values,
                           Eigen::MatrixXd* vectors) {
  const Eigen::Index m = a.rows(), k = a.cols();
  Eigen::MatrixXd q, r;
  if (!FullQr(a, &q, &r)) return false;
  Eigen::VectorXd small;
  Eigen::MatrixXd z;
  SymmetricEigen(r * r.transpose(), &small, &z);
  const Eigen::MatrixXd q1z = q.leftCols(k) * z;
  q.leftCols(k) = q1z;
  *vectors = std::move(q);
  values->setZero(m);
  values->head(k) = small.cwiseMax(0);
  return true;
}

}  // namespace v2p::core
