#include "workers/spec_files.h"

#include <cmath>
#include <filesystem>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "core/base/status_macros.h"
#include "core/data/image.h"
#include "core/methods/dand/dand_method.h"
#include "core/methods/features/features_method.h"
#include "core/methods/hyper/hyper_method.h"
#include "core/methods/pixels/pixels_method.h"
#include "core/methods/registry.h"
#include "spec/pipeline_spec_rules.h"

namespace v2p::worker {

namespace v1 = voxel2pixel::v1;

namespace {

// The converters below take a spec spec::ValidatePipelineSpec accepted.
core::RidgeFitOptions ToRidge(const v1::DecoderSpec& decoder) {
  const v1::RidgeDecoder& r = decoder.ridge();
  core::RidgeFitOptions o;
  o.ridge.regression = {r.alpha(), r.n_feat(), r.chunk_size()};
  if (decoder.has_ridge() && !r.has_alpha()) {
    o.choose_alpha = true;
    o.alpha_cv.grid.assign(r.alpha_grid().begin(), r.alpha_grid().end());
    o.alpha_cv.folds = r.alpha_folds() > 0 ? r.alpha_folds() : 5;
  }
  o.ridge.standardize_voxels = r.standardize_voxels();
  o.ridge.penalize_intercept = r.penalize_intercept();
  return o;
}

std::shared_ptr<const core::Method> ToDand(const v1::PipelineSpec& spec) {
  const v1::FeatureTargets& f = spec.features();
  const v1::MapDecoder& m = spec.decoder().map();
  core::DandOptions o;
  o.network = f.network();
  o.network_version = f.network_version();
  o.layers.assign(f.layers().begin(), f.layers().end());
  if (m.explained_variance() > 0) o.explained_variance = m.explained_variance();
  if (m.ridge() > 0) o.ridge = m.ridge();
  const v1::TrainedGenerator& g = spec.generator().train();
  o.generator.epochs = g.epochs() > 0 ? g.epochs() : 20;
  o.generator.lambda_fea = g.feature_loss();
  if (!g.feature_layer().empty()) o.generator.feature_layer = g.feature_layer();
  return std::make_shared<const core::DandMethod>(std::move(o));
}

std::shared_ptr<const core::Method> ToHyper(const v1::PipelineSpec& spec) {
  const v1::TrainedGenerator& g = spec.generator().train();
  core::HyperOptions o;
  if (spec.generator().has_train()) {
    o.train_gan = true;
    if (g.latent_size() > 0) o.gan_training.latent_size = g.latent_size();
    o.gan_training.epochs = g.epochs() > 0 ? g.epochs() : 20;
  } else {
    o.generator_name = spec.generator().stored().name();
    o.generator_version = spec.generator().stored().version();
  }
  o.ridge = ToRidge(spec.decoder());
  return std::make_shared<const core::HyperMethod>(std::move(o));
}

absl::Status ToSmr(const v1::SmrDecoder& s, core::FeaturesOptions* o) {
  const std::string variant = s.variant().empty() ? "SMR" : s.variant();
  ASSIGN_OR_RETURN(o->smr.smr, core::SmrOptions::Variant(variant, s.l1() > 0 ? s.l1() : 0.05));
  if (s.lambda() > 0) o->smr.smr.lambda = s.lambda();
  if (s.lambda1() > 0) o->smr.smr.lambda1 = s.lambda1();
  if (s.max_iterations() > 0) o->smr.smr.max_iterations = s.max_iterations();
  o->smr.variant = variant;
  o->smr.voxels = s.n_voxels();
  o->decoder = core::FeaturesOptions::Decoder::kSmr;
  return absl::OkStatus();
}

absl::Status ToFeaturesGenerator(const v1::GeneratorSpec& spec, core::FeaturesOptions* o) {
  if (spec.has_stored()) {
    o->generator_name = spec.stored().name();
    o->generator_version = spec.stored().version();
  } else if (spec.has_train()) {
    const v1::TrainedGenerator& g = spec.train();
    ASSIGN_OR_RETURN(o->generator_training,
                     core::IcgOptions::Preset(g.kind().empty() ? "ICG" : g.kind()));
    if (g.latent_size() > 0 && o->generator_training.kind != "DeCNN")
      o->generator_training.latent_size = g.latent_size();
    o->generator_training.epochs = g.epochs() > 0 ? g.epochs() : 10;
    if (g.has_margin()) o->generator_training.margin = g.margin();
    o->generator_top_k = g.condition_top_k();
    o->generator_uses_training_stimuli = !g.exclude_training_stimuli();
    o->train_generator = true;
  }
  return absl::OkStatus();
}

absl::StatusOr<std::shared_ptr<const core::Method>> ToFeatures(const v1::PipelineSpec& spec) {
  core::FeaturesOptions o;
  if (spec.decoder().has_smr()) RETURN_IF_ERROR(ToSmr(spec.decoder().smr(), &o));
  const v1::FeatureTargets& f = spec.features();
  o.network = f.network();
  o.network_version = f.network_version();
  o.layers.assign(f.layers().begin(), f.layers().end());
  o.top_k_units = f.top_k_units();
  RETURN_IF_ERROR(ToFeaturesGenerator(spec.generator(), &o));
  o.ridge = ToRidge(spec.decoder());
  return std::make_shared<const core::FeaturesMethod>(std::move(o));
}

std::shared_ptr<const core::Method> ToPixels(const v1::PipelineSpec& spec) {
  core::PixelsOptions o;
  o.ridge = ToRidge(spec.decoder());
  if (spec.has_pixel_components()) {
    const double v = spec.pixel_components().explained_variance();
    o.components_variance = v > 0 ? v : 0.9;
  }
  return std::make_shared<const core::PixelsMethod>(std::move(o));
}

absl::StatusOr<std::shared_ptr<const core::Method>> ToMethod(const v1::PipelineSpec& spec) {
  RETURN_IF_ERROR(spec::ValidatePipelineSpec(spec));
  if (spec.has_method()) {
    const auto& p = spec.method().parameters();
    return core::CreateMethod(spec.method().name(), core::MethodParameters(p.begin(), p.end()));
  }
  switch (spec.target()) {
    case v1::TARGET_SPACE_DAND:
      return ToDand(spec);
    case v1::TARGET_SPACE_GAN_LATENT:
      return ToHyper(spec);
    case v1::TARGET_SPACE_FEATURES:
      return ToFeatures(spec);
    default:
      return ToPixels(spec);
  }
}

}  // namespace

absl::Status ToTrainRequest(const v1::PipelineSpec& spec, core::TrainRequest* request) {
  ASSIGN_OR_RETURN(request->method, ToMethod(spec));
  request->clip_output = spec.clip_output();
  request->note = spec.description();
  return absl::OkStatus();
}

}  // namespace v2p::worker
