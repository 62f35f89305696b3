#include "core/base/files.h"
#include "core/pipeline/trainer.h"

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <random>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "core/base/log.h"
#include "core/base/status_macros.h"
#include "core/data/image.h"
#include "core/data/npy.h"
#include "core/evaluation/metrics.h"
#include "core/evaluation/report.h"
#include "core/generation/identity_generator.h"
#include "core/pipeline/pipeline.h"

namespace v2p::core {
namespace {

namespace fs = std::filesystem;

DatasetSplit Rows(const DatasetSplit& s, const std::vector<Eigen::Index>& rows) {
  DatasetSplit out;
  out.betas.resize(rows.size(), s.betas.cols());
  out.stimuli.resize(rows.size(), s.stimuli.cols());
  if (s.labels.size() > 0) out.labels.resize(rows.size());
  for (size_t i = 0; i < rows.size(); ++i) {
    out.betas.row(i) = s.betas.row(rows[i]);
    if (s.stimuli.size() > 0) out.stimuli.row(i) = s.stimuli.row(rows[i]);
    if (s.labels.size() > 0) out.labels(i) = s.labels(rows[i]);
  }
  return out;
}

std::string StepFile(const std::string& dir, int step) {
  return absl::StrCat(dir, "/step_", step, ".npy");
}

// Loads the consecutive steps 0..k-1 already checkpointed.
std::vector<Eigen::MatrixXd> LoadCheckpoints(const std::string& dir, int num_steps) {
  std::vector<Eigen::MatrixXd> steps;
  if (dir.empty()) return steps;
  for (int s = 0; s < num_steps; ++s) {
    auto a = ReadNpy(StepFile(dir, s));
    if (!a.ok()) break;
    auto m = a->AsMatrix();
    if (!m.ok()) break;
    steps.push_back(*std::move(m));
  }
  return steps;
}

// Written under a temporary name and renamed, so that a worker killed
// mid-write leaves either the whole step or none of it.
absl::Status SaveCheckpoint(const std::string& dir, int step, const Eigen::MatrixXd& wb) {
  const std::string tmp = StepFile(dir, step) + ".tmp";
  RETURN_IF_ERROR(WriteNpyFloat64(tmp, wb));
  std::error_code ec;
  fs::rename(tmp, StepFile(dir, step), ec);
  if (ec) return absl::InternalError(absl::StrCat("checkpoint rename: ", ec.message()));
  return absl::OkStatus();
}

void Report(const TrainHooks& hooks, const TrainingProgress& p) {
  if (hooks.on_progress) hooks.on_progress(p);
}

absl::StatusOr<std::unique_ptr<RidgeDecoder>> FitWithSteps(const DatasetSplit& fit,
                                                           const PipelineOptions& p,
                                                           const TrainHooks& hooks) {
  ASSIGN_OR_RETURN(auto fitter, RidgeDecoder::Fitter::Create(fit.betas, fit.stimuli, p.ridge));
  const int n = fitter->num_steps();
  if (!hooks.checkpoint_dir.empty()) fs::create_directories(hooks.checkpoint_dir);
  std::vector<Eigen::MatrixXd> steps = LoadCheckpoints(hooks.checkpoint_dir, n);
  TrainingProgress progress;
  progress.total_steps = n;
  progress.step = progress.resumed_from_step = static_cast<int64_t>(steps.size());
  if (!steps.empty()) LogInfo("train", "resuming from checkpoint at step ", steps.size(), "/", n);
  Report(hooks, progress);
  for (int s = static_cast<int>(steps.size()); s < n; ++s) {
    if (hooks.is_cancelled && hooks.is_cancelled()) {
      return absl::CancelledError(absl::StrCat("training cancelled at step ", s, "/", n));
    }
    ASSIGN_OR_RETURN(Eigen::MatrixXd wb, fitter->FitStep(s));
    if (!hooks.checkpoint_dir.empty()) RETURN_IF_ERROR(SaveCheckpoint(hooks.checkpoint_dir, s, wb));
    progress.step = s + 1;
    progress.loss = fitter->StepObjective(s, wb);
    steps.push_back(std::move(wb));
    Report(hooks, progress);
  }
  return fitter->Finish(steps);
}

}  // namespace

void SplitForValidation(const DatasetSplit& train, double fraction, uint64_t seed,
                        DatasetSplit* fit, DatasetSplit* validation) {
  const Eigen::Index n = train.betas.rows();
  std::vector<Eigen::Index> order(n);
  for (Eigen::Index i = 0; i < n; ++i) order[i] = i;
  std::mt19937_64 rng(seed);
  for (Eigen::Index i = n - 1; i > 0; --i) {
    const Eigen::Index j = static_cast<Eigen::Index>(rng() % static_cast<uint64_t>(i + 1));
    std::swap(order[i], order[j]);
  }
  const Eigen::Index held = static_cast<Eigen::Index>(std::llround(fraction * n));
  std::vector<Eigen::Index> val(order.begin(), order.begin() + held);
  std::vector<Eigen::Index> rest(order.begin() + held, order.end());
  std::sort(val.begin(), val.end());
  std::sort(rest.begin(), rest.end());
  *validation = Rows(train, val);
  *fit = Rows(train, rest);
}

std::string DescribePipeline(const PipelineOptions& o, ImageShape image) {
  const auto& r = o.ridge.regression;
  return absl::StrCat("ridge(alpha=", r.alpha,
                      ", n_feat=", r.n_feat == 0 ? "all" : absl::StrCat(r.n_feat),
                      o.ridge.standardize_voxels ? ", z-scored voxels" : "",
                      o.ridge.penalize_intercept ? ", penalised bias" : "", ") -> pixels ",
                      image.height, "x", image.width, "x", image.channels, " -> identity",
                      o.clip_output ? ", clipped to [0,1]" : "");
}

absl::StatusOr<ModelManifest> TrainModel(const Dataset& dataset, const TrainRequest& request,
                                         ModelRepository& repository, const TrainHooks& hooks) {
  RETURN_IF_ERROR(ValidateModelName(request.model_name));
  if (!(request.validation_split >= 0 && request.validation_split <= 0.5)) {
    return absl::InvalidArgumentError(absl::StrCat("validation_split ", request.validation_split,
                                                   " is outside [0, 0.5]"));
  }
  const PipelineOptions& p = request.pipeline;
  DatasetSplit fit = dataset.train, eval = dataset.test;
  std::string eval_name = "test";
  if (request.validation_split > 0) {
    SplitForValidation(dataset.train, request.validation_split, request.seed, &fit, &eval);
    eval_name = "validation";
  }
  LogInfo("train", "fitting ", DescribePipeline(p, dataset.image), " on ", fit.betas.rows(),
          " samples x ", fit.betas.cols(), " voxels");
  ASSIGN_OR_RETURN(std::unique_ptr<RidgeDecoder> decoder, FitWithSteps(fit, p, hooks));

  ModelManifest m;
  m.name = request.model_name;
  m.dataset = dataset.name;
  m.create_time = absl::Now();
  m.num_voxels = decoder->num_voxels();
  m.image = dataset.image;
  m.decoder = "ridge";
  m.generator = "identity";
  m.clip_output = p.clip_output;
  m.description = DescribePipeline(p, dataset.image);
  if (!p.note.empty()) m.description += absl::StrCat(" — ", p.note);

  TrainingProgress progress;
  progress.phase = TrainingProgress::Phase::kEvaluating;
  Report(hooks, progress);
  // Score through the same Run() path the worker serves.
  const RidgeDecoder& fitted = *decoder;
  ASSIGN_OR_RETURN(auto pipeline,
                   Pipeline::Create(m, std::move(decoder),
                                    std::make_unique<const IdentityGenerator>(dataset.image)));
  m.evaluation.split = eval_name;
  m.evaluation.num_samples = static_cast<int>(eval.betas.rows());
  m.evaluation.ssim_definition = kSsimDefinition;
  if (eval.betas.rows() > 0 && eval.stimuli.rows() == eval.betas.rows()) {
    RunOptions no_png;
    no_png.encode_png = false;
    ASSIGN_OR_RETURN(auto recs, pipeline->Run(eval.betas.cast<float>(), no_png));
    Eigen::MatrixXd rec(recs.size(), dataset.image.num_pixels());
    for (size_t i = 0; i < recs.size(); ++i) {
      rec.row(i) = recs[i].pixels.cast<double>().transpose();
    }
    ASSIGN_OR_RETURN(ImageScores scores, ScoreReconstructions(rec, eval.stimuli, dataset.image));
    ASSIGN_OR_RETURN(ImageScores base, ScoreReconstructions(MeanImageBaseline(fit.stimuli, rec.rows()),
                                                            eval.stimuli, dataset.image));
    m.evaluation.metrics = scores.ToMap();
    m.evaluation.baseline_metrics = base.ToMap();
    LogInfo("train", eval_name, " split: pcc ", scores.pcc, ", ssim ", scores.ssim,
            ", identification(pcc) ", scores.identification_pcc, " (mean image: pcc ", base.pcc,
            ")");
  }

  progress.phase = TrainingProgress::Phase::kSaving;
  Report(hooks, progress);
  if (hooks.before_commit) RETURN_IF_ERROR(hooks.before_commit());
  ASSIGN_OR_RETURN(const int64_t version,
                   repository.CommitVersion(m.name, [&](const std::string& dir) -> absl::Status {
                     RETURN_IF_ERROR(fitted.Save(dir));
                     RETURN_IF_ERROR(WriteFile(dir + "/" + kSpecFile, request.spec_text));
                     RETURN_IF_ERROR(WriteNpyFloat32(
                         dir + "/" + kMeanImageFile,
                         Eigen::MatrixXf(fit.stimuli.colwise().mean().cast<float>())));
                     return WriteManifest(dir + "/" + kManifestFile, m);
                   }));
  m.version = version;
  LogInfo("train", "committed ", m.name, " version ", version, " in ", repository.root());
  return m;
}

}  // namespace v2p::core
