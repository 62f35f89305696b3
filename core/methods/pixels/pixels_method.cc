#include "core/methods/pixels/pixels_method.h"

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "core/base/log.h"
#include "core/base/status_macros.h"
#include "core/base/stopwatch.h"
#include "core/features/pca.h"
#include "core/generation/identity_generator.h"

namespace v2p::core {

std::string PixelsMethod::Describe(ImageShape image) const {
  const double v = options_.components_variance;
  return absl::StrCat(
      RidgeText(options_.ridge, true), ") -> ",
      v > 0 ? absl::StrCat("eigenimages (", v * 100, "% variance) -> inverse PCA -> ") : "",
      "pixels ", image.height, "x", image.width, "x", image.channels, " -> identity");
}

absl::StatusOr<FittedMethod> PixelsMethod::Fit(const FitContext& c) const {
  const DatasetSplit& fit = *c.fit;
  Eigen::MatrixXd targets = fit.stimuli;
  std::unique_ptr<PcaLayer> eigenimages;
  if (options_.components_variance > 0) {
    PcaOptions po;
    po.explained_variance = options_.components_variance;
    ASSIGN_OR_RETURN(eigenimages, PcaLayer::Fit(fit.stimuli, po));
    LogInfo("train", "eigenimages: ", eigenimages->num_components(), " components explain ",
            eigenimages->explained_fraction(), " of the pixel variance of ", fit.stimuli.rows(),
            " stimuli");
    ASSIGN_OR_RETURN(targets, eigenimages->Transform(fit.stimuli));
  }
  FittedMethod f;
  Stopwatch watch;
  RidgeFitOptions ridge = options_.ridge;
  ASSIGN_OR_RETURN(std::unique_ptr<RidgeDecoder> decoder,
                   FitRidge(fit, targets, &ridge, *c.hooks, &f.hyperparameters));
  if (eigenimages) decoder = decoder->ThenLinear(eigenimages->inverse_map(), eigenimages->mean());
  f.manifest.fit_seconds = absl::ToDoubleSeconds(watch.Elapsed());
  PixelsOptions chosen = options_;
  chosen.ridge = ridge;  // with the alpha cross-validation chose
  f.manifest.description = PixelsMethod(chosen).Describe(c.dataset->image);
  f.manifest.decoder = "ridge";
  f.manifest.generator = "identity";
  f.manifest.target = "pixels";
  f.stages.decoder = std::move(decoder);
  f.stages.generator = std::make_unique<const IdentityGenerator>(c.dataset->image);
  return f;
}

absl::StatusOr<PipelineStages> PixelsMethod::Load(const std::string& dir, const ModelManifest& m) {
  PipelineStages s;
  ASSIGN_OR_RETURN(s.decoder, RidgeDecoder::Load(dir));
  s.generator = std::make_unique<const IdentityGenerator>(m.image);
  return s;
}

}  // namespace v2p::core
