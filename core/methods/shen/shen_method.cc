#include "core/methods/shen/shen_method.h"

#include <cmath>
#include <map>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "core/base/files.h"
#include "core/base/status_macros.h"
#include "core/base/stopwatch.h"
#include "core/data/npy.h"
#include "core/generation/icg.h"
#include "core/pipeline/model_repository.h"

namespace v2p::core {
namespace {

constexpr char kSettingsFile[] = "shen.txt";

const char* OptimizerName(InversionOptimizer o) {
  return o == InversionOptimizer::kLbfgs ? "lbfgs" : "gd";
}

// The refine stage: decoded layers, norm-corrected, inverted.
class ShenRefiner final : public Refiner {
 public:
  ShenRefiner(std::shared_ptr<const FeatureNetwork> network,
              std::vector<ModelManifest::FeatureLayer> layers, bool norm_correction,
              InversionOptions inversion, ImageShape image)
      : network_(std::move(network)),
        layers_(std::move(layers)),
        norm_correction_(norm_correction),
        inversion_(std::move(inversion)),
        image_(image) {}

  // Inverts over this generator's condition instead of the pixels.
  void SetPrior(std::shared_ptr<const IcgGenerator> generator, GeneratorPrior prior) {
    generator_ = std::move(generator);
    prior_ = std::move(prior);
    prior_.generator = generator_.get();
  }

  std::string Describe() const override {
    return absl::StrCat("feature inversion (", OptimizerName(inversion_.optimizer), ", ",
                        inversion_.iterations, " iterations",
                        generator_ ? ", over " + generator_->Describe() + "'s condition" : "",
                        inversion_.tv_weight > 0 ? absl::StrCat(", TV ", inversion_.tv_weight) : "",
                        norm_correction_ ? ", norm-corrected" : "", ")");
  }

  absl::StatusOr<Refined> Refine(const Eigen::MatrixXf& decoded, const Eigen::MatrixXf&,
                                 const RefineControl& control) const override {
    ASSIGN_OR_RETURN(const LayerFeatures targets, Split(decoded));
    InversionOptions o = inversion_;
    if (control.iterations > 0) o.iterations = control.iterations;
    bool cancelled = false;
    o.should_stop = [&] {
      cancelled = control.is_cancelled && control.is_cancelled();
      return cancelled || (control.stop_early && control.stop_early());
    };
    o.progress_every = control.progress_every;
    o.on_progress = control.on_progress;
    if (generator_) o.prior = &prior_;
    ASSIGN_OR_RETURN(InversionResult r, InvertFeatures(*network_, targets, image_, o));
    if (cancelled)
      return absl::CancelledError(
          absl::StrCat("cancelled after ", r.iterations, " of ", o.iterations, " iterations"));
    Refined out;
    out.images = std::move(r.images);
    out.iterations = r.iterations;
    out.truncated = r.stopped_early;
    return out;
  }

 private:
  // The decoded row's layers, norm-corrected when asked.
  absl::StatusOr<LayerFeatures> Split(const Eigen::MatrixXf& decoded) const {
    LayerFeatures out;
    Eigen::Index at = 0;
    for (const auto& l : layers_) {
      if (at + l.size > decoded.cols())
        return absl::InternalError("decoded features are narrower than the model's layers");
      Eigen::MatrixXf y = decoded.middleCols(at, l.size);
      at += l.size;
      if (norm_correction_) {
        const LayerStatistics* s = network_->statistics(l.name);
        if (s == nullptr || !s->has_psi)
          return absl::FailedPreconditionError(
              absl::StrCat("norm correction needs the network's psi statistics of ", l.name));
        y = CorrectFeatureNorm(y, l.shape, s->psi_mean);
      }
      out[l.name] = std::move(y);
    }
    return out;
  }

  std::shared_ptr<const FeatureNetwork> network_;
  std::vector<ModelManifest::FeatureLayer> layers_;
  bool norm_correction_;
  InversionOptions inversion_;
  ImageShape image_;
  std::shared_ptr<const IcgGenerator> generator_;
  GeneratorPrior prior_;
};

constexpr char kPriorFile[] = "prior.npy";  // 3 x condition units: low, high, start
constexpr char kPriorLayer[] = "fc6";

// The stored generator of the prior, which must take this network's fc6,
// and the range and mean fc6 takes over the fitted trials' stimuli.
struct StoredPrior {
  std::shared_ptr<const IcgGenerator> generator;
  std::string dir;
  GeneratorPrior prior;
};

absl::StatusOr<StoredPrior> LoadPrior(const ShenOptions& o, const FitContext& c,
                                      const FeatureNetwork& network,
                                      const std::string& network_id) {
  StoredPrior p;
  ASSIGN_OR_RETURN(auto gens, OpenGeneratorRepository(c.repository_root, false));
  ASSIGN_OR_RETURN(const int64_t gv, gens->ResolveVersion(o.generator, o.generator_version));
  ASSIGN_OR_RETURN(p.dir, gens->VerifiedVersionDir(o.generator, gv));
  ASSIGN_OR_RETURN(const std::string condition, ReadFile(p.dir + "/" + kGeneratorConditionFile));
  const std::string expected = GeneratorCondition(network_id, {kPriorLayer});
  if (condition != expected)
    return absl::InvalidArgumentError(absl::StrCat(
        "method shen: generator ", o.generator, "/", gv, " was trained on '",
        absl::StrReplaceAll(condition, {{"\n", "; "}}), "'; its prior needs '",
        absl::StrReplaceAll(expected, {{"\n", "; "}}), "' (v2p generators train --layers fc6)"));
  ASSIGN_OR_RETURN(std::unique_ptr<IcgGenerator> g, IcgGenerator::Load(p.dir));
  if (!(g->image_shape() == c.dataset->image))
    return absl::InvalidArgumentError(absl::StrCat("method shen: generator ", o.generator,
                                                   " draws images of another size than ",
                                                   c.dataset->name, "'s"));
  ASSIGN_OR_RETURN(
      const Eigen::MatrixXf fc6,
      network.ExtractConcatenated(c.fit->stimuli.cast<float>(), c.dataset->image, {kPriorLayer}));
  p.prior.low = fc6.colwise().minCoeff();
  p.prior.high = fc6.colwise().maxCoeff();
  p.prior.start = fc6.colwise().mean();
  p.generator = std::move(g);
  return p;
}

// Numbers with every digit they hold (%.17g, %.9g for floats), so that a
// loaded model starts and steps exactly as the one trained (six digits
// moved the L-BFGS trajectory enough to flip an identification pair).
std::string SettingsText(const ShenOptions& o) {
  const InversionOptions& i = o.inversion;
  return absl::StrFormat(
      "optimizer: %s\niterations: %d\ntv_weight: %.17g\nnorm_correction: %s\nstart_value: "
      "%.9g\nstart_dither: %.9g\nlr_start: %.17g\nlr_end: %.17g\nmomentum: %.17g\ngenerator_prior: "
      "%s\n",
      OptimizerName(i.optimizer), i.iterations, i.tv_weight, o.norm_correction ? "true" : "false",
      i.start_value, i.start_dither, i.lr_start, i.lr_end, i.momentum,
      o.generator.empty() ? "false" : "true");
}

absl::Status BadSetting(const std::string& path, absl::string_view line) {
  return absl::DataLossError(absl::StrCat(path, ": cannot read '", line.substr(0, 64), "'"));
}

absl::StatusOr<ShenOptions> ReadSettings(const std::string& path) {
  ASSIGN_OR_RETURN(const std::string text, ReadFile(path));
  ShenOptions o;
  InversionOptions& i = o.inversion;
  for (absl::string_view line : absl::StrSplit(text, '\n', absl::SkipEmpty())) {
    const std::pair<absl::string_view, absl::string_view> kv = absl::StrSplit(line, ": ");
    const std::string value(kv.second);
    float start = 0;
    bool ok = true;
    if (kv.first == "optimizer") {
      ok = value == "lbfgs" || value == "gd";
      i.optimizer =
          value == "gd" ? InversionOptimizer::kGradientDescent : InversionOptimizer::kLbfgs;
    } else if (kv.first == "iterations") {
      ok = absl::SimpleAtoi(value, &i.iterations) && i.iterations >= 0;
    } else if (kv.first == "tv_weight") {
      ok = absl::SimpleAtod(value, &i.tv_weight);
    } else if (kv.first == "norm_correction") {
      o.norm_correction = value == "true";
    } else if (kv.first == "start_value") {
      ok = absl::SimpleAtof(value, &start) && std::isfinite(start);
      i.start_value = start;
    } else if (kv.first == "start_dither") {
      // A version written before the dither reads the current default.
      ok = absl::SimpleAtof(value, &i.start_dither) && i.start_dither >= 0 && i.start_dither < 1;
    } else if (kv.first == "lr_start") {
      ok = absl::SimpleAtod(value, &i.lr_start);
    } else if (kv.first == "lr_end") {
      ok = absl::SimpleAtod(value, &i.lr_end);
    } else if (kv.first == "momentum") {
      ok = absl::SimpleAtod(value, &i.momentum);
    } else if (kv.first == "generator_prior") {
      o.generator = value == "true" ? kGeneratorDir : "";
    }
    if (!ok) return BadSetting(path, line);
  }
  return o;
}

absl::Status CheckOptions(const ShenOptions& o) {
  const InversionOptions& i = o.inversion;
  if (i.iterations < 1 || i.iterations > 100000)
    return absl::InvalidArgumentError("method shen: iterations must be 1 to 100000");
  if (i.tv_weight < 0) return absl::InvalidArgumentError("method shen: tv_weight must be >= 0");
  const auto& r = o.ridge.ridge.regression;
  if (r.alpha < 0) return absl::InvalidArgumentError("method shen: alpha must be >= 0");
  if (r.n_feat < 0) return absl::InvalidArgumentError("method shen: n_feat must be >= 0");
  return absl::OkStatus();
}

}  // namespace

ShenOptions::ShenOptions() {
  ridge.ridge.regression.alpha = 100;
  ridge.ridge.regression.n_feat = 500;
  ridge.ridge.standardize_voxels = true;
}

std::string ShenMethod::Describe(ImageShape) const {
  const ShenOptions& o = options_;
  return absl::StrCat(
      RidgeText(o.ridge, true), ") -> features ",
      o.layers.empty() ? "(every layer but the last)" : absl::StrJoin(o.layers, "+"), " of ",
      o.network, o.norm_correction ? " -> norm correction" : "", " -> feature inversion (",
      OptimizerName(o.inversion.optimizer), ", ", o.inversion.iterations, " iterations",
      o.generator.empty() ? "" : ", over generator " + o.generator + "'s input",
      o.inversion.tv_weight > 0 ? absl::StrCat(", TV ", o.inversion.tv_weight) : "", ")");
}

std::vector<std::string> ShenMethod::stored_generators() const {
  if (options_.generator.empty()) return {};
  return {options_.generator};
}

absl::StatusOr<FittedMethod> ShenMethod::Fit(const FitContext& c) const {
  ShenOptions o = options_;
  const Dataset& dataset = *c.dataset;
  if (o.layers.empty()) {
    ASSIGN_OR_RETURN(o.layers,
                     StoredFeatureNetworkLayers(c.repository_root, o.network, o.network_version));
    if (o.layers.size() > 1) o.layers.pop_back();
  }
  ASSIGN_OR_RETURN(auto net, LoadStoredFeatureNetwork(c.repository_root, o.network,
                                                      o.network_version, dataset, o.layers));
  if (o.norm_correction)
    for (const std::string& l : o.layers)
      if (const LayerStatistics* s = net.network->statistics(l); s == nullptr || !s->has_psi)
        return absl::InvalidArgumentError(
            absl::StrCat("method shen: network ", net.id, " holds no psi statistics of ", l,
                         " for norm correction; train it again with `v2p features train` or set "
                         "norm_correction false"));
  FittedMethod f;
  ASSIGN_OR_RETURN(f.fit_targets,
                   LayerTargets(*net.network, c.fit->stimuli, dataset.image, o.layers));
  if (c.eval->stimuli.rows() > 0) {
    ASSIGN_OR_RETURN(f.eval_targets,
                     LayerTargets(*net.network, c.eval->stimuli, dataset.image, o.layers));
  }
  Stopwatch watch;
  ASSIGN_OR_RETURN(std::unique_ptr<RidgeDecoder> decoder,
                   FitRidge(*c.fit, f.fit_targets, &o.ridge, *c.hooks, &f.hyperparameters));
  f.manifest.fit_seconds = absl::ToDoubleSeconds(watch.Elapsed());
  o.inversion.start_value = static_cast<float>(c.fit->stimuli.mean());
  ModelManifest& m = f.manifest;
  m.description = ShenMethod(o).Describe(dataset.image);
  m.decoder = "ridge";
  m.generator = "none";
  m.target = "features";
  m.feature_network = net.id;
  m.feature_layers = net.layers;
  StoredPrior prior;
  if (!o.generator.empty()) {
    ASSIGN_OR_RETURN(prior, LoadPrior(o, c, *net.network, net.id));
  }
  f.save = [network_dir = net.dir, settings = SettingsText(o), prior](const std::string& dir) {
    RETURN_IF_ERROR(CopyTree(network_dir, dir + "/" + kFeatureNetworkDir, "feature network"));
    if (prior.generator) {
      RETURN_IF_ERROR(CopyTree(prior.dir, dir + "/" + kGeneratorDir, "generator"));
      Eigen::MatrixXf ranges(3, prior.prior.low.size());
      ranges << prior.prior.low, prior.prior.high, prior.prior.start;
      RETURN_IF_ERROR(WriteNpyFloat32(dir + "/" + kPriorFile, ranges));
    }
    return WriteFile(dir + "/" + kSettingsFile, settings);
  };
  f.stages.decoder = std::move(decoder);
  auto refiner =
      std::make_unique<ShenRefiner>(std::shared_ptr<const FeatureNetwork>(std::move(net.network)),
                                    net.layers, o.norm_correction, o.inversion, dataset.image);
  if (prior.generator) refiner->SetPrior(prior.generator, prior.prior);
  f.stages.refiner = std::move(refiner);
  return f;
}

absl::StatusOr<std::shared_ptr<const Method>> ShenMethod::Create(
    const MethodParameters& parameters) {
  ShenOptions o;
  auto& r = o.ridge.ridge;
  RETURN_IF_ERROR(ApplyParameters(
      "shen", parameters,
      {
          {"network", SetsValue(&o.network)},
          {"network_version", SetsValue(&o.network_version)},
          {"layers",
           [&](const std::string& v) {
             o.layers = absl::StrSplit(v, ',', absl::SkipWhitespace());
             for (auto& l : o.layers) l = std::string(absl::StripAsciiWhitespace(l));
             return absl::OkStatus();
           }},
          {"alpha", SetsValue(&r.regression.alpha)},
          {"n_feat", SetsValue(&r.regression.n_feat)},
          {"standardize_voxels", SetsValue(&r.standardize_voxels)},
          {"norm_correction", SetsValue(&o.norm_correction)},
          {"optimizer",
           [&](const std::string& v) {
             if (v != "lbfgs" && v != "gd")
               return absl::InvalidArgumentError("is \"lbfgs\" or \"gd\"");
             o.inversion.optimizer =
                 v == "gd" ? InversionOptimizer::kGradientDescent : InversionOptimizer::kLbfgs;
             return absl::OkStatus();
           }},
          {"iterations", SetsValue(&o.inversion.iterations)},
          {"tv_weight", SetsValue(&o.inversion.tv_weight)},
          {"generator", SetsValue(&o.generator)},
          {"generator_version", SetsValue(&o.generator_version)},
      }));
  RETURN_IF_ERROR(CheckOptions(o));
  return std::make_shared<const ShenMethod>(std::move(o));
}

absl::StatusOr<PipelineStages> ShenMethod::Load(const std::string& dir, const ModelManifest& m) {
  PipelineStages s;
  ASSIGN_OR_RETURN(s.decoder, RidgeDecoder::Load(dir));
  ASSIGN_OR_RETURN(std::unique_ptr<FeatureNetwork> network,
                   FeatureNetwork::Load(dir + "/" + kFeatureNetworkDir));
  ASSIGN_OR_RETURN(const ShenOptions o, ReadSettings(dir + "/" + kSettingsFile));
  auto refiner =
      std::make_unique<ShenRefiner>(std::shared_ptr<const FeatureNetwork>(std::move(network)),
                                    m.feature_layers, o.norm_correction, o.inversion, m.image);
  if (!o.generator.empty()) {
    ASSIGN_OR_RETURN(std::unique_ptr<IcgGenerator> g,
                     IcgGenerator::Load(dir + "/" + kGeneratorDir));
    ASSIGN_OR_RETURN(const NpyArray a, ReadNpy(dir + "/" + kPriorFile));
    ASSIGN_OR_RETURN(const Eigen::MatrixXd ranges, a.AsMatrix());
    if (ranges.rows() != 3 || ranges.cols() != g->input_size())
      return absl::DataLossError(absl::StrCat(dir, "/", kPriorFile, " is ", ranges.rows(), "x",
                                              ranges.cols(), "; expected 3x", g->input_size()));
    GeneratorPrior prior;
    prior.low = ranges.row(0).cast<float>();
    prior.high = ranges.row(1).cast<float>();
    prior.start = ranges.row(2).cast<float>();
    refiner->SetPrior(std::move(g), std::move(prior));
  }
  s.refiner = std::move(refiner);
  return s;
}

}  // namespace v2p::core
