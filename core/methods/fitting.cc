#include "core/methods/fitting.h"

#include <filesystem>

#include "absl/strings/str_cat.h"
#include "core/base/log.h"
#include "core/base/status_macros.h"
#include "core/data/npy.h"
#include "core/pipeline/model_repository.h"
#include "core/pipeline/trainer.h"

namespace v2p::core {
namespace {

namespace fs = std::filesystem;

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

absl::StatusOr<std::unique_ptr<RidgeDecoder>> FitWithSteps(const DatasetSplit& fit,
                                                           const Eigen::MatrixXd& targets,
                                                           const RidgeDecoder::Options& ridge,
                                                           const TrainHooks& hooks) {
  ASSIGN_OR_RETURN(auto fitter, RidgeDecoder::Fitter::Create(fit.betas, targets, ridge));
  const int n = fitter->num_steps();
  if (!hooks.checkpoint_dir.empty()) fs::create_directories(hooks.checkpoint_dir);
  std::vector<Eigen::MatrixXd> steps = LoadCheckpoints(hooks.checkpoint_dir, n);
  TrainingProgress progress;
  progress.total_steps = n;
  progress.step = progress.resumed_from_step = static_cast<int64_t>(steps.size());
  if (!steps.empty()) LogInfo("train", "resuming from checkpoint at step ", steps.size(), "/", n);
  hooks.Report(progress);
  for (int s = static_cast<int>(steps.size()); s < n; ++s) {
    if (hooks.cancelled())
      return absl::CancelledError(absl::StrCat("training cancelled at step ", s, "/", n));
    ASSIGN_OR_RETURN(Eigen::MatrixXd wb, fitter->FitStep(s));
    if (!hooks.checkpoint_dir.empty()) RETURN_IF_ERROR(SaveCheckpoint(hooks.checkpoint_dir, s, wb));
    progress.step = s + 1;
    progress.loss = fitter->StepObjective(s, wb);
    steps.push_back(std::move(wb));
    hooks.Report(progress);
  }
  return fitter->Finish(steps);
}

// Ridge's alpha by k-fold CV on the fitted trials (ridge_cv.h), one
// progress step per fit, logged and returned for the manifest.
absl::StatusOr<Hyperparameter> ChooseAlpha(const DatasetSplit& fit, const Eigen::MatrixXd& targets,
                                           const RidgeFitOptions& p, const TrainHooks& hooks) {
  RidgeCvOptions o = p.alpha_cv;
  TrainingProgress progress;
  progress.total_steps =
      static_cast<int64_t>(o.grid.empty() ? DefaultAlphaGrid().size() : o.grid.size()) * o.folds;
  hooks.Report(progress);
  o.on_fit = [&](int done, int) {
    progress.step = done;
    hooks.Report(progress);
  };
  o.is_cancelled = hooks.is_cancelled;
  ASSIGN_OR_RETURN(const RidgeCvResult cv, ChooseRidgeAlpha(fit.betas, targets, p.ridge, o));
  Hyperparameter h;
  h.name = "ridge.alpha";
  h.chosen = cv.alpha;
  h.folds = cv.folds;
  h.grid = cv.grid;
  h.error = cv.error;
  std::string curve;
  for (size_t i = 0; i < cv.grid.size(); ++i)
    absl::StrAppend(&curve, i ? ", " : "", cv.grid[i], ": ", cv.error[i]);
  LogInfo("train", "alpha by ", cv.folds, "-fold CV on ", fit.betas.rows(),
          " trials (held-out MSE: ", curve, "): chose ", cv.alpha);
  return h;
}

}  // namespace

std::string RidgeText(const RidgeFitOptions& o, bool with_preprocessing) {
  const auto& r = o.ridge.regression;
  const double alpha = r.alpha;
  // "alpha=1000", "alpha=1000 by 5-fold CV" once chosen, "alpha by 5-fold
  // CV" before.
  const std::string alpha_text =
      !o.choose_alpha ? absl::StrCat("alpha=", alpha)
                      : absl::StrCat("alpha", alpha > 0 ? absl::StrCat("=", alpha) : "", " by ",
                                     o.alpha_cv.folds, "-fold CV");
  std::string text = absl::StrCat("ridge(", alpha_text,
                                  ", n_feat=", r.n_feat == 0 ? "all" : absl::StrCat(r.n_feat));
  if (with_preprocessing)
    absl::StrAppend(&text, o.ridge.standardize_voxels ? ", z-scored voxels" : "",
                    o.ridge.penalize_intercept ? ", penalised bias" : "");
  return text;
}

absl::StatusOr<std::unique_ptr<RidgeDecoder>> FitRidge(const DatasetSplit& fit,
                                                       const Eigen::MatrixXd& targets,
                                                       RidgeFitOptions* o, const TrainHooks& hooks,
                                                       std::vector<Hyperparameter>* chosen) {
  if (o->choose_alpha) {
    ASSIGN_OR_RETURN(Hyperparameter h, ChooseAlpha(fit, targets, *o, hooks));
    o->ridge.regression.alpha = h.chosen;
    chosen->push_back(std::move(h));
  }
  return FitWithSteps(fit, targets, o->ridge, hooks);
}

absl::StatusOr<std::unique_ptr<RidgeDecoder>> FitSmr(const DatasetSplit& fit,
                                                     const Eigen::MatrixXd& targets,
                                                     const SmrFitOptions& p,
                                                     const TrainHooks& hooks) {
  const std::vector<int> voxels = SelectVoxelsByCorrelation(fit.betas, targets, p.voxels);
  Eigen::MatrixXd x(fit.betas.rows(), voxels.size());
  for (size_t j = 0; j < voxels.size(); ++j) x.col(j) = fit.betas.col(voxels[j]);
  SmrOptions o = p.smr;
  TrainingProgress progress;
  progress.total_steps = o.max_iterations;
  hooks.Report(progress);
  o.on_iteration = [&](int it, double objective) {
    progress.step = it;
    progress.loss = objective;
    hooks.Report(progress);
  };
  o.is_cancelled = hooks.is_cancelled;
  ASSIGN_OR_RETURN(auto solver, SmrSolver::Create(x, targets, o));
  RETURN_IF_ERROR(solver->Fit());
  const Eigen::MatrixXd w_sel = solver->weights();
  Eigen::MatrixXd w = Eigen::MatrixXd::Zero(fit.betas.cols(), targets.cols());
  for (size_t j = 0; j < voxels.size(); ++j) w.row(voxels[j]) = w_sel.row(j);
  LogInfo("train", "SMR ", p.variant, ": ", solver->objectives().size() - 1,
          " iterations, objective ", solver->objectives().front(), " -> ",
          solver->objectives().back());
  return RidgeDecoder::FromLinearMap(w, solver->bias());
}

absl::StatusOr<StoredFeatureNetwork> LoadStoredFeatureNetwork(
    const std::string& root, const std::string& name, int64_t version, const Dataset& dataset,
    const std::vector<std::string>& layers) {
  StoredFeatureNetwork s;
  ASSIGN_OR_RETURN(auto nets, OpenFeatureNetworkRepository(root, false));
  ASSIGN_OR_RETURN(const int64_t nv, nets->ResolveVersion(name, version));
  ASSIGN_OR_RETURN(s.dir, nets->VerifiedVersionDir(name, nv));
  s.id = absl::StrCat(name, "/", nv);
  ASSIGN_OR_RETURN(s.network, FeatureNetwork::Load(s.dir));
  // Stimuli of another size are resized to the network's input.
  if (s.network->input_shape().channels != dataset.image.channels)
    return absl::InvalidArgumentError(
        absl::StrCat("feature network ", s.id, " takes ", s.network->input_shape().channels,
                     "-channel images; dataset ", dataset.name, " has ", dataset.image.channels,
                     "-channel ones"));
  if (layers.empty())
    return absl::InvalidArgumentError("a features pipeline names at least one layer");
  for (const auto& layer : layers) {
    ASSIGN_OR_RETURN(const FeatureLayerInfo info, s.network->Layer(layer));
    s.layers.push_back({info.name, info.shape, info.size});
  }
  return s;
}

absl::StatusOr<std::vector<std::string>> StoredFeatureNetworkLayers(const std::string& root,
                                                                    const std::string& name,
                                                                    int64_t version) {
  ASSIGN_OR_RETURN(auto nets, OpenFeatureNetworkRepository(root, false));
  ASSIGN_OR_RETURN(const int64_t nv, nets->ResolveVersion(name, version));
  ASSIGN_OR_RETURN(const std::string dir, nets->VerifiedVersionDir(name, nv));
  ASSIGN_OR_RETURN(auto network, FeatureNetwork::Load(dir));
  std::vector<std::string> names;
  for (const auto& l : network->layers()) names.push_back(l.name);
  return names;
}

absl::StatusOr<Eigen::MatrixXd> LayerTargets(const FeatureNetwork& network,
                                             const Eigen::MatrixXd& stimuli, ImageShape shape,
                                             const std::vector<std::string>& layers) {
  ASSIGN_OR_RETURN(const Eigen::MatrixXf f,
                   network.ExtractConcatenated(stimuli.cast<float>(), shape, layers));
  return Eigen::MatrixXd(f.cast<double>());
}

std::function<void(int, double)> GeneratorProgress(const TrainHooks& hooks, int epochs,
                                                   int resumed_from) {
  TrainingProgress progress;
  progress.phase = TrainingProgress::Phase::kTrainingGenerator;
  progress.total_steps = epochs;
  progress.step = progress.resumed_from_step = resumed_from;
  hooks.Report(progress);
  return [&hooks, progress](int epoch, double loss) mutable {
    progress.step = epoch;
    progress.loss = loss;
    hooks.Report(progress);
  };
}

absl::Status CopyTree(const std::string& from, const std::string& to, const std::string& what) {
  std::error_code ec;
  fs::copy(from, to, fs::copy_options::recursive, ec);
  if (ec) return absl::InternalError(absl::StrCat("copying the ", what, ": ", ec.message()));
  return absl::OkStatus();
}

absl::StatusOr<std::vector<int>> ReadIndices(const std::string& path, int64_t expected) {
  auto a = ReadNpy(path);
  if (!a.ok()) return absl::DataLossError(a.status().message());
  auto m = a->AsMatrix();
  if (!m.ok() || m->size() != expected)
    return absl::DataLossError(
        absl::StrCat(fs::path(path).filename().string(), " does not hold ", expected, " units"));
  std::vector<int> indices;
  for (Eigen::Index i = 0; i < m->size(); ++i) indices.push_back(static_cast<int>((*m)(i)));
  return indices;
}

absl::Status WriteIndices(const std::string& path, const std::vector<int>& indices) {
  Eigen::MatrixXd m(1, indices.size());
  for (size_t i = 0; i < indices.size(); ++i) m(0, i) = indices[i];
  return WriteNpyFloat64(path, m);
}

}  // namespace v2p::core
