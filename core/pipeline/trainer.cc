#include "core/pipeline/trainer.h"

#include <algorithm>
#include <cmath>
#include <random>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "core/base/files.h"
#include "core/base/log.h"
#include "core/base/status_macros.h"
#include "core/data/image.h"
#include "core/data/npy.h"
#include "core/evaluation/identification.h"
#include "core/evaluation/metrics.h"
#include "core/evaluation/report.h"
#include "core/pipeline/pipeline.h"

namespace v2p::core {
namespace {

// Decoded features or latents against their truth, with the training mean
// as the baseline, plus the method's own scores.
absl::Status ScoreTargets(const Pipeline& pipeline, const FittedMethod& f, const DatasetSplit& eval,
                          const std::string& eval_name, ModelManifest* m) {
  ASSIGN_OR_RETURN(auto recs, pipeline.Run(eval.betas.cast<float>()));
  Eigen::MatrixXd pred(recs.size(), f.eval_targets.cols());
  for (size_t i = 0; i < recs.size(); ++i)
    pred.row(i) = recs[i].features.cast<double>().transpose();
  const Eigen::RowVectorXd train_mean = f.fit_targets.colwise().mean();
  ModelManifest::Evaluation& e = m->evaluation;
  e.metrics = ScoreFeatures(pred, f.eval_targets, train_mean, m->feature_layers);
  e.baseline_metrics = ScoreFeatures(train_mean.replicate(f.eval_targets.rows(), 1), f.eval_targets,
                                     train_mean, m->feature_layers);
  if (f.add_scores) f.add_scores(pred, f.eval_targets, train_mean, &e);
  LogInfo("train", eval_name, " split: feature pcc ", e.metrics["feature_pcc"], ", nmse ",
          e.metrics["nmse"], " (mean features: pcc ", e.baseline_metrics["feature_pcc"], ")");
  return absl::OkStatus();
}

// Images against the stimuli, with the mean fitted stimulus as the
// baseline; added to any feature scores.
absl::Status ScoreImages(const Pipeline& pipeline, const Dataset& dataset, const DatasetSplit& fit,
                         const DatasetSplit& eval, const std::string& eval_name, ModelManifest* m) {
  RunOptions no_png;
  no_png.encode_png = false;
  ASSIGN_OR_RETURN(auto recs, pipeline.Run(eval.betas.cast<float>(), no_png));
  Eigen::MatrixXd rec(recs.size(), dataset.image.num_pixels());
  for (size_t i = 0; i < recs.size(); ++i) rec.row(i) = recs[i].pixels.cast<double>().transpose();
  ASSIGN_OR_RETURN(ImageScores scores,
                   ScoreReconstructions(rec, eval.stimuli, dataset.image, eval.labels));
  ASSIGN_OR_RETURN(ImageScores base,
                   ScoreReconstructions(MeanImageBaseline(fit.stimuli, rec.rows()), eval.stimuli,
                                        dataset.image));
  for (const auto& [k, v] : scores.ToMap()) m->evaluation.metrics[k] = v;
  for (const auto& [k, v] : base.ToMap()) m->evaluation.baseline_metrics[k] = v;
  LogInfo("train", eval_name, " split: pcc ", scores.pcc, ", ssim ", scores.ssim,
          ", identification(pcc) ", scores.identification_pcc, " (mean image: pcc ", base.pcc, ")");
  if (scores.Collapsed()) LogWarning("train", eval_name, " split: ", scores.CollapseWarning());
  return absl::OkStatus();
}

// The manifest fields every method shares, over the method's own.
ModelManifest SharedManifest(const Dataset& dataset, const TrainRequest& request,
                             const FittedMethod& f) {
  ModelManifest m = f.manifest;
  m.name = request.model_name;
  m.method = request.method->name();
  m.dataset = dataset.name;
  m.pixel_max = dataset.pixel_max;
  m.create_time = absl::Now();
  m.num_voxels = f.stages.decoder->num_voxels();
  m.image = dataset.image;
  m.clip_output = request.clip_output;
  m.description = DescribeTraining(request, dataset.image, f.manifest.description);
  m.evaluation.hyperparameters = f.hyperparameters;
  m.evaluation.ssim_definition = SsimDefinition(dataset.image);
  return m;
}

absl::StatusOr<int64_t> Commit(const TrainRequest& request, const FittedMethod& f,
                               const Decoder& decoder, const DatasetSplit& fit,
                               const ModelManifest& m, ModelRepository& repository) {
  return repository.CommitVersion(m.name, [&](const std::string& dir) -> absl::Status {
    RETURN_IF_ERROR(decoder.Save(dir));
    RETURN_IF_ERROR(WriteFile(dir + "/" + kSpecFile, request.spec_text));
    if (f.save) RETURN_IF_ERROR(f.save(dir));
    RETURN_IF_ERROR(WriteNpyFloat32(dir + "/" + kMeanImageFile,
                                    Eigen::MatrixXf(fit.stimuli.colwise().mean().cast<float>())));
    return WriteManifest(dir + "/" + kManifestFile, m);
  });
}

}  // namespace

std::map<std::string, double> ScoreFeatures(
    const Eigen::MatrixXd& predicted, const Eigen::MatrixXd& truth,
    const Eigen::RowVectorXd& train_mean, const std::vector<ModelManifest::FeatureLayer>& layers) {
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
    const double lv = (t.rowwise() - train_mean.middleCols(at, l.size)).squaredNorm();
    m["nmse." + l.name] = lv > 0 ? le / lv : 0;
    err += le;
    var += lv;
    at += l.size;
  }
  m["feature_pcc"] = pcc_sum / std::max<size_t>(1, layers.size());
  m["nmse"] = var > 0 ? err / var : 0;
  return m;
}

std::vector<int> SelectVoxelsByCorrelation(const Eigen::MatrixXd& x, const Eigen::MatrixXd& h,
                                           int n) {
  std::vector<int> all(x.cols());
  for (int j = 0; j < x.cols(); ++j) all[j] = j;
  if (n <= 0 || n >= x.cols()) return all;
  const Eigen::MatrixXd xc = x.rowwise() - x.colwise().mean();
  const Eigen::MatrixXd hc = h.rowwise() - h.colwise().mean();
  const Eigen::RowVectorXd xs = xc.colwise().norm().cwiseMax(1e-12);
  const Eigen::RowVectorXd hs = hc.colwise().norm().cwiseMax(1e-12);
  const Eigen::MatrixXd corr =
      ((xc.transpose() * hc).array().colwise() / xs.transpose().array()).rowwise() / hs.array();
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
    g.images =
        ShiftedCopies(fit.stimuli.cast<float>(), dataset.image, shift, dataset.mirror_symmetric);
    g.source =
        absl::StrCat(n_fit, " training stimuli x ", g.images.rows() / n_fit, " (shifted by 0 or +-",
                     shift, " px", dataset.mirror_symmetric ? ", and mirrored" : "",
                     "; the dataset names no unpaired_images)");
  }
  if (g.images.rows() < min_images)
    return absl::InvalidArgumentError(
        absl::StrCat("training a generator needs at least ", min_images, " images; dataset ",
                     dataset.name, " has ", n_unpaired,
                     " unpaired images (name them with unpaired_images in the dataset "
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
  *validation = SplitRows(train, val);
  *fit = SplitRows(train, rest);
}

std::string DescribeTraining(const TrainRequest& request, ImageShape image,
                             const std::string& fitted) {
  std::string text = fitted.empty() ? request.method->Describe(image) : fitted;
  if (request.clip_output) absl::StrAppend(&text, ", clipped to [0,1]");
  if (!request.note.empty()) absl::StrAppend(&text, " — ", request.note);
  return text;
}

absl::StatusOr<ModelManifest> TrainModel(const Dataset& dataset, const TrainRequest& request,
                                         ModelRepository& repository, const TrainHooks& hooks) {
  RETURN_IF_ERROR(ValidateModelName(request.model_name));
  if (request.method == nullptr) return absl::InvalidArgumentError("no method to train");
  if (!(request.validation_split >= 0 && request.validation_split <= 0.5)) {
    return absl::InvalidArgumentError(
        absl::StrCat("validation_split ", request.validation_split, " is outside [0, 0.5]"));
  }
  DatasetSplit fit = dataset.train, eval = dataset.test;
  std::string eval_name = "test";
  if (request.validation_split > 0) {
    SplitForValidation(dataset.train, request.validation_split, request.seed, &fit, &eval);
    eval_name = "validation";
  }
  LogInfo("train", "fitting ", DescribeTraining(request, dataset.image), " on ", fit.betas.rows(),
          " samples x ", fit.betas.cols(), " voxels");
  FitContext context{&dataset, &fit, &eval, repository.root(), &hooks, request.seed};
  ASSIGN_OR_RETURN(FittedMethod f, request.method->Fit(context));
  LogInfo("train", "fit in ", f.manifest.fit_seconds, " s");
  ModelManifest m = SharedManifest(dataset, request, f);
  m.evaluation.split = eval_name;
  m.evaluation.num_samples = static_cast<int>(eval.betas.rows());

  TrainingProgress progress;
  progress.phase = TrainingProgress::Phase::kEvaluating;
  hooks.Report(progress);
  // Scored through the same Run() path the worker serves; the stages stay
  // alive in the pipeline until the commit has saved them.
  const Decoder& decoder = *f.stages.decoder;
  ASSIGN_OR_RETURN(auto pipeline, Pipeline::Create(m, std::move(f.stages)));
  const bool with_images = pipeline->makes_images();
  if (m.target != "pixels" && eval.betas.rows() > 0 && f.eval_targets.rows() == eval.betas.rows()) {
    RETURN_IF_ERROR(ScoreTargets(*pipeline, f, eval, eval_name, &m));
  }
  if (with_images && eval.betas.rows() > 0 && eval.stimuli.rows() == eval.betas.rows()) {
    RETURN_IF_ERROR(ScoreImages(*pipeline, dataset, fit, eval, eval_name, &m));
  }
  progress.phase = TrainingProgress::Phase::kSaving;
  hooks.Report(progress);
  if (hooks.before_commit) RETURN_IF_ERROR(hooks.before_commit());
  ASSIGN_OR_RETURN(m.version, Commit(request, f, decoder, fit, m, repository));
  LogInfo("train", "committed ", m.name, " version ", m.version, " in ", repository.root());
  return m;
}

}  // namespace v2p::core
