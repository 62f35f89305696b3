// Ridge regression from betas straight to pixels: the digit69 baseline of
// Du et al. (2020) and of Schoenmakers et al. (2013), and, with
// pixel_components, the eigenface baseline (ridge to the principal
// components of the fitted stimuli, served composed with their inverse).
// Manifest name "pixels"; serves the identity generator.
#ifndef V2P_CORE_METHODS_PIXELS_PIXELS_METHOD_H_
#define V2P_CORE_METHODS_PIXELS_PIXELS_METHOD_H_

#include <string>

#include "core/methods/fitting.h"
#include "core/pipeline/method.h"

namespace v2p::core {

struct PixelsOptions {
  RidgeFitOptions ridge;
  // When > 0: decode the principal components of the fitted stimuli that
  // explain this fraction of their variance (the eigenface baseline).
  double components_variance = 0;
};

class PixelsMethod : public Method {
 public:
  static constexpr char kName[] = "pixels";
  explicit PixelsMethod(PixelsOptions options) : options_(std::move(options)) {}

  std::string name() const override { return kName; }
  std::string Describe(ImageShape image) const override;
  absl::StatusOr<FittedMethod> Fit(const FitContext& context) const override;

  static absl::StatusOr<PipelineStages> Load(const std::string& dir, const ModelManifest& m);

 private:
  PixelsOptions options_;
};

}  // namespace v2p::core

#endif  // V2P_CORE_METHODS_PIXELS_PIXELS_METHOD_H_
