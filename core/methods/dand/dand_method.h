// Adversarial neural decoding (Güçlütürk, Güçlü, Seeliger, Bosch, van
// Lier & van Gerven 2017, "Reconstructing perceived faces from brain
// activations with deep adversarial neural decoding", NeurIPS): whitened
// principal components of a feature network's layers are the latents; a
// maximum a posteriori decoder inverts their linear encoding model; a GAN
// trained in the job on (components, image) pairs draws the image, and can
// sample the posterior. Manifest name "dand".
#ifndef V2P_CORE_METHODS_DAND_DAND_METHOD_H_
#define V2P_CORE_METHODS_DAND_DAND_METHOD_H_

#include <cstdint>
#include <string>
#include <vector>

#include "core/generation/gan.h"
#include "core/pipeline/method.h"

namespace v2p::core {

struct DandOptions {
  // A network in <repo>/feature_networks (version 0 = latest) and the
  // layers whose principal components are the latents.
  std::string network;
  int64_t network_version = 0;
  std::vector<std::string> layers;
  double explained_variance = 0.9;  // components kept
  double ridge = 1.0;               // ridge term of the MAP decoder's least squares
  GanOptions generator;             // the paired GAN's training
};

class DandMethod : public Method {
 public:
  static constexpr char kName[] = "dand";
  explicit DandMethod(DandOptions options) : options_(std::move(options)) {}

  std::string name() const override { return kName; }
  std::string Describe(ImageShape image) const override;
  absl::StatusOr<FittedMethod> Fit(const FitContext& context) const override;

  static absl::StatusOr<PipelineStages> Load(const std::string& dir, const ModelManifest& m);

 private:
  DandOptions options_;
};

}  // namespace v2p::core

#endif  // V2P_CORE_METHODS_DAND_DAND_METHOD_H_
