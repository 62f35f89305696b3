#include "experiments/local_train.h"

#include <cmath>
#include <cstdio>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "client/output_files.h"
#include "core/base/status_macros.h"
#include "core/base/stopwatch.h"
#include "core/data/dataset.h"
#include "core/evaluation/report.h"
#include "core/pipeline/model_repository.h"
#include "core/pipeline/trainer.h"
#include "experiments/cross_validation.h"
#include "spec/pipeline_spec_rules.h"
#include "workers/spec_files.h"

namespace v2p::client {
namespace {

// Progress of a local training on stdout, one line per phase and, within a
// phase with steps (chunks, SMR iterations, generator epochs), at most one
// every 2 s and at its last step, so that nothing long runs silently.
core::TrainHooks LocalProgressHooks(const core::Stopwatch& watch) {
  struct State {
    int phase = -1;
    absl::Time last = absl::InfinitePast();
  };
  auto state = std::make_shared<State>();
  core::TrainHooks hooks;
  hooks.on_progress = [state, &watch](const core::TrainingProgress& p) {
    static constexpr const char* kNames[] = {"fitting", "training generator", "evaluating",
                                             "saving"};
    const int phase = static_cast<int>(p.phase);
    const bool last_step = p.total_steps > 0 && p.step == p.total_steps;
    if (phase == state->phase && !last_step && absl::Now() - state->last < absl::Seconds(2)) return;
    state->phase = phase;
    state->last = absl::Now();
    std::string line = absl::StrFormat("progress: %s", kNames[phase]);
    if (p.total_steps > 0)
      absl::StrAppendFormat(&line, " %lld/%lld", static_cast<long long>(p.step),
                            static_cast<long long>(p.total_steps));
    if (p.loss != 0) absl::StrAppendFormat(&line, " loss %.5g", p.loss);
    std::printf("%s (%.0f s)\n", line.c_str(), absl::ToDoubleSeconds(watch.Elapsed()));
    std::fflush(stdout);
  };
  return hooks;
}

// The decoded features' scores per layer and, when measured, the units'
// decodability.
void PrintFeatureEvaluation(const core::ModelManifest& m) {
  const auto& e = m.evaluation;
  for (const auto& l : m.feature_layers) {
    auto get = [&](const std::map<std::string, double>& mm, const std::string& k) {
      auto it = mm.find(k + "." + l.name);
      return it == mm.end() ? std::nan("") : it->second;
    };
    std::printf(
        "%s split (%d samples), layer %s (%lld units): feature PCC %.3f, "
        "NMSE %.3f, identification %.3f; mean features: PCC %.3f, NMSE %.3f\n",
        e.split.c_str(), e.num_samples, l.name.c_str(), static_cast<long long>(l.size),
        get(e.metrics, "feature_pcc"), get(e.metrics, "nmse"), get(e.metrics, "identification"),
        get(e.baseline_metrics, "feature_pcc"), get(e.baseline_metrics, "nmse"));
  }
  if (m.top_k_units > 0) {
    std::printf("unit decodability (held-out PCC, 5-fold CV on the training trials):");
    for (const auto& l : m.feature_layers) {
      auto it = e.metrics.find("cv_unit_pcc." + l.name);
      if (it != e.metrics.end()) std::printf(" %s mean %.3f;", l.name.c_str(), it->second);
    }
    auto top = e.metrics.find("cv_unit_pcc.top_k");
    std::printf(" %s %lld units mean %.3f (ranked in %s)\n",
                m.top_k_units == m.num_outputs() ? "all" : "top",
                static_cast<long long>(m.top_k_units),
                top == e.metrics.end() ? std::nan("") : top->second, core::kTopUnitsFile);
  }
}

// The reconstructions' scores against the mean image, within-class
// identification, and a warning when the reconstructions collapsed.
void PrintImageEvaluation(const core::ModelManifest::Evaluation& e) {
  if (!e.metrics.count("pcc") || !e.metrics.count("identification_ssim")) return;
  std::printf(
      "%s split (%d samples): PCC %.3f, SSIM-11g %.3f, identification %.3f "
      "(PCC) %.3f "
      "(SSIM); mean image: PCC %.3f\n",
      e.split.c_str(), e.num_samples, e.metrics.at("pcc"), e.metrics.at("ssim"),
      e.metrics.at("identification_pcc"), e.metrics.at("identification_ssim"),
      e.baseline_metrics.at("pcc"));
  const core::ImageScores s = core::ImageScores::FromMap(e.metrics);
  if (!std::isnan(s.identification_pcc_within_class))
    std::printf("  within-class identification (pairs of stimuli with the same label): %.3f\n",
                s.identification_pcc_within_class);
  if (s.Collapsed()) std::printf("  WARNING: %s\n", s.CollapseWarning().c_str());
}

}  // namespace

absl::Status RunTrain(const TrainOptions& o) {
  ASSIGN_OR_RETURN(const auto description, worker::ReadDatasetDescription(o.dataset));
  ASSIGN_OR_RETURN(const std::string spec_text, worker::PipelineSpecText(o.spec));
  ASSIGN_OR_RETURN(const auto spec, worker::ParsePipelineSpec(spec_text));
  if (o.spec.empty())
    std::printf(
        "no --spec: the default pipeline (ridge to pixels, z-scored voxels, alpha by "
        "5-fold cross-validation)\n");
  ASSIGN_OR_RETURN(
      const core::DatasetOptions dataset_options,
      worker::ToDatasetOptions(description, worker::DescriptionDataRoot(o.dataset, o.data_root)));
  core::TrainRequest request;
  request.model_name = o.model.empty() ? "cv" : o.model;
  request.spec_text = spec_text;
  RETURN_IF_ERROR(worker::ToTrainRequest(spec, &request));
  std::printf("loading %s from %s\n", description.name().c_str(), dataset_options.file.c_str());
  ASSIGN_OR_RETURN(const core::Dataset dataset, core::LoadDataset(dataset_options));
  // The rules the service applies (betas stored voxels x samples were
  // already named by LoadDataset).
  spec::DatasetFacts facts;
  facts.name = description.name();
  facts.num_voxels = dataset.train.betas.cols();
  facts.has_unpaired_images = dataset.unpaired.rows() > 0;
  RETURN_IF_ERROR(spec::ValidateForDataset(spec, facts));
  RETURN_IF_ERROR(spec::ValidateStoredParts(spec, o.repo));
  if (o.cv != 0) return RunCrossValidation(dataset, request, o.repo, o.cv);
  ASSIGN_OR_RETURN(auto repo, core::ModelRepository::Open({o.repo, /*create=*/true}));
  core::Stopwatch watch;
  ASSIGN_OR_RETURN(const core::ModelManifest m,
                   core::TrainModel(dataset, request, *repo, LocalProgressHooks(watch)));
  std::printf("trained %s version %lld in %.2f s (fit %.3f s): %s\n", m.name.c_str(),
              static_cast<long long>(m.version), absl::ToDoubleSeconds(watch.Elapsed()),
              m.fit_seconds, m.description.c_str());
  for (const auto& h : m.evaluation.hyperparameters)
    std::printf("%s", HyperparameterTable(h.name, h.chosen, h.folds, h.grid, h.error).c_str());
  if (m.target == "features") PrintFeatureEvaluation(m);
  PrintImageEvaluation(m.evaluation);
  return absl::OkStatus();
}

}  // namespace v2p::client
