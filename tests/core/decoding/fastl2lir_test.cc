// Pins the ridge decoder to KamitaniLab FastL2LiR's own outputs
// (../shared/data/fastl2lir_vectors) to 1e-6.
#include "core/decoding/fastl2lir.h"

#include <algorithm>
#include <map>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "Eigen/LU"

#include "core/data/npy.h"
#include "gtest/gtest.h"
#include "tests/testing/test_paths.h"

namespace v2p::core {
namespace {

using Arrays = std::map<std::string, NpyArray>;

Arrays Load(const std::string& file) {
  auto arrays = ReadNpz(testing::DataDir() + "/fastl2lir_vectors/" + file);
  EXPECT_TRUE(arrays.ok()) << arrays.status();
  return arrays.ok() ? *arrays : Arrays{};
}

Eigen::MatrixXd Matrix(const Arrays& a, const std::string& key) {
  auto m = a.at(key).AsMatrix();
  EXPECT_TRUE(m.ok()) << key << ": " << m.status();
  return *m;
}

// y_2d (n, 10, 10) flattened to (n, 100) in Fortran order, as FastL2LiR
// reshapes multi-dimensional targets.
Eigen::MatrixXd FlattenFortran(const NpyArray& a) {
  const int64_t n = a.shape[0], rest = a.size() / n;
  std::vector<int64_t> dims(a.shape.begin() + 1, a.shape.end());
  Eigen::MatrixXd out(n, rest);
  for (int64_t s = 0; s < n; ++s) {
    for (int64_t c_index = 0; c_index < rest; ++c_index) {
      // c_index is the C-order offset within one sample; compute its
      // Fortran-order column.
      int64_t rem = c_index, f_index = 0, stride = 1;
      std::vector<int64_t> idx(dims.size());
      for (size_t d = dims.size(); d-- > 0;) {
        idx[d] = rem % dims[d];
        rem /= dims[d];
      }
      for (size_t d = 0; d < dims.size(); ++d) {
        f_index += idx[d] * stride;
        stride *= dims[d];
      }
      out(s, f_index) = a.values[s * rest + c_index];
    }
  }
  return out;
}

void ExpectNear(const Eigen::MatrixXd& got, const Eigen::MatrixXd& want, const std::string& what) {
  ASSERT_EQ(got.rows(), want.rows()) << what;
  ASSERT_EQ(got.cols(), want.cols()) << what;
  const double err = (got - want).cwiseAbs().maxCoeff();
  EXPECT_LE(err, 1e-6) << what << ": max |difference| " << err;
}

struct Case {
  std::string file;
  FastL2LiROptions options;
  bool one_d;
};

// Readable parameter names in test output and CTest.
void PrintTo(const Case& c, std::ostream* os) {
  *os << c.file << " alpha=" << c.options.alpha << " n_feat=" << c.options.n_feat
      << " chunk=" << c.options.chunk_size;
}

class GoldenVectors : public ::testing::TestWithParam<Case> {};

TEST_P(GoldenVectors, MatchesFastL2LiR) {
  const Case& c = GetParam();
  const Arrays a = Load(c.file);
  ASSERT_FALSE(a.empty());
  const Eigen::MatrixXd x_tr = Matrix(a, "x_tr"), x_te = Matrix(a, "x_te");
  if (c.one_d) {
    auto fit = FitFastL2LiR(x_tr, Matrix(a, "y_1d"), c.options);
    ASSERT_TRUE(fit.ok()) << fit.status();
    ExpectNear(fit->weights, Matrix(a, "w_1d"), c.file + " w_1d");
    ExpectNear(fit->bias, Matrix(a, "b_1d"), c.file + " b_1d");
    ExpectNear(PredictLinear(x_te, *fit), Matrix(a, "yp_1d"), c.file + " yp_1d");
  }
  auto fit = FitFastL2LiR(x_tr, FlattenFortran(a.at("y_2d")), c.options);
  ASSERT_TRUE(fit.ok()) << fit.status();
  // w_2d is (voxels, 10, 10): its trailing dims flatten the same way.
  ExpectNear(fit->weights, FlattenFortran(a.at("w_2d")), c.file + " w_2d");
  ExpectNear(fit->bias, FlattenFortran(a.at("b_2d")), c.file + " b_2d");
  ExpectNear(PredictLinear(x_te, *fit), FlattenFortran(a.at("yp_2d")), c.file + " yp_2d");
}

INSTANTIATE_TEST_SUITE_P(FastL2LiR, GoldenVectors,
                         ::testing::Values(Case{"testdata_basic.npz", {1.0, 0, 0}, true},
                                           Case{"testdata_basic.npz", {1.0, 500, 0}, true},
                                           Case{"testdata_alpha01.npz", {0.1, 0, 0}, true},
                                           Case{"testdata_nfeat.npz", {1.0, 20, 0}, true},
                                           Case{"testdata_chunk.npz", {1.0, 0, 10}, false},
                                           Case{"testdata_wide.npz", {1.0, 500, 0}, true}),
                         [](const auto& info) {
                           std::string name =
                               info.param.file.substr(9, info.param.file.size() - 13);
                           return name + "_nfeat" + std::to_string(info.param.options.n_feat);
                         });

TEST(FastL2LiR, RejectsMismatchedSamples) {
  auto fit = FitFastL2LiR(Eigen::MatrixXd::Ones(5, 3), Eigen::MatrixXd::Ones(4, 2), {});
  EXPECT_EQ(fit.status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(FastL2LiR, RejectsNonFinite) {
  Eigen::MatrixXd x = Eigen::MatrixXd::Random(6, 3);
  x(2, 1) = std::numeric_limits<double>::quiet_NaN();
  auto fit = FitFastL2LiR(x, Eigen::MatrixXd::Random(6, 2), {});
  EXPECT_EQ(fit.status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(FastL2LiR, SelectionZeroesUnselectedWeights) {
  const Eigen::MatrixXd x = Eigen::MatrixXd::Random(40, 12);
  const Eigen::MatrixXd y = x.col(3) * 2.0 + 0.01 * Eigen::VectorXd::Random(40);
  auto fit = FitFastL2LiR(x, y, {1.0, 2, 0});
  ASSERT_TRUE(fit.ok());
  int nonzero = 0;
  for (int v = 0; v < 12; ++v) nonzero += fit->weights(v, 0) != 0.0;
  EXPECT_EQ(nonzero, 2);
  EXPECT_GT(std::abs(fit->weights(3, 0)),
            1.0);  // the truly predictive voxel is kept
}

Eigen::MatrixXd Gaussian(Eigen::Index rows, Eigen::Index cols, std::mt19937_64& rng) {
  std::normal_distribution<double> g(0, 1);
  Eigen::MatrixXd m(rows, cols);
  for (Eigen::Index i = 0; i < m.size(); ++i) m.data()[i] = g(rng);
  return m;
}

// [W; b] the plain way, one target at a time: Pearson r from scratch, the
// n_feat largest |r| (ties to the larger index), and the selected voxels'
// own system X_s'X_s + alpha I solved by LU. No shared Gram matrix, no
// Cholesky, no threads: what the fit computed before it used any of them.
Eigen::MatrixXd PlainSelectedFit(const Eigen::MatrixXd& x, const Eigen::MatrixXd& y, double alpha,
                                 int n_feat) {
  const Eigen::Index n = x.rows(), d = x.cols();
  Eigen::MatrixXd wb = Eigen::MatrixXd::Zero(d + 1, y.cols());
  for (Eigen::Index t = 0; t < y.cols(); ++t) {
    const Eigen::VectorXd yc = y.col(t).array() - y.col(t).mean();
    std::vector<double> r(d);
    for (Eigen::Index v = 0; v < d; ++v) {
      const Eigen::VectorXd xc = x.col(v).array() - x.col(v).mean();
      r[v] = std::abs(xc.dot(yc) / (xc.norm() * yc.norm()));
    }
    std::vector<int> order(d);
    std::iota(order.begin(), order.end(), 0);
    std::sort(order.begin(), order.end(),
              [&](int a, int b) { return r[a] != r[b] ? r[a] > r[b] : a > b; });
    Eigen::MatrixXd xs(n, n_feat + 1);
    for (int i = 0; i < n_feat; ++i) xs.col(i) = x.col(order[i]);
    xs.col(n_feat).setOnes();
    Eigen::MatrixXd a = xs.transpose() * xs;
    a.diagonal().array() += alpha;
    const Eigen::VectorXd w = a.partialPivLu().solve(xs.transpose() * y.col(t));
    for (int i = 0; i < n_feat; ++i) wb(order[i], t) = w(i);
    wb(d, t) = w(n_feat);
  }
  return wb;
}

double MaxRelativeDifference(const LinearFit& fit, const Eigen::MatrixXd& wb) {
  Eigen::MatrixXd mine(wb.rows(), wb.cols());
  mine.topRows(fit.weights.rows()) = fit.weights;
  mine.bottomRows(1) = fit.bias;
  return (mine - wb).cwiseAbs().maxCoeff() / wb.cwiseAbs().maxCoeff();
}

TEST(FastL2LiR, SelectionEqualsThePlainPerTargetFitWhateverTheThreadsAndChunks) {
  std::mt19937_64 rng(7);
  const Eigen::MatrixXd x = Gaussian(60, 45, rng);
  const Eigen::MatrixXd y = x * Gaussian(45, 9, rng) + Gaussian(60, 9, rng);
  const Eigen::MatrixXd plain = PlainSelectedFit(x, y, 3.0, 12);
  for (int threads : {1, 2, 3}) {
    for (int chunk : {0, 4}) {
      auto fit = FitFastL2LiR(x, y, {3.0, 12, chunk, threads});
      ASSERT_TRUE(fit.ok()) << fit.status();
      EXPECT_LT(MaxRelativeDifference(*fit, plain), 1e-9) << threads << " threads, chunk " << chunk;
    }
  }
}

TEST(FastL2LiR, PrimalAndDualEqualTheNormalEquationsSolvedByLu) {
  std::mt19937_64 rng(8);
  for (Eigen::Index n : {30, 80}) {  // fewer samples than voxels + 1 (dual), more (primal)
    const Eigen::MatrixXd x = Gaussian(n, 50, rng);
    const Eigen::MatrixXd y = Gaussian(n, 6, rng);
    Eigen::MatrixXd x1(n, 51);
    x1 << x, Eigen::VectorXd::Ones(n);
    Eigen::MatrixXd a = x1.transpose() * x1;
    a.diagonal().array() += 2.0;
    const Eigen::MatrixXd wb = a.partialPivLu().solve(x1.transpose() * y);
    auto fit = FitFastL2LiR(x, y, {2.0, 0, 0});
    ASSERT_TRUE(fit.ok()) << fit.status();
    EXPECT_LT(MaxRelativeDifference(*fit, wb), 1e-9) << n << " samples";
  }
}

TEST(FastL2LiR, AlphaZeroSolvesANonSingularSystemAndRefusesASingularOne) {
  std::mt19937_64 rng(9);
  const Eigen::MatrixXd x = Gaussian(40, 5, rng);
  const Eigen::MatrixXd y = x * Gaussian(5, 2, rng);
  auto fit = FitFastL2LiR(x, y, {0.0, 0, 0});  // exact least squares
  ASSERT_TRUE(fit.ok()) << fit.status();
  EXPECT_LT((PredictLinear(x, *fit) - y).cwiseAbs().maxCoeff(), 1e-9);
  Eigen::MatrixXd collinear = x;
  collinear.col(4) = collinear.col(3);
  auto singular = FitFastL2LiR(collinear, y, {0.0, 0, 0});
  EXPECT_EQ(singular.status().code(), absl::StatusCode::kFailedPrecondition) << singular.status();
}

TEST(FastL2LiR, RejectsNegativeOrNanAlphaAndNegativeThreads) {
  const Eigen::MatrixXd x = Eigen::MatrixXd::Random(6, 3), y = Eigen::MatrixXd::Random(6, 2);
  EXPECT_EQ(FitFastL2LiR(x, y, {-1.0, 0, 0}).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(FitFastL2LiR(x, y, {std::nan(""), 0, 0}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(FitFastL2LiR(x, y, {1.0, 0, 0, -2}).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace v2p::core
