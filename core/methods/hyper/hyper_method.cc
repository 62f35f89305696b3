#include "core/methods/hyper/hyper_method.h"

#include <filesystem>

#include "absl/strings/str_cat.h"
#include "core/base/log.h"
#include "core/base/status_macros.h"
#include "core/base/stopwatch.h"
#include "core/evaluation/metrics.h"
#include "core/evaluation/report.h"
#include "core/pipeline/model_repository.h"
#include "core/pipeline/trainer.h"

namespace v2p::core {
namespace {

// One progress step per epoch.
absl::StatusOr<std::unique_ptr<GanGenerator>> TrainGan(const HyperOptions& p, const FitContext& c) {
  ASSIGN_OR_RETURN(const GeneratorImages g, GeneratorTrainingImages(*c.dataset, *c.fit, true,
                                                                    2 * p.gan_training.batch_size));
  LogInfo("train", "training GAN (latent ", p.gan_training.latent_size, ", ", p.gan_training.epochs,
          " epochs) on ", g.images.rows(), " images (", g.source, ")");
  GanOptions o = p.gan_training;
  auto report = GeneratorProgress(*c.hooks, o.epochs);
  o.on_epoch = [&](const GanEpoch& e) {
    LogInfo("train", "GAN epoch ", e.epoch, "/", o.epochs, ": L_dis ", e.discriminator, ", L_adv ",
            e.adversarial);
    report(e.epoch, e.adversarial);
  };
  o.is_cancelled = c.hooks->is_cancelled;
  ASSIGN_OR_RETURN(auto trainer, GanTrainer::Create(g.images, c.dataset->image, o));
  RETURN_IF_ERROR(trainer->Train());
  return trainer->Finish();
}

absl::StatusOr<std::unique_ptr<GanGenerator>> LoadStoredGan(const HyperOptions& p,
                                                            const FitContext& c, std::string* dir,
                                                            std::string* id) {
  if (p.generator_name.empty())
    return absl::InvalidArgumentError("a latent pipeline names its GAN (generator { stored })");
  ASSIGN_OR_RETURN(auto gens, OpenGeneratorRepository(c.repository_root, false));
  ASSIGN_OR_RETURN(const int64_t gv, gens->ResolveVersion(p.generator_name, p.generator_version));
  ASSIGN_OR_RETURN(*dir, gens->VerifiedVersionDir(p.generator_name, gv));
  *id = absl::StrCat(p.generator_name, "/", gv);
  auto loaded = GanGenerator::Load(*dir);
  if (!loaded.ok())
    return absl::InvalidArgumentError(
        absl::StrCat("generator ", *id, " is not a GAN: ", loaded.status().message()));
  const ImageShape shape = (*loaded)->image_shape();
  if (!(shape == c.dataset->image))
    return absl::InvalidArgumentError(
        absl::StrCat("GAN ", *id, " draws ", shape.height, "x", shape.width, " images"));
  return loaded;
}

// The latents of the fitted and scored stimuli by inverting the GAN; the
// PCC at which the GAN redraws the fitted stimuli from theirs.
absl::Status InvertStimuli(const GanGenerator& gan, const std::string& id, const FitContext& c,
                           FittedMethod* f, double* inversion_pcc) {
  TrainingProgress progress;
  progress.phase = TrainingProgress::Phase::kTrainingGenerator;
  progress.total_steps = 2;
  c.hooks->Report(progress);
  const DatasetSplit& fit = *c.fit;
  LogInfo("train", "inverting GAN ", id, " on ", fit.stimuli.rows(), " training stimuli");
  ASSIGN_OR_RETURN(const Eigen::MatrixXf z_fit, gan.Invert(fit.stimuli.cast<float>()));
  ASSIGN_OR_RETURN(const Eigen::MatrixXf redrawn, gan.Generate(z_fit));
  ASSIGN_OR_RETURN(const ImageScores inv,
                   ScoreReconstructions(redrawn.cast<double>(), fit.stimuli, c.dataset->image));
  *inversion_pcc = inv.pcc;
  LogInfo("train", "inversion redraws the training stimuli at PCC ", inv.pcc, ", SSIM ", inv.ssim);
  f->fit_targets = z_fit.cast<double>();
  progress.step = 1;
  c.hooks->Report(progress);
  if (c.eval->stimuli.rows() > 0) {
    ASSIGN_OR_RETURN(const Eigen::MatrixXf z_eval, gan.Invert(c.eval->stimuli.cast<float>()));
    f->eval_targets = z_eval.cast<double>();
  }
  return absl::OkStatus();
}

}  // namespace

void AddLatentScores(const Eigen::MatrixXd& predicted, const Eigen::MatrixXd& truth,
                     const Eigen::RowVectorXd& train_mean, ModelManifest::Evaluation* e) {
  auto cosine = [&](const Eigen::MatrixXd& a) {
    double sum = 0;
    for (Eigen::Index i = 0; i < a.rows(); ++i)
      sum += a.row(i).dot(truth.row(i)) / std::max(1e-12, a.row(i).norm() * truth.row(i).norm());
    return sum / a.rows();
  };
  auto euclidean = [&](const Eigen::MatrixXd& a) {
    double sum = 0;
    for (Eigen::Index i = 0; i < a.rows(); ++i)
      sum += EuclideanSimilarity(a.row(i).transpose(), truth.row(i).transpose());
    return sum / a.rows();
  };
  const Eigen::MatrixXd baseline = train_mean.replicate(truth.rows(), 1);
  e->metrics["latent_cosine"] = cosine(predicted);
  e->baseline_metrics["latent_cosine"] = cosine(baseline);
  e->metrics["latent_euclidean"] = euclidean(predicted);
  e->baseline_metrics["latent_euclidean"] = euclidean(baseline);
}

std::string HyperMethod::Describe(ImageShape) const {
  const HyperOptions& o = options_;
  return absl::StrCat(RidgeText(o.ridge, false), ") -> latent of GAN ",
                      o.train_gan ? "trained in the job" : o.generator_name,
                      " (stimuli inverted) -> GAN");
}

std::vector<std::string> HyperMethod::stored_generators() const {
  if (options_.train_gan || options_.generator_name.empty()) return {};
  return {options_.generator_name};
}

absl::StatusOr<FittedMethod> HyperMethod::Fit(const FitContext& c) const {
  const HyperOptions& o = options_;
  std::unique_ptr<GanGenerator> gan;
  std::string stored_dir, id = "GAN trained in the job";
  if (o.train_gan) {
    ASSIGN_OR_RETURN(gan, TrainGan(o, c));
  } else {
    ASSIGN_OR_RETURN(gan, LoadStoredGan(o, c, &stored_dir, &id));
  }
  FittedMethod f;
  double inversion_pcc = 0;
  RETURN_IF_ERROR(InvertStimuli(*gan, id, c, &f, &inversion_pcc));
  Stopwatch watch;
  RidgeFitOptions ridge = o.ridge;
  ASSIGN_OR_RETURN(std::unique_ptr<RidgeDecoder> decoder,
                   FitRidge(*c.fit, f.fit_targets, &ridge, *c.hooks, &f.hyperparameters));
  f.manifest.fit_seconds = absl::ToDoubleSeconds(watch.Elapsed());
  ModelManifest& m = f.manifest;
  HyperOptions chosen = o;
  chosen.ridge = ridge;  // with the alpha cross-validation chose
  m.description = HyperMethod(chosen).Describe(c.dataset->image);
  m.decoder = "ridge";
  m.generator = "gan";
  m.target = "latent";
  m.feature_network = id;
  m.feature_layers = {{"latent", {gan->input_size()}, gan->input_size()}};
  f.add_scores = [inversion_pcc](const Eigen::MatrixXd& predicted, const Eigen::MatrixXd& truth,
                                 const Eigen::RowVectorXd& train_mean,
                                 ModelManifest::Evaluation* e) {
    AddLatentScores(predicted, truth, train_mean, e);
    e->metrics["inversion_pcc.fit"] = inversion_pcc;
  };
  const GanGenerator* trained = o.train_gan ? gan.get() : nullptr;
  f.save = [trained, stored_dir](const std::string& dir) -> absl::Status {
    const std::string gdir = dir + "/" + kGeneratorDir;
    if (trained != nullptr) {
      std::filesystem::create_directories(gdir);
      return trained->Save(gdir);
    }
    return CopyTree(stored_dir, gdir, "generator");
  };
  f.stages.decoder = std::move(decoder);
  f.stages.generator = std::move(gan);
  return f;
}

absl::StatusOr<PipelineStages> HyperMethod::Load(const std::string& dir, const ModelManifest&) {
  PipelineStages s;
  ASSIGN_OR_RETURN(s.decoder, RidgeDecoder::Load(dir));
  ASSIGN_OR_RETURN(s.generator, GanGenerator::Load(dir + "/" + kGeneratorDir));
  return s;
}

}  // namespace v2p::core
