#include "core/methods/features/features_method.h"

#include <filesystem>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "core/base/files.h"
#include "core/base/log.h"
#include "core/base/status_macros.h"
#include "core/base/stopwatch.h"
#include "core/data/npy.h"
#include "core/decoding/unit_decodability.h"
#include "core/pipeline/model_repository.h"
#include "core/pipeline/trainer.h"

namespace v2p::core {
namespace {

using Options = FeaturesOptions;

std::string DecoderText(const Options& o) {
  if (o.decoder == Options::Decoder::kRidge) return RidgeText(o.ridge, false) + ")";
  const SmrOptions& s = o.smr.smr;
  return absl::StrCat(
      o.smr.variant, "(lambda=", s.lambda, ", lambda1=", s.lambda1,
      s.lambda2 > 0 || s.lambda3 > 0 ? absl::StrCat(", l1=", s.lambda2, "/", s.lambda3) : "",
      ", voxels=", o.smr.voxels == 0 ? "all" : absl::StrCat(o.smr.voxels), ")");
}

// The stored generator, which must have been trained on the same network's
// same layers.
absl::StatusOr<std::unique_ptr<IcgGenerator>> LoadStoredGenerator(const Options& o,
                                                                  const FitContext& c,
                                                                  const std::string& network_id,
                                                                  Eigen::Index outputs,
                                                                  std::string* dir) {
  ASSIGN_OR_RETURN(auto gens, OpenGeneratorRepository(c.repository_root, false));
  ASSIGN_OR_RETURN(const int64_t gv, gens->ResolveVersion(o.generator_name, o.generator_version));
  ASSIGN_OR_RETURN(*dir, gens->VerifiedVersionDir(o.generator_name, gv));
  const std::string id = absl::StrCat(o.generator_name, "/", gv);
  ASSIGN_OR_RETURN(auto stored, IcgGenerator::Load(*dir));
  ASSIGN_OR_RETURN(const std::string condition, ReadFile(*dir + "/" + kGeneratorConditionFile));
  const std::string expected = GeneratorCondition(network_id, o.layers);
  if (condition != expected || stored->input_size() != outputs ||
      !(stored->image_shape() == c.dataset->image))
    return absl::InvalidArgumentError(absl::StrCat(
        "generator ", id, " was trained on '", absl::StrReplaceAll(condition, {{"\n", "; "}}),
        "' (", stored->input_size(), " units); this pipeline decodes '",
        absl::StrReplaceAll(expected, {{"\n", "; "}}), "' (", outputs, " units)"));
  return stored;
}

absl::StatusOr<std::unique_ptr<RidgeDecoder>> FitDecoder(const Options& o, RidgeFitOptions* ridge,
                                                         const DatasetSplit& fit,
                                                         const Eigen::MatrixXd& targets,
                                                         const TrainHooks& hooks,
                                                         std::vector<Hyperparameter>* chosen) {
  if (o.decoder == Options::Decoder::kSmr) return FitSmr(fit, targets, o.smr, hooks);
  return FitRidge(fit, targets, ridge, hooks, chosen);
}

// Per-unit decodability on held-out folds of the fitted trials, with the
// same decoder (alpha as chosen for the whole fit).
absl::StatusOr<Eigen::VectorXd> Decodability(const Options& o, const RidgeFitOptions& ridge,
                                             const DatasetSplit& fit,
                                             const Eigen::MatrixXd& targets, const FitContext& c) {
  const TrainHooks& hooks = *c.hooks;
  TrainingProgress progress;
  progress.phase = TrainingProgress::Phase::kEvaluating;
  progress.total_steps = o.decodability_folds;
  hooks.Report(progress);
  TrainHooks quiet;
  quiet.is_cancelled = hooks.is_cancelled;
  FoldDecoder fold = [&](const Eigen::MatrixXd& xtr, const Eigen::MatrixXd& htr,
                         const Eigen::MatrixXd& xte) -> absl::StatusOr<Eigen::MatrixXd> {
    std::unique_ptr<RidgeDecoder> d;
    if (o.decoder == Options::Decoder::kSmr) {
      DatasetSplit part;
      part.betas = xtr;
      ASSIGN_OR_RETURN(d, FitSmr(part, htr, o.smr, quiet));
    } else {
      ASSIGN_OR_RETURN(d, RidgeDecoder::Fit(xtr, htr, ridge.ridge));
    }
    Eigen::MatrixXf z = xte.cast<float>();
    d->Standardize(&z);
    ++progress.step;
    hooks.Report(progress);
    return Eigen::MatrixXd(d->Decode(z).cast<double>());
  };
  DecodabilityOptions dopt;
  dopt.folds = std::min<int>(o.decodability_folds, static_cast<int>(fit.betas.rows()));
  dopt.seed = c.seed;
  dopt.is_cancelled = hooks.is_cancelled;
  return UnitDecodability(fit.betas, targets, fold, dopt);
}

// The job's generator: images are the dataset's unpaired images and the
// fitted trials' stimuli, conditions their features (the top-k decodable
// units when generator_top_k > 0, whose indices go to *units).
absl::StatusOr<std::unique_ptr<IcgGenerator>> TrainGenerator(const Options& o, const FitContext& c,
                                                             const FeatureNetwork& network,
                                                             const Eigen::VectorXd& decodability,
                                                             std::vector<int>* units) {
  const Dataset& dataset = *c.dataset;
  ASSIGN_OR_RETURN(const GeneratorImages g,
                   GeneratorTrainingImages(dataset, *c.fit, o.generator_uses_training_stimuli,
                                           2 * o.generator_training.batch_size));
  const Eigen::MatrixXf& images = g.images;
  ASSIGN_OR_RETURN(Eigen::MatrixXf conditions,
                   network.ExtractConcatenated(images, dataset.image, o.layers));
  if (o.generator_top_k > 0) {
    if (decodability.size() != conditions.cols())
      return absl::InvalidArgumentError(
          "conditioning a generator on the top decodable units needs the unit "
          "decodability (decodability folds >= 2)");
    *units = TopDecodableUnits(decodability, o.generator_top_k);
    Eigen::MatrixXf top(conditions.rows(), units->size());
    for (size_t j = 0; j < units->size(); ++j) top.col(j) = conditions.col((*units)[j]);
    conditions = std::move(top);
  }
  LogInfo("train", "training generator ", o.generator_training.kind, " on ", images.rows(),
          " images (", g.source, "), condition ", conditions.cols(), " units, ",
          o.generator_training.epochs, " epochs");
  IcgOptions io = o.generator_training;
  auto report = GeneratorProgress(*c.hooks, io.epochs);
  io.on_epoch = [&](const IcgEpoch& e) { report(e.epoch, e.reconstruction); };
  io.is_cancelled = c.hooks->is_cancelled;
  ASSIGN_OR_RETURN(auto trainer, IcgTrainer::Create(images, conditions, dataset.image, io));
  RETURN_IF_ERROR(trainer->Train());
  return trainer->Finish();
}

// Cross-validated on the fitted trials, not on the evaluation split.
void AddDecodabilityScores(const Eigen::VectorXd& decodability, const std::vector<int>& top_units,
                           const std::vector<ModelManifest::FeatureLayer>& layers,
                           ModelManifest::Evaluation* e) {
  Eigen::Index at = 0;
  for (const auto& l : layers) {
    e->metrics["cv_unit_pcc." + l.name] = decodability.segment(at, l.size).mean();
    at += l.size;
  }
  double top_sum = 0;
  for (int u : top_units) top_sum += decodability(u);
  e->metrics["cv_unit_pcc.top_k"] = top_sum / top_units.size();
}

}  // namespace

std::string FeaturesMethod::Describe(ImageShape) const {
  const Options& o = options_;
  std::string generator;
  if (o.train_generator)
    generator = absl::StrCat(
        " -> ", o.generator_training.kind, " trained in the job",
        o.generator_top_k > 0 ? absl::StrCat(" (top ", o.generator_top_k, " units)") : "");
  else if (!o.generator_name.empty())
    generator = absl::StrCat(" -> generator ", o.generator_name);
  return absl::StrCat(DecoderText(o), " -> features ", absl::StrJoin(o.layers, "+"), " of ",
                      o.network, generator);
}

std::vector<std::string> FeaturesMethod::stored_generators() const {
  if (options_.generator_name.empty()) return {};
  return {options_.generator_name};
}

absl::StatusOr<FittedMethod> FeaturesMethod::Fit(const FitContext& c) const {
  const Options& o = options_;
  const Dataset& dataset = *c.dataset;
  const DatasetSplit& fit = *c.fit;
  ASSIGN_OR_RETURN(auto net, LoadStoredFeatureNetwork(c.repository_root, o.network,
                                                      o.network_version, dataset, o.layers));
  FittedMethod f;
  ASSIGN_OR_RETURN(f.fit_targets, LayerTargets(*net.network, fit.stimuli, dataset.image, o.layers));
  if (c.eval->stimuli.rows() > 0) {
    ASSIGN_OR_RETURN(f.eval_targets,
                     LayerTargets(*net.network, c.eval->stimuli, dataset.image, o.layers));
  }
  std::unique_ptr<IcgGenerator> generator;
  std::string stored_dir;
  if (!o.generator_name.empty()) {
    ASSIGN_OR_RETURN(generator,
                     LoadStoredGenerator(o, c, net.id, f.fit_targets.cols(), &stored_dir));
  }
  Stopwatch watch;
  RidgeFitOptions ridge = o.ridge;
  ASSIGN_OR_RETURN(std::unique_ptr<RidgeDecoder> decoder,
                   FitDecoder(o, &ridge, fit, f.fit_targets, *c.hooks, &f.hyperparameters));
  f.manifest.fit_seconds = absl::ToDoubleSeconds(watch.Elapsed());
  Eigen::VectorXd decodability;
  std::vector<int> top_units;
  if (o.decodability_folds >= 2) {
    ASSIGN_OR_RETURN(decodability, Decodability(o, ridge, fit, f.fit_targets, c));
    top_units = TopDecodableUnits(decodability, o.top_k_units);
  }
  // A generator trained here, on unpaired images with their features as
  // the condition: never on the evaluation split's stimuli.
  std::vector<int> units;
  if (o.train_generator) {
    ASSIGN_OR_RETURN(generator, TrainGenerator(o, c, *net.network, decodability, &units));
  }
  ModelManifest& m = f.manifest;
  FeaturesOptions chosen = o;
  chosen.ridge = ridge;  // with the alpha cross-validation chose
  m.description = FeaturesMethod(chosen).Describe(dataset.image);
  m.decoder = o.decoder == Options::Decoder::kSmr ? "smr" : "ridge";
  m.generator = generator ? "stored" : "none";
  m.target = "features";
  m.feature_network = net.id;
  m.feature_layers = net.layers;
  m.top_k_units = static_cast<int64_t>(top_units.size());
  m.generator_condition_units = static_cast<int64_t>(units.size());
  if (decodability.size() > 0)
    f.add_scores = [decodability, top_units, layers = net.layers](
                       const Eigen::MatrixXd&, const Eigen::MatrixXd&, const Eigen::RowVectorXd&,
                       ModelManifest::Evaluation* e) {
      AddDecodabilityScores(decodability, top_units, layers, e);
    };
  const IcgGenerator* trained = o.train_generator ? generator.get() : nullptr;
  f.save = [network_dir = net.dir, stored_dir, trained, units, decodability,
            top_units](const std::string& dir) -> absl::Status {
    RETURN_IF_ERROR(CopyTree(network_dir, dir + "/" + kFeatureNetworkDir, "feature network"));
    const std::string gdir = dir + "/" + kGeneratorDir;
    if (trained != nullptr) {
      std::filesystem::create_directories(gdir);
      RETURN_IF_ERROR(trained->Save(gdir));
      if (!units.empty()) RETURN_IF_ERROR(WriteIndices(gdir + "/" + kConditionUnitsFile, units));
    }
    if (!stored_dir.empty()) RETURN_IF_ERROR(CopyTree(stored_dir, gdir, "generator"));
    if (decodability.size() == 0) return absl::OkStatus();
    RETURN_IF_ERROR(WriteNpyFloat32(dir + "/" + kUnitDecodabilityFile,
                                    Eigen::MatrixXf(decodability.transpose().cast<float>())));
    return WriteIndices(dir + "/" + kTopUnitsFile, top_units);
  };
  f.stages.decoder = std::move(decoder);
  f.stages.generator = std::move(generator);
  f.stages.condition_units = std::move(units);
  return f;
}

absl::StatusOr<PipelineStages> FeaturesMethod::Load(const std::string& dir,
                                                    const ModelManifest& m) {
  PipelineStages s;
  ASSIGN_OR_RETURN(s.decoder, RidgeDecoder::Load(dir));
  const std::string gdir = dir + "/" + kGeneratorDir;
  if (m.generator_condition_units > 0) {
    ASSIGN_OR_RETURN(s.condition_units,
                     ReadIndices(gdir + "/" + kConditionUnitsFile, m.generator_condition_units));
  }
  if (m.generator == "stored") {
    ASSIGN_OR_RETURN(s.generator, IcgGenerator::Load(gdir));
  }
  return s;
}

}  // namespace v2p::core
