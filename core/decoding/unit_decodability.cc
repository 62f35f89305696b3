#include "core/decoding/unit_decodability.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <random>

#include "absl/strings/str_cat.h"

namespace v2p::core {

absl::StatusOr<Eigen::VectorXd> UnitDecodability(const Eigen::MatrixXd& x, const Eigen::MatrixXd& h,
                                                 const FoldDecoder& decoder,
                                                 const DecodabilityOptions& options) {
  const Eigen::Index n = x.rows(), k = h.cols();
  if (h.rows() != n || x.cols() == 0 || k == 0)
    return absl::InvalidArgumentError(absl::StrCat("decodability needs matching rows; got x ", n,
                                                   " x ", x.cols(), ", h ", h.rows(), " x ", k));
  if (options.folds < 2 || options.folds > n)
    return absl::InvalidArgumentError(absl::StrCat("decodability needs 2 <= folds <= samples; got ",
                                                   options.folds, " folds for ", n, " samples"));
  std::vector<int> order(n);
  std::iota(order.begin(), order.end(), 0);
  std::mt19937_64 rng(options.seed);
  for (Eigen::Index i = n - 1; i > 0; --i) {
    std::uniform_int_distribution<Eigen::Index> pick(0, i);
    std::swap(order[i], order[pick(rng)]);
  }
  std::vector<int> fold_of(n);
  for (Eigen::Index i = 0; i < n; ++i) fold_of[order[i]] = static_cast<int>(i % options.folds);

  Eigen::MatrixXd predicted(n, k);
  for (int f = 0; f < options.folds; ++f) {
    if (options.is_cancelled && options.is_cancelled())
      return absl::CancelledError(
          absl::StrCat("decodability cancelled at fold ", f + 1, "/", options.folds));
    std::vector<int> train, test;
    for (Eigen::Index i = 0; i < n; ++i) (fold_of[i] == f ? test : train).push_back(i);
    Eigen::MatrixXd xtr(train.size(), x.cols()), htr(train.size(), k), xte(test.size(), x.cols());
    for (size_t i = 0; i < train.size(); ++i) {
      xtr.row(i) = x.row(train[i]);
      htr.row(i) = h.row(train[i]);
    }
    for (size_t i = 0; i < test.size(); ++i) xte.row(i) = x.row(test[i]);
    absl::StatusOr<Eigen::MatrixXd> pred = decoder(xtr, htr, xte);
    if (!pred.ok()) return pred.status();
    if (pred->rows() != static_cast<Eigen::Index>(test.size()) || pred->cols() != k)
      return absl::InternalError(absl::StrCat("fold decoder returned ", pred->rows(), " x ",
                                              pred->cols(), "; expected ", test.size(), " x ", k));
    for (size_t i = 0; i < test.size(); ++i) predicted.row(test[i]) = pred->row(i);
  }

  const Eigen::MatrixXd hc = h.rowwise() - h.colwise().mean();
  const Eigen::MatrixXd pc = predicted.rowwise() - predicted.colwise().mean();
  Eigen::VectorXd r(k);
  for (Eigen::Index j = 0; j < k; ++j) {
    const double vh = hc.col(j).squaredNorm(), vp = pc.col(j).squaredNorm();
    r(j) = (vh <= 1e-12 * n || vp <= 0) ? 0.0 : hc.col(j).dot(pc.col(j)) / std::sqrt(vh * vp);
  }
  return r;
}

std::vector<int> TopDecodableUnits(const Eigen::VectorXd& decodability, int k) {
  std::vector<int> idx(decodability.size());
  std::iota(idx.begin(), idx.end(), 0);
  auto key = [&](int i) {
    const double v = decodability(i);
    return std::isfinite(v) ? v : -std::numeric_limits<double>::infinity();
  };
  std::stable_sort(idx.begin(), idx.end(), [&](int a, int b) { return key(a) > key(b); });
  if (k > 0 && k < static_cast<int>(idx.size())) idx.resize(k);
  return idx;
}

}  // namespace v2p::core
