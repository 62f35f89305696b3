#include "core/pipeline/trainer.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <random>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/time/clock.h"
#include "core/base/files.h"
#include "core/base/log.h"
#include "core/base/status_macros.h"
#include "core/data/image.h"
#include "core/data/npy.h"
#include "core/decoding/map_decoder.h"
#include "core/decoding/unit_decodability.h"
#include "core/evaluation/identification.h"
#include "core/evaluation/metrics.h"
#include "core/evaluation/report.h"
#include "core/features/feature_network.h"
#include "core/features/pca.h"
#include "Eigen/Cholesky"
#include "core/generation/gan.h"
#include "core/generation/icg.h"
#include "core/generation/identity_generator.h"
#include "core/pipeline/pipeline.h"

namespace v2p::core {
namespace {

namespace fs = std::filesystem;

std::string StepFile(const std::string& dir, int step) {
  return absl::StrCat(dir, "/step_", step, ".npy");
}

// Loads the consecutive steps 0..k-1 already checkpointed.
std::vector<Eigen::MatrixXd> LoadCheckpoints(const std::string& dir,
                                             int num_steps) {
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
absl::Status SaveCheckpoint(const std::string& dir, int step,
                            const Eigen::MatrixXd& wb) {
  const std::string tmp = StepFile(dir, step) + ".tmp";
  RETURN_IF_ERROR(WriteNpyFloat64(tmp, wb));
  std::error_code ec;
  fs::rename(tmp, StepFile(dir, step), ec);
  if (ec)
    return absl::InternalError(
        absl::StrCat("checkpoint rename: ", ec.message()));
  return absl::OkStatus();
}

void Report(const TrainHooks& hooks, const TrainingProgress& p) {
  if (hooks.on_progress) hooks.on_progress(p);
}

absl::StatusOr<std::unique_ptr<RidgeDecoder>> FitWithSteps(
    const DatasetSplit& fit, const Eigen::MatrixXd& targets,
    const PipelineOptions& p, const TrainHooks& hooks) {
  ASSIGN_OR_RETURN(auto fitter,
                   RidgeDecoder::Fitter::Create(fit.betas, targets, p.ridge));
  const int n = fitter->num_steps();
  if (!hooks.checkpoint_dir.empty())
    fs::create_directories(hooks.checkpoint_dir);
  std::vector<Eigen::MatrixXd> steps = LoadCheckpoints(hooks.checkpoint_dir, n);
  TrainingProgress progress;
  progress.total_steps = n;
  progress.step = progress.resumed_from_step =
      static_cast<int64_t>(steps.size());
  if (!steps.empty())
    LogInfo("train", "resuming from checkpoint at step ", steps.size(), "/", n);
  Report(hooks, progress);
  for (int s = static_cast<int>(steps.size()); s < n; ++s) {
    if (hooks.is_cancelled && hooks.is_cancelled()) {
      return absl::CancelledError(
          absl::StrCat("training cancelled at step ", s, "/", n));
    }
    ASSIGN_OR_RETURN(Eigen::MatrixXd wb, fitter->FitStep(s));
    if (!hooks.checkpoint_dir.empty())
      RETURN_IF_ERROR(SaveCheckpoint(hooks.checkpoint_dir, s, wb));
    progress.step = s + 1;
    progress.loss = fitter->StepObjective(s, wb);
    steps.push_back(std::move(wb));
    Report(hooks, progress);
  }
  return fitter->Finish(steps);
}

// Ridge's alpha by k-fold CV on the fitted trials (ridge_cv.h), one
// progress step per fit, logged and returned for the manifest.
using Hyperparameter = ModelManifest::Evaluation::Hyperparameter;

absl::StatusOr<Hyperparameter> ChooseAlpha(const DatasetSplit& fit, const Eigen::MatrixXd& targets,
                                           const PipelineOptions& p, const TrainHooks& hooks) {
  RidgeCvOptions o = p.alpha_cv;
  TrainingProgress progress;
  progress.total_steps =
      static_cast<int64_t>(o.grid.empty() ? DefaultAlphaGrid().size() : o.grid.size()) * o.folds;
  Report(hooks, progress);
  o.on_fit = [&](int done, int) {
    progress.step = done;
    Report(hooks, progress);
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

// SMR (Du et al. 2020) on the voxels most correlated with the targets;
// the other voxels get weight 0. One progress step per outer iteration.
absl::StatusOr<std::unique_ptr<RidgeDecoder>> FitSmr(
    const DatasetSplit& fit, const Eigen::MatrixXd& targets,
    const PipelineOptions& p, const TrainHooks& hooks) {
  const std::vector<int> voxels =
      SelectVoxelsByCorrelation(fit.betas, targets, p.smr_voxels);
  Eigen::MatrixXd x(fit.betas.rows(), voxels.size());
  for (size_t j = 0; j < voxels.size(); ++j)
    x.col(j) = fit.betas.col(voxels[j]);
  SmrOptions o = p.smr;
  TrainingProgress progress;
  progress.total_steps = o.max_iterations;
  Report(hooks, progress);
  o.on_iteration = [&](int it, double objective) {
    progress.step = it;
    progress.loss = objective;
    Report(hooks, progress);
  };
  o.is_cancelled = hooks.is_cancelled;
  ASSIGN_OR_RETURN(auto solver, SmrSolver::Create(x, targets, o));
  RETURN_IF_ERROR(solver->Fit());
  const Eigen::MatrixXd w_sel = solver->weights();
  Eigen::MatrixXd w = Eigen::MatrixXd::Zero(fit.betas.cols(), targets.cols());
  for (size_t j = 0; j < voxels.size(); ++j) w.row(voxels[j]) = w_sel.row(j);
  LogInfo("train", "SMR ", p.smr_variant, ": ", solver->objectives().size() - 1,
          " iterations, objective ", solver->objectives().front(), " -> ",
          solver->objectives().back());
  return RidgeDecoder::FromLinearMap(w, solver->bias());
}

// Features of `layers` for each stimulus row (images of `shape`, resized to
// the network's input), concatenated in order.
absl::StatusOr<Eigen::MatrixXd> LayerTargets(
    const FeatureNetwork& network, const Eigen::MatrixXd& stimuli, ImageShape shape,
    const std::vector<std::string>& layers) {
  ASSIGN_OR_RETURN(const Eigen::MatrixXf f,
                   network.ExtractConcatenated(stimuli.cast<float>(), shape, layers));
  return Eigen::MatrixXd(f.cast<double>());
}

// Reports the start of the kTrainingGenerator phase and returns the
// per-epoch reporter (epoch, loss) for the generator's on_epoch.
std::function<void(int, double)> GeneratorProgress(const TrainHooks& hooks, int epochs) {
  TrainingProgress progress;
  progress.phase = TrainingProgress::Phase::kTrainingGenerator;
  progress.total_steps = epochs;
  Report(hooks, progress);
  return [&hooks, progress](int epoch, double loss) mutable {
    progress.step = epoch;
    progress.loss = loss;
    Report(hooks, progress);
  };
}

// Trains the job's generator (PipelineOptions::train_generator): images are
// the dataset's unpaired images and the fitted trials' stimuli, conditions
// their features (the top-k decodable units when generator_top_k > 0,
// whose indices go to *units).
absl::StatusOr<std::unique_ptr<IcgGenerator>> TrainGeneratorInJob(
    const Dataset& dataset, const DatasetSplit& fit, const FeatureNetwork& network,
    const PipelineOptions& p, const Eigen::VectorXd& decodability, const TrainHooks& hooks,
    std::vector<int>* units) {
  ASSIGN_OR_RETURN(const GeneratorImages g,
                   GeneratorTrainingImages(dataset, fit, p.generator_uses_training_stimuli,
                                           2 * p.generator_training.batch_size));
  const Eigen::MatrixXf& images = g.images;
  ASSIGN_OR_RETURN(Eigen::MatrixXf conditions,
                   network.ExtractConcatenated(images, dataset.image, p.feature_layers));
  if (p.generator_top_k > 0) {
    if (decodability.size() != conditions.cols())
      return absl::InvalidArgumentError(
          "conditioning a generator on the top decodable units needs the unit "
          "decodability (decodability folds >= 2)");
    *units = TopDecodableUnits(decodability, p.generator_top_k);
    Eigen::MatrixXf top(conditions.rows(), units->size());
    for (size_t j = 0; j < units->size(); ++j) top.col(j) = conditions.col((*units)[j]);
    conditions = std::move(top);
  }
  LogInfo("train", "training generator ", p.generator_training.kind, " on ", images.rows(),
          " images (", g.source, "), condition ", conditions.cols(), " units, ",
          p.generator_training.epochs, " epochs");
  IcgOptions o = p.generator_training;
  auto report = GeneratorProgress(hooks, o.epochs);
  o.on_epoch = [&](const IcgEpoch& e) { report(e.epoch, e.reconstruction); };
  o.is_cancelled = hooks.is_cancelled;
  ASSIGN_OR_RETURN(auto trainer, IcgTrainer::Create(images, conditions, dataset.image, o));
  RETURN_IF_ERROR(trainer->Train());
  return trainer->Finish();
}

// HYPER's GAN trained in the job (PipelineOptions::train_gan) on the
// dataset's generator images; one progress step per epoch.
absl::StatusOr<std::unique_ptr<GanGenerator>> TrainGanInJob(const Dataset& dataset,
                                                            const DatasetSplit& fit,
                                                            const PipelineOptions& p,
                                                            const TrainHooks& hooks) {
  ASSIGN_OR_RETURN(const GeneratorImages g,
                   GeneratorTrainingImages(dataset, fit, true, 2 * p.gan_training.batch_size));
  LogInfo("train", "training GAN (latent ", p.gan_training.latent_size, ", ",
          p.gan_training.epochs, " epochs) on ", g.images.rows(), " images (", g.source, ")");
  GanOptions o = p.gan_training;
  auto report = GeneratorProgress(hooks, o.epochs);
  o.on_epoch = [&](const GanEpoch& e) {
    LogInfo("train", "GAN epoch ", e.epoch, "/", o.epochs, ": L_dis ", e.discriminator,
            ", L_adv ", e.adversarial);
    report(e.epoch, e.adversarial);
  };
  o.is_cancelled = hooks.is_cancelled;
  ASSIGN_OR_RETURN(auto trainer, GanTrainer::Create(g.images, dataset.image, o));
  RETURN_IF_ERROR(trainer->Train());
  return trainer->Finish();
}

struct DandParts {
  std::unique_ptr<RidgeDecoder> decoder;
  std::unique_ptr<PosteriorGanGenerator> generator;
};

// DAND (Güçlütürk et al. 2017): PCA of the layers over the generator's
// images (unpaired + fitted stimuli), whitened; the MAP decoder from betas
// to those components (served as its posterior-mean linear map); the
// paired GAN from components to images, sampling the posterior on request.
// Fills the fit and eval targets with the components.
absl::StatusOr<DandParts> FitDand(const Dataset& dataset, const DatasetSplit& fit,
                                  const DatasetSplit& eval, const FeatureNetwork& network,
                                  const PipelineOptions& p, const TrainHooks& hooks,
                                  Eigen::MatrixXd* fit_targets, Eigen::MatrixXd* eval_targets) {
  ASSIGN_OR_RETURN(const GeneratorImages g,
                   GeneratorTrainingImages(dataset, fit, true, 2 * p.dand_generator.batch_size));
  const Eigen::MatrixXf& images = g.images;
  ASSIGN_OR_RETURN(const Eigen::MatrixXf all_features,
                   network.ExtractConcatenated(images, dataset.image, p.feature_layers));
  PcaOptions po;
  po.explained_variance = p.dand_explained_variance;
  po.whiten = true;
  ASSIGN_OR_RETURN(auto pca, PcaLayer::Fit(all_features.cast<double>(), po));
  LogInfo("train", "DAND: ", pca->num_components(), " components of ",
          absl::StrJoin(p.feature_layers, "+"), " explain ", pca->explained_fraction(),
          " of the variance over ", images.rows(), " images (", g.source, ")");
  auto components = [&](const Eigen::MatrixXd& stimuli) -> absl::StatusOr<Eigen::MatrixXd> {
    ASSIGN_OR_RETURN(const Eigen::MatrixXf f,
                     network.ExtractConcatenated(stimuli.cast<float>(), dataset.image,
                                                 p.feature_layers));
    return pca->Transform(f.cast<double>());
  };
  ASSIGN_OR_RETURN(*fit_targets, components(fit.stimuli));
  if (eval.stimuli.rows() > 0) {
    ASSIGN_OR_RETURN(*eval_targets, components(eval.stimuli));
  }
  MapDecoderOptions mo;
  mo.ridge = p.dand_ridge;
  ASSIGN_OR_RETURN(auto map, MapDecoder::Fit(*fit_targets, fit.betas, mo));
  DandParts parts;
  parts.decoder = RidgeDecoder::FromLinearMap(map->mean_map(),
                                              -map->response_mean() * map->mean_map());
  // The generator learns from every image's own components.
  ASSIGN_OR_RETURN(const Eigen::MatrixXd all_components, pca->Transform(all_features.cast<double>()));
  GanOptions go = p.dand_generator;
  if (go.lambda_fea > 0) {
    RETURN_IF_ERROR(network.Layer(go.feature_layer).status());
    go.feature_network = &network;
  }
  auto report = GeneratorProgress(hooks, go.epochs);
  go.on_epoch = [&](const GanEpoch& e) {
    LogInfo("train", "DAND GAN epoch ", e.epoch, "/", go.epochs, ": L_dis ", e.discriminator,
            ", L_adv ", e.adversarial, ", L_sti ", e.stimulus,
            go.feature_network != nullptr ? absl::StrCat(", L_fea ", e.feature) : "");
    report(e.epoch, e.stimulus);
  };
  go.is_cancelled = hooks.is_cancelled;
  ASSIGN_OR_RETURN(auto trainer, GanTrainer::CreatePaired(images, all_components.cast<float>(),
                                                          dataset.image, go));
  RETURN_IF_ERROR(trainer->Train());
  Eigen::LLT<Eigen::MatrixXd> llt(map->PosteriorCovariance());
  ASSIGN_OR_RETURN(parts.generator,
                   PosteriorGanGenerator::Create(trainer->Finish(), llt.matrixL()));
  return parts;
}

}  // namespace

std::map<std::string, double> ScoreFeatures(
    const Eigen::MatrixXd& predicted, const Eigen::MatrixXd& truth,
    const Eigen::RowVectorXd& train_mean,
    const std::vector<ModelManifest::FeatureLayer>& layers) {
  std::map<std::string, double> m;
  double err = 0, var = 0, pcc_sum = 0;
  Eigen::Index at = 0;
  for (const auto& l : layers) {
    const Eigen::MatrixXd p = predicted.middleCols(at, l.size);
    const Eigen::MatrixXd t = truth.middleCols(at, l.size);
    double pcc = 0;
    for (Eigen::Index i = 0; i < p.rows(); ++i)
      pcc += PixelPcc(p.row(i).transpose(), t.row(i).transpose());
    pcc /= std::max<Eigen::Index>(1, p.rows());
    m["feature_pcc." + l.name] = pcc;
    if (p.rows() > 1) {
      Eigen::MatrixXd sim(p.rows(), p.rows());
      for (Eigen::Index i = 0; i < p.rows(); ++i)
        for (Eigen::Index j = 0; j < p.rows(); ++j)
          sim(i, j) = PixelPcc(p.row(i).transpose(), t.row(j).transpose());
      m["identification." + l.name] = PairwiseIdentification(sim);
    }
    pcc_sum += pcc;
    const double le = (p - t).squaredNorm();
    const double lv =
        (t.rowwise() - train_mean.middleCols(at, l.size)).squaredNorm();
    m["nmse." + l.name] = lv > 0 ? le / lv : 0;
    err += le;
    var += lv;
    at += l.size;
  }
  m["feature_pcc"] = pcc_sum / std::max<size_t>(1, layers.size());
  m["nmse"] = var > 0 ? err / var : 0;
  return m;
}

std::vector<int> SelectVoxelsByCorrelation(const Eigen::MatrixXd& x,
                                           const Eigen::MatrixXd& h, int n) {
  std::vector<int> all(x.cols());
  for (int j = 0; j < x.cols(); ++j) all[j] = j;
  if (n <= 0 || n >= x.cols()) return all;
  const Eigen::MatrixXd xc = x.rowwise() - x.colwise().mean();
  const Eigen::MatrixXd hc = h.rowwise() - h.colwise().mean();
  const Eigen::RowVectorXd xs = xc.colwise().norm().cwiseMax(1e-12);
  const Eigen::RowVectorXd hs = hc.colwise().norm().cwiseMax(1e-12);
  const Eigen::MatrixXd corr =
      ((xc.transpose() * hc).array().colwise() / xs.transpose().array())
          .rowwise() /
      hs.array();
  const Eigen::VectorXd score = corr.cwiseAbs2().rowwise().mean();
  std::partial_sort(all.begin(), all.begin() + n, all.end(),
                    [&](int a, int b) { return score(a) > score(b); });
  all.resize(n);
  std::sort(all.begin(), all.end());
  return all;
}

absl::StatusOr<GeneratorImages> GeneratorTrainingImages(const Dataset& dataset,
                                                        const DatasetSplit& fit, bool with_fit,
                                                        int min_images) {
  GeneratorImages g;
  const Eigen::Index n_unpaired = dataset.unpaired.rows();
  const Eigen::Index n_fit = with_fit ? fit.stimuli.rows() : 0;
  if (n_unpaired > 0) {
    g.images.resize(n_unpaired + n_fit, dataset.image.num_pixels());
    g.images.topRows(n_unpaired) = dataset.unpaired.cast<float>();
    if (n_fit > 0) g.images.bottomRows(n_fit) = fit.stimuli.cast<float>();
    g.source = absl::StrCat(n_unpaired, " unpaired images",
                            n_fit > 0 ? absl::StrCat(" + ", n_fit, " training stimuli") : "");
  } else if (n_fit > 0) {
    const int shift = std::max(1, std::min(dataset.image.height, dataset.image.width) / 14);
    g.images = ShiftedCopies(fit.stimuli.cast<float>(), dataset.image, shift,
                             dataset.mirror_symmetric);
    g.source = absl::StrCat(n_fit, " training stimuli x ", g.images.rows() / n_fit,
                            " (shifted by 0 or +-", shift, " px",
                            dataset.mirror_symmetric ? ", and mirrored" : "",
                            "; the dataset names no unpaired_images)");
  }
  if (g.images.rows() < min_images)
    return absl::InvalidArgumentError(absl::StrCat(
        "training a generator needs at least ", min_images, " images; dataset ", dataset.name,
        " has ", n_unpaired, " unpaired images (name them with unpaired_images in the dataset "
        "description)",
        with_fit ? absl::StrCat(" and ", fit.stimuli.rows(), " training stimuli")
                 : " and the training stimuli are excluded"));
  return g;
}

std::vector<int> ContiguousFolds(const DatasetSplit& trials, int k) {
  const Eigen::Index n = trials.betas.rows();
  std::vector<int> fold(n, 0);
  std::map<int, std::vector<Eigen::Index>> by_label;
  for (Eigen::Index i = 0; i < n; ++i)
    by_label[trials.labels.size() == n ? trials.labels(i) : 0].push_back(i);
  for (const auto& [label, rows] : by_label) {
    const auto m = static_cast<Eigen::Index>(rows.size());
    for (Eigen::Index j = 0; j < m; ++j) fold[rows[j]] = static_cast<int>(j * k / m);
  }
  return fold;
}

void SplitForValidation(const DatasetSplit& train, double fraction,
                        uint64_t seed, DatasetSplit* fit,
                        DatasetSplit* validation) {
  const Eigen::Index n = train.betas.rows();
  std::vector<Eigen::Index> order(n);
  for (Eigen::Index i = 0; i < n; ++i) order[i] = i;
  std::mt19937_64 rng(seed);
  for (Eigen::Index i = n - 1; i > 0; --i) {
    const Eigen::Index j =
        static_cast<Eigen::Index>(rng() % static_cast<uint64_t>(i + 1));
    std::swap(order[i], order[j]);
  }
  const Eigen::Index held =
      static_cast<Eigen::Index>(std::llround(fraction * n));
  std::vector<Eigen::Index> val(order.begin(), order.begin() + held);
  std::vector<Eigen::Index> rest(order.begin() + held, order.end());
  std::sort(val.begin(), val.end());
  std::sort(rest.begin(), rest.end());
  *validation = SplitRows(train, val);
  *fit = SplitRows(train, rest);
}

namespace {

// "alpha=1000", "alpha=1000 by 5-fold CV" once chosen, "alpha by 5-fold CV"
// before.
std::string AlphaText(const PipelineOptions& o) {
  const double alpha = o.ridge.regression.alpha;
  if (!o.choose_alpha) return absl::StrCat("alpha=", alpha);
  return absl::StrCat("alpha", alpha > 0 ? absl::StrCat("=", alpha) : "", " by ",
                      o.alpha_cv.folds, "-fold CV");
}

}  // namespace

std::string DescribePipeline(const PipelineOptions& o, ImageShape image) {
  const auto& r = o.ridge.regression;
  if (o.target == PipelineOptions::Target::kDand)
    return absl::StrCat("MAP posterior -> ", absl::StrJoin(o.feature_layers, "+"), " of ",
                        o.feature_network, " as whitened components (",
                        o.dand_explained_variance * 100, "% variance) -> DAND GAN",
                        o.dand_generator.lambda_fea > 0
                            ? absl::StrCat(" (feature loss ", o.dand_generator.lambda_fea, " on ",
                                           o.dand_generator.feature_layer, ")")
                            : "");
  if (o.target == PipelineOptions::Target::kGanLatent)
    return absl::StrCat("ridge(", AlphaText(o), ", n_feat=",
                        r.n_feat == 0 ? "all" : absl::StrCat(r.n_feat), ") -> latent of GAN ",
                        o.train_gan ? "trained in the job" : o.generator_name,
                        " (stimuli inverted) -> GAN");
  if (o.target == PipelineOptions::Target::kFeatures) {
    const std::string decoder =
        o.decoder == PipelineOptions::Decoder::kSmr
            ? absl::StrCat(
                  o.smr_variant, "(lambda=", o.smr.lambda,
                  ", lambda1=", o.smr.lambda1,
                  o.smr.lambda2 > 0 || o.smr.lambda3 > 0
                      ? absl::StrCat(", l1=", o.smr.lambda2, "/", o.smr.lambda3)
                      : "",
                  ", voxels=",
                  o.smr_voxels == 0 ? "all" : absl::StrCat(o.smr_voxels), ")")
            : absl::StrCat("ridge(", AlphaText(o), ", n_feat=",
                           r.n_feat == 0 ? "all" : absl::StrCat(r.n_feat), ")");
    return absl::StrCat(decoder, " -> features ",
                        absl::StrJoin(o.feature_layers, "+"), " of ",
                        o.feature_network,
                        o.train_generator
                            ? absl::StrCat(" -> ", o.generator_training.kind, " trained in the job",
                                           o.generator_top_k > 0
                                               ? absl::StrCat(" (top ", o.generator_top_k, " units)")
                                               : "")
                        : o.generator_name.empty()
                            ? ""
                            : absl::StrCat(" -> generator ", o.generator_name));
  }
  return absl::StrCat(
      "ridge(", AlphaText(o),
      ", n_feat=", r.n_feat == 0 ? "all" : absl::StrCat(r.n_feat),
      o.ridge.standardize_voxels ? ", z-scored voxels" : "",
      o.ridge.penalize_intercept ? ", penalised bias" : "", ") -> ",
      o.pixel_components_variance > 0
          ? absl::StrCat("eigenimages (", o.pixel_components_variance * 100,
                         "% variance) -> inverse PCA -> ")
          : "",
      "pixels ",
      image.height, "x", image.width, "x", image.channels, " -> identity",
      o.clip_output ? ", clipped to [0,1]" : "");
}

absl::StatusOr<ModelManifest> TrainModel(const Dataset& dataset,
                                         const TrainRequest& request,
                                         ModelRepository& repository,
                                         const TrainHooks& hooks) {
  RETURN_IF_ERROR(ValidateModelName(request.model_name));
  if (!(request.validation_split >= 0 && request.validation_split <= 0.5)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "validation_split ", request.validation_split, " is outside [0, 0.5]"));
  }
  // A copy: a penalty chosen by cross-validation is written into it.
  PipelineOptions p = request.pipeline;
  DatasetSplit fit = dataset.train, eval = dataset.test;
  std::string eval_name = "test";
  if (request.validation_split > 0) {
    SplitForValidation(dataset.train, request.validation_split, request.seed,
                       &fit, &eval);
    eval_name = "validation";
  }
  LogInfo("train", "fitting ", DescribePipeline(p, dataset.image), " on ",
          fit.betas.rows(), " samples x ", fit.betas.cols(), " voxels");
  const bool features = p.target == PipelineOptions::Target::kFeatures;
  const bool dand = p.target == PipelineOptions::Target::kDand;
  Eigen::MatrixXd fit_targets = fit.stimuli, eval_targets = eval.stimuli;
  std::unique_ptr<FeatureNetwork> network;
  std::string network_dir, network_id;
  std::vector<ModelManifest::FeatureLayer> layers;
  if (features || dand) {
    ASSIGN_OR_RETURN(auto nets,
                     OpenFeatureNetworkRepository(repository.root(), false));
    ASSIGN_OR_RETURN(
        const int64_t nv,
        nets->ResolveVersion(p.feature_network, p.feature_network_version));
    network_dir = nets->VersionDir(p.feature_network, nv);
    network_id = absl::StrCat(p.feature_network, "/", nv);
    ASSIGN_OR_RETURN(network, FeatureNetwork::Load(network_dir));
    // Stimuli of another size are resized to the network's input.
    if (network->input_shape().channels != dataset.image.channels)
      return absl::InvalidArgumentError(absl::StrCat(
          "feature network ", network_id, " takes ", network->input_shape().channels,
          "-channel images; dataset ", dataset.name, " has ", dataset.image.channels,
          "-channel ones"));
    if (p.feature_layers.empty())
      return absl::InvalidArgumentError(
          "a features pipeline names at least one layer");
    for (const auto& name : p.feature_layers) {
      ASSIGN_OR_RETURN(const FeatureLayerInfo info, network->Layer(name));
      layers.push_back({info.name, info.shape, info.size});
    }
    ASSIGN_OR_RETURN(fit_targets,
                     LayerTargets(*network, fit.stimuli, dataset.image, p.feature_layers));
    if (eval.stimuli.rows() > 0) {
      ASSIGN_OR_RETURN(eval_targets,
                       LayerTargets(*network, eval.stimuli, dataset.image, p.feature_layers));
    }
  }
  // A stored generator turns the decoded features into an image; it must
  // have been trained on the same network's same layers.
  std::unique_ptr<IcgGenerator> stored;
  std::string generator_dir, generator_id;
  if (features && !p.generator_name.empty()) {
    ASSIGN_OR_RETURN(auto gens, OpenGeneratorRepository(repository.root(), false));
    ASSIGN_OR_RETURN(const int64_t gv, gens->ResolveVersion(p.generator_name, p.generator_version));
    generator_dir = gens->VersionDir(p.generator_name, gv);
    generator_id = absl::StrCat(p.generator_name, "/", gv);
    ASSIGN_OR_RETURN(stored, IcgGenerator::Load(generator_dir));
    ASSIGN_OR_RETURN(const std::string condition,
                     ReadFile(generator_dir + "/" + kGeneratorConditionFile));
    const std::string expected = GeneratorCondition(network_id, p.feature_layers);
    if (condition != expected || stored->input_size() != fit_targets.cols() ||
        !(stored->image_shape() == dataset.image))
      return absl::InvalidArgumentError(absl::StrCat(
          "generator ", generator_id, " was trained on '", absl::StrReplaceAll(condition, {{"\n", "; "}}),
          "' (", stored->input_size(), " units); this pipeline decodes '",
          absl::StrReplaceAll(expected, {{"\n", "; "}}), "' (", fit_targets.cols(), " units)"));
  }
  // HYPER: the targets are the GAN latents of the stimuli, found by
  // inverting the stored GAN (no GAN drew these stimuli).
  const bool latent = p.target == PipelineOptions::Target::kGanLatent;
  std::unique_ptr<GanGenerator> gan;
  const GanGenerator* trained_gan = nullptr;  // saved with the model when trained here
  double inversion_pcc = 0;
  if (latent) {
    if (p.train_gan) {
      ASSIGN_OR_RETURN(gan, TrainGanInJob(dataset, fit, p, hooks));
      trained_gan = gan.get();
      generator_id = "GAN trained in the job";
    } else {
      if (p.generator_name.empty())
        return absl::InvalidArgumentError("a latent pipeline names its GAN (generator { stored })");
      ASSIGN_OR_RETURN(auto gens, OpenGeneratorRepository(repository.root(), false));
      ASSIGN_OR_RETURN(const int64_t gv,
                       gens->ResolveVersion(p.generator_name, p.generator_version));
      generator_dir = gens->VersionDir(p.generator_name, gv);
      generator_id = absl::StrCat(p.generator_name, "/", gv);
      auto loaded = GanGenerator::Load(generator_dir);
      if (!loaded.ok())
        return absl::InvalidArgumentError(absl::StrCat(
            "generator ", generator_id, " is not a GAN: ", loaded.status().message()));
      gan = *std::move(loaded);
      if (!(gan->image_shape() == dataset.image))
        return absl::InvalidArgumentError(absl::StrCat("GAN ", generator_id, " draws ",
                                                       gan->image_shape().height, "x",
                                                       gan->image_shape().width, " images"));
    }
    TrainingProgress progress;
    progress.phase = TrainingProgress::Phase::kTrainingGenerator;
    progress.total_steps = 2;
    Report(hooks, progress);
    LogInfo("train", "inverting GAN ", generator_id, " on ", fit.stimuli.rows(),
            " training stimuli");
    ASSIGN_OR_RETURN(const Eigen::MatrixXf z_fit, gan->Invert(fit.stimuli.cast<float>()));
    ASSIGN_OR_RETURN(const Eigen::MatrixXf redrawn, gan->Generate(z_fit));
    ASSIGN_OR_RETURN(const ImageScores inv,
                     ScoreReconstructions(redrawn.cast<double>(), fit.stimuli, dataset.image));
    inversion_pcc = inv.pcc;
    LogInfo("train", "inversion redraws the training stimuli at PCC ", inv.pcc, ", SSIM ",
            inv.ssim);
    fit_targets = z_fit.cast<double>();
    progress.step = 1;
    Report(hooks, progress);
    if (eval.stimuli.rows() > 0) {
      ASSIGN_OR_RETURN(const Eigen::MatrixXf z_eval, gan->Invert(eval.stimuli.cast<float>()));
      eval_targets = z_eval.cast<double>();
    }
    layers = {{"latent", {gan->input_size()}, gan->input_size()}};
  }
  // DAND: whitened principal components of the layers are the latents;
  // the MAP decoder inverts their linear encoding model; a paired GAN draws
  // the image from them.
  std::unique_ptr<PosteriorGanGenerator> dand_generator;
  std::unique_ptr<RidgeDecoder> decoder;
  // The eigenface baseline: ridge to the principal components of the
  // fitted stimuli, served composed with their inverse.
  std::unique_ptr<PcaLayer> eigenimages;
  if (p.target == PipelineOptions::Target::kPixels && p.pixel_components_variance > 0) {
    PcaOptions po;
    po.explained_variance = p.pixel_components_variance;
    ASSIGN_OR_RETURN(eigenimages, PcaLayer::Fit(fit.stimuli, po));
    LogInfo("train", "eigenimages: ", eigenimages->num_components(), " components explain ",
            eigenimages->explained_fraction(), " of the pixel variance of ", fit.stimuli.rows(),
            " stimuli");
    ASSIGN_OR_RETURN(fit_targets, eigenimages->Transform(fit.stimuli));
  }
  Stopwatch fit_watch;
  std::vector<Hyperparameter> hyperparameters;
  if (dand) {
    ASSIGN_OR_RETURN(DandParts parts,
                     FitDand(dataset, fit, eval, *network, p, hooks, &fit_targets, &eval_targets));
    decoder = std::move(parts.decoder);
    dand_generator = std::move(parts.generator);
    layers = {{"components", {fit_targets.cols()}, fit_targets.cols()}};
  } else if (p.decoder == PipelineOptions::Decoder::kSmr) {
    ASSIGN_OR_RETURN(decoder, FitSmr(fit, fit_targets, p, hooks));
  } else {
    if (p.choose_alpha) {
      ASSIGN_OR_RETURN(Hyperparameter h, ChooseAlpha(fit, fit_targets, p, hooks));
      p.ridge.regression.alpha = h.chosen;
      hyperparameters.push_back(std::move(h));
    }
    ASSIGN_OR_RETURN(decoder, FitWithSteps(fit, fit_targets, p, hooks));
    if (eigenimages) decoder = decoder->ThenLinear(eigenimages->inverse_map(), eigenimages->mean());
  }
  const double fit_seconds = absl::ToDoubleSeconds(fit_watch.Elapsed());
  LogInfo("train", "fit in ", fit_seconds, " s");
  // Per-unit decodability on held-out folds of the fitted trials, with the
  // same decoder, and the ranking of units by it.
  Eigen::VectorXd decodability;
  std::vector<int> top_units;
  if (features && p.decodability_folds >= 2) {
    TrainingProgress progress;
    progress.phase = TrainingProgress::Phase::kEvaluating;
    progress.total_steps = p.decodability_folds;
    Report(hooks, progress);
    TrainHooks quiet;
    quiet.is_cancelled = hooks.is_cancelled;
    FoldDecoder fold =
        [&](const Eigen::MatrixXd& xtr, const Eigen::MatrixXd& htr,
            const Eigen::MatrixXd& xte) -> absl::StatusOr<Eigen::MatrixXd> {
      std::unique_ptr<RidgeDecoder> d;
      if (p.decoder == PipelineOptions::Decoder::kSmr) {
        DatasetSplit part;
        part.betas = xtr;
        ASSIGN_OR_RETURN(d, FitSmr(part, htr, p, quiet));
      } else {
        ASSIGN_OR_RETURN(d, RidgeDecoder::Fit(xtr, htr, p.ridge));
      }
      Eigen::MatrixXf z = xte.cast<float>();
      d->Standardize(&z);
      ++progress.step;
      Report(hooks, progress);
      return Eigen::MatrixXd(d->Decode(z).cast<double>());
    };
    DecodabilityOptions dopt;
    dopt.folds =
        std::min<int>(p.decodability_folds, static_cast<int>(fit.betas.rows()));
    dopt.seed = request.seed;
    dopt.is_cancelled = hooks.is_cancelled;
    ASSIGN_OR_RETURN(decodability,
                     UnitDecodability(fit.betas, fit_targets, fold, dopt));
    top_units = TopDecodableUnits(decodability, p.top_k_units);
  }
  // A generator trained here, on unpaired images with their features as the
  // condition: never on the evaluation split's stimuli.
  std::vector<int> condition_units;
  if (features && p.train_generator) {
    ASSIGN_OR_RETURN(stored, TrainGeneratorInJob(dataset, fit, *network, p, decodability,
                                                 hooks, &condition_units));
    generator_id = absl::StrCat("trained ", stored->kind());
  }
  ModelManifest m;
  m.name = request.model_name;
  m.dataset = dataset.name;
  m.pixel_max = dataset.pixel_max;
  m.create_time = absl::Now();
  m.num_voxels = decoder->num_voxels();
  m.image = dataset.image;
  m.decoder = p.decoder == PipelineOptions::Decoder::kSmr ? "smr" : "ridge";
  m.generator = dand     ? "dand"
                : latent ? "gan"
                : features ? (stored ? "stored" : "none")
                           : "identity";
  m.generator_condition_units = static_cast<int64_t>(condition_units.size());
  if (latent || dand) {
    m.target = "latent";
    m.feature_network = latent ? generator_id : network_id;
    m.feature_layers = layers;
  }
  if (features) {
    m.target = "features";
    m.feature_network = network_id;
    m.feature_layers = layers;
    m.top_k_units = static_cast<int64_t>(top_units.size());
  }
  m.clip_output = p.clip_output;
  m.fit_seconds = fit_seconds;
  m.description = DescribePipeline(p, dataset.image);
  if (!p.note.empty()) m.description += absl::StrCat(" — ", p.note);

  TrainingProgress progress;
  progress.phase = TrainingProgress::Phase::kEvaluating;
  Report(hooks, progress);
  // Score through the same Run() path the worker serves.
  const RidgeDecoder& fitted = *decoder;
  std::unique_ptr<const Generator> generator;
  if (!features)
    generator = std::make_unique<const IdentityGenerator>(dataset.image);
  const bool with_images = !features || stored != nullptr;
  if (gan) generator = std::move(gan);
  const PosteriorGanGenerator* dand_trained = dand_generator.get();
  if (dand_generator) generator = std::move(dand_generator);
  const IcgGenerator* trained = p.train_generator ? stored.get() : nullptr;
  if (stored) generator = std::move(stored);
  ASSIGN_OR_RETURN(auto pipeline, Pipeline::Create(m, std::move(decoder),
                                                   std::move(generator), condition_units));
  m.evaluation.split = eval_name;
  m.evaluation.hyperparameters = hyperparameters;
  m.evaluation.num_samples = static_cast<int>(eval.betas.rows());
  m.evaluation.ssim_definition = SsimDefinition(dataset.image);
  if ((features || latent || dand) && eval.betas.rows() > 0 &&
      eval_targets.rows() == eval.betas.rows()) {
    ASSIGN_OR_RETURN(auto recs, pipeline->Run(eval.betas.cast<float>()));
    Eigen::MatrixXd pred(recs.size(), eval_targets.cols());
    for (size_t i = 0; i < recs.size(); ++i)
      pred.row(i) = recs[i].features.cast<double>().transpose();
    const Eigen::RowVectorXd train_mean = fit_targets.colwise().mean();
    m.evaluation.metrics =
        ScoreFeatures(pred, eval_targets, train_mean, layers);
    m.evaluation.baseline_metrics =
        ScoreFeatures(train_mean.replicate(eval_targets.rows(), 1),
                      eval_targets, train_mean, layers);
    if (decodability.size() > 0) {
      // Cross-validated on the fitted trials, not on the evaluation split.
      Eigen::Index at = 0;
      for (const auto& l : layers) {
        m.evaluation.metrics["cv_unit_pcc." + l.name] =
            decodability.segment(at, l.size).mean();
        at += l.size;
      }
      double top_sum = 0;
      for (int u : top_units) top_sum += decodability(u);
      m.evaluation.metrics["cv_unit_pcc.top_k"] = top_sum / top_units.size();
    }
    if (latent || dand) {
      // HYPER's latent similarity: cosine between decoded and true latents.
      auto cosine = [&](const Eigen::MatrixXd& a) {
        double sum = 0;
        for (Eigen::Index i = 0; i < a.rows(); ++i)
          sum += a.row(i).dot(eval_targets.row(i)) /
                 std::max(1e-12, a.row(i).norm() * eval_targets.row(i).norm());
        return sum / a.rows();
      };
      // And its Euclidean similarity 1 / (1 + distance), mean over trials.
      auto euclidean = [&](const Eigen::MatrixXd& a) {
        double sum = 0;
        for (Eigen::Index i = 0; i < a.rows(); ++i)
          sum += EuclideanSimilarity(a.row(i).transpose(), eval_targets.row(i).transpose());
        return sum / a.rows();
      };
      const Eigen::MatrixXd baseline = train_mean.replicate(eval_targets.rows(), 1);
      m.evaluation.metrics["latent_cosine"] = cosine(pred);
      m.evaluation.baseline_metrics["latent_cosine"] = cosine(baseline);
      m.evaluation.metrics["latent_euclidean"] = euclidean(pred);
      m.evaluation.baseline_metrics["latent_euclidean"] = euclidean(baseline);
      if (latent) m.evaluation.metrics["inversion_pcc.fit"] = inversion_pcc;
    }
    LogInfo("train", eval_name, " split: feature pcc ",
            m.evaluation.metrics["feature_pcc"], ", nmse ",
            m.evaluation.metrics["nmse"], " (mean features: pcc ",
            m.evaluation.baseline_metrics["feature_pcc"], ")");
  }
  if (with_images && eval.betas.rows() > 0 &&
      eval.stimuli.rows() == eval.betas.rows()) {
    RunOptions no_png;
    no_png.encode_png = false;
    ASSIGN_OR_RETURN(auto recs,
                     pipeline->Run(eval.betas.cast<float>(), no_png));
    Eigen::MatrixXd rec(recs.size(), dataset.image.num_pixels());
    for (size_t i = 0; i < recs.size(); ++i) {
      rec.row(i) = recs[i].pixels.cast<double>().transpose();
    }
    ASSIGN_OR_RETURN(ImageScores scores,
                     ScoreReconstructions(rec, eval.stimuli, dataset.image, eval.labels));
    ASSIGN_OR_RETURN(
        ImageScores base,
        ScoreReconstructions(MeanImageBaseline(fit.stimuli, rec.rows()),
                             eval.stimuli, dataset.image));
    // Added to the feature scores when a generator follows the features.
    for (const auto& [k, v] : scores.ToMap()) m.evaluation.metrics[k] = v;
    for (const auto& [k, v] : base.ToMap()) m.evaluation.baseline_metrics[k] = v;
    LogInfo("train", eval_name, " split: pcc ", scores.pcc, ", ssim ",
            scores.ssim, ", identification(pcc) ", scores.identification_pcc,
            " (mean image: pcc ", base.pcc, ")");
    if (scores.Collapsed()) LogWarning("train", eval_name, " split: ", scores.CollapseWarning());
  }

  progress.phase = TrainingProgress::Phase::kSaving;
  Report(hooks, progress);
  if (hooks.before_commit) RETURN_IF_ERROR(hooks.before_commit());
  ASSIGN_OR_RETURN(
      const int64_t version,
      repository.CommitVersion(
          m.name, [&](const std::string& dir) -> absl::Status {
            RETURN_IF_ERROR(fitted.Save(dir));
            RETURN_IF_ERROR(
                WriteFile(dir + "/" + kSpecFile, request.spec_text));
            if (dand_trained != nullptr)
              RETURN_IF_ERROR(dand_trained->Save(dir + "/" + kGeneratorDir));
            if (trained_gan != nullptr) {
              fs::create_directories(dir + "/" + kGeneratorDir);
              RETURN_IF_ERROR(trained_gan->Save(dir + "/" + kGeneratorDir));
            }
            if (features) {
              std::error_code ec;
              fs::copy(network_dir, dir + "/" + kFeatureNetworkDir,
                       fs::copy_options::recursive, ec);
              if (ec)
                return absl::InternalError(absl::StrCat(
                    "copying the feature network: ", ec.message()));
            }
            if (trained != nullptr) {
              const std::string gdir = dir + "/" + kGeneratorDir;
              fs::create_directories(gdir);
              RETURN_IF_ERROR(trained->Save(gdir));
              if (!condition_units.empty()) {
                Eigen::MatrixXd units(1, condition_units.size());
                for (size_t i = 0; i < condition_units.size(); ++i) units(0, i) = condition_units[i];
                RETURN_IF_ERROR(WriteNpyFloat64(gdir + "/" + kConditionUnitsFile, units));
              }
            }
            if (!generator_dir.empty()) {
              std::error_code ec;
              fs::copy(generator_dir, dir + "/" + kGeneratorDir,
                       fs::copy_options::recursive, ec);
              if (ec)
                return absl::InternalError(absl::StrCat(
                    "copying the generator: ", ec.message()));
            }
            if (decodability.size() > 0) {
              RETURN_IF_ERROR(WriteNpyFloat32(
                  dir + "/" + kUnitDecodabilityFile,
                  Eigen::MatrixXf(decodability.transpose().cast<float>())));
              Eigen::MatrixXd top(1, top_units.size());
              for (size_t i = 0; i < top_units.size(); ++i)
                top(0, i) = top_units[i];
              RETURN_IF_ERROR(WriteNpyFloat64(dir + "/" + kTopUnitsFile, top));
            }
            RETURN_IF_ERROR(WriteNpyFloat32(
                dir + "/" + kMeanImageFile,
                Eigen::MatrixXf(fit.stimuli.colwise().mean().cast<float>())));
            return WriteManifest(dir + "/" + kManifestFile, m);
          }));
  m.version = version;
  LogInfo("train", "committed ", m.name, " version ", version, " in ",
          repository.root());
  return m;
}

}  // namespace v2p::core
