// Feature decoding: betas -> the CNN features of a stored feature network's
// layers (Horikawa & Kamitani 2017), by ridge (FastL2LiR) or by structured
// multi-output regression (SMR, Du et al. 2020, "Structured neural decoding
// with multitask transfer learning of deep neural network representations",
// IEEE TNNLS), with per-unit decodability by k-fold CV; then optionally a
// generator from the features to an image: one stored in <repo>/generators
// or one trained in the job (the introspective conditional generator of
// Du et al. 2020, or the CVAE, CGAN-like and De-CNN baselines).
// Manifest name "features".
#ifndef V2P_CORE_METHODS_FEATURES_FEATURES_METHOD_H_
#define V2P_CORE_METHODS_FEATURES_FEATURES_METHOD_H_

#include <cstdint>
#include <string>
#include <vector>

#include "core/generation/icg.h"
#include "core/methods/fitting.h"
#include "core/pipeline/method.h"

namespace v2p::core {

struct FeaturesOptions {
  // A network in <repo>/feature_networks (version 0 = latest) and the
  // layers to decode, in output order.
  std::string network;
  int64_t network_version = 0;
  std::vector<std::string> layers;
  // Per-unit decodability by k-fold CV on the fitted trials (< 2 skips it)
  // and how many of the best units to keep (0: all, ranked).
  int decodability_folds = 5;
  int top_k_units = 0;
  enum class Decoder { kRidge, kSmr };
  Decoder decoder = Decoder::kRidge;
  RidgeFitOptions ridge;
  SmrFitOptions smr;
  // A generator in <repo>/generators (version 0 = latest) turns the decoded
  // features into an image; empty = features only.
  std::string generator_name;
  int64_t generator_version = 0;
  // Or one trained in the job (generator_training.kind) on the dataset's
  // unpaired images and, unless excluded, the fitted trials' stimuli,
  // conditioned on the generator_top_k best decodable units (0: all).
  bool train_generator = false;
  IcgOptions generator_training;
  int generator_top_k = 0;
  bool generator_uses_training_stimuli = true;
};

class FeaturesMethod : public Method {
 public:
  static constexpr char kName[] = "features";
  explicit FeaturesMethod(FeaturesOptions options) : options_(std::move(options)) {}

  std::string name() const override { return kName; }
  std::string Describe(ImageShape image) const override;
  absl::StatusOr<FittedMethod> Fit(const FitContext& context) const override;
  std::vector<std::string> stored_generators() const override;

  static absl::StatusOr<PipelineStages> Load(const std::string& dir, const ModelManifest& m);

 private:
  FeaturesOptions options_;
};

}  // namespace v2p::core

#endif  // V2P_CORE_METHODS_FEATURES_FEATURES_METHOD_H_
