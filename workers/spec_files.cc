#include "core/base/files.h"
#include "workers/spec_files.h"


#include <cmath>
#include <filesystem>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "core/base/status_macros.h"
#include "core/data/image.h"
#include "proto/text_proto.h"

namespace v2p::worker {
namespace {

namespace v1 = voxel2pixel::v1;

template <typename Message>
absl::StatusOr<Message> ReadTextProto(const std::string& path) {
  ASSIGN_OR_RETURN(const std::string text, core::ReadFile(path));
  return v2p::ParseTextProto<Message>(text, path);
}

}  // namespace

absl::StatusOr<v1::PipelineSpec> ReadPipelineSpec(const std::string& path) {
  return ReadTextProto<v1::PipelineSpec>(path);
}

absl::StatusOr<v1::PipelineSpec> ParsePipelineSpec(const std::string& text) {
  return v2p::ParseTextProto<v1::PipelineSpec>(text, "pipeline spec");
}

absl::StatusOr<std::string> PipelineSpecText(const std::string& path) {
  if (path.empty()) return std::string(kDefaultPipelineSpec);
  return core::ReadFile(path);
}

absl::StatusOr<v1::DatasetDescription> ReadDatasetDescription(
    const std::string& path) {
  return ReadTextProto<v1::DatasetDescription>(path);
}

absl::StatusOr<core::PipelineOptions> ToPipelineOptions(
    const v1::PipelineSpec& spec) {
  core::PipelineOptions o;
  const bool features = spec.target() == v1::TARGET_SPACE_FEATURES;
  const bool latent = spec.target() == v1::TARGET_SPACE_GAN_LATENT;
  if (spec.target() == v1::TARGET_SPACE_DAND) {
    const v1::FeatureTargets& f = spec.features();
    const v1::MapDecoder& m = spec.decoder().map();
    if (f.network().empty() || f.layers().empty() || !spec.decoder().has_map())
      return absl::InvalidArgumentError(
          "pipeline spec: TARGET_SPACE_DAND takes features { network: ... layers: ... } and "
          "decoder { map { ... } }");
    if (m.explained_variance() < 0 || m.explained_variance() > 1 || m.ridge() < 0)
      return absl::InvalidArgumentError(
          "pipeline spec: map explained_variance must be in [0, 1] and ridge >= 0");
    if (spec.generator().kind_case() != v1::GeneratorSpec::KIND_NOT_SET &&
        !(spec.generator().has_train() &&
          (spec.generator().train().kind().empty() || spec.generator().train().kind() == "DAND")))
      return absl::InvalidArgumentError(
          "pipeline spec: TARGET_SPACE_DAND trains its own generator (generator { train { "
          "epochs: N } } or none)");
    o.target = core::PipelineOptions::Target::kDand;
    o.feature_network = f.network();
    o.feature_network_version = f.network_version();
    o.feature_layers.assign(f.layers().begin(), f.layers().end());
    if (m.explained_variance() > 0) o.dand_explained_variance = m.explained_variance();
    if (m.ridge() > 0) o.dand_ridge = m.ridge();
    const v1::TrainedGenerator& g = spec.generator().train();
    o.dand_generator.epochs = g.epochs() > 0 ? g.epochs() : 20;
    if (g.feature_loss() < 0)
      return absl::InvalidArgumentError("pipeline spec: generator.train.feature_loss must be >= 0");
    o.dand_generator.lambda_fea = g.feature_loss();
    if (!g.feature_layer().empty()) o.dand_generator.feature_layer = g.feature_layer();
    o.decodability_folds = 0;
    o.clip_output = spec.clip_output();
    o.note = spec.description();
    return o;
  }
  if (spec.generator().train().feature_loss() != 0)
    return absl::InvalidArgumentError(
        "pipeline spec: generator.train.feature_loss is DAND's (TARGET_SPACE_DAND)");
  if (spec.target() != v1::TARGET_SPACE_PIXELS && !features && !latent) {
    return absl::InvalidArgumentError(
        "pipeline spec: target must be TARGET_SPACE_PIXELS, TARGET_SPACE_FEATURES or "
        "TARGET_SPACE_GAN_LATENT");
  }
  if (latent) {
    const v1::TrainedGenerator& g = spec.generator().train();
    const bool trained = spec.generator().has_train() && g.kind() == "GAN";
    if (!spec.decoder().has_ridge() ||
        !(trained || (spec.generator().has_stored() && !spec.generator().stored().name().empty())))
      return absl::InvalidArgumentError(
          "pipeline spec: TARGET_SPACE_GAN_LATENT takes decoder { ridge } and "
          "generator { stored { name: ... } } naming a GAN, or generator { train { kind: \"GAN\" "
          "} } to train one in the job");
    o.target = core::PipelineOptions::Target::kGanLatent;
    if (trained) {
      if (g.latent_size() < 0 || g.epochs() < 0)
        return absl::InvalidArgumentError(
            "pipeline spec: generator.train latent_size and epochs must be >= 0");
      o.train_gan = true;
      if (g.latent_size() > 0) o.gan_training.latent_size = g.latent_size();
      o.gan_training.epochs = g.epochs() > 0 ? g.epochs() : 20;
    } else {
      o.generator_name = spec.generator().stored().name();
      o.generator_version = spec.generator().stored().version();
    }
  }
  if (!spec.decoder().has_ridge() && !spec.decoder().has_smr()) {
    return absl::InvalidArgumentError(
        "pipeline spec: decoder { ridge { ... } } or decoder { smr { ... } } "
        "is required");
  }
  if (spec.decoder().has_smr()) {
    if (!features)
      return absl::InvalidArgumentError(
          "pipeline spec: the smr decoder decodes features; set target: "
          "TARGET_SPACE_FEATURES");
    const v1::SmrDecoder& s = spec.decoder().smr();
    const std::string variant = s.variant().empty() ? "SMR" : s.variant();
    ASSIGN_OR_RETURN(o.smr, core::SmrOptions::Variant(
                                variant, s.l1() > 0 ? s.l1() : 0.05));
    if (s.lambda() < 0 || s.lambda1() < 0 || s.l1() < 0 ||
        s.max_iterations() < 0 || s.n_voxels() < 0)
      return absl::InvalidArgumentError(
          "pipeline spec: smr lambda, lambda1, l1, max_iterations, n_voxels "
          "must be >= 0");
    if (s.lambda() > 0) o.smr.lambda = s.lambda();
    if (s.lambda1() > 0) o.smr.lambda1 = s.lambda1();
    if (s.max_iterations() > 0) o.smr.max_iterations = s.max_iterations();
    o.smr_variant = variant;
    o.smr_voxels = s.n_voxels();
    o.decoder = core::PipelineOptions::Decoder::kSmr;
  }
  if (features) {
    const v1::FeatureTargets& f = spec.features();
    if (f.network().empty() || f.layers().empty())
      return absl::InvalidArgumentError(
          "pipeline spec: features { network: ... layers: ... } is required "
          "for TARGET_SPACE_FEATURES");
    o.target = core::PipelineOptions::Target::kFeatures;
    o.feature_network = f.network();
    o.feature_network_version = f.network_version();
    o.feature_layers.assign(f.layers().begin(), f.layers().end());
    if (f.top_k_units() < 0)
      return absl::InvalidArgumentError("pipeline spec: features.top_k_units must be >= 0");
    o.top_k_units = f.top_k_units();
    if (spec.generator().has_stored()) {
      if (spec.generator().stored().name().empty())
        return absl::InvalidArgumentError("pipeline spec: generator { stored { name: ... } }");
      o.generator_name = spec.generator().stored().name();
      o.generator_version = spec.generator().stored().version();
    } else if (spec.generator().has_train()) {
      const v1::TrainedGenerator& g = spec.generator().train();
      ASSIGN_OR_RETURN(o.generator_training,
                       core::IcgOptions::Preset(g.kind().empty() ? "ICG" : g.kind()));
      if (g.latent_size() < 0 || g.epochs() < 0 || g.condition_top_k() < 0 ||
          (g.has_margin() && g.margin() < 0))
        return absl::InvalidArgumentError(
            "pipeline spec: generator.train latent_size, epochs, margin, condition_top_k must "
            "be >= 0");
      if (g.latent_size() > 0 && o.generator_training.kind != "DeCNN")
        o.generator_training.latent_size = g.latent_size();
      o.generator_training.epochs = g.epochs() > 0 ? g.epochs() : 10;
      if (g.has_margin()) o.generator_training.margin = g.margin();
      o.generator_top_k = g.condition_top_k();
      o.generator_uses_training_stimuli = !g.exclude_training_stimuli();
      o.train_generator = true;
    } else if (spec.generator().kind_case() != v1::GeneratorSpec::KIND_NOT_SET) {
      return absl::InvalidArgumentError(
          "pipeline spec: a features pipeline takes no generator, generator { stored { ... } } "
          "or generator { train { ... } }");
    }
  }
  const v1::RidgeDecoder& r = spec.decoder().ridge();
  if (!(std::isfinite(r.alpha()) && r.alpha() >= 0) || r.n_feat() < 0 || r.chunk_size() < 0) {
    return absl::InvalidArgumentError(
        "pipeline spec: ridge alpha (finite), n_feat, chunk_size must be >= 0");
  }
  o.ridge.regression = {r.alpha(), r.n_feat(), r.chunk_size()};
  if (spec.decoder().has_ridge() && !r.has_alpha()) {
    if (r.alpha_folds() < 0 || r.alpha_folds() == 1)
      return absl::InvalidArgumentError("pipeline spec: ridge alpha_folds must be >= 2 (0: 5)");
    for (double a : r.alpha_grid())
      if (!(std::isfinite(a) && a > 0))
        return absl::InvalidArgumentError(
            "pipeline spec: every ridge alpha_grid value must be a finite number > 0");
    if (r.alpha_grid_size() > 64)
      return absl::InvalidArgumentError("pipeline spec: ridge alpha_grid has over 64 values");
    o.choose_alpha = true;
    o.alpha_cv.grid.assign(r.alpha_grid().begin(), r.alpha_grid().end());
    o.alpha_cv.folds = r.alpha_folds() > 0 ? r.alpha_folds() : 5;
  } else if (r.alpha_grid_size() > 0) {
    return absl::InvalidArgumentError(
        "pipeline spec: ridge alpha_grid is searched only when alpha is left out");
  }
  o.ridge.standardize_voxels = r.standardize_voxels();
  o.ridge.penalize_intercept = r.penalize_intercept();
  if (!features && !latent && spec.generator().kind_case() != v1::GeneratorSpec::kIdentity) {
    return absl::InvalidArgumentError(
        "pipeline spec: generator { identity {} } is required for pixel "
        "targets");
  }
  o.generator = core::PipelineOptions::Generator::kIdentity;
  if (spec.has_pixel_components()) {
    const double v = spec.pixel_components().explained_variance();
    if (features || latent || v < 0 || v > 1)
      return absl::InvalidArgumentError(
          "pipeline spec: pixel_components goes with TARGET_SPACE_PIXELS, and its "
          "explained_variance must be in [0, 1]");
    o.pixel_components_variance = v > 0 ? v : 0.9;
  }
  o.clip_output = spec.clip_output();
  o.note = spec.description();
  return o;
}

std::string DescriptionDataRoot(const std::string& description_path,
                                const std::string& data_root) {
  if (!data_root.empty()) return data_root;
  const std::filesystem::path dir = std::filesystem::path(description_path).parent_path();
  return dir.empty() ? "." : dir.string();
}

absl::StatusOr<core::DatasetOptions> ToDatasetOptions(
    const v1::DatasetDescription& d, const std::string& data_root) {
  core::DatasetOptions o;
  o.name = d.name();
  if (d.file().empty())
    return absl::InvalidArgumentError("dataset description: 'file' is empty");
  std::filesystem::path file(d.file());
  o.file = file.is_absolute()
               ? file.string()
               : (std::filesystem::path(data_root) / file).string();
  o.train = {d.train().betas(), d.train().stimuli(), d.train().labels()};
  o.test = {d.test().betas(), d.test().stimuli(), d.test().labels()};
  o.image = {d.image().height(), d.image().width(),
             d.image().channels() > 0 ? d.image().channels() : 1};
  switch (d.image().layout()) {
    case v1::IMAGE_LAYOUT_ROW_MAJOR:
      o.layout = core::ImageLayout::kRowMajor;
      break;
    case v1::IMAGE_LAYOUT_COLUMN_MAJOR:
      o.layout = core::ImageLayout::kColumnMajor;
      break;
    default:
      return absl::InvalidArgumentError(
          "dataset description: image.layout must be IMAGE_LAYOUT_ROW_MAJOR or "
          "IMAGE_LAYOUT_COLUMN_MAJOR");
  }
  if (d.image().pixel_max() < 0 || !std::isfinite(d.image().pixel_max()))
    return absl::InvalidArgumentError(
        "dataset description: image.pixel_max must be > 0 (or left out to infer it)");
  o.pixel_max = d.image().pixel_max();  // 0: inferred from the training stimuli
  o.unpaired_images = d.unpaired_images();
  o.mirror_symmetric = d.mirror_symmetric();
  if (!d.test_trials().ranges().empty()) {
    ASSIGN_OR_RETURN(o.test_trials.ranges, core::ParseTrialRanges(d.test_trials().ranges()));
  }
  o.test_trials.variable = d.test_trials().variable();
  o.test_trials.values.assign(d.test_trials().values().begin(), d.test_trials().values().end());
  return o;
}

}  // namespace v2p::worker
