#include "spec/pipeline_spec_rules.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "spec/method_spec.h"

namespace v2p::spec {
namespace {

namespace v1 = voxel2pixel::v1;
namespace fs = std::filesystem;

absl::Status Invalid(const std::string& what) {
  return absl::InvalidArgumentError(absl::StrCat("pipeline spec: ", what));
}

// NaN fails every comparison: `x >= 0` is false for it, `x < 0` too.
bool NonNegative(double x) { return std::isfinite(x) && x >= 0; }

// At most 64 characters of a client's string, for messages.
std::string Echo(const std::string& s) { return s.size() <= 64 ? s : s.substr(0, 64) + "..."; }

absl::Status CheckRidge(const v1::DecoderSpec& decoder) {
  const v1::RidgeDecoder& r = decoder.ridge();
  if (!NonNegative(r.alpha()) || r.n_feat() < 0 || r.chunk_size() < 0)
    return Invalid("ridge alpha (finite), n_feat, chunk_size must be >= 0");
  if (decoder.has_ridge() && !r.has_alpha()) {
    if (r.alpha_folds() < 0 || r.alpha_folds() == 1)
      return Invalid("ridge alpha_folds must be >= 2 (0: 5)");
    for (double a : r.alpha_grid())
      if (!(std::isfinite(a) && a > 0))
        return Invalid("every ridge alpha_grid value must be a finite number > 0");
    if (r.alpha_grid_size() > 64) return Invalid("ridge alpha_grid has over 64 values");
  } else if (r.alpha_grid_size() > 0) {
    return Invalid("ridge alpha_grid is searched only when alpha is left out");
  }
  return absl::OkStatus();
}

absl::Status CheckFeatureTargets(const v1::FeatureTargets& f, const char* target) {
  if (f.network().empty() || f.layers().empty())
    return Invalid(absl::StrCat(target, " takes features { network: ... layers: ... }"));
  if (!IsPlainName(f.network()))
    return Invalid(absl::StrCat("invalid feature network name '", Echo(f.network()), "'"));
  if (f.network_version() < 0 || f.top_k_units() < 0 || f.layers_size() > 64)
    return Invalid("features network_version and top_k_units must be >= 0, at most 64 layers");
  return absl::OkStatus();
}

absl::Status CheckDand(const v1::PipelineSpec& spec) {
  const v1::MapDecoder& m = spec.decoder().map();
  if (!spec.decoder().has_map())
    return Invalid(
        "TARGET_SPACE_DAND takes features { network: ... layers: ... } and "
        "decoder { map { ... } }");
  if (absl::Status s = CheckFeatureTargets(spec.features(), "TARGET_SPACE_DAND"); !s.ok()) return s;
  if (!NonNegative(m.explained_variance()) || m.explained_variance() > 1 || !NonNegative(m.ridge()))
    return Invalid("map explained_variance must be in [0, 1] and ridge >= 0");
  const v1::GeneratorSpec& g = spec.generator();
  if (g.kind_case() != v1::GeneratorSpec::KIND_NOT_SET &&
      !(g.has_train() && (g.train().kind().empty() || g.train().kind() == "DAND")))
    return Invalid(
        "TARGET_SPACE_DAND trains its own generator (generator { train { "
        "epochs: N } } or none)");
  if (!NonNegative(g.train().feature_loss()) || g.train().epochs() < 0)
    return Invalid("generator.train feature_loss and epochs must be >= 0");
  if (spec.has_pixel_components()) return Invalid("pixel_components goes with TARGET_SPACE_PIXELS");
  return absl::OkStatus();
}

absl::Status CheckHyper(const v1::PipelineSpec& spec) {
  const v1::TrainedGenerator& g = spec.generator().train();
  const bool trained = spec.generator().has_train() && g.kind() == "GAN";
  if (!spec.decoder().has_ridge() ||
      !(trained || (spec.generator().has_stored() && !spec.generator().stored().name().empty())))
    return Invalid(
        "TARGET_SPACE_GAN_LATENT takes decoder { ridge } and generator { stored { name: ... } } "
        "naming a GAN, or generator { train { kind: \"GAN\" } } to train one in the job");
  if (!trained && !IsPlainName(spec.generator().stored().name()))
    return Invalid(
        absl::StrCat("invalid generator name '", Echo(spec.generator().stored().name()), "'"));
  if (trained && (g.latent_size() < 0 || g.epochs() < 0))
    return Invalid("generator.train latent_size and epochs must be >= 0");
  if (spec.has_pixel_components()) return Invalid("pixel_components goes with TARGET_SPACE_PIXELS");
  return CheckRidge(spec.decoder());
}

absl::Status CheckSmr(const v1::SmrDecoder& s) {
  static const std::vector<std::string> kVariants = {"SMR",    "SMR-O",  "SMR-I", "SMR-T",
                                                     "SMR-IT", "SMR-OT", "SMR-IO"};
  std::string variant = s.variant().empty() ? "SMR" : s.variant();
  if (variant.rfind("sparse-", 0) == 0) variant = variant.substr(7);
  if (std::find(kVariants.begin(), kVariants.end(), variant) == kVariants.end())
    return Invalid(absl::StrCat("unknown SMR variant '", Echo(s.variant()), "'; variants: ",
                                absl::StrJoin(kVariants, ", "), " (optionally prefixed sparse-)"));
  if (!NonNegative(s.lambda()) || !NonNegative(s.lambda1()) || !NonNegative(s.l1()) ||
      s.max_iterations() < 0 || s.n_voxels() < 0)
    return Invalid("smr lambda, lambda1, l1, max_iterations, n_voxels must be >= 0");
  return absl::OkStatus();
}

absl::Status CheckFeaturesGenerator(const v1::GeneratorSpec& g) {
  if (g.has_stored()) {
    if (!IsPlainName(g.stored().name()) || g.stored().version() < 0)
      return Invalid(absl::StrCat("generator { stored { name: ... } } names a stored generator; '",
                                  Echo(g.stored().name()), "' is not a valid name"));
  } else if (g.has_train()) {
    const v1::TrainedGenerator& t = g.train();
    const std::string kind = t.kind().empty() ? "ICG" : t.kind();
    if (kind != "ICG" && kind != "CVAE" && kind != "CGAN" && kind != "DeCNN")
      return Invalid(
          absl::StrCat("generator.train.kind '", Echo(kind), "' is not ICG, CVAE, CGAN or DeCNN"));
    if (t.latent_size() < 0 || t.epochs() < 0 || t.condition_top_k() < 0 ||
        (t.has_margin() && !NonNegative(t.margin())))
      return Invalid("generator.train latent_size, epochs, margin, condition_top_k must be >= 0");
  } else if (g.kind_case() != v1::GeneratorSpec::KIND_NOT_SET) {
    return Invalid(
        "a features pipeline takes no generator, generator { stored { ... } } or "
        "generator { train { ... } }");
  }
  return absl::OkStatus();
}

absl::Status CheckFeatures(const v1::PipelineSpec& spec) {
  if (spec.decoder().has_smr()) {
    if (absl::Status s = CheckSmr(spec.decoder().smr()); !s.ok()) return s;
  }
  if (absl::Status s = CheckFeatureTargets(spec.features(), "TARGET_SPACE_FEATURES"); !s.ok())
    return s;
  if (absl::Status s = CheckFeaturesGenerator(spec.generator()); !s.ok()) return s;
  if (spec.has_pixel_components()) return Invalid("pixel_components goes with TARGET_SPACE_PIXELS");
  return CheckRidge(spec.decoder());
}

absl::Status CheckPixels(const v1::PipelineSpec& spec) {
  if (absl::Status s = CheckRidge(spec.decoder()); !s.ok()) return s;
  if (spec.generator().kind_case() != v1::GeneratorSpec::kIdentity)
    return Invalid("generator { identity {} } is required for pixel targets");
  const double v = spec.pixel_components().explained_variance();
  if (!NonNegative(v) || v > 1) return Invalid("pixel_components explained_variance is in [0, 1]");
  return absl::OkStatus();
}

// The numeric version directories of a stored network, ascending.
std::vector<int64_t> Versions(const fs::path& dir) {
  std::vector<int64_t> versions;
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (!name.empty() && name.size() < 19 &&
        std::all_of(name.begin(), name.end(), absl::ascii_isdigit))
      versions.push_back(std::stoll(name));
  }
  std::sort(versions.begin(), versions.end());
  return versions;
}

// The layer names a stored network's network.txt lists ("layer: NAME SHAPE").
std::vector<std::string> StoredLayers(const fs::path& version_dir) {
  std::ifstream in(version_dir / "network.txt");
  std::vector<std::string> layers;
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("layer: ", 0) != 0) continue;
    std::istringstream fields(line.substr(7));
    std::string name;
    if (fields >> name) layers.push_back(name);
  }
  return layers;
}

}  // namespace

absl::Status ValidatePipelineSpec(const v1::PipelineSpec& spec) {
  if (spec.has_method()) return ValidateMethodSpec(spec);
  if (spec.num_voxels() < 0) return Invalid("num_voxels must be >= 0");
  if (spec.target() == v1::TARGET_SPACE_DAND) return CheckDand(spec);
  if (spec.generator().train().feature_loss() != 0)
    return Invalid("generator.train.feature_loss is DAND's (TARGET_SPACE_DAND)");
  if (spec.target() == v1::TARGET_SPACE_GAN_LATENT) return CheckHyper(spec);
  if (!spec.decoder().has_ridge() && !spec.decoder().has_smr())
    return Invalid("decoder { ridge { ... } } or decoder { smr { ... } } is required");
  if (spec.decoder().has_smr() && spec.target() != v1::TARGET_SPACE_FEATURES)
    return Invalid("the smr decoder decodes features; set target: TARGET_SPACE_FEATURES");
  if (spec.target() == v1::TARGET_SPACE_FEATURES) return CheckFeatures(spec);
  if (spec.target() != v1::TARGET_SPACE_PIXELS)
    return Invalid(
        "target must be TARGET_SPACE_PIXELS, TARGET_SPACE_FEATURES, TARGET_SPACE_GAN_LATENT or "
        "TARGET_SPACE_DAND (or name a method { ... })");
  return CheckPixels(spec);
}

absl::Status ValidateForDataset(const v1::PipelineSpec& spec, const DatasetFacts& dataset) {
  if (spec.num_voxels() > 0 && spec.num_voxels() != dataset.num_voxels)
    return Invalid(absl::StrCat("expects ", spec.num_voxels(), " voxels; dataset '",
                                Echo(dataset.name), "' has ", dataset.num_voxels));
  // Without unpaired images a generator learns from the (shifted) training
  // stimuli, which exclude_training_stimuli takes away.
  if (spec.target() == v1::TARGET_SPACE_FEATURES && spec.generator().has_train() &&
      spec.generator().train().exclude_training_stimuli() && !dataset.has_unpaired_images)
    return Invalid(absl::StrCat(
        "generator { train { exclude_training_stimuli: true } } leaves no images: dataset '",
        Echo(dataset.name), "' names no unpaired_images (set them in its description)"));
  return absl::OkStatus();
}

absl::Status ValidateStoredParts(const v1::PipelineSpec& spec, const std::string& repository_root) {
  if (spec.target() != v1::TARGET_SPACE_FEATURES && spec.target() != v1::TARGET_SPACE_DAND)
    return absl::OkStatus();
  const v1::FeatureTargets& f = spec.features();
  const fs::path dir = fs::path(repository_root) / "feature_networks" / f.network();
  const std::vector<int64_t> versions = Versions(dir);
  if (versions.empty())
    return absl::NotFoundError(absl::StrCat("pipeline spec: no feature network '",
                                            Echo(f.network()), "' in the repository"));
  const int64_t version = f.network_version() == 0 ? versions.back() : f.network_version();
  if (std::find(versions.begin(), versions.end(), version) == versions.end())
    return absl::NotFoundError(absl::StrCat("pipeline spec: feature network '", f.network(),
                                            "' has no version ", version,
                                            " (versions: ", absl::StrJoin(versions, ", "), ")"));
  const std::vector<std::string> layers = StoredLayers(dir / std::to_string(version));
  if (layers.empty()) return absl::OkStatus();  // unreadable here: the worker finds out
  std::vector<std::string> wanted(f.layers().begin(), f.layers().end());
  if (spec.target() == v1::TARGET_SPACE_DAND && !spec.generator().train().feature_layer().empty())
    wanted.push_back(spec.generator().train().feature_layer());
  for (const std::string& layer : wanted)
    if (std::find(layers.begin(), layers.end(), layer) == layers.end())
      return Invalid(absl::StrCat("feature network ", f.network(), "/", version, " has no layer '",
                                  Echo(layer), "' (it has ", absl::StrJoin(layers, ", "), ")"));
  return absl::OkStatus();
}

absl::Status ValidateTrainingSpec(const v1::PipelineSpec& spec, const DatasetFacts& dataset,
                                  const std::string& repository_root) {
  if (absl::Status s = ValidatePipelineSpec(spec); !s.ok()) return s;
  if (absl::Status s = ValidateForDataset(spec, dataset); !s.ok()) return s;
  return ValidateStoredParts(spec, repository_root);
}

}  // namespace v2p::spec
