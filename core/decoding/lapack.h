// The few BLAS and LAPACK routines the fits call directly, through the
// library the decoders link (OpenBLAS: its kernels are chosen for the CPU at
// run time). Double precision, column-major, lower triangles.
#ifndef V2P_CORE_DECODING_LAPACK_H_
#define V2P_CORE_DECODING_LAPACK_H_

#include "Eigen/Core"

namespace v2p::core {

// a' a (d x d for a: n x d), both triangles filled (dsyrk: half the work of
// a general product).
Eigen::MatrixXd GramOfColumns(const Eigen::MatrixXd& a);
// a a' (n x n), the same way.
Eigen::MatrixXd GramOfRows(const Eigen::MatrixXd& a);

// In place: the lower triangle of the symmetric positive-definite `a`
// becomes its Cholesky factor L (a = L L'; the upper triangle is left as it
// was). False when `a` is not positive definite (dpotrf).
bool CholeskyFactorLower(double* a, int n, int lda);
inline bool CholeskyFactorLower(Eigen::MatrixXd* a) {
  return CholeskyFactorLower(a->data(), static_cast<int>(a->rows()), static_cast<int>(a->rows()));
}
// In place: b (n x k, leading dimension ldb) becomes (L L')^-1 b for the
// factor CholeskyFactorLower() left in `l` (two triangular solves, dtrsm).
void CholeskySolveLower(const double* l, int n, int ldl, double* b, int k, int ldb);
inline void CholeskySolveLower(const Eigen::MatrixXd& l, Eigen::MatrixXd* b) {
  CholeskySolveLower(l.data(), static_cast<int>(l.rows()), static_cast<int>(l.rows()), b->data(),
                     static_cast<int>(b->cols()), static_cast<int>(b->rows()));
}

// Eigen-decomposition of a symmetric matrix (dsyevd; Eigen's solver if
// LAPACK reports an error): a = vectors * diag(values) * vectors', values
// ascending.
void SymmetricEigen(const Eigen::MatrixXd& a, Eigen::VectorXd* values, Eigen::MatrixXd* vectors);
// The same for S = a a' (a: m x k, k < m) without forming S, through the QR
// of a: S = Q1 (R R') Q1', so S's eigenvectors are Q1 Z for R R' =
// Z diag(s) Z', and the columns of Q2 (an orthonormal basis of the rest)
// with eigenvalue 0. O(m k^2 + m^2 k) instead of O(m^3). False when LAPACK
// fails (then decompose S).
bool LowRankSymmetricEigen(const Eigen::MatrixXd& a, Eigen::VectorXd* values,
                           Eigen::MatrixXd* vectors);

// Householder QR of a (m x k, m >= k): q receives the whole m x m
// orthogonal factor, r the k x k upper-triangular one, a = q[:, :k] r
// (dgeqrf, then dorgqr). False when LAPACK reports an error.
bool FullQr(const Eigen::MatrixXd& a, Eigen::MatrixXd* q, Eigen::MatrixXd* r);
// The same with q only m x k (the thin factor: a = q r).
bool ThinQr(const Eigen::MatrixXd& a, Eigen::MatrixXd* q, Eigen::MatrixXd* r);

}  // namespace v2p::core

#endif  // V2P_CORE_DECODING_LAPACK_H_
