#include "core/pipeline/decoder_comparison.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <map>
#include <mutex>
#include <numeric>
#include <optional>
#include <random>
#include <thread>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "core/base/status_macros.h"
#include "core/base/stopwatch.h"
#include "core/decoding/blas_threads.h"
#include "core/decoding/ridge_decoder.h"
#include "core/decoding/smr.h"
#include "core/pipeline/trainer.h"

namespace v2p::core {
namespace {

using Eigen::MatrixXd;

struct ComparedDecoder {
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

// Fits on (xtr, htr) with penalties `p` and predicts xte.
absl::StatusOr<MatrixXd> FitPredict(const ComparedDecoder& d, const ChosenPenalties& p,
                                    const MatrixXd& xtr, const MatrixXd& htr, const MatrixXd& xte,
                                    const DecoderComparisonOptions& o) {
  MatrixXd a = xtr, b = xte;
  if (d.select) {
    const std::vector<int> voxels = SelectVoxelsByCorrelation(xtr, htr, o.n_voxels);
    a = Cols(xtr, voxels);
    b = Cols(xte, voxels);
  }
  if (d.smr) {
    SmrOptions s = d.smr_options;
    s.lambda1 = p.main;
    if (p.sparse) s.lambda2 = p.lambda2, s.lambda3 = p.lambda3;
    ASSIGN_OR_RETURN(auto solver, SmrSolver::Create(a, htr, s));
    RETURN_IF_ERROR(solver->Fit());
    return solver->Predict(b);
  }
  RidgeDecoder::Options r;
  r.regression.alpha = p.main;
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

namespace {

// One outer fold: every decoder's penalties by inner CV, then its fit on the
// fold's training trials scored on its held-out ones.
class Fold {
 public:
  Fold(const MatrixXd& x, const MatrixXd& h, const std::vector<int>& outer, int f,
       const DecoderComparisonOptions& o)
      : o_(o), f_(f) {
    std::vector<int> train, test;
    Split(outer, f, &train, &test);
    xtr_ = Rows(x, train), htr_ = Rows(h, train), xte_ = Rows(x, test), hte_ = Rows(h, test);
    inner_ = AssignFolds(static_cast<int>(train.size()), o.inner_folds, o.seed + 1 + f);
    inner_l1_ =
        AssignFolds(static_cast<int>(train.size()), o.l1_inner_folds, o.seed + 1 + o.folds + f);
  }

  // Scores decoder `d` in this fold into its row's slot for the fold (NMSE,
  // penalties; adds its seconds), reporting through on_fold, all under
  // `report`.
  absl::Status Run(const ComparedDecoder& d, DecoderComparisonRow* row, std::mutex* report) {
    if (o_.is_cancelled && o_.is_cancelled()) return absl::CancelledError("comparison cancelled");
    Stopwatch watch;
    ChosenPenalties p;
    if (!d.grid_from.empty()) {
      ASSIGN_OR_RETURN(p, ChooseL1(d, chosen_.at(d.grid_from)));
    } else {
      double best = 1e300;
      for (double value : d.smr ? o_.lambda1_grid : o_.ridge_alphas) {
        ASSIGN_OR_RETURN(const double err,
                         InnerError(d, ChosenPenalties{value}, inner_, o_.inner_folds));
        if (err < best) best = err, p.main = value;
      }
    }
    chosen_[d.name] = p.main;
    ASSIGN_OR_RETURN(const MatrixXd pred, FitPredict(d, p, xtr_, htr_, xte_, o_));
    const double e = Nmse(pred, hte_, htr_.colwise().mean());
    std::lock_guard<std::mutex> lock(*report);
    row->nmse[f_] = e;
    row->penalty[f_] = p;
    row->seconds += absl::ToDoubleSeconds(watch.Elapsed());
    if (o_.on_fold) o_.on_fold(d.name, f_, e, p);
    return absl::OkStatus();
  }

 private:
  // Summed squared error over the `folds` inner folds of `assignment`.
  absl::StatusOr<double> InnerError(const ComparedDecoder& d, const ChosenPenalties& p,
                                    const std::vector<int>& assignment, int folds) {
    double err = 0;
    std::vector<int> itrain, itest;
    for (int g = 0; g < folds; ++g) {
      Split(assignment, g, &itrain, &itest);
      ASSIGN_OR_RETURN(const MatrixXd pred, FitPredict(d, p, Rows(xtr_, itrain), Rows(htr_, itrain),
                                                       Rows(xtr_, itest), o_));
      err += (pred - Rows(htr_, itest)).squaredNorm();
    }
    return err;
  }

  // lambda2, then lambda3, each over l1_grid with the other held (lambda3
  // at the grid's middle while lambda2 is searched); a weight on a
  // precision the variant fixes to I stays 0.
  absl::StatusOr<ChosenPenalties> ChooseL1(const ComparedDecoder& d, double lambda1) {
    const std::vector<double>& grid = o_.l1_grid;
    const bool search2 = d.smr_options.learn_output;
    const bool search3 = d.smr_options.learn_input || d.smr_options.learn_task;
    ChosenPenalties p{lambda1, true, 0, search3 ? grid[grid.size() / 2] : 0};
    std::map<std::pair<double, double>, double> tried;
    auto error = [&](double l2, double l3) -> absl::StatusOr<double> {
      auto it = tried.find({l2, l3});
      if (it != tried.end()) return it->second;
      ASSIGN_OR_RETURN(const double e, InnerError(d, ChosenPenalties{lambda1, true, l2, l3},
                                                  inner_l1_, o_.l1_inner_folds));
      return tried[{l2, l3}] = e;
    };
    for (double* weight : {search2 ? &p.lambda2 : nullptr, search3 ? &p.lambda3 : nullptr}) {
      if (weight == nullptr) continue;
      double best = 1e300, pick = *weight;
      for (double value : grid) {
        *weight = value;
        ASSIGN_OR_RETURN(const double e, error(p.lambda2, p.lambda3));
        if (e < best) best = e, pick = value;
      }
      *weight = pick;
    }
    return p;
  }

  const DecoderComparisonOptions& o_;
  const int f_;
  MatrixXd xtr_, htr_, xte_, hte_;
  std::vector<int> inner_, inner_l1_;
  std::map<std::string, double> chosen_;  // lambda1 or alpha by decoder
};

absl::StatusOr<std::vector<ComparedDecoder>> Decoders(const DecoderComparisonOptions& o) {
  std::vector<ComparedDecoder> decoders = {
      {"ridge (all voxels)", false, false, {}, ""},
      {absl::StrCat("ridge (", o.n_voxels, " selected voxels)"), false, true, {}, ""}};
  for (const std::string& v : o.variants) {
    ASSIGN_OR_RETURN(SmrOptions s, SmrOptions::Variant(v));
    s.max_iterations = o.max_iterations;
    s.glasso_max_iterations = o.glasso_max_iterations;
    std::string from;
    if (absl::StartsWith(v, "sparse-")) {
      from = v.substr(7);
      if (std::none_of(decoders.begin(), decoders.end(),
                       [&](const ComparedDecoder& d) { return d.name == from; }))
        return absl::InvalidArgumentError(
            absl::StrCat("comparison: ", v, " needs ", from, " listed before it"));
    }
    decoders.push_back({v, true, true, s, from});
  }
  return decoders;
}

}  // namespace

std::string ChosenPenalties::ToString() const {
  return sparse ? absl::StrFormat("%g / %g / %g", main, lambda2, lambda3)
                : absl::StrFormat("%g", main);
}

absl::StatusOr<std::vector<DecoderComparisonRow>> CompareFeatureDecoders(
    const MatrixXd& x, const MatrixXd& h, const DecoderComparisonOptions& o) {
  const int n = static_cast<int>(x.rows());
  if (h.rows() != n || x.cols() == 0 || h.cols() == 0)
    return absl::InvalidArgumentError(absl::StrCat("comparison needs matching rows; got x ", n,
                                                   " x ", x.cols(), ", h ", h.rows(), " x ",
                                                   h.cols()));
  if (o.folds < 2 || o.inner_folds < 2 || o.l1_inner_folds < 2 ||
      o.folds * std::max(o.inner_folds, o.l1_inner_folds) > n)
    return absl::InvalidArgumentError(absl::StrCat(
        "comparison needs folds, inner_folds, l1_inner_folds >= 2 and folds x inner folds <= "
        "trials; got ",
        o.folds, " x ", o.inner_folds, " (l1: ", o.l1_inner_folds, ") for ", n, " trials"));
  if (o.ridge_alphas.empty() || o.lambda1_grid.empty() || o.l1_grid.empty())
    return absl::InvalidArgumentError("comparison needs non-empty penalty grids");
  if (std::any_of(o.l1_grid.begin(), o.l1_grid.end(), [](double v) { return !(v >= 0); }))
    return absl::InvalidArgumentError("comparison: l1 weights must be >= 0");
  if (o.threads < 0) return absl::InvalidArgumentError("comparison: threads must be >= 0");
  ASSIGN_OR_RETURN(const std::vector<ComparedDecoder> decoders, Decoders(o));

  const std::vector<int> outer = AssignFolds(n, o.folds, o.seed);
  std::vector<DecoderComparisonRow> rows(decoders.size());
  for (size_t i = 0; i < decoders.size(); ++i) {
    rows[i].decoder = decoders[i].name;
    rows[i].nmse.resize(o.folds);
    rows[i].penalty.resize(o.folds);
  }
  const int hardware = std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
  const int threads = std::min(o.folds, o.threads > 0 ? o.threads : hardware);
  std::optional<ScopedBlasThreads> blas;
  if (threads > 1) blas.emplace(1);
  std::mutex report;
  std::atomic<int> next{0};
  std::vector<absl::Status> status(o.folds);
  auto work = [&] {
    for (int f = next++; f < o.folds; f = next++) {
      Fold fold(x, h, outer, f, o);
      for (size_t di = 0; di < decoders.size() && status[f].ok(); ++di)
        status[f] = fold.Run(decoders[di], &rows[di], &report);
    }
  };
  std::vector<std::thread> pool;
  for (int t = 1; t < threads; ++t) pool.emplace_back(work);
  work();
  for (std::thread& t : pool) t.join();
  for (const absl::Status& s : status) RETURN_IF_ERROR(s);
  return rows;
}

}  // namespace v2p::core
