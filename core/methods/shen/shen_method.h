// Deep image reconstruction (Shen, Horikawa, Majima & Kamitani 2019, PLoS
// Comput Biol 15(1): e1006633) as a served method, manifest name "shen":
//   betas -> the features of several layers of a stored feature network
//   (FastL2LiR ridge on each unit's most correlated voxels, 500 by default,
//   fitted in checkpointed chunks) -> norm correction (each layer's psi set
//   to its corpus mean, on by default) -> feature inversion
//   (feature_inversion.h) in the refine stage -> image.
// The model version keeps the decoder, a copy of the network and
// shen.txt (the refiner's settings and the start pixel, the mean pixel of
// the fitted trials' stimuli); with a generator prior, a copy of the
// generator and its condition's range and start (prior.npy).
#ifndef V2P_CORE_METHODS_SHEN_SHEN_METHOD_H_
#define V2P_CORE_METHODS_SHEN_SHEN_METHOD_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/methods/fitting.h"
#include "core/methods/registry.h"
#include "core/methods/shen/feature_inversion.h"
#include "core/pipeline/method.h"

namespace v2p::core {

struct ShenOptions {
  // A network in <repo>/feature_networks (version 0 = latest) and the
  // layers decoded and matched; empty: every layer but the network's last
  // (its class scores).
  std::string network = "alexnet28";
  int64_t network_version = 0;
  std::vector<std::string> layers;
  RidgeFitOptions ridge;  // alpha 100, n_feat 500, z-scored voxels
  bool norm_correction = true;
  InversionOptions inversion;  // L-BFGS, 200 iterations
  // The deep-generator-network prior: a generator in <repo>/generators
  // (version 0 = latest) trained on this network's fc6 (`v2p generators
  // train --layers fc6`); the inversion then optimises its condition,
  // clamped to the range fc6 takes over the fitted trials' stimuli, from
  // their mean. Empty: pixels.
  std::string generator;
  int64_t generator_version = 0;
  ShenOptions();
};

class ShenMethod : public Method {
 public:
  static constexpr char kName[] = "shen";
  explicit ShenMethod(ShenOptions options) : options_(std::move(options)) {}

  std::string name() const override { return kName; }
  std::string Describe(ImageShape image) const override;
  absl::StatusOr<FittedMethod> Fit(const FitContext& context) const override;
  std::vector<std::string> stored_generators() const override;

  // Parameters (all optional): network, network_version, layers
  // ("conv1,conv3,fc7"), alpha, n_feat, standardize_voxels, norm_correction,
  // optimizer ("lbfgs", "gd"), iterations, tv_weight, generator,
  // generator_version.
  static absl::StatusOr<std::shared_ptr<const Method>> Create(const MethodParameters& parameters);
  static absl::StatusOr<PipelineStages> Load(const std::string& dir, const ModelManifest& m);

 private:
  ShenOptions options_;
};

}  // namespace v2p::core

#endif  // V2P_CORE_METHODS_SHEN_SHEN_METHOD_H_
