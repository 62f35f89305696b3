#include "core/pipeline/decoder_comparison.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <numeric>
#include <random>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "core/base/status_macros.h"
#include "core/base/stopwatch.h"
#include "core/decoding/ridge_decoder.h"
#include "core/decoding/smr.h"
#include "core/pipeline/trainer.h"

namespace v2p::core {
namespace {

using Eigen::MatrixXd;

struct Decoder {
  std::string name;
  bool smr = false;
  bool select = false;  // on the n_voxels selected voxels
  SmrOptions smr_options;
  std::string grid_from;  // sparse: take lambda1 from this row
};

MatrixXd Rows(const MatrixXd& m, const std::vector<int>& rows) {
  MatrixXd out(rows.size(), m.cols());
  for (size_t i = 0; i < rows.size(); ++i) out.row(i) = m.row(rows[i]);
  return out;
}

MatrixXd Cols(const MatrixXd& m, const std::vector<int>& cols) {
  MatrixXd out(m.rows(), cols.size());
  for (size_t j = 0; j < cols.size(); ++j) out.col(j) = m.col(cols[j]);
  return out;
}

// Fits on (xtr, htr) with `penalty` and predicts xte.
absl::StatusOr<MatrixXd> FitPredict(const Decoder& d, double penalty, const MatrixXd& xtr,
                                    const MatrixXd& htr, const MatrixXd& xte,
                                    const DecoderComparisonOptions& o) {
  MatrixXd a = xtr, b = xte;
  if (d.select) {
    const std::vector<int> voxels = SelectVoxelsByCorrelation(xtr, htr, o.n_voxels);
    a = Cols(xtr, voxels);
    b = Cols(xte, voxels);
  }
  if (d.smr) {
    SmrOptions s = d.smr_options;
    s.lambda1 = penalty;
    ASSIGN_OR_RETURN(auto solver, SmrSolver::Create(a, htr, s));
    RETURN_IF_ERROR(solver->Fit());
    return solver->Predict(b);
  }
  RidgeDecoder::Options r;
  r.regression.alpha = penalty;
  ASSIGN_OR_RETURN(auto ridge, RidgeDecoder::Fit(a, htr, r));
  Eigen::MatrixXf z = b.cast<float>();
  ridge->Standardize(&z);
  return MatrixXd(ridge->Decode(z).cast<double>());
}

double Nmse(const MatrixXd& pred, const MatrixXd& truth, const Eigen::RowVectorXd& mean) {
  const double var = (truth.rowwise() - mean).squaredNorm();
  return var > 0 ? (pred - truth).squaredNorm() / var : 0;
}

// Shuffled assignment of n trials to `folds` folds.
std::vector<int> AssignFolds(int n, int folds, uint64_t seed) {
  std::vector<int> order(n), fold(n);
  std::iota(order.begin(), order.end(), 0);
  std::mt19937_64 rng(seed);
  for (int i = n - 1; i > 0; --i) {
    std::uniform_int_distribution<int> pick(0, i);
    std::swap(order[i], order[pick(rng)]);
  }
  for (int i = 0; i < n; ++i) fold[order[i]] = i % folds;
  return fold;
}

void Split(const std::vector<int>& fold, int f, std::vector<int>* train, std::vector<int>* test) {
  train->clear();
  test->clear();
  for (size_t i = 0; i < fold.size(); ++i) (fold[i] == f ? test : train)->push_back(i);
}

}  // namespace

double DecoderComparisonRow::mean() const {
  return nmse.empty() ? 0 : std::accumulate(nmse.begin(), nmse.end(), 0.0) / nmse.size();
}

double DecoderComparisonRow::sd() const {
  if (nmse.size() < 2) return 0;
  const double m = mean();
  double ss = 0;
  for (double v : nmse) ss += (v - m) * (v - m);
  return std::sqrt(ss / (nmse.size() - 1));
}

absl::StatusOr<std::vector<DecoderComparisonRow>> CompareFeatureDecoders(
    const MatrixXd& x, const MatrixXd& h, const DecoderComparisonOptions& o) {
  const int n = static_cast<int>(x.rows());
  if (h.rows() != n || x.cols() == 0 || h.cols() == 0)
    return absl::InvalidArgumentError(absl::StrCat("comparison needs matching rows; got x ", n,
                                                   " x ", x.cols(), ", h ", h.rows(), " x ",
                                                   h.cols()));
  if (o.folds < 2 || o.inner_folds < 2 || o.folds * o.inner_folds > n)
    return absl::InvalidArgumentError(absl::StrCat(
        "comparison needs folds, inner_folds >= 2 and folds x inner_folds <= trials; got ",
        o.folds, " x ", o.inner_folds, " for ", n, " trials"));
  if (o.ridge_alphas.empty() || o.lambda1_grid.empty())
    return absl::InvalidArgumentError("comparison needs non-empty penalty grids");

  std::vector<Decoder> decoders = {
      {"ridge (all voxels)", false, false, {}, ""},
      {absl::StrCat("ridge (", o.n_voxels, " selected voxels)"), false, true, {}, ""}};
  for (const std::string& v : o.variants) {
    ASSIGN_OR_RETURN(SmrOptions s, SmrOptions::Variant(v, o.sparse_l1));
    s.max_iterations = o.max_iterations;
    s.glasso_max_iterations = o.glasso_max_iterations;
    std::string from;
    if (absl::StartsWith(v, "sparse-")) {
      from = v.substr(7);
      if (std::none_of(decoders.begin(), decoders.end(),
                       [&](const Decoder& d) { return d.name == from; }))
        return absl::InvalidArgumentError(
            absl::StrCat("comparison: ", v, " needs ", from, " listed before it"));
    }
    decoders.push_back({v, true, true, s, from});
  }

  const std::vector<int> outer = AssignFolds(n, o.folds, o.seed);
  std::vector<DecoderComparisonRow> rows(decoders.size());
  for (size_t i = 0; i < decoders.size(); ++i) rows[i].decoder = decoders[i].name;
  std::vector<int> train, test, itrain, itest;
  for (int f = 0; f < o.folds; ++f) {
    Split(outer, f, &train, &test);
    const MatrixXd xtr = Rows(x, train), htr = Rows(h, train);
    const MatrixXd xte = Rows(x, test), hte = Rows(h, test);
    const Eigen::RowVectorXd mean = htr.colwise().mean();
    const std::vector<int> inner =
        AssignFolds(static_cast<int>(train.size()), o.inner_folds, o.seed + 1 + f);
    std::map<std::string, double> chosen;
    for (size_t di = 0; di < decoders.size(); ++di) {
      if (o.is_cancelled && o.is_cancelled()) return absl::CancelledError("comparison cancelled");
      const Decoder& d = decoders[di];
      Stopwatch watch;
      double penalty = 0;
      if (!d.grid_from.empty()) {
        penalty = chosen[d.grid_from];
      } else {
        double best = 1e300;
        for (double value : d.smr ? o.lambda1_grid : o.ridge_alphas) {
          double err = 0;
          for (int g = 0; g < o.inner_folds; ++g) {
            Split(inner, g, &itrain, &itest);
            ASSIGN_OR_RETURN(const MatrixXd pred,
                             FitPredict(d, value, Rows(xtr, itrain), Rows(htr, itrain),
                                        Rows(xtr, itest), o));
            err += (pred - Rows(htr, itest)).squaredNorm();
          }
          if (err < best) best = err, penalty = value;
        }
      }
      chosen[d.name] = penalty;
      ASSIGN_OR_RETURN(const MatrixXd pred, FitPredict(d, penalty, xtr, htr, xte, o));
      const double e = Nmse(pred, hte, mean);
      rows[di].nmse.push_back(e);
      rows[di].penalty.push_back(penalty);
      rows[di].seconds += absl::ToDoubleSeconds(watch.Elapsed());
      if (o.on_fold) o.on_fold(d.name, f, e, penalty);
    }
  }
  return rows;
}

}  // namespace v2p::core
