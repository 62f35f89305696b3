// SMR (Du et al. AAAI 2020): each block update against its closed form, and
// recovery of known structure on data drawn from the model.
#include "core/decoding/smr.h"

#include <array>
#include <cstdlib>
#include <iostream>
#include <random>
#include <string>
#include <tuple>
#include <vector>

#include "Eigen/Dense"
#include "gtest/gtest.h"
#include "tests/testing/random_matrix.h"

namespace v2p::core {
namespace {

using Eigen::MatrixXd;

using testing::Gaussian;

MatrixXd RandomSpd(Eigen::Index n, std::mt19937_64& rng) {
  const MatrixXd a = Gaussian(n, n, rng);
  MatrixXd s = a * a.transpose() / n;
  s.diagonal().array() += 0.5;
  return s;
}

// Kronecker product, column-major vec convention: vec(AXB) = (B' (x) A) vec(X).
MatrixXd Kron(const MatrixXd& a, const MatrixXd& b) {
  MatrixXd k(a.rows() * b.rows(), a.cols() * b.cols());
  for (Eigen::Index i = 0; i < a.rows(); ++i)
    for (Eigen::Index j = 0; j < a.cols(); ++j)
      k.block(i * b.rows(), j * b.cols(), b.rows(), b.cols()) = a(i, j) * b;
  return k;
}

struct Case {
  std::string variant;
  int n, d, k;
};

class SmrWStep : public ::testing::TestWithParam<Case> {};

// Proposition 1: vec(W) = (B (x) X'X + lambda I + lambda1 Q (x) P)^-1
// vec(X'H B), for random precisions set into the solver.
TEST_P(SmrWStep, EqualsKroneckerClosedForm) {
  const Case c = GetParam();
  std::mt19937_64 rng(7 + c.n + c.d + c.k);
  auto options = SmrOptions::Variant(c.variant);
  ASSERT_TRUE(options.ok());
  options->lambda = 1e-3;
  options->lambda1 = 0.7;
  options->cg_tolerance = 1e-13;
  options->cg_max_iterations = 5000;
  auto solver = SmrSolver::Create(Gaussian(c.n, c.d, rng), Gaussian(c.n, c.k, rng), *options);
  ASSERT_TRUE(solver.ok()) << solver.status();
  SmrSolver& s = **solver;
  const MatrixXd b = options->learn_output ? RandomSpd(c.k, rng) : MatrixXd::Identity(c.k, c.k);
  const MatrixXd p = options->learn_input ? RandomSpd(c.d, rng) : MatrixXd::Identity(c.d, c.d);
  const MatrixXd q = options->learn_task ? RandomSpd(c.k, rng) : MatrixXd::Identity(c.k, c.k);
  if (options->learn_output) s.output_precision() = b;
  if (options->learn_input) s.input_precision() = p;
  if (options->learn_task) s.task_precision() = q;
  s.w() = Gaussian(c.d, c.k, rng);  // a warm start far from the answer
  s.StepW();

  const MatrixXd a = s.xs().transpose() * s.xs();
  const MatrixXd rhs = s.xs().transpose() * s.hs() * b;
  MatrixXd system = Kron(b, a) + options->lambda1 * Kron(q, p);
  system.diagonal().array() += options->lambda;
  const Eigen::VectorXd vec =
      system.ldlt().solve(Eigen::Map<const Eigen::VectorXd>(rhs.data(), rhs.size()));
  const MatrixXd expected = Eigen::Map<const MatrixXd>(vec.data(), c.d, c.k);
  EXPECT_LT((s.w() - expected).cwiseAbs().maxCoeff(), 1e-6)
      << "CG iterations " << s.last_cg_iterations();
}

INSTANTIATE_TEST_SUITE_P(Variants, SmrWStep,
                         ::testing::Values(Case{"SMR", 12, 6, 4}, Case{"SMR", 8, 15, 7},
                                           Case{"SMR-O", 10, 9, 5}, Case{"SMR-I", 10, 9, 5},
                                           Case{"SMR-T", 10, 9, 5}, Case{"SMR-IT", 10, 9, 5},
                                           Case{"SMR-OT", 10, 9, 5}, Case{"SMR-IO", 10, 9, 5}),
                         [](const auto& info) {
                           std::string name =
                               info.param.variant + "_" + std::to_string(info.param.n) + "x" +
                               std::to_string(info.param.d) + "x" + std::to_string(info.param.k);
                           for (char& ch : name)
                             if (ch == '-') ch = '_';
                           return name;
                         });

TEST(SmrPrecisionSteps, NonSparseUpdatesEqualTheirClosedForms) {
  std::mt19937_64 rng(3);
  const int n = 15, d = 8, k = 6;
  SmrOptions o;
  o.lambda1 = 1.3;
  auto solver = SmrSolver::Create(Gaussian(n, d, rng), Gaussian(n, k, rng), o);
  ASSERT_TRUE(solver.ok());
  SmrSolver& s = **solver;
  s.w() = Gaussian(d, k, rng);
  s.task_precision() = RandomSpd(k, rng);
  s.input_precision() = RandomSpd(d, rng);

  s.StepOutput();  // B = N (R'R + g I)^-1
  const MatrixXd r = s.hs() - s.xs() * s.w();
  MatrixXd sb = r.transpose() * r;
  sb.diagonal().array() += s.g_output();
  const MatrixXd b_expected = n * sb.inverse();
  EXPECT_LT((s.output_precision() - b_expected).norm() / b_expected.norm(), 1e-9);

  // P and Q on tr(P) = D, tr(Q) = K: the inverse is S + nu I for a scalar
  // nu (the Lagrange condition), S = lambda1 W Q W' / K (W' P W / D).
  auto expect_shifted_inverse = [](const MatrixXd& t, const MatrixXd& scatter, double trace) {
    EXPECT_NEAR(t.trace(), trace, 1e-9 * trace);
    const MatrixXd shift = t.inverse() - scatter;
    const double nu = shift.diagonal().mean();
    EXPECT_LT((shift - nu * MatrixXd::Identity(t.rows(), t.rows())).norm(),
              1e-9 * t.inverse().norm());
  };
  s.StepInput();
  expect_shifted_inverse(s.input_precision(),
                         o.lambda1 * s.w() * s.task_precision() * s.w().transpose() / k, d);
  s.StepTask();
  expect_shifted_inverse(s.task_precision(),
                         o.lambda1 * s.w().transpose() * s.input_precision() * s.w() / d, k);
}

// On the trace constraint the update exists for a singular scatter matrix
// (rank 3 of 10 here) and beats every other feasible point tried.
TEST(SmrPrecisionSteps, TraceConstrainedUpdateHandlesSingularScatter) {
  std::mt19937_64 rng(4);
  const MatrixXd f = Gaussian(10, 3, rng);
  const MatrixXd s = f * f.transpose();
  const double n = 7, trace = 10;
  const MatrixXd t = PrecisionStep(s, n, 0, 1, 0, nullptr, trace);
  ASSERT_TRUE(t.allFinite());
  EXPECT_NEAR(t.trace(), trace, 1e-9);
  const double best = PrecisionObjective(t, s, n, 0);
  for (int trial = 0; trial < 20; ++trial) {
    MatrixXd other = RandomSpd(10, rng);
    other *= trace / other.trace();
    EXPECT_LT(best, PrecisionObjective(other, s, n, 0));
    MatrixXd near = t + 1e-3 * (other - t);  // on the constraint, beside t
    EXPECT_LE(best, PrecisionObjective(near, s, n, 0) + 1e-12);
  }
  // With an l1 weight the result stays on the constraint.
  const MatrixXd sparse = PrecisionStep(s, n, 2.0, 500, 1e-8, &t, trace);
  EXPECT_NEAR(sparse.trace(), trace, 1e-9);
  EXPECT_LE(PrecisionObjective(sparse, s, n, 2.0), PrecisionObjective(t, s, n, 2.0) + 1e-9);
}

// The graphical-lasso step meets its optimality conditions (every entry is
// penalised, the diagonal too, as the paper's ||.||_1):
// S - T^-1 + (rho/n) sign(T) = 0 where T != 0 (so S - T^-1 = -rho/n on the
// positive diagonal) and |S - T^-1| <= rho/n where T = 0.
TEST(SmrPrecisionSteps, SparseUpdateSatisfiesGraphicalLassoOptimality) {
  std::mt19937_64 rng(11);
  const int k = 12;
  const double n = 40, rho = 8;
  const MatrixXd x = Gaussian(40, k, rng);
  const MatrixXd s = x.transpose() * x / 40;
  const MatrixXd t = PrecisionStep(s, n, rho, 5000, 1e-10);
  const MatrixXd grad = s - t.inverse();
  const double kappa = rho / n;
  int zeros = 0;
  for (int i = 0; i < k; ++i) {
    for (int j = 0; j < k; ++j) {
      if (i == j) {
        ASSERT_GT(t(i, i), 0) << i;
        EXPECT_NEAR(grad(i, i), -kappa, 1e-5) << i;
      } else if (t(i, j) == 0) {
        ++zeros;
        EXPECT_LE(std::abs(grad(i, j)), kappa + 1e-5) << i << "," << j;
      } else {
        EXPECT_NEAR(grad(i, j), -kappa * (t(i, j) > 0 ? 1 : -1), 1e-5) << i << "," << j;
      }
    }
  }
  EXPECT_GT(zeros, 0) << "rho large enough to zero some entries";
  // rho = 0 is the inverse.
  EXPECT_LT((PrecisionStep(s, n, 0, 1, 0) - s.inverse()).norm(), 1e-8 * s.inverse().norm());
}

// Du et al. name each ablation by the structure it learns: "SMR-O: only
// output structure, fixing Sigma_r^-1 = Sigma_c^-1 = I"; "SMR-IT: fixing
// Omega^-1 = I".
TEST(SmrOptionsTest, EachNameLearnsThePrecisionsItsLettersName) {
  struct Expect {
    const char* name;
    bool output, input, task;  // Omega^-1, Sigma_r^-1, Sigma_c^-1 learned
  };
  for (const Expect& e : {Expect{"SMR", true, true, true}, Expect{"SMR-O", true, false, false},
                          Expect{"SMR-I", false, true, false}, Expect{"SMR-T", false, false, true},
                          Expect{"SMR-IT", false, true, true}, Expect{"SMR-OT", true, false, true},
                          Expect{"SMR-IO", true, true, false}}) {
    for (const std::string prefix : {"", "sparse-"}) {
      auto o = SmrOptions::Variant(prefix + e.name);
      ASSERT_TRUE(o.ok()) << e.name;
      EXPECT_EQ(o->learn_output, e.output) << prefix << e.name;
      EXPECT_EQ(o->learn_input, e.input) << prefix << e.name;
      EXPECT_EQ(o->learn_task, e.task) << prefix << e.name;
    }
  }
}

// And the fit does what the name says: after SMR-O only Omega^-1 has moved
// from I, after SMR-IT only Sigma_r^-1 and Sigma_c^-1 have.
TEST(SmrOptionsTest, AFitMovesOnlyThePrecisionsItsNameLearns) {
  std::mt19937_64 rng(5);
  const MatrixXd x = Gaussian(30, 12, rng);
  const MatrixXd h = x * Gaussian(12, 6, rng) + 0.5 * Gaussian(30, 6, rng);
  auto moved = [](const MatrixXd& m) {
    return (m - MatrixXd::Identity(m.rows(), m.cols())).norm() > 1e-6;
  };
  for (const auto& [name, output, input, task] :
       {std::tuple<const char*, bool, bool, bool>{"SMR-O", true, false, false},
        std::tuple<const char*, bool, bool, bool>{"SMR-IT", false, true, true}}) {
    auto options = SmrOptions::Variant(name);
    ASSERT_TRUE(options.ok());
    options->max_iterations = 3;
    auto solver = SmrSolver::Create(x, h, *options);
    ASSERT_TRUE(solver.ok());
    ASSERT_TRUE((*solver)->Fit().ok());
    EXPECT_EQ(moved((*solver)->output_precision()), output) << name;
    EXPECT_EQ(moved((*solver)->input_precision()), input) << name;
    EXPECT_EQ(moved((*solver)->task_precision()), task) << name;
  }
}

TEST(SmrOptionsTest, SparseVariantsSetBothL1Weights) {
  auto sparse = SmrOptions::Variant("sparse-SMR-O", 0.2);
  ASSERT_TRUE(sparse.ok());
  EXPECT_TRUE(sparse->learn_output);
  EXPECT_FALSE(sparse->learn_input);
  EXPECT_EQ(sparse->lambda2, 0.2);
  EXPECT_EQ(sparse->lambda3, 0.2);
  EXPECT_FALSE(SmrOptions::Variant("SMR-X").ok());
  EXPECT_FALSE(SmrOptions::Variant("SMR-TI").ok());  // not one of the six
  EXPECT_FALSE(SmrOptions::Variant("ridge").ok());
}

// Reusing decompositions between steps changes where work is done, not the
// fit: for every variant, dense and sparse, the objectives and the weights
// of a few iterations equal those of recomputing every decomposition.
TEST(SmrSolverTest, ReusingDecompositionsGivesTheSameFitAsRecomputingThem) {
  // More trials than units, and fewer (then B is kept in low-rank form).
  for (const auto [n, d, k] : {std::array<int, 3>{14, 20, 9}, std::array<int, 3>{8, 20, 12}}) {
    std::mt19937_64 rng(21 + n);
    const MatrixXd x = Gaussian(n, d, rng);
    const MatrixXd h = x * Gaussian(d, k, rng) + 0.5 * Gaussian(n, k, rng);
    for (const std::string variant :
         {"SMR", "SMR-O", "SMR-I", "SMR-T", "SMR-IT", "SMR-OT", "SMR-IO", "sparse-SMR"}) {
      auto options = SmrOptions::Variant(variant);
      ASSERT_TRUE(options.ok());
      options->max_iterations = 4;
      options->tolerance = 0;
      options->cg_tolerance = 1e-13;
      options->cg_max_iterations = 2000;
      MatrixXd weights[2];
      std::vector<double> objectives[2];
      for (int reuse : {0, 1}) {
        SmrOptions o = *options;
        o.reuse_decompositions = reuse == 1;
        auto s = SmrSolver::Create(x, h, o);
        ASSERT_TRUE(s.ok()) << s.status();
        ASSERT_TRUE((*s)->Fit().ok());
        weights[reuse] = (*s)->weights();
        objectives[reuse] = (*s)->objectives();
      }
      ASSERT_EQ(objectives[0].size(), objectives[1].size()) << variant;
      for (size_t i = 0; i < objectives[0].size(); ++i) {
        EXPECT_NEAR(objectives[1][i], objectives[0][i], 1e-9 * std::abs(objectives[0][i]))
            << variant << " objective " << i;
        if (i > 0)  // never increasing
          EXPECT_LE(objectives[1][i], objectives[1][i - 1] + 1e-12 * std::abs(objectives[1][i - 1]))
              << variant;
      }
      EXPECT_LT((weights[1] - weights[0]).cwiseAbs().maxCoeff(),
                1e-9 * weights[0].cwiseAbs().maxCoeff())
          << variant << " " << n << "x" << d << "x" << k;
    }
  }
}

TEST(SmrSolverTest, RejectsBadInput) {
  std::mt19937_64 rng(1);
  EXPECT_FALSE(SmrSolver::Create(Gaussian(5, 3, rng), Gaussian(4, 2, rng), {}).ok());
  MatrixXd x = Gaussian(5, 3, rng);
  x(2, 1) = std::nan("");
  EXPECT_FALSE(SmrSolver::Create(x, Gaussian(5, 2, rng), {}).ok());
  SmrOptions o;
  o.lambda1 = 0;
  EXPECT_FALSE(SmrSolver::Create(Gaussian(5, 3, rng), Gaussian(5, 2, rng), o).ok());
}

// Tridiagonal (chain) precision of size n with off-diagonal `off`.
MatrixXd ChainPrecision(int n, double off) {
  MatrixXd t = MatrixXd::Identity(n, n);
  for (int i = 0; i + 1 < n; ++i) t(i, i + 1) = t(i + 1, i) = off;
  return t;
}

// Draws from N(0, T^-1) as rows.
MatrixXd DrawWithPrecision(const MatrixXd& t, int rows, std::mt19937_64& rng) {
  const MatrixXd l = Eigen::LLT<MatrixXd>(t.inverse()).matrixL();
  return Gaussian(rows, t.rows(), rng) * l.transpose();
}

double F1OfSupport(const MatrixXd& estimated, const MatrixXd& truth, double tol) {
  int tp = 0, fp = 0, fn = 0;
  for (int i = 0; i < truth.rows(); ++i)
    for (int j = 0; j < truth.cols(); ++j) {
      if (i == j) continue;
      const double scale = std::sqrt(std::abs(estimated(i, i) * estimated(j, j)));
      const bool est = std::abs(estimated(i, j)) > tol * scale;
      const bool tru = truth(i, j) != 0;
      tp += est && tru;
      fp += est && !tru;
      fn += !est && tru;
    }
  return tp == 0 ? 0 : 2.0 * tp / (2.0 * tp + fp + fn);
}

// Held-out NMSE against the noiseless truth; pooled over outputs.
double Nmse(const MatrixXd& pred, const MatrixXd& truth) {
  return (pred - truth).squaredNorm() / (truth.rowwise() - truth.colwise().mean()).squaredNorm();
}

// The penalty in `grid` with the lowest 5-fold CV error on (x, h), for a
// fit given as options -> solver (fitted when fit_smr).
double ChoosePenaltyByCv(const MatrixXd& x, const MatrixXd& h, const std::vector<double>& grid,
                         SmrOptions base, bool fit_smr) {
  const int n = static_cast<int>(x.rows()), folds = 5;
  double best = grid.front(), best_err = 1e300;
  for (double value : grid) {
    double err = 0;
    for (int f = 0; f < folds; ++f) {
      const int lo = f * n / folds, hi = (f + 1) * n / folds;
      MatrixXd xtr(n - (hi - lo), x.cols()), htr(n - (hi - lo), h.cols());
      xtr << x.topRows(lo), x.bottomRows(n - hi);
      htr << h.topRows(lo), h.bottomRows(n - hi);
      SmrOptions o = base;
      o.lambda1 = value;
      auto s = SmrSolver::Create(xtr, htr, o);
      EXPECT_TRUE(s.ok());
      if (fit_smr) EXPECT_TRUE((*s)->Fit().ok());
      err += ((*s)->Predict(x.middleRows(lo, hi - lo)) - h.middleRows(lo, hi - lo)).squaredNorm();
    }
    if (err < best_err) best_err = err, best = value;
  }
  return best;
}

// Data drawn from the SMR model with sparse (chain) Sigma_r^-1, Sigma_c^-1
// and Omega^-1 (correlated noise, 200 trials). Each penalty is chosen by
// 5-fold CV on the training trials, as Du et al. choose lambda1: SMR then
// predicts held-out trials better than ridge, sparse SMR recovers the true
// supports far above chance, and no objective increases.
TEST(SmrSynthetic, RecoversKnownStructureAndBeatsRidge) {
  std::mt19937_64 rng(2024);
  const int n = 200, n_test = 400, d = 40, k = 30;
  const double off = 0.49;
  const MatrixXd p_true = ChainPrecision(d, off);
  const MatrixXd q_true = ChainPrecision(k, off);
  const MatrixXd b_true = ChainPrecision(k, off);
  // W ~ MN(0, P^-1, Q^-1): W = Lr Z Lc'.
  const MatrixXd lr = Eigen::LLT<MatrixXd>(p_true.inverse()).matrixL();
  const MatrixXd lc = Eigen::LLT<MatrixXd>(q_true.inverse()).matrixL();
  const MatrixXd w = 0.5 * lr * Gaussian(d, k, rng) * lc.transpose();
  const MatrixXd x = Gaussian(n, d, rng), x_test = Gaussian(n_test, d, rng);
  const MatrixXd h = x * w + 4.0 * DrawWithPrecision(b_true, n, rng);
  const MatrixXd h_test = x_test * w;  // noiseless truth

  // Ridge is the SMR start (all precisions I) with lambda = 0.
  SmrOptions ridge_options;
  ridge_options.lambda = 0;
  const double alpha =
      ChoosePenaltyByCv(x, h, {1, 3, 10, 30, 100, 300, 1000}, ridge_options, false);
  ridge_options.lambda1 = alpha;
  const double ridge = Nmse((*SmrSolver::Create(x, h, ridge_options))->Predict(x_test), h_test);

  auto options = SmrOptions::Variant("SMR");
  ASSERT_TRUE(options.ok());
  options->max_iterations = 30;
  options->lambda1 = ChoosePenaltyByCv(x, h, {10, 30, 100, 300}, *options, true);
  auto solver = SmrSolver::Create(x, h, *options);
  ASSERT_TRUE(solver.ok());
  ASSERT_TRUE((*solver)->Fit().ok());
  const double smr = Nmse((*solver)->Predict(x_test), h_test);

  auto sparse_options = SmrOptions::Variant("sparse-SMR", 0.1);
  ASSERT_TRUE(sparse_options.ok());
  sparse_options->lambda1 = options->lambda1;
  sparse_options->max_iterations = 30;
  auto sparse = SmrSolver::Create(x, h, *sparse_options);
  ASSERT_TRUE(sparse.ok());
  ASSERT_TRUE((*sparse)->Fit().ok());
  for (const SmrSolver* s : {solver->get(), sparse->get()}) {
    const auto& obj = s->objectives();
    for (size_t i = 1; i < obj.size(); ++i)
      EXPECT_LE(obj[i], obj[i - 1] + 1e-9 * std::abs(obj[i - 1])) << "iteration " << i;
  }
  const double sparse_nmse = Nmse((*sparse)->Predict(x_test), h_test);
  const double f1_b = F1OfSupport((*sparse)->output_precision(), b_true, 0.05);
  const double f1_p = F1OfSupport((*sparse)->input_precision(), p_true, 0.05);
  const double f1_q = F1OfSupport((*sparse)->task_precision(), q_true, 0.05);
  // Chance: a random support of the same density has F1 = density.
  const double chance_b = 2.0 / k, chance_p = 2.0 / d;
  std::printf(
      "synthetic (penalties by 5-fold CV): NMSE ridge %.4f (alpha %g), SMR %.4f "
      "(lambda1 %g), sparse SMR %.4f; sparse SMR support F1: Omega^-1 %.2f, "
      "Sigma_r^-1 %.2f, Sigma_c^-1 %.2f (chance %.2f, %.2f, %.2f)\n",
      ridge, alpha, smr, options->lambda1, sparse_nmse, f1_b, f1_p, f1_q, chance_b, chance_p,
      chance_b);
  EXPECT_LT(smr, ridge);
  EXPECT_GT(f1_b, 2.5 * chance_b);
  EXPECT_GT(f1_p, 2.5 * chance_p);
  EXPECT_GT(f1_q, 2.5 * chance_b);
}

}  // namespace
}  // namespace v2p::core
