#include "core/decoding/smr.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "Eigen/Cholesky"
#include "Eigen/Dense"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "core/decoding/lapack.h"

namespace v2p::core {
namespace {

using Eigen::MatrixXd;
using Eigen::RowVectorXd;
using Eigen::VectorXd;

// log|A| of a symmetric positive-definite matrix; -inf when it is not.
double LogDet(const MatrixXd& a) {
  Eigen::LLT<MatrixXd> llt(a);
  if (llt.info() != Eigen::Success) return -std::numeric_limits<double>::infinity();
  return 2 * llt.matrixLLT().diagonal().array().log().sum();
}

// Soft-thresholds every entry, the diagonal included: the paper's
// ||.||_1 is the sum over all entries.
MatrixXd SoftThreshold(const MatrixXd& a, double kappa) {
  return a.unaryExpr(
      [kappa](double v) { return v > kappa ? v - kappa : (v < -kappa ? v + kappa : 0.0); });
}

// Sum of |entries|, the diagonal included.
double L1Norm(const MatrixXd& a) { return a.cwiseAbs().sum(); }

void ZScore(const MatrixXd& a, MatrixXd* out, RowVectorXd* mean, RowVectorXd* sd) {
  *mean = a.colwise().mean();
  *out = a.rowwise() - *mean;
  *sd = (out->array().square().colwise().mean()).sqrt().matrix();
  for (Eigen::Index j = 0; j < sd->size(); ++j)
    if ((*sd)(j) < 1e-12) (*sd)(j) = 1;
  *out = out->array().rowwise() / sd->array();
}

// The N x N preconditioner blocks xt diag(inv_pg_j) xt' for every column j
// (column j of the result is block j, its lower triangle packed). Block j =
// sum_i inv_pg(i, j) xt_i xt_i' over the columns xt_i of xt: with E holding
// each xt_i xt_i' (packed) as a column, every block at once is E inv_pg,
// one product on the BLAS instead of K products of N x D by D x N.
MatrixXd PackedBlocks(const MatrixXd& xt, const MatrixXd& inv_pg) {
  const Eigen::Index n = xt.rows(), d = xt.cols();
  const MatrixXd rows = xt.transpose();  // D x N: xt's rows as columns
  MatrixXd outer(d, n * (n + 1) / 2);
  Eigen::Index at = 0;
  for (Eigen::Index b = 0; b < n; ++b)
    for (Eigen::Index a = b; a < n; ++a) outer.col(at++) = rows.col(a).cwiseProduct(rows.col(b));
  return outer.transpose() * inv_pg;
}

// The W step's preconditioner, in the rotated frame (xt = X Up, bt = B in
// Q's eigenbasis or empty for I, g the prior's per-entry diagonal). Without
// B the columns decouple exactly: column j is (X~'X~ + diag(g_j))^-1, an
// N x N Woodbury solve. With B, in the basis V that diagonalises B and Q
// together (V' B~ V = Lambda, V' diag(dq) V = I; a generalised
// eigenproblem), the operator is Lambda (x) X~'X~ + lambda1 I (x) diag(dp)
// + lambda V'V (x) I: exact column solves again once V'V is replaced by its
// diagonal, i.e. exact but for the tiny lambda term. Jacobi when N is large.
class WPreconditioner {
 public:
  WPreconditioner(const MatrixXd& xt, const MatrixXd& bt, const MatrixXd& g, const VectorXd& dp,
                  const VectorXd& dq, double lambda, double lambda1, bool packed_blocks)
      : xt_(xt), woodbury_(xt.rows() <= 256), generalized_(woodbury_ && bt.size() > 0) {
    const Eigen::Index k = g.cols();
    MatrixXd pg = g;  // per-column diagonal terms
    VectorXd pb = bt.size() > 0 ? VectorXd(bt.diagonal()) : VectorXd::Ones(k);
    if (generalized_) {
      const VectorXd isq = dq.cwiseSqrt().cwiseInverse();
      MatrixXd m = isq.asDiagonal() * bt * isq.asDiagonal();
      m = 0.5 * (m + m.transpose()).eval();
      MatrixXd um;
      SymmetricEigen(m, &pb, &um);
      basis_ = isq.asDiagonal() * um;
      const VectorXd vv = basis_.colwise().squaredNorm().transpose();
      for (Eigen::Index j = 0; j < k; ++j)
        pg.col(j) = (lambda * vv(j) + lambda1 * dp.array()).matrix();
    }
    if (woodbury_) {
      inv_pg_ = pg.cwiseInverse();
      Factor(pb, packed_blocks);
    } else {
      const VectorXd xdiag = xt.colwise().squaredNorm().transpose();
      jacobi_ = (g + xdiag * pb.transpose()).cwiseInverse();
    }
  }

  MatrixXd Apply(const MatrixXd& r) const {
    if (!woodbury_) return jacobi_.cwiseProduct(r);
    const MatrixXd rv = generalized_ ? MatrixXd(r * basis_) : r;
    const MatrixXd t = inv_pg_.cwiseProduct(rv);
    MatrixXd sm = xt_ * t;  // N x K
    for (Eigen::Index j = 0; j < sm.cols(); ++j) sm.col(j) = factors_[j].solve(sm.col(j));
    const MatrixXd z = t - inv_pg_.cwiseProduct(xt_.transpose() * sm);
    return generalized_ ? MatrixXd(z * basis_.transpose()) : z;
  }

 private:
  // Column j's N x N block xt diag(inv_pg_j) xt' + I / pb_j, factored.
  void Factor(const VectorXd& pb, bool packed_blocks) {
    const Eigen::Index n = xt_.rows(), k = inv_pg_.cols();
    factors_.reserve(k);
    const MatrixXd packed = packed_blocks ? PackedBlocks(xt_, inv_pg_) : MatrixXd();
    MatrixXd m(n, n);
    for (Eigen::Index j = 0; j < k; ++j) {
      if (packed.size() > 0) {  // the lower triangle is all LLT reads
        Eigen::Index at = 0;
        for (Eigen::Index b = 0; b < n; ++b)
          for (Eigen::Index a = b; a < n; ++a) m(a, b) = packed(at++, j);
      } else {
        m = (xt_.array().rowwise() * inv_pg_.col(j).transpose().array()).matrix() * xt_.transpose();
      }
      m.diagonal().array() += 1.0 / std::max(pb(j), 1e-300);
      factors_.emplace_back(m);
    }
  }

  const MatrixXd& xt_;
  const bool woodbury_, generalized_;
  MatrixXd basis_;  // V (K x K) when generalized_
  MatrixXd inv_pg_, jacobi_;
  std::vector<Eigen::LLT<MatrixXd>> factors_;
};

// Preconditioned conjugate gradients on apply(v) = c from v (a warm start,
// so the objective cannot rise); returns the iterations run.
template <typename Apply>
int ConjugateGradients(const Apply& apply, const WPreconditioner& preconditioner, const MatrixXd& c,
                       double tolerance, int max_iterations, MatrixXd* v) {
  MatrixXd res = c - apply(*v);
  const double stop = tolerance * std::max(c.norm(), 1e-300);
  if (res.norm() <= stop) return 0;
  MatrixXd z = preconditioner.Apply(res);
  MatrixXd p = z;
  double rz = res.cwiseProduct(z).sum();
  int it = 0;
  for (; it < max_iterations; ++it) {
    const MatrixXd ap = apply(p);
    const double pap = p.cwiseProduct(ap).sum();
    if (pap <= 0) break;
    const double alpha = rz / pap;
    *v += alpha * p;
    res -= alpha * ap;
    if (res.norm() <= stop) return it + 1;
    z = preconditioner.Apply(res);
    const double rz_new = res.cwiseProduct(z).sum();
    p = z + (rz_new / rz) * p;
    rz = rz_new;
  }
  return it;
}

}  // namespace

double PrecisionObjective(const MatrixXd& t, const MatrixXd& s, double n, double rho) {
  const double logdet = LogDet(t);
  if (!std::isfinite(logdet)) return std::numeric_limits<double>::infinity();
  return n * ((t.cwiseProduct(s)).sum() - logdet) + rho * L1Norm(t);
}

double TraceShift(const VectorXd& values, double trace) {
  // f(nu) = sum 1/(s_i + nu) - trace is convex and decreasing on
  // nu > -min s; Newton from a point left of the root stays left of it and
  // converges monotonically.
  const double s_min = values.minCoeff();
  double nu = -s_min + 0.5 / trace;
  for (int it = 0; it < 200; ++it) {
    const VectorXd inv = (values.array() + nu).inverse().matrix();
    const double f = inv.sum() - trace;
    if (f <= 1e-13 * trace) break;
    nu += f / inv.squaredNorm();
  }
  return nu;
}

MatrixXd PrecisionStep(const MatrixXd& s, double n, double rho, int max_iterations,
                       double tolerance, const MatrixXd* start, double trace, VectorXd* out_values,
                       MatrixXd* out_vectors) {
  VectorXd values;
  MatrixXd vectors;
  // Hands T = vectors diag(precision) vectors' to the caller that asked.
  auto keep = [&](VectorXd precision) {
    if (out_values == nullptr || out_vectors == nullptr) return;
    *out_values = std::move(precision);
    *out_vectors = std::move(vectors);
  };
  if (out_values != nullptr && out_vectors != nullptr) {
    out_values->resize(0);
    out_vectors->resize(0, 0);
  }
  if (trace > 0) {
    // Minimiser on tr(T) = trace: T = (S + nu I)^-1 (the Lagrange condition)
    // with nu set by the constraint; with rho > 0, the graphical lasso on
    // S + nu I rescaled onto the constraint, kept only if it is better.
    SymmetricEigen(s, &values, &vectors);
    const double nu = TraceShift(values, trace);
    VectorXd precision = (values.array() + nu).inverse().matrix();
    MatrixXd closed = vectors * precision.asDiagonal() * vectors.transpose();
    if (rho <= 0) {
      keep(std::move(precision));
      return closed;
    }
    MatrixXd shifted = s;
    shifted.diagonal().array() += nu;
    MatrixXd sparse = PrecisionStep(shifted, n, rho, max_iterations, tolerance, start, 0);
    sparse *= trace / sparse.trace();
    const MatrixXd* best = &sparse;
    if (start != nullptr && start->rows() == s.rows() &&
        PrecisionObjective(*start, s, n, rho) < PrecisionObjective(*best, s, n, rho))
      best = start;
    return *best;
  }
  if (rho <= 0) {
    SymmetricEigen(s, &values, &vectors);
    MatrixXd closed = vectors * values.cwiseInverse().asDiagonal() * vectors.transpose();
    keep(values.cwiseInverse());
    return closed;
  }
  // Graphical lasso by ADMM (Boyd et al. 2011, section 6.5) on
  // tr(TS) - log|T| + (rho/n) ||T||_1.
  const double scale = s.diagonal().mean();
  const double mu = scale * scale;
  const double kappa = rho / n / mu;
  const Eigen::Index k = s.rows();
  MatrixXd z = start != nullptr && start->rows() == k
                   ? *start
                   : MatrixXd(s.diagonal().cwiseInverse().asDiagonal());
  MatrixXd u = MatrixXd::Zero(k, k), t(k, k);
  for (int it = 0; it < max_iterations; ++it) {
    SymmetricEigen(mu * (z - u) - s, &values, &vectors);
    const VectorXd theta = (values.array() + (values.array().square() + 4 * mu).sqrt()) / (2 * mu);
    t = vectors * theta.asDiagonal() * vectors.transpose();
    const MatrixXd z_old = z;
    z = SoftThreshold(t + u, kappa);
    u += t - z;
    const double primal = (t - z).norm();
    const double dual = mu * (z - z_old).norm();
    const double size = std::max(t.norm(), z.norm());
    if (primal <= tolerance * size && dual <= tolerance * mu * size) break;
  }
  MatrixXd result = z;
  if (!std::isfinite(PrecisionObjective(z, s, n, rho))) result = t;
  if (start != nullptr && start->rows() == k &&
      PrecisionObjective(*start, s, n, rho) < PrecisionObjective(result, s, n, rho))
    return *start;
  return result;
}

absl::StatusOr<SmrOptions> SmrOptions::Variant(const std::string& name, double sparse_l1) {
  const bool sparse = absl::StartsWith(name, "sparse-");
  const std::string base = sparse ? name.substr(7) : name;
  const std::vector<std::string> names = VariantNames();
  if (std::find(names.begin(), names.end(), base) == names.end())
    return absl::InvalidArgumentError(absl::StrCat("unknown SMR variant '", name,
                                                   "'; variants: ", absl::StrJoin(names, ", "),
                                                   " (optionally prefixed sparse-)"));
  // As Du et al. name them, the letters after "SMR-" name the precisions
  // that are learned ("SMR-O: only output structure, fixing Sr^-1 = Sc^-1 =
  // I"); the others are fixed to I. Plain "SMR" learns all three.
  SmrOptions o;
  if (base.size() > 4) {
    const std::string learned = base.substr(4);
    o.learn_output = learned.find('O') != std::string::npos;
    o.learn_input = learned.find('I') != std::string::npos;
    o.learn_task = learned.find('T') != std::string::npos;
  }
  if (sparse) o.lambda2 = o.lambda3 = sparse_l1;
  return o;
}

std::vector<std::string> SmrOptions::VariantNames() {
  return {"SMR", "SMR-O", "SMR-I", "SMR-T", "SMR-IT", "SMR-OT", "SMR-IO"};
}

absl::StatusOr<std::unique_ptr<SmrSolver>> SmrSolver::Create(const MatrixXd& x, const MatrixXd& h,
                                                             const SmrOptions& options) {
  if (x.rows() < 2 || x.rows() != h.rows() || x.cols() == 0 || h.cols() == 0)
    return absl::InvalidArgumentError(absl::StrCat("SMR needs N >= 2 matching rows; got x ",
                                                   x.rows(), " x ", x.cols(), ", h ", h.rows(),
                                                   " x ", h.cols()));
  if (!x.allFinite() || !h.allFinite())
    return absl::InvalidArgumentError("SMR inputs contain NaN or Inf");
  if (options.lambda < 0 || options.lambda1 <= 0 || options.lambda2 < 0 || options.lambda3 < 0 ||
      options.precision_shrinkage <= 0)
    return absl::InvalidArgumentError(
        "SMR needs lambda >= 0, lambda1 > 0, lambda2, lambda3 >= 0 and "
        "precision_shrinkage > 0");
  std::unique_ptr<SmrSolver> s(new SmrSolver());
  s->options_ = options;
  ZScore(x, &s->xs_, &s->x_mean_, &s->x_sd_);
  ZScore(h, &s->hs_, &s->h_mean_, &s->h_sd_);
  const Eigen::Index n = x.rows(), d = x.cols(), k = h.cols();
  // Ridge start: (X'X + a I) W = X'H with a = lambda + lambda1, through the
  // N x N dual.
  const double a = options.lambda + options.lambda1;
  MatrixXd gram = s->xs_ * s->xs_.transpose();
  gram.diagonal().array() += a;
  s->w_ = s->xs_.transpose() * gram.llt().solve(s->hs_);
  const MatrixXd r = s->hs_ - s->xs_ * s->w_;
  const double sh = options.precision_shrinkage;
  const double w2 = s->w_.squaredNorm();
  s->g_b_ = sh * r.squaredNorm() / k;
  if (s->g_b_ <= 0) s->g_b_ = sh * n;  // a perfect fit; any positive g
  // l1 weights in units of the start's mean variance, so that lambda2 and
  // lambda3 are scale-free (like a graphical-lasso penalty on correlations).
  s->rho_b_ = options.lambda2 * (r.squaredNorm() / k + s->g_b_);
  s->rho_p_ = options.lambda3 * std::max(options.lambda1 * w2 / d, 1e-12);
  s->rho_q_ = options.lambda3 * std::max(options.lambda1 * w2 / k, 1e-12);
  if (options.learn_output) s->b_prec_ = MatrixXd::Identity(k, k);
  if (options.learn_input) s->p_ = MatrixXd::Identity(d, d);
  if (options.learn_task) s->q_ = MatrixXd::Identity(k, k);
  s->b_eigen_.state = s->p_eigen_.state = s->q_eigen_.state = Eigenbasis::State::kIdentity;
  return s;
}

void SmrSolver::Decompose(const MatrixXd& t, const Eigenbasis& cache, VectorXd* values,
                          MatrixXd* vectors, bool* identity) const {
  *identity = false;
  if (options_.reuse_decompositions && cache.state == Eigenbasis::State::kIdentity) {
    *identity = true;
    *values = VectorXd::Ones(t.rows());
    vectors->resize(0, 0);
    return;
  }
  if (options_.reuse_decompositions && cache.state == Eigenbasis::State::kKnown) {
    *values = cache.values;
    *vectors = cache.vectors;
    return;
  }
  SymmetricEigen(t, values, vectors);
}

void SmrSolver::FormOutputPrecision() {
  if (b_prec_.size() > 0 || !b_low_.valid) return;
  b_prec_ = b_low_.u * b_low_.delta.asDiagonal() * b_low_.u.transpose();
  b_prec_.diagonal().array() += b_low_.base;
}

MatrixXd SmrSolver::TimesOutputPrecision(const MatrixXd& h) const {
  if (!b_low_.valid) return h * b_prec_;
  return b_low_.base * h + ((h * b_low_.u) * b_low_.delta.asDiagonal()) * b_low_.u.transpose();
}

void SmrSolver::FormInputPrecision() {
  if (p_.size() > 0 || p_eigen_.state != Eigenbasis::State::kKnown) return;
  p_ = p_eigen_.vectors * p_eigen_.values.asDiagonal() * p_eigen_.vectors.transpose();
}

double SmrSolver::LogDetOf(const MatrixXd& t, const Eigenbasis& cache) const {
  if (options_.reuse_decompositions && cache.state == Eigenbasis::State::kIdentity) return 0;
  if (options_.reuse_decompositions && cache.state == Eigenbasis::State::kKnown) {
    if ((cache.values.array() <= 0).any()) return -std::numeric_limits<double>::infinity();
    return cache.values.array().log().sum();
  }
  return LogDet(t);
}

double SmrSolver::Objective() const {
  const double n = static_cast<double>(xs_.rows());
  const double d = static_cast<double>(xs_.cols());
  const double k = static_cast<double>(hs_.cols());
  const MatrixXd r = hs_ - xs_ * w_;
  double j = 0;
  if (options_.learn_output) {
    if (b_low_.valid) {
      const MatrixXd ru = r * b_low_.u;
      const double logdet = (b_low_.delta.array() + b_low_.base).log().sum() +
                            static_cast<double>(k - b_low_.delta.size()) * std::log(b_low_.base);
      j += b_low_.base * r.squaredNorm() +
           (ru.colwise().squaredNorm().transpose().array() * b_low_.delta.array()).sum() -
           n * logdet + g_b_ * (k * b_low_.base + b_low_.delta.sum());
    } else {
      j += (r * b_prec_).cwiseProduct(r).sum() - n * LogDetOf(b_prec_, b_eigen_) +
           g_b_ * b_prec_.trace() + rho_b_ * L1Norm(b_prec_);
    }
  } else {
    j += r.squaredNorm();
  }
  j += options_.lambda * w_.squaredNorm();
  if (options_.reuse_decompositions && wpw_valid_ && options_.learn_input && options_.learn_task) {
    // tr(P W Q W') = sum(Q o W'PW), W'PW kept by the Q step.
    j += options_.lambda1 * q_.cwiseProduct(wpw_).sum();
  } else {
    const MatrixXd wq = options_.learn_task ? MatrixXd(w_ * q_) : w_;
    if (options_.learn_input && p_.size() == 0) {  // P kept as its eigenbasis
      const MatrixXd vw = p_eigen_.vectors.transpose() * w_;
      const MatrixXd vwq = p_eigen_.vectors.transpose() * wq;
      j += options_.lambda1 * (p_eigen_.values.asDiagonal() * vw).cwiseProduct(vwq).sum();
    } else {
      const MatrixXd pwq = options_.learn_input ? MatrixXd(p_ * wq) : wq;
      j += options_.lambda1 * pwq.cwiseProduct(w_).sum();
    }
  }
  if (options_.learn_input) {
    j += -k * LogDetOf(p_, p_eigen_);
    if (rho_p_ > 0) j += rho_p_ * L1Norm(p_);
  }
  if (options_.learn_task) {
    j += -d * LogDetOf(q_, q_eigen_);
    if (rho_q_ > 0) j += rho_q_ * L1Norm(q_);
  }
  return j;
}

MatrixXd SmrSolver::OutputPrecisionInTaskBasis(const MatrixXd* uq) const {
  if (b_low_.valid) {
    // base I + (Uq'U) diag(delta) (Uq'U)': products with r <= N columns.
    const MatrixXd l = uq != nullptr ? MatrixXd(uq->transpose() * b_low_.u) : b_low_.u;
    MatrixXd bt = l * b_low_.delta.asDiagonal() * l.transpose();
    bt.diagonal().array() += b_low_.base;
    return bt;
  }
  if (uq != nullptr && options_.reuse_decompositions &&
      b_eigen_.state == Eigenbasis::State::kKnown) {
    // Uq' B Uq = G'G with G = diag(sqrt(b)) Vb' Uq: one product and a
    // rank-K update instead of two products.
    return GramOfColumns(b_eigen_.values.cwiseMax(0).cwiseSqrt().asDiagonal() *
                         (b_eigen_.vectors.transpose() * *uq));
  }
  return uq != nullptr ? MatrixXd(uq->transpose() * b_prec_ * *uq) : b_prec_;
}

void SmrSolver::StepW() {
  const Eigen::Index d = xs_.cols(), k = hs_.cols();
  VectorXd dp = VectorXd::Ones(d), dq = VectorXd::Ones(k);
  MatrixXd up, uq;
  bool p_identity = true, q_identity = true;
  if (options_.learn_input) Decompose(p_, p_eigen_, &dp, &up, &p_identity);
  if (options_.learn_task) Decompose(q_, q_eigen_, &dq, &uq, &q_identity);
  const bool rot_p = options_.learn_input && !p_identity;
  const bool rot_q = options_.learn_task && !q_identity;
  // Rotated data and right-hand side: C~ = Up' X' H B Uq.
  const MatrixXd xt = rot_p ? MatrixXd(xs_ * up) : xs_;
  MatrixXd hb = options_.learn_output ? TimesOutputPrecision(hs_) : hs_;
  if (rot_q) hb = hb * uq;
  const MatrixXd c = xt.transpose() * hb;
  // B in Q's eigenbasis (empty: identity)
  const MatrixXd bt =
      options_.learn_output ? OutputPrecisionInTaskBasis(rot_q ? &uq : nullptr) : MatrixXd();
  MatrixXd v = w_;
  if (rot_p) v = rotated_w_valid_ ? rotated_w_ : MatrixXd(up.transpose() * v);
  if (rot_q) v = v * uq;
  const MatrixXd g = (options_.lambda + options_.lambda1 * (dp * dq.transpose()).array()).matrix();
  auto apply = [&](const MatrixXd& m) -> MatrixXd {
    MatrixXd xm = xt * m;  // N x K
    if (bt.size() > 0) xm = xm * bt;
    return xt.transpose() * xm + g.cwiseProduct(m);
  };
  const WPreconditioner preconditioner(xt, bt, g, dp, dq, options_.lambda, options_.lambda1,
                                       options_.reuse_decompositions);
  last_cg_iterations_ = ConjugateGradients(apply, preconditioner, c, options_.cg_tolerance,
                                           options_.cg_max_iterations, &v);
  if (rot_p) v = up * v;
  wpw_valid_ = rotated_w_valid_ = w_uq_valid_ = false;
  if (rot_q && options_.reuse_decompositions && q_eigen_.state == Eigenbasis::State::kKnown) {
    w_uq_ = v;  // W Uq: the P step's product, already here
    w_uq_valid_ = true;
  }
  if (rot_q) v = v * uq.transpose();
  w_ = std::move(v);
}

void SmrSolver::StepOutput() {
  if (!options_.learn_output) return;
  const MatrixXd r = hs_ - xs_ * w_;
  const double n = static_cast<double>(xs_.rows());
  if (options_.reuse_decompositions && rho_b_ <= 0 && r.rows() < r.cols()) {
    // S = (R'R + g I) / N with R'R = U diag(sigma) U' of rank <= N: from
    // R' = Q T, U = Q Z for T T' = Z diag(sigma) Z'. B = S^-1 is N / g on
    // the rest of the space and N / (sigma + g) on U's columns.
    MatrixXd q, t;
    if (ThinQr(r.transpose(), &q, &t)) {
      VectorXd sigma;
      MatrixXd z;
      SymmetricEigen(t * t.transpose(), &sigma, &z);
      b_low_.base = n / g_b_;
      b_low_.u = q * z;
      b_low_.delta = (n / (sigma.cwiseMax(0).array() + g_b_) - b_low_.base).matrix();
      b_low_.valid = true;
      b_eigen_.Forget();
      b_prec_.resize(0, 0);
      return;
    }
  }
  FormOutputPrecision();  // the graphical lasso starts from it
  b_low_.valid = false;
  MatrixXd s = r.transpose() * r;
  s.diagonal().array() += g_b_;
  s /= n;
  b_prec_ = PrecisionStep(s, n, rho_b_, options_.glasso_max_iterations, options_.glasso_tolerance,
                          &b_prec_, 0, &b_eigen_.values, &b_eigen_.vectors);
  b_eigen_.state =
      b_eigen_.values.size() > 0 ? Eigenbasis::State::kKnown : Eigenbasis::State::kUnknown;
}

void SmrSolver::StepInput() {
  if (!options_.learn_input) return;
  const double k = static_cast<double>(hs_.cols());
  wpw_valid_ = rotated_w_valid_ = false;  // P changes; W and Q do not
  // S = lambda1 W Q W' / K. Reusing Q's eigenbasis it is A A' with
  // A = sqrt(lambda1 / K) W Uq diag(sqrt(dq)): one product, and S itself
  // only when it is needed (a rank-K update, dsyrk).
  const bool factored = options_.reuse_decompositions &&
                        (!options_.learn_task || q_eigen_.state != Eigenbasis::State::kUnknown);
  MatrixXd a;
  if (factored) {
    a = w_;
    if (options_.learn_task && q_eigen_.state == Eigenbasis::State::kKnown) {
      if (!w_uq_valid_) w_uq_ = w_ * q_eigen_.vectors;
      a = w_uq_ * q_eigen_.values.cwiseMax(0).cwiseSqrt().asDiagonal();
    }
    a *= std::sqrt(options_.lambda1 / k);
  }
  auto scatter = [&]() -> MatrixXd {
    if (factored) return GramOfRows(a);
    const MatrixXd wq = options_.learn_task ? MatrixXd(w_ * q_) : w_;
    MatrixXd s = options_.lambda1 * (wq * w_.transpose());
    s = 0.5 * (s + s.transpose());
    return s / k;
  };
  if (options_.reuse_decompositions && rho_p_ <= 0) {
    // The closed form, kept as its eigenbasis: the W step rotates by it,
    // the Q step and the objective read it, and none needs P itself. With
    // fewer units than voxels S has rank <= K: decomposed through A's QR.
    MatrixXd vectors;
    VectorXd values;
    if (!factored || a.cols() >= a.rows() || !LowRankSymmetricEigen(a, &values, &vectors))
      SymmetricEigen(scatter(), &values, &vectors);
    const double nu = TraceShift(values, static_cast<double>(values.size()));
    p_eigen_.values = (values.array() + nu).inverse().matrix();
    p_eigen_.vectors = std::move(vectors);
    p_eigen_.state = Eigenbasis::State::kKnown;
    p_.resize(0, 0);
    return;
  }
  FormInputPrecision();  // the graphical lasso starts from it
  p_ =
      PrecisionStep(scatter(), k, rho_p_, options_.glasso_max_iterations, options_.glasso_tolerance,
                    &p_, static_cast<double>(p_.rows()), &p_eigen_.values, &p_eigen_.vectors);
  p_eigen_.state =
      p_eigen_.values.size() > 0 ? Eigenbasis::State::kKnown : Eigenbasis::State::kUnknown;
}

void SmrSolver::StepTask() {
  if (!options_.learn_task) return;
  const double d = static_cast<double>(xs_.cols());
  MatrixXd s;
  if (options_.reuse_decompositions && options_.learn_input &&
      p_eigen_.state == Eigenbasis::State::kKnown) {
    // W'PW = (V'W)' diag(p) (V'W); V'W is also the next W step's rotation.
    rotated_w_ = p_eigen_.vectors.transpose() * w_;
    rotated_w_valid_ = true;
    s = GramOfColumns(p_eigen_.values.cwiseMax(0).cwiseSqrt().asDiagonal() * rotated_w_);
  } else {
    FormInputPrecision();
    const MatrixXd pw = options_.learn_input ? MatrixXd(p_ * w_) : w_;
    s = w_.transpose() * pw;
  }
  if (options_.reuse_decompositions && options_.learn_input) {
    wpw_ = s;  // for the objective while W and P stay as they are
    wpw_valid_ = true;
  }
  s *= options_.lambda1;
  s = 0.5 * (s + s.transpose());
  s /= d;
  q_ = PrecisionStep(s, d, rho_q_, options_.glasso_max_iterations, options_.glasso_tolerance, &q_,
                     static_cast<double>(q_.rows()), &q_eigen_.values, &q_eigen_.vectors);
  q_eigen_.state =
      q_eigen_.values.size() > 0 ? Eigenbasis::State::kKnown : Eigenbasis::State::kUnknown;
  w_uq_valid_ = false;
}

absl::Status SmrSolver::Fit() {
  objectives_.assign(1, Objective());
  for (int it = 0; it < options_.max_iterations; ++it) {
    if (options_.is_cancelled && options_.is_cancelled())
      return absl::CancelledError("SMR fit cancelled");
    StepW();
    StepOutput();
    StepInput();
    StepTask();
    const double j = Objective();
    objectives_.push_back(j);
    if (options_.on_iteration) options_.on_iteration(it + 1, j);
    const double prev = objectives_[objectives_.size() - 2];
    if (prev - j <= options_.tolerance * std::abs(prev)) break;
  }
  return absl::OkStatus();
}

MatrixXd SmrSolver::weights() const {
  return (w_.array().colwise() / x_sd_.transpose().array()).rowwise() * h_sd_.array();
}

RowVectorXd SmrSolver::bias() const { return h_mean_ - x_mean_ * weights(); }

MatrixXd SmrSolver::Predict(const MatrixXd& x) const { return (x * weights()).rowwise() + bias(); }

}  // namespace v2p::core
