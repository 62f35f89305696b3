#include "experiments/cross_validation.h"

#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <map>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "core/base/status_macros.h"
#include "core/base/stopwatch.h"
#include "experiments/evaluation_support.h"

namespace v2p::client {
namespace {

// Scores summarised over folds, in print order, with their labels.
constexpr std::pair<const char*, const char*> kScores[] = {
    {"pcc", "PCC"},
    {"ssim", "SSIM"},
    {"identification_pcc", "identification (PCC)"},
    {"identification_ssim", "identification (SSIM)"},
    {"mse", "MSE"},
    {"feature_pcc", "feature PCC"},
    {"latent_cosine", "latent cosine"},
};

// Train and test of a dataset pooled: every trial with a stimulus.
core::DatasetSplit PooledTrials(const core::Dataset& d) {
  if (d.test.stimuli.rows() != d.test.betas.rows()) return d.train;  // a test split without stimuli
  return core::ConcatenateSplits(d.train, d.test);
}

// Mean and sample SD of v (at least 2 values).
std::pair<double, double> MeanSd(const std::vector<double>& v) {
  double mean = 0, ss = 0;
  for (double x : v) mean += x / v.size();
  for (double x : v) ss += (x - mean) * (x - mean);
  return {mean, std::sqrt(ss / (v.size() - 1))};
}

}  // namespace

absl::Status RunCrossValidation(const core::Dataset& dataset, const core::TrainRequest& request,
                                const std::string& repo, int folds) {
  const core::DatasetSplit all = PooledTrials(dataset);
  const auto n = static_cast<int>(all.betas.rows());
  if (folds < 2 || n < 2 * folds)
    return absl::InvalidArgumentError(
        absl::StrCat("--cv ", folds, " needs 2 <= K <= trials / 2; dataset ", dataset.name, " has ",
                     n, " trials with stimuli"));
  const std::vector<int> fold = core::ContiguousFolds(all, folds);
  std::printf(
      "%d-fold cross-validation over %d trials of %s (train and test pooled; contiguous "
      "blocks%s); nothing is committed\n",
      folds, n, dataset.name.c_str(), all.labels.size() > 0 ? " within each label" : "");
  std::map<std::string, std::vector<double>> scores, baseline;
  core::Stopwatch watch;
  for (int k = 0; k < folds; ++k) {
    std::vector<Eigen::Index> train_rows, test_rows;
    for (int i = 0; i < n; ++i) (fold[i] == k ? test_rows : train_rows).push_back(i);
    core::Dataset d = dataset;
    d.train = core::SplitRows(all, train_rows);
    d.test = core::SplitRows(all, test_rows);
    ASSIGN_OR_RETURN(auto scratch,
                     ScratchRepository::Create(repo, absl::StrCat("cv-", getpid(), "-", k)));
    for (const std::string& name : request.method->stored_generators())
      RETURN_IF_ERROR(scratch->LinkGenerator(repo, name));
    ASSIGN_OR_RETURN(auto models, core::ModelRepository::Open({scratch->root(), true}));
    ASSIGN_OR_RETURN(const core::ModelManifest m, core::TrainModel(d, request, *models));
    std::string line = absl::StrFormat("fold %d/%d: %d test trials", k + 1, folds,
                                       static_cast<int>(test_rows.size()));
    for (const auto& [key, label] : kScores) {
      const auto it = m.evaluation.metrics.find(key);
      if (it == m.evaluation.metrics.end()) continue;
      scores[key].push_back(it->second);
      absl::StrAppendFormat(&line, ", %s %.3f", label, it->second);
      const auto base = m.evaluation.baseline_metrics.find(key);
      if (base != m.evaluation.baseline_metrics.end()) baseline[key].push_back(base->second);
    }
    for (const auto& h : m.evaluation.hyperparameters)
      absl::StrAppendFormat(&line, ", %s %g", h.name, h.chosen);
    std::printf("%s (%.0f s)\n", line.c_str(), absl::ToDoubleSeconds(watch.Elapsed()));
    std::fflush(stdout);
  }
  std::printf("cross-validated (mean ± SD over %d folds; mean training image in brackets):\n",
              folds);
  for (const auto& [key, label] : kScores) {
    const auto it = scores.find(key);
    if (it == scores.end() || static_cast<int>(it->second.size()) != folds) continue;
    const auto [mean, sd] = MeanSd(it->second);
    std::printf("  %-22s %.3f ± %.3f", label, mean, sd);
    const auto b = baseline.find(key);
    if (b != baseline.end() && static_cast<int>(b->second.size()) == folds)
      std::printf("  [%.3f]", MeanSd(b->second).first);
    std::printf("\n");
  }
  return absl::OkStatus();
}

}  // namespace v2p::client
