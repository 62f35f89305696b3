// Pins the ridge decoder to KamitaniLab FastL2LiR's own outputs
// (../shared/data/fastl2lir_vectors) to 1e-6.
#include "core/decoding/fastl2lir.h"

#include <map>
#include <string>

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

void ExpectNear(const Eigen::MatrixXd& got, const Eigen::MatrixXd& want,
                const std::string& what) {
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
  *os << c.file << " alpha=" << c.options.alpha
      << " n_feat=" << c.options.n_feat << " chunk=" << c.options.chunk_size;
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
    ExpectNear(PredictLinear(x_te, *fit), Matrix(a, "yp_1d"),
               c.file + " yp_1d");
  }
  auto fit = FitFastL2LiR(x_tr, FlattenFortran(a.at("y_2d")), c.options);
  ASSERT_TRUE(fit.ok()) << fit.status();
  // w_2d is (voxels, 10, 10): its trailing dims flatten the same way.
  ExpectNear(fit->weights, FlattenFortran(a.at("w_2d")), c.file + " w_2d");
  ExpectNear(fit->bias, FlattenFortran(a.at("b_2d")), c.file + " b_2d");
  ExpectNear(PredictLinear(x_te, *fit), FlattenFortran(a.at("yp_2d")),
             c.file + " yp_2d");
}

INSTANTIATE_TEST_SUITE_P(
    FastL2LiR, GoldenVectors,
    ::testing::Values(Case{"testdata_basic.npz", {1.0, 0, 0}, true},
                      Case{"testdata_basic.npz", {1.0, 500, 0}, true},
                      Case{"testdata_alpha01.npz", {0.1, 0, 0}, true},
                      Case{"testdata_nfeat.npz", {1.0, 20, 0}, true},
                      Case{"testdata_chunk.npz", {1.0, 0, 10}, false},
                      Case{"testdata_wide.npz", {1.0, 500, 0}, true}),
    [](const auto& info) {
      std::string name = info.param.file.substr(9, info.param.file.size() - 13);
      return name + "_nfeat" + std::to_string(info.param.options.n_feat);
    });

TEST(FastL2LiR, RejectsMismatchedSamples) {
  auto fit = FitFastL2LiR(Eigen::MatrixXd::Ones(5, 3),
                          Eigen::MatrixXd::Ones(4, 2), {});
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

}  // namespace
}  // namespace v2p::core
